"""Delivery's operations and job: ListPublicKeys, and the clock-driven job
that delivers each logging trail every ~5 minutes of the server's clock
(and its hourly digests) through the sink the S3 / Logs wiring configures
(`set_sink_factory`). Without a sink there is nowhere to deliver: the job
does nothing and the cursors wait, so nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call, JobRun
from strongroom.services.cloudtrail import delivery
from strongroom.services.cloudtrail.service import LIST_KEYS, errors, service

SinkFactory = Callable[[JobRun], delivery.Sink]

_sink_factory: SinkFactory | None = None


def set_sink_factory(factory: SinkFactory | None) -> None:
    """Where the job delivers: ``factory(run)`` gives the sink for one run
    (S3's internal put and Logs' put-events, in the run's transaction)."""
    global _sink_factory
    _sink_factory = factory


@service.job
def cloudtrail_delivery(run: JobRun) -> float | None:
    if _sink_factory is None:
        return None
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
            # What validate-logs base64-decodes again: base64 text of the DER.
            "Value": b64_text(der).encode(),
            "ValidityStartTime": datetime.fromtimestamp(valid_from, UTC),
            "ValidityEndTime": datetime.fromtimestamp(valid_to, UTC)
            if valid_to is not None
            else now + timedelta(days=365),
            "Fingerprint": fingerprint,
        }
        for fingerprint, der, valid_from, valid_to in keys
    ]
    return LIST_KEYS.over_list(call, listed, NextToken, None, scope=(start, end))
