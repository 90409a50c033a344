"""The HTTP/1.1 layer on the wire: keep-alive, pipelining, chunked bodies,
100-continue, HEAD, Connection: close and malformed requests, over raw sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


def _signed_headers(server: StrongroomServer, body: bytes = BODY) -> dict[str, str]:
    req = AWSRequest(
        "POST",
        f"{server.endpoint}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    creds = Credentials(server.access_key_id, server.secret_access_key)
    SigV4Auth(creds, "sts", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    headers["Host"] = f"127.0.0.1:{server.port}"
    return headers


def _head(method: str, path: str, headers: dict[str, str], version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _caller_identity(server: StrongroomServer, **extra: str) -> bytes:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY)), **extra}
    return _head("POST", "/", headers) + BODY


class Reader:
    """Reads responses off a socket by their Content-Length."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def response(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "connection closed before a response"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            assert self._fill(), "connection closed inside a body"
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(status_line.split()[1]), headers, body

    def closed(self) -> bool:
        self.sock.settimeout(5)
        return not self.buf and not self._fill()


def _connect(server: StrongroomServer) -> tuple[socket.socket, Reader]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock, Reader(sock)


def test_keep_alive_and_pipelining_answer_in_order(server: StrongroomServer) -> None:
    sock, reader = _connect(server)
    with sock:
        health = _head("GET", "/_strongroom/health", {"Host": "x"})
        sock.sendall(_caller_identity(server) + health + _caller_identity(server))
        first, second, third = reader.response(), reader.response(), reader.response()
        assert first[0] == 200 and b"<GetCallerIdentityResult>" in first[2]
        assert second[0] == 200 and b'"status":"running"' in second[2]
        assert third[0] == 200 and b"<GetCallerIdentityResult>" in third[2]
        assert "date" in first[1] and first[1]["content-length"] == str(len(first[2]))
        sock.sendall(_caller_identity(server))  # still open
        assert reader.response()[0] == 200


def test_requests_arriving_together_each_get_their_own_answer(
    server: StrongroomServer,
) -> None:
    """Requests from many connections are answered as one batch: every response
    must still reach its own connection, in each connection's order."""
    conns = [_connect(server) for _ in range(24)]
    try:
        for i, (sock, _) in enumerate(conns):
            first = _head("GET", f"/_strongroom/first-{i}", {"Host": "x"})
            second = _head("GET", f"/_strongroom/second-{i}", {"Host": "x"})
            sock.sendall(first + _caller_identity(server) + second)
        for i, (_, reader) in enumerate(conns):
            first, middle, second = reader.response(), reader.response(), reader.response()
            assert first[0] == 404 and f'/_strongroom/first-{i}"'.encode() in first[2]
            assert middle[0] == 200 and b"<GetCallerIdentityResult>" in middle[2]
            assert second[0] == 404 and f'/_strongroom/second-{i}"'.encode() in second[2]
    finally:
        for sock, _ in conns:
            sock.close()


def test_chunked_request_body(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "Transfer-Encoding": "chunked"}
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:10], BODY[10:]) if part)
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", headers) + body + b"0\r\n\r\n")
        status, _, payload = reader.response()
    assert status == 200 and b"<GetCallerIdentityResult>" in payload


def test_expect_100_continue_is_answered_before_the_body(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
    headers["Expect"] = "100-continue"
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", headers))
        status, _, _ = reader.response(head_only=True)
        assert status == 100
        sock.sendall(BODY)
        status, _, payload = reader.response()
    assert status == 200 and b"<GetCallerIdentityResult>" in payload


def test_head_sends_the_length_but_no_body(server: StrongroomServer) -> None:
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("HEAD", "/_strongroom/health", {"Host": "x"}))
        status, headers, _ = reader.response(head_only=True)
        assert status == 200 and int(headers["content-length"]) > 0
        sock.sendall(_head("GET", "/_strongroom/health", {"Host": "x"}))
        status, headers, body = reader.response()  # nothing of the HEAD body in between
        assert status == 200 and body.startswith(b"{")


@pytest.mark.parametrize(
    "request_bytes",
    [
        _head("GET", "/_strongroom/health", {"Host": "x", "Connection": "close"}),
        _head("GET", "/_strongroom/health", {"Host": "x"}, version="1.0"),
    ],
    ids=["connection-close", "http-1.0"],
)
def test_connection_close_is_honoured(server: StrongroomServer, request_bytes: bytes) -> None:
    sock, reader = _connect(server)
    with sock:
        sock.sendall(request_bytes)
        status, headers, _ = reader.response()
        assert status == 200 and headers.get("connection") == "close"
        assert reader.closed()


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"\x00\xff\r\n\r\n",
    ],
)
def test_malformed_requests_get_400_and_a_closed_connection(
    server: StrongroomServer, garbage: bytes
) -> None:
    sock, reader = _connect(server)
    with sock:
        sock.sendall(garbage)
        status, _, body = reader.response()
        assert status == 400 and body == b"Invalid HTTP request."
        assert reader.closed()
    sock, reader = _connect(server)  # the server itself is fine
    with sock:
        sock.sendall(_caller_identity(server))
        assert reader.response()[0] == 200


def test_a_client_that_vanishes_mid_request_harms_nothing(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head("POST", "/", headers) + BODY[:5])
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_caller_identity(server))
        assert reader.response()[0] == 200


def test_repeated_headers_are_joined_with_commas(server: StrongroomServer) -> None:
    import json
    import time
    import uuid

    marker = uuid.uuid4().hex[:8]
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
    head = _head("POST", "/", headers).replace(
        b"\r\n\r\n", f"\r\nUser-Agent: one-{marker}\r\nuser-agent: two\r\n\r\n".encode()
    )
    sock, reader = _connect(server)
    with sock:
        sock.sendall(head + BODY)
        assert reader.response()[0] == 200
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    agents: list[str] = []
    while time.time() < deadline and f"one-{marker},two" not in agents:
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
        )["Events"]
        agents = [json.loads(e["CloudTrailEvent"])["userAgent"] for e in events]
        time.sleep(0.1)
    assert f"one-{marker},two" in agents
