"""S3's scheduled work: removing the blobs changes left behind, once the
transactions that dropped their rows have committed, and (once a process)
the blobs a crash left that no row names."""

from __future__ import annotations

import time

from strongroom.framework import JobRun
from strongroom.services.s3 import lifecycle, objects
from strongroom.services.s3.service import service

#: A blob file no row names is an orphan once it is this old (a write in
#: flight renames its blob before its transaction commits).
ORPHAN_AGE = 3600.0

_swept: set[int] = set()


@service.job
def collect(run: JobRun) -> float | None:
    store = run.resource("s3_blobs")
    while objects.collect(run.conn, store):
        pass
    key = id(store)
    if key not in _swept:
        _swept.add(key)
        sweep_orphans(run, store)
    return None


@service.job
def expire(run: JobRun) -> float | None:
    """Lifecycle rules, by the server clock (`lifecycle`)."""
    return lifecycle.run(run.conn, run.now.timestamp())


def sweep_orphans(run: JobRun, store: object) -> int:
    """Remove blob files older than `ORPHAN_AGE` that no row names."""
    cutoff = time.time() - ORPHAN_AGE
    old = [blob for blob, mtime in store.ids() if mtime < cutoff]  # type: ignore[attr-defined]
    removed = 0
    for i in range(0, len(old), 500):
        batch = old[i : i + 500]
        kept = objects.referenced(run.conn, batch)
        for blob in batch:
            if blob not in kept:
                store.remove(blob)  # type: ignore[attr-defined]
                removed += 1
    return removed
