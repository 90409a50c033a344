"""What the engine is given and what it hands back (the interface the Lambda
service codes against)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: One log event as CloudWatch Logs keeps it: (timestamp in epoch ms, message).
LogEvent = tuple[int, str]
#: Where an environment's log goes: (log group, log stream, events in order).
LogSink = Callable[[str, str, Sequence[LogEvent]], None]
#: A sink told which function image wrote the events (its account, Region,
#: role): ``sink(image, group, stream, events)``.
ImageLogSink = Callable[["FunctionImage", str, str, Sequence[LogEvent]], None]


@dataclass(frozen=True)
class FunctionImage:
    """What an execution environment is built from; equal keys share environments."""

    key: str  # unique per function version + code + configuration revision
    function_name: str
    function_arn: str  # unqualified
    version: str  # "$LATEST" or "1"...
    runtime: str  # "python3.11"
    handler: str  # "lambda_function.lambda_handler"
    code_zip: Path  # unpacked once per key into the engine's base dir
    memory_mb: int
    timeout_s: float
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own
    region: str = "us-east-1"
    account: str = "000000000000"
    max_concurrency: int | None = None  # None: the engine's default
    #: LoggingConfig.LogGroup (None: ``/aws/lambda/<function_name>``).
    log_group: str | None = None
    #: The execution role: the output is delivered with its permissions.
    role_arn: str = ""
    #: LoggingConfig.LogFormat ("Text" or "JSON") and ApplicationLogLevel:
    #: handed to the runtime interface client, which then writes the
    #: function's `logging` records as JSON objects, as AWS's does.
    log_format: str = "Text"
    application_log_level: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The execution role's temporary credentials, given to each new environment."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(access_key_id={self.access_key_id!r}, expiration={self.expiration!r})"


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None  # "Unhandled" or None
    log_text: str  # this invocation's log lines (any init output, START .. REPORT)
    executed_version: str
    duration_ms: float
    init_duration_ms: float | None
    error_type: str | None = None  # e.g. "Runtime.ImportModuleError", "Sandbox.Timedout"


class TooManyRequests(Exception):
    """Every environment the function may have is busy (TooManyRequestsException)."""

    def __init__(self, message: str = "Rate Exceeded.", *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class UnsupportedRuntime(ValueError):
    """The engine runs python3.x runtimes only (the control plane checks first)."""


class EngineClosed(RuntimeError):
    """The engine was closed while (or before) the invocation ran."""
