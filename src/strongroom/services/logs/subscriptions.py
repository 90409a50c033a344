"""Subscription filters to Lambda: the domain layer and the delivery job.

A filter names a log group, a filter pattern (`pattern`) and a Lambda
function. AWS's rules: at most two filters a group (LimitExceededException
"Resource limit exceeded."); the function's resource policy must let
CloudWatch Logs invoke it — ``logs.amazonaws.com`` (or the older regional
``logs.<region>.amazonaws.com``), with ``aws:SourceArn`` the group's ARN
(``arn:aws:logs:<region>:<account>:log-group:<name>:*``) and
``aws:SourceAccount`` its account when the statement names them — or
PutSubscriptionFilter is InvalidParameterException "Could not execute the
lambda function. Make sure you have given CloudWatch Logs permission to
execute your function.".

Delivery is a job over the stored batches, not a hook in PutLogEvents, so
events the services publish (`api.put_events`: RDS, Lambda) are delivered
too. Each filter keeps a cursor, the id of the last batch it has gone past
(a new filter starts at the group's newest batch: only events ingested
after it are delivered, as AWS delivers them). On each run the job reads
the group's batches after the cursor (opening KMS-sealed ones as reads do),
matches their events, and for each log stream queues Event invocations of
the function as CloudWatch Logs, with AWS's payload::

    {"awslogs": {"data": base64(gzip(json))}}
    json = {"messageType": "DATA_MESSAGE", "owner": <account>,
            "logGroup": <name>, "logStream": <name>,
            "subscriptionFilters": [<filter name>],
            "logEvents": [{"id", "timestamp", "message"}, ...]}

The queued invocations (Lambda's durable Event queue, written in the job's
transaction) and the moved cursor commit together: an event is delivered
exactly once, across restarts and kill -9. A payload holds events of one
stream, as AWS's do, and is kept under Lambda's 256 KB asynchronous limit.
A function that refuses CloudWatch Logs later (its permission removed, or
deleted) loses those events, as AWS drops what it cannot deliver.

Batch ids grow with every insert; on PostgreSQL a transaction that took a
smaller id may commit after a larger one was read, so the job only goes
past batches older than `SETTLE_MS` there (see `_settled`).
"""

from __future__ import annotations

import functools
import gzip
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.encoding import b64_text, json_text
from strongroom.framework import Call, JobRun
from strongroom.services.lambda_ import api as lambda_api
from strongroom.services.logs import crypto, events, groups, pattern, protection
from strongroom.services.logs.groups import Group
from strongroom.services.logs.service import errors, service
from strongroom.services.logs.tables import batches, streams, subscription_filters

log = logging.getLogger("strongroom.logs")

#: Subscription filters a log group may hold (AWS's hard quota).
MAX_PER_GROUP = 2
PRINCIPAL = "logs.amazonaws.com"
NO_PERMISSION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)
#: Lambda's asynchronous payload limit is 256 KB; a payload's JSON is cut
#: well under it before gzip (whose output can exceed its input slightly)
#: and base64 (4/3).
MAX_JSON_BYTES = 180_000
#: Batches and events read per filter per run (the job comes back for the
#: rest at once): the job runs on the event loop.
BATCHES_PER_RUN = 200
EVENTS_PER_RUN = 20_000
#: Lambda's asynchronous payload limit (AWS's older 256 KB, kept as the bound).
MAX_PAYLOAD = 262_144
#: PostgreSQL: how old a batch must be before the cursor may pass it.
SETTLE_MS = 2_000
#: A filter whose batches cannot be read (its group's KMS key disabled) is
#: tried again this much later, not at every commit. Kept in the memory of
#: the process holding the scheduler lease: it decides only when to try.
RETRY_SECONDS = 30.0
_retry_at: dict[tuple[int, str], float] = {}
#: Filter patterns compiled once (the job runs at every commit).
_compiled = functools.lru_cache(maxsize=256)(pattern.compile)


@dataclass(slots=True)
class SubscriptionFilter:
    group_id: int
    name: str
    pattern: str
    destination_arn: str
    role_arn: str | None
    distribution: str
    created: int
    apply_on_transformed: bool
    field_selection: str | None
    emit_system_fields: list[str] | None
    cursor: int

    def describe(self, group_name: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filterName": self.name,
            "logGroupName": group_name,
            "filterPattern": self.pattern,
            "destinationArn": self.destination_arn,
            "distribution": self.distribution,
            "applyOnTransformedLogs": bool(self.apply_on_transformed),
            "creationTime": self.created,
        }
        if self.role_arn is not None:
            out["roleArn"] = self.role_arn
        if self.field_selection is not None:
            out["fieldSelectionCriteria"] = self.field_selection
        if self.emit_system_fields:
            out["emitSystemFields"] = list(self.emit_system_fields)
        return out


_FIELDS = tuple(SubscriptionFilter.__dataclass_fields__)  # type: ignore[attr-defined]
_COLUMNS = [subscription_filters.c[f] for f in _FIELDS]


def _filter(row: Any) -> SubscriptionFilter:
    f = SubscriptionFilter(*row)
    f.apply_on_transformed = bool(f.apply_on_transformed)
    return f


# --------------------------------------------------------------------------- store


def find(conn: Connection, group: Group, name: str) -> SubscriptionFilter | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            subscription_filters.c.group_id == group.id, subscription_filters.c.name == name
        )
    ).first()
    return _filter(row) if row is not None else None


def of_group(conn: Connection, group: Group, prefix: str | None = None) -> list[SubscriptionFilter]:
    q = select(*_COLUMNS).where(subscription_filters.c.group_id == group.id)
    if prefix:
        q = q.where(subscription_filters.c.name.startswith(prefix, autoescape=True))
    return [_filter(r) for r in conn.execute(q.order_by(subscription_filters.c.name))]


def newest_batch(conn: Connection, group: Group) -> int:
    return conn.execute(
        select(func.coalesce(func.max(batches.c.id), 0)).where(batches.c.group_id == group.id)
    ).scalar_one()


def save(conn: Connection, f: SubscriptionFilter, *, new: bool) -> None:
    values = {k: getattr(f, k) for k in _FIELDS}
    if new:
        conn.execute(insert(subscription_filters).values(**values))
        return
    conn.execute(
        update(subscription_filters)
        .where(subscription_filters.c.group_id == f.group_id, subscription_filters.c.name == f.name)
        .values(**values)
    )


def remove(conn: Connection, f: SubscriptionFilter) -> None:
    conn.execute(
        delete(subscription_filters).where(
            subscription_filters.c.group_id == f.group_id, subscription_filters.c.name == f.name
        )
    )


def remove_all(conn: Connection, group_id: int) -> None:
    conn.execute(delete(subscription_filters).where(subscription_filters.c.group_id == group_id))


# --------------------------------------------------------------------------- destinations


def require_lambda_destination(destination_arn: str) -> None:
    """Only Lambda functions are served destinations here (Kinesis, Firehose
    and logical destinations are not)."""
    parts = destination_arn.split(":")
    if len(parts) >= 6 and parts[2] == "logs" and parts[5] == "destination":
        raise errors.InvalidParameterException(
            "Subscriptions to a destination are not served here: its Kinesis or Firehose "
            "target cannot be delivered to."
        )
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
        raise errors.InvalidParameterException(
            "Could not deliver test message to specified destination. Check if the "
            "destination is valid."
        )


def _invoke(ctx: Call | JobRun, group: Group, function_arn: str, payload: bytes, kind: str) -> None:
    """Invoke (or, DryRun, check) the function as CloudWatch Logs; AWS's
    principals, the group's ARN and account as the source."""
    denied: Exception | None = None
    for principal in (PRINCIPAL, f"logs.{group.region}.amazonaws.com"):
        try:
            lambda_api.invoke_as_service(
                ctx, function_arn, payload, principal=principal,
                source_arn=f"{group.arn}:*", source_account=group.account,
                invocation_type=kind,
            )  # fmt: skip
            return
        except Exception as err:
            if getattr(err, "code", None) != "AccessDeniedException":
                raise
            denied = err
    assert denied is not None
    raise denied


def require_invokable(call: Call, group: Group, function_arn: str) -> None:
    """PutSubscriptionFilter's check: CloudWatch Logs may invoke the function."""
    try:
        _invoke(call, group, function_arn, b"{}", "DryRun")
    except Exception as err:
        if not isinstance(getattr(err, "code", None), str):
            raise
        raise errors.InvalidParameterException(NO_PERMISSION) from None


# --------------------------------------------------------------------------- delivery


def payload_of(
    owner: str, group_name: str, stream_name: str, filter_names: list[str],
    log_events: list[dict[str, Any]], message_type: str = "DATA_MESSAGE",
) -> bytes:  # fmt: skip
    """What Lambda receives: ``{"awslogs": {"data": base64(gzip(json))}}``."""
    body = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": group_name,
        "logStream": stream_name,
        "subscriptionFilters": filter_names,
        "logEvents": log_events,
    }
    data = gzip.compress(json_text(body).encode("utf-8", "surrogatepass"), mtime=0)
    return json_text({"awslogs": {"data": b64_text(data)}}).encode()


def _chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`items` cut into payloads under `MAX_JSON_BYTES` of JSON."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for item in items:
        cost = len(item["message"].encode("utf-8", "surrogatepass")) * 2 + 80
        if current and size + cost > MAX_JSON_BYTES:
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += cost
    if current:
        out.append(current)
    return out


def _settled(run: JobRun, now_ms: int) -> int | None:
    """The newest ingestion time the cursor may pass (None: any)."""
    return None if run.store.is_sqlite else now_ms - SETTLE_MS


def _pending(conn: Connection) -> list[tuple[SubscriptionFilter, Group]]:
    """The filters whose group holds batches past their cursor."""
    newer = (
        select(batches.c.id)
        .where(
            batches.c.group_id == subscription_filters.c.group_id,
            batches.c.id > subscription_filters.c.cursor,
        )
        .exists()
    )
    rows = conn.execute(select(*_COLUMNS).where(newer)).all()
    found = [_filter(r) for r in rows]
    by_id = {g.id: g for g in groups.groups_by_id(conn, sorted({f.group_id for f in found}))}
    return [(f, by_id[f.group_id]) for f in found if f.group_id in by_id]


def deliver(run: JobRun, f: SubscriptionFilter, group: Group, now_ms: int) -> bool:
    """Queue the invocations for `f`'s batches past its cursor and move the
    cursor; whether batches remain for another run."""
    matcher = _compiled(f.pattern)
    q = select(
        batches.c.id, batches.c.stream_id, batches.c.ingestion, batches.c.data_key_id,
        batches.c.payload, batches.c.count,
    ).where(batches.c.group_id == group.id, batches.c.id > f.cursor)  # fmt: skip
    rows = run.conn.execute(q.order_by(batches.c.id).limit(BATCHES_PER_RUN + 1)).all()
    more = len(rows) > BATCHES_PER_RUN
    rows = rows[:BATCHES_PER_RUN]
    settled = _settled(run, now_ms)
    if settled is not None:
        # Stop at the first batch too young to pass: one with a smaller id
        # may still be committing.
        for i, row in enumerate(rows):
            if row[2] > settled:
                rows, more = rows[:i], True
                break
    if not rows:
        return False
    # The job runs on the event loop: a run takes a bounded number of events.
    counted = 0
    for i, row in enumerate(rows):
        counted += row[5]
        if counted >= EVENTS_PER_RUN and i + 1 < len(rows):
            rows, more = rows[: i + 1], True
            break
    opener = crypto.opener(run, {group.id: group})
    # AWS masks at ingestion: a subscription sees the masked events.
    masking = protection.protection_for(run, group)
    by_stream: dict[int, list[dict[str, Any]]] = {}
    for batch_id, stream_id, ingestion, key_id, payload, _count in rows:
        packed = opener(key_id, payload) if key_id is not None else payload
        if masking is None and matcher.needles and not _may_match(matcher, events.text_of(packed)):
            continue
        stamps, messages = events.unpack(packed)
        for index, (ts, message) in enumerate(zip(stamps, messages, strict=True)):
            if masking is not None:
                message = masking.mask(message, ingestion)
            if matcher.kind != "all" and not matcher.match(message):
                continue
            event = events.Event(ts, message, 0, stream_id, batch_id, index)
            by_stream.setdefault(stream_id, []).append(
                {"id": event.event_id, "timestamp": ts, "message": message}
            )
    names = _stream_names(run.conn, list(by_stream))
    try:
        for stream_id, items in by_stream.items():
            for chunk in _chunks(items):
                for body in _payloads(group, names.get(stream_id, ""), f.name, chunk):
                    _invoke(run, group, f.destination_arn, body, "Event")
    except Exception as err:
        # Refused or gone: AWS drops what it cannot deliver.
        log.warning(
            "subscription filter %s of %s: delivery refused (%s)",
            f.name, group.arn, getattr(err, "code", type(err).__name__),
        )  # fmt: skip
    f.cursor = rows[-1][0]
    run.conn.execute(
        update(subscription_filters)
        .where(subscription_filters.c.group_id == f.group_id, subscription_filters.c.name == f.name)
        .values(cursor=f.cursor)
    )
    return more


def _payloads(
    group: Group, stream_name: str, filter_name: str, chunk: list[dict[str, Any]]
) -> list[bytes]:
    """`chunk`'s payloads, halved until each is under Lambda's limit (JSON
    escapes can make a message far longer than its text)."""
    body = payload_of(group.account, group.name, stream_name, [filter_name], chunk)
    if len(body) <= MAX_PAYLOAD or len(chunk) == 1:
        return [body]
    half = len(chunk) // 2
    return _payloads(group, stream_name, filter_name, chunk[:half]) + _payloads(
        group, stream_name, filter_name, chunk[half:]
    )


def _may_match(matcher: pattern.Pattern, text: bytes) -> bool:
    """Whether a batch's messages may hold a match (its needles, or \\u escapes)."""
    return all(n in text for n in matcher.needles) or (matcher.json_needles and b"\\u" in text)


def _stream_names(conn: Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    q = select(streams.c.id, streams.c.name).where(streams.c.id.in_(ids))
    return {stream_id: name for stream_id, name in conn.execute(q)}


@service.job
def logs_subscriptions(run: JobRun) -> float | None:
    """Deliver what every subscription filter has not yet delivered. On
    SQLite the scheduler runs it again at the next commit (a PutLogEvents,
    a publisher's flush); on PostgreSQL every tick."""
    now = run.now.timestamp()
    now_ms = int(now * 1000)
    again: float | None = None
    for f, group in _pending(run.conn):
        key = (f.group_id, f.name)
        retry = _retry_at.get(key)
        if retry is not None and retry > now:
            again = retry if again is None else min(again, retry)
            continue
        try:
            more = deliver(run, f, group, now_ms)
        except Exception as err:  # a KMS key no longer usable: try again later
            code = getattr(err, "code", None)
            log.warning(
                "subscription filter %s of %s: %s", f.name, group.arn,
                code or type(err).__name__, exc_info=not isinstance(code, str),
            )  # fmt: skip
            _retry_at[key] = now + RETRY_SECONDS
            again = now + RETRY_SECONDS if again is None else min(again, now + RETRY_SECONDS)
            continue
        _retry_at.pop(key, None)
        if more or not run.store.is_sqlite:
            again = now if again is None else min(again, now)
    if not run.store.is_sqlite and again is None:
        again = now + 1
    return again
