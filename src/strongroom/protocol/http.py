"""The HTTP request and response as the protocol layer sees them.

The server builds a `Request` from the ASGI scope once; codecs, the router and
the SigV4 verifier read it and never touch ASGI themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


class BodyStream:
    """A request body the HTTP layer did not hold in memory (an operation
    declared `streaming`: S3's PutObject and UploadPart): spooled as it
    arrived, read back in chunks. `len()` is its size in bytes."""

    size: int = 0

    def __len__(self) -> int:
        return self.size

    def chunks(self) -> Iterator[bytes]:
        """The body from its first byte, in chunks of at most about 1 MiB."""
        raise NotImplementedError

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def sha256_hex(self) -> str:
        """The SHA-256 of the body (computed as it arrived)."""
        raise NotImplementedError

    def new_like(self) -> BodyStreamWriter:
        """An empty body of the same kind, to write a transformed copy into
        (an aws-chunked body decoded)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class BodyStreamWriter(BodyStream):
    def write(self, data: bytes | memoryview) -> None:
        raise NotImplementedError

    def finish(self) -> BodyStream:
        raise NotImplementedError


@dataclass(slots=True)
class Request:
    method: str
    #: Raw path exactly as sent on the wire (still percent-encoded).
    path: str
    #: Raw query string without the leading '?', still percent-encoded.
    query: str
    #: Header names lower-cased; repeated headers joined with ','.
    headers: dict[str, str]
    #: The body, or a `BodyStream` for an operation that streams.
    body: bytes | BodyStream
    client_ip: str = "127.0.0.1"
    secure: bool = False
    #: Filled by the router for REST protocols: the bucket taken from a
    #: virtual-host name, so codecs can treat it as a path label.
    virtual_bucket: str | None = None
    #: Set once an ``aws-chunked`` body has been decoded (`auth.chunked`):
    #: its trailing headers (also merged into `headers`); `body` is then the
    #: decoded payload.
    trailers: dict[str, str] | None = None
    _form: dict[str, str] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


@dataclass(slots=True)
class Response:
    status: int
    #: The body, or an iterator of its chunks (S3's GetObject, whose
    #: Content-Length header is then given): written as the client reads.
    body: bytes | Iterator[bytes] = b""
    #: (name, value) pairs; names lower-case.
    headers: list[tuple[str, str]] = field(default_factory=list)
