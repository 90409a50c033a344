"""S3's scheduled work: removing the blobs changes left behind, once the
transactions that dropped their rows have committed, and sweeping the blob
files a crash left that no row names (`blobs`' write protocol), by age."""

from __future__ import annotations

import time

from strongroom.framework import JobRun
from strongroom.services.s3 import lifecycle, objects
from strongroom.services.s3.blobs import BlobStore
from strongroom.services.s3.service import service

#: Seconds between two sweeps for orphans; each looks at `SWEEP_DIRS` of
#: the 256 blob directories (the first of a process at all of them), so a
#: store of millions of blobs never stalls a tick on one long listing.
SWEEP_EVERY = 60.0
SWEEP_DIRS = 16

#: Per blob store: when it is next swept (time.monotonic()).
_next_sweep: dict[int, float] = {}


@service.job
def collect(run: JobRun) -> float | None:
    store: BlobStore = run.resource("s3_blobs")
    while objects.collect(run.conn, store):
        pass
    key = id(store)
    now = time.monotonic()
    due = _next_sweep.get(key)
    if due is None or now >= due:
        _next_sweep[key] = now + SWEEP_EVERY
        sweep_orphans(run, store, None if due is None else SWEEP_DIRS)
        store.sweep_tmp()
    return run.now.timestamp() + SWEEP_EVERY


@service.job
def expire(run: JobRun) -> float | None:
    """Lifecycle rules, by the server clock (`lifecycle`)."""
    return lifecycle.run(run.conn, run.now.timestamp())


def sweep_orphans(
    run: JobRun, store: BlobStore, dirs: int | None = None, max_age: float | None = None
) -> int:
    """Remove blob files older than `max_age` (the store's `orphan_age`) that no row names (a crash
    between a blob's link and its row's commit), from the next `dirs` blob
    directories (all with None); how many."""
    old = store.old_blobs(store.orphan_age if max_age is None else max_age, dirs)
    removed = 0
    for i in range(0, len(old), 500):
        batch = old[i : i + 500]
        kept = objects.referenced(run.conn, batch)
        for blob in batch:
            if blob not in kept:
                store.remove(blob)
                removed += 1
    return removed
