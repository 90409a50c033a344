"""Option groups: CreateOptionGroup, CopyOptionGroup, DescribeOptionGroups,
ModifyOptionGroup, DeleteOptionGroup, DescribeOptionGroupOptions
(`option_groups`: no engine here offers an option)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.rds import instances, option_groups
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

GROUPS = PAGING.listing("OptionGroupsList", default=100, maximum=100, minimum=20)
OPTIONS = PAGING.listing("OptionGroupOptions", default=100, maximum=100, minimum=20)


def _authorized(call: Call, action: str, name: str) -> dict[str, Any]:
    lowered = ":".join(name.split(":")[6:]) if name.startswith("arn:") else name
    call.authorize(
        f"rds:{action}", option_groups.group_arn(call.account, call.region, lowered.lower())
    )
    group = option_groups.resolve(call, name)
    call.audit_resource(group["arn"], option_groups.OPTION_GROUP_TYPE)
    return group


def _new(call: Call, action: str, name: str, **fields: Any) -> dict[str, Any]:
    call.authorize(
        f"rds:{action}", option_groups.group_arn(call.account, call.region, name.lower())
    )
    lowered = option_groups.require_new_name(call, name)
    group = {
        "account": call.account,
        "region": call.region,
        "name": lowered,
        "arn": option_groups.group_arn(call.account, call.region, lowered),
        "source": None,
        "copied": None,
        **fields,
    }
    option_groups.insert(call.conn, group)
    call.audit_resource(group["arn"], option_groups.OPTION_GROUP_TYPE)
    return group


@service.operation(authorize=False)
def create_option_group(
    call: Call,
    OptionGroupName: str,
    EngineName: str,
    MajorEngineVersion: str,
    OptionGroupDescription: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    tags = instances.request_tags(Tags)
    option_groups.require_engine(call, EngineName, MajorEngineVersion)
    group = _new(
        call,
        "CreateOptionGroup",
        OptionGroupName,
        engine=EngineName,
        major=MajorEngineVersion,
        description=OptionGroupDescription,
        tags=tags,
    )
    return {"OptionGroup": option_groups.to_wire(group)}


@service.operation(authorize=False)
def copy_option_group(
    call: Call,
    SourceOptionGroupIdentifier: str,
    TargetOptionGroupIdentifier: str,
    TargetOptionGroupDescription: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    source = _authorized(call, "CopyOptionGroup", SourceOptionGroupIdentifier)
    if TargetOptionGroupIdentifier.lower().startswith("default:"):
        raise errors.InvalidParameterValue(
            f"The parameter TargetOptionGroupIdentifier is not a valid identifier: "
            f"{TargetOptionGroupIdentifier}"
        )
    group = _new(
        call,
        "CopyOptionGroup",
        TargetOptionGroupIdentifier,
        engine=source["engine"],
        major=source["major"],
        description=TargetOptionGroupDescription,
        tags=instances.request_tags(Tags),
    )
    group.update(source=source["arn"], copied=call.clock.timestamp())
    option_groups.set_source(call.conn, group)
    return {"OptionGroup": option_groups.to_wire(group)}


@service.operation
def describe_option_groups(
    call: Call,
    OptionGroupName: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    Marker: str | None = None,
    MaxRecords: int | None = None,
    EngineName: str | None = None,
    MajorEngineVersion: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    if OptionGroupName is not None and (EngineName or MajorEngineVersion):
        raise errors.InvalidParameterCombination(
            "OptionGroupName can't be supplied together with EngineName or MajorEngineVersion."
        )
    if MajorEngineVersion is not None and EngineName is None:
        raise errors.InvalidParameterCombination(
            "EngineName must be specified with MajorEngineVersion."
        )
    if OptionGroupName is not None:
        items = [option_groups.resolve(call, OptionGroupName)]
    else:
        items = [
            g
            for g in option_groups.all_groups(call)
            if (EngineName is None or g["engine"] == EngineName)
            and (MajorEngineVersion is None or g["major"] == MajorEngineVersion)
        ]
    scope = [OptionGroupName, EngineName, MajorEngineVersion]
    page = GROUPS.slice(call, items, Marker, MaxRecords, scope=scope)
    return GROUPS.output(page, [option_groups.to_wire(g) for g in page.items])


@service.operation(authorize=False)
def modify_option_group(
    call: Call,
    OptionGroupName: str,
    OptionsToInclude: list[dict[str, Any]] | None = None,
    OptionsToRemove: list[str] | None = None,
    ApplyImmediately: bool | None = None,
) -> dict[str, Any]:
    group = _authorized(call, "ModifyOptionGroup", OptionGroupName)
    if group["default"]:
        raise errors.InvalidParameterValue("Default option groups cannot be modified.")
    if not OptionsToInclude and not OptionsToRemove:
        raise errors.InvalidParameterValue(
            "At least one option must be added, modified, or removed."
        )
    for option in OptionsToInclude or []:
        raise errors.InvalidParameterValue(
            f"Option {option.get('OptionName')} is not available for engine {group['engine']} "
            f"{group['major']}."
        )
    for name in OptionsToRemove or []:
        raise errors.InvalidParameterValue(f"Option {name} is not in option group {group['name']}.")
    return {"OptionGroup": option_groups.to_wire(group)}


@service.operation(authorize=False)
def delete_option_group(call: Call, OptionGroupName: str) -> dict[str, Any]:
    group = _authorized(call, "DeleteOptionGroup", OptionGroupName)
    if group["default"]:
        raise errors.InvalidOptionGroupStateFault(
            f"Default option group {group['name']} cannot be deleted."
        )
    users = option_groups.members_of(call, group["name"])
    if users:
        raise errors.InvalidOptionGroupStateFault(
            f"The option group {group['name']} cannot be deleted because it is in use by "
            f"DB instance {users[0]['identifier']}."
        )
    option_groups.delete_group(call.conn, call.account, call.region, group["name"])
    return {}


@service.operation
def describe_option_group_options(
    call: Call,
    EngineName: str,
    MajorEngineVersion: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    """No engine here offers an option (PostgreSQL has none on AWS either)."""
    parse_filters(Filters, set())
    option_groups.require_engine(call, EngineName, MajorEngineVersion)
    page = OPTIONS.slice(call, [], Marker, MaxRecords, scope=[EngineName, MajorEngineVersion])
    return OPTIONS.output(page, [])
