"""The statements over RDS's tables, behind named functions: ``find_*``
returns a record or None, ``resolve_*`` finds or raises RDS's not-found
error, ``list_*`` filters. A record is the row as a dict (column names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.services.rds.service import errors
from strongroom.services.rds.tables import events, instances, parameter_groups, snapshots

Record = dict[str, Any]


def _one(conn: Connection, stmt: Any) -> Record | None:
    row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


# --------------------------------------------------------------------- instances


def find_instance(conn: Connection, account: str, region: str, identifier: str) -> Record | None:
    return _one(
        conn,
        select(instances).where(
            instances.c.account == account,
            instances.c.region == region,
            instances.c.identifier == identifier.lower(),
        ),
    )


def resolve_instance(conn: Connection, account: str, region: str, identifier: str) -> Record:
    found = find_instance(conn, account, region, identifier)
    if found is None:
        raise errors.DBInstanceNotFoundFault(f"DBInstance {identifier} not found.")
    return found


def instance_by_resource(conn: Connection, resource_id: str) -> Record | None:
    return _one(conn, select(instances).where(instances.c.resource_id == resource_id))


def list_instances(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(instances)
        .where(instances.c.account == account, instances.c.region == region)
        .order_by(instances.c.identifier)
    )
    return [dict(r._mapping) for r in rows]


def all_instances(conn: Connection) -> list[Record]:
    return [dict(r._mapping) for r in conn.execute(select(instances))]


def insert_instance(conn: Connection, record: Record) -> None:
    conn.execute(instances.insert().values(**record))


def update_instance(conn: Connection, resource_id: str, **values: Any) -> None:
    conn.execute(update(instances).where(instances.c.resource_id == resource_id).values(**values))


def set_instance_status(
    conn: Connection, resource_id: str, status: str, *, only_from: tuple[str, ...] = ()
) -> bool:
    stmt = update(instances).where(instances.c.resource_id == resource_id)
    if only_from:
        stmt = stmt.where(instances.c.status.in_(only_from))
    return bool(conn.execute(stmt.values(status=status)).rowcount)


def delete_instance(conn: Connection, resource_id: str) -> None:
    conn.execute(delete(instances).where(instances.c.resource_id == resource_id))


def due_auto_starts(conn: Connection, now: float) -> list[Record]:
    rows = conn.execute(
        select(instances).where(
            instances.c.status == "stopped",
            instances.c.auto_start_at.is_not(None),
            instances.c.auto_start_at <= now,
        )
    )
    return [dict(r._mapping) for r in rows]


def next_auto_start(conn: Connection) -> float | None:
    rows = conn.execute(
        select(instances.c.auto_start_at).where(
            instances.c.status == "stopped", instances.c.auto_start_at.is_not(None)
        )
    ).scalars()
    found = list(rows)
    return min(found) if found else None


# --------------------------------------------------------------------- snapshots


def find_snapshot(conn: Connection, account: str, region: str, identifier: str) -> Record | None:
    return _one(
        conn,
        select(snapshots).where(
            snapshots.c.account == account,
            snapshots.c.region == region,
            snapshots.c.identifier == identifier.lower(),
        ),
    )


def resolve_snapshot(conn: Connection, account: str, region: str, identifier: str) -> Record:
    found = find_snapshot(conn, account, region, identifier)
    if found is None:
        raise errors.DBSnapshotNotFoundFault(f"DBSnapshot {identifier} not found.")
    return found


def snapshot_by_resource(conn: Connection, resource_id: str) -> Record | None:
    return _one(conn, select(snapshots).where(snapshots.c.resource_id == resource_id))


def list_snapshots(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(snapshots)
        .where(snapshots.c.account == account, snapshots.c.region == region)
        .order_by(snapshots.c.created, snapshots.c.identifier)
    )
    return [dict(r._mapping) for r in rows]


def snapshots_shared_with(conn: Connection, account: str, region: str) -> list[Record]:
    """Other accounts' manual snapshots in `region` whose "restore" attribute
    names `account` (or "all")."""
    rows = conn.execute(
        select(snapshots)
        .where(snapshots.c.region == region, snapshots.c.account != account)
        .order_by(snapshots.c.created, snapshots.c.identifier)
    )
    found = [dict(r._mapping) for r in rows]
    return [
        r for r in found if account in (r["shared_with"] or []) or "all" in (r["shared_with"] or [])
    ]


def insert_snapshot(conn: Connection, record: Record) -> None:
    conn.execute(snapshots.insert().values(**record))


def update_snapshot(conn: Connection, resource_id: str, **values: Any) -> None:
    conn.execute(update(snapshots).where(snapshots.c.resource_id == resource_id).values(**values))


def delete_snapshot(conn: Connection, resource_id: str) -> None:
    conn.execute(delete(snapshots).where(snapshots.c.resource_id == resource_id))


# --------------------------------------------------------------------- events


def add_event(
    conn: Connection,
    account: str,
    region: str,
    source_id: str,
    source_type: str,
    source_arn: str,
    message: str,
    categories: list[str],
    date: float,
) -> None:
    conn.execute(
        events.insert().values(
            account=account,
            region=region,
            source_id=source_id,
            source_type=source_type,
            source_arn=source_arn,
            message=message,
            categories=categories,
            date=date,
        )
    )


def list_events(
    conn: Connection, account: str, region: str, start: float, end: float
) -> list[Record]:
    rows = conn.execute(
        select(events)
        .where(
            events.c.account == account,
            events.c.region == region,
            events.c.date >= start,
            events.c.date <= end,
        )
        .order_by(events.c.date, events.c.seq)
    )
    return [dict(r._mapping) for r in rows]


# --------------------------------------------------------------------- parameter groups


def find_parameter_group(conn: Connection, account: str, region: str, name: str) -> Record | None:
    return _one(
        conn,
        select(parameter_groups).where(
            parameter_groups.c.account == account,
            parameter_groups.c.region == region,
            parameter_groups.c.name == name.lower(),
        ),
    )


def list_parameter_groups(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(parameter_groups)
        .where(parameter_groups.c.account == account, parameter_groups.c.region == region)
        .order_by(parameter_groups.c.name)
    )
    return [dict(r._mapping) for r in rows]


def insert_parameter_group(conn: Connection, record: Record) -> None:
    conn.execute(parameter_groups.insert().values(**record))


def update_parameter_group(
    conn: Connection, account: str, region: str, name: str, **values: Any
) -> None:
    conn.execute(
        update(parameter_groups)
        .where(
            parameter_groups.c.account == account,
            parameter_groups.c.region == region,
            parameter_groups.c.name == name,
        )
        .values(**values)
    )


def delete_parameter_group(conn: Connection, account: str, region: str, name: str) -> None:
    conn.execute(
        delete(parameter_groups).where(
            parameter_groups.c.account == account,
            parameter_groups.c.region == region,
            parameter_groups.c.name == name,
        )
    )
