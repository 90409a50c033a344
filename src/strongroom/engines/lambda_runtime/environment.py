"""One execution environment: a process running awslambdaric over the
function's code, the Runtime API endpoint it talks to, and its log pipes.

Everything here runs on the engine's event-loop thread except where noted;
workers reach an environment only through ``dispatch`` (scheduled with
``call_soon_threadsafe``) and the invocation's future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strongroom.engines.lambda_runtime import logs, peers
from strongroom.engines.lambda_runtime.http import Connection
from strongroom.engines.lambda_runtime.model import EngineClosed, FunctionImage, LogEvent

if TYPE_CHECKING:
    from strongroom.engines.lambda_runtime.engine import LambdaEngine

PREFIX = "/2018-06-01/runtime/"
#: The largest synchronous response a function may return (AWS: 6 MB).
MAX_RESPONSE = 6 * 1024 * 1024 + 100
ACCEPTED = b'{"status":"OK"}'
log = logging.getLogger(__name__)
_FRAME_HEAD = 16  # type (4) + length (4) + timestamp in microseconds (8)


@dataclass
class Outcome:
    payload: bytes
    function_error: str | None
    duration_ms: float
    events: list[LogEvent]
    init_ms: float | None = None
    error_type: str | None = None
    status: str | None = None  # REPORT's "Status:" ("error", "timeout")
    report_error_type: str | None = None  # REPORT's "Error Type:"
    retry: bool = False  # the environment was gone before it got the event


@dataclass(eq=False)
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    client_context: str | None
    cognito_identity: str | None
    trace_id: str
    timeout_s: float
    future: concurrent.futures.Future[Outcome] = field(default_factory=concurrent.futures.Future)
    delivered_at: float | None = None
    timer: asyncio.TimerHandle | None = None
    done: bool = False


def describe_exit(returncode: int) -> str:
    """A process's end as Go's os.ProcessState words it."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
    except ValueError:
        name = f"signal {-returncode}"
    return f"signal: {name.lower()}"


class Environment:
    def __init__(
        self,
        engine: LambdaEngine,
        image: FunctionImage,
        env_id: str,
        log_stream: str,
    ) -> None:
        self.engine = engine
        self.loop = engine.loop
        self.image = image
        self.id = env_id
        self.log_group = image.log_group or f"/aws/lambda/{image.function_name}"
        self.log_stream = log_stream
        # Owned by the engine's lock:
        self.busy = False
        self.frozen = False
        self.retiring = False
        self.last_used = time.monotonic()
        self.credentials_expire: float = float("inf")  # epoch seconds
        # Set by spawn (worker thread) before the loop sees the environment:
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.out_fd = -1
        self.tel_fd = -1
        self.pidfd = -1
        self.spawned_at = 0.0
        # Loop thread only:
        self.dead = False
        self.kill_reason: str | None = None
        self.ready = False
        self.init_ms: float | None = None
        self.invocations = 0
        self.events: list[LogEvent] = []
        self.parked: Connection | None = None
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[Connection] = set()
        self._out_partial = bytearray()
        self._tel_buf = bytearray()
        self._init_timer: asyncio.TimerHandle | None = None
        self.peak_rss = 0

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else -1

    @property
    def api_address(self) -> str:
        assert self.sock is not None
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    # ---- lifecycle (loop thread) ----

    def attach(self, note: str, init_start: str) -> None:
        """Start serving the Runtime API and reading the logs of a spawned process."""
        now = logs.now_ms()
        self.events.append((now, init_start))
        self.events.append((now, note + "\n"))
        if self.dead:
            return
        loop = self.loop
        loop.add_reader(self.out_fd, self._read_out)
        loop.add_reader(self.tel_fd, self._read_tel)
        if self.pidfd >= 0:
            loop.add_reader(self.pidfd, self._on_exit)
        else:
            self._poll_exit()
        self.server_task = loop.create_task(
            loop.create_server(lambda: Connection(self), sock=self.sock)
        )
        self.server_task.add_done_callback(self._server_started)
        self._init_timer = loop.call_later(self.engine.init_timeout_s, self._on_init_timeout)
        self.engine.watch(self)

    def _server_started(self, task: asyncio.Task[asyncio.AbstractServer]) -> None:
        if task.cancelled() or task.exception() is not None:
            self.kill("no-server")
            return
        self.server = task.result()
        if self.dead:
            self.server.close()

    def kill(self, reason: str) -> None:
        """SIGKILL the environment's process group (works on a frozen one too)."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def _poll_exit(self) -> None:
        """Without a pidfd: look for the process's end every 20 ms."""
        if self.dead:
            return
        if self.process is not None and self.process.poll() is not None:
            self._on_exit()
        else:
            self.loop.call_later(0.02, self._poll_exit)

    def _on_exit(self) -> None:
        loop = self.loop
        if self.pidfd >= 0:
            with contextlib.suppress(Exception):
                loop.remove_reader(self.pidfd)
        assert self.process is not None
        returncode = self.process.poll()
        if returncode is None:  # pidfd readable means exited; reap it
            with contextlib.suppress(ChildProcessError):
                self.process.wait(timeout=1)
            returncode = self.process.returncode if self.process.returncode is not None else -9
        # Anything left in the group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._drain()
        self._flush_partial()
        self._shut(returncode)

    def _shut(self, returncode: int | None) -> None:
        if self.dead:
            return
        self.dead = True
        loop = self.loop
        if self._init_timer is not None:
            self._init_timer.cancel()
        for fd in (self.out_fd, self.tel_fd, self.pidfd):
            if fd >= 0:
                with contextlib.suppress(Exception):
                    loop.remove_reader(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.out_fd = self.tel_fd = self.pidfd = -1
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close()
        self.parked = None
        inv = self.current or self.pending
        if inv is not None and not inv.done:
            if self.kill_reason in ("closed", "retired"):
                self._fail(inv)
            else:
                self._exited(inv, describe_exit(returncode if returncode is not None else -9))
        self.engine.unwatch(self)
        self.engine.environment_gone(self)

    def _exited(self, inv: Invocation, how: str) -> None:
        if self.kill_reason == "oom":
            how = "signal: killed"
        message = logs.exit_message(inv.request_id, how)
        now = logs.now_ms()
        if inv.delivered_at is None:
            self.events.append(
                (now, logs.init_report_line(self._since_spawn(), "Runtime.ExitError"))
            )
            self.events.append((now, logs.start_line(inv.request_id, self.image.version)))
        self.events.append((now, f"{message}\nRuntime.ExitError\n"))
        body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message})
        self._finish(
            inv,
            body.encode(),
            "Unhandled",
            error_type="Runtime.ExitError",
            status="error",
            report_error_type=(
                "Runtime.OutOfMemory" if self.kill_reason == "oom" else "Runtime.ExitError"
            ),
        )

    def _fail(self, inv: Invocation) -> None:
        inv.done = True
        if inv.timer is not None:
            inv.timer.cancel()
        self.current = self.pending = None
        if not inv.future.done():
            inv.future.set_exception(EngineClosed("the Lambda engine is shutting down"))

    def _on_init_timeout(self) -> None:
        self._init_timer = None
        if self.ready or self.dead:
            return
        inv = self.pending
        self.kill("init-timeout")
        if inv is not None:
            now = logs.now_ms()
            self.events.append(
                (now, logs.init_report_line(self._since_spawn(), "Sandbox.Timedout"))
            )
            self.events.append((now, logs.start_line(inv.request_id, self.image.version)))
            self._timed_out(inv)

    def _since_spawn(self) -> float:
        return (time.perf_counter() - self.spawned_at) * 1000

    # ---- invocations (loop thread) ----

    def dispatch(self, inv: Invocation) -> None:
        if self.dead or self.kill_reason is not None:
            inv.done = True
            inv.future.set_result(Outcome(b"", None, 0.0, [], retry=True))
            return
        if self.parked is not None:
            self._deliver(inv, self.parked)
        else:
            self.pending = inv

    def _deliver(self, inv: Invocation, conn: Connection) -> None:
        self.parked = None
        self.pending = None
        self.current = inv
        now = logs.now_ms()
        self.events.append((now, logs.start_line(inv.request_id, self.image.version)))
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(now + int(inv.timeout_s * 1000))),
            ("Lambda-Runtime-Invoked-Function-Arn", inv.invoked_arn),
            ("Lambda-Runtime-Trace-Id", inv.trace_id),
        ]
        if inv.client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity is not None:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        inv.delivered_at = time.perf_counter()
        conn.respond(200, inv.payload, headers)
        self.engine.watch(self)
        inv.timer = self.loop.call_later(inv.timeout_s, self._on_timeout, inv)

    def _on_timeout(self, inv: Invocation) -> None:
        if inv.done:
            return
        self.kill("timeout")
        self._timed_out(inv)

    def _timed_out(self, inv: Invocation) -> None:
        message = logs.timeout_message(inv.request_id, inv.timeout_s)
        self._drain()
        self._flush_partial()
        self.events.append((logs.now_ms(), message + "\n"))
        self._finish(
            inv,
            json.dumps({"errorMessage": message}).encode(),
            "Unhandled",
            error_type="Sandbox.Timedout",
            status="timeout",
        )

    def _finish(
        self,
        inv: Invocation,
        payload: bytes,
        function_error: str | None,
        *,
        error_type: str | None = None,
        status: str | None = None,
        report_error_type: str | None = None,
    ) -> None:
        if inv.done:
            return
        inv.done = True
        if inv.timer is not None:
            inv.timer.cancel()
        started = inv.delivered_at
        duration = 0.0 if started is None else (time.perf_counter() - started) * 1000
        if status == "timeout":
            duration = max(duration, inv.timeout_s * 1000)
        if self.current is inv:
            self.current = None
        if self.pending is inv:
            self.pending = None
        self.engine.unwatch(self)
        self._drain()
        events, self.events = self.events, []
        first = self.invocations == 0
        self.invocations += 1
        init_ms = self.init_ms if first else None
        if first and init_ms is None:
            init_ms = self._since_spawn() if started is None else None
        inv.future.set_result(
            Outcome(
                payload,
                function_error,
                duration,
                events,
                init_ms=init_ms,
                error_type=error_type,
                status=status,
                report_error_type=report_error_type or (error_type if status else None),
            )
        )

    # ---- the Runtime API (loop thread; called by Connection) ----

    def body_limit(self) -> int:
        return MAX_RESPONSE

    def accept(self, conn: Connection) -> bool:
        """Serve only the environment's own process (see peers.py)."""
        transport = conn.transport
        if transport is None or self.dead or self.process is None:
            return False
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        try:
            verdict = peers.connected_from(self.process.pid, peer[:2], local[:2])
        except (TypeError, IndexError, OSError):
            verdict = None
        if verdict is False:
            log.warning("refused a Runtime API connection from %s: not the environment", peer)
            return False
        self.connections.add(conn)
        return True

    def connection_lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self.parked is conn:
            self.parked = None

    def handle(
        self, conn: Connection, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.connections.add(conn)
        if self.dead or not path.startswith(PREFIX):
            conn.respond(404, b'{"errorMessage":"Not found","errorType":"InvalidRequest"}')
            return
        route = path[len(PREFIX) :]
        if route == "invocation/next" and method == "GET":
            self._next(conn)
        elif route.startswith("invocation/") and method == "POST":
            request_id, _, what = route[len("invocation/") :].rpartition("/")
            if what == "response":
                self._response(conn, request_id, headers, body)
            elif what == "error":
                self._error(conn, request_id, headers, body)
            else:
                conn.respond(404, b'{"errorMessage":"Not found","errorType":"InvalidRequest"}')
        elif route == "init/error" and method == "POST":
            self._init_error(conn, headers, body)
        else:
            conn.respond(404, b'{"errorMessage":"Not found","errorType":"InvalidRequest"}')

    def _next(self, conn: Connection) -> None:
        if not self.ready:
            self.ready = True
            self.init_ms = self._since_spawn()
            if self._init_timer is not None:
                self._init_timer.cancel()
                self._init_timer = None
            if self.pending is None:
                self.engine.unwatch(self)
        if self.current is not None and not self.current.done:
            # Asked for the next event without answering this one.
            conn.respond(
                400,
                b'{"errorMessage":"Invalid state: invocation in progress",'
                b'"errorType":"InvalidStateTransition"}',
            )
            return
        self.parked = conn
        if self.pending is not None:
            self._deliver(self.pending, conn)

    def _current(self, conn: Connection, request_id: str) -> Invocation | None:
        inv = self.current
        if inv is None or inv.done or inv.request_id != request_id:
            conn.respond(
                400, b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}'
            )
            return None
        return inv

    def _response(
        self, conn: Connection, request_id: str, headers: dict[str, str], body: bytes
    ) -> None:
        inv = self._current(conn, request_id)
        if inv is None:
            return
        length = int(headers.get("content-length") or len(body) or 0)
        if length > MAX_RESPONSE:
            message = (
                f"Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE} bytes)."
            )
            self._finish(
                inv,
                json.dumps(
                    {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
                ).encode(),
                "Unhandled",
                error_type="Function.ResponseSizeTooLarge",
                status="error",
            )
            return
        conn.respond(202, ACCEPTED)
        self._finish(inv, body, None)

    def _error(
        self, conn: Connection, request_id: str, headers: dict[str, str], body: bytes
    ) -> None:
        inv = self._current(conn, request_id)
        if inv is None:
            return
        conn.respond(202, ACCEPTED)
        error_type = headers.get("lambda-runtime-function-error-type") or _error_type(body)
        self._finish(inv, body, "Unhandled", error_type=error_type)

    def _init_error(self, conn: Connection, headers: dict[str, str], body: bytes) -> None:
        conn.respond(202, ACCEPTED)
        error_type = (
            headers.get("lambda-runtime-function-error-type")
            or _error_type(body)
            or "Runtime.Unknown"
        )
        self.init_ms = self._since_spawn()
        self._drain()
        self._flush_partial()
        now = logs.now_ms()
        self.events.append((now, logs.init_report_line(self.init_ms, error_type)))
        inv = self.pending or self.current
        self.kill("init-error")
        if inv is not None:
            self.events.append((now, logs.start_line(inv.request_id, self.image.version)))
            self._finish(inv, body, "Unhandled", error_type=error_type, status="error")

    # ---- logs (loop thread) ----

    def _drain(self) -> None:
        """Take whatever the process has written so far (it wrote its log before
        it answered, so the pipes hold all of this invocation's lines)."""
        if self.out_fd >= 0:
            self._read_out()
        if self.tel_fd >= 0:
            self._read_tel()

    def _read_out(self) -> None:
        self._read_pipe(self.out_fd, self._out_lines)

    def _read_tel(self) -> None:
        self._read_pipe(self.tel_fd, self._tel_frames)

    def _read_pipe(self, fd: int, parse: Callable[[bytes], None]) -> None:
        """Read what `fd` holds now (it is non-blocking) into `parse`; at its
        end, stop watching it."""
        while fd >= 0:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(Exception):
                    self.loop.remove_reader(fd)
                break
            parse(data)
            if len(data) < 65536:
                break

    def _out_lines(self, data: bytes) -> None:
        """stdout and stderr: one event per line, stamped as it is read."""
        buf = self._out_partial
        buf += data
        if b"\n" in data:
            now = logs.now_ms()
            *lines, rest = bytes(buf).split(b"\n")
            for line in lines:
                self.events.append((now, line.decode("utf-8", "replace") + "\n"))
            self._out_partial = bytearray(rest)

    def _flush_partial(self) -> None:
        if self._out_partial:
            text = self._out_partial.decode("utf-8", "replace")
            self._out_partial = bytearray()
            self.events.append((logs.now_ms(), text + "\n"))

    def _tel_frames(self, data: bytes) -> None:
        """The telemetry pipe: framed events, each with its own timestamp."""
        buf = self._tel_buf
        buf += data
        while len(buf) >= _FRAME_HEAD:
            length = int.from_bytes(buf[4:8], "big")
            if len(buf) < _FRAME_HEAD + length:
                break
            micros = int.from_bytes(buf[8:16], "big")
            text = bytes(buf[_FRAME_HEAD : _FRAME_HEAD + length]).decode("utf-8", "replace")
            del buf[: _FRAME_HEAD + length]
            if not text.endswith("\n"):
                text += "\n"
            self.events.append((micros // 1000, text))

    def take_events(self) -> list[LogEvent]:
        self._drain()
        self._flush_partial()
        events, self.events = self.events, []
        return events


def _error_type(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None
