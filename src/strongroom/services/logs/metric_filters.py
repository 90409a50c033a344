"""Metric filters: the domain layer. A filter is a compiled-once pattern on
a log group and the metric it would publish (CloudWatch metrics are not
served yet: filters are kept, described, counted and tested, not run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.services.logs.groups import Group
from strongroom.services.logs.tables import groups, metric_filters

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


def remove_all(conn: Connection, group: Group) -> None:
    conn.execute(delete(metric_filters).where(metric_filters.c.group_id == group.id))


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
