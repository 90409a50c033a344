"""strongroom's HTTP/1.1 protocol: httptools straight into `App.handle`.

uvicorn still runs the process (sockets, workers, signals, lifespan, graceful
shutdown); this class replaces only its per-connection protocol. Going
through ASGI cost about 70 µs a request (scope dict, receive/send coroutines,
header re-encoding) for nothing: every operation runs synchronously on the
event loop.

Requests are answered in batches (`ResponseBatch`): the requests completed
in one pass of the event loop, over all connections, are answered one after
another, and only then are their responses written, one `transport.write`
each. Answering each request as it arrives alternated our Python with the
kernel's network stack (the read, the write and its loopback delivery)
request by request, and each evicted the other from the core's caches: the
same pipeline took about 1.6 times as long inside the server as in a loop.
Batched, KMS Decrypt on one core went from 4400-5800 to 5700-8800 req/s
in interleaved runs. A request waits at most for the others that arrived with it.

What it does, as uvicorn's own protocol does:

* keep-alive (HTTP/1.1 default, HTTP/1.0 on request) with an idle timeout;
  pipelined requests are answered in order;
* `Transfer-Encoding: chunked` request bodies (httptools de-chunks them);
* `Expect: 100-continue` answered before the body is read;
* flow control: a client that stops reading stops being read from;
* malformed requests get a 400 and the connection is closed;
* graceful shutdown: idle connections close at once, busy ones after their
  response.

Bounded requests (the limits and why they are what they are are in
`server/limits.py`; the values are in docs/architecture.md):

* a header block over the size or count limit is refused with 431, a
  request target over its limit with 414, while it is still arriving: what
  httptools holds of an unfinished header block is bounded too;
* at headers-complete, the body's limit is looked up (the operation's bound
  by `X-Amz-Target`, the global cap, or the unsigned limit for a request
  without any signature) and a Content-Length over it is refused with 413
  before a byte of the body is read (and before `100 Continue`); a chunked
  body is counted as it arrives and cut at the same limit;
* the body bytes all connections buffer are counted, and a request that
  would take them over `max_buffered` while others hold some gets 503;
* slowloris: a header block not complete within `request_timeout`, or a
  body with no byte for `body_timeout` seconds (or, after that long, slower
  than `MIN_BODY_RATE` on average), is answered 408 and closed;
* a refused request's answer is written, our side of the connection shut,
  and what the client still sends read and dropped for `LINGER` seconds: a
  close with unread data would send a reset, and the client would never
  read why it was refused.

One timer per connection (`_check`) enforces the keep-alive idle timeout and
both request timeouts: it reads timestamps the callbacks leave
(`_last_active`, `_began_at`, `_body_at`) when it fires, so the hot path arms
no timer per request.

Blocking operations (`Operation.blocking`: starting an engine, copying a
snapshot, invoking a function) are answered off the loop: while any is
served, the batch lets `App.handle` hand a request back as `Deferred` (it
routes each request once either way), and one that goes off the loop runs
in a thread of `App.pool` while the rest of the batch is
answered at once. Its connection stops reading and holds the requests
pipelined behind it (`_held`): they run, in order, once its response is
written, so responses keep their order and a request never runs before the
one sent ahead of it on its connection. Other connections never wait for it.
While no operation is blocking, the batch costs one flag check more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools

from strongroom.protocol import cbor
from strongroom.protocol.http import BodyStream, Request, Response
from strongroom.protocol.values import xml_escape
from strongroom.server.app import Deferred
from strongroom.server.limits import (
    LINGER,
    MAX_HEAD_RAW,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_URL,
    MIN_BODY_RATE,
    RequestLimits,
)
from strongroom.server.spool import SMALL_STREAMED_BODY, SpooledBody, spool_dir

log = logging.getLogger("strongroom.http")

_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")
    return line


_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 21\r\n\r\nInvalid HTTP request."
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_INTERNAL = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 21\r\n\r\nInternal Server Error"
)


def _plain(status: int, text: str) -> bytes:
    """A complete plain-text answer that closes the connection."""
    body = text.encode()
    return (
        _status_line(status) + b"content-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )


_URI_TOO_LONG = _plain(414, "Request-URI Too Long")
_HEADERS_TOO_LARGE = _plain(431, "Request Header Fields Too Large")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused by a limit once its headers are known: answered in
    its protocol's error format, so SDKs raise an ordinary service error."""

    status: int
    message: str
    json_code: str
    xml_code: str

    def wire(self, headers: dict[str, str], message: str | None = None) -> bytes:
        """The answer to a request with `headers` (plain text when none)."""
        text = message or self.message
        if not headers:
            return _plain(self.status, text)
        request_id = str(uuid.uuid4())
        if "x-amz-target" in headers or "json" in headers.get("content-type", ""):
            ctype = "application/x-amz-json-1.1"
            body = json.dumps({"__type": self.json_code, "message": text}).encode()
        elif "smithy-protocol" in headers:
            ctype = "application/cbor"
            body = cbor.encode({"__type": self.json_code, "message": text})
        else:
            ctype = "text/xml"
            kind = "Sender" if self.status < 500 else "Receiver"
            body = (
                f"<ErrorResponse><Error><Type>{kind}</Type><Code>{self.xml_code}</Code>"
                f"<Message>{xml_escape(text)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
        return (
            _status_line(self.status) + b"content-type: %s\r\nx-amzn-requestid: %s\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
            % (ctype.encode(), request_id.encode(), len(body), body)
        )


_TIMEOUT = Refusal(
    408,
    "Your socket connection to the server was not read from or written to "
    "within the timeout period.",
    "RequestTimeoutException",
    "RequestTimeout",
)
_TOO_LARGE = Refusal(
    413, "Request Entity Too Large", "RequestEntityTooLargeException", "RequestEntityTooLarge"
)
_SLOW_DOWN = Refusal(
    503,
    "Too many large request bodies in flight; reduce your request rate.",
    "ThrottlingException",
    "Throttling",
)


class Refused(Exception):
    """Raised inside a parser callback: answer `raw`, stop parsing, close."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(raw[:40])
        self.raw = raw


def find_app(asgi_app: Any) -> Any:
    """The strongroom App under any middleware uvicorn wrapped around it."""
    from strongroom.server.app import App

    seen = 0
    while not isinstance(asgi_app, App):
        asgi_app = getattr(asgi_app, "app", None)
        seen += 1
        if asgi_app is None or seen > 8:
            raise RuntimeError("StrongroomHttp serves strongroom's App only")
    return asgi_app


def encode_response(resp: Response, keep_alive: bool, head: bool, date: bytes) -> bytes:
    """The response as bytes on the wire: status line, headers, body."""
    parts = [_status_line(resp.status), date]
    has_length = False
    for name, value in resp.headers:
        if "\n" in value or "\r" in value:  # never let a value split the header block
            value = value.replace("\r", " ").replace("\n", " ")
        if name == "content-length":
            has_length = True
        parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    if not has_length:
        # AWS always sends Content-Length; clients rely on it.
        parts.append(b"content-length: %d\r\n" % len(resp.body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(resp.body)
    return b"".join(parts)


class StrongroomHttp(asyncio.Protocol):
    """One client connection. Constructed by uvicorn with its own arguments."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any] | None = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.app = find_app(config.loaded_app)
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.connections: set[Any] = server_state.connections
        self.idle_timeout: float = config.timeout_keep_alive
        self.limits = limits = RequestLimits.of(self.app)
        #: The longest the timer sleeps while the connection is idle: a
        #: request that starts meanwhile is checked within one tick.
        self._tick = min(self.idle_timeout, limits.header_timeout, limits.body_timeout)
        self.parser = httptools.HttpRequestParser(self)
        self.batch = ResponseBatch.of(self.app, self.loop)
        self.transport: asyncio.Transport | None = None
        self.client_ip = "127.0.0.1"
        self.secure = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._parsing = False  # a request's bytes are arriving
        self._in_head = False  # ... and its header block is not complete
        self._queued = 0  # requests parsed, waiting for their batch
        self._closing = False
        self._read_paused = False
        self._write_paused = False
        self._last_active = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._messages = 0  # requests begun on this connection
        self._began_at = 0.0  # when the current request's first bytes came
        self._body_at = 0.0  # when its header block was complete
        self._chunk = 0  # bytes of the read being parsed
        self._first_chunk = 0  # ... of the read in which the request began
        self._head_raw = 0  # bytes of later reads that were all header block
        self._body_limit = 0
        self._body_len = 0
        self._reserved = 0  # its share of `limits.buffered`
        self._refusal: bytes | None = None  # to answer once earlier ones are sent
        self._lingering = False  # refused: reading and dropping until close
        #: Not None while a request of this connection is answered off the
        #: loop: the requests that came after it, waiting their turn.
        self._held: deque[tuple[Request, str, bool]] | None = None
        #: The body of a streaming operation's request, spooled as it arrives.
        self._spool: SpooledBody | None = None
        #: A response body being written as the client reads it, and the
        #: responses answered meanwhile that must wait for it.
        self._stream: tuple[Any, bool] | None = None
        self._backlog: deque[tuple[Response | None, str, bool]] = deque()

    # -- connection -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple | list) and peer:
            self.client_ip = str(peer[0])
        self.secure = transport.get_extra_info("sslcontext") is not None
        self._last_active = self.loop.time()
        self._arm(self._tick)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self._release()
        self._drop_spool()
        if self._stream is not None:
            _close(self._stream[0])
            self._stream = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # a refused request's rest: dropped unread
        self._last_active = self.loop.time()
        self._chunk = len(data)
        in_head, begun = self._in_head, self._messages
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as err:
            cause = err.__context__
            if isinstance(cause, Refused):
                self._refuse(cause.raw)
            else:  # a bug in a callback: the client gets a 400, the log the cause
                log.error("HTTP parser callback failed", exc_info=cause)
                self._refuse(_BAD_REQUEST)
            return
        except httptools.HttpParserUpgrade:
            self._fail(_BAD_REQUEST)
            return
        except httptools.HttpParserError:
            self._fail(_BAD_REQUEST)
            return
        if self._in_head and in_head and begun == self._messages:
            # All of `data` belongs to one unfinished header block, which
            # httptools holds until it is complete: bound it here (the part
            # in the chunk that began the request is at most one read).
            self._head_raw += len(data)
            if self._head_raw > MAX_HEAD_RAW:
                self._refuse(_HEADERS_TOO_LARGE)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: finish the request under way, then close.

        A request whose headers are still arriving, or that was refused, is
        not under way: its connection closes at once too.
        """
        self._closing = True
        if self.transport is None:
            return
        if not self._queued and (self._lingering or self._in_head or not self._parsing):
            self.transport.close()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._stream is not None:
            self._pump()
        self._update_reading()

    def _update_reading(self) -> None:
        """Read while the client reads our responses and no request of this
        connection is off the loop (what it pipelines meanwhile stays in the
        socket, not in memory)."""
        transport = self.transport
        if transport is None or self._lingering or transport.is_closing():
            return
        pause = self._write_paused or self._held is not None or self._stream is not None
        if pause and not self._read_paused:
            self._read_paused = True
            transport.pause_reading()
        elif not pause and self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def _fail(self, raw: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(raw)
            self.transport.close()

    def _refuse(self, raw: bytes) -> None:
        """Answer `raw` to the request being read and end the connection.

        Requests before it that wait for their batch are answered first. Our
        side is then shut and the rest the client sends is dropped for
        `LINGER` seconds, so the client reads the answer and not a reset.
        """
        self._release()
        self._drop_spool()
        self._parsing = self._in_head = False
        transport = self.transport
        if transport is None or transport.is_closing() or self._lingering:
            return
        self._lingering = True  # nothing more is parsed
        if self._queued:
            self._refusal = raw  # `send` answers it after the queued ones
            return
        transport.write(raw)
        try:
            transport.write_eof()
        except (NotImplementedError, AttributeError, RuntimeError):  # TLS
            transport.close()
            return
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        self.loop.call_later(LINGER, transport.close)

    # -- the buffered-bytes budget ------------------------------------------

    def _reserve(self, size: int) -> None:
        """Count `size` more body bytes against the process's budget."""
        limits = self.limits
        limits.buffered += size
        self._reserved += size
        if limits.buffered > limits.max_buffered and limits.buffered > self._reserved:
            raise Refused(_SLOW_DOWN.wire(self._headers))

    def _release(self) -> None:
        if self._reserved:
            self.limits.buffered -= self._reserved
            self._reserved = 0

    def _drop_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    # -- timeouts -------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        self._timer = self.loop.call_later(max(delay, 0.05), self._check)

    def _check(self) -> None:
        """The keep-alive and request timeouts; re-arms itself.

        One timer per connection, not one per request: activity only moves
        timestamps, which the timer reads when it fires.
        """
        self._timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self._lingering:
            return
        now = self.loop.time()
        limits = self.limits
        if self._queued or self._read_paused:
            delay = self._tick  # being answered, or the client is not reading
        elif self._in_head:
            delay = self._began_at + limits.header_timeout - now
            if delay <= 0:
                self._refuse(_TIMEOUT.wire(self._headers))
                return
        elif self._parsing:
            stalled = now - self._last_active
            elapsed = now - self._body_at
            if stalled >= limits.body_timeout or (
                elapsed > limits.body_timeout and self._body_len < MIN_BODY_RATE * elapsed
            ):
                self._refuse(_TIMEOUT.wire(self._headers))
                return
            delay = min(limits.body_timeout - stalled, self._tick)
        else:
            idle = now - self._last_active
            if idle >= self.idle_timeout:
                transport.close()
                return
            delay = min(self.idle_timeout - idle, self._tick)
        self._arm(delay)

    # -- httptools callbacks ------------------------------------------------

    def on_message_begin(self) -> None:
        self._parsing = self._in_head = True
        self._messages += 1
        self._began_at = self._last_active
        self._first_chunk = self._chunk
        self._head_raw = 0
        self._url = b""
        self._raw_headers = []
        self._headers = {}
        self._body = []
        self._drop_spool()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL:
            raise Refused(_URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._body_at = self._last_active
        raw = self._raw_headers
        if len(raw) > MAX_HEADERS or (
            # The reads this header block came in bound its size: most
            # requests arrive in one read smaller than the limit.
            self._first_chunk + self._head_raw + self._chunk > MAX_HEADER_BYTES
            and sum(len(name) + len(value) for name, value in raw) > MAX_HEADER_BYTES
        ):
            raise Refused(_HEADERS_TOO_LARGE)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
        if len(headers) != len(raw):  # a repeated header: values joined with ','
            headers = {}
            for name, value in raw:
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                headers[key] = f"{headers[key]},{text}" if key in headers else text
        self._headers = headers
        self._body_limit, streaming = self.limits.body_plan(
            headers, self._url, self.parser.get_method().decode("ascii")
        )
        self._body_len = 0
        length = headers.get("content-length")
        if streaming:
            if length is not None and length.isdigit() and int(length) <= SMALL_STREAMED_BODY:
                # Small: buffered like any body (and counted so), no file.
                streaming = False
            else:
                # Spooled to disk as it arrives (`server.spool`): never buffered.
                self._spool = SpooledBody(spool_dir(self.app.config.data_dir))
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise Refused(_BAD_REQUEST) from None
            if size > self._body_limit:
                raise Refused(self._too_large(size))
            if size and not streaming:
                limits = self.limits
                limits.buffered += size
                self._reserved = size
                if limits.buffered > limits.max_buffered and limits.buffered > size:
                    raise Refused(_SLOW_DOWN.wire(headers))
        expect = headers.get("expect")
        if expect is not None and expect.lower() == "100-continue" and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        spool = self._spool
        if spool is not None:
            size = self._body_len = self._body_len + len(body)
            if size > self._body_limit:
                raise Refused(self._too_large(None))
            spool.write(body)
            return
        self._body.append(body)
        size = self._body_len = self._body_len + len(body)
        if size > self._reserved:  # a chunked body: counted as it arrives
            if size > self._body_limit:
                raise Refused(self._too_large(None))
            self._reserve(size - self._reserved)

    def _too_large(self, size: int | None) -> bytes:
        sent = "" if size is None else f" of {size} bytes"
        message = f"Request body{sent} exceeds the limit of {self._body_limit} bytes"
        return _TOO_LARGE.wire(self._headers, message)

    def on_message_complete(self) -> None:
        self._parsing = False
        if self._reserved:
            self.limits.buffered -= self._reserved
            self._reserved = 0
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        parser = self.parser
        method = parser.get_method().decode("ascii")
        self._queued += 1
        self.batch.add(self, self._request(method), method, parser.should_keep_alive())

    def answer(self, req: Request, method: str, pre: Any = None, may_defer: bool = False) -> Any:
        """The App's response to `req` (or, with `may_defer`, its `Deferred`
        hand-back); None after a failure it could not answer."""
        try:
            resp = self.app.handle(req, pre, may_defer)
        except Exception:  # the pipeline answers errors itself; this is a bug
            log.exception("internal failure answering %s %s", method, req.path)
            resp = None
        if isinstance(req.body, BodyStream) and not isinstance(resp, Deferred):
            req.body.close()
        return resp

    # -- off the loop ---------------------------------------------------------

    def offload(self, req: Request, method: str, keep_alive: bool, pre: Any) -> None:
        """Answer `req` in the App's pool; what this connection sends after
        it waits in `_held` until its response is written (`_offloaded`)."""
        if self._held is None:
            self._held = deque()
            self._update_reading()
        try:
            future = self.app.submit(self.loop, pre, self._answer_off_loop, req, method, pre)
        except RuntimeError:  # the pool is shut down (the server is stopping)
            future = self.loop.create_future()
            future.set_result(self.answer(req, method, pre))
        future.add_done_callback(lambda done: self._offloaded(done, method, keep_alive))

    def _answer_off_loop(self, req: Request, method: str, pre: Any) -> Response | None:
        """In a pool thread: `answer`, with the thread's own store connection."""
        try:
            return self.app.answer_off_loop(req, pre)
        except Exception:
            log.exception("internal failure answering %s %s", method, req.path)
            return None
        finally:
            if isinstance(req.body, BodyStream):
                req.body.close()

    def _offloaded(self, future: asyncio.Future[Any], method: str, keep_alive: bool) -> None:
        """On the loop: write the response answered off the loop, then run
        the requests held behind it, in order, until one goes off the loop
        again or none is left."""
        try:
            resp = future.result()
        except BaseException:  # cancelled with the loop; never leave the client hanging
            log.exception("a request answered off the loop was lost")
            resp = None
        self._send_safely(resp, method, keep_alive)
        held = self._held
        app = self.app
        while held:
            req, method, keep_alive = held.popleft()
            resp = self.answer(req, method, None, True)
            if isinstance(resp, Deferred):
                self.offload(req, method, keep_alive, resp.pre)
                return
            self._send_safely(resp, method, keep_alive)
        self._held = None
        self._update_reading()
        app.after_response()

    def _send_safely(self, resp: Response | None, method: str, keep_alive: bool) -> None:
        try:
            self.send(resp, method, keep_alive)
        except Exception:  # as in ResponseBatch.answer
            log.exception("failed writing a response")
            self._fail(_INTERNAL)

    def send(self, resp: Response | None, method: str, keep_alive: bool) -> None:
        """Write one answered request's response, in the order requests arrived."""
        if self._stream is not None:  # after the body being streamed
            self._backlog.append((resp, method, keep_alive))
            return
        self._queued -= 1
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client left; the request was still carried out
        if resp is None:
            self._fail(_INTERNAL)
            return
        keep_alive = keep_alive and not self._closing
        body = resp.body
        streamed = not isinstance(body, bytes)
        try:
            if streamed:  # the head now, the body as the client reads it
                head = Response(resp.status, b"", resp.headers)
                wire = encode_response(head, keep_alive, True, self._date())
            else:
                wire = encode_response(resp, keep_alive, method == "HEAD", self._date())
        except Exception:
            log.exception("internal failure encoding the response to %s", method)
            self._fail(_INTERNAL)
            return
        self.server_state.total_requests += 1
        transport.write(wire)
        if streamed:
            if method == "HEAD":
                _close(body)
            else:
                self._stream = (iter(body), keep_alive)
                self._update_reading()
                self._pump()
                return
        self._sent(keep_alive)

    def _sent(self, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        if not keep_alive:
            transport.close()
        elif self._refusal is not None and not self._queued:
            raw, self._refusal = self._refusal, None
            self._lingering = False
            self._refuse(raw)

    def _pump(self) -> None:
        """Write the streamed body while the client reads; then what waited."""
        assert self._stream is not None
        chunks, keep_alive = self._stream
        transport = self.transport
        try:
            while not self._write_paused:
                if transport is None or transport.is_closing():
                    _close(chunks)
                    self._stream = None
                    return
                chunk = next(chunks, None)
                if chunk is None:
                    break
                transport.write(chunk)
            else:
                return  # resume_writing carries on
        except Exception:
            log.exception("failed streaming a response body")
            self._stream = None
            _close(chunks)
            if transport is not None:
                transport.close()  # the client sees a short body, never a wrong one
            return
        self._stream = None
        self._update_reading()
        self._sent(keep_alive)
        backlog = self._backlog
        while backlog and self._stream is None:
            self.send(*backlog.popleft())

    def _request(self, method: str) -> Request:
        url = self._url
        if not url.startswith(b"/"):  # absolute-form (through a proxy) or '*'
            try:
                parsed = httptools.parse_url(url)
                path, query = parsed.path or b"/", parsed.query or b""
            except httptools.HttpParserInvalidURLError:
                path, query = url, b""
        else:
            path, _, query = url.partition(b"?")
        body = self._body
        spool, self._spool = self._spool, None
        return Request(
            method,
            path.decode("latin-1"),
            query.decode("latin-1"),
            self._headers,
            spool.finish() if spool is not None else body[0] if len(body) == 1 else b"".join(body),
            client_ip=self.client_ip,
            secure=self.secure,
        )

    def _date(self) -> bytes:
        # uvicorn refreshes its default headers (the Date header) once a second.
        headers = self.server_state.default_headers
        if not headers:
            return b""
        global _date_cache
        if _date_cache[0] is not headers:
            _date_cache = (headers, b"".join(b"%s: %s\r\n" % (k, v) for k, v in headers))
        return _date_cache[1]


class ResponseBatch:
    """The requests completed in one pass of the event loop, answered together.

    The first request added schedules `answer` with `call_soon`: it runs once
    the loop has delivered everything the current poll found readable. All
    requests are then answered, in arrival order, before any response is
    written (see the module doc for why).
    """

    _of: weakref.WeakKeyDictionary[Any, ResponseBatch] = weakref.WeakKeyDictionary()

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.waiting: list[tuple[StrongroomHttp, Request, str, bool]] = []

    @classmethod
    def of(cls, app: Any, loop: asyncio.AbstractEventLoop) -> ResponseBatch:
        """The batch of `app` on `loop` (one per process in practice)."""
        batch = cls._of.get(app)
        if batch is None or batch.loop is not loop:
            batch = cls._of[app] = cls(app, loop)
        return batch

    def add(self, conn: StrongroomHttp, req: Request, method: str, keep_alive: bool) -> None:
        waiting = self.waiting
        waiting.append((conn, req, method, keep_alive))
        if len(waiting) == 1:
            self.loop.call_soon(self.answer)

    def answer(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not self.app.blocking:  # nothing is ever answered off the loop
            answered = [
                (conn, conn.answer(req, method), method, keep_alive)
                for conn, req, method, keep_alive in waiting
            ]
        else:
            answered = self._sort(waiting)
        for conn, resp, method, keep_alive in answered:
            try:
                conn.send(resp, method, keep_alive)
            except Exception:  # one broken connection must not strand the others
                log.exception("failed writing a response")
                conn._fail(_INTERNAL)
        self.app.after_response()

    def _sort(
        self, waiting: list[tuple[StrongroomHttp, Request, str, bool]]
    ) -> list[tuple[StrongroomHttp, Response | None, str, bool]]:
        """Answer what runs on the loop, hand what does not to the pool, and
        hold what arrived behind a request of its connection off the loop."""
        answered = []
        for conn, req, method, keep_alive in waiting:
            held = conn._held
            if held is not None:
                held.append((req, method, keep_alive))
                continue
            resp = conn.answer(req, method, None, True)
            if type(resp) is Deferred:
                conn.offload(req, method, keep_alive, resp.pre)
            else:
                answered.append((conn, resp, method, keep_alive))
        return answered


def _close(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


#: uvicorn's latest default-headers list and its encoding.
_date_cache: tuple[Any, bytes] = (None, b"")
