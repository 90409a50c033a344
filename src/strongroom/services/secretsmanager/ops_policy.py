"""Resource policies of secrets: Put, Get, Delete and Validate."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.secretsmanager import policies, secrets
from strongroom.services.secretsmanager.service import errors, service


@service.operation(authorize=False)
def put_resource_policy(
    call: Call,
    SecretId: str,
    ResourcePolicy: str,
    BlockPublicPolicy: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    context = secrets.conditions({"secretsmanager:BlockPublicPolicy": bool(BlockPublicPolicy)})
    secret = secrets.resolve(call, SecretId, "secretsmanager:PutResourcePolicy", context)
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    compiled = policies.require_valid(ResourcePolicy)
    if BlockPublicPolicy and policies.is_public(compiled):
        raise errors.PublicPolicyException(policies.PUBLIC)
    secret.policy = ResourcePolicy
    secrets.save(call.conn, secret, "policy")
    return {"ARN": secret.arn, "Name": secret.name}


@service.operation(authorize=False)
def get_resource_policy(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:GetResourcePolicy")
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if secret.policy is not None:
        out["ResourcePolicy"] = secret.policy
    return out


@service.operation(authorize=False)
def delete_resource_policy(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:DeleteResourcePolicy")
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    secret.policy = None
    secrets.save(call.conn, secret, "policy")
    return {"ARN": secret.arn, "Name": secret.name}


@service.operation(authorize=False)
def validate_resource_policy(
    call: Call, ResourcePolicy: str, SecretId: str | None = None, **_: Any
) -> dict[str, Any]:
    if SecretId is not None:
        secrets.resolve(call, SecretId, "secretsmanager:ValidateResourcePolicy")
    else:
        call.authorize("secretsmanager:ValidateResourcePolicy")
    found = policies.problems(ResourcePolicy)
    out: dict[str, Any] = {"PolicyValidationPassed": not found}
    if found:
        out["ValidationErrors"] = found
    return out
