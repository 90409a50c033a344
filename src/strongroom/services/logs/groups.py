"""Log groups and log streams: the domain layer under the operations.

Names as the model's patterns say: a group 1-512 characters of
``[\\.\\-_/#A-Za-z0-9]``, a stream 1-512 characters without ``:`` or ``*``.
ARNs: a group's ``arn`` is ``arn:aws:logs:<region>:<account>:log-group:<name>:*``
and its ``logGroupArn`` the same without ``:*``; a stream's
``...:log-group:<group>:log-stream:<stream>``. IAM decides a group-level
action on ``...:log-group:<name>:log-stream:`` (AWS's resource for them, so
a policy on ``log-group:<name>:*`` covers the group and its streams) and an
account-level one on ``...:log-group::log-stream:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from strongroom.framework import Call, tagging
from strongroom.framework.paging import after_position
from strongroom.framework.tagging import Tag
from strongroom.services.logs import resource_policies
from strongroom.services.logs.service import TAGS, errors
from strongroom.services.logs.tables import (
    batches,
    data_keys,
    data_protection,
    groups,
    streams,
    subscription_filters,
)
from strongroom.store.db import Prepared

GROUP_TYPE = "AWS::Logs::LogGroup"
STREAM_TYPE = "AWS::Logs::LogStream"
_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}\Z")
CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY")
#: AWS's allowed retentionInDays.
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip
GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."


def group_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def stream_arn(account: str, region: str, group: str, stream: str) -> str:
    return f"{group_arn(account, region, group)}:log-stream:{stream}"


def account_resource(call: Call) -> str:
    """The resource IAM sees for account-level actions (DescribeLogGroups)."""
    return f"arn:aws:logs:{call.region}:{call.account}:log-group::log-stream:"


@dataclass(slots=True)
class Group:
    id: int
    account: str
    region: str
    name: str
    created: int
    retention_days: int | None
    log_group_class: str
    deletion_protection: bool
    kms_key_id: str | None
    data_key: bytes | None
    data_key_id: int | None
    tags: list[list[str]]
    stored_bytes: int
    max_span: int = 0

    @property
    def arn(self) -> str:
        return group_arn(self.account, self.region, self.name)

    @property
    def resource(self) -> str:
        """What IAM decides group-level actions on."""
        return f"{self.arn}:log-stream:"

    def tag_list(self) -> list[Tag]:
        return TAGS.from_rows(self.tags)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logGroupName": self.name,
            "creationTime": self.created,
            "metricFilterCount": 0,
            "arn": f"{self.arn}:*",
            "storedBytes": self.stored_bytes,
            "logGroupClass": self.log_group_class,
            "logGroupArn": self.arn,
            "deletionProtectionEnabled": bool(self.deletion_protection),
        }
        if self.retention_days is not None:
            out["retentionInDays"] = self.retention_days
        if self.kms_key_id is not None:
            out["kmsKeyId"] = self.kms_key_id
        return out


@dataclass(slots=True)
class Stream:
    id: int
    group_id: int
    name: str
    created: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int

    def describe(self, group: Group) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logStreamName": self.name,
            "creationTime": self.created,
            "arn": stream_arn(group.account, group.region, group.name, self.name),
            # No longer reported for streams (AWS: always zero since 2019).
            "storedBytes": 0,
        }
        if self.first_event is not None:
            out["firstEventTimestamp"] = self.first_event
            out["lastEventTimestamp"] = self.last_event
            out["lastIngestionTime"] = self.last_ingestion
        return out


_GROUP_COLUMNS = [groups.c[f.name] for f in Group.__dataclass_fields__.values()]  # type: ignore[attr-defined]
_STREAM_COLUMNS = [streams.c[f.name] for f in Stream.__dataclass_fields__.values()]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- names


def require_group_name(name: str) -> None:
    if not _GROUP_NAME.match(name):
        raise errors.InvalidParameterException(
            f"1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )


def require_stream_name(name: str) -> None:
    if not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise errors.InvalidParameterException(
            f"1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [^:*]*"
        )


def parse_identifier(call: Call, identifier: str) -> tuple[str, str, str]:
    """(account, region, name) of a logGroupIdentifier: a name, or a group's
    ARN (with or without ``:*``)."""
    if identifier.startswith("arn:"):
        parts = identifier.split(":", 5)
        if len(parts) < 6 or parts[2] != "logs" or not parts[5].startswith("log-group:"):
            raise errors.InvalidParameterException(f"Invalid log group identifier: {identifier}")
        name = parts[5][len("log-group:") :]
        if name.endswith(":*"):
            name = name[:-2]
        return parts[4], parts[3], name
    return call.account, call.region, identifier


def group_identifier(call: Call, name: str | None, identifier: str | None) -> tuple[str, str, str]:
    if name is not None and identifier is not None:
        raise errors.InvalidParameterException(
            "LogGroupName and LogGroupIdentifier are mutually exclusive parameters."
        )
    if name is None and identifier is None:
        raise errors.InvalidParameterException(
            "Either LogGroupName or LogGroupIdentifier must be provided."
        )
    if identifier is not None:
        return parse_identifier(call, identifier)
    assert name is not None
    return call.account, call.region, name


# --------------------------------------------------------------------------- groups


def _group(row: Any) -> Group:
    g = Group(*row)
    g.tags = [list(t) for t in g.tags] if g.tags else []
    g.deletion_protection = bool(g.deletion_protection)
    return g


#: The look-ups on every request's path, compiled once (`Prepared`).
_FIND = Prepared(
    select(*_GROUP_COLUMNS).where(
        groups.c.account == bindparam("account"),
        groups.c.region == bindparam("region"),
        groups.c.name == bindparam("name"),
    )
)
_FIND_STREAM = Prepared(
    select(*_STREAM_COLUMNS).where(
        streams.c.group_id == bindparam("group_id"), streams.c.name == bindparam("name")
    )
)


def find(conn: Connection, account: str, region: str, name: str) -> Group | None:
    row = _FIND.first(conn, account=account, region=region, name=name)
    return _group(row) if row is not None else None


def resolve(
    call: Call,
    action: str,
    name: str | None = None,
    identifier: str | None = None,
    *,
    context: dict[str, Any] | None = None,
    stream: str | None = None,
) -> Group:
    """The group a request names, once IAM allows `action` on it (on the
    stream's ARN when `stream` is given); ResourceNotFoundException when it
    is not there."""
    account, region, gname = group_identifier(call, name, identifier)
    if stream is not None:
        resource = stream_arn(account, region, gname, stream)
    else:
        resource = f"{group_arn(account, region, gname)}:log-stream:"
    group = find(call.conn, account, region, gname) if region == call.region else None
    ctx = dict(context or {})
    if group is not None:
        ctx.update(tagging.resource_context(group.tag_list()))
    policy = resource_policies.effective(call, account, region, group_arn(account, region, gname))
    call.authorize(action, resource, ctx, resource_policy=policy, resource_account=account)
    if group is None:
        raise errors.ResourceNotFoundException(GROUP_NOT_FOUND)
    return group


def groups_by_id(conn: Connection, ids: list[int]) -> list[Group]:
    """The groups of `ids` still there, in that order."""
    found = {
        g.id: g
        for g in map(_group, conn.execute(select(*_GROUP_COLUMNS).where(groups.c.id.in_(ids))))
    }
    return [found[i] for i in ids if i in found]


def insert_group(conn: Connection, group: Group) -> Group:
    values = {f: getattr(group, f) for f in Group.__dataclass_fields__ if f != "id"}  # type: ignore[attr-defined]
    group.id = conn.execute(insert(groups).values(**values)).inserted_primary_key[0]
    return group


def save(conn: Connection, group: Group, *names: str) -> None:
    conn.execute(
        update(groups).where(groups.c.id == group.id).values({n: getattr(group, n) for n in names})
    )


def delete_group(conn: Connection, group: Group) -> None:
    ids = select(streams.c.id).where(streams.c.group_id == group.id)
    conn.execute(delete(batches).where(batches.c.group_id == group.id))
    conn.execute(delete(streams).where(streams.c.id.in_(ids.scalar_subquery())))
    conn.execute(delete(data_keys).where(data_keys.c.group_id == group.id))
    conn.execute(delete(subscription_filters).where(subscription_filters.c.group_id == group.id))
    conn.execute(delete(data_protection).where(data_protection.c.group_id == group.id))
    resource_policies.remove_for_group(conn, group.account, group.region, group.arn)
    conn.execute(delete(groups).where(groups.c.id == group.id))


def group_page(
    conn: Connection,
    account: str,
    region: str,
    after: Sequence[Any] | None,
    n: int,
    *,
    prefix: str | None = None,
    pattern: str | None = None,
    log_group_class: str | None = None,
    names: list[str] | None = None,
) -> list[Group]:
    """At most `n` groups after the name `after`, by name."""
    q = select(*_GROUP_COLUMNS).where(groups.c.account == account, groups.c.region == region)
    if prefix:
        q = q.where(groups.c.name.startswith(prefix, autoescape=True))
    if pattern:
        q = q.where(func.lower(groups.c.name).contains(pattern.lower(), autoescape=True))
    if log_group_class:
        q = q.where(groups.c.log_group_class == log_group_class)
    if names is not None:
        q = q.where(groups.c.name.in_(names))
    if after is not None:
        q = q.where(after_position([groups.c.name], after))
    return [_group(r) for r in conn.execute(q.order_by(groups.c.name).limit(n))]


def due_for_expiry(conn: Connection) -> list[Group]:
    q = select(*_GROUP_COLUMNS).where(groups.c.retention_days.is_not(None))
    return [_group(r) for r in conn.execute(q)]


# --------------------------------------------------------------------------- streams


def find_stream(conn: Connection, group: Group, name: str) -> Stream | None:
    row = _FIND_STREAM.first(conn, group_id=group.id, name=name)
    return Stream(*row) if row is not None else None


def resolve_stream(conn: Connection, group: Group, name: str) -> Stream:
    stream = find_stream(conn, group, name)
    if stream is None:
        raise errors.ResourceNotFoundException(STREAM_NOT_FOUND)
    return stream


def insert_stream(conn: Connection, group: Group, name: str, created: int) -> Stream:
    stream_id = conn.execute(
        insert(streams).values(group_id=group.id, name=name, created=created, stored_bytes=0)
    ).inserted_primary_key[0]
    return Stream(stream_id, group.id, name, created, None, None, None, 0)


def delete_stream(conn: Connection, group: Group, stream: Stream) -> None:
    removed = conn.execute(
        select(func.coalesce(func.sum(batches.c.bytes), 0)).where(batches.c.stream_id == stream.id)
    ).scalar_one()
    conn.execute(delete(batches).where(batches.c.stream_id == stream.id))
    conn.execute(delete(streams).where(streams.c.id == stream.id))
    if removed:
        conn.execute(
            update(groups)
            .where(groups.c.id == group.id)
            .values(stored_bytes=groups.c.stored_bytes - int(removed))
        )


def streams_of(
    conn: Connection,
    group: Group,
    *,
    names: list[str] | None = None,
    prefix: str | None = None,
) -> list[Stream]:
    q = select(*_STREAM_COLUMNS).where(streams.c.group_id == group.id)
    if names is not None:
        q = q.where(streams.c.name.in_(names))
    if prefix:
        q = q.where(streams.c.name.startswith(prefix, autoescape=True))
    return [Stream(*r) for r in conn.execute(q.order_by(streams.c.name))]


def stream_page(
    conn: Connection,
    group: Group,
    after: Sequence[Any] | None,
    n: int,
    *,
    prefix: str | None,
    by_time: bool,
    descending: bool,
) -> list[Stream]:
    """At most `n` streams after `after`: by name, or (`by_time`) by the
    last event's timestamp (streams without one first), then name."""
    q = select(*_STREAM_COLUMNS).where(streams.c.group_id == group.id)
    if prefix:
        q = q.where(streams.c.name.startswith(prefix, autoescape=True))
    if by_time:
        last = func.coalesce(streams.c.last_event, -1)
        cols = [last, streams.c.name]
    else:
        cols = [streams.c.name]
    if after is not None:
        q = q.where(after_position(cols, after, descending=descending))
    order = [c.desc() for c in cols] if descending else cols
    return [Stream(*r) for r in conn.execute(q.order_by(*order).limit(n))]


def _least(column: Any, value: Any) -> Any:
    return case((or_(column.is_(None), column > value), value), else_=column)


def _greatest(column: Any, value: Any) -> Any:
    return case((or_(column.is_(None), column < value), value), else_=column)


_STREAM_TOTALS = Prepared(
    update(streams)
    .where(streams.c.id == bindparam("stream_id"))
    .values(
        first_event=_least(streams.c.first_event, bindparam("first", type_=BigInteger)),
        last_event=_greatest(streams.c.last_event, bindparam("last", type_=BigInteger)),
        last_ingestion=bindparam("now", type_=BigInteger),
        stored_bytes=streams.c.stored_bytes + bindparam("size", type_=BigInteger),
    )
)
_GROUP_TOTALS = Prepared(
    update(groups)
    .where(groups.c.id == bindparam("group_id"))
    .values(
        stored_bytes=groups.c.stored_bytes + bindparam("size", type_=BigInteger),
        max_span=case(
            (
                groups.c.max_span < bindparam("span", type_=BigInteger),
                bindparam("span2", type_=BigInteger),
            ),
            else_=groups.c.max_span,
        ),
    )
)


def record_batch(
    conn: Connection, group: Group, stream: Stream, first: int, last: int, now: int, size: int
) -> None:
    """The stream's and group's totals after a batch was stored."""
    _STREAM_TOTALS.rowcount(conn, stream_id=stream.id, first=first, last=last, now=now, size=size)
    _GROUP_TOTALS.rowcount(
        conn, group_id=group.id, size=size, span=last - first, span2=last - first
    )
    group.max_span = max(group.max_span, last - first)
