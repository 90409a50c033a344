"""IAM operations: groups and their members."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import groups as model
from strongroom.services.iam import users
from strongroom.services.iam.common import page_out
from strongroom.services.iam.service import service


@service.operation(authorize=False)
def create_group(call: Call, GroupName: str, Path: str = "/") -> dict[str, Any]:
    call.authorize("iam:CreateGroup", model.group_arn(call.account, Path, GroupName))
    group = model.create_group(call, GroupName, Path)
    call.audit_resource(group.arn, "AWS::IAM::Group")
    return {"Group": group.to_group()}


@service.operation(authorize=False)
def get_group(
    call: Call, GroupName: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:GetGroup", model.arn_of(call, GroupName))
    group = model.resolve_group(call, GroupName)
    members = [
        users.from_row(r).to_user(full=False) for r in model.member_rows(call.conn, group.group_id)
    ]
    return {"Group": group.to_group(), **page_out(call, "Users", members, Marker, MaxItems)}


@service.operation(authorize=False)
def list_groups(
    call: Call, PathPrefix: str = "/", Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListGroups", f"arn:aws:iam::{call.account}:group{PathPrefix}*")
    found = model.list_groups(call.conn, call.account, PathPrefix)
    return page_out(call, "Groups", [g.to_group() for g in found], Marker, MaxItems)


@service.operation(authorize=False)
def update_group(
    call: Call, GroupName: str, NewPath: str | None = None, NewGroupName: str | None = None
) -> dict[str, Any]:
    call.authorize("iam:UpdateGroup", model.arn_of(call, GroupName))
    group = model.resolve_group(call, GroupName)
    model.update_group(call, group, NewGroupName, NewPath)
    call.audit_resource(group.arn, "AWS::IAM::Group")
    return {}


@service.operation(authorize=False)
def delete_group(call: Call, GroupName: str) -> dict[str, Any]:
    call.authorize("iam:DeleteGroup", model.arn_of(call, GroupName))
    group = model.resolve_group(call, GroupName)
    model.delete_group(call, group)
    call.audit_resource(group.arn, "AWS::IAM::Group")
    return {}


@service.operation(authorize=False)
def add_user_to_group(call: Call, GroupName: str, UserName: str) -> dict[str, Any]:
    call.authorize("iam:AddUserToGroup", model.arn_of(call, GroupName))
    group = model.resolve_group(call, GroupName)
    user = users.resolve_user(call, UserName)
    model.add_member(call, group, user.user_id)
    return {}


@service.operation(authorize=False)
def remove_user_from_group(call: Call, GroupName: str, UserName: str) -> dict[str, Any]:
    call.authorize("iam:RemoveUserFromGroup", model.arn_of(call, GroupName))
    group = model.resolve_group(call, GroupName)
    user = users.resolve_user(call, UserName)
    model.remove_member(call, group, user.user_id, user.user_name)
    return {}


@service.operation(authorize=False)
def list_groups_for_user(
    call: Call, UserName: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListGroupsForUser", users.arn_of(call, UserName))
    user = users.resolve_user(call, UserName)
    found = model.groups_of_user(call.conn, user.user_id)
    return page_out(call, "Groups", [g.to_group() for g in found], Marker, MaxItems)
