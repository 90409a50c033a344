"""strongroom's HTTP protocol on the installed uvicorn, and the request limits
it computes at start-up.

`StrongroomHttp` relies on uvicorn internals (`Config.loaded_app`,
`Config.timeout_keep_alive`, `ServerState.connections`, `.default_headers`,
`.total_requests`, the keyword arguments uvicorn constructs its protocol
with); pyproject.toml pins uvicorn to the range this test has passed on."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from packaging.requirements import Requirement
from uvicorn.server import ServerState

from strongroom.framework import Operation
from strongroom.protocol.codecs import codec_for
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.http import StrongroomHttp
from strongroom.server.limits import SLACK, RequestLimits, json_bound
from strongroom.server.serve import prepare
from strongroom.services.registry import served_services

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class FakeTransport:
    """What the protocol calls on a transport, recorded."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False
        self.eof = False

    def write(self, data: bytes) -> None:
        self.written += data

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=tmp_path_factory.mktemp("http"))
    prepare(config)
    application = App(config)
    try:
        yield application
    finally:
        application.shutdown()


def _connection(app: App) -> tuple[StrongroomHttp, ServerState, FakeTransport, Any]:
    config = uvicorn.Config(app, http=StrongroomHttp, lifespan="off", proxy_headers=False)
    config.load()
    assert config.http_protocol_class is StrongroomHttp
    state = ServerState()
    loop = asyncio.new_event_loop()
    # The keyword arguments uvicorn's Server.startup passes to its protocol.
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=state, app_state={}, _loop=loop
    )
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, state, transport, loop


def test_the_installed_uvicorn_is_in_the_pinned_range() -> None:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pin = next(Requirement(d) for d in deps if Requirement(d).name == "uvicorn")
    assert pin.specifier, "uvicorn must be pinned to a tested range"
    assert version("uvicorn") in pin.specifier, (version("uvicorn"), str(pin.specifier))


def test_the_protocol_runs_on_the_installed_uvicorn(app: App) -> None:
    protocol, state, transport, loop = _connection(app)
    try:
        assert protocol.app is app
        assert protocol in state.connections
        assert isinstance(protocol.idle_timeout, int | float)
        state.default_headers = [(b"date", b"Fri, 04 Dec 2026 00:00:00 GMT")]
        protocol.data_received(b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\n\r\n")
        loop.call_soon(loop.stop)
        loop.run_forever()  # the batch answers in the next pass
        assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"date: Fri, 04 Dec 2026 00:00:00 GMT\r\n" in transport.written
        assert state.total_requests == 1
        protocol.shutdown()  # uvicorn's graceful shutdown of an idle connection
        assert transport.closed
        protocol.connection_lost(None)
        assert protocol not in state.connections
    finally:
        loop.close()


def test_a_refused_body_is_answered_and_half_closed(app: App) -> None:
    protocol, _, transport, loop = _connection(app)
    try:
        protocol.data_received(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\nabc"
        )
        assert transport.written.startswith(b"HTTP/1.1 413 ")
        assert transport.eof and not transport.closed  # lingering: the rest is dropped
        protocol.data_received(b"x" * 65536)
        assert transport.written.count(b"HTTP/1.1") == 1
        assert protocol.limits.buffered == 0
    finally:
        protocol.connection_lost(None)
        loop.close()


def test_a_chunked_body_releases_what_it_counted(app: App) -> None:
    protocol, _, _transport, loop = _connection(app)
    try:
        protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        protocol.data_received(b"5\r\nhello\r\n")
        assert protocol.limits.buffered == 5
        protocol.data_received(b"0\r\n\r\n")
        assert protocol.limits.buffered == 0
    finally:
        protocol.connection_lost(None)
        loop.close()


# -- limits computed at start-up ------------------------------------------------


def _kms() -> Any:
    return next(s for s in served_services() if s.name == "kms")


def test_model_bounds() -> None:
    kms = _kms()
    shape = kms.model.operation_model("DescribeKey").input_shape
    bound = json_bound(shape)
    # KeyId: 2048 characters, each at most \\uXXXX; 10 grant tokens of 8192.
    assert bound is not None and 2048 * 6 + 10 * 8192 * 6 <= bound < 2048 * 6 + 11 * 8192 * 6
    # Encrypt's EncryptionContext is a map without a modelled size.
    assert json_bound(kms.model.operation_model("Encrypt").input_shape) is None


def test_request_limits_per_target(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, max_body=1 << 20, max_unsigned_body=4096)
    limits = RequestLimits(served_services(), config)
    describe = limits.by_target["TrentService.DescribeKey"]
    assert describe == json_bound(_kms().model.operation_model("DescribeKey").input_shape) + SLACK
    assert limits.by_target["TrentService.Encrypt"] == 1 << 20
    signed = {"authorization": "AWS4-HMAC-SHA256 ..."}
    assert limits.body_limit({**signed, "x-amz-target": "TrentService.DescribeKey"}, b"/") == (
        describe
    )
    assert limits.body_limit({**signed, "x-amz-target": "Nope.Nothing"}, b"/") == 1 << 20
    assert limits.body_limit(signed, b"/") == 1 << 20  # query protocol: the cap
    assert limits.body_limit({}, b"/") == 4096  # unsigned
    assert limits.body_limit({}, b"/?X-Amz-Signature=ab") == 1 << 20  # presigned


def test_a_body_signed_in_its_form_keeps_its_own_limit(tmp_path: Path) -> None:
    """S3's POST Object carries its signature in its form: no header or query
    signs it, yet it is held to PostObject's bound (and spooled), not the
    unsigned limit; any other unsigned request still is."""
    from strongroom.server.router import Router

    services = served_services()
    config = Config(data_dir=tmp_path, max_unsigned_body=4096)
    app_codecs = {s.name: codec_for(s.model) for s in services}
    limits = RequestLimits(services, config, Router(services, app_codecs))
    form = {"content-type": "multipart/form-data; boundary=x", "host": "127.0.0.1"}
    assert limits.body_plan(form, b"/bucket", "POST") == (5 * 1024**3 + 16 * 1024 * 1024, True)
    vhost = {**form, "host": "bucket.s3.localhost:4566"}
    assert limits.body_plan(vhost, b"/", "POST")[0] == 5 * 1024**3 + 16 * 1024 * 1024
    assert limits.body_plan(form, b"/bucket/key", "PUT") == (4096, False)  # unsigned PutObject
    assert limits.body_plan(form, b"/bucket?delete", "POST") == (4096, False)


def test_an_operation_declares_its_own_limit(tmp_path: Path) -> None:
    services = served_services()
    kms = next(s for s in services if s.name == "kms")
    original = kms.operations["Encrypt"]
    try:
        kms.operations["Encrypt"] = dataclasses.replace(original, max_body=50 << 20)
        limits = RequestLimits(services, Config(data_dir=tmp_path))
        assert limits.by_target["TrentService.Encrypt"] == 50 << 20  # above the cap
        kms.operations["Encrypt"] = dataclasses.replace(original, streaming=True)
        with pytest.raises(RuntimeError, match="streaming"):
            RequestLimits(services, Config(data_dir=tmp_path))
    finally:
        kms.operations["Encrypt"] = original
    assert Operation.__dataclass_fields__["max_body"].default is None


def _feed(app: App, pieces: list[bytes]) -> bytes:
    """What the protocol answers to `pieces`, each delivered as one read."""
    protocol, _, transport, loop = _connection(app)
    try:
        for piece in pieces:
            protocol.data_received(piece)
        loop.call_soon(loop.stop)
        loop.run_forever()
        return transport.written
    finally:
        protocol.connection_lost(None)
        loop.close()


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("read_size", [1 << 20, 4096, 7])
def test_the_header_limit_holds_however_the_reads_fall(app: App, read_size: int) -> None:
    head = b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\n"
    over = head + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(90)) + b"\r\n"
    assert _feed(app, _split(over, read_size)).startswith(b"HTTP/1.1 431 ")
    under = head + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 150) for i in range(90)) + b"\r\n"
    assert _feed(app, _split(under, read_size)).startswith(b"HTTP/1.1 200 ")


def test_pipelined_requests_in_one_large_read_are_not_mistaken_for_a_large_header(
    app: App,
) -> None:
    body = b"x" * 40000
    post = b"POST /_strongroom/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    written = _feed(app, [post * 3 + b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert written.count(b"HTTP/1.1 404 ") == 3 and written.count(b"HTTP/1.1 200 ") == 1
