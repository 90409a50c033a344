"""Server settings, from the command line or the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from strongroom.arn import DEFAULT_ACCOUNT, DEFAULT_REGION


@dataclass(slots=True)
class Config:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 4566
    store_url: str | None = None
    auth: str = "sigv4"
    log_level: str = "info"
    time_travel: bool = False
    workers: int = 1
    default_account: str = DEFAULT_ACCOUNT
    default_region: str = DEFAULT_REGION
    #: Seconds between runs of scheduled work (deletions, rotations, retention).
    tick_seconds: float = 1.0
