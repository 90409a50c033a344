"""What Lambda's CloudTrail events record, as data (`strongroom.framework.trail`).

Every operation but Invoke is a management event naming the function ARN
(`access.authorize` adds it as the event's resource); the default selection
(the redacted request, and the response of a write) applies: environment
variables and zips are sensitive in the model and never recorded. Invoke is
a data event, as on AWS (not returned by LookupEvents): it records the
function and qualifier, never the payload, and no response (its log tail
may hold whatever the function printed)."""

from __future__ import annotations

from typing import Any

from strongroom.services.lambda_.service import service

TRAIL: dict[str, dict[str, Any]] = {
    "Invoke": {"request": ["functionName", "qualifier", "invocationType"], "response": []},
}

service.trail.update(TRAIL)
