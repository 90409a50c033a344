"""Data protection policies: PutDataProtectionPolicy, GetDataProtectionPolicy,
DeleteDataProtectionPolicy (what they mask: `protection`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import groups, protection
from strongroom.services.logs.groups import GROUP_TYPE
from strongroom.services.logs.service import errors, service


@service.operation(authorize=False)
def put_data_protection_policy(
    call: Call, logGroupIdentifier: str, policyDocument: str, **_: Any
) -> dict[str, Any]:
    group = groups.resolve(call, "logs:PutDataProtectionPolicy", identifier=logGroupIdentifier)
    protection.require_document(policyDocument)
    policy = protection.put(call.conn, group.id, policyDocument, int(call.clock.timestamp() * 1000))
    call.audit_resource(group.arn, GROUP_TYPE)
    return {
        "logGroupIdentifier": logGroupIdentifier,
        "policyDocument": policy.document,
        "lastUpdatedTime": policy.updated,
    }


@service.operation(authorize=False)
def get_data_protection_policy(call: Call, logGroupIdentifier: str, **_: Any) -> dict[str, Any]:
    group = groups.resolve(call, "logs:GetDataProtectionPolicy", identifier=logGroupIdentifier)
    out: dict[str, Any] = {"logGroupIdentifier": logGroupIdentifier}
    policy = protection.find(call.conn, group.id)
    if policy is not None:
        out["policyDocument"] = policy.document
        out["lastUpdatedTime"] = policy.updated
    return out


@service.operation(authorize=False)
def delete_data_protection_policy(call: Call, logGroupIdentifier: str, **_: Any) -> dict[str, Any]:
    group = groups.resolve(call, "logs:DeleteDataProtectionPolicy", identifier=logGroupIdentifier)
    if not protection.remove(call.conn, group.id):
        raise errors.ResourceNotFoundException(
            "The specified log group does not have a data protection policy."
        )
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}
