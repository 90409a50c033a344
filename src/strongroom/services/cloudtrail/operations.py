"""CloudTrail operations over the audit events the pipeline records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, or_, select

from strongroom import tokens
from strongroom.audit import records
from strongroom.audit.tables import events
from strongroom.services.base import Call, Service

service = Service("cloudtrail")

#: LookupEvents reaches back this far, as in AWS.
LOOKUP_WINDOW = timedelta(days=90)

_ATTRIBUTE_COLUMNS = {
    "EventId": events.c.event_id,
    "EventName": events.c.event_name,
    "Username": events.c.username,
    "EventSource": events.c.event_source,
    "AccessKeyId": events.c.access_key_id,
}


@service.operation(flush_audit=True)
def lookup_events(
    call: Call,
    LookupAttributes: list[dict[str, str]] | None = None,
    StartTime: datetime | None = None,
    EndTime: datetime | None = None,
    EventCategory: str | None = None,
    MaxResults: int = 50,
    NextToken: str | None = None,
) -> dict[str, Any]:
    errors = call.service.errors
    attributes = LookupAttributes or []
    if len(attributes) > 1:
        raise errors.InvalidLookupAttributesException(
            "You cannot specify more than one lookup attribute."
        )
    if MaxResults < 1 or MaxResults > 50:
        raise errors.InvalidMaxResultsException("MaxResults must be between 1 and 50.")
    now = call.now
    end = EndTime or now
    start = StartTime or (now - LOOKUP_WINDOW)
    if start > end:
        raise errors.InvalidTimeRangeException("Start time must be before end time.")
    if EventCategory == "insight":
        return {"Events": []}
    conditions = [
        events.c.account == call.account,
        events.c.region == call.region,
        events.c.management.is_(True),
        events.c.event_time >= start.timestamp(),
        events.c.event_time <= end.timestamp(),
    ]
    resource_filter: tuple[str, str] | None = None
    for attr in attributes:
        key, value = attr["AttributeKey"], attr["AttributeValue"]
        if key in _ATTRIBUTE_COLUMNS:
            conditions.append(_ATTRIBUTE_COLUMNS[key] == value)
        elif key == "ReadOnly":
            if value not in ("true", "false"):
                raise errors.InvalidLookupAttributesException("ReadOnly must be true or false.")
            conditions.append(events.c.read_only.is_(value == "true"))
        else:  # ResourceType / ResourceName: narrowed in SQL, decided exactly below
            resource_filter = (key, value)
            conditions.append(events.c.resources.contains(value, autoescape=True))
    if NextToken is not None:
        cursor = _decode_token(call, NextToken)
        conditions.append(
            or_(
                events.c.event_time < cursor[0],
                and_(events.c.event_time == cursor[0], events.c.seq < cursor[1]),
            )
        )
    query = (
        select(
            events.c.seq,
            events.c.event_time,
            events.c.resources,
            events.c.record,
            events.c.event_id,
            events.c.event_name,
            events.c.read_only,
            events.c.access_key_id,
            events.c.event_source,
            events.c.username,
            events.c.account,
            events.c.region,
            events.c.management,
        )
        .where(*conditions)
        .order_by(events.c.event_time.desc(), events.c.seq.desc())
    )
    found: list[Any] = []
    last: tuple[float, int] | None = None
    more = False
    for row in call.conn.execute(
        query.limit(MaxResults * 20 + 1 if resource_filter else MaxResults + 1)
    ):
        if resource_filter and not _has_resource(row.resources, *resource_filter):
            continue
        if len(found) == MaxResults:
            more = True
            break
        found.append(row)
        last = (row.event_time, row.seq)
    rendered = records.render_rows(call.conn, found)
    result: dict[str, Any] = {
        "Events": [_to_event(r, e) for r, e in zip(found, rendered, strict=True)]
    }
    if more and last is not None:
        result["NextToken"] = tokens.encode(list(last))
    return result


def _decode_token(call: Call, token: str) -> tuple[float, int]:
    try:
        value = tokens.decode(token)
        return float(value[0]), int(value[1])
    except (tokens.BadToken, ValueError, TypeError, IndexError, KeyError):
        raise call.service.errors.InvalidNextTokenException("Invalid NextToken.") from None


def _has_resource(resources: str | None, key: str, value: str) -> bool:
    field = "ResourceType" if key == "ResourceType" else "ResourceName"
    return any(r.get(field) == value for r in records.lookup_resources(resources))


def _to_event(row: Any, record: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "EventId": row.event_id,
        "EventName": row.event_name,
        "ReadOnly": "true" if row.read_only else "false",
        "EventTime": datetime.fromtimestamp(int(row.event_time), UTC),
        "EventSource": row.event_source,
        "CloudTrailEvent": orjson.dumps(record).decode(),
    }
    if row.access_key_id:
        event["AccessKeyId"] = row.access_key_id
    if row.username:
        event["Username"] = row.username
    if row.resources:
        event["Resources"] = records.lookup_resources(row.resources)
    return event
