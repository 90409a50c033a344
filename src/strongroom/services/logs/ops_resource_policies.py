"""Resource policies: PutResourcePolicy, DescribeResourcePolicies,
DeleteResourcePolicy (what they decide: `resource_policies.effective`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.logs import groups, resource_policies
from strongroom.services.logs.resource_policies import MAX_POLICIES, ResourcePolicy
from strongroom.services.logs.service import PAGING, errors, service

DESCRIBE = PAGING.listing("resourcePolicies", default=50, maximum=50)


def _account_resource(call: Call) -> str:
    return f"arn:aws:logs:{call.region}:{call.account}:*"


def _scope(call: Call, action: str, resource_arn: str | None) -> None:
    """Authorize `action` on the group a resource-scoped policy names (it
    must be the caller's own, and there), or on the account."""
    if resource_arn is None:
        call.authorize(action, _account_resource(call))
        return
    if not resource_arn.startswith("arn:"):
        raise errors.InvalidParameterException(f"Invalid resourceArn: {resource_arn}")
    group = groups.resolve(call, action, identifier=resource_arn)
    if (group.account, group.region) != (call.account, call.region):
        raise errors.InvalidParameterException(
            "A log group's resource policy is set by the group's own account."
        )


def _require_revision(found: ResourcePolicy | None, expected: str | None) -> None:
    if expected is not None and (found is None or found.revision != expected):
        raise errors.OperationAbortedException(
            "The expected revision ID does not match the policy's current revision."
        )


@service.operation(authorize=False)
def put_resource_policy(
    call: Call,
    policyName: str | None = None,
    policyDocument: str | None = None,
    resourceArn: str | None = None,
    expectedRevisionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    _scope(call, "logs:PutResourcePolicy", resourceArn)
    if policyDocument is None:
        raise errors.InvalidParameterException("policyDocument is required.")
    key = resource_policies.key_of(policyName, resourceArn)
    resource_policies.require_document(policyDocument)
    found = resource_policies.find(call.conn, call.account, call.region, key)
    _require_revision(found, expectedRevisionId)
    if (
        found is None
        and resourceArn is None
        and resource_policies.account_count(call.conn, call.account, call.region) >= MAX_POLICIES
    ):
        raise errors.LimitExceededException("Resource limit exceeded.")
    policy = resource_policies.put(call, key, policyDocument, found)
    return {"resourcePolicy": policy.describe(), "revisionId": policy.revision}


@service.operation(authorize=False)
def delete_resource_policy(
    call: Call,
    policyName: str | None = None,
    resourceArn: str | None = None,
    expectedRevisionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    _scope(call, "logs:DeleteResourcePolicy", resourceArn)
    key = resource_policies.key_of(policyName, resourceArn)
    found = resource_policies.find(call.conn, call.account, call.region, key)
    if found is None:
        raise errors.ResourceNotFoundException(
            f"Policy with name [{policyName or resourceArn}] does not exist"
        )
    _require_revision(found, expectedRevisionId)
    resource_policies.remove(call.conn, found)
    return {}


@service.operation(authorize=False)
def describe_resource_policies(
    call: Call,
    nextToken: str | None = None,
    limit: int | None = None,
    resourceArn: str | None = None,
    policyScope: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    _scope(call, "logs:DescribeResourcePolicies", resourceArn)
    found = [
        p.describe()
        for p in resource_policies.listed(
            call.conn, call.account, call.region, resource_arn=resourceArn, scope=policyScope
        )
    ]
    return DESCRIBE.over_list(call, found, nextToken, limit, scope=(resourceArn, policyScope))
