"""Log events: PutLogEvents, GetLogEvents, FilterLogEvents, TestMetricFilter."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import crypto, events, groups, ingest, pattern, protection
from strongroom.services.logs.groups import GROUP_TYPE, Group
from strongroom.services.logs.service import BAD_TOKEN, PAGING, errors, service

FILTER = PAGING.listing("events", default=10_000, maximum=10_000)
#: GetLogEvents' tokens before any event and after every one.
_START = (-1, 0, 0)
INVALID_PATTERN = "Invalid filter pattern"
#: How long one FilterLogEvents request scans before it answers with what
#: it found and a nextToken (the event loop serves others meanwhile).
SCAN_BUDGET = 0.25


def now_ms(call: Call) -> int:
    return int(call.clock.timestamp() * 1000)


def compiled(text: str | None) -> pattern.Pattern:
    try:
        return pattern.compile(text)
    except pattern.PatternError as err:
        raise errors.InvalidParameterException(f"{INVALID_PATTERN}: {err}") from None


def _limit(limit: int | None) -> int:
    if limit is None:
        return events.MAX_EVENTS
    if not 1 <= limit <= events.MAX_EVENTS:
        raise errors.InvalidParameterException(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value less than or equal to 10000"
        )
    return limit


@service.operation(authorize=False)
def put_log_events(
    call: Call,
    logGroupName: str,
    logStreamName: str,
    logEvents: list[dict[str, Any]],
    sequenceToken: str | None = None,
    entity: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:PutLogEvents", logGroupName, stream=logStreamName)
    stream = groups.resolve_stream(call.conn, group, logStreamName)
    stamps, messages = ingest.split(logEvents)
    rejected = ingest.put(call, group, stream, stamps, messages, now_ms(call))
    call.audit_resource(group.arn, GROUP_TYPE)
    # The sequence token is ignored now; AWS still hands one out.
    out: dict[str, Any] = {"nextSequenceToken": f"{stream.id:020d}{now_ms(call):036d}"}
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


def _opener(call: Call, *found: Group) -> events.Opener:
    """Opens the sealed batches a scan meets (a data key is unwrapped only
    when one is met: a group disassociated from its key still holds them)."""
    return crypto.opener(call, {g.id: g for g in found})


def _window(start: int | None, end: int | None) -> tuple[int | None, int | None]:
    """AWS's start (inclusive) and end (exclusive) as an inclusive range."""
    return start, (end - 1 if end is not None else None)


@service.operation(authorize=False)
def get_log_events(
    call: Call,
    logStreamName: str,
    logGroupName: str | None = None,
    logGroupIdentifier: str | None = None,
    startTime: int | None = None,
    endTime: int | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    startFromHead: bool | None = None,
    unmask: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(
        call, "logs:GetLogEvents", logGroupName, logGroupIdentifier, stream=logStreamName
    )
    stream = groups.resolve_stream(call.conn, group, logStreamName)
    n = _limit(limit)
    backward = not startFromHead
    after = None
    if nextToken is not None:
        parsed = events.parse_position(nextToken)
        if parsed is None:
            BAD_TOKEN.raise_for(call)
        assert parsed is not None
        backward, after = parsed[0] == "b", parsed[1]
        if after == _START:
            after = None if not backward else _START
    lo, hi = _window(startTime, endTime)
    if backward and after == _START:
        found: list[events.Event] = []
    else:
        found = events.scan(
            call.conn, group_ids=[group.id], stream_ids=[stream.id], start=lo, end=hi,
            after=after, backward=backward, limit=n, opener=_opener(call, group),
            max_span=group.max_span,
        ).events  # fmt: skip
    if backward:
        found.reverse()
    mask = protection.reader(call, group, unmask)
    out_events = [
        {
            "timestamp": e.timestamp,
            "message": mask(e.message, e.ingestion) if mask else e.message,
            "ingestionTime": e.ingestion,
        }
        for e in found
    ]
    if found:
        forward = events.position_token("f", found[-1].position)
        back = events.position_token("b", found[0].position)
    else:
        same = nextToken or events.position_token("f", _START)
        forward = same if same.startswith("f/") else events.position_token("f", _START)
        back = same if same.startswith("b/") else events.position_token("b", _START)
    return {"events": out_events, "nextForwardToken": forward, "nextBackwardToken": back}


@service.operation(authorize=False)
def filter_log_events(
    call: Call,
    logGroupName: str | None = None,
    logGroupIdentifier: str | None = None,
    logStreamNames: list[str] | None = None,
    logStreamNamePrefix: str | None = None,
    startTime: int | None = None,
    endTime: int | None = None,
    filterPattern: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    interleaved: bool | None = None,
    unmask: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:FilterLogEvents", logGroupName, logGroupIdentifier)
    if logStreamNames is not None and logStreamNamePrefix is not None:
        raise errors.InvalidParameterException(
            "You cannot specify both LogStreamNames and LogStreamNamePrefix."
        )
    compiled_pattern = compiled(filterPattern)
    n = _limit(limit)
    chosen = groups.streams_of(call.conn, group, names=logStreamNames, prefix=logStreamNamePrefix)
    names = {s.id: s.name for s in chosen}
    restricted = logStreamNames is not None or logStreamNamePrefix is not None
    scope = (group.arn, logStreamNames, logStreamNamePrefix, startTime, endTime, filterPattern)
    after = None
    if nextToken is not None:
        place = FILTER.decode(call, nextToken, scope)
        if (
            not isinstance(place, list)
            or len(place) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in place)
        ):
            BAD_TOKEN.raise_for(call)
        after = (place[0], place[1], place[2])
    lo, hi = _window(startTime, endTime)
    # Masked events are what the pattern sees, as AWS masks at ingestion.
    mask = protection.reader(call, group, unmask)
    if restricted and not chosen:
        found = events.Scan([], False)
    else:
        found = events.scan(
            call.conn,
            group_ids=[group.id],
            stream_ids=list(names) if restricted else None,
            start=lo,
            end=hi,
            after=after,
            limit=n,
            match=None if compiled_pattern.kind == "all" else compiled_pattern.match,
            needles=() if mask else compiled_pattern.needles,
            json_needles=compiled_pattern.json_needles,
            opener=_opener(call, group),
            budget=SCAN_BUDGET,
            max_span=group.max_span,
            transform=mask,
        )
    if not restricted:
        names = {s.id: s.name for s in groups.streams_of(call.conn, group)} if found.events else {}
    out: dict[str, Any] = {
        "events": [
            {
                "logStreamName": names.get(e.stream_id, ""),
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion,
                "eventId": e.event_id,
            }
            for e in found.events
        ],
        "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": not found.more} for s in chosen
        ]
        if restricted
        else [],
    }
    if found.resume is not None:  # the time budget ran out: go on from there
        out["nextToken"] = FILTER.encode(call, list(found.resume), scope)
    elif found.more and found.events:
        out["nextToken"] = FILTER.encode(call, list(found.events[-1].position), scope)
    return out


@service.operation
def test_metric_filter(
    call: Call, filterPattern: str, logEventMessages: list[str], **_: Any
) -> dict[str, Any]:
    compiled_pattern = compiled(filterPattern)
    matches = []
    for number, message in enumerate(logEventMessages, start=1):
        if compiled_pattern.match(message):
            matches.append(
                {
                    "eventNumber": number,
                    "eventMessage": message,
                    "extractedValues": compiled_pattern.extract(message),
                }
            )
    return {"matches": matches}
