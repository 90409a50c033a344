"""Log groups and log streams: create, delete, describe, tags, retention."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, tagging
from strongroom.framework.tagging import Tag
from strongroom.services.logs import crypto, groups, metric_filters, protection
from strongroom.services.logs.groups import GROUP_TYPE, RETENTION_DAYS, Group
from strongroom.services.logs.service import PAGING, TAGS, errors, service

DESCRIBE_GROUPS = PAGING.listing("logGroups", default=50, maximum=50)
LIST_GROUPS = PAGING.listing("logGroups", default=50, maximum=1000)
DESCRIBE_STREAMS = PAGING.listing("logStreams", default=50, maximum=50)


def _tags(tags: dict[str, str] | None) -> list[Tag]:
    return [Tag(k, v) for k, v in (tags or {}).items()]


def _wire_tags(tags: list[Tag]) -> dict[str, str]:
    return {t.key: t.value for t in tags}


# --------------------------------------------------------------------------- groups


@service.operation(authorize=False)
def create_log_group(
    call: Call,
    logGroupName: str,
    kmsKeyId: str | None = None,
    tags: dict[str, str] | None = None,
    logGroupClass: str | None = None,
    deletionProtectionEnabled: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    new_tags = _tags(tags)
    arn = groups.group_arn(call.account, call.region, logGroupName)
    call.authorize(
        "logs:CreateLogGroup", f"{arn}:log-stream:", tagging.request_context(new_tags or None)
    )
    if new_tags:
        call.authorize("logs:TagResource", f"{arn}:log-stream:", tagging.request_context(new_tags))
    groups.require_group_name(logGroupName)
    TAGS.require_valid(call, new_tags)
    if groups.find(call.conn, call.account, call.region, logGroupName) is not None:
        raise errors.ResourceAlreadyExistsException("The specified log group already exists")
    group = Group(
        0, call.account, call.region, logGroupName, _now_ms(call), None, logGroupClass or "STANDARD", bool(deletionProtectionEnabled), None, None, None,
        TAGS.to_rows(new_tags), 0,
    )  # fmt: skip
    groups.insert_group(call.conn, group)
    call.audit_resource(group.arn, GROUP_TYPE)
    if kmsKeyId is not None:
        crypto.associate(call, group, kmsKeyId)
    return {}


@service.operation(authorize=False)
def delete_log_group(call: Call, logGroupName: str, **_: Any) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteLogGroup", logGroupName)
    if group.deletion_protection:
        raise errors.OperationAbortedException(
            "Log group deletion protection is enabled. Disable it before deleting the log group."
        )
    call.audit_resource(group.arn, GROUP_TYPE)
    metric_filters.remove_all(call.conn, group)
    groups.delete_group(call.conn, group)
    return {}


def _describe_groups(
    call: Call,
    listing: Any,
    *,
    prefix: str | None,
    pattern: str | None,
    log_group_class: str | None,
    names: list[str] | None,
    token: str | None,
    limit: int | None,
) -> dict[str, Any]:
    if prefix is not None and pattern is not None:
        raise errors.InvalidParameterException(
            "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters."
        )
    return listing.over_keyset(
        call,
        lambda after, n: groups.group_page(
            call.conn,
            call.account,
            call.region,
            after,
            n,
            prefix=prefix,
            pattern=pattern,
            log_group_class=log_group_class,
            names=names,
        ),
        token,
        limit,
        key=lambda g: (g.name,),
        key_types=(str,),
        scope=(prefix, pattern, log_group_class, names),
        project=lambda page: _described(call, page),
    )


def _described(call: Call, page: list[Group]) -> list[dict[str, Any]]:
    filters = metric_filters.counts(call.conn, [g.id for g in page])
    protected = protection.protected(call.conn, call.account, call.region, [g.id for g in page])
    out = []
    for g in page:
        entry = g.describe()
        entry["metricFilterCount"] = filters.get(g.id, 0)
        if g.id in protected:
            entry["dataProtectionStatus"] = "ACTIVATED"
        out.append(entry)
    return out


@service.operation(authorize=False)
def describe_log_groups(
    call: Call,
    accountIdentifiers: list[str] | None = None,
    logGroupNamePrefix: str | None = None,
    logGroupNamePattern: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    includeLinkedAccounts: bool | None = None,
    logGroupClass: str | None = None,
    logGroupIdentifiers: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:DescribeLogGroups", groups.account_resource(call))
    names = None
    if logGroupIdentifiers is not None:
        names = []
        for ident in logGroupIdentifiers:
            account, region, name = groups.parse_identifier(call, ident)
            if (account, region) == (call.account, call.region):
                names.append(name)
    return _describe_groups(
        call, DESCRIBE_GROUPS, prefix=logGroupNamePrefix, pattern=logGroupNamePattern,
        log_group_class=logGroupClass, names=names, token=nextToken, limit=limit,
    )  # fmt: skip


def list_log_groups(
    call: Call,
    logGroupNamePattern: str | None = None,
    logGroupClass: str | None = None,
    includeLinkedAccounts: bool | None = None,
    accountIdentifiers: list[str] | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:ListLogGroups", groups.account_resource(call))
    out = _describe_groups(
        call, LIST_GROUPS, prefix=None, pattern=logGroupNamePattern,
        log_group_class=logGroupClass, names=None, token=nextToken, limit=limit,
    )  # fmt: skip
    out["logGroups"] = [
        {"logGroupName": g["logGroupName"], "logGroupArn": g["logGroupArn"],
         "logGroupClass": g["logGroupClass"]}
        for g in out["logGroups"]
    ]  # fmt: skip
    return out


# ListLogGroups is newer than some botocore releases we run on.
if "ListLogGroups" in service.model.operation_names:
    service.operation(authorize=False)(list_log_groups)


# --------------------------------------------------------------------------- streams


@service.operation(authorize=False)
def create_log_stream(
    call: Call, logGroupName: str, logStreamName: str, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:CreateLogStream", logGroupName, stream=logStreamName)
    groups.require_stream_name(logStreamName)
    if groups.find_stream(call.conn, group, logStreamName) is not None:
        raise errors.ResourceAlreadyExistsException("The specified log stream already exists")
    groups.insert_stream(call.conn, group, logStreamName, _now_ms(call))
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def delete_log_stream(
    call: Call, logGroupName: str, logStreamName: str, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteLogStream", logGroupName, stream=logStreamName)
    stream = groups.resolve_stream(call.conn, group, logStreamName)
    groups.delete_stream(call.conn, group, stream)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def describe_log_streams(
    call: Call,
    logGroupName: str | None = None,
    logGroupIdentifier: str | None = None,
    logStreamNamePrefix: str | None = None,
    orderBy: str | None = None,
    descending: bool | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DescribeLogStreams", logGroupName, logGroupIdentifier)
    by_time = orderBy == "LastEventTime"
    if by_time and logStreamNamePrefix is not None:
        raise errors.InvalidParameterException(
            "Cannot order by LastEventTime with a logStreamNamePrefix."
        )
    desc = bool(descending)
    if by_time:
        key: Any = lambda s: (s.last_event if s.last_event is not None else -1, s.name)  # noqa: E731
        types: tuple[type, ...] = (int, str)
    else:
        key, types = (lambda s: (s.name,)), (str,)
    return DESCRIBE_STREAMS.over_keyset(
        call,
        lambda after, n: groups.stream_page(
            call.conn,
            group,
            after,
            n,
            prefix=logStreamNamePrefix,
            by_time=by_time,
            descending=desc,
        ),
        nextToken,
        limit,
        key=key,
        key_types=types,
        scope=(group.arn, logStreamNamePrefix, orderBy, desc),
        project=lambda page: [s.describe(group) for s in page],
    )


# --------------------------------------------------------------------------- tags


def _group_of_arn(call: Call, arn: str, action: str, context: dict[str, Any]) -> Group:
    if not arn.startswith("arn:") or ":log-group:" not in arn:
        raise errors.InvalidParameterException(f"Invalid resource ARN: {arn}")
    name = arn.split(":log-group:", 1)[1]
    if name.endswith(":*"):
        name = name[:-2]
    if ":log-stream:" in name or not name:
        raise errors.InvalidParameterException(f"Invalid resource ARN: {arn}")
    return groups.resolve(call, action, identifier=arn, context=context)


def _tag(call: Call, group: Group, new: list[Tag]) -> None:
    TAGS.require_valid(call, new)
    merged = TAGS.merged(call, group.tag_list(), new)
    group.tags = TAGS.to_rows(merged)
    groups.save(call.conn, group, "tags")
    call.audit_resource(group.arn, GROUP_TYPE)


def _untag(call: Call, group: Group, keys: list[str]) -> None:
    TAGS.require_removable(call, keys)
    group.tags = TAGS.to_rows(TAGS.without(group.tag_list(), keys))
    groups.save(call.conn, group, "tags")
    call.audit_resource(group.arn, GROUP_TYPE)


@service.operation(authorize=False)
def tag_resource(call: Call, resourceArn: str, tags: dict[str, str], **_: Any) -> dict[str, Any]:
    new = _tags(tags)
    group = _group_of_arn(call, resourceArn, "logs:TagResource", tagging.request_context(new))
    _tag(call, group, new)
    return {}


@service.operation(authorize=False)
def untag_resource(call: Call, resourceArn: str, tagKeys: list[str], **_: Any) -> dict[str, Any]:
    group = _group_of_arn(
        call, resourceArn, "logs:UntagResource", tagging.request_context(keys=tagKeys)
    )
    _untag(call, group, tagKeys)
    return {}


@service.operation(authorize=False)
def list_tags_for_resource(call: Call, resourceArn: str, **_: Any) -> dict[str, Any]:
    group = _group_of_arn(call, resourceArn, "logs:ListTagsForResource", {})
    return {"tags": _wire_tags(group.tag_list())}


@service.operation(authorize=False)
def tag_log_group(call: Call, logGroupName: str, tags: dict[str, str], **_: Any) -> dict[str, Any]:
    new = _tags(tags)
    group = groups.resolve(
        call, "logs:TagLogGroup", logGroupName, context=tagging.request_context(new)
    )
    _tag(call, group, new)
    return {}


@service.operation(authorize=False)
def untag_log_group(call: Call, logGroupName: str, tags: list[str], **_: Any) -> dict[str, Any]:
    group = groups.resolve(
        call, "logs:UntagLogGroup", logGroupName, context=tagging.request_context(keys=tags)
    )
    _untag(call, group, tags)
    return {}


@service.operation(authorize=False)
def list_tags_log_group(call: Call, logGroupName: str, **_: Any) -> dict[str, Any]:
    group = groups.resolve(call, "logs:ListTagsLogGroup", logGroupName)
    return {"tags": _wire_tags(group.tag_list())}


# --------------------------------------------------------------------------- retention


@service.operation(authorize=False)
def put_retention_policy(
    call: Call, logGroupName: str, retentionInDays: int, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:PutRetentionPolicy", logGroupName)
    if retentionInDays not in RETENTION_DAYS:
        raise errors.InvalidParameterException(
            f"1 validation error detected: Value '{retentionInDays}' at 'retentionInDays' failed "
            "to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(str(d) for d in RETENTION_DAYS)}]"
        )
    group.retention_days = retentionInDays
    groups.save(call.conn, group, "retention_days")
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def delete_retention_policy(call: Call, logGroupName: str, **_: Any) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteRetentionPolicy", logGroupName)
    group.retention_days = None
    groups.save(call.conn, group, "retention_days")
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


def _now_ms(call: Call) -> int:
    return int(call.clock.timestamp() * 1000)
