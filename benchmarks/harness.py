"""Benchmark harness: strongroom vs moto, side by side, same signed request.

What one run does, per server (strongroom, moto):

1. start the server under ``taskset -c <server core>`` on a free loopback port, with a
   fresh temporary data directory, and wait until it answers;
2. run the workload's ``setup`` (boto3 is fine here) which returns a ``RequestSpec``;
3. sign that request ONCE with botocore's ``SigV4Auth`` for this server's Host;
4. send it once and print the status and the first 200 bytes of the body;
5. replay the exact same bytes for a warm-up and then for ``duration`` seconds over N
   keep-alive connections from a load generator pinned to ``taskset -c <client core>``:
   ``wrk`` when installed (closed loop), else the asyncio raw-socket client in this file,
   which also does open-loop fixed-rate load (``--rate``);
6. collect requests/s, non-2xx count and latency p50/p99, then stop the server.

Usage as a library (see ``bench_core.py``)::

    WORKLOADS = [Workload("sts GetCallerIdentity", lambda ep: query_request(...))]
    sys.exit(main(WORKLOADS))

This file is also the asyncio load generator's entry point::

    python benchmarks/harness.py loadgen --host 127.0.0.1 --port P --request-file F ...

Never named ``test_*.py``: benchmarks run on demand, not under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"

# Root credentials strongroom is started with; moto accepts any credentials.
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# A signature made by botocore stays valid for 5 minutes: re-sign before each
# measured run (warm-up + duration) so long multi-round runs never go stale.
MAX_RUN_SECONDS = 240


class BenchmarkError(RuntimeError):
    """The benchmark cannot produce a meaningful number (e.g. mostly error responses)."""


class ServerUnavailable(RuntimeError):
    """The server could not be started or never became ready."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    session_token: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A running server, as handed to ``Workload.setup``."""

    name: str
    host: str
    port: int
    creds: Credentials
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, service: str, region: str = "us-east-1"):
        """A boto3 client for setup calls (never used inside the measured loop)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=self.creds.access_key_id,
            aws_secret_access_key=self.creds.secret_access_key,
            aws_session_token=self.creds.session_token,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )


@dataclass(frozen=True)
class RequestSpec:
    """One AWS request, before signing."""

    service: str  # SigV4 signing name, e.g. "sts", "kms"
    region: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Sign as someone other than the server's root (e.g. an IAM user made in setup).
    creds: Credentials | None = None


@dataclass(frozen=True)
class Workload:
    """A benchmark workload; ``setup`` runs once per server before the load."""

    name: str
    setup: Callable[[Endpoint], RequestSpec]


def query_request(
    service: str,
    action: str,
    version: str,
    params: dict[str, str] | None = None,
    region: str = "us-east-1",
    creds: Credentials | None = None,
) -> RequestSpec:
    """A query-protocol (STS, IAM, ...) request: ``POST /`` with a form body."""
    from urllib.parse import urlencode

    body = urlencode({"Action": action, "Version": version, **(params or {})}).encode()
    return RequestSpec(
        service=service,
        region=region,
        method="POST",
        path="/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=body,
        creds=creds,
    )


def json_request(
    service: str,
    target: str,
    payload: dict,
    region: str = "us-east-1",
    json_version: str = "1.1",
) -> RequestSpec:
    """A JSON-protocol (KMS, Secrets Manager, ...) request, e.g. target ``TrentService.Encrypt``."""
    return RequestSpec(
        service=service,
        region=region,
        method="POST",
        path="/",
        headers={
            "Content-Type": f"application/x-amz-json-{json_version}",
            "X-Amz-Target": target,
        },
        body=json.dumps(payload, separators=(",", ":")).encode(),
    )


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]  # includes Host and Content-Length
    body: bytes

    def raw(self) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        return head.encode("latin-1") + b"\r\n" + self.body


def sign(spec: RequestSpec, creds: Credentials, host: str, port: int) -> SignedRequest:
    """Sign ``spec`` once with botocore's SigV4Auth for ``Host: host:port``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    host_header = f"{host}:{port}"
    headers = {"Host": host_header, **spec.headers}
    request = AWSRequest(
        method=spec.method,
        url=f"http://{host_header}{spec.path}",
        data=spec.body,
        headers=headers,
    )
    creds = spec.creds or creds
    boto_creds = BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
    SigV4Auth(boto_creds, spec.service, spec.region).add_auth(request)
    out = [(k, v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()]
    out.append(("Content-Length", str(len(spec.body))))
    return SignedRequest(spec.method, spec.path, out, spec.body)


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerDef:
    """How to start one server. ``argv`` gets (port, data_dir)."""

    name: str
    argv: Callable[[int, Path], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    health_path: str | None = None  # None: any HTTP answer on "/" means ready
    creds: Credentials = Credentials()
    startup_timeout: float = 30.0


STRONGROOM = ServerDef(
    name="strongroom",
    argv=lambda port, data_dir: [
        "strongroom",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
    ],
    env={
        "STRONGROOM_ROOT_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "STRONGROOM_ROOT_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    },
    health_path="/_strongroom/health",
)


def _moto_argv(port: int, data_dir: Path) -> list[str]:
    exe = shutil.which("moto_server")
    base = [exe] if exe else [sys.executable, "-m", "moto.server"]
    return [*base, "-H", LOOPBACK, "-p", str(port)]


MOTO = ServerDef(name="moto", argv=_moto_argv)

SERVERS = {s.name: s for s in (STRONGROOM, MOTO)}

#: The name of the earlier strongroom a run measures beside this one (--baseline).
BASELINE = "sr@base"


def baseline_server(checkout: Path) -> ServerDef:
    """strongroom from another checkout (a git worktree of an earlier commit),
    run from its own sources: ``--baseline DIR`` measures before and after in
    one run, on the same machine phase."""
    src = str(checkout.resolve() / "src")
    return ServerDef(
        name=BASELINE,
        argv=lambda port, data_dir: [
            sys.executable,
            "-m",
            "strongroom",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        env={**STRONGROOM.env, "PYTHONPATH": src},
        health_path=STRONGROOM.health_path,
    )


def core_ticks(core: int | None) -> tuple[int, int] | None:
    """(busy, total) jiffies of one CPU from /proc/stat, or None."""
    if core is None:
        return None
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{core} "):
                    v = [int(x) for x in line.split()[1:]]
                    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
                    total = sum(v[:8])  # guest time is already inside user
                    return total - idle, total
    except OSError:
        pass
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def taskset(core: int | None, argv: list[str]) -> list[str]:
    if core is None or not shutil.which("taskset"):
        return argv
    return ["taskset", "-c", str(core), *argv]


class ServerProcess:
    """A server started in its own process group, pinned to one core."""

    def __init__(self, sdef: ServerDef, core: int | None):
        self.sdef = sdef
        self.core = core
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{sdef.name}-"))
        self.data_dir = self.tmp / "data"
        self.data_dir.mkdir()
        self.log_path = self.tmp / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.sdef.name, LOOPBACK, self.port, self.sdef.creds, self.data_dir)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def start(self) -> None:
        server_argv = self.sdef.argv(self.port, self.data_dir)
        if not shutil.which(server_argv[0]):
            raise ServerUnavailable(f"{server_argv[0]!r} not found on PATH")
        argv = taskset(self.core, server_argv)
        env = {**os.environ, **self.sdef.env}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.sdef.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerUnavailable(
                    f"exited with code {self.proc.returncode} during startup:\n{self.log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerUnavailable(
            f"not ready after {self.sdef.startup_timeout:.0f}s:\n{self.log_tail()}"
        )

    def _ready(self) -> bool:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
        try:
            conn.request("GET", self.sdef.health_path or "/")
            status = conn.getresponse().status
        except OSError:
            return False
        finally:
            conn.close()
        return self.sdef.health_path is None or status == 200

    def cpu_seconds(self) -> float | None:
        """User+system CPU seconds used so far by the server's live processes (its group)."""
        if self.proc is None:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            # fields[0] is field 3 (state): pgrp is field 5, utime/stime are fields 14/15.
            if int(fields[2]) == self.proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_unpinned_strongroom() -> ServerProcess | None:
    """A strongroom for a benchmark of work done outside its request path
    (database engines, transfers): not pinned. None, with the reason on
    stderr, when it does not start."""
    server = ServerProcess(STRONGROOM, core=None)
    try:
        server.start()
    except ServerUnavailable as err:
        print(f"strongroom not available: {err}", file=sys.stderr)
        return None
    return server


# --------------------------------------------------------------------------- HTTP bits


def _find_header(head: bytes, name: bytes) -> bytes | None:
    """Value of header ``name`` (lower case) in a raw header block, else None."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def send_once(host: str, port: int, raw: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """Send one raw request on a fresh socket; return (status, body)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed before response headers: {buf[:200]!r}")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = _find_header(head, b"content-length")
        if length is not None:
            while len(body) < int(length):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            return status, body[: int(length)]
        if (_find_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
            while not body.endswith(b"0\r\n\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            return status, _dechunk(body)
        while chunk := sock.recv(65536):
            body += chunk
        return status, body


def _dechunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


# --------------------------------------------------------------------------- results


@dataclass
class LoadResult:
    client: str
    duration: float
    requests: int  # completed responses in the measured window
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    rate: float | None = None  # target rate (open loop) or None (closed loop)
    incomplete: int = 0  # open loop: scheduled in the window but never answered
    sample_error_status: int | None = None
    peak_rps: float | None = None  # --half-peak: the closed-loop peak the rate was derived from
    server_cpu_s: float | None = None  # CPU seconds the server used during the measured run
    core_busy: float | None = None  # fraction of the server core not idle (anyone's work)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    @property
    def cpu_util(self) -> float | None:
        """Server CPU time / wall time: below ~0.9 in a closed-loop run, the server core was
        shared with something else (or the load generator is the bottleneck)."""
        return self.server_cpu_s / self.duration if self.server_cpu_s and self.duration else None

    @property
    def per_cpu_s(self) -> float | None:
        """Requests per server CPU-second: far less sensitive to a busy machine than req/s."""
        return self.requests / self.server_cpu_s if self.server_cpu_s else None


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[idx]


# --------------------------------------------------------------------------- wrk


def _lua_string(data: bytes) -> str:
    """A Lua string literal for arbitrary bytes."""
    out = []
    for b in data:
        ch = chr(b)
        if b < 128 and (ch.isalnum() or ch in " -_.,:;/=+*&%$#@!?()[]{}<>|~^'`"):
            out.append(ch)
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


_WRK_SCRIPT_TAIL = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  non2xx = 0
  last_bad = 0
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    last_bad = status
  end
end
function done(summary, latency, requests)
  local bad, last = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    local lb = t:get("last_bad")
    if lb ~= 0 then last = lb end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKRESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"last_bad":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, bad, last,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(req: SignedRequest) -> str:
    lines = [
        f"wrk.method = {_lua_string(req.method.encode())}",
        f"wrk.path = {_lua_string(req.path.encode())}",
        f"wrk.body = {_lua_string(req.body)}" if req.body else "wrk.body = nil",
        "wrk.headers = {}",
    ]
    # wrk.format adds Content-Length itself from the body.
    for k, v in req.headers:
        if k.lower() != "content-length":
            lines.append(f"wrk.headers[{_lua_string(k.encode())}] = {_lua_string(v.encode())}")
    return "\n".join(lines) + "\n" + _WRK_SCRIPT_TAIL


def run_wrk(
    host: str,
    port: int,
    req: SignedRequest,
    duration: float,
    connections: int,
    core: int | None,
    workdir: Path,
) -> LoadResult:
    script = workdir / "request.lua"
    script.write_text(wrk_script(req))
    argv = taskset(
        core,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://{host}:{port}{req.path}",
        ],
    )
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    for line in proc.stdout.splitlines():
        if line.startswith("WRKRESULT "):
            d = json.loads(line.removeprefix("WRKRESULT "))
            return LoadResult(
                client="wrk",
                duration=d["duration_us"] / 1e6,
                requests=d["requests"],
                non2xx=d["non2xx"],
                socket_errors=d["socket_errors"],
                p50_ms=d["p50_us"] / 1000,
                p99_ms=d["p99_us"] / 1000,
                sample_error_status=d["last_bad"] or None,
            )
    raise BenchmarkError(
        f"wrk gave no result (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )


# --------------------------------------------------------------------------- asyncio client


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time (no pipelining)."""

    def __init__(self, gen: _LoadGen):
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.intended = 0.0  # when this request was due (open loop) or sent (closed)
        self.busy = False
        self.head_end = -1  # end of the current response's header block, when seen
        self.need = -1  # total bytes of the current response, when known
        self.chunk_pos = -1  # chunked body: offset of the next chunk-size line
        self.status = 0
        self.close_after = False

    def connection_made(self, transport):
        self.transport = transport

    def send(self, intended: float) -> None:
        self.intended = intended
        self.busy = True
        self.transport.write(self.gen.raw)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            self._parse()
        except Exception as e:  # a protocol error ends the run; never spin on reconnects
            self.gen.fail(f"cannot parse response: {type(e).__name__}: {e}")

    def _parse(self) -> None:
        buf = self.buf
        while self.busy:
            if self.head_end < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end])
                self.head_end = end + 4
                self.status = int(head[9:12])
                self.close_after = (_find_header(head, b"connection") or b"").lower() == b"close"
                length = _find_header(head, b"content-length")
                if length is not None:
                    self.need = self.head_end + int(length)
                elif (_find_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
                    self.chunk_pos = self.head_end
                else:
                    raise ValueError(f"neither Content-Length nor chunked: {head[:200]!r}")
            if self.need < 0:
                self.need = self._chunked_end()
                if self.need < 0:
                    return
            if len(buf) < self.need:
                return
            del buf[: self.need]
            self.head_end = self.need = self.chunk_pos = -1
            self.busy = False
            self.gen.completed(self, self.status)
            if self.close_after:
                self.close_after = False
                self.transport.close()
                return

    def _chunked_end(self) -> int:
        """End offset of a complete chunked body in the buffer, or -1 if not all here yet."""
        buf, pos = self.buf, self.chunk_pos
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            if size == 0:
                if buf[eol + 2 : eol + 4] == b"\r\n":
                    return eol + 4
                trailers_end = buf.find(b"\r\n\r\n", eol)
                if trailers_end < 0:
                    break
                return trailers_end + 4
            nxt = eol + 2 + size + 2
            if nxt > len(buf):
                break
            pos = nxt
        self.chunk_pos = pos
        return -1

    def connection_lost(self, exc) -> None:
        self.transport = None
        self.buf.clear()
        self.head_end = self.need = self.chunk_pos = -1
        self.gen.lost(self)


class _LoadGen:
    def __init__(self, host: str, port: int, raw: bytes, connections: int, rate: float | None):
        self.host, self.port, self.raw = host, port, raw
        self.n = connections
        self.rate = rate
        self.loop = asyncio.get_running_loop()
        # loop.time() has millisecond resolution under uvloop: too coarse for latency.
        self.clock = time.perf_counter
        self.conns: list[_Conn] = []
        self.idle: deque[_Conn] = deque()
        self.backlog: deque[float] = deque()  # open loop: intended times not yet sent
        self.running = True  # new requests are started (closed loop) or scheduled (open)
        self.active = True  # connections are kept up (open loop: until the backlog drains)
        self.window = (float("inf"), float("inf"))
        self.latencies: list[float] = []
        self.non2xx = 0
        self.socket_errors = 0
        self.last_bad: int | None = None
        self.in_window_outstanding = 0
        self.error: str | None = None
        self.stopped = asyncio.Event()

    def fail(self, message: str) -> None:
        """Stop the whole run: its numbers would be meaningless."""
        if self.error is None:
            self.error = message
        self.running = self.active = False
        self.backlog.clear()
        self.stopped.set()
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.abort()

    async def connect(self) -> None:
        for _ in range(self.n):
            conn = _Conn(self)
            await self.loop.create_connection(lambda c=conn: c, self.host, self.port)
            self.conns.append(conn)
            self.idle.append(conn)

    def _measured(self, t: float) -> bool:
        return self.window[0] <= t < self.window[1]

    def completed(self, conn: _Conn, status: int) -> None:
        now = self.clock()
        if self.rate is None:
            counted = self._measured(now)
        else:
            counted = self._measured(conn.intended)
            if counted:
                self.in_window_outstanding -= 1
        if counted:
            self.latencies.append(now - conn.intended)
            if not 200 <= status <= 299:
                self.non2xx += 1
                self.last_bad = status
        if conn.close_after:
            return  # connection_lost will reconnect
        self._next(conn)

    def _next(self, conn: _Conn) -> None:
        if self.rate is None and self.running:
            conn.send(self.clock())
        elif self.rate is not None and self.backlog and self.active:
            # Open loop: what was scheduled is still sent after scheduling stopped.
            conn.send(self.backlog.popleft())
        else:
            self.idle.append(conn)

    def lost(self, conn: _Conn) -> None:
        if conn.busy:
            conn.busy = False
            if self._measured(self.clock()):
                self.socket_errors += 1
            if self.rate is not None and self._measured(conn.intended):
                self.in_window_outstanding -= 1
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        if self.active:
            self.loop.create_task(self._reconnect(conn))

    async def _reconnect(self, conn: _Conn) -> None:
        try:
            await self.loop.create_connection(lambda: conn, self.host, self.port)
        except OSError:
            self.socket_errors += 1
            await asyncio.sleep(0.05)
            if self.active:
                self.loop.create_task(self._reconnect(conn))
            return
        self._next(conn)

    async def run(self, warmup: float, duration: float) -> LoadResult:
        await self.connect()
        start = self.clock()
        self.window = (start + warmup, start + warmup + duration)
        if self.rate is None:
            while self.idle:
                self.idle.popleft().send(self.clock())
            while (left := self.window[1] - self.clock()) > 0 and self.running:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), left)
        else:
            await self._schedule(start, self.window[1])
        self.running = False
        if self.error:
            raise BenchmarkError(self.error)
        incomplete = 0
        if self.rate is not None:
            # Let requests scheduled inside the window finish (bounded).
            grace_end = self.clock() + max(5.0, duration)
            while self.in_window_outstanding > 0 and self.clock() < grace_end and not self.error:
                await asyncio.sleep(0.01)
            if self.error:
                raise BenchmarkError(self.error)
            incomplete = self.in_window_outstanding
        self.active = False
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()
        lat = sorted(self.latencies)
        return LoadResult(
            client="asyncio",
            duration=duration,
            requests=len(lat),
            non2xx=self.non2xx,
            socket_errors=self.socket_errors,
            p50_ms=_percentile(lat, 50) * 1000,
            p99_ms=_percentile(lat, 99) * 1000,
            rate=self.rate,
            incomplete=incomplete,
            sample_error_status=self.last_bad,
        )

    async def _schedule(self, start: float, end: float) -> None:
        """Open loop: request i is due at start + i/rate whether or not the server keeps up."""
        interval = 1.0 / self.rate
        i = 0
        while self.running:
            now = self.clock()
            if now >= end:
                return
            due = int((now - start) / interval) + 1
            while i < due:
                t = start + i * interval
                self.backlog.append(t)
                if self._measured(t):
                    self.in_window_outstanding += 1
                i += 1
            while self.backlog and self.idle:
                self.idle.popleft().send(self.backlog.popleft())
            # Timers have ~1 ms resolution (epoll / libuv): sleep coarsely, then spin on
            # sleep(0) (which still services sockets) so requests leave on time. The client
            # core is dedicated to load generation, so spinning costs nothing measured.
            wait = start + i * interval - self.clock()
            await asyncio.sleep(wait - 0.002 if wait > 0.003 else 0)


def run_asyncio_client(
    host: str,
    port: int,
    raw: bytes,
    warmup: float,
    duration: float,
    connections: int,
    rate: float | None,
) -> LoadResult:
    async def go() -> LoadResult:
        return await _LoadGen(host, port, raw, connections, rate).run(warmup, duration)

    try:
        import uvloop

        return uvloop.run(go())
    except ImportError:
        return asyncio.run(go())


def run_asyncio_subprocess(
    host: str,
    port: int,
    req: SignedRequest,
    warmup: float,
    duration: float,
    connections: int,
    rate: float | None,
    core: int | None,
    workdir: Path,
) -> LoadResult:
    """Run the asyncio client in its own process, pinned to the client core."""
    request_file = workdir / "request.bin"
    request_file.write_bytes(req.raw())
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "loadgen",
        "--host",
        host,
        "--port",
        str(port),
        "--request-file",
        str(request_file),
        "--warmup",
        str(warmup),
        "--duration",
        str(duration),
        "--connections",
        str(connections),
    ]
    if rate is not None:
        argv += ["--rate", str(rate)]
    proc = subprocess.run(
        taskset(core, argv), capture_output=True, text=True, timeout=warmup + 2 * duration + 120
    )
    if proc.returncode != 0:
        raise BenchmarkError(f"load generator failed (rc={proc.returncode}):\n{proc.stderr}")
    return LoadResult(**json.loads(proc.stdout.strip().splitlines()[-1]))


def loadgen_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="harness.py loadgen")
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--request-file", type=Path, required=True)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rate", type=float, default=None)
    a = p.parse_args(argv)
    try:
        result = run_asyncio_client(
            a.host, a.port, a.request_file.read_bytes(), a.warmup, a.duration, a.connections, a.rate
        )
    except (BenchmarkError, OSError) as e:
        print(f"loadgen: {e}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)))
    return 0


# --------------------------------------------------------------------------- orchestration


@dataclass
class LoadOptions:
    duration: float = 10.0
    warmup: float = 2.0
    connections: int = 16
    rate: float | None = None
    half_peak: bool = False
    client: str = "auto"  # auto | wrk | asyncio
    server_core: int | None = 0
    client_core: int | None = 1
    rounds: int = 1


def run_load(
    server: ServerProcess,
    req: SignedRequest,
    opts: LoadOptions,
    rate: float | None,
) -> LoadResult:
    """Warm up, then measure; the server's CPU time is sampled around the measured run."""
    client = opts.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") and rate is None else "asyncio"
    if client == "wrk" and rate is not None:
        raise BenchmarkError("wrk cannot do fixed-rate load; use --client asyncio")
    ep, workdir = server.endpoint, server.tmp

    def once(duration: float) -> LoadResult:
        if client == "wrk":
            return run_wrk(
                ep.host, ep.port, req, duration, opts.connections, opts.client_core, workdir
            )
        return run_asyncio_subprocess(
            ep.host,
            ep.port,
            req,
            0.0,
            duration,
            opts.connections,
            rate,
            opts.client_core,
            workdir,
        )

    if opts.warmup > 0:
        once(opts.warmup)
    cpu0, core0 = server.cpu_seconds(), core_ticks(server.core)
    result = once(opts.duration)
    cpu1, core1 = server.cpu_seconds(), core_ticks(server.core)
    if cpu0 is not None and cpu1 is not None:
        result.server_cpu_s = cpu1 - cpu0
    if core0 and core1 and core1[1] > core0[1]:
        result.core_busy = (core1[0] - core0[0]) / (core1[1] - core0[1])
    return result


def check_result(server: str, r: LoadResult) -> None:
    if r.requests == 0:
        raise BenchmarkError(f"{server}: no response completed ({r.socket_errors} socket errors)")
    if r.non2xx * 2 > r.requests:
        raise BenchmarkError(
            f"{server}: {r.non2xx} of {r.requests} responses were not 2xx "
            f"(e.g. {r.sample_error_status}); a benchmark of error responses is meaningless"
        )
    if r.rate is None and r.core_busy is not None and r.core_busy < 0.85:
        print(
            f"  WARNING {server}: its core was idle {1 - r.core_busy:.0%} of the time under "
            "closed-loop load: the server is not saturated (load generator, too few "
            "--connections, or the server waits on something)",
            flush=True,
        )
    elif r.rate is None and r.cpu_util is not None and r.cpu_util < 0.7:
        print(
            f"  WARNING {server}: the server had only {r.cpu_util:.0%} of its core "
            f"({r.core_busy or 0:.0%} busy): other processes run on that core, req/s is "
            "depressed; req/cpu-s is the steadier figure",
            flush=True,
        )
    if r.non2xx or r.socket_errors or r.incomplete:
        print(
            f"  WARNING {server}: {r.non2xx} non-2xx (e.g. {r.sample_error_status}), "
            f"{r.socket_errors} socket errors, {r.incomplete} incomplete",
            flush=True,
        )


@dataclass
class ServerOutcome:
    server: str
    results: list[LoadResult] = field(default_factory=list)
    unavailable: str | None = None
    failed: str | None = None

    def summary(self) -> LoadResult | None:
        """The round with the median req/s."""
        if not self.results:
            return None
        ordered = sorted(self.results, key=lambda r: r.rps)
        return ordered[(len(ordered) - 1) // 2]


def bench_workload(
    workload: Workload, servers: list[ServerDef], opts: LoadOptions
) -> list[ServerOutcome]:
    outcomes = [ServerOutcome(s.name) for s in servers]
    procs: dict[str, ServerProcess] = {}
    specs: dict[str, RequestSpec] = {}
    try:
        # Start every server and run setup up front, then measure in alternating rounds.
        for sdef, out in zip(servers, outcomes, strict=True):
            proc = ServerProcess(sdef, opts.server_core)
            try:
                proc.start()
            except ServerUnavailable as e:
                out.unavailable = str(e)
                print(f"[{sdef.name}] not available: {e}", flush=True)
                continue
            procs[sdef.name] = proc
            print(f"[{sdef.name}] up on {proc.endpoint.url} (core {opts.server_core})", flush=True)
            try:
                spec = workload.setup(proc.endpoint)
                req = sign(spec, sdef.creds, LOOPBACK, proc.port)
                status, body = send_once(LOOPBACK, proc.port, req.raw())
            except Exception as e:  # setup is arbitrary user code
                out.failed = f"setup/check failed: {type(e).__name__}: {e}"
                print(f"[{sdef.name}] {out.failed}", flush=True)
                continue
            print(f"[{sdef.name}] check: HTTP {status} {body[:200]!r}", flush=True)
            if not 200 <= status <= 299:
                out.failed = f"check request answered HTTP {status}"
                print(f"[{sdef.name}] FAILED: {out.failed}", flush=True)
                continue
            specs[sdef.name] = spec
        for rnd in range(opts.rounds):
            for sdef, out in zip(servers, outcomes, strict=True):
                if sdef.name not in specs or out.failed:
                    continue
                proc = procs[sdef.name]
                # Fresh signature per run: it must stay inside its 5-minute validity.
                req = sign(specs[sdef.name], sdef.creds, LOOPBACK, proc.port)
                rate = opts.rate
                try:
                    if opts.half_peak:
                        peak = run_load(proc, req, opts, None)
                        check_result(sdef.name, peak)
                        rate = peak.rps / 2
                        print(
                            f"[{sdef.name}] round {rnd + 1}: peak {peak.rps:.1f} req/s, "
                            f"now fixed rate {rate:.1f} req/s",
                            flush=True,
                        )
                        req = sign(specs[sdef.name], sdef.creds, LOOPBACK, proc.port)
                    r = run_load(proc, req, opts, rate)
                    check_result(sdef.name, r)
                    if opts.half_peak:
                        r.peak_rps = peak.rps
                except BenchmarkError as e:
                    out.failed = str(e)
                    print(f"[{sdef.name}] FAILED: {e}", flush=True)
                    continue
                out.results.append(r)
                print(
                    f"[{sdef.name}] round {rnd + 1}: {r.rps:.1f} req/s  p50 {r.p50_ms:.2f} ms  "
                    f"p99 {r.p99_ms:.2f} ms  server cpu {r.cpu_util or 0:.0%}  ({r.client})",
                    flush=True,
                )
    finally:
        for proc in procs.values():
            proc.stop()
    return outcomes


def _short(reason: str) -> str:
    """First line of a reason, plus its last line (e.g. the exception) when different."""
    lines = [ln.strip() for ln in reason.strip().splitlines() if ln.strip()]
    if len(lines) > 1:
        return f"{lines[0].rstrip(':')}: {lines[-1]}"
    return lines[0] if lines else "?"


def format_table(workload: Workload, outcomes: list[ServerOutcome], opts: LoadOptions) -> str:
    mode = (
        "fixed rate at half of peak"
        if opts.half_peak
        else f"fixed rate {opts.rate:g}/s"
        if opts.rate
        else "closed loop"
    )
    lines = [
        f"\n== {workload.name} == {mode}, {opts.connections} connections, "
        f"{opts.duration:g}s (+{opts.warmup:g}s warm-up), {opts.rounds} round(s), "
        f"server on core {opts.server_core}, load on core {opts.client_core}",
        f"{'server':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}"
        f"{'sockerr':>9}{'srv cpu':>9}{'req/cpu-s':>11}  client",
    ]
    by_name: dict[str, LoadResult] = {}
    for out in outcomes:
        r = out.summary()
        if r is None:
            why = (
                f"not available ({_short(out.unavailable)})"
                if out.unavailable
                else (f"FAILED ({out.failed})" if out.failed else "no result")
            )
            lines.append(f"{out.server:<12}{'n/a':>10}  {why}")
            continue
        by_name[out.server] = r
        peak = f" (peak {r.peak_rps:.1f} req/s)" if r.peak_rps else ""
        util = f"{r.cpu_util:.0%}" if r.cpu_util is not None else "?"
        per_cpu = f"{r.per_cpu_s:.1f}" if r.per_cpu_s is not None else "?"
        lines.append(
            f"{out.server:<12}{r.rps:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{r.non2xx:>9}{r.socket_errors:>9}{util:>9}{per_cpu:>11}  {r.client}{peak}"
        )
    sr, mo = by_name.get("strongroom"), by_name.get("moto")
    if sr and mo and mo.rps > 0:
        # Throughput ratio; with --half-peak, of the peaks (the fixed rates are half of those).
        ratio = f"{(sr.peak_rps or sr.rps) / (mo.peak_rps or mo.rps):.1f}x"
    else:
        ratio = "n/a"
    lines.append(f"ratio strongroom/moto: {ratio}")
    base = by_name.get(BASELINE)
    if sr and base and base.rps > 0:
        change = (sr.peak_rps or sr.rps) / (base.peak_rps or base.rps) - 1
        lines.append(f"strongroom against {BASELINE}: {change:+.1%} req/s")
        if base.p99_ms > 0:
            lines.append(f"p99 strongroom/{BASELINE}: {sr.p99_ms / base.p99_ms:.2f}x")
    if sr and mo and sr.per_cpu_s and mo.per_cpu_s:
        lines.append(f"ratio per server CPU-second: {sr.per_cpu_s / mo.per_cpu_s:.1f}x")
    if sr and mo and mo.p99_ms > 0:
        lines.append(f"p99 latency strongroom/moto: {sr.p99_ms / mo.p99_ms:.2f}x")
    lines.extend(_p99_by_round(outcomes))
    return "\n".join(lines)


def _p99_by_round(outcomes: list[ServerOutcome]) -> list[str]:
    """Every round's p99 and their median. The table's row is the round of
    median req/s, whose p99 need not be the median p99."""
    lines = []
    for out in outcomes:
        if len(out.results) > 1:
            p99s = [r.p99_ms for r in out.results]
            median = sorted(p99s)[(len(p99s) - 1) // 2]
            rounds = " / ".join(f"{p:.2f}" for p in p99s)
            lines.append(f"p99 by round, {out.server}: {rounds} ms (median {median:.2f} ms)")
    return lines


def build_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (default 2)")
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections (16)")
    p.add_argument("--only", choices=sorted(SERVERS), help="benchmark one server only")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop fixed rate in requests/s (asyncio client); latency from schedule time",
    )
    p.add_argument(
        "--half-peak",
        action="store_true",
        help="measure peak, then run at a fixed rate of half of it (p99 at half of peak)",
    )
    p.add_argument("--client", choices=["auto", "wrk", "asyncio"], default="auto")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds; median reported")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument(
        "--workload", action="append", help="run only workloads whose name contains this"
    )
    p.add_argument("--json", type=Path, help="also write results as JSON to this file")
    p.add_argument(
        "--baseline",
        type=Path,
        help="also measure the strongroom of this checkout (e.g. a worktree of an earlier "
        f"commit) as {BASELINE!r}, alternating with the others",
    )
    return p


def main(workloads: list[Workload], argv: list[str] | None = None, description: str = "") -> int:
    args = build_parser(description or __doc__.splitlines()[0]).parse_args(argv)
    if args.rate is not None and args.half_peak:
        print("--rate and --half-peak are exclusive", file=sys.stderr)
        return 2
    if args.rate is not None and args.client == "wrk":
        print("wrk cannot do fixed-rate load; use --client asyncio", file=sys.stderr)
        return 2
    if args.warmup + args.duration > MAX_RUN_SECONDS:
        print(
            f"warm-up + duration must stay under {MAX_RUN_SECONDS}s "
            "(signatures are valid for 5 minutes)",
            file=sys.stderr,
        )
        return 2
    opts = LoadOptions(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        rate=args.rate,
        half_peak=args.half_peak,
        client=args.client,
        server_core=args.server_core,
        client_core=args.client_core,
        rounds=args.rounds,
    )
    if args.workload:
        workloads = [
            w for w in workloads if any(s.lower() in w.name.lower() for s in args.workload)
        ]
        if not workloads:
            print("no workload matches --workload", file=sys.stderr)
            return 2
    servers = [SERVERS[args.only]] if args.only else [STRONGROOM, MOTO]
    if args.baseline is not None:
        servers.insert(1, baseline_server(args.baseline))
    with contextlib.suppress(AttributeError, OSError):
        # Keep this orchestrating process off the server core.
        os.sched_setaffinity(0, {opts.client_core})

    exit_code = 0
    tables, report = [], []
    for w in workloads:
        outcomes = bench_workload(w, servers, opts)
        tables.append(format_table(w, outcomes, opts))
        print(tables[-1], flush=True)
        if any(o.failed for o in outcomes):
            exit_code = 1
        if not any(o.results for o in outcomes) and exit_code == 0:
            exit_code = 2  # nothing measured at all
        report.append(
            {
                "workload": w.name,
                "options": asdict(opts),
                "servers": [
                    {
                        "server": o.server,
                        "unavailable": o.unavailable,
                        "failed": o.failed,
                        "rounds": [{**asdict(r), "rps": r.rps} for r in o.results],
                    }
                    for o in outcomes
                ],
            }
        )
    if len(tables) > 1:
        print("\n\n######## summary" + "".join(tables))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return exit_code


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        sys.exit(loadgen_main(sys.argv[2:]))
    print("usage: python benchmarks/bench_core.py  (this module is the harness library)")
    sys.exit(2)
