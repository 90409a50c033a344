"""The blob store: object bodies as encrypted files under a directory.

Layout under the root (``<data dir>/s3`` by default, ``--option
s3.blob_dir=PATH`` for a shared filesystem several servers mount)::

    tmp/<id>.tmp        a blob being written (removed at start: a crash's leftovers)
    blobs/<id[:2]>/<id> a complete blob

A blob is written to ``tmp/``, flushed and fsynced, then renamed into
``blobs/`` and the directory fsynced: only then does the operation commit
the row naming it, so an acknowledged object survives kill -9 and a crash
mid-write leaves no half blob any row names.

A blob is the plaintext cut in chunks of `CHUNK` bytes, each sealed
(AES-256-GCM, `strongroom.store.sealing`) under the object's own data key
with associated data naming the blob, the chunk's index and whether it is
the last: chunks cannot be reordered, dropped, truncated or moved to another
blob. A range read opens only the chunks it needs. Nothing is ever written
in the clear.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from strongroom.ids import uuid4
from strongroom.store.sealing import Sealer, SealError

#: Plaintext bytes per sealed chunk.
CHUNK = 1024 * 1024
#: What sealing adds to a chunk (version, nonce, tag).
OVERHEAD = 1 + 12 + 16


class BlobError(Exception):
    """A blob is missing or does not open (tampering, wrong key)."""


def _aad(blob_id: str, index: int, last: bool) -> bytes:
    return f"s3-blob:{blob_id}:{index}:{int(last)}".encode()


class BlobWriter:
    """One blob being written: `write` plaintext, then `commit` (durable) or `abort`."""

    def __init__(self, store: BlobStore, data_key: bytes) -> None:
        self.store = store
        self.id = uuid4().replace("-", "")
        self._sealer = Sealer(data_key)
        self._tmp = store.tmp / f"{self.id}.tmp"
        self._file = open(self._tmp, "xb")  # noqa: SIM115 (closed by commit/abort)
        self._pending = bytearray()
        self._index = 0
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        self._pending += data
        while len(self._pending) > CHUNK:
            self._emit(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def _emit(self, chunk: bytes, last: bool) -> None:
        self._file.write(self._sealer.seal(chunk, _aad(self.id, self._index, last)))
        self._index += 1

    def commit(self) -> str:
        """Make the blob durable and visible by its id; returns the id."""
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        final = self.store.path_of(self.id)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(self._tmp, final)
        _fsync_dir(final.parent)
        return self.id

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None and not self._file.closed:
            self.abort()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.blobs = self.root / "blobs"
        for path in (self.root, self.tmp, self.blobs):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.cleaned = self.clean_tmp()

    def clean_tmp(self) -> int:
        """Remove the blobs a crash left half-written; how many there were."""
        removed = 0
        for path in self.tmp.iterdir():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        return removed

    def path_of(self, blob_id: str) -> Path:
        if not blob_id.isalnum():
            raise BlobError(f"bad blob id {blob_id!r}")
        return self.blobs / blob_id[:2] / blob_id

    def writer(self, data_key: bytes) -> BlobWriter:
        return BlobWriter(self, data_key)

    def put(self, data: bytes, data_key: bytes) -> tuple[str, int]:
        with self.writer(data_key) as w:
            w.write(data)
            return w.commit(), w.size

    def read(
        self, blob_id: str, data_key: bytes, size: int, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """The plaintext bytes [start, end) of a blob of `size` bytes, chunk by
        chunk. The file is opened now (a blob removed later, once its row is
        gone, is still read to the end) and its first chunk opened, so a
        wrong key fails here and not half-way through a response."""
        end = size if end is None else min(end, size)
        sealer = Sealer(data_key)
        last_index = max(0, (size - 1) // CHUNK)
        first = min(start // CHUNK, last_index)
        try:
            f = open(self.path_of(blob_id), "rb")  # noqa: SIM115 (closed by _chunks)
        except FileNotFoundError:
            raise BlobError(f"blob {blob_id} is missing") from None
        try:
            head = self._open_chunk(blob_id, sealer, first, first == last_index, f)
        except BaseException:
            f.close()
            raise
        return self._chunks(blob_id, sealer, f, head, first, last_index, start, end)

    def _chunks(
        self,
        blob_id: str,
        sealer: Sealer,
        f: Any,
        head: bytes,
        first: int,
        last_index: int,
        start: int,
        end: int,
    ) -> Iterator[bytes]:
        try:
            index, chunk = first, head
            while start < end:
                lo = max(start - index * CHUNK, 0)
                hi = min(end - index * CHUNK, len(chunk))
                if lo < hi:
                    yield chunk[lo:hi]
                index += 1
                if index > last_index or index * CHUNK >= end:
                    break
                chunk = self._open_chunk(blob_id, sealer, index, index == last_index, f)
        finally:
            f.close()

    def _open_chunk(self, blob_id: str, sealer: Sealer, index: int, last: bool, f: Any) -> bytes:
        f.seek(index * (CHUNK + OVERHEAD))
        sealed = f.read(CHUNK + OVERHEAD)
        try:
            return sealer.unseal(sealed, _aad(blob_id, index, last))
        except SealError:
            raise BlobError(f"blob {blob_id} chunk {index} does not open") from None

    def read_all(self, blob_id: str, data_key: bytes, size: int) -> bytes:
        return b"".join(self.read(blob_id, data_key, size))

    def remove(self, blob_id: str) -> None:
        self.path_of(blob_id).unlink(missing_ok=True)

    def ids(self) -> Iterator[tuple[str, float]]:
        """Every complete blob's id and modification time."""
        for sub in self.blobs.iterdir():
            if sub.is_dir():
                for path in sub.iterdir():
                    yield path.name, path.stat().st_mtime

    def close(self) -> None:
        pass
