"""Request bodies of streaming operations, spooled to disk as they arrive.

A body an operation declares `streaming` (S3's PutObject and UploadPart,
up to 5 GiB) never sits in memory: the HTTP layer writes it, as it
arrives, to an anonymous temporary file under ``<data dir>/spool`` (opened
with O_TMPFILE where the kernel has it: no name, nothing left after a
crash), sealed in chunks of 1 MiB (AES-256-GCM, `store.sealing`) under a key
of its own that lives only in memory, so no plaintext of a body reaches the
disk. Its SHA-256 is computed as it arrives (for ``x-amz-content-sha256``).
At most one chunk per connection is held in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from strongroom.ids import random_bytes
from strongroom.protocol.http import BodyStream, BodyStreamWriter
from strongroom.store.sealing import Sealer

CHUNK = 1024 * 1024
#: A streaming operation's body of at most this many bytes (by its
#: Content-Length) is buffered in memory like any other, counted against
#: the buffered-bytes budget: a file, its encryption and its hashing cost a
#: 1 KiB PutObject more than all the rest of its request.
SMALL_STREAMED_BODY = 64 * 1024


class SpooledBody(BodyStreamWriter):
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close)
        self._sealer = Sealer(random_bytes(32))
        self._pending = bytearray()
        self._sha = hashlib.sha256()
        self._index = 0
        self._lengths: list[int] = []
        self.size = 0
        self._done = False

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        self._sha.update(data)
        self._pending += data
        while len(self._pending) >= CHUNK:
            self._emit(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]

    def _emit(self, chunk: bytes) -> None:
        sealed = self._sealer.seal(chunk, b"spool:%d" % self._index)
        self._file.write(sealed)
        self._lengths.append(len(sealed))
        self._index += 1

    def finish(self) -> BodyStream:
        if not self._done:
            if self._pending:
                self._emit(bytes(self._pending))
                self._pending.clear()
            self._file.flush()
            self._done = True
        return self

    def chunks(self) -> Iterator[bytes]:
        self.finish()
        fd = self._file.fileno()
        offset = 0
        for index, length in enumerate(self._lengths):
            yield self._sealer.unseal(os.pread(fd, length, offset), b"spool:%d" % index)
            offset += length

    def sha256_hex(self) -> str:
        return self._sha.hexdigest()

    def new_like(self) -> SpooledBody:
        return SpooledBody(self.directory)

    def close(self) -> None:
        self._file.close()


def spool_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / "spool"
    path.mkdir(mode=0o700, exist_ok=True)
    return path
