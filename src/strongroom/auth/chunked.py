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
from collections.abc import Callable, Iterable
from typing import Any

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
    """(payload, trailers) of an aws-chunked `body` held in memory."""
    out: list[bytes] = []
    trailers = decode_stream([body], out.append, sign, seed, prefix)
    return b"".join(out), trailers


#: Bytes a chunk header line or the trailer block may take.
_MAX_LINE = 4096
_MAX_TRAILER = 64 * 1024


def decode_stream(
    pieces: Iterable[bytes],
    emit: Callable[[bytes], None],
    sign: Callable[[str], str] | None = None,
    seed: str = "",
    prefix: str = "",
) -> dict[str, str]:
    """Decode an aws-chunked body arriving as `pieces`, handing the payload
    to `emit` as it is decoded (never more than a piece at a time in
    memory); returns the trailers. With `sign` (the HMAC of a string to sign
    under the request's signing key, as hex), every chunk signature and the
    trailer signature are checked; `prefix` is the ``timestamp\nscope``
    part of each string to sign. A chunk is handed on before its signature
    is checked: the caller must not keep what it wrote when this raises."""
    buf = bytearray()
    previous = seed
    state = "header"
    remaining = 0
    given = ""
    digest = hashlib.sha256()
    last = False
    for piece in pieces:
        buf += piece
        while True:
            if state == "header":
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > _MAX_LINE:
                        raise ChunkError("The aws-chunked chunk header is malformed")
                    break
                header = bytes(buf[:end]).decode("latin-1")
                del buf[: end + 2]
                size_text, _, ext = header.partition(";")
                try:
                    remaining = int(size_text.strip(), 16)
                except ValueError:
                    raise ChunkError("The aws-chunked chunk size is malformed") from None
                if remaining < 0:
                    raise ChunkError("The aws-chunked chunk size is malformed")
                name, _, given = ext.partition("=")
                if sign is not None and name.strip() != "chunk-signature":
                    raise ChunkError("A chunk carries no chunk-signature", signature=True)
                digest = hashlib.sha256()
                last = remaining == 0
                state = "data"
            if state == "data":
                if remaining:
                    take = min(remaining, len(buf))
                    if not take:
                        break
                    data = bytes(buf[:take])
                    del buf[:take]
                    digest.update(data)
                    emit(data)
                    remaining -= take
                    if remaining:
                        break
                previous = _check(sign, prefix, previous, digest, given)
                state = "trailer" if last else "crlf"
                if last:
                    continue
            if state == "crlf":
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise ChunkError("An aws-chunked chunk is not followed by CRLF")
                del buf[:2]
                state = "header"
                continue
            if state == "trailer":
                if len(buf) > _MAX_TRAILER:
                    raise ChunkError("The aws-chunked trailer is too large")
                break
    if state != "trailer":
        raise ChunkError("An incomplete aws-chunked body was sent")
    return _trailers(bytes(buf), sign, prefix, previous)


def _check(
    sign: Callable[[str], str] | None, prefix: str, previous: str, digest: Any, given: str
) -> str:
    if sign is None:
        return previous
    string = f"AWS4-HMAC-SHA256-PAYLOAD\n{prefix}\n{previous}\n{_EMPTY}\n{digest.hexdigest()}"
    expected = sign(string)
    if not hmac.compare_digest(expected, given.strip()):
        raise ChunkError("A chunk signature does not match", signature=True)
    return expected


def _trailers(
    block: bytes, sign: Callable[[str], str] | None, prefix: str, previous: str
) -> dict[str, str]:
    trailers: dict[str, str] = {}
    lines: list[str] = []
    trailer_sig: str | None = None
    for raw in block.split(b"\r\n"):
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
    return trailers
