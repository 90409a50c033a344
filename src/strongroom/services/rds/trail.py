"""What RDS's CloudTrail events record, as data (see `strongroom.framework.trail`).

As AWS records them: the request's members (MasterUserPassword is
sensitive in the model, so it is never recorded and cannot be declared);
the write operations' responses as the default does. The Describe
operations and DownloadDBLogFilePortion are read-only: no responseElements
(a log's text never reaches the trail).
"""

from __future__ import annotations

from typing import Any

from strongroom.services.rds.service import service

TRAIL: dict[str, dict[str, Any]] = {}

service.trail.update(TRAIL)
