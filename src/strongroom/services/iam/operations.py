"""IAM operations: users and access keys (the other entities' operations
live in the ``ops_*`` modules, imported at the end so they register)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import policies
from strongroom.services.iam import users as model
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page_out,
    remove_tags,
    tag_context,
)
from strongroom.services.iam.service import errors, service


def _target_user(call: Call, user_name: str | None) -> model.User | None:
    """The named user, or the caller's own user when no name is given (None for root)."""
    if user_name is not None:
        return model.resolve_user(call, user_name)
    p = call.principal
    if p.type == "IAMUser" and p.user_name:
        return model.resolve_user(call, p.user_name)
    if p.is_root:
        return None
    raise errors.ValidationError("Must specify userName when calling with non-User credentials")


def _user_resource(call: Call, user_name: str | None) -> str:
    if user_name is None and call.principal.type == "IAMUser":
        return call.principal.arn
    if user_name is None:
        return call.principal.arn
    return model.arn_of(call, user_name)


@service.operation(authorize=False)
def create_user(
    call: Call,
    UserName: str,
    Path: str = "/",
    PermissionsBoundary: str | None = None,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    context = tag_context(Tags)
    if PermissionsBoundary:
        context["iam:PermissionsBoundary"] = PermissionsBoundary
    call.authorize("iam:CreateUser", model.user_arn(call.account, Path, UserName), context)
    tags = check_new_tags(call, Tags or [])
    if PermissionsBoundary:
        policies.resolve_boundary(call, PermissionsBoundary)
    user = model.create_user(call, UserName, Path, PermissionsBoundary, tags)
    call.audit_resource(user.arn, "AWS::IAM::User")
    return {"User": user.to_user()}


@service.operation(authorize=False)
def get_user(call: Call, UserName: str | None = None) -> dict[str, Any]:
    call.authorize("iam:GetUser", _user_resource(call, UserName))
    user = _target_user(call, UserName)
    if user is None:  # the account root
        return {
            "User": {
                "UserId": call.account,
                "Arn": call.principal.arn,
                "CreateDate": datetime.fromtimestamp(0, UTC),
                "Path": "/",
            }
        }
    return {"User": user.to_user()}


@service.operation(authorize=False)
def list_users(
    call: Call, PathPrefix: str = "/", Marker: str | None = None, MaxItems: int = 100
) -> dict[str, Any]:
    call.authorize("iam:ListUsers", f"arn:aws:iam::{call.account}:user{PathPrefix}*")
    found = model.list_users(call.conn, call.account, PathPrefix)
    return page_out(call, "Users", [u.to_user(full=False) for u in found], Marker, MaxItems)


@service.operation(authorize=False)
def delete_user(call: Call, UserName: str) -> dict[str, Any]:
    call.authorize("iam:DeleteUser", model.arn_of(call, UserName))
    user = model.resolve_user(call, UserName)
    model.delete_user(call, user)
    call.audit_resource(user.arn, "AWS::IAM::User")
    return {}


@service.operation(authorize=False)
def create_access_key(call: Call, UserName: str | None = None) -> dict[str, Any]:
    call.authorize("iam:CreateAccessKey", _user_resource(call, UserName))
    user = _target_user(call, UserName)
    akid, secret, created = model.create_key(call, user)
    key = {
        "AccessKeyId": akid,
        "SecretAccessKey": secret,
        "Status": "Active",
        "CreateDate": datetime.fromtimestamp(created, UTC),
    }
    if user is not None:
        key["UserName"] = user.user_name
    return {"AccessKey": key}


@service.operation(authorize=False)
def list_access_keys(
    call: Call, UserName: str | None = None, Marker: str | None = None, MaxItems: int = 100
) -> dict[str, Any]:
    call.authorize("iam:ListAccessKeys", _user_resource(call, UserName))
    user = _target_user(call, UserName)
    name = user.user_name if user else None
    rows = model.key_rows(call.conn, call.account, name)
    keys = []
    for akid, active, created in rows:
        item = {
            "AccessKeyId": akid,
            "Status": "Active" if active else "Inactive",
            "CreateDate": datetime.fromtimestamp(created, UTC),
        }
        if name is not None:
            item["UserName"] = name
        keys.append(item)
    return page_out(call, "AccessKeyMetadata", keys, Marker, MaxItems)


@service.operation(authorize=False)
def update_access_key(
    call: Call, AccessKeyId: str, Status: str, UserName: str | None = None
) -> dict[str, Any]:
    call.authorize("iam:UpdateAccessKey", _user_resource(call, UserName))
    user = _target_user(call, UserName)
    model.set_key_status(call, user.user_name if user else None, AccessKeyId, Status == "Active")
    return {}


@service.operation(authorize=False)
def delete_access_key(call: Call, AccessKeyId: str, UserName: str | None = None) -> dict[str, Any]:
    call.authorize("iam:DeleteAccessKey", _user_resource(call, UserName))
    user = _target_user(call, UserName)
    model.delete_key(call, user.user_name if user else None, AccessKeyId)
    return {}


@service.operation(authorize=False)
def update_user(
    call: Call, UserName: str, NewPath: str | None = None, NewUserName: str | None = None
) -> dict[str, Any]:
    call.authorize("iam:UpdateUser", model.arn_of(call, UserName))
    user = model.resolve_user(call, UserName)
    model.rename_user(call, user, NewUserName, NewPath)
    call.audit_resource(user.arn, "AWS::IAM::User")
    return {}


# -- tags and permissions boundary ------------------------------------------


@service.operation(authorize=False)
def tag_user(call: Call, UserName: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
    call.authorize("iam:TagUser", model.arn_of(call, UserName), tag_context(Tags))
    user = model.resolve_user(call, UserName)
    tags = merge_tags(call, user.tags, check_new_tags(call, Tags), "User")
    model.update_user(call, user, tags=tags)
    return {}


@service.operation(authorize=False)
def untag_user(call: Call, UserName: str, TagKeys: list[str]) -> dict[str, Any]:
    call.authorize("iam:UntagUser", model.arn_of(call, UserName), tag_context(None, TagKeys))
    user = model.resolve_user(call, UserName)
    model.update_user(call, user, tags=remove_tags(user.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_user_tags(
    call: Call, UserName: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListUserTags", model.arn_of(call, UserName))
    user = model.resolve_user(call, UserName)
    return page_out(call, "Tags", user.tags, Marker, MaxItems)


@service.operation(authorize=False)
def put_user_permissions_boundary(
    call: Call, UserName: str, PermissionsBoundary: str
) -> dict[str, Any]:
    call.authorize(
        "iam:PutUserPermissionsBoundary",
        model.arn_of(call, UserName),
        {"iam:PermissionsBoundary": PermissionsBoundary},
    )
    user = model.resolve_user(call, UserName)
    policies.resolve_boundary(call, PermissionsBoundary)
    model.update_user(call, user, permissions_boundary=PermissionsBoundary)
    return {}


@service.operation(authorize=False)
def delete_user_permissions_boundary(call: Call, UserName: str) -> dict[str, Any]:
    call.authorize("iam:DeleteUserPermissionsBoundary", model.arn_of(call, UserName))
    user = model.resolve_user(call, UserName)
    model.update_user(call, user, permissions_boundary=None)
    return {}


# The other entities' operations register on import.
from strongroom.services.iam import (  # noqa: E402
    ops_account,
    ops_groups,
    ops_instance_profiles,
    ops_mfa,
    ops_passwords,
    ops_policies,
    ops_providers,
    ops_roles,
    ops_service_roles,
    ops_simulate,
    ops_user_credentials,
)

__all__ = [
    "ops_account",
    "ops_groups",
    "ops_instance_profiles",
    "ops_mfa",
    "ops_passwords",
    "ops_policies",
    "ops_providers",
    "ops_roles",
    "ops_service_roles",
    "ops_simulate",
    "ops_user_credentials",
    "service",
]
