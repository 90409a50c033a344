"""CloudTrail operations over the audit events the pipeline records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom.audit import records
from strongroom.audit.records import StoredEvent, facet
from strongroom.encoding import json_text
from strongroom.framework import Call, paging
from strongroom.ids import uuid7_millis
from strongroom.services.cloudtrail.service import service

errors = service.errors

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
#: A scan position, (batch seq, index in the batch), and its event.
Found = tuple[int, int, StoredEvent]

#: The token is the scan position of the last event returned, bound to the
#: lookup's filters ("a token that was previously used in a request with
#: different parameters" is InvalidNextTokenException).
LOOKUP = paging.CLOUDTRAIL.listing("Events", default=50, maximum=50)
#: A token's position: (batch seq, index), both numbers a scan returns.
_POSITION_TYPES = (int, int)


def _scan_position(position: tuple[Any, ...]) -> bool:
    return 0 <= position[0] < 2**63 and 0 <= position[1] < 2**31


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
    attributes = LookupAttributes or []
    if len(attributes) > 1:
        raise errors.InvalidLookupAttributesException(
            "You cannot specify more than one lookup attribute."
        )
    LOOKUP.size(call, MaxResults)
    now = call.now
    end = (EndTime or now).timestamp()
    start = (StartTime or (now - LOOKUP_WINDOW)).timestamp()
    if start > end:
        raise errors.InvalidTimeRangeException("Start time must be before end time.")
    if EventCategory == "insight":
        return {"Events": []}
    scope = (attributes, StartTime, EndTime)
    # A bad token is refused before the filters are looked at.
    LOOKUP.after(call, NextToken, key_types=_POSITION_TYPES, valid=_scan_position, scope=scope)
    facets = [facet("a", call.account, call.region)]
    match: Match = _any_event
    window: tuple[float, float] | None = None
    for attr in attributes:
        match, window = _attribute_filter(
            call, attr["AttributeKey"], attr["AttributeValue"], facets
        )

    def lookup(low: float, high: float, before: Any, limit: int) -> list[Found]:
        found: list[Found] = []
        for seq, index, event in records.scan(
            call.conn, start=low, end=high, facets=facets, before=before
        ):
            if (
                event.account == call.account
                and event.region == call.region
                and event.management
                and start <= event.event_time <= end
                and match(event)
            ):
                found.append((seq, index, event))
                if len(found) == limit:
                    break
        return found

    def rows(before: Any, limit: int) -> list[Found]:
        found = (
            []
            if window is None
            else lookup(max(start, window[0]), min(end, window[1]), before, limit)
        )
        # No window, or an id not made from its event's time.
        return found or lookup(start, end, before, limit)

    def project(page: list[Found]) -> list[dict[str, Any]]:
        events = [event for _, _, event in page]
        rendered = records.render_events(call.conn, events)
        return [_to_event(e, r) for e, r in zip(events, rendered, strict=True)]

    return LOOKUP.over_keyset(
        call,
        rows,
        NextToken,
        MaxResults,
        key=lambda found: found[:2],
        scope=scope,
        key_types=_POSITION_TYPES,
        valid=_scan_position,
        project=project,
    )


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
            raise errors.InvalidLookupAttributesException("ReadOnly must be true or false.")
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
    raise errors.InvalidLookupAttributesException(f"Lookup attribute key {key} is not valid.")


def _id_window(event_id: str) -> tuple[float, float] | None:
    """The times an event with this id can have: the recorder makes ids as
    version 7 UUIDs of the event's time, to the millisecond."""
    millis = uuid7_millis(event_id)
    if millis is None:
        return None
    return (millis - 1) / 1000, (millis + 2) / 1000


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
