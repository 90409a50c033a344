"""The state generation: a number every server process on one SQLite store
can read in a fraction of a microsecond, which changes whenever state changed.

It lives in a small file beside the database, mapped into memory by every
process (`<database>-generation`). A reader loads one 8-byte word; asking
SQLite the same question costs a read transaction (5 to 15 µs).

It is a sequence lock. A writer that changed state commits like this:

    lock the file (flock)  ->  make the number odd  ->  COMMIT
                           ->  make it even again   ->  unlock

so an even number means "no commit in flight", and two reads of the same
even number mean "nothing was committed in between". Readers never lock.

Why this is enough for caching values derived from the store (`Store.hot`):

* a value is cached under the generation read *before* the store reads it
  came from, so it is never older than its label;
* an odd number means a commit may be landing: nothing is read from or
  written to the cache while it is odd;
* only a process holding SQLite's write lock ever commits state, so the
  flock is never contended by two committers at once and cannot dead-lock;
* a process killed between COMMIT and "even again" leaves the number odd:
  caches stay bypassed (correct, slower) until the next writer moves it on.

Beside the sequence word, the file holds a counter per table slot (a table's
slot is a hash of its name: two tables may share one, which only costs a
spurious miss) and one counter for "anything": a writer bumps the counters
of the tables its transaction changed, inside the odd window, before its
COMMIT (or "anything" when it cannot say which). A cached value that
depends on some tables only (`Store.hot_put` with `tables`) stays valid
across commits that touched none of them: the credential a request was
signed with survives the PutObject it made.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

#: Words in the file: the sequence word, "anything", then the table slots.
WORDS = 512
_SIZE = 8 * WORDS
#: The counter every table-scoped value also depends on.
ANYTHING = 1
_FIRST_TABLE_SLOT = 2


def slot_of(table: str) -> int:
    """The counter of `table` (the same in every process: a hash of the name)."""
    return _FIRST_TABLE_SLOT + zlib.crc32(table.encode()) % (WORDS - _FIRST_TABLE_SLOT)


class SharedGeneration:
    """The generation word of one SQLite database (None path: this process only)."""

    def __init__(self, database: Path | None) -> None:
        self._fd: int | None = None
        if database is None:
            self._map: mmap.mmap | bytearray = bytearray(_SIZE)
        else:
            path = Path(f"{database}-generation")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < _SIZE:
                    os.ftruncate(fd, _SIZE)  # zero-filled: generation 0
                self._map = mmap.mmap(fd, _SIZE)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        self._word = memoryview(self._map).cast("Q")

    def read(self) -> int:
        return self._word[0]

    def counters(self, slots: tuple[int, ...]) -> tuple[int, ...]:
        word = self._word
        return tuple([word[s] for s in slots])

    def commit(self, do_commit: Callable[[], None], slots: Iterable[int] | None = None) -> None:
        """Run `do_commit` (the SQLite COMMIT) inside the odd window, having
        moved on the counters of `slots` (the tables it changed; None: it
        cannot say, and "anything" moves)."""
        fd = self._fd
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            word = self._word
            current = word[0]
            word[0] = current + 1 if current % 2 == 0 else current + 2
            for slot in (ANYTHING,) if slots is None else slots:
                word[slot] += 1
            try:
                do_commit()
            finally:
                # Even again whether or not the commit went through: a failed
                # COMMIT left the state as it was or changed it; either way
                # the next reader re-reads.
                word[0] = word[0] + 1
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._word.release()
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
