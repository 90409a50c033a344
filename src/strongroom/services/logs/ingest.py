"""PutLogEvents' rules, shared by the operation and the internal API.

A batch is at most 1,048,576 bytes (the UTF-8 messages plus 26 bytes an
event) and 10,000 events (the model's bound), in chronological order, or
it is refused whole. Events more than 2 hours in the future, more than 14
days old, or older than the group's retention are rejected one by one
(``rejectedLogEventsInfo``) and the rest stored; those may span at most 24
hours. The batch is one row, written in the caller's transaction: stored
once the response is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.framework import Call, JobRun
from strongroom.services.logs import crypto, events, groups
from strongroom.services.logs.groups import Group, Stream
from strongroom.services.logs.service import errors

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENTS = 10_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
TOO_NEW_MS = 2 * HOUR_MS
TOO_OLD_MS = 14 * DAY_MS
SPAN_MS = 24 * HOUR_MS


def put(
    ctx: Call | JobRun,
    group: Group,
    stream: Stream,
    stamps: Sequence[int],
    messages: Sequence[str],
    now: int,
) -> dict[str, int]:
    """Store what may be stored of one batch; its rejectedLogEventsInfo."""
    n = len(stamps)
    if n > MAX_EVENTS:
        raise errors.InvalidParameterException(
            f"Too many log events in the batch: {n} exceeds the limit of {MAX_EVENTS}"
        )
    text = "".join(messages).encode("utf-8", "surrogatepass")
    total = len(text) + EVENT_OVERHEAD * n
    if total > MAX_BATCH_BYTES:
        raise errors.InvalidParameterException(
            f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )
    for i in range(1, n):
        if stamps[i] < stamps[i - 1]:
            raise errors.InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
    rejected: dict[str, int] = {}
    first, last = 0, n  # the accepted slice
    too_old = now - TOO_OLD_MS
    while first < n and stamps[first] < too_old:
        first += 1
    if first:
        rejected["tooOldLogEventEndIndex"] = first - 1
    if group.retention_days is not None:
        expired = now - group.retention_days * DAY_MS
        end = first
        while end < n and stamps[end] < expired:
            end += 1
        if end > first or (first and stamps[first - 1] < expired):
            rejected["expiredLogEventEndIndex"] = end - 1
        first = end
    too_new = now + TOO_NEW_MS
    while last > first and stamps[last - 1] > too_new:
        last -= 1
    if last < n:
        rejected["tooNewLogEventStartIndex"] = last
    if last > first:
        if stamps[last - 1] - stamps[first] > SPAN_MS:
            raise errors.InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours."
            )
        if first == 0 and last == n:
            size = len(text)
        else:
            size = sum(events.message_bytes(m) for m in messages[first:last])
        events.store(
            ctx.conn, group.id, stream.id, stamps[first:last], messages[first:last], now, size,
            seal=crypto.sealer(ctx, group),
        )  # fmt: skip
        groups.record_batch(ctx.conn, group, stream, stamps[first], stamps[last - 1], now, size)
    return rejected


def split(log_events: Sequence[dict[str, Any]]) -> tuple[list[int], list[str]]:
    return [e["timestamp"] for e in log_events], [e["message"] for e in log_events]
