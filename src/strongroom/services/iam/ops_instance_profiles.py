"""IAM operations: instance profiles."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import instance_profiles as model
from strongroom.services.iam import roles
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page_out,
    remove_tags,
    tag_context,
)
from strongroom.services.iam.service import service


@service.operation(authorize=False)
def create_instance_profile(
    call: Call,
    InstanceProfileName: str,
    Path: str = "/",
    Tags: list[dict[str, str]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize(
        "iam:CreateInstanceProfile",
        model.profile_arn(call.account, Path, InstanceProfileName),
        tag_context(Tags),
    )
    tags = check_new_tags(call, Tags or [])
    profile = model.create_profile(call, InstanceProfileName, Path, tags)
    call.audit_resource(profile.arn, "AWS::IAM::InstanceProfile")
    return {"InstanceProfile": profile.to_profile([])}


@service.operation(authorize=False)
def get_instance_profile(call: Call, InstanceProfileName: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:GetInstanceProfile", model.arn_of(call, InstanceProfileName))
    profile = model.resolve_profile(call, InstanceProfileName)
    members = model.roles_of(call.conn, call.account, profile)
    return {"InstanceProfile": profile.to_profile(members)}


@service.operation(authorize=False)
def delete_instance_profile(call: Call, InstanceProfileName: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:DeleteInstanceProfile", model.arn_of(call, InstanceProfileName))
    profile = model.resolve_profile(call, InstanceProfileName)
    model.delete_profile(call, profile)
    call.audit_resource(profile.arn, "AWS::IAM::InstanceProfile")
    return {}


@service.operation(authorize=False)
def list_instance_profiles(
    call: Call,
    PathPrefix: str = "/",
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize(
        "iam:ListInstanceProfiles", f"arn:aws:iam::{call.account}:instance-profile{PathPrefix}*"
    )
    found = model.list_profiles(call.conn, call.account, PathPrefix)
    items = [
        p.to_profile(model.roles_of(call.conn, call.account, p), with_tags=False) for p in found
    ]
    return page_out(call, "InstanceProfiles", items, Marker, MaxItems)


@service.operation(authorize=False)
def list_instance_profiles_for_role(
    call: Call,
    RoleName: str,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListInstanceProfilesForRole", roles.arn_of(call, RoleName))
    role = roles.resolve_role(call, RoleName)
    found = model.profiles_of_role(call.conn, call.account, role)
    items = [
        p.to_profile(model.roles_of(call.conn, call.account, p), with_tags=False) for p in found
    ]
    return page_out(call, "InstanceProfiles", items, Marker, MaxItems)


@service.operation(authorize=False)
def add_role_to_instance_profile(
    call: Call, InstanceProfileName: str, RoleName: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:AddRoleToInstanceProfile", model.arn_of(call, InstanceProfileName))
    profile = model.resolve_profile(call, InstanceProfileName)
    model.add_role(call, profile, roles.resolve_role(call, RoleName))
    return {}


@service.operation(authorize=False)
def remove_role_from_instance_profile(
    call: Call, InstanceProfileName: str, RoleName: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:RemoveRoleFromInstanceProfile", model.arn_of(call, InstanceProfileName))
    profile = model.resolve_profile(call, InstanceProfileName)
    model.remove_role(call, profile, roles.resolve_role(call, RoleName))
    return {}


@service.operation(authorize=False)
def tag_instance_profile(
    call: Call, InstanceProfileName: str, Tags: list[dict[str, str]], **_: Any
) -> dict[str, Any]:
    call.authorize(
        "iam:TagInstanceProfile", model.arn_of(call, InstanceProfileName), tag_context(Tags)
    )
    profile = model.resolve_profile(call, InstanceProfileName)
    tags = merge_tags(call, profile.tags, check_new_tags(call, Tags), "InstanceProfile")
    model.set_tags(call, profile, tags)
    return {}


@service.operation(authorize=False)
def untag_instance_profile(
    call: Call, InstanceProfileName: str, TagKeys: list[str], **_: Any
) -> dict[str, Any]:
    call.authorize(
        "iam:UntagInstanceProfile",
        model.arn_of(call, InstanceProfileName),
        tag_context(None, TagKeys),
    )
    profile = model.resolve_profile(call, InstanceProfileName)
    model.set_tags(call, profile, remove_tags(profile.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_instance_profile_tags(
    call: Call,
    InstanceProfileName: str,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListInstanceProfileTags", model.arn_of(call, InstanceProfileName))
    profile = model.resolve_profile(call, InstanceProfileName)
    return page_out(call, "Tags", profile.tags, Marker, MaxItems)
