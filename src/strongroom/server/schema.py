"""The whole state schema: the tables of every layer and every served service.

The store creates what it is given; this module is where the layers meet.
"""

from __future__ import annotations

from sqlalchemy import Table

from strongroom.audit import tables as audit_tables  # also registers its migrations
from strongroom.auth import tables as auth_tables
from strongroom.framework import Service
from strongroom.server import handoff
from strongroom.services.registry import served_services
from strongroom.store.db import Store


def state_tables(services: list[Service] | None = None) -> list[Table]:
    """The tables of authentication, the audit trail and `services` (default:
    every served one)."""
    services = served_services() if services is None else services
    return [
        *auth_tables.TABLES,
        *audit_tables.TABLES,
        *handoff.TABLES,
        *(table for svc in services for table in svc.tables),
    ]


def create_state_schema(store: Store, services: list[Service] | None = None) -> None:
    """Create (or bring forward) every table strongroom keeps its state in."""
    store.create_schema(state_tables(services))
