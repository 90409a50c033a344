"""What CloudWatch Logs' CloudTrail events record, as data (see
`strongroom.framework.trail`).

Log event messages are customer data: PutLogEvents records the group and
stream it wrote to, never ``logEvents``, and TestMetricFilter its pattern,
never ``logEventMessages``. The reads (GetLogEvents, FilterLogEvents,
GetQueryResults) are read-only, so their responses, which hold the events,
are never recorded.
"""

from __future__ import annotations

from typing import Any

from strongroom.services.logs.service import service

TRAIL: dict[str, dict[str, Any]] = {
    "PutLogEvents": {"request": ["logGroupName", "logStreamName"], "response": []},
    "TestMetricFilter": {"request": ["filterPattern"]},
}

service.trail.update(TRAIL)
