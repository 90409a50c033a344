"""The HTTP request and response as the protocol layer sees them.

The server builds a `Request` from the ASGI scope once; codecs, the router and
the SigV4 verifier read it and never touch ASGI themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Request:
    method: str
    #: Raw path exactly as sent on the wire (still percent-encoded).
    path: str
    #: Raw query string without the leading '?', still percent-encoded.
    query: str
    #: Header names lower-cased; repeated headers joined with ','.
    headers: dict[str, str]
    body: bytes
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
    body: bytes = b""
    #: (name, value) pairs; names lower-case.
    headers: list[tuple[str, str]] = field(default_factory=list)
