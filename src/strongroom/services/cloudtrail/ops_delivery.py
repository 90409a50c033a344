"""Delivery's operations and job: ListPublicKeys, and the clock-driven job
that delivers each logging trail every ~5 minutes of the server's clock
(and its hourly digests), and hands its delivery to CloudWatch Logs, every
2 s, to background work off the event loop (`deliver_to_logs`), through
`sinks.ServiceSink` (S3's and Logs' internal APIs); unit tests put a
`MemorySink` in its place (`set_sink_factory`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom.framework import Background, Call, JobRun
from strongroom.services.cloudtrail import delivery, sinks, trails
from strongroom.services.cloudtrail.service import LIST_KEYS, errors, service
from strongroom.services.cloudtrail.trails import Trail

SinkFactory = Callable[[JobRun], delivery.Sink]

_sink_factory: SinkFactory = sinks.ServiceSink


def set_sink_factory(factory: SinkFactory | None) -> None:
    """Where the job delivers: ``factory(run)`` gives the sink for one run
    (default: S3's internal put and Logs' put-events, in the run's
    transaction)."""
    global _sink_factory
    _sink_factory = factory or sinks.ServiceSink


@service.job
def cloudtrail_delivery(run: JobRun) -> float | None:
    hand_off = None
    if run.runtime.hand_off is not None:

        def hand_off(trail: Trail) -> object:
            # One a trail at a time: while one is queued or running, none more.
            return run.hand_off("deliver_to_logs", {"trail": trail.arn}, key=f"logs:{trail.arn}")

    _, next_due = delivery.run_trails(
        run.conn, run.sealer, _sink_factory(run), run.now.timestamp(), hand_off
    )
    return next_due


#: Deliveries one hand-off makes back to back while a backlog remains.
MAX_LOGS_ROUNDS = 20


@service.background
def deliver_to_logs(work: Background, payload: dict[str, Any]) -> None:
    """A trail's delivery to CloudWatch Logs, off the event loop: the events
    are read and rendered in a read transaction, then put and the cursor
    moved in a short write transaction (which puts nothing if the cursor
    moved meanwhile), so the write lock is held only for the put."""
    arn = payload["trail"]
    for _ in range(MAX_LOGS_ROUNDS):
        with work.transaction(write=False) as run:
            trail = trails.by_arn(run.conn, arn)
            if trail is None or not trail.logging:
                return
            batch = delivery.prepare_logs(run.conn, trail)
        if batch is None:
            return
        with work.transaction(write=True) as run:
            trail = trails.by_arn(run.conn, arn)
            if trail is None or not trail.logging:
                return
            put = delivery.put_logs(run.conn, trail, _sink_factory(run), batch, run.now.timestamp())
        if put is None or trail.logs_error or not batch.more:
            return


@service.operation
def list_public_keys(
    call: Call,
    StartTime: datetime | None = None,
    EndTime: datetime | None = None,
    NextToken: str | None = None,
) -> dict[str, Any]:
    now = call.now
    end = EndTime or now
    start = StartTime or (end - timedelta(days=1))
    if start > end:
        raise errors.InvalidTimeRangeException("Start time must be before end time.")
    keys = delivery.public_keys(call.conn, call.region, start.timestamp(), end.timestamp())
    listed = [
        {
            # The PKCS #1 DER: base64 once on the wire, which the aws CLI
            # (it leaves blobs as base64 text) decodes itself.
            "Value": der,
            "ValidityStartTime": datetime.fromtimestamp(valid_from, UTC),
            "ValidityEndTime": datetime.fromtimestamp(valid_to, UTC)
            if valid_to is not None
            else now + timedelta(days=365),
            "Fingerprint": fingerprint,
        }
        for fingerprint, der, valid_from, valid_to in keys
    ]
    return LIST_KEYS.over_list(call, listed, NextToken, None, scope=(start, end))
