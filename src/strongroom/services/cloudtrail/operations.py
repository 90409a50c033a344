"""CloudTrail operations over the audit events the pipeline records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom import tokens
from strongroom.audit import records
from strongroom.audit.records import StoredEvent, facet
from strongroom.encoding import json_text
from strongroom.framework import Call, Service
from strongroom.ids import uuid7_millis

service = Service("cloudtrail")

#: LookupEvents reaches back this far, as in AWS.
LOOKUP_WINDOW = timedelta(days=90)

#: Lookup attribute -> (the facet kind a batch must have, the event field).
_ATTRIBUTE_FIELDS: dict[str, tuple[str, str]] = {
    "EventName": ("n", "event_name"),
    "Username": ("u", "username"),
    "EventSource": ("s", "event_source"),
    "AccessKeyId": ("k", "access_key_id"),
}

Match = Callable[[StoredEvent], bool]


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
    end = (EndTime or now).timestamp()
    start = (StartTime or (now - LOOKUP_WINDOW)).timestamp()
    if start > end:
        raise errors.InvalidTimeRangeException("Start time must be before end time.")
    if EventCategory == "insight":
        return {"Events": []}
    before = _decode_token(call, NextToken) if NextToken is not None else None
    facets = [facet("a", call.account, call.region)]
    match: Match = _any_event
    window: tuple[float, float] | None = None
    for attr in attributes:
        match, window = _attribute_filter(
            call, attr["AttributeKey"], attr["AttributeValue"], facets
        )

    def lookup(low: float, high: float) -> tuple[list[StoredEvent], tuple[int, int] | None]:
        found: list[StoredEvent] = []
        position = (0, 0)
        for seq, index, event in records.scan(
            call.conn, start=low, end=high, facets=facets, before=before
        ):
            if not (
                event.account == call.account
                and event.region == call.region
                and event.management
                and start <= event.event_time <= end
                and match(event)
            ):
                continue
            if len(found) == MaxResults:
                return found, position
            found.append(event)
            position = (seq, index)
        return found, None

    found, more = (
        ([], None) if window is None else lookup(max(start, window[0]), min(end, window[1]))
    )
    if not found:  # no window, or an id not made from its event's time
        found, more = lookup(start, end)
    rendered = records.render_events(call.conn, found)
    result: dict[str, Any] = {
        "Events": [_to_event(e, r) for e, r in zip(found, rendered, strict=True)]
    }
    if more is not None:
        result["NextToken"] = tokens.encode(list(more))
    return result


def _any_event(_event: StoredEvent) -> bool:
    return True


def _attribute_filter(
    call: Call, key: str, value: str, facets: list[str]
) -> tuple[Match, tuple[float, float] | None]:
    """The exact test for one lookup attribute; adds the facet batches must
    have, and for an EventId the time window its batch lies in."""
    if key in _ATTRIBUTE_FIELDS:
        kind, name = _ATTRIBUTE_FIELDS[key]
        facets.append(facet(kind, value))
        return (lambda e: getattr(e, name) == value), None
    if key == "ReadOnly":
        if value not in ("true", "false"):
            raise call.service.errors.InvalidLookupAttributesException(
                "ReadOnly must be true or false."
            )
        wanted = value == "true"
        return (lambda e: bool(e.read_only) == wanted), None
    if key == "ResourceName":
        facets.append(facet("r", value))
        return (lambda e: any(records.resource_arn(r) == value for r in e.resources or ())), None
    if key == "ResourceType":
        facets.append(facet("t", value))
        return (lambda e: any(records.resource_type(r) == value for r in e.resources or ())), None
    if key == "EventId":
        return (lambda e: e.event_id == value), _id_window(value)
    raise call.service.errors.InvalidLookupAttributesException(
        f"Lookup attribute key {key} is not valid."
    )


def _id_window(event_id: str) -> tuple[float, float] | None:
    """The times an event with this id can have: the recorder makes ids as
    version 7 UUIDs of the event's time, to the millisecond."""
    millis = uuid7_millis(event_id)
    if millis is None:
        return None
    return (millis - 1) / 1000, (millis + 2) / 1000


def _decode_token(call: Call, token: str) -> tuple[int, int]:
    try:
        value = tokens.decode(token)
        seq, index = int(value[0]), int(value[1])
    except (tokens.BadToken, ValueError, TypeError, IndexError, KeyError, OverflowError):
        seq = index = -1
    if not (0 <= seq < 2**63 and 0 <= index < 2**31):  # no position a scan returns
        raise call.service.errors.InvalidNextTokenException("Invalid NextToken.")
    return seq, index


def _to_event(stored: StoredEvent, record: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "EventId": stored.event_id,
        "EventName": stored.event_name,
        "ReadOnly": "true" if stored.read_only else "false",
        "EventTime": datetime.fromtimestamp(int(stored.event_time), UTC),
        "EventSource": stored.event_source,
        "CloudTrailEvent": json_text(record),
    }
    if stored.access_key_id:
        event["AccessKeyId"] = stored.access_key_id
    if stored.username:
        event["Username"] = stored.username
    if stored.resources:
        event["Resources"] = records.lookup_resources(stored.resources)
    return event
