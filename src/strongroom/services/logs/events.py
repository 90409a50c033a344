"""Log events at rest: batches of packed events, and the scans over them.

A batch is one row (`tables.batches`): the events of one PutLogEvents call
(or one publisher's flush), in chronological order, packed as::

    b"L1" | count (u32) | count timestamps (i64) | count lengths (u32, in
    characters) | the messages, concatenated, UTF-8

so a reader decodes a batch's messages with one UTF-8 decode and slices
them, and a filter whose pattern needs literal text (`pattern.Pattern.needles`)
skips a batch that does not contain it without decoding anything. A
group with a KMS key stores the packed bytes sealed under its data key
(`crypto`). An event's place is ``(timestamp, batch id, index)``: streams
and groups are read in that order, and tokens name such places.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from strongroom.services.logs.tables import batches, groups, streams
from strongroom.store.db import Prepared

MAGIC = b"L1"
_HEAD = struct.Struct("<2sI")
#: Events read at most per page (GetLogEvents, FilterLogEvents), and bytes.
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
#: The longest time a batch spans (PutLogEvents' 24 hours; `api.put_events`
#: splits its batches within it too).
MAX_SPAN_MS = 24 * 3_600_000

Position = tuple[int, int, int]
#: Opens a sealed payload: (data key id, payload) -> packed bytes.
Opener = Callable[[int, bytes], bytes]


@dataclass(slots=True)
class Event:
    timestamp: int
    message: str
    ingestion: int
    stream_id: int
    batch_id: int
    index: int

    @property
    def position(self) -> Position:
        return (self.timestamp, self.batch_id, self.index)

    @property
    def event_id(self) -> str:
        return f"{self.batch_id:020d}{self.index:05d}{self.timestamp:015d}"


def pack(timestamps: Sequence[int], messages: Sequence[str]) -> bytes:
    n = len(timestamps)
    text = "".join(messages).encode("utf-8", "surrogatepass")
    return b"".join(
        (
            _HEAD.pack(MAGIC, n),
            struct.pack(f"<{n}q", *timestamps),
            struct.pack(f"<{n}I", *(len(m) for m in messages)),
            text,
        )
    )


def text_of(packed: bytes) -> bytes:
    """The messages' UTF-8 bytes of a packed batch (what needles are looked for in)."""
    n = _HEAD.unpack_from(packed)[1]
    return packed[_HEAD.size + 12 * n :]


def unpack(packed: bytes) -> tuple[tuple[int, ...], list[str]]:
    magic, n = _HEAD.unpack_from(packed)
    if magic != MAGIC:
        raise ValueError("not a packed log batch")
    at = _HEAD.size
    stamps = struct.unpack_from(f"<{n}q", packed, at)
    lengths = struct.unpack_from(f"<{n}I", packed, at + 8 * n)
    text = packed[at + 12 * n :].decode("utf-8", "surrogatepass")
    messages = []
    pos = 0
    for length in lengths:
        messages.append(text[pos : pos + length])
        pos += length
    return stamps, messages


def message_bytes(message: str) -> int:
    return len(message.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- writes

#: One batch, compiled once (`Prepared`): the insert on PutLogEvents' path.
_INSERT = Prepared(
    insert(batches).values(
        {
            c: bindparam(c, type_=batches.c[c].type)
            for c in (
                "group_id",
                "stream_id",
                "first_ts",
                "last_ts",
                "ingestion",
                "count",
                "bytes",
                "data_key_id",
                "payload",
            )
        }
    )
)


def store(
    conn: Connection,
    group_id: int,
    stream_id: int,
    timestamps: Sequence[int],
    messages: Sequence[str],
    ingestion: int,
    size: int,
    *,
    seal: Callable[[bytes], tuple[bytes, int]] | None = None,
) -> None:
    """Store one batch (already in chronological order)."""
    payload = pack(timestamps, messages)
    key_id = None
    if seal is not None:
        payload, key_id = seal(payload)
    _INSERT.rowcount(
        conn,
        group_id=group_id,
        stream_id=stream_id,
        first_ts=timestamps[0],
        last_ts=timestamps[-1],
        ingestion=ingestion,
        count=len(timestamps),
        bytes=size,
        data_key_id=key_id,
        payload=payload,
    )


def expire(conn: Connection, group_id: int, before: int) -> int:
    """Delete the group's batches whose every event is older than `before`
    (ms); the bytes removed. A batch straddling the boundary stays until its
    last event has expired too (AWS deletes expired events within days, not
    at once)."""
    q = select(batches.c.stream_id, func.sum(batches.c.bytes)).where(
        batches.c.group_id == group_id, batches.c.last_ts < before
    )
    removed = conn.execute(q.group_by(batches.c.stream_id)).all()
    if not removed:
        return 0
    conn.execute(delete(batches).where(batches.c.group_id == group_id, batches.c.last_ts < before))
    total = 0
    for stream_id, size in removed:
        total += int(size)
        conn.execute(
            update(streams)
            .where(streams.c.id == stream_id)
            .values(stored_bytes=streams.c.stored_bytes - int(size))
        )
    conn.execute(
        update(groups)
        .where(groups.c.id == group_id)
        .values(stored_bytes=groups.c.stored_bytes - total)
    )
    return total


def oldest_batch_end(conn: Connection, group_id: int) -> int | None:
    return conn.execute(
        select(func.min(batches.c.last_ts)).where(batches.c.group_id == group_id)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- reads


@dataclass(slots=True)
class Scan:
    """What a scan found: events in order, and whether more may follow."""

    events: list[Event]
    more: bool
    scanned: int = 0
    scanned_bytes: int = 0
    #: Where to go on when the scan stopped at its time budget: every event
    #: before it is in `events` (or did not match).
    resume: Position | None = None


def scan(
    conn: Connection,
    *,
    group_ids: Iterable[int],
    stream_ids: Iterable[int] | None = None,
    start: int | None = None,
    end: int | None = None,
    after: Position | None = None,
    backward: bool = False,
    limit: int = MAX_EVENTS,
    max_bytes: int = MAX_BYTES,
    match: Callable[[str], bool] | None = None,
    needles: Sequence[bytes] = (),
    json_needles: bool = False,
    opener: Opener | None = None,
    budget: float | None = None,
    max_span: int = MAX_SPAN_MS,
    transform: Callable[[str, int], str] | None = None,
) -> Scan:
    """Events with ``start <= timestamp <= end`` (``end`` inclusive here; the
    operations pass AWS's exclusive end minus one), after `after` in the
    scan's direction (forward: ascending place; `backward`: descending, and
    the result is then in descending order too), that `match`, at most
    `limit` of them and about `max_bytes` of messages. A forward scan given
    a `budget` (seconds) stops at the first batch it meets after that long
    and says where to resume: a page may hold fewer events than it could,
    or none, as AWS's FilterLogEvents pages may. `transform` (message,
    ingestion time) -> message is applied to each event before `match`
    sees it (a data protection policy's mask)."""
    q = select(
        batches.c.id,
        batches.c.stream_id,
        batches.c.first_ts,
        batches.c.last_ts,
        batches.c.ingestion,
        batches.c.data_key_id,
        batches.c.payload,
    ).where(batches.c.group_id.in_(list(group_ids)))
    if stream_ids is not None:
        q = q.where(batches.c.stream_id.in_(list(stream_ids)))
    lo, hi = start, end
    if after is not None:
        if backward:
            hi = after[0] if hi is None else min(hi, after[0])
        else:
            lo = after[0] if lo is None else max(lo, after[0])
    if lo is not None:
        # No batch spans more than `max_span` (the groups' longest, at most 24
        # hours): the bound on first_ts lets the index start the scan near
        # `lo` instead of at the group's oldest batch.
        q = q.where(batches.c.last_ts >= lo, batches.c.first_ts >= lo - max_span)
    if hi is not None:
        q = q.where(batches.c.first_ts <= hi)
    if backward:
        q = q.order_by(batches.c.last_ts.desc(), batches.c.id.desc())
    else:
        q = q.order_by(batches.c.first_ts, batches.c.id)
    found: list[Event] = []
    more = False
    bound: int | None = None
    scanned = scanned_bytes = 0
    deadline = time.monotonic() + budget if budget is not None and not backward else None
    resume: Position | None = None
    scanned_batches = 0
    for batch_id, stream_id, first_ts, last_ts, ingestion, key_id, payload in conn.execute(q):
        if bound is not None and ((last_ts < bound) if backward else (first_ts > bound)):
            more = True
            break
        if (
            deadline is not None
            and bound is None
            and (lo is None or first_ts > lo)  # the next page starts later: progress
            and scanned_batches
            and time.monotonic() > deadline
        ):
            # Events at or after this batch's first are found again from there.
            resume = (first_ts, -1, -1)
            found = [e for e in found if e.timestamp < first_ts]
            more = True
            break
        scanned_batches += 1
        packed = opener(key_id, payload) if key_id is not None and opener is not None else payload
        if needles:
            text = text_of(packed)
            if not all(n in text for n in needles) and not (json_needles and b"\\u" in text):
                continue
        stamps, messages = unpack(packed)
        scanned += len(stamps)
        for index, ts in enumerate(stamps):
            if (lo is not None and ts < lo) or (hi is not None and ts > hi):
                continue
            if after is not None:
                place = (ts, batch_id, index)
                if (place >= after) if backward else (place <= after):
                    continue
            message = messages[index]
            if transform is not None:
                message = transform(message, ingestion)
            scanned_bytes += len(message)
            if match is not None and not match(message):
                continue
            found.append(Event(ts, message, ingestion, stream_id, batch_id, index))
        if len(found) >= limit:
            found.sort(key=_place, reverse=backward)
            if len(found) > limit:
                more = True
                del found[limit:]
            bound = found[-1].timestamp
    found.sort(key=_place, reverse=backward)
    if len(found) > limit:
        more = True
        del found[limit:]
    total = 0
    for i, event in enumerate(found):
        total += len(event.message) + 26
        if total > max_bytes and i > 0:
            del found[i:]
            more = True
            resume = None
            break
    return Scan(found, more, scanned, scanned_bytes, resume)


def each(
    conn: Connection,
    *,
    group_ids: Iterable[int],
    start: int,
    end: int,
    opener: Opener | None = None,
    needles: Sequence[bytes] = (),
    messages: bool = True,
    max_span: int = MAX_SPAN_MS,
) -> Iterator[tuple[int, int, int, list[str] | None, tuple[int, ...], int]]:
    """Every batch of the groups overlapping ``[start, end]`` (inclusive):
    (group id, stream id, ingestion, messages, timestamps, bytes), oldest
    first; a batch without all the `needles` comes with messages None (its
    events cannot match). Events outside the window are the caller's to
    skip."""
    q = (
        select(
            batches.c.group_id, batches.c.stream_id, batches.c.ingestion,
            batches.c.data_key_id, batches.c.payload, batches.c.bytes,
        )
        .where(
            batches.c.group_id.in_(list(group_ids)),
            batches.c.last_ts >= start,
            batches.c.first_ts >= start - max_span,
            batches.c.first_ts <= end,
        )
        .order_by(batches.c.first_ts, batches.c.id)
    )  # fmt: skip
    for group_id, stream_id, ingestion, key_id, payload, size in conn.execute(q):
        packed = opener(key_id, payload) if key_id is not None and opener is not None else payload
        if not messages or (needles and not all(n in text_of(packed) for n in needles)):
            n = _HEAD.unpack_from(packed)[1]
            stamps = struct.unpack_from(f"<{n}q", packed, _HEAD.size)
            yield group_id, stream_id, ingestion, None, stamps, size
            continue
        stamps, texts = unpack(packed)
        yield group_id, stream_id, ingestion, texts, stamps, size


def _place(event: Event) -> Position:
    return event.position


def position_token(prefix: str, place: Position) -> str:
    """GetLogEvents' token for a place: ``f/`` or ``b/`` and digits, as AWS's look."""
    ts, batch_id, index = place
    return f"{prefix}/{ts + 10**14:015d}{batch_id:020d}{index:05d}"


def parse_position(token: str) -> tuple[str, Position] | None:
    if len(token) != 42 or token[1] != "/" or token[0] not in "fb" or not token[2:].isdigit():
        return None
    digits = token[2:]
    return token[0], (int(digits[:15]) - 10**14, int(digits[15:35]), int(digits[35:]))
