"""IAM operations: managed policies and their versions, attachments, inline
policies, and the account-wide views of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import groups, instance_profiles, roles, users
from strongroom.services.iam import policies as model
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page,
    page_out,
    remove_tags,
    tag_context,
    to_document,
)
from strongroom.services.iam.service import service
from strongroom.services.iam.service_roles import require_modifiable

# -- managed policies ------------------------------------------------------------


@service.operation(authorize=False)
def create_policy(
    call: Call,
    PolicyName: str,
    PolicyDocument: str,
    Path: str = "/",
    Description: str | None = None,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    call.authorize(
        "iam:CreatePolicy", model.policy_arn(call.account, Path, PolicyName), tag_context(Tags)
    )
    tags = check_new_tags(call, Tags or [])
    policy = model.create_policy(call, PolicyName, Path, PolicyDocument, Description, tags)
    call.audit_resource(policy.arn, "AWS::IAM::Policy")
    return {"Policy": policy.to_policy(0, 0, with_tags=True)}


@service.operation(authorize=False)
def get_policy(call: Call, PolicyArn: str) -> dict[str, Any]:
    call.authorize("iam:GetPolicy", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    attached, bounded = model.usage(call.conn, call.account, policy.arn)
    return {"Policy": policy.to_policy(attached, bounded, with_tags=True)}


@service.operation(authorize=False)
def list_policies(
    call: Call,
    Scope: str = "All",
    OnlyAttached: bool = False,
    PathPrefix: str = "/",
    PolicyUsageFilter: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
) -> dict[str, Any]:
    call.authorize("iam:ListPolicies", "*")
    found: list[model.ManagedPolicy] = []
    if Scope in ("All", "AWS"):
        found += model.list_aws_policies()
    if Scope in ("All", "Local"):
        found += model.list_customer_policies(call.conn, call.account)
    attached = model.attachment_counts(call.conn, call.account)
    bounded = model.boundary_counts(call.conn, call.account)
    items = []
    for p in sorted(found, key=lambda p: p.policy_name.lower()):
        n_att, n_bound = attached.get(p.arn, 0), bounded.get(p.arn, 0)
        if not p.path.startswith(PathPrefix):
            continue
        if PolicyUsageFilter == "PermissionsBoundary":
            keep = n_bound > 0
        elif PolicyUsageFilter == "PermissionsPolicy":
            keep = n_att > 0 if OnlyAttached else (n_att > 0 or n_bound == 0)
        else:
            keep = (n_att + n_bound > 0) if OnlyAttached else True
        if not keep:
            continue
        items.append(p.to_policy(n_att, n_bound, with_description=False))
    return page_out(call, "Policies", items, Marker, MaxItems)


@service.operation(authorize=False)
def delete_policy(call: Call, PolicyArn: str) -> dict[str, Any]:
    call.authorize("iam:DeletePolicy", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    model.delete_policy(call, policy)
    call.audit_resource(policy.arn, "AWS::IAM::Policy")
    return {}


@service.operation(authorize=False)
def create_policy_version(
    call: Call, PolicyArn: str, PolicyDocument: str, SetAsDefault: bool = False
) -> dict[str, Any]:
    call.authorize("iam:CreatePolicyVersion", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    version = model.create_version(call, policy, PolicyDocument, SetAsDefault)
    return {"PolicyVersion": version.to_version(with_document=False)}


@service.operation(authorize=False)
def get_policy_version(call: Call, PolicyArn: str, VersionId: str) -> dict[str, Any]:
    call.authorize("iam:GetPolicyVersion", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    return {"PolicyVersion": model.resolve_version(call, policy, VersionId).to_version()}


@service.operation(authorize=False)
def list_policy_versions(
    call: Call, PolicyArn: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListPolicyVersions", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    versions = [v.to_version(with_document=False) for v in model.versions_of(call.conn, policy)]
    return page_out(call, "Versions", versions, Marker, MaxItems)


@service.operation(authorize=False)
def set_default_policy_version(call: Call, PolicyArn: str, VersionId: str) -> dict[str, Any]:
    call.authorize("iam:SetDefaultPolicyVersion", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    model.set_default_version(call, policy, VersionId)
    return {}


@service.operation(authorize=False)
def delete_policy_version(call: Call, PolicyArn: str, VersionId: str) -> dict[str, Any]:
    call.authorize("iam:DeletePolicyVersion", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    model.delete_version(call, policy, VersionId)
    return {}


@service.operation(authorize=False)
def tag_policy(call: Call, PolicyArn: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
    call.authorize("iam:TagPolicy", PolicyArn, tag_context(Tags))
    policy = model.resolve_policy(call, PolicyArn)
    model.require_customer(call, policy)
    tags = merge_tags(call, policy.tags, check_new_tags(call, Tags), "Policy")
    model.set_policy_tags(call, policy, tags)
    return {}


@service.operation(authorize=False)
def untag_policy(call: Call, PolicyArn: str, TagKeys: list[str]) -> dict[str, Any]:
    call.authorize("iam:UntagPolicy", PolicyArn, tag_context(None, TagKeys))
    policy = model.resolve_policy(call, PolicyArn)
    model.require_customer(call, policy)
    model.set_policy_tags(call, policy, remove_tags(policy.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_policy_tags(
    call: Call, PolicyArn: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    call.authorize("iam:ListPolicyTags", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    return page_out(call, "Tags", policy.tags, Marker, MaxItems)


# -- users, groups and roles: who owns a policy ---------------------------------

#: kind -> (the request member naming it, its ARN for authorization, resolver)
_ENTITIES: dict[str, tuple[str, Callable[[Call, str], str], Callable[[Call, str], Any]]] = {
    "user": ("UserName", users.arn_of, users.resolve_user),
    "group": ("GroupName", groups.arn_of, groups.resolve_group),
    "role": ("RoleName", roles.arn_of, roles.resolve_role),
}


def _owner_id(kind: str, entity: Any) -> str:
    return getattr(entity, f"{kind}_id")


def _require_changeable(call: Call, kind: str, entity: Any) -> None:
    """Service-linked roles' policies are the service's to change."""
    if kind == "role":
        require_modifiable(call, entity)


def _owner_name(kind: str, entity: Any) -> str:
    return getattr(entity, f"{kind}_name")


def _register(kind: str, template: str, fn: Callable[..., dict[str, Any]]) -> None:
    """Register `fn` as the operation `template` names for this kind of entity."""
    noun = kind.capitalize()
    fn.__name__ = template.format(kind=kind)
    fn.__qualname__ = fn.__name__
    fn.__doc__ = (fn.__doc__ or "").replace("ENTITY", noun)
    service.operation(authorize=False)(fn)


def _entity_ops(kind: str) -> None:
    member, arn_of, resolve = _ENTITIES[kind]
    noun = kind.capitalize()

    def attach(call: Call, PolicyArn: str, **names: str) -> dict[str, Any]:
        """AttachENTITYPolicy."""
        call.authorize(
            f"iam:Attach{noun}Policy", arn_of(call, names[member]), {"iam:PolicyARN": PolicyArn}
        )
        entity = resolve(call, names[member])
        _require_changeable(call, kind, entity)
        model.attach(call, _owner_id(kind, entity), model.resolve_attachable(call, PolicyArn))
        return {}

    def detach(call: Call, PolicyArn: str, **names: str) -> dict[str, Any]:
        """DetachENTITYPolicy."""
        call.authorize(
            f"iam:Detach{noun}Policy", arn_of(call, names[member]), {"iam:PolicyARN": PolicyArn}
        )
        entity = resolve(call, names[member])
        _require_changeable(call, kind, entity)
        model.detach(call, _owner_id(kind, entity), PolicyArn)
        return {}

    def list_attached(
        call: Call,
        PathPrefix: str = "/",
        Marker: str | None = None,
        MaxItems: int | None = None,
        **names: str,
    ) -> dict[str, Any]:
        """ListAttachedENTITYPolicies."""
        call.authorize(f"iam:ListAttached{noun}Policies", arn_of(call, names[member]))
        entity = resolve(call, names[member])
        items = [
            {"PolicyName": name, "PolicyArn": arn}
            for name, arn, path in model.attached_to(
                call.conn, call.account, _owner_id(kind, entity)
            )
            if path.startswith(PathPrefix)
        ]
        return page_out(call, "AttachedPolicies", items, Marker, MaxItems)

    def put_inline(
        call: Call, PolicyName: str, PolicyDocument: str, **names: str
    ) -> dict[str, Any]:
        """PutENTITYPolicy."""
        call.authorize(f"iam:Put{noun}Policy", arn_of(call, names[member]))
        entity = resolve(call, names[member])
        _require_changeable(call, kind, entity)
        model.put_inline(
            call,
            kind,
            _owner_id(kind, entity),
            _owner_name(kind, entity),
            PolicyName,
            PolicyDocument,
        )
        return {}

    def get_inline(call: Call, PolicyName: str, **names: str) -> dict[str, Any]:
        """GetENTITYPolicy."""
        call.authorize(f"iam:Get{noun}Policy", arn_of(call, names[member]))
        entity = resolve(call, names[member])
        doc = model.get_inline(call, kind, _owner_id(kind, entity), PolicyName)
        return {
            member: _owner_name(kind, entity),
            "PolicyName": PolicyName,
            "PolicyDocument": to_document(doc),
        }

    def delete_inline(call: Call, PolicyName: str, **names: str) -> dict[str, Any]:
        """DeleteENTITYPolicy."""
        call.authorize(f"iam:Delete{noun}Policy", arn_of(call, names[member]))
        entity = resolve(call, names[member])
        _require_changeable(call, kind, entity)
        model.delete_inline(call, kind, _owner_id(kind, entity), PolicyName)
        return {}

    def list_inline(
        call: Call, Marker: str | None = None, MaxItems: int | None = None, **names: str
    ) -> dict[str, Any]:
        """ListENTITYPolicies."""
        call.authorize(f"iam:List{noun}Policies", arn_of(call, names[member]))
        entity = resolve(call, names[member])
        found = [name for name, _ in model.inline_of(call.conn, _owner_id(kind, entity))]
        return page_out(call, "PolicyNames", found, Marker, MaxItems)

    _register(kind, "attach_{kind}_policy", attach)
    _register(kind, "detach_{kind}_policy", detach)
    _register(kind, "list_attached_{kind}_policies", list_attached)
    _register(kind, "put_{kind}_policy", put_inline)
    _register(kind, "get_{kind}_policy", get_inline)
    _register(kind, "delete_{kind}_policy", delete_inline)
    _register(kind, "list_{kind}_policies", list_inline)


for _kind in _ENTITIES:
    _entity_ops(_kind)


# -- account-wide views ------------------------------------------------------------


@service.operation(authorize=False)
def list_entities_for_policy(
    call: Call,
    PolicyArn: str,
    EntityFilter: str | None = None,
    PathPrefix: str = "/",
    PolicyUsageFilter: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
) -> dict[str, Any]:
    call.authorize("iam:ListEntitiesForPolicy", PolicyArn)
    policy = model.resolve_policy(call, PolicyArn)
    owners: set[str] = set()
    if PolicyUsageFilter in (None, "PermissionsPolicy"):
        owners = model.attached_owner_ids(call.conn, call.account, policy.arn)
    as_boundary = PolicyUsageFilter in (None, "PermissionsBoundary")
    found: list[tuple[str, dict[str, str]]] = []
    if EntityFilter in (None, "Group"):
        for g in groups.list_groups(call.conn, call.account, PathPrefix):
            if g.group_id in owners:
                found.append(("PolicyGroups", {"GroupName": g.group_name, "GroupId": g.group_id}))
    if EntityFilter in (None, "User"):
        for u in users.list_users(call.conn, call.account, PathPrefix):
            if u.user_id in owners or (as_boundary and u.permissions_boundary == policy.arn):
                found.append(("PolicyUsers", {"UserName": u.user_name, "UserId": u.user_id}))
    if EntityFilter in (None, "Role"):
        for r in roles.list_roles(call.conn, call.account, PathPrefix):
            if r.role_id in owners or (as_boundary and r.permissions_boundary == policy.arn):
                found.append(("PolicyRoles", {"RoleName": r.role_name, "RoleId": r.role_id}))
    chunk, more, marker = page(call, "PolicyEntities", found, Marker, MaxItems)
    out: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    for key, item in chunk:
        out[key].append(item)
    out["IsTruncated"] = more
    if more:
        out["Marker"] = marker
    return out


def _boundary(arn: str | None) -> dict[str, Any]:
    if not arn:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": arn,
        }
    }


def _inline_details(call: Call, owner_id: str) -> list[dict[str, str]]:
    return [
        {"PolicyName": name, "PolicyDocument": to_document(doc)}
        for name, doc in model.inline_of(call.conn, owner_id)
    ]


def _attached_details(call: Call, owner_id: str) -> list[dict[str, str]]:
    return [
        {"PolicyName": name, "PolicyArn": arn}
        for name, arn, _ in model.attached_to(call.conn, call.account, owner_id)
    ]


@service.operation(authorize=False)
def get_account_authorization_details(
    call: Call,
    Filter: list[str] | None = None,
    MaxItems: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    call.authorize("iam:GetAccountAuthorizationDetails", "*")
    wanted = set(Filter or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])
    found: list[tuple[str, dict[str, Any]]] = []
    if "User" in wanted:
        for u in users.list_users(call.conn, call.account, "/"):
            detail = {
                "Path": u.path,
                "UserName": u.user_name,
                "UserId": u.user_id,
                "Arn": u.arn,
                "CreateDate": u.to_user()["CreateDate"],
                "UserPolicyList": _inline_details(call, u.user_id),
                "GroupList": [g.group_name for g in groups.groups_of_user(call.conn, u.user_id)],
                "AttachedManagedPolicies": _attached_details(call, u.user_id),
                **_boundary(u.permissions_boundary),
            }
            if u.tags:
                detail["Tags"] = u.tags
            found.append(("UserDetailList", detail))
    if "Group" in wanted:
        for g in groups.list_groups(call.conn, call.account, "/"):
            detail = {
                **g.to_group(),
                "GroupPolicyList": _inline_details(call, g.group_id),
                "AttachedManagedPolicies": _attached_details(call, g.group_id),
            }
            found.append(("GroupDetailList", detail))
    if "Role" in wanted:
        for r in roles.list_roles(call.conn, call.account, "/"):
            detail = {
                **r.to_role(),
                "InstanceProfileList": [
                    ip.to_profile(instance_profiles.roles_of(call.conn, call.account, ip))
                    for ip in instance_profiles.profiles_of_role(call.conn, call.account, r)
                ],
                "RolePolicyList": _inline_details(call, r.role_id),
                "AttachedManagedPolicies": _attached_details(call, r.role_id),
            }
            detail.pop("MaxSessionDuration", None)
            detail.pop("Description", None)
            found.append(("RoleDetailList", detail))
    attached = model.attachment_counts(call.conn, call.account)
    bounded = model.boundary_counts(call.conn, call.account)
    managed: list[model.ManagedPolicy] = []
    if "LocalManagedPolicy" in wanted:
        managed += model.list_customer_policies(call.conn, call.account)
    if "AWSManagedPolicy" in wanted:
        managed += [
            p for p in model.list_aws_policies() if attached.get(p.arn) or bounded.get(p.arn)
        ]
    for p in sorted(managed, key=lambda p: p.policy_name.lower()):
        detail = p.to_policy(attached.get(p.arn, 0), bounded.get(p.arn, 0), with_description=False)
        detail["PolicyVersionList"] = [v.to_version() for v in model.versions_of(call.conn, p)]
        found.append(("Policies", detail))
    chunk, more, marker = page(call, "AuthorizationDetails", found, Marker, MaxItems)
    out: dict[str, Any] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    for key, item in chunk:
        out[key].append(item)
    out["IsTruncated"] = more
    if more:
        out["Marker"] = marker
    return out
