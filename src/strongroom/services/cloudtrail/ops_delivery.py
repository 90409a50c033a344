"""Delivery's operations and job: ListPublicKeys, and the clock-driven job
that delivers each logging trail every ~5 minutes of the server's clock
(and its hourly digests), and to CloudWatch Logs every few seconds,
through `sinks.ServiceSink` (S3's and Logs' internal APIs); unit tests
put a `MemorySink` in its place (`set_sink_factory`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom.framework import Call, JobRun
from strongroom.services.cloudtrail import delivery, sinks
from strongroom.services.cloudtrail.service import LIST_KEYS, errors, service

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
    _, next_due = delivery.run_trails(run.conn, run.sealer, _sink_factory(run), run.now.timestamp())
    return next_due


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
