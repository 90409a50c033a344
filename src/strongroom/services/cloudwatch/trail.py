"""What CloudWatch's CloudTrail events record, as data (see
`strongroom.framework.trail`).

PutMetricData's values are the customer's data and can be a thousand
datums: its event records the namespace only. GetMetricData's and
GetMetricStatistics' responses are never recorded (they are read-only).
"""

from __future__ import annotations

from typing import Any

from strongroom.services.cloudwatch.service import service

TRAIL: dict[str, dict[str, Any]] = {
    "PutMetricData": {"request": ["namespace"]},
}

service.trail.update(TRAIL)
