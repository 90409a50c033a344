"""S3's ``aws-chunked`` content encoding, decoded and its signatures checked.

A body sent with ``x-amz-content-sha256`` ``STREAMING-...`` is framed as
chunks, each ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n``, ended
by a zero-size chunk and, for the ``-TRAILER`` forms, trailing headers (the
checksum the client computed while sending: ``x-amz-checksum-crc32:...``)
and, when signed, ``x-amz-trailer-signature``.

With ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` each chunk's signature
chains from the previous one, starting at the request's own (the seed)::

    AWS4-HMAC-SHA256-PAYLOAD \\n timestamp \\n scope \\n previous \\n
    sha256("") \\n sha256(chunk data)

and the trailer's from the last chunk's (``AWS4-HMAC-SHA256-TRAILER``, over
the trailer lines each ending ``\\n``). A chunk whose signature does not
match is refused as the request's own would be (SignatureDoesNotMatch).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

_EMPTY = hashlib.sha256(b"").hexdigest()

SIGNED = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED = ("STREAMING-UNSIGNED-PAYLOAD-TRAILER",)


class ChunkError(Exception):
    """The body is not well-formed aws-chunked, or a chunk signature fails."""

    def __init__(self, message: str, signature: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.signature = signature


def decode(
    body: bytes,
    sign: Callable[[str], str] | None = None,
    seed: str = "",
    prefix: str = "",
) -> tuple[bytes, dict[str, str]]:
    """(payload, trailers) of an aws-chunked `body`. With `sign` (the HMAC of
    a string to sign under the request's signing key, as hex), every chunk
    signature and the trailer signature are checked; `prefix` is the
    ``timestamp\\nscope`` part of each string to sign."""
    view = memoryview(body)
    pos = 0
    n = len(body)
    out: list[bytes] = []
    previous = seed
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise ChunkError("An incomplete aws-chunked body was sent")
        header = body[pos:end].decode("latin-1")
        size_text, _, ext = header.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise ChunkError("The aws-chunked chunk size is malformed") from None
        if size < 0:
            raise ChunkError("The aws-chunked chunk size is malformed")
        start = end + 2
        if start + size > n:
            raise ChunkError("An incomplete aws-chunked body was sent")
        data = view[start : start + size]
        if sign is not None:
            name, _, given = ext.partition("=")
            if name.strip() != "chunk-signature":
                raise ChunkError("A chunk carries no chunk-signature", signature=True)
            string = (
                f"AWS4-HMAC-SHA256-PAYLOAD\n{prefix}\n{previous}\n{_EMPTY}\n"
                f"{hashlib.sha256(data).hexdigest()}"
            )
            expected = sign(string)
            if not hmac.compare_digest(expected, given.strip()):
                raise ChunkError("A chunk signature does not match", signature=True)
            previous = expected
        if size == 0:
            pos = start
            break
        out.append(bytes(data))
        pos = start + size
        if body[pos : pos + 2] != b"\r\n":
            raise ChunkError("An aws-chunked chunk is not followed by CRLF")
        pos += 2
    trailers: dict[str, str] = {}
    lines: list[str] = []
    trailer_sig: str | None = None
    for raw in body[pos:].split(b"\r\n"):
        if not raw:
            continue
        line = raw.decode("latin-1")
        name, colon, value = line.partition(":")
        if not colon:
            raise ChunkError("A malformed trailer was sent")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            trailer_sig = value.strip()
            continue
        trailers[name] = value.strip()
        lines.append(f"{name}:{value.strip()}\n")
    if sign is not None and trailers:
        if trailer_sig is None:
            raise ChunkError("The trailer carries no x-amz-trailer-signature", signature=True)
        string = (
            f"AWS4-HMAC-SHA256-TRAILER\n{prefix}\n{previous}\n"
            f"{hashlib.sha256(''.join(lines).encode()).hexdigest()}"
        )
        if not hmac.compare_digest(sign(string), trailer_sig):
            raise ChunkError("The trailer signature does not match", signature=True)
    return b"".join(out), trailers
