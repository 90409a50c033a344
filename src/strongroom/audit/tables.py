"""CloudTrail events as stored: in batches, one row per flush, and each
caller's userIdentity once (see `records.py` for the batch format and how an
event renders back to a CloudTrail record).

Why batches: at thousands of requests a second, a row per event cost the
event loop about 15 µs an event (binding, three B-tree inserts, the WAL pages
each commit rewrites), spent in one stall per flush that every request
arriving meanwhile waited out. One row per flush costs a tenth of that; the
``facets`` column lets readers skip the batches that cannot hold what they
look for without decoding them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, Integer, LargeBinary, String, Table, Text, inspect, text

from strongroom.store.db import metadata, register_migration

batches = Table(
    "audit_batches",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    #: The oldest and newest eventTime in the batch (Unix seconds).
    Column("first_time", Float, nullable=False),
    Column("last_time", Float, nullable=False),
    Column("count", Integer, nullable=False),
    #: Newline-framed lines naming what the batch holds (see records.facets_of).
    #: Before `events` so that filtering on it never reads the batch itself.
    Column("facets", Text, nullable=False),
    #: JSON: the events, oldest first (see records.StoredEvent).
    Column("events", LargeBinary, nullable=False),
)

#: Each distinct userIdentity once, by the reference events hold ("i").
identities = Table(
    "audit_identities",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("identity", Text, nullable=False),
)


_LEGACY_COLUMNS = (
    "event_id, account, region, event_time, event_name, event_source, read_only, "
    "management, username, access_key_id, resources, record"
)
#: Legacy rows moved per batch written.
_MIGRATION_BATCH = 512


def _to_audit_batches(conn: Any) -> None:
    """Version 3: the rows of ``audit_events`` (one per event) become batches,
    in the order they were written, and the table goes. Read a batch at a
    time: a store may hold millions of events."""
    from strongroom.audit.records import legacy_event, write_batch

    if not inspect(conn).has_table("audit_events"):
        return
    after = -1
    while True:
        rows = conn.execute(
            text(
                f"SELECT seq, {_LEGACY_COLUMNS} FROM audit_events WHERE seq > :after "
                "ORDER BY seq LIMIT :n"
            ),
            {"after": after, "n": _MIGRATION_BATCH},
        ).fetchall()
        if not rows:
            break
        write_batch(conn, [legacy_event(row[1:]) for row in rows])
        after = rows[-1][0]
    conn.execute(text("DROP TABLE audit_events"))


register_migration(3, _to_audit_batches)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    batches,
    identities,
)
