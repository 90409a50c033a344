"""Blocking operations are answered off the event loop.

No served operation is blocking yet, so each test declares one: IAM
CreateUser, made to sleep `SLOW` seconds inside its transaction before it
does its work, registered with ``blocking=True`` (`dataclasses.replace`, as
a service would declare it). The real App runs under a real uvicorn Server
with strongroom's HTTP protocol, on a free port in a thread of the test; the
clients are raw sockets, signed with botocore's SigV4Auth as the account
root. What the tests hold the server to:

* while the slow request runs, fast requests on other connections are all
  answered long before it is (and a fast write sent meanwhile, which waits
  for the slow one's write lock, does not stop them either);
* requests pipelined on one connection are answered in order, and one sent
  behind the slow request runs after it (it sees the user it created);
* the slow request's write is committed before its response is sent, and
  its audit event is stored;
* graceful shutdown waits for it; a client that leaves does not break
  anything; a failure in the worker is the pipeline's ordinary error answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from uvicorn.server import ServerState

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.http import ResponseBatch, StrongroomHttp
from strongroom.server.serve import prepare
from strongroom.services.registry import served_services

SLOW = 1.0


def _iam() -> Any:
    return next(s for s in served_services() if s.name == "iam")


def _slowly(fn: Callable[..., dict[str, Any]], seconds: float = SLOW) -> Callable[..., Any]:
    def slow(call: Any, **params: Any) -> dict[str, Any]:
        time.sleep(seconds)  # an engine starting, a snapshot being copied
        return fn(call, **params)

    return slow


@dataclasses.dataclass
class Endpoint:
    """Where requests go and whose signature they carry."""

    port: int
    credentials: Credentials


@dataclasses.dataclass
class Server(Endpoint):
    app: App
    data_dir: Path
    uvicorn: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 15) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the server did not stop"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def blocking_create_user(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Declare IAM CreateUser blocking, its function wrapped by `wrap`
    (slow by default), for the App the test builds next."""
    iam = _iam()
    original = iam.operations["CreateUser"]

    def declare(wrap: Callable[[Any], Any] = _slowly) -> None:
        blocking = dataclasses.replace(original, blocking=True, fn=wrap(original.fn))
        monkeypatch.setitem(iam.operations, "CreateUser", blocking)

    return declare


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start_server(loop: str = "uvloop", store_url: str | None = None) -> Server:
        config = Config(data_dir=tmp_path, blocking_threads=2, store_url=store_url)
        access_key_id, secret, _ = prepare(config)
        assert secret is not None
        app = App(config)
        port = _free_port()
        uv = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                http=StrongroomHttp,
                loop=loop,
                lifespan="on",
                log_level="warning",
                timeout_graceful_shutdown=10,
            )
        )
        thread = threading.Thread(target=uv.run, name="test-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        server = Server(port, Credentials(access_key_id, secret), app, tmp_path, uv, thread)
        servers.append(server)
        return server

    yield start_server
    for server in servers:
        if server.thread.is_alive():
            server.stop()


# -- requests on raw sockets -----------------------------------------------------


def signed(server: Endpoint, service: str, form: str) -> bytes:
    """One signed query-protocol request (IAM or STS) as bytes on the wire."""
    host = f"127.0.0.1:{server.port}"
    aws = AWSRequest(
        method="POST",
        url=f"http://{host}/",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(server.credentials, service, "us-east-1").add_auth(aws)
    headers = {k.lower(): v for k, v in aws.headers.items()}
    headers["host"] = host
    body = form.encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST / HTTP/1.1\r\n{head}content-length: {len(body)}\r\n\r\n".encode() + body


def create_user(server: Endpoint, name: str) -> bytes:
    return signed(server, "iam", f"Action=CreateUser&UserName={name}&Version=2010-05-08")


def get_user(server: Endpoint, name: str) -> bytes:
    return signed(server, "iam", f"Action=GetUser&UserName={name}&Version=2010-05-08")


def whoami(server: Endpoint) -> bytes:
    return signed(server, "sts", "Action=GetCallerIdentity&Version=2011-06-15")


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Reader:
    """Responses read one after another from one connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.file.read(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, body


def exchange(server: Server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        sock.sendall(raw)
        return Reader(sock).response()


class Slow(threading.Thread):
    """A request sent on a connection of its own, its answer awaited aside."""

    def __init__(self, server: Server, raw: bytes) -> None:
        super().__init__(daemon=True)
        self.server, self.raw = server, raw
        self.sent = threading.Event()
        self.answer: tuple[int, dict[str, str], bytes] | None = None
        self.answered_at = 0.0

    def run(self) -> None:
        with connect(self.server) as sock:
            sock.sendall(self.raw)
            self.sent.set()
            self.answer = Reader(sock).response()
            self.answered_at = time.monotonic()


def user_row(server: Server, name: str) -> Any:
    """The user as another connection to the store sees it: committed or nothing."""
    db = sqlite3.connect(server.data_dir / "state.db")
    try:
        return db.execute("SELECT user_name FROM iam_users WHERE user_name = ?", (name,)).fetchone()
    finally:
        db.close()


def stored_event(server: Server, needle: str) -> bool:
    db = sqlite3.connect(server.data_dir / "state.db")
    try:
        rows = db.execute("SELECT events FROM audit_batches").fetchall()
    finally:
        db.close()
    return any(needle.encode() in bytes(row[0]) for row in rows)


def wait_for(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


# -- the tests ------------------------------------------------------------------


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_fast_requests_on_other_connections_never_wait(
    blocking_create_user: Callable[..., None], start: Callable[..., Server], loop: str
) -> None:
    blocking_create_user()
    server = start(loop)
    assert server.app.blocking
    slow = Slow(server, create_user(server, "slowpoke"))
    began = time.monotonic()
    slow.start()
    slow.sent.wait(5)
    time.sleep(0.1)  # it is in the worker now, asleep inside its transaction
    # A fast write meanwhile: it waits for the slow one's write lock, off the loop too.
    fast_write = Slow(
        server, signed(server, "iam", "Action=CreateGroup&GroupName=g&Version=2010-05-08")
    )
    fast_write.start()
    fast_write.sent.wait(5)
    latencies = []
    for _ in range(20):
        sent = time.monotonic()
        status, _, body = exchange(server, whoami(server))
        latencies.append(time.monotonic() - sent)
        assert status == 200, body
        assert b"<GetCallerIdentityResponse" in body
    fast_done = time.monotonic()
    slow.join(10)
    fast_write.join(10)
    assert slow.answer is not None and slow.answer[0] == 200, slow.answer
    assert b"<CreateUserResponse" in slow.answer[2]
    assert slow.answered_at - began >= SLOW
    assert fast_done < slow.answered_at, "the fast requests waited for the slow one"
    assert fast_done - began < 0.8 * SLOW, latencies
    assert max(latencies) < 0.3 * SLOW, latencies
    assert fast_write.answer is not None and fast_write.answer[0] == 200, fast_write.answer
    assert server.app.store.writes_off_loop == 0
    server.stop()


class Transport:
    """What the protocol calls on a transport, recorded (as in test_http_protocol)."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def test_a_slow_request_does_not_delay_the_fast_ones_of_its_pass(
    blocking_create_user: Callable[..., None], tmp_path: Path
) -> None:
    """Deterministically in one pass of the loop: the slow request and five
    fast ones on other connections complete together; the fast ones are
    written in that pass, the slow one once its thread is done."""
    blocking_create_user()
    config = Config(data_dir=tmp_path)
    access_key_id, secret, _ = prepare(config)
    assert secret is not None
    app = App(config)
    target = Endpoint(4566, Credentials(access_key_id, secret))
    uv_config = uvicorn.Config(app, http=StrongroomHttp, lifespan="off")
    uv_config.load()
    state = ServerState()
    loop = asyncio.new_event_loop()

    def connection() -> tuple[StrongroomHttp, Transport]:
        protocol = StrongroomHttp(config=uv_config, server_state=state, app_state={}, _loop=loop)
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        return protocol, transport

    try:
        slow, slow_out = connection()
        fast = [connection() for _ in range(5)]
        slow.data_received(create_user(target, "same-pass"))
        for protocol, _ in fast:
            protocol.data_received(whoami(target))
        loop.call_soon(loop.stop)
        loop.run_forever()  # the pass that answers the batch
        assert all(out.written.startswith(b"HTTP/1.1 200 ") for _, out in fast)
        assert slow_out.written == b"" and not slow_out.reading  # off the loop, holding
        assert slow._queued == 1

        async def answered() -> None:
            while not slow_out.written:
                await asyncio.sleep(0.01)

        loop.run_until_complete(asyncio.wait_for(answered(), 5 * SLOW))
        assert slow_out.written.startswith(b"HTTP/1.1 200 ")
        assert slow_out.reading and slow._queued == 0 and slow._held is None
    finally:
        for protocol, _ in [(slow, slow_out), *fast]:
            protocol.connection_lost(None)
        app.shutdown()
        loop.close()


def test_pipelined_requests_come_back_in_order(
    blocking_create_user: Callable[..., None], start: Callable[..., Server]
) -> None:
    blocking_create_user()
    server = start()
    with connect(server) as sock:
        # One write, four requests: a fast one, the slow one, two behind it.
        sock.sendall(
            whoami(server)
            + create_user(server, "piped")
            + get_user(server, "piped")
            + whoami(server)
        )
        reader = Reader(sock)
        answers = [reader.response() for _ in range(4)]
    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 200], answers
    kinds = [body.split(b" ", 1)[0] for _, _, body in answers]
    assert kinds == [
        b"<GetCallerIdentityResponse",
        b"<CreateUserResponse",
        b"<GetUserResponse",  # ran after CreateUser, on the connection's order
        b"<GetCallerIdentityResponse",
    ], answers
    server.stop()


def test_the_write_is_committed_before_the_response_and_audited(
    blocking_create_user: Callable[..., None], start: Callable[..., Server]
) -> None:
    blocking_create_user()
    server = start()
    slow = Slow(server, create_user(server, "durable"))
    slow.start()
    slow.sent.wait(5)
    time.sleep(0.3)
    assert user_row(server, "durable") is None  # not committed while it runs
    slow.join(10)
    assert slow.answer is not None and slow.answer[0] == 200, slow.answer
    assert user_row(server, "durable") == ("durable",)  # the moment it is answered
    assert wait_for(lambda: stored_event(server, '"userName":"durable"')), "no audit event"
    # The loop's caches learnt of the worker's commit: the user is found there.
    status, _, body = exchange(server, get_user(server, "durable"))
    assert status == 200, body
    server.stop()


def test_graceful_shutdown_waits_for_the_request_off_the_loop(
    blocking_create_user: Callable[..., None], start: Callable[..., Server]
) -> None:
    blocking_create_user()
    server = start()
    slow = Slow(server, create_user(server, "last"))
    slow.start()
    slow.sent.wait(5)
    time.sleep(0.2)
    server.uvicorn.should_exit = True
    slow.join(10)
    assert slow.answer is not None, "the request in flight was dropped"
    status, headers, body = slow.answer
    assert status == 200, body
    assert headers.get("connection") == "close"
    server.thread.join(15)
    assert not server.thread.is_alive()
    assert user_row(server, "last") == ("last",)
    assert stored_event(server, '"userName":"last"')  # flushed on the way out


def test_a_client_that_leaves_mid_way_breaks_nothing(
    blocking_create_user: Callable[..., None], start: Callable[..., Server]
) -> None:
    blocking_create_user()
    server = start()
    with connect(server) as sock:
        sock.sendall(create_user(server, "orphan") + whoami(server))
        time.sleep(0.2)
    # Gone before its answer: the request is still carried out, others served.
    status, _, _ = exchange(server, whoami(server))
    assert status == 200
    assert wait_for(lambda: user_row(server, "orphan"), timeout=5) == ("orphan",)
    with connect(server) as sock:  # and the pool still answers
        sock.sendall(create_user(server, "after"))
        status, _, body = Reader(sock).response()
    assert status == 200, body
    server.stop()
    assert wait_for(lambda: stored_event(server, '"userName":"orphan"'))


def test_errors_off_the_loop_are_the_pipelines_answers(
    blocking_create_user: Callable[..., None], start: Callable[..., Server]
) -> None:
    def broken(fn: Callable[..., Any]) -> Callable[..., Any]:
        def op(call: Any, UserName: str, **params: Any) -> dict[str, Any]:
            if UserName == "bug":
                raise RuntimeError("a bug in a blocking operation")
            return _slowly(fn, 0.05)(call, UserName=UserName, **params)

        return op

    blocking_create_user(broken)
    server = start()
    with connect(server) as sock:
        sock.sendall(create_user(server, "twice") + create_user(server, "twice"))
        reader = Reader(sock)
        first, again = reader.response(), reader.response()
        sock.sendall(create_user(server, "bug") + whoami(server))
        bug, after = reader.response(), reader.response()
    assert first[0] == 200, first
    assert again[0] == 409 and b"<Code>EntityAlreadyExists</Code>" in again[2], again
    assert bug[0] == 500 and b"InternalFailure" in bug[2], bug
    assert after[0] == 200  # the connection goes on
    assert user_row(server, "bug") is None  # rolled back
    server.stop()
    assert server.app.internal_failures == 1


def test_without_blocking_operations_no_batch_is_sorted(
    start: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    for svc in served_services():  # as if none were declared blocking
        for name, op in list(svc.operations.items()):
            if op.blocking or op.prepare is not None:
                monkeypatch.setitem(
                    svc.operations, name, dataclasses.replace(op, blocking=False, prepare=None)
                )
    server = start()
    assert not server.app.blocking

    def refuse(*_: Any) -> Any:
        raise AssertionError("a batch sorted for the pool while no operation is blocking")

    monkeypatch.setattr(ResponseBatch, "_sort", refuse)
    status, _, body = exchange(server, whoami(server))
    assert status == 200, body
    server.stop()


def test_off_the_loop_on_postgresql(
    blocking_create_user: Callable[..., None], start: Callable[..., Server], postgres: Any
) -> None:
    """On PostgreSQL a worker's transaction takes a connection from the pool;
    there is no store-wide write lock, so fast writes stay on the loop."""
    blocking_create_user()
    server = start(store_url=postgres.create_database(f"offloop_{uuid.uuid4().hex[:8]}"))
    slow = Slow(server, create_user(server, "pg-slow"))
    slow.start()
    slow.sent.wait(5)
    time.sleep(0.1)
    status, _, body = exchange(
        server, signed(server, "iam", "Action=CreateGroup&GroupName=pg&Version=2010-05-08")
    )
    assert status == 200, body
    for _ in range(20):
        status, _, body = exchange(server, whoami(server))
        assert status == 200, body
    fast_done = time.monotonic()
    slow.join(10)
    assert slow.answer is not None and slow.answer[0] == 200, slow.answer
    assert fast_done < slow.answered_at
    with connect(server) as sock:
        sock.sendall(create_user(server, "pg-piped") + get_user(server, "pg-piped"))
        reader = Reader(sock)
        created, got = reader.response(), reader.response()
    assert created[0] == 200 and b"<CreateUserResponse" in created[2], created
    assert got[0] == 200 and b"<UserName>pg-piped</UserName>" in got[2], got
    server.stop()
