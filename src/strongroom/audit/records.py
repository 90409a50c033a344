"""Stored audit batches, the events in them and the CloudTrail records they
render to.

A CloudTrail record is about 900 bytes of JSON, and most of it repeats: the
caller's userIdentity, the constants (eventVersion, eventType...) and the
fields every event has. The recorder keeps, per event, only what is its own
(`StoredEvent`): the fields readers filter on, the record's ``resources``
list as CloudTrail writes it, and ``own``, a small object of the rest —
``"i"`` (the reference of the userIdentity, stored once in
``audit_identities``), sourceIPAddress, userAgent, errorCode/errorMessage,
requestParameters, responseElements, additionalEventData, requestID.

A flush writes its events as one row of ``audit_batches`` (see `tables.py`):
a JSON array of events, each a JSON array in `StoredEvent`'s field order,
oldest first, and the batch's facets. `scan` reads them back newest first;
`render` puts the full record back together, in CloudTrail's field order.

Events written before schema version 2 hold the full record in ``own`` and
their resources in LookupEvents' form; both are read as they are.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from strongroom.audit.tables import batches, identities
from strongroom.store.db import Prepared

EVENT_VERSION = "1.09"


class StoredEvent(NamedTuple):
    """One audit event as the recorder queues and a batch stores it."""

    event_id: str
    account: str
    region: str
    event_time: float
    event_name: str
    event_source: str
    read_only: bool
    management: bool
    username: str | None
    access_key_id: str | None
    resources: list[dict[str, str]] | None
    own: dict[str, Any]


_BATCH_COLUMNS = ("first_time", "last_time", "count", "facets", "events")
_INSERT_BATCH = Prepared(insert(batches).values({c: bindparam(c) for c in _BATCH_COLUMNS}))
_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS

_last_iso: tuple[int, str] = (-1, "")


def iso_seconds(ts: float) -> str:
    """ISO 8601 to the second, as CloudTrail writes eventTime (cached per second)."""
    global _last_iso
    second = int(ts)
    if _last_iso[0] != second:
        _last_iso = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_iso[1]


def identity_ref(identity_json: bytes) -> str:
    """The key a userIdentity is stored under: a digest of its JSON."""
    return hashlib.blake2b(identity_json, digest_size=16).hexdigest()


# -- writing ---------------------------------------------------------------


def resource_arn(resource: dict[str, Any]) -> Any:
    return resource.get("ARN", resource.get("ResourceName"))


def resource_type(resource: dict[str, Any]) -> Any:
    return resource.get("type", resource.get("ResourceType"))


def facet(kind: str, *values: Any) -> str:
    """One facet line: what a batch holds, as `scan` looks for it."""
    line = f"{kind}:" + ":".join(str(v) for v in values)
    return line.replace("\n", " ")


def facets_of(events: Sequence[tuple[Any, ...]]) -> str:
    """The facets of a batch: account and region, event names and sources,
    usernames, access keys, resource ARNs and types, each once, framed by
    newlines so a reader matches whole lines. A filter, not an index: a
    reader still checks every event it takes from a matching batch."""
    batch = PendingBatch()
    for event in events:
        batch.note(event)
    return batch.facets()


def _facet_text(callers: set[tuple[Any, ...]], resources: set[tuple[Any, Any]]) -> str:
    lines: set[str] = set()
    for account, region, name, source, username, key_id in callers:
        lines.add(facet("a", account, region))
        lines.add(facet("n", name))
        lines.add(facet("s", source))
        if username:
            lines.add(facet("u", username))
        if key_id:
            lines.add(facet("k", key_id))
    for arn, kind in resources:
        if arn:
            lines.add(facet("r", arn))
        if kind:
            lines.add(facet("t", kind))
    return "\n" + "\n".join(sorted(lines)) + "\n"


def encode_event(event: tuple[Any, ...]) -> bytes:
    """One event as JSON. A value orjson refuses (an integer beyond 64 bits,
    say) costs that event a slower encoding, never its batch."""
    try:
        return orjson.dumps(event, default=str, option=_DUMP_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(event, default=str, skipkeys=True).encode()


class PendingBatch:
    """Events recorded since the last flush, each already encoded, and the
    facets they add up to.

    Encoding an event and noting its facets as it is recorded costs the
    request about as much as doing it for the whole batch at flush time, but
    a flush is then one join and one insert: flushes stop the event loop, and
    requests arriving during one wait it out."""

    __slots__ = ("callers", "events", "first_at", "resources")

    def __init__(self) -> None:
        #: (event time, event JSON), in the order recorded.
        self.events: list[tuple[float, bytes]] = []
        self.callers: set[tuple[Any, ...]] = set()
        self.resources: set[tuple[Any, Any]] = set()
        #: When the oldest event was queued (time.monotonic()); 0.0 while empty.
        self.first_at = 0.0

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: tuple[Any, ...]) -> None:
        """Queue `event` (a tuple in `StoredEvent` order)."""
        events = self.events
        if not events:
            self.first_at = time.monotonic()
        events.append((event[3], encode_event(event)))
        self.note(event)

    def age(self, now: float) -> float:
        """How long the oldest queued event has waited at `now` (0.0 if none)."""
        return now - self.first_at if self.events else 0.0

    def note(self, event: tuple[Any, ...]) -> None:
        self.callers.add((event[1], event[2], event[4], event[5], event[8], event[9]))
        if event[10]:
            for r in event[10]:
                self.resources.add((resource_arn(r), resource_type(r)))

    def absorb(self, older: PendingBatch) -> None:
        """Take back the events of `older` (a flush that failed) in front."""
        if older.events:
            self.first_at = older.first_at
        self.events[:0] = older.events
        self.callers |= older.callers
        self.resources |= older.resources

    def facets(self) -> str:
        return _facet_text(self.callers, self.resources)

    def row(self) -> tuple[float, float, int, str, bytes]:
        """The ``audit_batches`` row: events oldest first (clocks can step back)."""
        events = self.events
        events.sort(key=_by_first)
        body = b"[" + b",".join([encoded for _, encoded in events]) + b"]"
        return (events[0][0], events[-1][0], len(events), self.facets(), body)


_by_first = itemgetter(0)


def write_pending(conn: Connection, batch: PendingBatch) -> None:
    """Store `batch` as one row of ``audit_batches``."""
    if batch.events:
        _INSERT_BATCH.execute_rows(conn, _BATCH_COLUMNS, [batch.row()])


def write_batch(conn: Connection, events: list[tuple[Any, ...]]) -> None:
    """Store `events` (tuples in `StoredEvent` order) as one batch, oldest first."""
    batch = PendingBatch()
    for event in events:
        batch.add(event)
    write_pending(conn, batch)


def legacy_event(row: Any) -> tuple[Any, ...]:
    """An ``audit_events`` row (schema version 2 and before) as an event."""
    (event_id, account, region, event_time, name, source, read_only, management) = row[:8]
    username, key_id, resources_text, record_text = row[8:12]
    return (
        event_id,
        account,
        region,
        float(event_time),
        name,
        source,
        bool(read_only),
        bool(management),
        username,
        key_id,
        orjson.loads(resources_text) if resources_text else None,
        orjson.loads(record_text),
    )


# -- reading ---------------------------------------------------------------

#: Batch numbers read per query while scanning.
_SEQS_PER_READ = 256


def scan(
    conn: Connection,
    *,
    start: float | None = None,
    end: float | None = None,
    facets: Iterable[str] = (),
    before: tuple[int, int] | None = None,
) -> Iterator[tuple[int, int, StoredEvent]]:
    """Stored events, newest batch first and newest first within a batch, as
    (batch seq, index in the batch, event).

    Only batches that overlap [start, end] and have every facet in `facets`
    (lines made by `facet`) are read; the caller still checks each event, as
    a batch's facets and times cover all of its events together. `before` is
    a position scan returned: the scan resumes just after it."""
    conditions = []
    if start is not None:
        conditions.append(batches.c.last_time >= start)
    if end is not None:
        conditions.append(batches.c.first_time <= end)
    for line in facets:
        conditions.append(batches.c.facets.contains(f"\n{line}\n", autoescape=True))
    upper = before[0] if before is not None else None
    while True:
        query = select(batches.c.seq).where(*conditions)
        if upper is not None:
            query = query.where(batches.c.seq <= upper)
        seqs = list(
            conn.execute(query.order_by(batches.c.seq.desc()).limit(_SEQS_PER_READ)).scalars()
        )
        for seq in seqs:
            body = conn.execute(select(batches.c.events).where(batches.c.seq == seq)).scalar()
            items = orjson.loads(body)
            stop = len(items)
            if before is not None and seq == before[0]:
                stop = min(stop, before[1])
            make = StoredEvent._make
            for index in range(stop - 1, -1, -1):
                yield seq, index, make(items[index])
        if len(seqs) < _SEQS_PER_READ:
            return
        upper = seqs[-1] - 1


def load_identities(conn: Connection, refs: Iterable[str]) -> dict[str, Any]:
    """ref -> userIdentity for the references `refs`."""
    wanted = sorted(set(refs))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):  # bound the IN list
        chunk = wanted[start : start + 500]
        for ref, identity_text in conn.execute(
            select(identities.c.ref, identities.c.identity).where(identities.c.ref.in_(chunk))
        ):
            found[ref] = orjson.loads(identity_text)
    return found


def render(event: StoredEvent, identity_of: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record of a stored event."""
    fields = event.own
    if "eventVersion" in fields:  # written before schema version 2: already whole
        return fields
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity_of.get(fields.get("i", ""), {"type": "Unknown"}),
        "eventTime": iso_seconds(event.event_time),
        "eventSource": event.event_source,
        "eventName": event.event_name,
        "awsRegion": event.region,
        "sourceIPAddress": fields.get("sourceIPAddress"),
        "userAgent": fields.get("userAgent"),
    }
    if "errorCode" in fields:
        record["errorCode"] = fields["errorCode"]
        record["errorMessage"] = fields.get("errorMessage", "")
    elif "errorMessage" in fields:  # a service event's failure (RotationFailed)
        record["errorMessage"] = fields["errorMessage"]
    record["requestParameters"] = fields.get("requestParameters")
    record["responseElements"] = fields.get("responseElements")
    if "additionalEventData" in fields:
        record["additionalEventData"] = fields["additionalEventData"]
    if "requestID" in fields:  # service events have none
        record["requestID"] = fields["requestID"]
    record["eventID"] = event.event_id
    record["readOnly"] = bool(event.read_only)
    if event.resources:
        record["resources"] = event.resources
    record["eventType"] = fields.get("eventType", "AwsApiCall")
    record["managementEvent"] = bool(event.management)
    record["recipientAccountId"] = event.account
    if "serviceEventDetails" in fields:
        record["serviceEventDetails"] = fields["serviceEventDetails"]
    record["eventCategory"] = "Management" if event.management else "Data"
    return record


def render_events(conn: Connection, events: list[StoredEvent]) -> list[dict[str, Any]]:
    """The CloudTrail records of stored events (see `render`), in order."""
    refs = (e.own["i"] for e in events if "i" in e.own)
    identity_of = load_identities(conn, refs)
    return [render(e, identity_of) for e in events]


def lookup_resources(resources: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """An event's resources as LookupEvents lists them."""
    return [
        {"ResourceType": resource_type(r), "ResourceName": resource_arn(r)} for r in resources or ()
    ]
