"""Option groups: the default groups (``default:<engine>-<major>``, one per
engine and major version this server accepts, never modified or deleted)
and the groups a caller makes. No engine here offers options: PostgreSQL
has none on AWS either (it uses extensions), and the control-plane-only
engines run no server an option could change, so DescribeOptionGroupOptions
lists none and ModifyOptionGroup refuses any option to add."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.arn import arn as make_arn
from strongroom.framework import Call
from strongroom.services.rds import instances, model, records
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors
from strongroom.services.rds.tables import option_groups as table

OPTION_GROUP_TYPE = "AWS::RDS::OptionGroup"
#: Engines that have option groups (AWS's list, as this server serves them).
ENGINES = (
    "mariadb", "mysql", "oracle-ee", "oracle-ee-cdb", "oracle-se2", "oracle-se2-cdb",
    "postgres", "sqlserver-ee", "sqlserver-se", "sqlserver-ex", "sqlserver-web",
)  # fmt: skip


def group_arn(account: str, region: str, name: str) -> str:
    return make_arn("rds", region, account, f"og:{name}")


def majors(call: Call, engine: str) -> list[str]:
    if engine == "postgres":
        return [str(v.major) for v in instances.supervisor(call).versions()]
    info = model.ENGINES.get(engine)
    if info is None:
        return []
    return sorted({model.option_group_major(engine, v) for v, _f in info.versions})


def require_engine(call: Call, engine: str, major: str | None) -> None:
    if engine not in ENGINES:
        raise errors.InvalidParameterValue(f"Invalid DB engine: {engine}")
    if major is not None and major not in majors(call, engine):
        raise errors.InvalidParameterCombination(f"Cannot find major version {major} for {engine}")


def _default(call: Call, engine: str, major: str) -> Record:
    name = f"default:{engine}-{major.replace('.', '-')}"
    return {
        "account": call.account,
        "region": call.region,
        "name": name,
        "arn": group_arn(call.account, call.region, name),
        "engine": engine,
        "major": major,
        "description": f"Default option group for {engine} {major}",
        "source": None,
        "copied": None,
        "tags": [],
        "default": True,
    }


def defaults(call: Call) -> list[Record]:
    return [_default(call, e, m) for e in ENGINES for m in majors(call, e)]


def find(call: Call, name: str) -> Record | None:
    lowered = name.lower()
    if lowered.startswith("default:"):
        return next((g for g in defaults(call) if g["name"] == lowered), None)
    row = call.conn.execute(
        select(table).where(
            table.c.account == call.account,
            table.c.region == call.region,
            table.c.name == lowered,
        )
    ).first()
    return {**row._mapping, "default": False} if row is not None else None


def resolve(call: Call, name: str) -> Record:
    if name.startswith("arn:"):
        parts = name.split(":")
        ok = len(parts) >= 7 and parts[5] == "og"
        name = ":".join(parts[6:]) if ok and parts[4] == call.account else ""
    found = find(call, name) if name else None
    if found is None:
        raise errors.OptionGroupNotFoundFault(f"Specified OptionGroupName: {name} not found.")
    return found


def own(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(table)
        .where(table.c.account == account, table.c.region == region)
        .order_by(table.c.name)
    )
    return [{**r._mapping, "default": False} for r in rows]


def all_groups(call: Call) -> list[Record]:
    return sorted(
        [*defaults(call), *own(call.conn, call.account, call.region)], key=lambda g: g["name"]
    )


def insert(conn: Connection, record: Record) -> None:
    conn.execute(table.insert().values(**{k: v for k, v in record.items() if k != "default"}))


def _update(conn: Connection, group: Record, **values: Any) -> None:
    conn.execute(
        update(table)
        .where(
            table.c.account == group["account"],
            table.c.region == group["region"],
            table.c.name == group["name"],
        )
        .values(**values)
    )


def set_source(conn: Connection, group: Record) -> None:
    _update(conn, group, source=group["source"], copied=group["copied"])


def delete_group(conn: Connection, account: str, region: str, name: str) -> None:
    conn.execute(
        delete(table).where(
            table.c.account == account, table.c.region == region, table.c.name == name
        )
    )


def require_new_name(call: Call, name: str) -> str:
    lowered = name.lower()
    if (
        not lowered
        or len(lowered) > 255
        or not lowered[0].isalpha()
        or lowered.endswith("-")
        or "--" in lowered
        or not all(c.isalnum() or c == "-" for c in lowered)
    ):
        raise errors.InvalidParameterValue(
            f"The parameter OptionGroupName is not a valid identifier: {name}"
        )
    if find(call, lowered) is not None:
        raise errors.OptionGroupAlreadyExistsFault(f"Option group {lowered} already exists.")
    return lowered


def for_instance(call: Call, name: str, engine: str, version: str) -> str:
    """CreateDBInstance/ModifyDBInstance's OptionGroupName: a group of the
    instance's engine and major version."""
    group = resolve(call, name)
    major = model.option_group_major(engine, version)
    if group["engine"] != engine or group["major"] != major:
        raise errors.InvalidParameterCombination(
            f"The option group {group['name']} is for {group['engine']} {group['major']}, "
            f"not for {engine} {major}."
        )
    return group["name"]


def members_of(call: Call, name: str) -> list[Record]:
    return [
        r
        for r in records.list_instances(call.conn, call.account, call.region)
        if (r["attrs"] or {}).get("OptionGroupName") == name
    ]


def to_wire(group: Record) -> dict[str, Any]:
    out: dict[str, Any] = {
        "OptionGroupName": group["name"],
        "OptionGroupDescription": group["description"],
        "EngineName": group["engine"],
        "MajorEngineVersion": group["major"],
        "Options": [],
        "AllowsVpcAndNonVpcInstanceMemberships": True,
        "OptionGroupArn": group["arn"],
    }
    if group.get("source"):
        out["SourceOptionGroup"] = group["source"]
        out["SourceAccountId"] = group["account"]
        out["CopyTimestamp"] = model.dt(group["copied"])
    return out


def set_tags(conn: Connection, group: Record, tags: list[list[str]]) -> None:
    _update(conn, group, tags=tags)
