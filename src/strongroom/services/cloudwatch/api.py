"""CloudWatch for the other services of this server: publishing metric data
as AWS services publish theirs (CloudWatch Logs' metric filters).

    from strongroom.services.cloudwatch import api as cloudwatch_api

    cloudwatch_api.put_metric_data(run, "MyApp", [{"MetricName": "Errors", "Value": 1.0,
                                   "Timestamp": when, "Unit": "Count"}],
                                   account=..., region=...)

The publisher acts as the AWS service delivering the data (no caller's
permission is asked, as AWS's own delivery into the customer's account
needs none), in the caller's transaction, under PutMetricData's rules
(`datums`); the reserved ``AWS/`` namespaces are allowed here, since these
are AWS's own metrics. A datum those rules refuse is left out and counted,
not raised: a publisher's background work must not stall on one bad value.
`ctx` is a `Call` or a `JobRun` in a write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strongroom.framework import Call, JobRun
from strongroom.services.cloudwatch import datums, metrics
from strongroom.services.cloudwatch.service import REFUSALS

__all__ = ["Stored", "put_metric_data"]


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int
    refused: int


def put_metric_data(
    ctx: Call | JobRun,
    namespace: str,
    metric_data: list[dict[str, Any]],
    *,
    account: str,
    region: str,
) -> Stored:
    """Store `metric_data` (MetricDatum dicts, model names and types) in the
    account's metrics: how many datums were stored and refused."""
    now = ctx.clock.timestamp()
    samples = []
    refused = 0
    for datum in metric_data:
        try:
            samples.extend(datums.samples([datum], now))
        except REFUSALS:
            refused += 1
    if samples:
        metrics.put(ctx.conn, account, region, namespace, samples, now)
    return Stored(len(metric_data) - refused, refused)
