"""DB parameter groups: create, copy, describe, modify, reset, delete, and
the parameters of a group or of a family's defaults. A change to a group
reaches every running instance in it: dynamic parameters at once, static
ones at the next reboot (ParameterApplyStatus ``pending-reboot``)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.rds import instances, parameters, records
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

GROUPS = PAGING.listing("DBParameterGroups", default=100, maximum=100, minimum=20)
PARAMETERS = PAGING.listing("Parameters", default=100, maximum=100, minimum=20)
_SOURCES = {"user", "system", "engine-default"}


def _authorized(call: Call, action: str, name: str) -> records.Record:
    lowered = name.split(":")[-1].lower() if name.startswith("arn:") else name.lower()
    call.authorize(f"rds:{action}", parameters.group_arn(call.account, call.region, lowered))
    group = parameters.resolve(call, lowered)
    call.audit_resource(group["arn"], "AWS::RDS::DBParameterGroup")
    return group


def _new_name(call: Call, name: str) -> str:
    lowered = name.lower()
    if (
        not lowered
        or len(lowered) > 255
        or not lowered[0].isalpha()
        or lowered.endswith("-")
        or "--" in lowered
        or not all(c.isalnum() or c in "-." for c in lowered)
        or lowered.startswith("default.")
    ):
        raise errors.InvalidParameterValue(
            f"The parameter DBParameterGroupName is not a valid identifier: {name}"
        )
    if parameters.find(call, lowered) is not None:
        raise errors.DBParameterGroupAlreadyExistsFault(f"Parameter group {lowered} already exists")
    return lowered


@service.operation(authorize=False)
def create_DB_parameter_group(
    call: Call,
    DBParameterGroupName: str,
    DBParameterGroupFamily: str,
    Description: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    name = DBParameterGroupName.lower()
    call.authorize(
        "rds:CreateDBParameterGroup", parameters.group_arn(call.account, call.region, name)
    )
    tags = instances.request_tags(Tags)
    name = _new_name(call, DBParameterGroupName)
    if DBParameterGroupFamily not in parameters.families(call):
        raise errors.InvalidParameterValue(
            f"DBParameterGroupFamily {DBParameterGroupFamily} is not a valid parameter group family"
        )
    group = {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": parameters.group_arn(call.account, call.region, name),
        "family": DBParameterGroupFamily,
        "description": Description,
        "parameters": {},
        "tags": tags,
    }
    records.insert_parameter_group(call.conn, group)
    call.audit_resource(group["arn"], "AWS::RDS::DBParameterGroup")
    return {"DBParameterGroup": parameters.group_wire(group)}


@service.operation(authorize=False)
def copy_DB_parameter_group(
    call: Call,
    SourceDBParameterGroupIdentifier: str,
    TargetDBParameterGroupIdentifier: str,
    TargetDBParameterGroupDescription: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    source = _authorized(call, "CopyDBParameterGroup", SourceDBParameterGroupIdentifier)
    target = TargetDBParameterGroupIdentifier.lower()
    call.authorize(
        "rds:CopyDBParameterGroup", parameters.group_arn(call.account, call.region, target)
    )
    name = _new_name(call, TargetDBParameterGroupIdentifier)
    group = {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": parameters.group_arn(call.account, call.region, name),
        "family": source["family"],
        "description": TargetDBParameterGroupDescription,
        "parameters": dict(source["parameters"] or {}),
        "tags": instances.request_tags(Tags),
    }
    records.insert_parameter_group(call.conn, group)
    return {"DBParameterGroup": parameters.group_wire(group)}


@service.operation
def describe_DB_parameter_groups(
    call: Call,
    DBParameterGroupName: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    if DBParameterGroupName is not None:
        items = [parameters.resolve(call, DBParameterGroupName)]
    else:
        items = parameters.all_groups(call)
    page = GROUPS.slice(call, items, Marker, MaxRecords, scope=[DBParameterGroupName])
    return GROUPS.output(page, [parameters.group_wire(g) for g in page.items])


def _apply(call: Call, group: records.Record, changes: dict[str, str | None]) -> None:
    values = dict(group["parameters"] or {})
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    records.update_parameter_group(
        call.conn, call.account, call.region, group["name"], parameters=values
    )
    engine_changes = parameters.engine_values(changes)
    if not engine_changes:
        return
    for rec in parameters.members_of(call, group["name"]):
        if rec["status"] == "available":
            call.hand_off(
                "apply_group_parameters", {"id": rec["resource_id"], "values": engine_changes}
            )


@service.operation(authorize=False, blocking=True)
def modify_DB_parameter_group(
    call: Call, DBParameterGroupName: str, Parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    group = _authorized(call, "ModifyDBParameterGroup", DBParameterGroupName)
    _apply(call, group, parameters.modifications(call, group, group, Parameters))
    return {"DBParameterGroupName": group["name"]}


@service.operation(authorize=False, blocking=True)
def reset_DB_parameter_group(
    call: Call,
    DBParameterGroupName: str,
    ResetAllParameters: bool | None = None,
    Parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    group = _authorized(call, "ResetDBParameterGroup", DBParameterGroupName)
    _apply(call, group, parameters.resets(call, group, group, ResetAllParameters, Parameters))
    return {"DBParameterGroupName": group["name"]}


@service.operation(authorize=False)
def delete_DB_parameter_group(call: Call, DBParameterGroupName: str) -> dict[str, Any]:
    group = _authorized(call, "DeleteDBParameterGroup", DBParameterGroupName)
    if group["default"]:
        raise errors.InvalidDBParameterGroupStateFault(
            f"Default DBParameterGroup cannot be deleted: {group['name']}"
        )
    if parameters.members_of(call, group["name"]):
        raise errors.InvalidDBParameterGroupStateFault(
            f"One or more database instances are still members of this parameter group "
            f"{group['name']}, so the group cannot be deleted"
        )
    records.delete_parameter_group(call.conn, call.account, call.region, group["name"])
    return {}


@service.operation(blocking=True)
def describe_DB_parameters(
    call: Call,
    DBParameterGroupName: str,
    Source: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    if Source is not None and Source not in _SOURCES:
        raise errors.InvalidParameterValue(f"Invalid source: {Source}")
    group = parameters.resolve(call, DBParameterGroupName)
    values = group["parameters"] or {}
    items = []
    for p in parameters.catalogue(call, group["family"]):
        if p.name in values:
            item = parameters.parameter_wire(p, values[p.name], "user")
        else:
            item = parameters.parameter_wire(
                p, p.value, "system" if p.name.startswith("rds.") else "engine-default"
            )
        if Source is None or item["Source"] == Source:
            items.append(item)
    scope = [group["name"], Source]
    return PARAMETERS.over_list(call, items, Marker, MaxRecords, scope=scope)


@service.operation(blocking=True)
def describe_engine_default_parameters(
    call: Call,
    DBParameterGroupFamily: str,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    items = [
        parameters.parameter_wire(
            p, p.value, "system" if p.name.startswith("rds.") else "engine-default"
        )
        for p in parameters.catalogue(call, DBParameterGroupFamily)
    ]
    page = PARAMETERS.slice(call, items, Marker, MaxRecords, scope=[DBParameterGroupFamily])
    defaults: dict[str, Any] = {
        "DBParameterGroupFamily": DBParameterGroupFamily,
        "Parameters": page.items,
    }
    if page.next_token is not None:
        defaults["Marker"] = page.next_token
    return {"EngineDefaults": defaults}
