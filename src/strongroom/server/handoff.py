"""Background work: what an operation or a job hands off (`Call.hand_off`,
`JobRun.hand_off`) to run after its transaction commits, in a thread of the
server, with the `Runtime`, in transactions of its own.

Why: some work must run neither on the event loop nor inside the request's
write transaction. A Lambda function invoked for a Secrets Manager rotation
calls back into this server over HTTP; on the loop it would wait for the
loop forever, and under the write lock its own writes would wait for it.

How: the hand-off is a row of `strongroom_handoffs`, written in the handing
transaction (so it exists exactly when that commits), its payload sealed.
After the commit the pipeline wakes the runner, whose poller thread claims
due rows in a write transaction of its own (``claimed_until`` on the wall
clock, as a claim is about a live worker), so that one process of all those
sharing the store runs each; the work runs in a pool thread and its row is
deleted when it returns (or raises: retrying is the work's business). A
worker that dies leaves its claim to run out; the work is then claimed and
run again, so work must be safe to repeat. Rows are also looked for every
`POLL_SECONDS`, for work another process handed off or left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Float,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    delete,
    select,
    update,
)

from strongroom.framework import Background, ServiceEvent
from strongroom.ids import uuid4
from strongroom.store.db import StoreBusy, metadata

if TYPE_CHECKING:
    from strongroom.server.app import App

log = logging.getLogger("strongroom.server.handoff")

handoffs = Table(
    "strongroom_handoffs",
    metadata,
    Column("work_id", String(64), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    #: At most one item a key, per service, queued or running (NULL: no key).
    Column("work_key", String(2048), nullable=True),
    #: The payload as JSON, sealed (AAD naming the row).
    Column("payload", LargeBinary, nullable=False),
    Column("created", Float, nullable=False),
    #: Wall-clock time until which a worker holds it, or NULL.
    Column("claimed_until", Float, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    UniqueConstraint("service", "work_key", name="uq_strongroom_handoffs_key"),
)

TABLES = (handoffs,)

#: How long a claim lasts: longer than any work may run (a rotation is four
#: invocations of a function whose timeout is at most 900 s).
CLAIM_SECONDS = 4 * 900.0 + 60.0
#: How often the poller looks for work nobody woke it for.
POLL_SECONDS = 5.0
BATCH = 16


def _aad(work_id: str) -> bytes:
    return f"handoff:{work_id}".encode()


class Runner:
    """Runs handed-off work for one server process."""

    def __init__(self, app: App, threads: int = 4) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="strongroom-work")
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()

    # -- handing off (in the handing transaction) ---------------------------

    def hand_off(
        self, conn: Connection, service: str, name: str, payload: Any, key: str | None = None
    ) -> bool:
        """Queue the work in the caller's transaction; False (nothing queued)
        when `key` is taken by work of `service` queued or running."""
        svc = self.app.services_by_name.get(service)
        if svc is None or name not in svc.background_work:
            raise LookupError(f"{service} has no background work {name!r}")
        if key is not None:
            taken = conn.execute(
                select(handoffs.c.work_id).where(
                    handoffs.c.service == service, handoffs.c.work_key == key
                )
            ).first()
            if taken is not None:
                return False
        work_id = uuid4()
        conn.execute(
            handoffs.insert().values(
                work_id=work_id,
                service=service,
                name=name,
                work_key=key,
                payload=self.app.sealer.seal(orjson.dumps(payload), _aad(work_id)),
                created=time.time(),
                claimed_until=None,
                claimed_by=None,
            )
        )
        return True

    def wake(self) -> None:
        """Look for work now (after a commit that handed some off)."""
        self._wake.set()

    # -- running ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._poll_loop, name="strongroom-handoff", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop claiming; let running work finish; give back the claims of
        work not started, for the next server to run at once."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.pool.shutdown(wait=True)

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                while self.poll() >= BATCH:
                    pass
            except Exception:
                log.exception("could not claim background work")

    def poll(self) -> int:
        """Claim due work and start it; how many were claimed."""
        store = self.app.store
        wall = time.time()
        free = (handoffs.c.claimed_until.is_(None)) | (handoffs.c.claimed_until < wall)
        with store.off_loop():
            with store.transaction(write=False) as conn:
                found = (
                    conn.execute(select(handoffs.c.work_id).where(free).limit(BATCH))
                    .scalars()
                    .all()
                )
            if not found:
                return 0
            claimed: list[tuple[str, str, str, bytes]] = []
            try:
                with store.transaction(write=True, state=False, wait=True) as conn:
                    for work_id in found:
                        taken = conn.execute(
                            update(handoffs)
                            .where(handoffs.c.work_id == work_id, free)
                            .values(claimed_until=wall + CLAIM_SECONDS, claimed_by=self.app.holder)
                        ).rowcount
                        if not taken:
                            continue  # another process has it
                        row = conn.execute(
                            select(handoffs.c.service, handoffs.c.name, handoffs.c.payload).where(
                                handoffs.c.work_id == work_id
                            )
                        ).first()
                        if row is not None:
                            claimed.append((work_id, row[0], row[1], bytes(row[2])))
            except StoreBusy:
                self.wake()
                return 0
        for item in claimed:
            if not self._closed.is_set():
                self.pool.submit(self._run, *item)
        return len(claimed)

    def _run(self, work_id: str, service: str, name: str, sealed: bytes) -> None:
        if self._closed.is_set():
            self._release(work_id)
            return
        app = self.app
        svc = app.services_by_name.get(service)
        fn = svc.background_work.get(name) if svc is not None else None
        try:
            if fn is None:
                log.error("no background work %s.%s: dropped", service, name)
            else:
                payload = orjson.loads(app.sealer.unseal(sealed, _aad(work_id)))

                def report(event: ServiceEvent) -> None:
                    app.record_service_event(svc, event)

                with app.store.off_loop():
                    fn(
                        Background(svc, app.runtime, report, work_id),
                        payload,
                    )
        except Exception:
            log.exception("background work %s.%s failed", service, name)
        finally:
            self._done(work_id)

    def _release(self, work_id: str) -> None:
        try:
            with (
                self.app.store.off_loop(),
                self.app.store.transaction(write=True, state=False) as conn,
            ):
                conn.execute(
                    update(handoffs)
                    .where(handoffs.c.work_id == work_id)
                    .values(claimed_until=None, claimed_by=None)
                )
        except Exception:
            log.exception("could not give back background work %s", work_id)

    def _done(self, work_id: str) -> None:
        store = self.app.store
        for _ in range(20):
            try:
                with store.off_loop(), store.transaction(write=True, state=False) as conn:
                    conn.execute(delete(handoffs).where(handoffs.c.work_id == work_id))
                return
            except StoreBusy:
                time.sleep(0.5)
        log.error("could not remove finished background work %s", work_id)
