"""Files of RDS data, plain or sealed in chunks under a data key.

A sealed file is a sequence of frames, each ``length (4 bytes, big-endian) |
sealed chunk`` (`strongroom.store.sealing`: AES-256-GCM, a random nonce a
chunk), with at most `CHUNK` bytes of plaintext a frame. A frame's
associated data names the file (``label``), its position and whether it is
the last one, so frames cannot be reordered, moved to another file, or cut
off at the end without the reader noticing. Nothing is held whole in memory:
writers and readers are file-like objects over one chunk at a time.

Files are created with mode 0600 under directories of mode 0700.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from typing import BinaryIO

from strongroom.store.sealing import Sealer, SealError

CHUNK = 1024 * 1024
_LEN = struct.Struct(">I")


class CorruptFile(Exception):
    """A sealed file that does not open under its key (or was cut short)."""


def _aad(label: str, index: int, final: bool) -> bytes:
    return f"rds-data:{label}:{index}:{'final' if final else 'more'}".encode()


def create(path: Path) -> BinaryIO:
    """A new file (replacing a partial one), mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "wb")


class SealingWriter:
    """Writes plaintext; the file receives sealed frames. `close` seals the last."""

    def __init__(self, out: BinaryIO, key: bytes, label: str) -> None:
        self._out = out
        self._sealer = Sealer(key)
        self._label = label
        self._buf = bytearray()
        self._index = 0
        self.written = 0

    def write(self, data: bytes) -> int:
        self._buf += data
        while len(self._buf) > CHUNK:
            self._frame(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]
        return len(data)

    def _frame(self, chunk: bytes, *, final: bool) -> None:
        sealed = self._sealer.seal(chunk, _aad(self._label, self._index, final))
        self._out.write(_LEN.pack(len(sealed)))
        self._out.write(sealed)
        self._index += 1
        self.written += len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._sealer is not None:
            self._frame(bytes(self._buf), final=True)
            self._buf.clear()
            self._sealer = None  # type: ignore[assignment]
        self._out.close()


class PlainWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.written = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._out.close()


class OpeningReader:
    """Reads a sealed file's plaintext, one frame at a time."""

    def __init__(self, src: BinaryIO, key: bytes, label: str) -> None:
        self._src = src
        self._sealer = Sealer(key)
        self._label = label
        self._index = 0
        self._buf = b""
        self._pos = 0
        self._done = False

    def _next(self) -> None:
        head = self._src.read(_LEN.size)
        if len(head) != _LEN.size:
            raise CorruptFile("the file ends before its last chunk")
        (length,) = _LEN.unpack(head)
        sealed = self._src.read(length)
        if len(sealed) != length:
            raise CorruptFile("the file ends inside a chunk")
        for final in (False, True):
            try:
                self._buf = self._sealer.unseal(sealed, _aad(self._label, self._index, final))
            except SealError:
                continue
            self._done = final
            break
        else:
            raise CorruptFile("a chunk does not open under the data key")
        self._pos = 0
        self._index += 1

    def read(self, n: int = -1) -> bytes:
        parts: list[bytes] = []
        want = n if n is not None and n >= 0 else None
        while want is None or want > 0:
            if self._pos >= len(self._buf):
                if self._done:
                    break
                self._next()
                continue
            end = len(self._buf) if want is None else min(len(self._buf), self._pos + want)
            piece = self._buf[self._pos : end]
            self._pos = end
            parts.append(piece)
            if want is not None:
                want -= len(piece)
        return b"".join(parts)

    def close(self) -> None:
        self._src.close()


def writer(path: Path, key: bytes | None, label: str) -> SealingWriter | PlainWriter:
    out = create(path)
    return SealingWriter(out, key, label) if key is not None else PlainWriter(out)


def reader(path: Path, key: bytes | None, label: str) -> BinaryIO:
    src = open(path, "rb")  # noqa: SIM115  (closed by the caller)
    if key is None:
        return src
    return OpeningReader(src, key, label)  # type: ignore[return-value]
