"""Bounded requests on the wire, over raw sockets: header and URL limits, body
limits refused before the body is read, unsigned bodies, chunked bodies cut
at the limit, slowloris (headers trickled, bodies stalled) and the memory a
server holds under many concurrent large bodies."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from strongroom.server.config import MAX_BODY, MAX_BUFFERED, MAX_UNSIGNED_BODY
from strongroom.server.limits import MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL
from strongroom.testing import StrongroomServer

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
#: The test server's request and body timeouts (seconds).
TIMEOUT = 1.0
#: A forged but well-formed Authorization header: the limits only look at
#: whether a request claims a signature (the pipeline verifies it later).
FORGED_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/kms/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    args = ["--request-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT)]
    with StrongroomServer(extra_args=args) as srv:
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


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _caller_identity(server: StrongroomServer) -> bytes:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
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

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "connection closed before a response"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
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


def _refused(server: StrongroomServer, data: bytes, status: int, check_after: bool = True) -> None:
    """`data` is answered `status` and the connection closed; the server is fine."""
    sock, reader = _connect(server)
    with sock:
        sock.sendall(data)
        got, headers, _ = reader.response()
        assert got == status
        assert headers.get("connection") == "close"
        assert reader.closed()
    if check_after:
        _still_serves(server)


def _still_serves(server: StrongroomServer) -> None:
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_caller_identity(server))
        status, _, body = reader.response()
    assert status == 200 and b"<GetCallerIdentityResult>" in body


# -- headers and the request target ------------------------------------------


def test_a_header_block_over_the_limit_gets_431(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "X-Big": "a" * MAX_HEADER_BYTES}
    _refused(server, _head("POST", "/", headers), 431)


def test_too_many_headers_get_431(server: StrongroomServer) -> None:
    headers = {"Host": "x", **{f"X-H{i}": "1" for i in range(MAX_HEADERS + 1)}}
    _refused(server, _head("GET", "/_strongroom/health", headers), 431)


def test_a_header_block_that_never_ends_is_cut_while_arriving(
    server: StrongroomServer,
) -> None:
    """httptools holds an unfinished header until it is complete: the server
    must stop it growing without waiting for its end."""
    sock, reader = _connect(server)
    with sock:
        sock.sendall(b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        while sent < 64 * 1024 * 1024 and not _answered(sock):
            sock.sendall(b"a" * 4096)
            sent += 4096
        # The server reads (one read may carry far more than the limit) and
        # answers; kernel buffers hold the rest of what was sent meanwhile.
        assert reader.response()[0] == 431
        assert sent < 16 * 1024 * 1024
    _still_serves(server)


def _answered(sock: socket.socket) -> bool:
    """Whether the server has answered (or closed), without waiting."""
    return bool(select.select([sock], [], [], 0)[0])


def test_a_huge_request_target_gets_414(server: StrongroomServer) -> None:
    path = "/_strongroom/health?" + "a" * MAX_URL
    _refused(server, _head("GET", path, {"Host": "x"}), 414)


def test_long_headers_within_the_limits_are_served(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
    headers["User-Agent"] = "u" * (MAX_HEADER_BYTES // 2)
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", headers) + BODY)
        assert reader.response()[0] == 200


# -- bodies -------------------------------------------------------------------


def test_a_content_length_over_the_cap_is_refused_before_the_body(
    server: StrongroomServer,
) -> None:
    """The server answers 413 from the headers alone: nothing of the body is sent."""
    headers = {**_signed_headers(server), "Content-Length": str(10 * 1024**3)}
    _refused(server, _head("POST", "/", headers), 413)


def test_expect_100_continue_over_the_cap_gets_413_and_no_continue(
    server: StrongroomServer,
) -> None:
    headers = {**_signed_headers(server), "Content-Length": str(MAX_BODY + 1)}
    headers["Expect"] = "100-continue"
    _refused(server, _head("POST", "/", headers), 413)


def test_an_operation_bound_below_the_cap_is_enforced(server: StrongroomServer) -> None:
    """DescribeKey's input is bounded by its model (well under 1 MiB); Encrypt's
    is not (its encryption context map has no modelled size) and gets the cap."""
    headers = {
        "Host": "x",
        "Authorization": FORGED_AUTH,
        "X-Amz-Target": "TrentService.DescribeKey",
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(1024 * 1024),
    }
    _refused(server, _head("POST", "/", headers), 413)
    headers["X-Amz-Target"] = "TrentService.Encrypt"
    headers["Expect"] = "100-continue"
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", headers))
        assert reader.response()[0] == 100  # accepted: the body may come


def test_an_unsigned_body_over_its_limit_is_refused_before_it_is_read(
    server: StrongroomServer,
) -> None:
    headers = {
        "Host": "x",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(MAX_UNSIGNED_BODY + 1),
    }
    _refused(server, _head("POST", "/", headers), 413)
    # The same size with a signature claimed is read (and then judged).
    headers["Authorization"] = FORGED_AUTH
    headers["Expect"] = "100-continue"
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", headers))
        assert reader.response()[0] == 100


def test_a_refused_body_sent_whole_still_gets_its_answer(server: StrongroomServer) -> None:
    """The client sends everything before reading: the server drops the rest
    instead of resetting the connection, so the 413 reaches the client."""
    body = b"x" * (4 * MAX_UNSIGNED_BODY)
    headers = {"Host": "x", "Content-Length": str(len(body))}
    _refused(server, _head("POST", "/", headers) + body, 413)


def test_an_unsigned_presigned_looking_url_counts_as_signed(server: StrongroomServer) -> None:
    headers = {"Host": "x", "Content-Length": str(MAX_UNSIGNED_BODY + 1), "Expect": "100-continue"}
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/?X-Amz-Signature=00&X-Amz-Credential=a", headers))
        assert reader.response()[0] == 100


def _chunked(server: StrongroomServer, headers: dict[str, str], total: int) -> int:
    """Send a chunked body of `total` bytes; the status the server answers."""
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_head("POST", "/", {**headers, "Transfer-Encoding": "chunked"}))
        piece = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
        try:
            for _ in range(total // 65536):
                sock.sendall(piece)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: its answer is waiting
        status, _, _ = reader.response()
        assert reader.closed()
        return status


def test_a_chunked_body_over_the_cap_is_cut(server: StrongroomServer) -> None:
    assert _chunked(server, _signed_headers(server), MAX_BODY + 4 * 65536) == 413
    _still_serves(server)


def test_an_unsigned_chunked_body_is_cut_at_the_unsigned_limit(
    server: StrongroomServer,
) -> None:
    assert _chunked(server, {"Host": "x"}, 4 * MAX_UNSIGNED_BODY) == 413


def test_bodies_beyond_the_buffered_budget_are_told_to_slow_down(
    server: StrongroomServer,
) -> None:
    """A worker holds at most MAX_BUFFERED body bytes at once (counted from
    each Content-Length when its headers arrive): the request that would go
    beyond it gets 503, and once the others are gone requests are served."""
    headers = {"Host": "x", "Authorization": FORGED_AUTH, "Content-Length": str(MAX_BODY)}
    holders = [_connect(server) for _ in range(MAX_BUFFERED // MAX_BODY)]
    try:
        for sock, _ in holders:
            sock.sendall(_head("POST", "/", headers) + b"a")
        time.sleep(0.2)
        _refused(server, _head("POST", "/", headers), 503, check_after=False)
    finally:
        for sock, _ in holders:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # the server sees the holders go
        sock, reader = _connect(server)
        with sock:
            sock.sendall(_caller_identity(server))
            status = reader.response()[0]
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200


# -- slowloris ----------------------------------------------------------------


def test_trickled_headers_are_cut_after_the_request_timeout(server: StrongroomServer) -> None:
    sock, reader = _connect(server)
    started = time.monotonic()
    with sock:
        sock.sendall(b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(0.25)
        answered = False
        while time.monotonic() - started < 10 * TIMEOUT:
            try:
                sock.sendall(b"X")  # one byte of a header name at a time
                if sock.recv(65536, socket.MSG_PEEK):
                    answered = True
                    break
            except TimeoutError:
                continue
            except OSError:
                answered = True
                break
        elapsed = time.monotonic() - started
        assert answered, "the trickle was never cut"
        assert 0.9 * TIMEOUT <= elapsed < 4 * TIMEOUT  # the loop clock is in ms
        sock.settimeout(5)
        assert reader.response()[0] == 408
        assert reader.closed()


def test_a_stalled_body_is_cut(server: StrongroomServer) -> None:
    headers = {**_signed_headers(server), "Content-Length": str(len(BODY))}
    sock, reader = _connect(server)
    started = time.monotonic()
    with sock:
        sock.sendall(_head("POST", "/", headers) + BODY[:10])
        status, _, _ = reader.response()
        elapsed = time.monotonic() - started
        assert status == 408
        assert 0.9 * TIMEOUT <= elapsed < 4 * TIMEOUT  # the loop clock is in ms
        assert reader.closed()


def test_a_body_trickled_too_slowly_is_cut(server: StrongroomServer) -> None:
    """A byte every half second never stalls for the timeout, but it is far
    below the minimum rate once the body has taken longer than the timeout."""
    headers = {**_signed_headers(server), "Content-Length": "100000"}
    sock, reader = _connect(server)
    started = time.monotonic()
    with sock:
        sock.sendall(_head("POST", "/", headers))
        sock.settimeout(TIMEOUT / 2)
        while time.monotonic() - started < 10 * TIMEOUT:
            try:
                sock.sendall(b"a")
                if sock.recv(65536, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        assert time.monotonic() - started < 6 * TIMEOUT
        sock.settimeout(5)
        assert reader.response()[0] == 408


def test_a_quiet_keep_alive_connection_is_not_answered_408(server: StrongroomServer) -> None:
    """Between requests a connection is idle, not slow: no 408 after the
    request timeout, just the usual keep-alive close later."""
    sock, reader = _connect(server)
    with sock:
        sock.sendall(_caller_identity(server))
        assert reader.response()[0] == 200
        time.sleep(2.5 * TIMEOUT)
        sock.sendall(_caller_identity(server))
        assert reader.response()[0] == 200


def test_a_trickling_connection_does_not_hold_up_shutdown() -> None:
    with StrongroomServer() as srv:
        sock, _ = _connect(srv)
        with sock:
            sock.sendall(b"GET /_strongroom/health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            time.sleep(0.2)
            started = time.monotonic()
            srv.stop()
            assert time.monotonic() - started < 5


# -- memory under many concurrent large bodies ------------------------------------


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_under_many_large_bodies() -> None:
    """Four unsigned and four signed 50 MB bodies at once, with and without a
    Content-Length: each is refused at its limit and the server's resident
    memory stays bounded (it used to keep about 500 MB)."""
    size = 50 * 1024 * 1024
    with StrongroomServer() as srv:
        assert srv.process is not None
        pid = srv.process.pid
        before = _rss_mb(pid)
        statuses: list[int | None] = []
        peak = [before]

        def send(headers: dict[str, str], chunked: bool) -> None:
            status = None
            try:
                sock, reader = _connect(srv)
                with sock:
                    if chunked:
                        headers = {**headers, "Transfer-Encoding": "chunked"}
                        piece = b"%x\r\n%s\r\n" % (1 << 20, b"a" * (1 << 20))
                    else:
                        headers = {**headers, "Content-Length": str(size)}
                        piece = b"a" * (1 << 20)
                    sock.sendall(_head("POST", "/", headers))
                    try:
                        for _ in range(size >> 20):
                            sock.sendall(piece)
                    except OSError:
                        pass
                    status = reader.response()[0]
            except (OSError, AssertionError):
                status = None  # cut before the answer could be read
            statuses.append(status)

        def watch(stop: threading.Event) -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss_mb(pid))
                time.sleep(0.02)

        signed = _signed_headers(srv)
        unsigned = {"Host": "x", "Content-Type": "application/x-www-form-urlencoded"}
        threads = [
            threading.Thread(target=send, args=(h, chunked))
            for h in (signed, unsigned)
            for chunked in (False, True, False, True)
        ]
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(stop,))
        watcher.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        stop.set()
        watcher.join()
        after = _rss_mb(pid)
        assert len(statuses) == len(threads)
        assert 200 not in statuses and statuses.count(413) >= len(threads) // 2, statuses
        assert peak[0] < max(150, before + 60), (before, peak[0], after)
        assert after < max(150, before + 60), (before, peak[0], after)
        _still_serves(srv)


# -- what SDKs make of a refusal ------------------------------------------------


def test_sdks_read_a_refused_body_as_a_service_error(server: StrongroomServer) -> None:
    """A refusal after the headers is answered in the request's protocol, so
    boto3 raises an ordinary ClientError, not a parse error."""
    kms, iam = server.client("kms"), server.client("iam")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    big = "b" * (MAX_BODY + 1)
    with pytest.raises(ClientError) as err:
        kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"a": big})
    assert err.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"exceeds the limit of {MAX_BODY} bytes" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        iam.create_policy(PolicyName="p", PolicyDocument="{}", Description=big)
    assert err.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Within the cap, the same calls reach the operations.
    context = {"a": "b" * 1024 * 1024}
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=context)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"x"
