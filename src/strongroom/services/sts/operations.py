"""STS operations."""

from __future__ import annotations

from typing import Any

from strongroom.services.base import Call, Service

service = Service("sts")


@service.operation(authorize=False)
def get_caller_identity(call: Call) -> dict[str, Any]:
    """Needs no permission: AWS answers it for any valid credentials."""
    p = call.principal
    return {"UserId": p.principal_id, "Account": p.account, "Arn": p.arn}
