"""CloudTrail events as stored: the columns LookupEvents filters on, the
event's own fields as slim JSON, and each caller's userIdentity once
(see `records.py` for how a row renders back to a CloudTrail record)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text

from strongroom.store.db import metadata

events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("event_time", Float, nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("event_source", String(128), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("management", Boolean, nullable=False),
    Column("username", String(256), nullable=True),
    Column("access_key_id", String(128), nullable=True),
    #: JSON: the record's resources list ({"accountId", "type", "ARN"}).
    Column("resources", Text, nullable=True),
    #: JSON: the event's own fields (see records.py).
    Column("record", Text, nullable=False),
    Index("ix_audit_events_lookup", "account", "region", "event_time"),
)

#: Each distinct userIdentity once, by the reference events hold ("i").
identities = Table(
    "audit_identities",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("identity", Text, nullable=False),
)
