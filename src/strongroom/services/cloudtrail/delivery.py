"""Delivery: the records each logging trail selects, from the audit store,
as CloudTrail's log files, and the hourly signed digest files that
``aws cloudtrail validate-logs`` checks — through a `Sink` (S3 objects,
CloudWatch Logs events) that the S3 and Logs wiring provides.

Exactly once: each trail keeps a cursor into ``audit_batches`` (the batch
seq and the count of its events already handed over). A delivery reads
the batches after the cursor in seq order, writes the trail's files
through the sink and moves the cursor in the same transaction; the job
runs under the scheduler's lease, so one process of many delivers. A sink
that writes in that transaction (S3's internal API) makes file and cursor
one commit; a sink that fails leaves the cursor where it was, and the
retry writes the same object keys (the unique part of a name is derived
from the trail and the cursor), so nothing is lost and a retry after a
crash overwrites rather than doubles.

Digest files follow AWS's "CloudTrail digest file structure": every hour
of the clock (an empty hour too) a digest names the log files delivered
in it with their SHA-256, chains to the previous digest (bucket, object,
hash of its uncompressed bytes, signature; nulls in the first), and is
signed SHA256withRSA over the string awscli's validator rebuilds. A
multi-region trail's log files go under each event's Region, and so do
its digests: one per Region and hour, each Region's chain its own, signed
with that Region's key pair (ListPublicKeys in that Region), as
``aws cloudtrail validate-logs --region <region>`` walks them::

    digestEndTime \\n digestS3Bucket/digestS3Object \\n hex(SHA-256(digest)) \\n previousDigestSignature

The hex signature travels as the object's ``signature`` metadata
(``x-amz-meta-signature``), with ``signature-algorithm`` SHA256withRSA.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from strongroom.audit import records
from strongroom.audit.records import StoredEvent
from strongroom.audit.tables import batches
from strongroom.encoding import json_text, json_value
from strongroom.services.cloudtrail import selection, signing
from strongroom.services.cloudtrail import trails as trail_store
from strongroom.services.cloudtrail.tables import log_files, logs_cursors, signing_keys
from strongroom.services.cloudtrail.trails import Trail
from strongroom.store.db import HotTables
from strongroom.store.sealing import Sealer

#: Seconds of the server's clock between deliveries of a trail.
DELIVERY_INTERVAL = 300.0
DIGEST_INTERVAL = 3600.0
#: Seconds between deliveries to CloudWatch Logs ("within seconds" of a call).
LOGS_INTERVAL = 2.0
#: Audit batches read per delivery: what one run of the job (on the event
#: loop) takes. When more remain the trail is due again at the next tick, so
#: a backlog is worked off in steps (the recorder writes up to ~50 batches a
#: second under load) rather than in one stall of every request in flight.
MAX_BATCHES = 250
#: Hours of digests one run catches up (the rest follow on the next runs).
MAX_DIGESTS_PER_RUN = 48
#: Events of a global service, logged in us-east-1, that a trail takes only
#: with IncludeGlobalServiceEvents.
GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "sts.amazonaws.com"})
GLOBAL_REGION = "us-east-1"
SIGNATURE_ALGORITHM = "SHA256withRSA"
#: The sourceIPAddress of the calls CloudTrail makes while delivering.
DELIVERING_SOURCE = "cloudtrail.amazonaws.com"
#: What RecursiveLogging false suppresses when CloudTrail made the call
#: (AWS's "Suppressing recursive events with recursive logging").
RECURSIVE_EVENTS = frozenset(
    {("s3.amazonaws.com", "PutObject"), ("logs.amazonaws.com", "PutLogEvents")}
)


class DeliveryError(Exception):
    """A sink refused a write: its message is GetTrailStatus's delivery error
    (e.g. ``AccessDenied``)."""


class Sink(Protocol):
    """Where a trail's files and events go: `put_object` writes one object
    into the trail's bucket (under its KMS key, if any); `put_log_events`
    puts events into a stream of the trail's CloudWatch Logs group. Each
    raises `DeliveryError` when the destination refuses."""

    def put_object(self, trail: Trail, key: str, body: bytes, metadata: dict[str, str]) -> None: ...

    def put_log_events(self, trail: Trail, stream: str, events: list[dict[str, Any]]) -> None: ...


@dataclass
class MemorySink:
    """A sink that keeps what it is given (tests; `fail` makes it refuse)."""

    objects: dict[tuple[str, str], tuple[bytes, dict[str, str], str | None]] = field(
        default_factory=dict
    )
    log_events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    fail: str | None = None

    def put_object(self, trail: Trail, key: str, body: bytes, metadata: dict[str, str]) -> None:
        if self.fail:
            raise DeliveryError(self.fail)
        self.objects[(trail.s3_bucket, key)] = (body, dict(metadata), trail.kms_key_arn)

    def put_log_events(self, trail: Trail, stream: str, events: list[dict[str, Any]]) -> None:
        if self.fail:
            raise DeliveryError(self.fail)
        assert trail.logs_group_arn is not None
        self.log_events.setdefault((trail.logs_group_arn, stream), []).extend(events)


# -- names and bodies ------------------------------------------------------


def _stamp(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def _base(trail: Trail) -> str:
    return f"{trail.s3_prefix}/" if trail.s3_prefix else ""


def log_file_key(trail: Trail, region: str, when: float, unique: str) -> str:
    """``[prefix/]AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz``"""
    acct = trail.account
    day = _stamp(when, "%Y/%m/%d")
    return (
        f"{_base(trail)}AWSLogs/{acct}/CloudTrail/{region}/{day}/"
        f"{acct}_CloudTrail_{region}_{_stamp(when, '%Y%m%dT%H%MZ')}_{unique}.json.gz"
    )


def digest_key(trail: Trail, region: str, end: float) -> str:
    acct = trail.account
    return (
        f"{_base(trail)}AWSLogs/{acct}/CloudTrail-Digest/{region}/{_stamp(end, '%Y/%m/%d')}/"
        f"{acct}_CloudTrail-Digest_{region}_{trail.name}_{trail.region}_"
        f"{_stamp(end, '%Y%m%dT%H%M%SZ')}.json.gz"
    )


def unique_part(trail: Trail, region: str, cursor: tuple[int, int]) -> str:
    """16 characters, the same for a retry of the same delivery."""
    seed = f"{trail.arn}|{trail.created}|{region}|{cursor[0]}|{cursor[1]}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


def gzip_json(document: Any) -> tuple[bytes, bytes]:
    """(the JSON bytes, their gzip) — gzip without a timestamp, so a retry
    writes the same bytes."""
    raw = json_text(document).encode()
    return raw, gzip.compress(raw, mtime=0)


def log_file_body(recs: list[dict[str, Any]]) -> bytes:
    return gzip_json({"Records": recs})[1]


# -- reading the audit store -----------------------------------------------


def audit_end(conn: Connection) -> tuple[int, int]:
    """The cursor just after every stored event."""
    row = conn.execute(
        select(batches.c.seq, batches.c.count).order_by(batches.c.seq.desc()).limit(1)
    ).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def events_after(
    conn: Connection, cursor: tuple[int, int], max_batches: int | None = None
) -> tuple[list[StoredEvent], tuple[int, int]]:
    """The events stored after `cursor`, oldest batch first, and the cursor
    after them."""
    seq, index = cursor
    rows = conn.execute(
        select(batches.c.seq, batches.c.events)
        .where(batches.c.seq >= seq)
        .order_by(batches.c.seq)
        .limit(max_batches or MAX_BATCHES)
    ).all()
    found: list[StoredEvent] = []
    end = cursor
    for row_seq, body in rows:
        items = json_value(body)
        start = index if row_seq == seq else 0
        found.extend(StoredEvent._make(item) for item in items[start:])
        end = (int(row_seq), len(items))
    return found, end


def backlogged(conn: Connection, cursor: tuple[int, int]) -> bool:
    """Whether batches after the one `cursor` is in are stored: after a
    delivery that moved the cursor, those it left for its next run
    (`MAX_BATCHES` reached)."""
    after = select(batches.c.seq).where(batches.c.seq > cursor[0]).limit(1)
    return conn.execute(after).first() is not None


def region_of(trail: Trail, event: StoredEvent) -> str | None:
    """The Region whose log file takes `event` for this trail, or None when
    the trail does not cover it."""
    if event.account != trail.account:
        return None
    if event.event_source in GLOBAL_SOURCES and event.region == GLOBAL_REGION:
        if not trail.include_global:
            return None
        return event.region if trail.multi_region else trail.region
    if event.region == trail.region or trail.multi_region:
        return event.region
    return None


def selected(
    trail: Trail, events: list[StoredEvent], matcher: selection.Matcher | None = None
) -> dict[str, list[StoredEvent]]:
    """The events a trail selects, by the Region of the log file they go in.
    Without RecursiveLogging, CloudTrail's own deliveries are left out, as
    AWS filters them: source ``cloudtrail.amazonaws.com`` (invokedBy it) and
    S3 PutObject or CloudWatch Logs PutLogEvents (its KMS GenerateDataKey
    for an SSE-KMS file is not a recursive event: it stays)."""
    matcher = matcher or selection.compile_stored(trail.selectors)
    out: dict[str, list[StoredEvent]] = {}
    for event in events:
        region = region_of(trail, event)
        if region is None or not matcher.selects(event):
            continue
        if (
            not trail.recursive_logging
            and (event.event_source, event.event_name) in RECURSIVE_EVENTS
            and event.own.get("sourceIPAddress") == DELIVERING_SOURCE
        ):
            continue
        out.setdefault(region, []).append(event)
    return out


# -- delivering ------------------------------------------------------------


def deliver(conn: Connection, trail: Trail, sink: Sink, now: float) -> int:
    """Deliver what the trail selected since its cursor; returns the events
    delivered. A sink error is kept for GetTrailStatus and the cursor stays."""
    start = (trail.cursor_seq, trail.cursor_index)
    events, end = events_after(conn, start)
    by_region = selected(trail, events)
    trail.last_attempt = now
    count = 0
    try:
        for region in sorted(by_region):
            chosen = by_region[region]
            rendered = records.render_events(conn, chosen)
            raw, body = gzip_json({"Records": rendered})
            key = log_file_key(trail, region, now, unique_part(trail, region, start))
            sink.put_object(trail, key, body, {})
            if trail.validation:
                conn.execute(
                    delete(log_files).where(
                        log_files.c.trail_arn == trail.arn, log_files.c.s3_object == key
                    )
                )
                conn.execute(
                    insert(log_files).values(
                        trail_arn=trail.arn,
                        s3_object=key,
                        s3_bucket=trail.s3_bucket,
                        sha256=hashlib.sha256(raw).hexdigest(),  # of the uncompressed file
                        oldest=min(e.event_time for e in chosen),
                        newest=max(e.event_time for e in chosen),
                        delivered=now,
                    )
                )
            count += len(chosen)
    except DeliveryError as refused:
        trail.delivery_error = str(refused)
        trail_store.save(conn, trail, "last_attempt", "delivery_error")
        return 0
    trail.cursor_seq, trail.cursor_index = end
    if by_region:
        trail.last_delivery = now
    trail.delivery_error = None
    trail_store.save(
        conn,
        trail,
        "cursor_seq",
        "cursor_index",
        "last_attempt",
        "last_delivery",
        "delivery_error",
    )
    return count


def logs_cursor(conn: Connection, trail: Trail) -> tuple[int, int]:
    """Where the trail's delivery to CloudWatch Logs stands: at first, where
    its delivery to S3 stands (what it has not yet handed over anywhere)."""
    row = conn.execute(
        select(logs_cursors.c.seq, logs_cursors.c.idx).where(logs_cursors.c.trail_arn == trail.arn)
    ).first()
    return (trail.cursor_seq, trail.cursor_index) if row is None else (int(row[0]), int(row[1]))


def reset_logs_cursor(conn: Connection, trail: Trail) -> None:
    """Logs delivery starts again where S3 delivery does (StartLogging)."""
    conn.execute(delete(logs_cursors).where(logs_cursors.c.trail_arn == trail.arn))


def pin_logs_cursor(conn: Connection, trail: Trail) -> None:
    """Store the Logs cursor where it stands when it follows S3 delivery's
    (no row of its own yet): before S3 delivery moves on past events that
    a Logs delivery handed off, and not yet run, has still to put."""
    row = conn.execute(
        select(logs_cursors.c.seq).where(logs_cursors.c.trail_arn == trail.arn)
    ).first()
    if row is None:
        _save_logs_cursor(conn, trail, (trail.cursor_seq, trail.cursor_index))


def _save_logs_cursor(conn: Connection, trail: Trail, cursor: tuple[int, int]) -> None:
    conn.execute(delete(logs_cursors).where(logs_cursors.c.trail_arn == trail.arn))
    conn.execute(insert(logs_cursors).values(trail_arn=trail.arn, seq=cursor[0], idx=cursor[1]))


@dataclass
class LogsBatch:
    """One delivery to CloudWatch Logs, prepared: the events after the
    trail's Logs cursor (`start`) up to `end`, each rendered once, by stream.
    `prepare_logs` reads and renders them in a read transaction; `put_logs`
    puts them and moves the cursor in a short write transaction."""

    group_arn: str
    start: tuple[int, int]
    end: tuple[int, int]
    streams: list[tuple[str, list[dict[str, Any]]]]
    #: Whether stored batches remained after `end` (`MAX_BATCHES` reached).
    more: bool

    @property
    def count(self) -> int:
        return sum(len(events) for _, events in self.streams)


def prepare_logs(conn: Connection, trail: Trail) -> LogsBatch | None:
    """What the trail selected since its Logs cursor, as the Logs events of
    stream ``<acct>_CloudTrail_<region>`` (one a record, its timestamp the
    event's time), or None when nothing was stored since."""
    if not trail.logs_group_arn:
        return None
    start = logs_cursor(conn, trail)
    events, end = events_after(conn, start)
    if end == start:
        return None
    by_region = selected(trail, events)
    chosen = [e for region in sorted(by_region) for e in by_region[region]]
    rendered = iter(records.render_events(conn, chosen))  # the identities read once
    streams = [
        (
            f"{trail.account}_CloudTrail_{region}",
            [
                {"timestamp": int(e.event_time * 1000), "message": json_text(next(rendered))}
                for e in by_region[region]
            ],
        )
        for region in sorted(by_region)
    ]
    return LogsBatch(trail.logs_group_arn, start, end, streams, backlogged(conn, end))


def put_logs(
    conn: Connection, trail: Trail, sink: Sink, batch: LogsBatch, now: float
) -> int | None:
    """Put a prepared batch and move the Logs cursor past it; the events put,
    or None when the trail's Logs cursor or group is no longer the one the
    batch was prepared from (another run delivered it, StartLogging reset
    it, UpdateTrail changed the group): nothing is put. A refusal is kept
    for GetTrailStatus (LatestCloudWatchLogsDeliveryError) and the cursor
    stays."""
    if trail.logs_group_arn != batch.group_arn or logs_cursor(conn, trail) != batch.start:
        return None
    try:
        for stream, events in batch.streams:
            sink.put_log_events(trail, stream, events)
    except DeliveryError as refused:
        # Kept where it stands (S3 delivery, moving on, no longer says).
        _save_logs_cursor(conn, trail, batch.start)
        if trail.logs_error != str(refused):
            trail.logs_error = str(refused)
            trail_store.save(conn, trail, "logs_error")
        return 0
    _save_logs_cursor(conn, trail, batch.end)
    if batch.streams or trail.logs_error:
        trail.logs_delivery = now if batch.streams else trail.logs_delivery
        trail.logs_error = None
        trail_store.save(conn, trail, "logs_delivery", "logs_error")
    return batch.count


def deliver_to_logs(conn: Connection, trail: Trail, sink: Sink, now: float) -> int:
    """`prepare_logs` and `put_logs` in one transaction (a job without
    background work, unit tests); returns the events put."""
    batch = prepare_logs(conn, trail)
    if batch is None:
        return 0
    return put_logs(conn, trail, sink, batch, now) or 0


def logs_pending(conn: Connection, trail: Trail) -> bool:
    """Whether events were stored after the trail's Logs cursor (two short
    reads: what the job on the event loop asks before it hands the delivery
    off)."""
    return audit_end(conn) > logs_cursor(conn, trail)


# -- digests ---------------------------------------------------------------


def _aad(region: str, fingerprint: str) -> bytes:
    return f"cloudtrail-signing-key:{region}:{fingerprint}".encode()


def current_key(conn: Connection, sealer: Sealer, region: str, now: float) -> tuple[str, bytes]:
    """(fingerprint, private key DER) of the Region's current signing key,
    made on first use."""
    row = conn.execute(
        select(signing_keys.c.fingerprint, signing_keys.c.sealed_private).where(
            signing_keys.c.region == region, signing_keys.c.valid_to.is_(None)
        )
    ).first()
    if row is not None:
        return row[0], sealer.unseal(row[1], _aad(region, row[0]))
    private, public = signing.new_key_pair()
    fingerprint = signing.fingerprint(public)
    conn.execute(
        insert(signing_keys).values(
            region=region,
            fingerprint=fingerprint,
            public_der=public,
            sealed_private=sealer.seal(private, _aad(region, fingerprint)),
            valid_from=now,
            valid_to=None,
        )
    )
    return fingerprint, private


def public_keys(
    conn: Connection, region: str, start: float, end: float
) -> list[tuple[str, bytes, float, float | None]]:
    """(fingerprint, PKCS #1 DER, valid from, valid to) of the Region's keys
    valid at some moment of [start, end]."""
    rows = conn.execute(
        select(
            signing_keys.c.fingerprint,
            signing_keys.c.public_der,
            signing_keys.c.valid_from,
            signing_keys.c.valid_to,
        )
        .where(signing_keys.c.region == region, signing_keys.c.valid_from <= end)
        .order_by(signing_keys.c.valid_from)
    )
    return [
        (r[0], bytes(r[1]), float(r[2]), r[3]) for r in rows if r[3] is None or float(r[3]) >= start
    ]


def string_to_sign(document: dict[str, Any], raw: bytes) -> bytes:
    previous = document["previousDigestSignature"] or "null"
    return (
        f"{document['digestEndTime']}\n{document['digestS3Bucket']}/{document['digestS3Object']}\n"
        f"{hashlib.sha256(raw).hexdigest()}\n{previous}"
    ).encode()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else _stamp(ts, "%Y-%m-%dT%H:%M:%SZ")


def build_digest(
    trail: Trail,
    region: str,
    start: float,
    end: float,
    files: list[dict[str, Any]],
    fingerprint: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The digest document of one Region of the trail for [start, end], in
    AWS's field order; `previous` is that Region's last digest (None: the
    first of its chain)."""
    previous = previous or {}
    key = digest_key(trail, region, end)
    newest = max((f["newest"] for f in files), default=None)
    oldest = min((f["oldest"] for f in files), default=None)
    return {
        "awsAccountId": trail.account,
        "digestStartTime": _iso(start),
        "digestEndTime": _iso(end),
        "digestS3Bucket": trail.s3_bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": _iso(newest),
        "oldestEventTime": _iso(oldest),
        "previousDigestS3Bucket": previous.get("bucket"),
        "previousDigestS3Object": previous.get("object"),
        "previousDigestHashValue": previous.get("hash"),
        "previousDigestHashAlgorithm": "SHA-256" if previous else None,
        "previousDigestSignature": previous.get("signature"),
        "logFiles": [
            {
                "s3Bucket": f["bucket"],
                "s3Object": f["object"],
                "hashValue": f["sha256"],
                "hashAlgorithm": "SHA-256",
                "newestEventTime": _iso(f["newest"]),
                "oldestEventTime": _iso(f["oldest"]),
            }
            for f in files
        ],
    }


def log_file_region(key: str) -> str:
    """The Region of a log file, from its key (``.../CloudTrail/<region>/...``)."""
    return key.rsplit("/CloudTrail/", 1)[1].split("/", 1)[0]


def digest_chains(trail: Trail) -> dict[str, dict[str, Any]]:
    """Each Region's last digest (bucket, object, hash, signature). A store
    written before digests were per Region holds the home Region's alone."""
    previous = trail.digest_previous or {}
    if isinstance(previous.get("object"), str):
        return {trail.region: previous}
    return dict(previous)


def digest_regions(trail: Trail, files: list[dict[str, Any]]) -> list[str]:
    """The Regions that get a digest for an hour: the home Region, every
    Region with a log file in it and, while the trail is multi-region, every
    Region whose chain has begun (its empty hours are digested too)."""
    regions = {trail.region} | {log_file_region(f["object"]) for f in files}
    if trail.multi_region:
        regions |= set(digest_chains(trail))
    return sorted(regions)


def _undigested(conn: Connection, trail: Trail, end: float) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(log_files)
        .where(log_files.c.trail_arn == trail.arn, log_files.c.delivered <= end)
        .order_by(log_files.c.delivered, log_files.c.s3_object)
    )
    return [
        {
            "bucket": r.s3_bucket,
            "object": r.s3_object,
            "sha256": r.sha256,
            "oldest": r.oldest,
            "newest": r.newest,
        }
        for r in rows
    ]


def write_digests(conn: Connection, sealer: Sealer, trail: Trail, sink: Sink, now: float) -> int:
    """Every digest that is due (one per hour since the last, in each Region
    of `digest_regions`), each Region's chained to its own previous one and
    signed with that Region's key. Returns the hours digested."""
    written = 0
    while (
        trail.validation
        and trail.digest_due is not None
        and trail.digest_start is not None
        and trail.digest_due <= now
        and written < MAX_DIGESTS_PER_RUN
    ):
        start, end = trail.digest_start, trail.digest_due
        files = _undigested(conn, trail, end)
        chains = digest_chains(trail)
        for region in digest_regions(trail, files):
            fingerprint, private = current_key(conn, sealer, region, now)
            mine = [f for f in files if log_file_region(f["object"]) == region]
            document = build_digest(
                trail, region, start, end, mine, fingerprint, chains.get(region)
            )
            raw, body = gzip_json(document)
            signature = signing.sign(private, string_to_sign(document, raw)).hex()
            metadata = {"signature": signature, "signature-algorithm": SIGNATURE_ALGORITHM}
            try:
                sink.put_object(trail, document["digestS3Object"], body, metadata)
            except DeliveryError as refused:
                # Nothing of the hour is kept: the retry writes the same
                # objects again (same bytes, same signatures).
                trail.digest_error = str(refused)
                trail_store.save(conn, trail, "digest_error")
                return written
            chains[region] = {
                "bucket": trail.s3_bucket,
                "object": document["digestS3Object"],
                "hash": hashlib.sha256(raw).hexdigest(),
                "signature": signature,
            }
        if files:
            conn.execute(
                delete(log_files).where(
                    log_files.c.trail_arn == trail.arn,
                    log_files.c.s3_object.in_([f["object"] for f in files]),
                )
            )
        trail.digest_previous = chains
        trail.digest_start, trail.digest_due = end, end + DIGEST_INTERVAL
        trail.last_digest, trail.digest_error = now, None
        trail_store.save(
            conn,
            trail,
            "digest_previous",
            "digest_start",
            "digest_due",
            "last_digest",
            "digest_error",
        )
        written += 1
    return written


# -- the job ---------------------------------------------------------------


#: When the job next hands a trail's Logs delivery off (clock time, by
#: trail ARN): every `LOGS_INTERVAL`, though the job runs at every tick
#: while requests change the store. Per process; a process that takes the
#: scheduler over hands off at once.
_logs_next: dict[str, float] = {}


def run_trails(
    conn: Connection,
    sealer: Sealer,
    sink: Sink,
    now: float,
    hand_off_logs: Callable[[Trail], object] | None = None,
) -> tuple[int, float | None]:
    """Deliver and digest every logging trail that is due; (events
    delivered, when a trail is next due or None).

    Delivery to CloudWatch Logs, every `LOGS_INTERVAL`, is handed to
    `hand_off_logs(trail)` when given (background work, off the event loop,
    which `prepare_logs` and `put_logs` then), else done here."""
    delivered = 0
    next_due: float | None = None
    for trail in trail_store.logging_trails(conn):
        if trail.logs_group_arn:
            if hand_off_logs is None:
                delivered += deliver_to_logs(conn, trail, sink, now)
                more = trail.logs_error is None and backlogged(conn, logs_cursor(conn, trail))
                due = now if more else now + LOGS_INTERVAL
            else:
                pin_logs_cursor(conn, trail)
                due = _logs_next.get(trail.arn, now)
                if due <= now:
                    if logs_pending(conn, trail):
                        hand_off_logs(trail)
                    due = _logs_next[trail.arn] = now + LOGS_INTERVAL
            next_due = due if next_due is None else min(next_due, due)
        if trail.next_delivery is None or trail.next_delivery <= now:
            delivered += deliver(conn, trail, sink, now)
            # Batches left (MAX_BATCHES reached): due again at the next tick.
            more = trail.delivery_error is None and backlogged(
                conn, (trail.cursor_seq, trail.cursor_index)
            )
            trail.next_delivery = now if more else now + DELIVERY_INTERVAL
            trail_store.save(conn, trail, "next_delivery")
        if trail.validation and trail.digest_due is None:
            trail.digest_start, trail.digest_due = now, now + DIGEST_INTERVAL
            trail_store.save(conn, trail, "digest_start", "digest_due")
        write_digests(conn, sealer, trail, sink, now)
        for due in (trail.next_delivery, trail.digest_due if trail.validation else None):
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
    return delivered, next_due


def data_event_trails(conn: Connection) -> list[tuple[Trail, selection.Matcher]]:
    """The logging trails whose selectors can take a data event."""
    found = []
    for trail in trail_store.logging_trails(conn):
        matcher = selection.compile_stored(trail.selectors)
        if matcher.wants_data:
            found.append((trail, matcher))
    return found


_DATA_TRAILS_KEY = ("cloudtrail-data-event-trails",)
#: What the answer is read from (trails and their selectors): a PutObject
#: or a PutLogEvents does not make the pipeline ask again.
_DATA_TRAILS_TABLES = HotTables(trail_store.trails)


def wants_data_event(store: Any, event: StoredEvent) -> bool:
    """The pipeline's question before it records a data event: does some
    logging trail select it? (Cached while the store's state is unchanged.)"""
    with store.transaction(write=False) as conn:
        chosen = store.hot_get(_DATA_TRAILS_KEY, _DATA_TRAILS_TABLES)
        if chosen is None:
            chosen = data_event_trails(conn)
            store.hot_put(_DATA_TRAILS_KEY, chosen, _DATA_TRAILS_TABLES)
    return any(
        region_of(trail, event) is not None and matcher.selects(event) for trail, matcher in chosen
    )
