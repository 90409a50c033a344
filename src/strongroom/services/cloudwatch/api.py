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
are AWS's own metrics. `ctx` is a `Call` or a `JobRun` in a write transaction.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, JobRun
from strongroom.services.cloudwatch import datums, metrics

__all__ = ["put_metric_data"]


def put_metric_data(
    ctx: Call | JobRun,
    namespace: str,
    metric_data: list[dict[str, Any]],
    *,
    account: str,
    region: str,
) -> int:
    """Store `metric_data` (MetricDatum dicts, model names and types) in the
    account's metrics; how many samples were stored."""
    now = ctx.clock.timestamp()
    stored = 0
    for start in range(0, len(metric_data), datums.MAX_DATUMS):
        samples = datums.samples(metric_data[start : start + datums.MAX_DATUMS], now)
        metrics.put(ctx.conn, account, region, namespace, samples, now)
        stored += len(samples)
    return stored
