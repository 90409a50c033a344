"""The blob store: object bodies as encrypted files under a directory.

Layout under the root (``<data dir>/s3`` by default, ``--option
s3.blob_dir=PATH`` for a shared filesystem several servers mount)::

    tmp/<id>.tmp        a blob being written where the filesystem has no
                        O_TMPFILE (swept once older than `TMP_AGE`)
    blobs/<id[:2]>/<id> a complete blob

**The write protocol** (what makes an acknowledged object survive kill -9
and leaves no half object visible after a crash):

1. the body is written to an anonymous file (``O_TMPFILE`` in ``tmp/``:
   it has no name, so a crash leaves nothing; else ``tmp/<id>.tmp``),
   sealed chunk by chunk;
2. the file is fsynced, then given its final name (``linkat`` of the
   anonymous file, or ``rename``), and the directory is fsynced — by one
   fsync for every link made in that directory since the last one began
   (`DirSync`: concurrent writers share it);
3. only then does the operation's transaction insert the row naming the
   blob; the response follows the commit.

A crash before 3 leaves a complete blob no row names: the sweeper
(`BlobStore.sweep`, run by the `collect` job) removes blob files no row
names once they are older than `ORPHAN_AGE`, and named temporary files once
older than `TMP_AGE` (a file being written is touched at least every body
chunk), so no orphan grows forever — and never removes what a server
sharing the directory is still writing.

A blob is the plaintext cut in chunks of `CHUNK` bytes, each sealed
(AES-256-GCM, `strongroom.store.sealing`) under the blob's key with
associated data naming the blob, the chunk's index and whether it is the
last: chunks cannot be reordered, dropped, truncated or moved to another
blob. A range read opens only the chunks it needs. Nothing is ever written
in the clear.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from strongroom.ids import uuid4
from strongroom.store.sealing import Sealer, SealError

#: Plaintext bytes per sealed chunk.
CHUNK = 1024 * 1024
#: What sealing adds to a chunk (version, nonce, tag).
OVERHEAD = 1 + 12 + 16
#: A blob file no row names is an orphan once it is this old: a write in
#: flight links its blob a moment before its transaction commits.
ORPHAN_AGE = 3600.0
#: A named temporary file untouched this long belongs to a dead writer.
TMP_AGE = 900.0


class BlobError(Exception):
    """A blob is missing or does not open (tampering, wrong key)."""


def _aad(blob_id: str, index: int, last: bool) -> bytes:
    return f"s3-blob:{blob_id}:{index}:{int(last)}".encode()


def seal_small(blob_id: str, key: bytes, data: bytes) -> bytes:
    """A body of one chunk, sealed as a blob's only chunk (kept in a row)."""
    return Sealer(key).seal(data, _aad(blob_id, 0, True))


def open_small(blob_id: str, key: bytes, sealed: bytes) -> bytes:
    try:
        return Sealer(key).unseal(sealed, _aad(blob_id, 0, True))
    except SealError:
        raise BlobError(f"blob {blob_id} does not open") from None


class DirSync:
    """Group fsync of directories: a caller that made a link in `path` waits
    for an fsync of `path` that began after its link, running one itself
    only when none is under way; the links made meanwhile by other threads
    are covered by the next one, so N concurrent writers cost about two
    directory fsyncs, not N."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[Path, _DirState] = {}

    def sync(self, path: Path) -> None:
        with self._lock:
            state = self._dirs.get(path)
            if state is None:
                if len(self._dirs) > 4096:
                    self._dirs.clear()
                state = self._dirs[path] = _DirState()
        with state.cond:
            state.requested += 1
            ticket = state.requested
            while state.synced < ticket:
                if state.running:
                    state.cond.wait()
                    continue
                state.running = True
                covers = state.requested
                state.cond.release()
                try:
                    _fsync_dir(path)
                finally:
                    state.cond.acquire()
                    state.running = False
                    state.cond.notify_all()
                state.synced = max(state.synced, covers)


class _DirState:
    __slots__ = ("cond", "requested", "running", "synced")

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.requested = 0
        self.synced = 0
        self.running = False


def _open_anonymous(directory: Path) -> int | None:
    """An O_TMPFILE file in `directory`, or None where the filesystem has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o600)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _can_name_anonymous(directory: Path) -> bool:
    fd = _open_anonymous(directory)
    if fd is None:
        return False
    probe = directory / f".probe-{uuid4()}"
    try:
        os.link(f"/proc/self/fd/{fd}", probe, follow_symlinks=True)
    except OSError:
        return False
    finally:
        os.close(fd)
    probe.unlink(missing_ok=True)
    return True


class BlobWriter:
    """One blob being written: `write` plaintext, then `commit` (durable) or `abort`."""

    def __init__(self, store: BlobStore, data_key: bytes, blob_id: str | None = None) -> None:
        self.store = store
        self.id = blob_id or uuid4().replace("-", "")
        self._sealer = Sealer(data_key)
        fd = _open_anonymous(store.tmp) if store.anonymous else None
        self._tmp: Path | None = None
        if fd is None:
            self._tmp = store.tmp / f"{self.id}.tmp"
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fd = fd
        self._closed = False
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
        sealed = self._sealer.seal(chunk, _aad(self.id, self._index, last))
        view = memoryview(sealed)
        while view:
            view = view[os.write(self._fd, view) :]
        self._index += 1

    def commit(self) -> str:
        """Make the blob durable under its final name; returns the id."""
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()
        os.fsync(self._fd)
        final = self.store.path_of(self.id)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            if self._tmp is None:
                os.link(f"/proc/self/fd/{self._fd}", final, follow_symlinks=True)
            else:
                os.replace(self._tmp, final)
                self._tmp = None
        finally:
            self._close()
        self.store.dirsync.sync(final.parent)
        return self.id

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def abort(self) -> None:
        try:
            self._close()
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None and not self._closed:
            self.abort()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(
        self,
        root: str | os.PathLike[str],
        orphan_age: float = ORPHAN_AGE,
        tmp_age: float = TMP_AGE,
    ) -> None:
        self.root = Path(root)
        self.orphan_age, self.tmp_age = orphan_age, tmp_age
        self.tmp = self.root / "tmp"
        self.blobs = self.root / "blobs"
        for path in (self.root, self.tmp, self.blobs):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dirsync = DirSync()
        #: Whether anonymous files can be written and then named here
        #: (tested once: some filesystems and sandboxes refuse the link).
        self.anonymous = _can_name_anonymous(self.tmp)
        #: Where the round-robin orphan sweep resumes (`sweep`).
        self._sweep_at = 0
        self.cleaned = self.sweep_tmp()

    def sweep_tmp(self, max_age: float | None = None) -> int:
        """Remove the named temporary files of dead writers (untouched for
        `max_age` seconds, `tmp_age` by default); how many there were. A
        live writer's file is younger: a server sharing the directory keeps
        its own."""
        cutoff = time.time() - (self.tmp_age if max_age is None else max_age)
        removed = 0
        for path in self.tmp.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def old_blobs(self, max_age: float, dirs: int | None = None) -> list[str]:
        """Blob ids older than `max_age` seconds, from the next `dirs`
        subdirectories (all with None): a sweep goes round a few at a time."""
        cutoff = time.time() - max_age
        subs = sorted(p for p in self.blobs.iterdir() if p.is_dir())
        if dirs is not None and subs:
            start = self._sweep_at % len(subs)
            self._sweep_at = start + dirs
            subs = (subs[start:] + subs[:start])[:dirs]
        found = []
        for sub in subs:
            for path in sub.iterdir():
                try:
                    if path.stat().st_mtime < cutoff:
                        found.append(path.name)
                except FileNotFoundError:
                    continue
        return found

    def path_of(self, blob_id: str) -> Path:
        if not blob_id.isalnum():
            raise BlobError(f"bad blob id {blob_id!r}")
        return self.blobs / blob_id[:2] / blob_id

    def writer(self, data_key: bytes, blob_id: str | None = None) -> BlobWriter:
        return BlobWriter(self, data_key, blob_id)

    def put(self, data: bytes, data_key: bytes) -> tuple[str, int]:
        with self.writer(data_key) as w:
            w.write(data)
            return w.commit(), w.size

    def read(
        self,
        blob_id: str,
        data_key: bytes,
        size: int,
        start: int = 0,
        end: int | None = None,
        eager: bool = True,
    ) -> Iterator[bytes]:
        """The plaintext bytes [start, end) of a blob of `size` bytes, chunk by
        chunk. The file is opened now (a blob removed later, once its row is
        gone, is still read to the end) and, `eager`, its first chunk opened,
        so a wrong key fails here and not half-way through a response."""
        end = size if end is None else min(end, size)
        sealer = Sealer(data_key)
        last_index = max(0, (size - 1) // CHUNK)
        first = min(start // CHUNK, last_index)
        try:
            f = open(self.path_of(blob_id), "rb")  # noqa: SIM115 (closed by _chunks)
        except FileNotFoundError:
            raise BlobError(f"blob {blob_id} is missing") from None
        if not eager:
            return self._lazy(blob_id, sealer, f, first, last_index, start, end)
        try:
            head = self._open_chunk(blob_id, sealer, first, first == last_index, f)
        except BaseException:
            f.close()
            raise
        return self._chunks(blob_id, sealer, f, head, first, last_index, start, end)

    def _lazy(
        self,
        blob_id: str,
        sealer: Sealer,
        f: Any,
        first: int,
        last_index: int,
        start: int,
        end: int,
    ) -> Iterator[bytes]:
        try:
            head = self._open_chunk(blob_id, sealer, first, first == last_index, f)
        except BaseException:
            f.close()
            raise
        yield from self._chunks(blob_id, sealer, f, head, first, last_index, start, end)

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

    def close(self) -> None:
        pass
