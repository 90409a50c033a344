"""The statements over DB cluster parameter groups' table (the operations
in `ops_cluster_parameters` hold no SQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.services.rds.cluster_tables import cluster_parameter_groups as table
from strongroom.services.rds.records import Record


def _where(account: str, region: str, name: str) -> Any:
    return (table.c.account == account) & (table.c.region == region) & (table.c.name == name)


def find(conn: Connection, account: str, region: str, name: str) -> Record | None:
    row = conn.execute(select(table).where(_where(account, region, name))).first()
    return dict(row._mapping) if row is not None else None


def list_all(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(table)
        .where(table.c.account == account, table.c.region == region)
        .order_by(table.c.name)
    )
    return [dict(r._mapping) for r in rows]


def insert(conn: Connection, record: Record) -> None:
    conn.execute(table.insert().values(**record))


def set_parameters(
    conn: Connection, account: str, region: str, name: str, values: dict[str, str]
) -> None:
    conn.execute(update(table).where(_where(account, region, name)).values(parameters=values))


def delete_group(conn: Connection, account: str, region: str, name: str) -> None:
    conn.execute(delete(table).where(_where(account, region, name)))


def set_tags(conn: Connection, account: str, region: str, name: str, tags: list[Any]) -> None:
    conn.execute(update(table).where(_where(account, region, name)).values(tags=tags))
