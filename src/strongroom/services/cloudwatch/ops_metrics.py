"""Metrics: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics.

IAM: each acts on ``*`` (CloudWatch metrics have no ARN); PutMetricData
passes the ``cloudwatch:namespace`` condition key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strongroom.framework import Call
from strongroom.services.cloudwatch import datums, metrics, queries
from strongroom.services.cloudwatch.service import PAGING, errors, service

LIST_METRICS = PAGING.listing("Metrics", default=500, maximum=500)
GET_METRIC_DATA = PAGING.listing("MetricDataResults", default=100_800, maximum=100_800)
RECENTLY_ACTIVE = 3 * 3600
#: ListMetrics shows metrics with data put in the last two weeks.
LISTED_FOR = 14 * 86400
MAX_QUERIES = 500


def _when(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@service.operation(authorize=False)
def put_metric_data(
    call: Call,
    Namespace: str,
    MetricData: list[dict[str, Any]] | None = None,
    EntityMetricData: list[dict[str, Any]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": Namespace})
    datums.require_namespace(Namespace)
    now = call.clock.timestamp()
    data = list(MetricData or [])
    for entity in EntityMetricData or []:
        data.extend(entity.get("MetricData") or [])
    if not data:
        raise errors.MissingRequiredParameterException(
            "At least one of the parameters MetricData and EntityMetricData must be specified."
        )
    samples = datums.samples(data, now)
    metrics.put(call.conn, call.account, call.region, Namespace, samples, now)
    return {}


def _require_range(start: datetime, end: datetime) -> tuple[float, float]:
    begin, finish = start.timestamp(), end.timestamp()
    if begin >= finish:
        raise errors.InvalidParameterValueException(
            "The parameter StartTime must be less than the parameter EndTime."
        )
    return begin, finish


@service.operation
def get_metric_statistics(
    call: Call,
    Namespace: str,
    MetricName: str,
    StartTime: datetime,
    EndTime: datetime,
    Period: int,
    Dimensions: list[dict[str, str]] | None = None,
    Statistics: list[str] | None = None,
    ExtendedStatistics: list[str] | None = None,
    Unit: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    if not Statistics and not ExtendedStatistics:
        raise errors.MissingRequiredParameterException(
            "Must specify either Statistics or ExtendedStatistics."
        )
    if Statistics and ExtendedStatistics:
        raise errors.InvalidParameterCombinationException(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you "
            "have specified both."
        )
    for stat in ExtendedStatistics or []:
        queries.require_extended(stat)
    now = call.clock.timestamp()
    begin, finish = _require_range(StartTime, EndTime)
    queries.require_period(Period, begin, now)
    start = queries.rounded_start(begin, Period, now)
    wanted = -(-(int(finish) - start) // Period)
    if wanted > queries.MAX_DATAPOINTS_STATISTICS:
        raise errors.InvalidParameterCombinationException(
            f"You have requested up to {wanted:,} datapoints, which exceeds the limit of "
            f"{queries.MAX_DATAPOINTS_STATISTICS:,}. You may reduce the datapoints requested "
            "by increasing Period, or decreasing the time range."
        )
    metric = metrics.find(
        call.conn, call.account, call.region, Namespace, MetricName,
        metrics.canonical(Dimensions),
    )  # fmt: skip
    points: list[dict[str, Any]] = []
    if metric is not None:
        found = metrics.aggregate(
            call.conn, metric.id, start, int(finish), Period, Unit,
            distributions=bool(ExtendedStatistics),
        )  # fmt: skip
        for (at, unit), agg in sorted(found.items()):
            point: dict[str, Any] = {"Timestamp": _when(at), "Unit": unit}
            for stat in Statistics or []:
                point[stat] = agg.statistic(stat)
            if ExtendedStatistics:
                point["ExtendedStatistics"] = {
                    s: v for s in ExtendedStatistics if (v := agg.statistic(s)) is not None
                }
            points.append(point)
    return {"Label": MetricName, "Datapoints": points}


@service.operation
def get_metric_data(
    call: Call,
    MetricDataQueries: list[dict[str, Any]],
    StartTime: datetime,
    EndTime: datetime,
    NextToken: str | None = None,
    ScanBy: str | None = None,
    MaxDatapoints: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    if len(MetricDataQueries) > MAX_QUERIES:
        raise errors.InvalidParameterValueException(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    now = call.clock.timestamp()
    begin, finish = _require_range(StartTime, EndTime)
    scope = (repr(MetricDataQueries), begin, finish, ScanBy)
    skip = 0
    if NextToken is not None:
        skip = GET_METRIC_DATA.decode(call, NextToken, scope)
        if not isinstance(skip, int) or skip < 0:
            GET_METRIC_DATA._bad_token(call)
    limit = GET_METRIC_DATA.size(call, MaxDatapoints)
    answers = queries.run(
        call.conn, call.account, call.region, MetricDataQueries, int(begin), int(finish), now
    )
    descending = (ScanBy or "TimestampDescending") == "TimestampDescending"
    # The datapoints of all returned queries, in order, are one sequence;
    # a page is a window of it, and the token the window's end.
    results, offset = [], 0
    for answer in answers:
        if not answer.returned:
            continue
        stamps = sorted(answer.series, reverse=descending)
        first = min(max(skip - offset, 0), len(stamps))
        last = min(max(skip + limit - offset, 0), len(stamps))
        taken = stamps[first:last]
        offset += len(stamps)
        results.append(
            {
                "Id": answer.id,
                "Label": answer.label,
                "Timestamps": [_when(t) for t in taken],
                "Values": [answer.series[t] for t in taken],
                "StatusCode": "Complete" if last >= len(stamps) else "PartialData",
            }
        )
    more = skip + limit < offset
    out: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if more:
        out["NextToken"] = GET_METRIC_DATA.encode(call, skip + limit, scope)
    return out


@service.operation
def list_metrics(
    call: Call,
    Namespace: str | None = None,
    MetricName: str | None = None,
    Dimensions: list[dict[str, str]] | None = None,
    NextToken: str | None = None,
    RecentlyActive: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    now = call.clock.timestamp()
    since = now - (RECENTLY_ACTIVE if RecentlyActive == "PT3H" else LISTED_FOR)
    filters = [(d["Name"], d.get("Value")) for d in Dimensions or []]
    return LIST_METRICS.over_keyset(
        call,
        lambda after, n: metrics.listed(
            call.conn,
            call.account,
            call.region,
            namespace=Namespace,
            name=MetricName,
            filters=filters,
            active_since=since,
            after=after,
            limit=n,
        ),
        NextToken,
        None,
        key=metrics.sort_key,
        key_types=(str, str, str),
        scope=(Namespace, MetricName, filters, RecentlyActive),
        project=lambda page: [m.to_metric() for m in page],
    )
