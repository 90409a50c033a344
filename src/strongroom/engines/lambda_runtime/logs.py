"""The lines the platform writes into a function's log, as AWS words them,
and the default log sink (one JSON-lines file per log group and stream)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from strongroom.engines.lambda_runtime.model import LogEvent


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(epoch_ms: int | None = None) -> str:
    """2026-12-07T01:02:03.456Z"""
    ms = now_ms() if epoch_ms is None else epoch_ms
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def billed_ms(duration_ms: float, init_ms: float | None) -> int:
    """Duration rounded up to the millisecond; since August 2025 the init phase
    of an on-demand ZIP function is billed too."""
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    used_mb: int,
    init_ms: float | None,
    *,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: {used_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status:
        line += f"Status: {status}\t"
    if error_type:
        line += f"Error Type: {error_type}\t"
    return line + "\n"


def init_start_line(runtime: str, version: str, region: str) -> str:
    tag = f"{runtime.removeprefix('python')}.strongroom"
    return (
        f"INIT_START Runtime Version: python:{tag}\t"
        f"Runtime Version ARN: arn:aws:lambda:{region}::runtime:strongroom-python-{version}\n"
    )


def init_report_line(init_ms: float, error_type: str, phase: str = "init") -> str:
    return (
        f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\t"
        f"Status: error\tError Type: {error_type}\n"
    )


def timeout_message(request_id: str, timeout_s: float, at_ms: int | None = None) -> str:
    """The errorMessage (and log line) of a timed-out invocation."""
    return f"{iso_ms(at_ms)} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_message(request_id: str, how: str) -> str:
    """``how`` as Go's os.ProcessState words it: "exit status 1", "signal: killed"."""
    return f"RequestId: {request_id} Error: Runtime exited with error: {how}"


class FileLogSink:
    """Appends each event as one JSON line to ``<dir>/<group>/<stream>.jsonl``
    (names percent-encoded), the shape CloudWatch Logs' PutLogEvents takes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._made: set[Path] = set()

    def path_of(self, group: str, stream: str) -> Path:
        return self.directory / quote(group, safe="") / (quote(stream, safe="") + ".jsonl")

    def __call__(self, group: str, stream: str, events: Sequence[LogEvent]) -> None:
        if not events:
            return
        path = self.path_of(group, stream)
        text = "".join(
            json.dumps({"timestamp": ts, "message": message}, ensure_ascii=False) + "\n"
            for ts, message in events
        )
        with self._lock:
            if path.parent not in self._made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(path.parent)
            with path.open("a", encoding="utf-8") as out:
                out.write(text)

    def read(self, group: str, stream: str) -> list[LogEvent]:
        path = self.path_of(group, stream)
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [(row["timestamp"], row["message"]) for row in rows]
