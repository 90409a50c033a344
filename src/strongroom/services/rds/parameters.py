"""DB parameter groups: the default groups (``default.<family>``, one per
family of an installed engine, never modified or deleted), the groups a
caller makes, and the parameters a family has: the real engine's settings
(``postgres --describe-config``: names, types, ranges, ApplyType from the
engine's own context) plus RDS's own (``rds.log_retention_period``, enforced
by `log_retention`; ``rds.force_ssl``, enforced by the engine: pg_hba.conf
``hostssl``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.engines.driver import EngineError, Parameter
from strongroom.framework import Call
from strongroom.services.rds import instances, model, records
from strongroom.services.rds.service import errors

#: RDS's own parameters of a PostgreSQL family (not the engine's).
RDS_PARAMETERS = (
    Parameter(
        "rds.log_retention_period", "4320", "dynamic", "integer", True,
        "Amazon RDS for PostgreSQL will delete PostgreSQL log that are older than N minutes.",
        None, "1440-10080", "sighup", "system",
    ),
    Parameter(
        "rds.force_ssl", "0", "dynamic", "boolean", True,
        "Force SSL connections.", None, "0,1", "sighup", "system",
    ),
)  # fmt: skip


#: RDS parameters the engine itself enforces (the rest are RDS's jobs).
ENGINE_ENFORCED = frozenset({"rds.force_ssl"})


def engine_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a group that go to the engine: its own settings and
    ``rds.force_ssl`` (pg_hba.conf), not RDS's other parameters."""
    return {k: v for k, v in values.items() if not k.startswith("rds.") or k in ENGINE_ENFORCED}


def group_arn(account: str, region: str, name: str) -> str:
    return make_arn("rds", region, account, f"pg:{name}")


def families(call: Call) -> list[str]:
    """The families of the engines this server accepts (postgres: installed majors)."""
    found = [f"postgres{v.major}" for v in instances.supervisor(call).versions()]
    for info in model.ENGINES.values():
        if not info.real:
            found += [family for _v, family in info.versions]
    return sorted(set(found))


def default_group(call: Call, family: str) -> records.Record:
    name = f"default.{family}"
    return {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": group_arn(call.account, call.region, name),
        "family": family,
        "description": f"Default parameter group for {family}",
        "parameters": {},
        "tags": [],
        "default": True,
    }


def find(call: Call, name: str) -> records.Record | None:
    lowered = name.lower()
    if lowered.startswith("default."):
        family = lowered[len("default.") :]
        return default_group(call, family) if family in families(call) else None
    found = records.find_parameter_group(call.conn, call.account, call.region, lowered)
    if found is not None:
        found["default"] = False
    return found


def resolve(call: Call, name: str) -> records.Record:
    if name.startswith("arn:"):
        name = name.split(":")[-1]
    found = find(call, name)
    if found is None:
        raise errors.DBParameterGroupNotFoundFault(f"DBParameterGroup not found: {name}")
    return found


def all_groups(call: Call) -> list[records.Record]:
    out = [default_group(call, f) for f in families(call)]
    for rec in records.list_parameter_groups(call.conn, call.account, call.region):
        rec["default"] = False
        out.append(rec)
    return sorted(out, key=lambda g: g["name"])


def group_wire(group: records.Record) -> dict[str, Any]:
    return {
        "DBParameterGroupName": group["name"],
        "DBParameterGroupFamily": group["family"],
        "Description": group["description"],
        "DBParameterGroupArn": group["arn"],
    }


def catalogue(call: Call, family: str) -> list[Parameter]:
    """Every parameter of `family`, with the engine's defaults."""
    if not family.startswith("postgres"):
        return []
    major = family[len("postgres") :]
    sup = instances.supervisor(call)
    try:
        engine_params = sup.default_parameters(major)
    except EngineError:
        return []
    return sorted([*engine_params, *RDS_PARAMETERS], key=lambda p: p.name)


def parameter_wire(p: Parameter, value: str | None, source: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ParameterName": p.name,
        "Description": p.description,
        "Source": source,
        "ApplyType": p.apply_type,
        "DataType": p.data_type,
        "IsModifiable": p.modifiable,
        "ApplyMethod": "pending-reboot" if p.apply_type == "static" else "immediate",
    }
    if value is not None:
        out["ParameterValue"] = value
    if p.allowed_values:
        out["AllowedValues"] = p.allowed_values
    return out


def members_of(call: Call, name: str) -> list[records.Record]:
    """The instances of the caller's account and Region in group `name`."""
    return [
        r
        for r in records.list_instances(call.conn, call.account, call.region)
        if (r["attrs"] or {}).get("DBParameterGroupName", "").lower() == name
    ]


def _changes(
    call: Call, group: records.Record, given: list[dict[str, Any]], *, reset: bool
) -> dict[str, str | None]:
    known = {p.name: p for p in catalogue(call, group["family"])}
    out: dict[str, str | None] = {}
    for item in given:
        name = item.get("ParameterName")
        if not name:
            raise errors.InvalidParameterValue("ParameterName must be provided.")
        param = known.get(name)
        if param is None:
            raise errors.InvalidParameterValue(f"Could not find parameter with name: {name}")
        if not param.modifiable:
            raise errors.InvalidParameterValue(f"parameter {name} cannot be modified.")
        method = item.get("ApplyMethod")
        if method not in (None, "immediate", "pending-reboot"):
            raise errors.InvalidParameterValue(f"Invalid apply method {method}")
        if method == "immediate" and param.apply_type == "static":
            raise errors.InvalidParameterCombination(
                f"cannot use immediate apply method for static parameter {name}"
            )
        if reset:
            out[name] = None
            continue
        value = item.get("ParameterValue")
        if value is None:
            raise errors.InvalidParameterValue(f"ParameterValue must be provided for {name}.")
        out[name] = str(value)
    return out


def modifications(
    call: Call, group: records.Record, view: records.Record, given: list[dict[str, Any]]
) -> dict[str, str | None]:
    """ModifyDB(Cluster)ParameterGroup's changes to `group`, checked against
    the catalogue of `view`'s family (a cluster group's engine family)."""
    if group["default"]:
        raise errors.InvalidParameterValue("Cannot modify a default parameter group.")
    if not 1 <= len(given) <= 20:
        raise errors.InvalidParameterValue("Between 1 and 20 parameters may be modified at once.")
    return _changes(call, view, given, reset=False)


def resets(
    call: Call,
    group: records.Record,
    view: records.Record,
    reset_all: bool | None,
    given: list[dict[str, Any]] | None,
) -> dict[str, str | None]:
    """ResetDB(Cluster)ParameterGroup's changes (None: back to the default)."""
    if group["default"]:
        raise errors.InvalidParameterValue("Cannot modify a default parameter group.")
    if reset_all and given:
        raise errors.InvalidParameterCombination(
            "Specify either ResetAllParameters or Parameters, not both."
        )
    if reset_all:
        return dict.fromkeys(group["parameters"] or {})
    if given:
        return _changes(call, view, given, reset=True)
    raise errors.InvalidParameterCombination("Specify either ResetAllParameters or Parameters.")
