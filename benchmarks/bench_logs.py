"""CloudWatch Logs benchmark: strongroom vs moto on the same signed PutLogEvents.

Each request carries 100 events of about 100 bytes (the issue's ingest bar:
events/s at 100-event batches, at least 20x moto; events/s is the request
rate times 100). The same batch is replayed, which PutLogEvents allows (the
sequence token is ignored); its timestamps are a minute old when the run
starts, well inside the 14-day window.

The scan figures (FilterLogEvents over 1,000,000 stored events with a term
and with a JSON pattern, an Insights ``stats count(*) by bin(5m)``, and
the storage per event) are printed by ``benchmarks/bench_logs_scan.py``.

Run: ``python benchmarks/bench_logs.py [--duration 10] [--connections 16]``
"""

from __future__ import annotations

import json
import sys
import time

from harness import Endpoint, RequestSpec, Workload, json_request, main

GROUP, STREAM = "/bench/ingest", "s"


def batch(now_ms: int) -> list[dict]:
    events = []
    for i in range(100):
        if i % 2:
            message = json.dumps({"level": "INFO", "latency": i, "path": f"/api/v1/items/{i}"})
        else:
            message = f"2024-01-01T00:00:00Z INFO request id={i} path=/api/v1/items/{i} took {i}ms"
        events.append({"timestamp": now_ms + i, "message": message})
    return events


def put_log_events(ep: Endpoint) -> RequestSpec:
    logs = ep.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    now = int(time.time() * 1000) - 60_000
    return json_request(
        "logs",
        "Logs_20140328.PutLogEvents",
        {"logGroupName": GROUP, "logStreamName": STREAM, "logEvents": batch(now)},
    )


WORKLOADS = [Workload("logs PutLogEvents (100 events of ~90 bytes)", put_log_events)]

if __name__ == "__main__":
    sys.exit(main(WORKLOADS, description=__doc__.splitlines()[0]))
