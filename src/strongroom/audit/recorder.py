"""The audit choke point: one CloudTrail event per request, written in batches.

The pipeline calls `record` for every request it answers — allowed or denied,
succeeded or failed, authenticated or not. Records queue in memory and are
written every `FLUSH_INTERVAL` seconds (or sooner when the queue grows) as one
row, a batch (see `records.py`). Each event is encoded as it is recorded
(`records.PendingBatch`), which keeps the flush, a stall of the event loop, to
a join and an insert.

How soon an event is durable (`kill -9` cannot lose it): a flush does not
wait for a write lock held by another process (another worker's request) as
long as the oldest queued event is younger than `MAX_PENDING_AGE`; it comes
back at the next tick. Once the oldest is that old, the flush waits for the
lock (up to `LOCK_WAIT`, as a request's write would) and writes. So an event is
stored within `MAX_PENDING_AGE` plus a tick plus that wait of its response —
in practice well under `DURABLE_WITHIN`, which README and the e2e test state —
whatever the number of workers. The event loop pays for the wait only when
another process holds the lock that long, and never per request.

What goes into requestParameters and responseElements is decided once per
operation from its model: members marked sensitive and blobs (plaintexts,
ciphertexts, secret values, passwords) are left out, as AWS leaves them out,
and member names become lowerCamelCase as in CloudTrail.

The caller's userIdentity is written once to ``audit_identities`` and each
event holds its reference.

Threads: a request answered off the event loop (a blocking operation) is
recorded from its worker thread. The queue is guarded by one lock, held only
to add an encoded event or to swap the queue out for a flush (never while a
batch is written), so an event lands in the queue it was recorded at, in
time order with the others, and a flush that fails gives its events back.
While a write request runs off the loop it holds SQLite's write lock (this
process's own); a flush on the loop then never waits for that lock, and the
events stay queued until it is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from botocore.model import ListShape, MapShape, Shape, StructureShape
from sqlalchemy import insert, select

from strongroom.audit.records import PendingBatch, identity_ref, write_pending
from strongroom.audit.tables import identities
from strongroom.ids import uuid7
from strongroom.store.db import StoreBusy

if TYPE_CHECKING:
    from strongroom.auth.principal import Principal
    from strongroom.store.db import Store

log = logging.getLogger("strongroom.audit")

FLUSH_INTERVAL = 0.02
#: Queued events that make the pipeline flush before the interval is up.
FLUSH_BATCH = 128
#: Seconds a busy store is left alone before the next flush attempt.
BUSY_BACKOFF = 0.02
#: Queued this long, the oldest event makes the flush wait for the write lock.
MAX_PENDING_AGE = 0.05
#: Seconds such a flush waits for the lock before keeping its events for the
#: next tick (the store is stuck; a warning says so).
LOCK_WAIT = 1.0
#: After such a wait in vain, seconds the flushes go back to not waiting: a
#: lock held that long is stuck (an outside writer), and waiting on every
#: tick would stall requests that need no lock, reads, a second at a time.
STUCK_BACKOFF = 5.0
#: Seconds a flush on shutdown or before LookupEvents (`wait=True`) waits.
FINAL_WAIT = 10.0
#: The promise (README, docs/architecture.md): an acknowledged request's
#: event is stored within this many seconds of its response.
DURABLE_WITHIN = 0.25

Redactor = Callable[[Any], Any]


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


def _is_hidden(shape: Shape) -> bool:
    return bool(shape.metadata.get("sensitive")) or shape.type_name == "blob"


def build_redactor(shape: Shape | None, depth: int = 0) -> Redactor | None:
    """A function that copies a value of `shape` without its secrets, or None
    when nothing of the shape may be recorded."""
    if shape is None or _is_hidden(shape) or depth > 12:
        return None
    if isinstance(shape, StructureShape):
        members: list[tuple[str, str, Redactor]] = []
        for name, member in shape.members.items():
            sub = build_redactor(member, depth + 1)
            if sub is not None:
                members.append((name, _lower_camel(name), sub))
        if not members:
            return None

        def struct(value: Any) -> Any:
            if not isinstance(value, dict):
                return None
            out = {}
            for name, out_name, sub in members:
                v = value.get(name)
                if v is not None:
                    out[out_name] = sub(v)
            return out

        return struct
    if isinstance(shape, ListShape):
        sub = build_redactor(shape.member, depth + 1)
        if sub is None:
            return None
        if sub is _same:  # a list of scalars is recorded as it is
            return _a_list
        return lambda value: [sub(v) for v in value] if isinstance(value, list) else None
    if isinstance(shape, MapShape):
        sub = build_redactor(shape.value, depth + 1)
        if sub is None:
            return None
        if sub is _same:  # a map of scalars (an encryption context) as it is
            return _a_map
        return lambda value: (
            {k: sub(v) for k, v in value.items()} if isinstance(value, dict) else None
        )
    if shape.type_name == "timestamp":
        return _timestamp
    return _same


def _same(value: Any) -> Any:
    return value


def _a_list(value: Any) -> Any:
    return value if isinstance(value, list) else None


def _a_map(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def records_as_is(redactor: Redactor | None) -> bool:
    """Whether `redactor` keeps a value unchanged (a scalar's): a caller on
    the hot path may then skip calling it."""
    return redactor is _same


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%b %d, %Y, %I:%M:%S %p")
    return value


def lookup_username(principal: Principal | None) -> str | None:
    if principal is None:
        return None
    if principal.type == "Root":
        return "root"
    if principal.type == "AssumedRole":
        return principal.arn.rsplit("/", 1)[-1]
    return principal.user_name


class AuditRecorder:
    def __init__(self, store: Store) -> None:
        self.store = store
        #: Events not yet written (`records.StoredEvent` tuples, encoded).
        self._pending = PendingBatch()
        #: userIdentity JSON by reference, not yet known to be stored.
        self._new_identities: dict[str, str] = {}
        #: References known to be in audit_identities.
        self._stored_refs: set[str] = set()
        self._principal_refs: dict[tuple[int, str | None], tuple[dict[str, Any], str]] = {}
        #: After the store was busy, full batches wait until then.
        self._busy_until = 0.0
        #: Until then due flushes do not wait either (see STUCK_BACKOFF).
        self._wait_after = 0.0
        self.written = 0
        #: Guards the queue and the identity bookkeeping: `record` is also
        #: called from worker threads (requests answered off the loop).
        self._lock = threading.Lock()

    def record(
        self,
        *,
        event_time: float,
        account: str,
        region: str,
        event_source: str,
        event_name: str,
        principal: Principal | None,
        access_key_id: str | None,
        source_ip: str,
        user_agent: str,
        request_id: str | None,
        read_only: bool,
        request_parameters: Any = None,
        response_elements: Any = None,
        error_code: str | None = None,
        error_message: str | None = None,
        resources: list[dict[str, str]] | None = None,
        additional: dict[str, Any] | None = None,
        management: bool = True,
        invoked_by: str | None = None,
        identity: dict[str, Any] | None = None,
        event_type: str | None = None,
        service_event_details: dict[str, Any] | None = None,
    ) -> str:
        """Queue one event. `invoked_by` names the service that made the call
        on `principal`'s behalf (a child call); `identity` replaces the
        principal's userIdentity outright (service events); `event_type` is
        AwsApiCall unless said, with `service_event_details` for
        AwsServiceEvent."""
        # The id carries the event's time: LookupEvents finds an EventId's batch by it.
        event_id = uuid7(event_time)
        # The event's own fields; everything else is a column (see records.py).
        own: dict[str, Any] = {"i": None, "sourceIPAddress": source_ip, "userAgent": user_agent}
        if error_code is not None:
            own["errorCode"] = error_code
            own["errorMessage"] = error_message or ""
        elif error_message is not None:  # a service event's (RotationFailed)
            own["errorMessage"] = error_message
        own["requestParameters"] = request_parameters
        own["responseElements"] = response_elements
        if additional:
            own["additionalEventData"] = additional
        if request_id is not None:
            own["requestID"] = request_id
        if event_type is not None:
            own["eventType"] = event_type
        if service_event_details is not None:
            own["serviceEventDetails"] = service_event_details
        with self._lock:
            if identity is not None:
                own["i"] = self._identity_ref(identity)
            elif invoked_by is not None and principal is not None:
                own["i"] = self._principal_ref(principal, invoked_by)
            elif principal is not None and principal.type != "Anonymous":
                own["i"] = self._principal_ref(principal)
            else:
                unknown = {"type": "Unknown" if principal is None else "AWSAccount"}
                if access_key_id:
                    unknown["accessKeyId"] = access_key_id
                own["i"] = self._identity_ref(unknown)
            self._pending.add(
                (  # in StoredEvent order
                    event_id,
                    account,
                    region,
                    event_time,
                    event_name,
                    event_source,
                    read_only,
                    management,
                    lookup_username(principal),
                    access_key_id,
                    resources or None,
                    own,
                )
            )
        return event_id

    def _principal_ref(self, principal: Principal, invoked_by: str | None = None) -> str:
        """The reference of `principal`'s userIdentity (with ``invokedBy``
        when a service called for it), remembered per identity dict."""
        identity = principal.user_identity()  # one dict per principal, built once
        known = self._principal_refs.get((id(identity), invoked_by))
        if known is not None and known[0] is identity:
            return known[1]
        ref = self._identity_ref(
            identity if invoked_by is None else {**identity, "invokedBy": invoked_by}
        )
        if len(self._principal_refs) >= 4096:
            self._principal_refs.clear()
        # Holding the dict keeps its id from being reused for another.
        self._principal_refs[(id(identity), invoked_by)] = (identity, ref)
        return ref

    def _identity_ref(self, identity: dict[str, Any]) -> str:
        text = orjson.dumps(identity)
        ref = identity_ref(text)
        if ref not in self._stored_refs:
            self._new_identities[ref] = text.decode()
        return ref

    @property
    def pending(self) -> int:
        return len(self._pending)

    def should_flush(self) -> bool:
        """Whether the pipeline should flush now, after its responses: the
        batch is full (and the store was not just found busy), or its oldest
        event is due (`flush_due`)."""
        pending = self._pending
        if not pending.events:
            return False
        now = time.monotonic()
        if now - pending.first_at >= MAX_PENDING_AGE and now >= self._wait_after:
            return True
        return len(pending.events) >= FLUSH_BATCH and now >= self._busy_until

    def flush_due(self, now: float | None = None) -> bool:
        """Whether the oldest queued event has waited `MAX_PENDING_AGE`: the
        next flush then waits for a busy store instead of backing off
        (unless the last such wait was in vain, `STUCK_BACKOFF` ago or less)."""
        now = time.monotonic() if now is None else now
        return self._pending.age(now) >= MAX_PENDING_AGE and now >= self._wait_after

    def flush(self, wait: bool = False) -> int:
        """Write every queued record as one batch; returns how many.

        Without `wait`, a store whose write lock is held elsewhere (another
        process's write) leaves the records queued for a moment later instead
        of stopping the event loop until it is free — until the oldest is
        due (`flush_due`): then the flush waits up to `LOCK_WAIT` for the
        lock. With `wait` (shutdown, LookupEvents) it waits up to `FINAL_WAIT`."""
        if not self._pending:
            return 0
        if wait:
            lock_wait: float | bool = FINAL_WAIT
        elif self.store.writes_off_loop:
            # This process's own request off the loop holds the write lock
            # while it runs: waiting would only stop the loop (see the module doc).
            lock_wait = False
        else:
            lock_wait = LOCK_WAIT if self.flush_due() else False
        with self._lock:
            batch, self._pending = self._pending, PendingBatch()
            new, self._new_identities = self._new_identities, {}
        try:
            with self.store.transaction(write=True, state=False, wait=lock_wait) as conn:
                if new:
                    _store_identities(conn, new)
                write_pending(conn, batch)
        except StoreBusy:
            self._give_back(batch, new)
            now = time.monotonic()
            self._busy_until = now + BUSY_BACKOFF
            if lock_wait:
                self._wait_after = now + STUCK_BACKOFF
                log.warning(
                    "%d audit records wait for the store's write lock, held elsewhere "
                    "for over %.1f s; still queued",
                    len(self._pending),
                    lock_wait,
                )
            return 0
        except Exception:
            # Keep the records for the next attempt rather than lose them.
            self._give_back(batch, new)
            log.exception("writing %d audit records failed; will retry", len(batch))
            raise
        with self._lock:
            if new:
                self._stored_refs.update(new)
                if len(self._stored_refs) > 65536:  # forgetting only costs a look-up
                    self._stored_refs.clear()
            self.written += len(batch)
        return len(batch)

    def _give_back(self, batch: PendingBatch, new: dict[str, str]) -> None:
        """Queue a batch that could not be written again, in front of what
        was recorded meanwhile, with the identities it needs."""
        with self._lock:
            self._pending.absorb(batch)
            for ref, text in new.items():
                self._new_identities.setdefault(ref, text)


def _store_identities(conn: Any, new: dict[str, str]) -> None:
    """Insert the identities of `new` that are not stored yet.

    Inside the flush's write transaction: on SQLite that is the only writer;
    on PostgreSQL two processes may race to insert one, and the loser's flush
    fails and is retried, finding it stored."""
    refs = sorted(new)
    stored: set[str] = set()
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        stored.update(
            conn.execute(select(identities.c.ref).where(identities.c.ref.in_(chunk))).scalars()
        )
    missing = [{"ref": r, "identity": new[r]} for r in refs if r not in stored]
    if missing:
        conn.execute(insert(identities), missing)
