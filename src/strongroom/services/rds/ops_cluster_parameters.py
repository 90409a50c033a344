"""DB cluster parameter groups: create, describe, modify, reset, delete, the
parameters of a group and a family's defaults. Families are
``aurora-postgresql<major>`` for each installed PostgreSQL major; the
parameters are the real engine's (as for DB parameter groups) plus RDS's.
A change to a group reaches every running instance of every cluster in it
(dynamic parameters at once, static ones after a reboot: the instance's
ParameterApplyStatus ``pending-reboot``); a cluster's instances start with
its group's values."""

from __future__ import annotations

from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.framework import Call
from strongroom.services.rds import cluster_parameter_records as rows_of
from strongroom.services.rds import clusters, instances, parameters, records
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

GROUPS = PAGING.listing("DBClusterParameterGroups", default=100, maximum=100, minimum=20)
PARAMETERS = PAGING.listing("Parameters", default=100, maximum=100, minimum=20)
_SOURCES = {"user", "system", "engine-default"}
_PREFIX = "aurora-postgresql"
RESOURCE_TYPE = "AWS::RDS::DBClusterParameterGroup"


def group_arn(account: str, region: str, name: str) -> str:
    return make_arn("rds", region, account, f"cluster-pg:{name}")


def _engine_family(family: str) -> str:
    """The DB parameter group family whose engine settings a cluster family has."""
    return "postgres" + family[len(_PREFIX) :]


def families(call: Call) -> list[str]:
    return sorted({f"{_PREFIX}{v.major}" for v in instances.supervisor(call).versions()})


def _default(call: Call, family: str) -> records.Record:
    name = f"default.{family}"
    return {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": group_arn(call.account, call.region, name),
        "family": family,
        "description": f"Default cluster parameter group for {family}",
        "parameters": {},
        "tags": [],
        "default": True,
    }


def find(call: Call, name: str) -> records.Record | None:
    lowered = name.lower()
    if lowered.startswith("default."):
        family = lowered[len("default.") :]
        return _default(call, family) if family in families(call) else None
    row = rows_of.find(call.conn, call.account, call.region, lowered)
    return {**row, "default": False} if row is not None else None


def resolve(call: Call, name: str) -> records.Record:
    found = find(call, name)
    if found is None:
        raise errors.DBParameterGroupNotFoundFault(f"DBClusterParameterGroup not found: {name}")
    return found


def for_cluster(call: Call, name: str | None, version: str) -> tuple[str, dict[str, str]]:
    """CreateDBCluster's / ModifyDBCluster's group: its name and the engine
    values it sets (the default: none). AWS's errors for an unknown group or
    one of another family."""
    family = f"{_PREFIX}{version.split('.')[0]}"
    if name is None:
        return f"default.{family}", {}
    group = find(call, name)
    if group is None:
        raise errors.DBClusterParameterGroupNotFoundFault(
            f"DBClusterParameterGroup not found: {name}"
        )
    if group["family"] != family:
        raise errors.InvalidParameterCombination(
            f"The parameter group {group['name']} with DBParameterGroupFamily {group['family']} "
            f"can't be used for this DB cluster. Use a parameter group with "
            f"DBParameterGroupFamily {family}."
        )
    return group["name"], engine_values(group)


def engine_values(group: records.Record) -> dict[str, str]:
    return parameters.engine_values(group["parameters"] or {})


def values_of(call: Call, cluster: records.Record) -> dict[str, str]:
    """The engine values a cluster's instances start with."""
    name = (cluster["attrs"] or {}).get("DBClusterParameterGroupName")
    group = find(call, name) if name else None
    return engine_values(group) if group else {}


def _wire(group: records.Record) -> dict[str, Any]:
    return {
        "DBClusterParameterGroupName": group["name"],
        "DBParameterGroupFamily": group["family"],
        "Description": group["description"],
        "DBClusterParameterGroupArn": group["arn"],
    }


def _authorized(call: Call, action: str, name: str) -> records.Record:
    lowered = name.split(":")[-1].lower() if name.startswith("arn:") else name.lower()
    call.authorize(f"rds:{action}", group_arn(call.account, call.region, lowered))
    group = resolve(call, lowered)
    call.audit_resource(group["arn"], RESOURCE_TYPE)
    return group


def _clusters_in(call: Call, name: str) -> list[records.Record]:
    return [
        c
        for c in clusters.list_all(call.conn, call.account, call.region)
        if (c["attrs"] or {}).get("DBClusterParameterGroupName", "").lower() == name
    ]


@service.operation(authorize=False)
def create_DB_cluster_parameter_group(
    call: Call,
    DBClusterParameterGroupName: str,
    DBParameterGroupFamily: str,
    Description: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    name = DBClusterParameterGroupName.lower()
    arn = group_arn(call.account, call.region, name)
    call.authorize("rds:CreateDBClusterParameterGroup", arn)
    tags = instances.request_tags(Tags)
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    if (
        not name or len(name) > 255 or not name[0].isalpha() or name.endswith("-")
        or "--" in name or not all(c.isalnum() or c in "-." for c in name)
        or name.startswith("default.")
    ):  # fmt: skip
        raise errors.InvalidParameterValue(
            f"The parameter DBClusterParameterGroupName is not a valid identifier: "
            f"{DBClusterParameterGroupName}"
        )
    if DBParameterGroupFamily not in families(call):
        raise errors.InvalidParameterValue(
            f"Invalid DB cluster parameter group family: {DBParameterGroupFamily} (this "
            f"server has: {', '.join(families(call)) or 'none'})"
        )
    if find(call, name) is not None:
        raise errors.DBParameterGroupAlreadyExistsFault(f"Parameter group {name} already exists")
    rec = {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": arn,
        "family": DBParameterGroupFamily,
        "description": Description,
        "parameters": {},
        "tags": tags,
    }
    rows_of.insert(call.conn, rec)
    call.audit_resource(arn, RESOURCE_TYPE)
    return {"DBClusterParameterGroup": _wire(rec)}


@service.operation
def describe_DB_cluster_parameter_groups(
    call: Call,
    DBClusterParameterGroupName: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    if DBClusterParameterGroupName is not None:
        items = [resolve(call, DBClusterParameterGroupName)]
    else:
        own = [
            {**r, "default": False} for r in rows_of.list_all(call.conn, call.account, call.region)
        ]
        items = sorted(
            [*(_default(call, f) for f in families(call)), *own], key=lambda g: g["name"]
        )
    page = GROUPS.slice(call, items, Marker, MaxRecords, scope=[DBClusterParameterGroupName])
    return GROUPS.output(page, [_wire(g) for g in page.items])


def _apply(call: Call, group: records.Record, changes: dict[str, str | None]) -> None:
    values = dict(group["parameters"] or {})
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    rows_of.set_parameters(call.conn, call.account, call.region, group["name"], values)
    engine_changes = parameters.engine_values(changes)
    if not engine_changes:
        return
    for cluster in _clusters_in(call, group["name"]):
        for rec in clusters.members(call.conn, cluster):
            if rec["status"] == "available":
                call.hand_off(
                    "apply_group_parameters", {"id": rec["resource_id"], "values": engine_changes}
                )


def _engine_view(group: records.Record) -> records.Record:
    return {**group, "family": _engine_family(group["family"])}


@service.operation(authorize=False, blocking=True)
def modify_DB_cluster_parameter_group(
    call: Call, DBClusterParameterGroupName: str, Parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    group = _authorized(call, "ModifyDBClusterParameterGroup", DBClusterParameterGroupName)
    _apply(call, group, parameters.modifications(call, group, _engine_view(group), Parameters))
    return {"DBClusterParameterGroupName": group["name"]}


@service.operation(authorize=False, blocking=True)
def reset_DB_cluster_parameter_group(
    call: Call,
    DBClusterParameterGroupName: str,
    ResetAllParameters: bool | None = None,
    Parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    group = _authorized(call, "ResetDBClusterParameterGroup", DBClusterParameterGroupName)
    changes = parameters.resets(call, group, _engine_view(group), ResetAllParameters, Parameters)
    _apply(call, group, changes)
    return {"DBClusterParameterGroupName": group["name"]}


@service.operation(authorize=False)
def delete_DB_cluster_parameter_group(
    call: Call, DBClusterParameterGroupName: str
) -> dict[str, Any]:
    group = _authorized(call, "DeleteDBClusterParameterGroup", DBClusterParameterGroupName)
    if group["default"]:
        raise errors.InvalidDBParameterGroupStateFault(
            f"Default DBClusterParameterGroup cannot be deleted: {group['name']}"
        )
    if _clusters_in(call, group["name"]):
        raise errors.InvalidDBParameterGroupStateFault(
            f"One or more DB clusters are still members of this parameter group "
            f"{group['name']}, so the group cannot be deleted"
        )
    rows_of.delete_group(call.conn, call.account, call.region, group["name"])
    return {}


def _parameter_items(
    call: Call, family: str, values: dict[str, str], source: str | None
) -> list[dict[str, Any]]:
    items = []
    for p in parameters.catalogue(call, _engine_family(family)):
        if p.name in values:
            item = parameters.parameter_wire(p, values[p.name], "user")
        else:
            item = parameters.parameter_wire(
                p, p.value, "system" if p.name.startswith("rds.") else "engine-default"
            )
        item["SupportedEngineModes"] = ["provisioned"]
        if source is None or item["Source"] == source:
            items.append(item)
    return items


@service.operation(blocking=True)
def describe_DB_cluster_parameters(
    call: Call,
    DBClusterParameterGroupName: str,
    Source: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    if Source is not None and Source not in _SOURCES:
        raise errors.InvalidParameterValue(f"Invalid source: {Source}")
    group = resolve(call, DBClusterParameterGroupName)
    items = _parameter_items(call, group["family"], group["parameters"] or {}, Source)
    scope = [group["name"], Source]
    return PARAMETERS.over_list(call, items, Marker, MaxRecords, scope=scope)


@service.operation(blocking=True)
def describe_engine_default_cluster_parameters(
    call: Call,
    DBParameterGroupFamily: str,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    items = (
        _parameter_items(call, DBParameterGroupFamily, {}, None)
        if DBParameterGroupFamily in families(call)
        else []
    )
    page = PARAMETERS.slice(call, items, Marker, MaxRecords, scope=[DBParameterGroupFamily])
    defaults: dict[str, Any] = {
        "DBParameterGroupFamily": DBParameterGroupFamily,
        "Parameters": page.items,
    }
    if page.next_token is not None:
        defaults["Marker"] = page.next_token
    return {"EngineDefaults": defaults}
