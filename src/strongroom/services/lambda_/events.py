"""Event (asynchronous) invocations: queued durably in the store, run by
a worker thread of the process that holds the scheduler lease, retried as
AWS retries them (two more attempts after a function error, one minute then
two minutes later), then dropped with the error kept on the event row.

Flow: Invoke (InvocationType=Event) stores the sealed payload and answers
202. The service job (on the scheduler's tick, once across processes)
claims due events for a while (`CLAIM_SECONDS` past the function's
timeout) and hands them to the ``lambda_async`` worker, which runs each in a
thread of its own (never on the event loop: the function may call back)
and records the outcome. An event whose worker died is claimed again once
its claim runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from strongroom.encoding import json_value
from strongroom.framework import Call, JobRun, acting_as
from strongroom.ids import uuid4
from strongroom.services.lambda_ import functions, invocations, names
from strongroom.services.lambda_.names import Ref
from strongroom.services.lambda_.service import LAMBDA_PRINCIPAL, service
from strongroom.services.lambda_.tables import events

log = logging.getLogger("strongroom.lambda")

#: AWS: up to two retries after a function error, the first after one
#: minute, the second after two.
RETRY_DELAYS = (60.0, 120.0)
CLAIM_SECONDS = 60.0
#: Events handed to the worker per tick.
BATCH = 16


def _aad(event_id: str) -> bytes:
    return f"lambda-event:{event_id}".encode()


def enqueue(
    conn: Any, sealer: Any, now: float, ref: Ref, qualifier: str | None, payload: bytes
) -> str:
    event_id = uuid4()
    conn.execute(
        insert(events).values(
            event_id=event_id,
            account=ref.account,
            region=ref.region,
            name=ref.name,
            qualifier=qualifier,
            payload=sealer.seal(payload, _aad(event_id)),
            attempts=0,
            due=now,
            claimed_until=None,
            state="queued",
            created=now,
        )
    )
    return event_id


@dataclass(frozen=True, slots=True)
class Claimed:
    event_id: str
    ref: Ref
    payload: bytes
    attempts: int


@service.job
def run_due_events(run: JobRun) -> float | None:
    """Claim the events that are due and hand them to the worker."""
    now = run.runtime.clock.timestamp()
    # A claim is about a live worker, so it runs on the wall clock (a
    # time-travelling server's clock jumps, which must not free a claim).
    wall = time.time()
    rows = run.conn.execute(
        select(events)
        .where(
            (events.c.state == "queued")
            & (events.c.due <= now)
            & ((events.c.claimed_until.is_(None)) | (events.c.claimed_until < wall))
        )
        .order_by(events.c.due)
        .limit(BATCH)
    ).fetchall()
    claimed: list[Claimed] = []
    for row in rows:
        m = row._mapping
        ref = Ref(m["account"], m["region"], m["name"], m["qualifier"])
        v = _version(run.conn, ref)
        timeout = v.timeout if v is not None else 0
        run.conn.execute(
            update(events)
            .where(events.c.event_id == m["event_id"])
            .values(claimed_until=wall + timeout + CLAIM_SECONDS)
        )
        payload = run.sealer.unseal(m["payload"], _aad(m["event_id"]))
        claimed.append(Claimed(m["event_id"], ref, payload, m["attempts"]))
    if claimed:
        worker = run.runtime.resource("lambda_async")
        for item in claimed:
            worker.submit(run.runtime, item)
    nxt = run.conn.execute(
        select(func.min(events.c.due)).where(events.c.state == "queued")
    ).scalar()
    if nxt is None:
        return None
    # A claimed event comes back when its claim runs out; others when due.
    return max(float(nxt), now + 1.0)


def _version(conn: Any, ref: Ref) -> functions.Version | None:
    try:
        return functions.resolve(conn, ref)
    except Exception:
        return None


class Worker:
    """Runs claimed events off the event loop (the process resource ``lambda_async``)."""

    def __init__(self, threads: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lambda-event")
        self._closed = threading.Event()

    def call(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)` on one of the worker's threads: its Future."""
        return self.pool.submit(fn, *args)

    def submit(self, runtime: Any, item: Claimed) -> None:
        if not self._closed.is_set():
            self.pool.submit(self._run, runtime, item)

    def _run(self, runtime: Any, item: Claimed) -> None:
        store = runtime.store
        error: str | None = None
        try:
            with store.off_loop(), store.transaction(write=False) as conn:
                job = JobRun(service, conn, runtime.clock.now(), runtime, writes=False)
                ctx = _context(job, item.ref)
                v = functions.resolve(conn, item.ref)
                version = v.version
                if item.ref.qualifier and not names.is_version_number(item.ref.qualifier):
                    from strongroom.services.lambda_ import aliases

                    alias = aliases.get(conn, item.ref, item.ref.qualifier)
                    if alias is not None:
                        version = alias.pick_version()
                        v = functions.version(conn, item.ref, version) or v
                outcome = invocations.run(
                    ctx,
                    v,
                    item.ref.arn,
                    item.payload,
                    request_id=item.event_id,
                )
            if job.children and runtime.record_children is not None:
                runtime.record_children(job.children)
            if outcome.function_error is not None:
                # Only the error's type is kept: its message may quote the event.
                error = f"{outcome.function_error}: {_error_type(outcome.payload)}"
        except Exception as exc:  # the function is gone, the engine closed…
            error = type(exc).__name__
        self._record(runtime, item, error)

    def _record(self, runtime: Any, item: Claimed, error: str | None) -> None:
        store = runtime.store
        now = runtime.clock.timestamp()
        attempts = item.attempts + 1
        if error is None:
            values: dict[str, Any] = {"state": "succeeded", "attempts": attempts}
        elif attempts > len(RETRY_DELAYS):
            values = {"state": "failed", "attempts": attempts, "last_error": error}
            log.info(
                "event %s for %s failed after %d attempts", item.event_id, item.ref.name, attempts
            )
        else:
            values = {
                "attempts": attempts,
                "due": now + RETRY_DELAYS[attempts - 1],
                "claimed_until": None,
                "last_error": error,
            }
        if "state" in values:  # done with: the payload goes
            values["payload"] = b""
        try:
            with store.off_loop(), store.transaction(write=True) as conn:
                conn.execute(
                    update(events).where(events.c.event_id == item.event_id).values(**values)
                )
        except Exception:
            log.exception("could not record the outcome of event %s", item.event_id)

    def close(self) -> None:
        self._closed.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _error_type(payload: bytes) -> str:
    try:
        found = json_value(payload)
    except ValueError:
        return "unknown"
    kind = found.get("errorType") if isinstance(found, dict) else None
    return str(kind)[:128] if kind else "unknown"


def _context(job: JobRun, ref: Ref) -> Call:
    """What an event's run acts as: Lambda itself, in the function's account."""
    return acting_as(
        job, service, LAMBDA_PRINCIPAL, account=ref.account, region=ref.region, operation="Invoke"
    )
