"""What CloudTrail's own CloudTrail events record (see
`strongroom.framework.trail`): the trail operations' requests as the
default records them (nothing in them is secret); ListPublicKeys records no
response, as AWS records none for its reads."""

from __future__ import annotations

from typing import Any

from strongroom.services.cloudtrail.service import service

TRAIL: dict[str, dict[str, Any]] = {}

service.trail.update(TRAIL)
