"""IAM operations: roles."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import policies, signin
from strongroom.services.iam import roles as model
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page_out,
    remove_tags,
    tag_context,
)
from strongroom.services.iam.service import service
from strongroom.services.iam.service_roles import require_modifiable


@service.operation(authorize=False)
def create_role(
    call: Call,
    RoleName: str,
    AssumeRolePolicyDocument: str,
    Path: str = "/",
    Description: str | None = None,
    MaxSessionDuration: int = 3600,
    PermissionsBoundary: str | None = None,
    Tags: list[dict[str, str]] | None = None,
    MaxSigninSessionDuration: int | None = None,
) -> dict[str, Any]:
    context = tag_context(Tags)
    if PermissionsBoundary:
        context["iam:PermissionsBoundary"] = PermissionsBoundary
    call.authorize("iam:CreateRole", model.role_arn(call.account, Path, RoleName), context)
    tags = check_new_tags(call, Tags or [])
    model.validate_trust_policy(call, AssumeRolePolicyDocument)
    if PermissionsBoundary:
        policies.resolve_boundary(call, PermissionsBoundary)
    role = model.create_role(
        call,
        RoleName,
        Path,
        AssumeRolePolicyDocument,
        Description,
        MaxSessionDuration,
        PermissionsBoundary,
        tags,
        MaxSigninSessionDuration,
    )
    call.audit_resource(role.arn, "AWS::IAM::Role")
    out = role.to_role()
    # CreateRole's answer has neither RoleLastUsed nor MaxSessionDuration.
    out.pop("RoleLastUsed", None)
    out.pop("MaxSessionDuration", None)
    return {"Role": out}


@service.operation(authorize=False)
def get_role(call: Call, RoleName: str) -> dict[str, Any]:
    call.authorize("iam:GetRole", model.arn_of(call, RoleName))
    return {"Role": model.resolve_role(call, RoleName).to_role()}


@service.operation(authorize=False)
def list_roles(
    call: Call, PathPrefix: str = "/", Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListRoles", f"arn:aws:iam::{call.account}:role{PathPrefix}*")
    found = model.list_roles(call.conn, call.account, PathPrefix)
    return page_out(call, "Roles", [r.to_role(full=False) for r in found], Marker, MaxItems)


@service.operation(authorize=False)
def delete_role(call: Call, RoleName: str) -> dict[str, Any]:
    call.authorize("iam:DeleteRole", model.arn_of(call, RoleName))
    role = model.resolve_role(call, RoleName)
    require_modifiable(call, role)
    model.delete_role(call, role)
    call.audit_resource(role.arn, "AWS::IAM::Role")
    return {}


@service.operation(authorize=False)
def update_role(
    call: Call,
    RoleName: str,
    Description: str | None = None,
    MaxSessionDuration: int | None = None,
    MaxSigninSessionDuration: int | None = None,
    ResetMaxSigninSessionDuration: bool | None = None,
) -> dict[str, Any]:
    call.authorize("iam:UpdateRole", model.arn_of(call, RoleName))
    signin.check_update(call, MaxSigninSessionDuration, ResetMaxSigninSessionDuration)
    role = model.resolve_role(call, RoleName)
    if (
        MaxSessionDuration is not None
        or MaxSigninSessionDuration is not None
        or ResetMaxSigninSessionDuration
    ):  # a service-linked role's description alone may change
        require_modifiable(call, role)
    values: dict[str, Any] = {}
    if Description is not None:
        values["description"] = Description
    if MaxSessionDuration is not None:
        values["max_session_duration"] = MaxSessionDuration
    if values:
        model.update_role(call, role, **values)
    signin.apply_update(call, role.role_id, MaxSigninSessionDuration, ResetMaxSigninSessionDuration)
    return {}


@service.operation(authorize=False)
def update_role_description(call: Call, RoleName: str, Description: str) -> dict[str, Any]:
    call.authorize("iam:UpdateRoleDescription", model.arn_of(call, RoleName))
    role = model.resolve_role(call, RoleName)
    model.update_role(call, role, description=Description)
    role.description = Description
    return {"Role": role.to_role()}


@service.operation(authorize=False)
def update_assume_role_policy(call: Call, RoleName: str, PolicyDocument: str) -> dict[str, Any]:
    call.authorize("iam:UpdateAssumeRolePolicy", model.arn_of(call, RoleName))
    role = model.resolve_role(call, RoleName)
    require_modifiable(call, role)
    model.validate_trust_policy(call, PolicyDocument)
    model.update_role(call, role, trust_policy=PolicyDocument)
    return {}


# -- tags and permissions boundary ------------------------------------------


@service.operation(authorize=False)
def tag_role(call: Call, RoleName: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
    call.authorize("iam:TagRole", model.arn_of(call, RoleName), tag_context(Tags))
    role = model.resolve_role(call, RoleName)
    tags = merge_tags(call, role.tags, check_new_tags(call, Tags), "Role")
    model.update_role(call, role, tags=tags)
    return {}


@service.operation(authorize=False)
def untag_role(call: Call, RoleName: str, TagKeys: list[str]) -> dict[str, Any]:
    call.authorize("iam:UntagRole", model.arn_of(call, RoleName), tag_context(None, TagKeys))
    role = model.resolve_role(call, RoleName)
    model.update_role(call, role, tags=remove_tags(role.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_role_tags(
    call: Call, RoleName: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListRoleTags", model.arn_of(call, RoleName))
    role = model.resolve_role(call, RoleName)
    return page_out(call, "Tags", role.tags, Marker, MaxItems)


@service.operation(authorize=False)
def put_role_permissions_boundary(
    call: Call, RoleName: str, PermissionsBoundary: str
) -> dict[str, Any]:
    call.authorize(
        "iam:PutRolePermissionsBoundary",
        model.arn_of(call, RoleName),
        {"iam:PermissionsBoundary": PermissionsBoundary},
    )
    role = model.resolve_role(call, RoleName)
    require_modifiable(call, role)
    policies.resolve_boundary(call, PermissionsBoundary)
    model.update_role(call, role, permissions_boundary=PermissionsBoundary)
    return {}


@service.operation(authorize=False)
def delete_role_permissions_boundary(call: Call, RoleName: str) -> dict[str, Any]:
    call.authorize("iam:DeleteRolePermissionsBoundary", model.arn_of(call, RoleName))
    role = model.resolve_role(call, RoleName)
    require_modifiable(call, role)
    model.update_role(call, role, permissions_boundary=None)
    return {}
