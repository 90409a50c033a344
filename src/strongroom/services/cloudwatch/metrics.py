"""Metrics and their datapoints: the domain layer of PutMetricData,
GetMetricStatistics, GetMetricData, ListMetrics and the alarms' evaluation.

A metric is (account, Region, namespace, name, dimensions); its values are
kept aggregated per bucket (`tables.datapoints`): a minute for standard
resolution, a second for high resolution. Queries sum buckets per period in
SQL; percentiles read the buckets' value distributions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from strongroom.services.cloudwatch.tables import datapoints, metrics

NO_UNIT = "None"
Dimensions = tuple[tuple[str, str], ...]


def canonical(dimensions: Iterable[dict[str, str]] | None) -> Dimensions:
    """Wire dimensions as sorted (name, value) pairs: one metric's identity."""
    return tuple(sorted((d["Name"], d["Value"]) for d in dimensions or ()))


def dims_key(dims: Dimensions) -> str:
    return "\n".join(f"{n}={v}" for n, v in dims)


def to_wire_dimensions(dims: Iterable[Sequence[str]]) -> list[dict[str, str]]:
    return [{"Name": n, "Value": v} for n, v in dims]


@dataclass(slots=True)
class Sample:
    """What one MetricDatum adds to its metric's bucket."""

    name: str
    dims: Dimensions
    bucket: int
    unit: str
    count: float
    total: float
    minimum: float
    maximum: float
    #: [(value, count)] when put as values; None for a statistic set.
    values: list[tuple[float, float]] | None


@dataclass(slots=True)
class Aggregate:
    count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    #: value -> count; None once a statistic set contributed.
    values: dict[float, float] | None = field(default_factory=dict)

    def add(self, count: float, total: float, lo: float, hi: float, dist: Any) -> None:
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)
        if dist is None or self.values is None:
            self.values = None
            return
        for value, n in dist:
            self.values[value] = self.values.get(value, 0.0) + n

    def statistic(self, name: str) -> float | None:
        """SampleCount, Average, Sum, Minimum, Maximum or pNN[.NN]; None when
        the data cannot answer it (a percentile over statistic sets)."""
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.count if self.count else None
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        return self.percentile(float(name[1:]))

    def percentile(self, p: float) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values.items())
        total = sum(n for _, n in ordered)
        rank = max(1.0, math.ceil(p / 100.0 * total))
        seen = 0.0
        for value, n in ordered:
            seen += n
            if seen >= rank:
                return value
        return ordered[-1][0]


# --------------------------------------------------------------------------- writes


#: How stale a metric's last_put may get before a put moves it: ListMetrics
#: asks at a granularity of hours, so a busy metric is not rewritten each put.
LAST_PUT_SLACK = 60.0


def metric_id(
    conn: Connection, account: str, region: str, namespace: str, name: str, dims: Dimensions,
    now: float,
) -> int:  # fmt: skip
    """The metric's id, created on its first datapoint; its last_put moved
    to `now` (when more than a minute old)."""
    key = dims_key(dims)
    found = conn.execute(
        select(metrics.c.id, metrics.c.last_put).where(
            metrics.c.account == account, metrics.c.region == region,
            metrics.c.namespace == namespace, metrics.c.name == name, metrics.c.dims_key == key,
        )
    ).first()  # fmt: skip
    if found is not None:
        if found.last_put < now - LAST_PUT_SLACK:
            conn.execute(update(metrics).where(metrics.c.id == found.id).values(last_put=now))
        return found.id
    return conn.execute(
        insert(metrics).values(
            account=account, region=region, namespace=namespace, name=name, dims_key=key,
            dimensions=[list(d) for d in dims], last_put=now,
        )
    ).inserted_primary_key[0]  # fmt: skip


def put(
    conn: Connection, account: str, region: str, namespace: str, samples: list[Sample],
    now: float,
) -> None:  # fmt: skip
    """Add `samples` to their metrics' buckets. Per metric the request
    touches: one read of its buckets the request names, one batched insert
    of the new ones and one batched update of the others, however many
    values and buckets it holds."""
    ids: dict[tuple[str, Dimensions], int] = {}
    merged: dict[int, dict[tuple[int, str], Aggregate]] = {}
    for s in samples:
        ident = (s.name, s.dims)
        if ident not in ids:
            ids[ident] = metric_id(conn, account, region, namespace, s.name, s.dims, now)
        buckets = merged.setdefault(ids[ident], {})
        buckets.setdefault((s.bucket, s.unit), Aggregate()).add(
            s.count, s.total, s.minimum, s.maximum, s.values
        )
    for mid, buckets in merged.items():
        _merge_buckets(conn, mid, buckets)


def _merge_buckets(conn: Connection, mid: int, buckets: dict[tuple[int, str], Aggregate]) -> None:
    stamps = sorted({ts for ts, _ in buckets})
    stored = conn.execute(
        select(
            datapoints.c.ts, datapoints.c.unit, datapoints.c.sample_count, datapoints.c.sum,
            datapoints.c.minimum, datapoints.c.maximum, datapoints.c.distribution,
        ).where(datapoints.c.metric_id == mid, datapoints.c.ts.in_(stamps))
    )  # fmt: skip
    existing: set[tuple[int, str]] = set()
    for ts, unit, count, total, lo, hi, dist in stored:
        agg = buckets.get((ts, unit))
        if agg is not None:
            agg.add(count, total, lo, hi, dist)
            existing.add((ts, unit))
    new_rows, changed_rows = [], []
    for (ts, unit), agg in buckets.items():
        row = {
            "b_metric": mid, "b_ts": ts, "b_unit": unit, "sample_count": agg.count,
            "sum": agg.total, "minimum": agg.minimum, "maximum": agg.maximum,
            "distribution": None if agg.values is None else [[v, n] for v, n in agg.values.items()],
        }  # fmt: skip
        (changed_rows if (ts, unit) in existing else new_rows).append(row)
    if new_rows:
        conn.execute(
            insert(datapoints).values(
                metric_id=bindparam("b_metric"), ts=bindparam("b_ts"), unit=bindparam("b_unit")
            ),
            new_rows,
        )
    if changed_rows:
        conn.execute(
            update(datapoints).where(
                datapoints.c.metric_id == bindparam("b_metric"),
                datapoints.c.ts == bindparam("b_ts"),
                datapoints.c.unit == bindparam("b_unit"),
            ),
            changed_rows,
        )


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class Metric:
    id: int
    namespace: str
    name: str
    dims: Dimensions

    def to_metric(self) -> dict[str, Any]:
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": to_wire_dimensions(self.dims),
        }


def _metric(row: Any) -> Metric:
    return Metric(row.id, row.namespace, row.name, tuple(tuple(d) for d in row.dimensions))


_METRIC_COLUMNS = (metrics.c.id, metrics.c.namespace, metrics.c.name, metrics.c.dimensions)


def find(
    conn: Connection, account: str, region: str, namespace: str, name: str, dims: Dimensions
) -> Metric | None:
    row = conn.execute(
        select(*_METRIC_COLUMNS).where(
            metrics.c.account == account, metrics.c.region == region,
            metrics.c.namespace == namespace, metrics.c.name == name,
            metrics.c.dims_key == dims_key(dims),
        )
    ).first()  # fmt: skip
    return _metric(row) if row is not None else None


def listed(
    conn: Connection, account: str, region: str, *, namespace: str | None, name: str | None,
    filters: list[tuple[str, str | None]], active_since: float, after: tuple | None, limit: int,
) -> list[Metric]:  # fmt: skip
    """Metrics with data since `active_since` matching the filters (each
    dimension name, with its value unless None), by namespace, name and
    dimensions, after the keyset position `after`."""
    q = select(*_METRIC_COLUMNS, metrics.c.dims_key).where(
        metrics.c.account == account, metrics.c.region == region,
        metrics.c.last_put >= active_since,
    )  # fmt: skip
    if namespace is not None:
        q = q.where(metrics.c.namespace == namespace)
    if name is not None:
        q = q.where(metrics.c.name == name)
    if after is not None:
        q = q.where(
            or_(
                metrics.c.namespace > after[0],
                and_(metrics.c.namespace == after[0], metrics.c.name > after[1]),
                and_(
                    metrics.c.namespace == after[0], metrics.c.name == after[1],
                    metrics.c.dims_key > after[2],
                ),
            )
        )  # fmt: skip
    q = q.order_by(metrics.c.namespace, metrics.c.name, metrics.c.dims_key)
    out: list[Metric] = []
    for row in conn.execute(q):
        metric = _metric(row)
        have = dict(metric.dims)
        if all(n in have and (v is None or have[n] == v) for n, v in filters):
            out.append(metric)
            if len(out) >= limit:
                break
    return out


def sort_key(metric: Metric) -> tuple[str, str, str]:
    return (metric.namespace, metric.name, dims_key(metric.dims))


def aggregate(
    conn: Connection, metric_id: int, start: int, end: int, period: int, unit: str | None,
    *, distributions: bool,
) -> dict[tuple[int, str], Aggregate]:  # fmt: skip
    """The metric's buckets in ``[start, end)`` summed per period (periods
    aligned on `start`) and unit: {(period start, unit): Aggregate}."""
    cond = [datapoints.c.metric_id == metric_id, datapoints.c.ts >= start, datapoints.c.ts < end]
    if unit is not None:
        cond.append(datapoints.c.unit == unit)
    out: dict[tuple[int, str], Aggregate] = {}
    if not distributions:
        slot = (datapoints.c.ts - (datapoints.c.ts - start) % period).label("slot")
        q = (
            select(
                slot, datapoints.c.unit, func.sum(datapoints.c.sample_count),
                func.sum(datapoints.c.sum), func.min(datapoints.c.minimum),
                func.max(datapoints.c.maximum),
            )
            .where(*cond)
            .group_by(slot, datapoints.c.unit)
        )  # fmt: skip
        for at, u, count, total, lo, hi in conn.execute(q):
            agg = Aggregate(values=None)
            agg.add(count, total, lo, hi, None)
            out[(int(at), u)] = agg
        return out
    q = select(
        datapoints.c.ts, datapoints.c.unit, datapoints.c.sample_count, datapoints.c.sum,
        datapoints.c.minimum, datapoints.c.maximum, datapoints.c.distribution,
    ).where(*cond)  # fmt: skip
    for ts, u, count, total, lo, hi, dist in conn.execute(q):
        at = ts - (ts - start) % period
        out.setdefault((at, u), Aggregate()).add(count, total, lo, hi, dist)
    return out


def series(
    conn: Connection, metric_id: int, start: int, end: int, period: int, unit: str | None,
    stat: str,
) -> dict[int, float]:  # fmt: skip
    """One statistic of a metric per period: {period start: value} (units merged)."""
    merged: dict[int, Aggregate] = {}
    percentile = stat.startswith("p")
    for (at, _), agg in aggregate(
        conn, metric_id, start, end, period, unit, distributions=percentile
    ).items():
        into = merged.setdefault(at, Aggregate() if percentile else Aggregate(values=None))
        into.add(agg.count, agg.total, agg.minimum, agg.maximum,
                 None if agg.values is None else list(agg.values.items()))  # fmt: skip
    out: dict[int, float] = {}
    for at, agg in merged.items():
        value = agg.statistic(stat)
        if value is not None:
            out[at] = value
    return out
