"""Metric filters: the domain layer. A filter is a compiled-once pattern on
a log group and the metric it publishes; `metric_publish` runs them over
the events ingested after they were created, into CloudWatch metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.services.logs.groups import Group
from strongroom.services.logs.tables import batches, groups, metric_filter_cursors, metric_filters

#: Metric filters a log group may hold (AWS's quota).
MAX_PER_GROUP = 100


@dataclass(slots=True)
class MetricFilter:
    group_id: int
    name: str
    pattern: str
    transformations: list[dict[str, Any]]
    created: int
    apply_on_transformed: bool
    field_selection: str | None
    emit_dimensions: list[str] | None

    def describe(self, group_name: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filterName": self.name,
            "filterPattern": self.pattern,
            "metricTransformations": [dict(t) for t in self.transformations],
            "creationTime": self.created,
            "logGroupName": group_name,
            "applyOnTransformedLogs": bool(self.apply_on_transformed),
        }
        if self.field_selection is not None:
            out["fieldSelectionCriteria"] = self.field_selection
        if self.emit_dimensions:
            out["emitSystemFieldDimensions"] = list(self.emit_dimensions)
        return out


_COLUMNS = [metric_filters.c[f] for f in MetricFilter.__dataclass_fields__]  # type: ignore[attr-defined]


def find(conn: Connection, group: Group, name: str) -> MetricFilter | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            metric_filters.c.group_id == group.id, metric_filters.c.name == name
        )
    ).first()
    return MetricFilter(*row) if row is not None else None


def count(conn: Connection, group: Group) -> int:
    return conn.execute(
        select(func.count()).where(metric_filters.c.group_id == group.id)
    ).scalar_one()


def counts(conn: Connection, group_ids: list[int]) -> dict[int, int]:
    """Metric filters per group, for DescribeLogGroups' metricFilterCount."""
    if not group_ids:
        return {}
    q = (
        select(metric_filters.c.group_id, func.count())
        .where(metric_filters.c.group_id.in_(group_ids))
        .group_by(metric_filters.c.group_id)
    )
    return {gid: n for gid, n in conn.execute(q)}


def save(conn: Connection, f: MetricFilter, *, new: bool) -> None:
    values = {k: getattr(f, k) for k in MetricFilter.__dataclass_fields__}  # type: ignore[attr-defined]
    if new:
        conn.execute(insert(metric_filters).values(**values))
        start_cursor(conn, f.group_id)
    else:
        conn.execute(
            update(metric_filters)
            .where(metric_filters.c.group_id == f.group_id, metric_filters.c.name == f.name)
            .values(**values)
        )


def remove(conn: Connection, f: MetricFilter) -> None:
    conn.execute(
        delete(metric_filters).where(
            metric_filters.c.group_id == f.group_id, metric_filters.c.name == f.name
        )
    )
    left = conn.execute(
        select(func.count()).where(metric_filters.c.group_id == f.group_id)
    ).scalar_one()
    if not left:  # a filter created later starts from its own creation
        drop_cursor(conn, f.group_id)


def remove_all(conn: Connection, group: Group) -> None:
    conn.execute(delete(metric_filters).where(metric_filters.c.group_id == group.id))
    drop_cursor(conn, group.id)


def listed(
    conn: Connection,
    account: str,
    region: str,
    *,
    group: Group | None,
    prefix: str | None,
    metric: tuple[str, str] | None,
) -> list[tuple[str, MetricFilter]]:
    """(group name, filter) in the account and Region, by group then filter name."""
    q = (
        select(groups.c.name, *_COLUMNS)
        .join(groups, groups.c.id == metric_filters.c.group_id)
        .where(groups.c.account == account, groups.c.region == region)
    )
    if group is not None:
        q = q.where(metric_filters.c.group_id == group.id)
    if prefix:
        q = q.where(metric_filters.c.name.startswith(prefix, autoescape=True))
    out = []
    for row in conn.execute(q.order_by(groups.c.name, metric_filters.c.name)):
        f = MetricFilter(*row[1:])
        if metric is not None and not any(
            (t.get("metricName"), t.get("metricNamespace")) == metric for t in f.transformations
        ):
            continue
        out.append((row[0], f))
    return out


# --------------------------------------------------------------------------- publishing cursors


def start_cursor(conn: Connection, group_id: int) -> None:
    """A group's first metric filter reads the batches stored from now on:
    AWS's filters apply to the events ingested after they were created."""
    if (
        conn.execute(
            select(metric_filter_cursors.c.group_id).where(
                metric_filter_cursors.c.group_id == group_id
            )
        ).first()
        is not None
    ):
        return
    last = conn.execute(
        select(func.max(batches.c.id)).where(batches.c.group_id == group_id)
    ).scalar_one_or_none()
    conn.execute(insert(metric_filter_cursors).values(group_id=group_id, last_batch=last or 0))


def cursors(conn: Connection) -> list[tuple[int, int]]:
    """(group id, last published batch id) of every group with metric filters."""
    q = (
        select(metric_filter_cursors.c.group_id, metric_filter_cursors.c.last_batch)
        .where(metric_filter_cursors.c.group_id.in_(select(metric_filters.c.group_id).distinct()))
        .order_by(metric_filter_cursors.c.group_id)
    )
    return [(g, b) for g, b in conn.execute(q)]


def move_cursor(conn: Connection, group_id: int, last_batch: int) -> None:
    conn.execute(
        update(metric_filter_cursors)
        .where(metric_filter_cursors.c.group_id == group_id)
        .values(last_batch=last_batch)
    )


def drop_cursor(conn: Connection, group_id: int) -> None:
    conn.execute(delete(metric_filter_cursors).where(metric_filter_cursors.c.group_id == group_id))


def of_group(conn: Connection, group_id: int) -> list[MetricFilter]:
    q = select(*_COLUMNS).where(metric_filters.c.group_id == group_id)
    return [MetricFilter(*row) for row in conn.execute(q.order_by(metric_filters.c.name))]


def batches_after(
    conn: Connection, group_id: int, after: int, limit: int
) -> list[tuple[int, int, int | None, bytes]]:
    """(batch id, ingestion ms, data key id, payload) of the group's batches
    stored after batch `after`, oldest first."""
    q = (
        select(batches.c.id, batches.c.ingestion, batches.c.data_key_id, batches.c.payload)
        .where(batches.c.group_id == group_id, batches.c.id > after)
        .order_by(batches.c.id)
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(q)]  # type: ignore[misc]
