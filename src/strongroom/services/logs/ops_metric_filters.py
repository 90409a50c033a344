"""Metric filters: PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter
(control plane: CloudWatch metrics are not served yet)."""

from __future__ import annotations

import re
from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import groups, metric_filters
from strongroom.services.logs.groups import GROUP_TYPE
from strongroom.services.logs.metric_filters import MAX_PER_GROUP, MetricFilter
from strongroom.services.logs.ops_events import compiled
from strongroom.services.logs.service import PAGING, errors, service

DESCRIBE = PAGING.listing("metricFilters", default=50, maximum=50)
_FIELD = re.compile(r"\$(\.[^\s]+|[A-Za-z0-9_]+)\Z")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\Z")


def _require_transformations(transformations: list[dict[str, Any]]) -> None:
    for t in transformations:
        value = t.get("metricValue", "")
        if not (_NUMBER.match(value) or _FIELD.match(value)):
            raise errors.InvalidParameterException(
                f"Invalid metric value: {value}. A metric value is a number or a field "
                "selector ($.field or $field)."
            )
        dimensions = t.get("dimensions") or {}
        if dimensions and t.get("defaultValue") is not None:
            raise errors.InvalidParameterException(
                "You can't specify both defaultValue and dimensions for a metric transformation."
            )
        if len(dimensions) > 3:
            raise errors.InvalidParameterException(
                "A metric transformation can have at most 3 dimensions."
            )
        for key, selector in dimensions.items():
            if not _FIELD.match(selector):
                raise errors.InvalidParameterException(
                    f"Invalid dimension value for {key}: {selector}. A dimension is a field "
                    "selector ($.field or $field)."
                )


@service.operation(authorize=False)
def put_metric_filter(
    call: Call,
    logGroupName: str,
    filterName: str,
    filterPattern: str,
    metricTransformations: list[dict[str, Any]],
    applyOnTransformedLogs: bool | None = None,
    fieldSelectionCriteria: str | None = None,
    emitSystemFieldDimensions: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:PutMetricFilter", logGroupName)
    compiled(filterPattern)
    _require_transformations(metricTransformations)
    existing = metric_filters.find(call.conn, group, filterName)
    if existing is None and metric_filters.count(call.conn, group) >= MAX_PER_GROUP:
        raise errors.LimitExceededException("Resource limit exceeded.")
    f = MetricFilter(
        group.id, filterName, filterPattern, [dict(t) for t in metricTransformations],
        existing.created if existing else int(call.clock.timestamp() * 1000),
        bool(applyOnTransformedLogs), fieldSelectionCriteria,
        list(emitSystemFieldDimensions) if emitSystemFieldDimensions else None,
    )  # fmt: skip
    metric_filters.save(call.conn, f, new=existing is None)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def delete_metric_filter(
    call: Call, logGroupName: str, filterName: str, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteMetricFilter", logGroupName)
    found = metric_filters.find(call.conn, group, filterName)
    if found is None:
        raise errors.ResourceNotFoundException("The specified metric filter does not exist.")
    metric_filters.remove(call.conn, found)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def describe_metric_filters(
    call: Call,
    logGroupName: str | None = None,
    filterNamePrefix: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    metricName: str | None = None,
    metricNamespace: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = None
    if logGroupName is not None:
        group = groups.resolve(call, "logs:DescribeMetricFilters", logGroupName)
    else:
        call.authorize("logs:DescribeMetricFilters", groups.account_resource(call))
        if filterNamePrefix is not None:
            raise errors.InvalidParameterException(
                "If you specify filterNamePrefix, you must also specify logGroupName."
            )
    if (metricName is None) != (metricNamespace is None):
        raise errors.InvalidParameterException(
            "metricName and metricNamespace must be specified together."
        )
    metric = (metricName, metricNamespace) if metricName is not None else None
    found = [
        f.describe(name)
        for name, f in metric_filters.listed(
            call.conn, call.account, call.region, group=group, prefix=filterNamePrefix,
            metric=metric,  # type: ignore[arg-type]
        )
    ]  # fmt: skip
    scope = (logGroupName, filterNamePrefix, metricName, metricNamespace)
    return DESCRIBE.over_list(call, found, nextToken, limit, scope=scope)
