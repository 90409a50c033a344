"""A function's output into CloudWatch Logs, as Lambda delivers it.

The engine hands each invocation's lines (START, what the function wrote,
END, REPORT; INIT_START and the rest as they come) to `LogDelivery`, which
queues them and returns at once: the invocation never waits for its log, as
on AWS, where the output arrives in CloudWatch Logs shortly after. A thread
of its own writes them, batch by batch, in write transactions of its own,
through Logs' internal API (`logs_api.put_events`) into the function's
LoggingConfig LogGroup (default ``/aws/lambda/<function>``), stream
``YYYY/MM/DD/[<version>]<32 hex>`` (one an execution environment).

As on AWS, Lambda writes with the function's execution role: it calls
CloudWatch Logs' CreateLogGroup, CreateLogStream (once an environment) and
PutLogEvents as the role's session (named after the function), through
the framework (`Call.invoke`), so Logs' own authorization decides: the
role's policies must allow ``logs:CreateLogGroup`` (unless the group
exists), ``logs:CreateLogStream`` and ``logs:PutLogEvents``. Without them
the output is dropped, silently for the caller (AWS reports nothing either;
the function still runs and Invoke's LogType=Tail still returns the tail).

The queue lives in the server process: output queued but not yet written
when the process is killed is lost (AWS's delivery makes no stronger
promise to the function either).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

from strongroom.engines.lambda_runtime import FunctionImage, LogEvent
from strongroom.framework import Call, JobRun
from strongroom.ids import uuid4
from strongroom.services.lambda_.service import LAMBDA_PRINCIPAL
from strongroom.services.sts import api as sts

log = logging.getLogger(__name__)

#: Queued deliveries written in one transaction, at most.
BATCH = 200
#: Streams remembered as made (one an environment) before starting afresh.
MADE_KEPT = 10_000

Item = tuple[FunctionImage, str, str, list[LogEvent]]


class LogDelivery:
    """The engine's `image_log_sink`: bound to the server's runtime on the
    first invocation (`bind`), delivering on a thread of its own."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.runtime: Any = None
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Deliveries waiting or being written (for `wait_idle`).
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        #: (account, Region, group, stream) this process has created (or
        #: found): CreateLogStream is asked once an environment.
        self._made: set[tuple[str, str, str, str]] = set()

    def bind(self, runtime: Any) -> None:
        if self.runtime is None:
            self.runtime = runtime

    def __call__(
        self, image: FunctionImage, group: str, stream: str, events: Sequence[LogEvent]
    ) -> None:
        if not events:
            return
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lambda-log-delivery", daemon=True
                )
                self._thread.start()
        self._queue.put((image, group, stream, list(events)))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until everything queued so far is written (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                items.append(more)
            try:
                self._deliver(items)
            except Exception:
                log.exception("Lambda log delivery failed (%d batches dropped)", len(items))
            finally:
                with self._idle:
                    self._pending -= len(items)
                    self._idle.notify_all()

    def _deliver(self, items: list[Item]) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        store, clock = runtime.store, runtime.clock
        with store.off_loop(), store.transaction(write=True) as conn:
            clock.refresh(conn)
            run = JobRun(self.service, conn, clock.now(), runtime)
            for image, group, stream, events in items:
                call = self._as_role(run, image)
                if call is None:
                    continue
                try:
                    self._put(call, group, stream, events)
                except Exception as err:
                    code = getattr(err, "code", None)
                    if not isinstance(code, str):
                        raise
                    # AccessDenied (the role's policies), a KMS refusal: dropped.
                    log.info("%s: output not delivered: %s", image.function_name, code)
        if run.children and runtime.record_children is not None:
            runtime.record_children(run.children)

    def _as_role(self, run: JobRun, image: FunctionImage) -> Call | None:
        """A call by the execution role's session (named after the function,
        as Lambda names it), for CloudWatch Logs to authorize."""
        principal = sts.role_session_principal(run, image.role_arn, image.function_name)
        if principal is None:
            return None
        return Call(
            runtime=run.runtime,
            service=self.service,
            operation="Invoke",
            request_id=uuid4(),
            account=image.account,
            region=image.region,
            principal=principal,
            source_ip=LAMBDA_PRINCIPAL,
            user_agent=LAMBDA_PRINCIPAL,
            secure=True,
            conn=run.conn,
            # Recorded once the delivery commits, as the role's own calls.
            children=run.children,
        )

    def _put(self, call: Call, group: str, stream: str, events: list[LogEvent]) -> None:
        """CreateLogGroup and CreateLogStream (once an environment, as
        Lambda does; either may be refused if it already exists), then
        PutLogEvents in batches within its limits."""
        place = (call.account, call.region, group, stream)
        if place not in self._made:
            for operation, params in (
                ("CreateLogGroup", {"logGroupName": group}),
                ("CreateLogStream", {"logGroupName": group, "logStreamName": stream}),
            ):
                try:
                    call.invoke("logs", operation, **params)
                except Exception as err:
                    exists = getattr(err, "code", None) == "ResourceAlreadyExistsException"
                    # A refused CreateLogGroup is no end: the group may exist.
                    if not exists and operation == "CreateLogStream":
                        raise
            if len(self._made) >= MADE_KEPT:  # environments come and go
                self._made.clear()
            self._made.add(place)
        try:
            for batch in _batches(events):
                call.invoke("logs", "PutLogEvents", logGroupName=group, logStreamName=stream,
                            logEvents=batch)  # fmt: skip
        except Exception as err:
            if getattr(err, "code", None) == "ResourceNotFoundException":
                self._made.discard(place)  # deleted since: made again next time
            raise


def _batches(events: list[LogEvent]) -> list[list[dict[str, Any]]]:
    """PutLogEvents batches: chronological, at most 10,000 events and
    1,048,576 bytes (26 bytes an event counted), 24 hours apart at most."""
    out: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for stamp, message in sorted(events, key=lambda e: e[0]):
        if not message:
            continue
        cost = len(message.encode("utf-8", "surrogatepass")) + 26
        if batch and (
            len(batch) >= 10_000 or size + cost > 1_048_576
            or stamp - batch[0]["timestamp"] > 86_400_000
        ):  # fmt: skip
            out.append(batch)
            batch, size = [], 0
        batch.append({"timestamp": stamp, "message": message})
        size += cost
    if batch:
        out.append(batch)
    return out
