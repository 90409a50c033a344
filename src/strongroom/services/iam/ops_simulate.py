"""IAM operations: the policy simulator and the context-key listings."""

from __future__ import annotations

from typing import Any

from strongroom.arn import parse_arn
from strongroom.framework import Call
from strongroom.services.iam import groups, policies, roles, users
from strongroom.services.iam import simulator as sim
from strongroom.services.iam.common import page_out
from strongroom.services.iam.managed import is_aws_policy_arn
from strongroom.services.iam.service import errors, service


def _entity_policies(call: Call, kind: str, owner_id: str, name: str) -> list[sim.SimPolicy]:
    """An entity's own inline and attached policies, as the simulator names them."""
    out = []
    for policy_name, doc in policies.inline_of(call.conn, owner_id):
        compiled = sim.compile_policy_text(call, doc, "identity")
        out.append(sim.SimPolicy(policy_name, kind, doc, compiled, owner=name))
    for policy_name, arn, _ in policies.attached_to(call.conn, call.account, owner_id):
        doc = policies.default_document(call.conn, call.account, arn)
        if doc is None:
            continue
        kind_of = "aws-managed" if is_aws_policy_arn(arn) else "user-managed"
        compiled = sim.compile_policy_text(call, doc, "identity")
        out.append(sim.SimPolicy(policy_name, kind_of, doc, compiled, arn=arn))
    return out


def _source(call: Call, source_arn: str) -> tuple[str, Any, list[sim.SimPolicy], str | None]:
    """(kind, entity, its policies, its boundary ARN) for a PolicySourceArn."""
    parts = parse_arn(source_arn)
    resource = parts["resource"] if parts and parts["service"] == "iam" else ""
    kind = resource.split("/", 1)[0]
    if kind not in ("user", "group", "role") or "/" not in resource:
        raise errors.InvalidInputException(f"ARN {source_arn} is not valid.")
    name = resource.rsplit("/", 1)[-1]
    if parts and parts["account"] != call.account:
        raise errors.NoSuchEntityException(f"The {kind} with name {name} cannot be found.")
    if kind == "user":
        user = users.resolve_user(call, name)
        found = _entity_policies(call, "user", user.user_id, user.user_name)
        for g in groups.groups_of_user(call.conn, user.user_id):
            found += _entity_policies(call, "group", g.group_id, g.group_name)
        return kind, user, found, user.permissions_boundary
    if kind == "group":
        group = groups.resolve_group(call, name)
        return kind, group, _entity_policies(call, "group", group.group_id, group.group_name), None
    role = roles.resolve_role(call, name)
    found = _entity_policies(call, "role", role.role_id, role.role_name)
    return kind, role, found, role.permissions_boundary


def _boundary_policies(call: Call, arn: str | None) -> list[sim.SimPolicy]:
    if not arn:
        return []
    doc = policies.default_document(call.conn, call.account, arn)
    if doc is None:
        return []
    kind = "aws-managed" if is_aws_policy_arn(arn) else "user-managed"
    name = arn.rsplit("/", 1)[-1]
    compiled = sim.compile_policy_text(call, doc, "boundary")
    return [sim.SimPolicy(name, kind, doc, compiled, arn=arn, is_boundary=True)]


def _run(
    call: Call,
    identity: list[sim.SimPolicy],
    boundary: list[sim.SimPolicy],
    caller_arn: str,
    ActionNames: list[str],
    ResourceArns: list[str] | None,
    ResourcePolicy: str | None,
    ResourceOwner: str | None,
    ContextEntries: list[dict[str, Any]] | None,
    Marker: str | None,
    MaxItems: int | None,
    organization: list[list[sim.SimPolicy]] | None = None,
) -> dict[str, Any]:
    resource_policy = None
    if ResourcePolicy:
        compiled = sim.compile_policy_text(call, ResourcePolicy, "resource")
        resource_policy = sim.SimPolicy("ResourcePolicy", "resource", ResourcePolicy, compiled)
    results = sim.simulate(
        call,
        identity=identity,
        boundary=boundary,
        resource_policy=resource_policy,
        actions=ActionNames,
        resources=ResourceArns,
        context=sim.context_from_entries(call, ContextEntries),
        caller_arn=caller_arn,
        resource_owner=ResourceOwner,
        organization=organization,
    )
    return page_out(call, "EvaluationResults", results, Marker, MaxItems)


@service.operation(authorize=False)
def simulate_principal_policy(
    call: Call,
    PolicySourceArn: str,
    ActionNames: list[str],
    PolicyInputList: list[str] | None = None,
    PermissionsBoundaryPolicyInputList: list[str] | None = None,
    ResourceArns: list[str] | None = None,
    ResourcePolicy: str | None = None,
    ResourceOwner: str | None = None,
    CallerArn: str | None = None,
    ContextEntries: list[dict[str, Any]] | None = None,
    ResourceHandlingOption: str | None = None,
    MaxItems: int | None = None,
    Marker: str | None = None,
    PolicyExclusionList: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """PolicyExclusionList leaves identified attached policies (and the
    boundary) out, as if they were detached; an identifier that matches
    nothing is ignored."""
    call.authorize("iam:SimulatePrincipalPolicy", PolicySourceArn)
    excluded = sim.exclusions(call, PolicyExclusionList)
    kind, entity, found, boundary_arn = _source(call, PolicySourceArn)
    found = sim.without(found, excluded)
    if ResourcePolicy and kind != "user" and not CallerArn:
        raise errors.InvalidInputException(
            "CallerArn must be specified when a ResourcePolicy is given and the "
            "PolicySourceArn is not an IAM user."
        )
    identity = found + sim.inputs(call, PolicyInputList, "PolicyInputList")
    if PermissionsBoundaryPolicyInputList:
        boundary = sim.inputs(
            call,
            PermissionsBoundaryPolicyInputList,
            "PermissionsBoundaryPolicyInputList",
            "boundary",
        )
    else:
        boundary = sim.without(_boundary_policies(call, boundary_arn), excluded)
    return _run(
        call,
        identity,
        boundary,
        CallerArn or entity.arn,
        ActionNames,
        ResourceArns,
        ResourcePolicy,
        ResourceOwner,
        ContextEntries,
        Marker,
        MaxItems,
    )


@service.operation(authorize=False)
def simulate_custom_policy(
    call: Call,
    PolicyInputList: list[str],
    ActionNames: list[str],
    PermissionsBoundaryPolicyInputList: list[str] | None = None,
    ResourceArns: list[str] | None = None,
    ResourcePolicy: str | None = None,
    ResourceOwner: str | None = None,
    CallerArn: str | None = None,
    ContextEntries: list[dict[str, Any]] | None = None,
    ResourceHandlingOption: str | None = None,
    MaxItems: int | None = None,
    Marker: str | None = None,
    OrderedOrganizationPolicyInputList: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """OrderedOrganizationPolicyInputList: SCPs by level, root first (see
    `simulator.simulate`)."""
    call.authorize("iam:SimulateCustomPolicy", "*")
    identity = sim.inputs(call, PolicyInputList, "PolicyInputList")
    boundary = sim.inputs(
        call, PermissionsBoundaryPolicyInputList, "PermissionsBoundaryPolicyInputList", "boundary"
    )
    organization = sim.organization_levels(call, OrderedOrganizationPolicyInputList)
    caller = CallerArn or call.principal.arn
    return _run(
        call,
        identity,
        boundary,
        caller,
        ActionNames,
        ResourceArns,
        ResourcePolicy,
        ResourceOwner,
        ContextEntries,
        Marker,
        MaxItems,
        organization,
    )


@service.operation(authorize=False)
def get_context_keys_for_custom_policy(call: Call, PolicyInputList: list[str]) -> dict[str, Any]:
    call.authorize("iam:GetContextKeysForCustomPolicy", "*")
    compiled = [p.compiled for p in sim.inputs(call, PolicyInputList, "PolicyInputList")]
    return {"ContextKeyNames": sim.context_keys(compiled)}


@service.operation(authorize=False)
def get_context_keys_for_principal_policy(
    call: Call, PolicySourceArn: str, PolicyInputList: list[str] | None = None
) -> dict[str, Any]:
    call.authorize("iam:GetContextKeysForPrincipalPolicy", PolicySourceArn)
    _, _, found, _ = _source(call, PolicySourceArn)
    found += sim.inputs(call, PolicyInputList, "PolicyInputList")
    return {"ContextKeyNames": sim.context_keys([p.compiled for p in found])}
