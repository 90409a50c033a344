"""Server settings, from the command line or the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.arn import DEFAULT_ACCOUNT, DEFAULT_REGION

#: Defaults of the request limits (see strongroom.server.limits).
MAX_BODY = 8 * 1024 * 1024
#: AssumeRoleWithSAML's assertion alone may be 100,000 base64 characters.
MAX_UNSIGNED_BODY = 128 * 1024
MAX_BUFFERED = 64 * 1024 * 1024
REQUEST_TIMEOUT = 10.0
BODY_TIMEOUT = 15.0
#: Threads per worker process for requests answered off the event loop.
BLOCKING_THREADS = 4


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
    #: Body bytes a request may send unless its operation bounds it lower or
    #: declares its own limit (see strongroom.server.limits).
    max_body: int = MAX_BODY
    #: Body bytes a request without any signature may send.
    max_unsigned_body: int = MAX_UNSIGNED_BODY
    #: Body bytes all requests in flight in one worker may hold together.
    max_buffered: int = MAX_BUFFERED
    #: Seconds a request's header block may take to arrive.
    request_timeout: float = REQUEST_TIMEOUT
    #: Seconds a request body may go without a byte arriving.
    body_timeout: float = BODY_TIMEOUT
    #: Threads (per worker process) that answer requests for blocking
    #: operations (`Operation.blocking`) off the event loop; more such
    #: requests at once wait for a free thread.
    blocking_threads: int = BLOCKING_THREADS
    #: ``--option name=value`` settings read by the services' process
    #: resources (`strongroom.framework.resources`), e.g.
    #: ``lambda.python3.12=/usr/bin/python3.12``.
    options: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        """The URL this server answers on, for processes it starts to call back."""
        host = self.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"
