"""Data protection policies: PutDataProtectionPolicy, GetDataProtectionPolicy,
DeleteDataProtectionPolicy (what they mask: `protection`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import groups, protection
from strongroom.services.logs.groups import GROUP_TYPE
from strongroom.services.logs.service import BAD_TOKEN, errors, service


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


def _account_resource(call: Call) -> str:
    return f"arn:aws:logs:{call.region}:{call.account}:*"


def _require_type(policy_type: str) -> None:
    if policy_type != protection.ACCOUNT_TYPE:
        raise errors.InvalidParameterException(
            f"Account policies of type {policy_type} are not supported by this server "
            f"(only {protection.ACCOUNT_TYPE})."
        )


@service.operation(authorize=False)
def put_account_policy(
    call: Call,
    policyName: str,
    policyDocument: str,
    policyType: str,
    scope: str | None = None,
    selectionCriteria: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:PutAccountPolicy", _account_resource(call))
    _require_type(policyType)
    if selectionCriteria is not None:
        raise errors.InvalidParameterException(
            "selectionCriteria is not valid for a data protection policy."
        )
    protection.require_document(policyDocument)
    found = protection.account_policies_of(call.conn, call.account, call.region, policyType)
    if found and found[0].name != policyName:
        # One account-level data protection policy an account.
        raise errors.LimitExceededException("Resource limit exceeded.")
    policy = protection.put_account_policy(call, policyName, policyDocument, scope or "ALL")
    return {"accountPolicy": policy.describe()}


@service.operation(authorize=False)
def describe_account_policies(
    call: Call,
    policyType: str,
    policyName: str | None = None,
    accountIdentifiers: list[str] | None = None,
    nextToken: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:DescribeAccountPolicies", _account_resource(call))
    if nextToken is not None:  # one policy a type at most: no page was ever handed out
        BAD_TOKEN.raise_for(call)
    if accountIdentifiers and call.account not in accountIdentifiers:
        return {"accountPolicies": []}
    found = protection.account_policies_of(
        call.conn, call.account, call.region, policyType, policyName
    )
    return {"accountPolicies": [p.describe() for p in found]}


@service.operation(authorize=False)
def delete_account_policy(call: Call, policyName: str, policyType: str, **_: Any) -> dict[str, Any]:
    call.authorize("logs:DeleteAccountPolicy", _account_resource(call))
    found = protection.account_policies_of(
        call.conn, call.account, call.region, policyType, policyName
    )
    if not found:
        raise errors.ResourceNotFoundException(
            f"Policy with name [{policyName}] and type [{policyType}] does not exist"
        )
    protection.remove_account_policy(call.conn, found[0])
    return {}
