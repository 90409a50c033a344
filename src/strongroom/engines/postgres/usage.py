"""What a running PostgreSQL server uses, measured now: the figures RDS
publishes to CloudWatch (`strongroom.services.rds.metrics`) that this
engine really has.

- **Connections**: the client sessions in ``pg_stat_activity``
  (``backend_type = 'client backend'``), leaving out the control plane's own
  (``rdsadmin``, this very session included), as RDS's
  ``DatabaseConnections`` leaves out "Amazon RDS connections" and the
  engine's own processes (WAL senders, autovacuum, background workers).
- **Storage**: the bytes on disk (allocated blocks, as ``du`` counts them)
  of every file in the data directory: tables, indexes, WAL, the engine's
  log files (on RDS these take instance storage too). The write-ahead log
  directory's share is reported on its own.
- **Transaction IDs**: ``max(age(datfrozenxid))`` over the databases, the
  figure RDS's ``MaximumUsedTransactionIDs`` is.
- **Replication slots**: the WAL the most lagging slot holds back
  (``OldestReplicationSlotLag``), on a server that has slots.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.engines.driver import EngineError, Instance, Usage

if TYPE_CHECKING:
    from strongroom.engines.postgres.engine import PostgresEngine

WAL_DIR = "pg_wal"

_QUERY = """
SELECT
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND usename IS DISTINCT FROM %(admin)s),
  (SELECT max(age(datfrozenxid)) FROM pg_database),
  (SELECT max(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                   ELSE pg_current_wal_lsn() END - restart_lsn)::bigint
     FROM pg_replication_slots WHERE restart_lsn IS NOT NULL)
"""


def disk_bytes(root: Path) -> int:
    """Bytes on disk of every file under `root` (files that vanish while
    they are counted, as WAL segments recycled meanwhile do, count nothing)."""
    total = 0
    stack = [str(root)]
    while stack:
        top = stack.pop()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(top) as it:
            for entry in it:
                with contextlib.suppress(FileNotFoundError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def measure(engine: PostgresEngine, instance: Instance, admin: str) -> Usage:
    """The running `instance`'s usage (EngineError when it cannot be asked)."""
    with engine._admin(instance) as conn:
        row = conn.execute(_QUERY, {"admin": admin}).fetchone()
    if row is None:  # pragma: no cover - an aggregate always answers
        raise EngineError(f"{instance.instance_id}: no usage")
    connections, xids, slot_lag = row
    wal = disk_bytes(instance.data_dir / WAL_DIR)
    return Usage(
        connections=int(connections or 0),
        storage_bytes=disk_bytes(instance.data_dir),
        wal_bytes=wal,
        max_used_xids=int(xids or 0),
        oldest_slot_lag_bytes=None if slot_lag is None else max(0, int(slot_lag)),
    )
