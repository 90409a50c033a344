"""Account-level Block Public Access: the caller's own account only (an
AccountId naming another is AccessDenied, as AWS answers it), authorized as
``s3:GetAccountPublicAccessBlock`` / ``s3:PutAccountPublicAccessBlock``
(DeletePublicAccessBlock is authorized as the Put, as on AWS)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import api as s3
from strongroom.services.s3control.service import errors, service


def _require_own(call: Call, account: str) -> None:
    if account != call.account:
        raise errors.AccessDenied("Access Denied")


@service.operation(authorize="s3:GetAccountPublicAccessBlock")
def get_public_access_block(call: Call, AccountId: str, **_: Any) -> dict[str, Any]:
    _require_own(call, AccountId)
    config = s3.account_public_access_block(call, AccountId)
    if config is None:
        raise errors.NoSuchPublicAccessBlockConfiguration(
            "The public access block configuration was not found", AccountId=AccountId
        )
    return {"PublicAccessBlockConfiguration": config}


@service.operation(authorize="s3:PutAccountPublicAccessBlock")
def put_public_access_block(
    call: Call, AccountId: str, PublicAccessBlockConfiguration: dict[str, Any], **_: Any
) -> dict[str, Any]:
    _require_own(call, AccountId)
    s3.put_account_public_access_block(call, AccountId, PublicAccessBlockConfiguration)
    return {}


@service.operation(authorize="s3:PutAccountPublicAccessBlock")
def delete_public_access_block(call: Call, AccountId: str, **_: Any) -> dict[str, Any]:
    _require_own(call, AccountId)
    s3.delete_account_public_access_block(call, AccountId)
    return {}
