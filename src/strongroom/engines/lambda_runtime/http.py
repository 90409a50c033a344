"""A minimal HTTP/1.1 server protocol for the Lambda Runtime API.

One asyncio protocol per connection from a runtime; requests are parsed from
the byte stream (Content-Length or chunked bodies, ``Expect: 100-continue``),
handed to the environment, and answered on the same keep-alive connection.
awslambdaric's C++ client keeps one connection open and long-polls
``/invocation/next`` on it, so the hot path is one parse and one write per
request, with no thread and no allocation beyond the bytes themselves.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Protocol

REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}
MAX_HEAD = 64 * 1024
log = logging.getLogger(__name__)


class Handler(Protocol):
    def handle(
        self, conn: Connection, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> None: ...

    def body_limit(self) -> int: ...

    def connection_lost(self, conn: Connection) -> None: ...


class Connection(asyncio.Protocol):
    __slots__ = ("_buf", "_continued", "closed", "handler", "transport")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._continued = False
        self.closed = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # asyncio's or uvloop's
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.handler.connection_lost(self)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while buf and not self.closed:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.respond(400, b'{"errorMessage":"request head too large"}', close=True)
                return
            try:
                head = bytes(buf[:end]).decode("latin-1")
                request_line, *lines = head.split("\r\n")
                method, target, _version = request_line.split(" ", 2)
            except ValueError:
                self.respond(400, b'{"errorMessage":"malformed request"}', close=True)
                return
            headers: dict[str, str] = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            start = end + 4
            if "chunked" in headers.get("transfer-encoding", "").lower():
                parsed = _dechunk(buf, start)
                if parsed is None:
                    self._maybe_continue(headers)
                    return
                body, consumed = parsed
            else:
                try:
                    length = int(headers.get("content-length") or 0)
                except ValueError:
                    self.respond(400, b'{"errorMessage":"bad Content-Length"}', close=True)
                    return
                if length > self.handler.body_limit():
                    # Too large to take: answer now, the way the platform does.
                    self.handler.handle(self, method, target.split("?", 1)[0], headers, b"")
                    self.respond(
                        413,
                        b'{"errorMessage":"Exceeded maximum allowed payload size",'
                        b'"errorType":"RequestEntityTooLarge"}',
                        close=True,
                    )
                    return
                if len(buf) - start < length:
                    self._maybe_continue(headers)
                    return
                body = bytes(buf[start : start + length])
                consumed = start + length
            del buf[:consumed]
            self._continued = False
            try:
                self.handler.handle(self, method, target.split("?", 1)[0], headers, body)
            except Exception:
                log.exception("Runtime API request %s %s failed", method, target)
                self.respond(
                    500,
                    b'{"errorMessage":"internal error","errorType":"ServiceException"}',
                    close=True,
                )

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        if not self._continued and headers.get("expect", "").lower() == "100-continue":
            self._continued = True
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # answers

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        transport = self.transport
        if transport is None:
            return
        parts = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ]
        if headers:
            parts.extend(f"{name}: {value}\r\n" for name, value in headers)
        if close:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        transport.write("".join(parts).encode("utf-8") + body)  # values may be UTF-8 JSON
        if close:
            self.closed = True
            transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """The body of a complete chunked message from ``start``, and where it ends;
    None while incomplete."""
    out = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:
            # Trailers (if any) end with an empty line.
            end = buf.find(b"\r\n", pos)
            while end >= 0 and end != pos:
                pos = end + 2
                end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            return bytes(out), end + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2
