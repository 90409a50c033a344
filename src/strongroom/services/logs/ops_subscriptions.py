"""Subscription filters: PutSubscriptionFilter, DescribeSubscriptionFilters,
DeleteSubscriptionFilter (delivery: `subscriptions.logs_subscriptions`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import groups, subscriptions
from strongroom.services.logs.groups import GROUP_TYPE
from strongroom.services.logs.ops_events import compiled
from strongroom.services.logs.service import PAGING, errors, service
from strongroom.services.logs.subscriptions import MAX_PER_GROUP, SubscriptionFilter

DESCRIBE = PAGING.listing("subscriptionFilters", default=50, maximum=50)


def _require_role(role_arn: str | None) -> None:
    """A role, when given, must be an IAM role's ARN (AWS uses it only for
    Kinesis and Firehose destinations; a Lambda destination needs none)."""
    if role_arn is None:
        return
    parts = role_arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise errors.InvalidParameterException(f"Invalid role ARN: {role_arn}")


@service.operation(authorize=False)
def put_subscription_filter(
    call: Call,
    logGroupName: str,
    filterName: str,
    filterPattern: str,
    destinationArn: str,
    roleArn: str | None = None,
    distribution: str | None = None,
    applyOnTransformedLogs: bool | None = None,
    fieldSelectionCriteria: str | None = None,
    emitSystemFields: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:PutSubscriptionFilter", logGroupName)
    compiled(filterPattern)
    _require_role(roleArn)
    subscriptions.require_lambda_destination(destinationArn)
    existing = subscriptions.find(call.conn, group, filterName)
    if existing is None and len(subscriptions.of_group(call.conn, group)) >= MAX_PER_GROUP:
        raise errors.LimitExceededException("Resource limit exceeded.")
    subscriptions.require_invokable(call, group, destinationArn)
    f = SubscriptionFilter(
        group.id, filterName, filterPattern, destinationArn, roleArn,
        distribution or "ByLogStream",
        existing.created if existing else int(call.clock.timestamp() * 1000),
        bool(applyOnTransformedLogs), fieldSelectionCriteria,
        list(emitSystemFields) if emitSystemFields else None,
        # Events ingested from now on (an update keeps its place).
        existing.cursor if existing else subscriptions.newest_batch(call.conn, group),
    )  # fmt: skip
    subscriptions.save(call.conn, f, new=existing is None)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def delete_subscription_filter(
    call: Call, logGroupName: str, filterName: str, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteSubscriptionFilter", logGroupName)
    found = subscriptions.find(call.conn, group, filterName)
    if found is None:
        raise errors.ResourceNotFoundException("The specified subscription filter does not exist.")
    subscriptions.remove(call.conn, found)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def describe_subscription_filters(
    call: Call,
    logGroupName: str,
    filterNamePrefix: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DescribeSubscriptionFilters", logGroupName)
    found = [
        f.describe(group.name)
        for f in subscriptions.of_group(call.conn, group, prefix=filterNamePrefix)
    ]
    return DESCRIBE.over_list(call, found, nextToken, limit, scope=(group.arn, filterNamePrefix))
