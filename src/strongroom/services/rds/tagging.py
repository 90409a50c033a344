"""What AddTagsToResource, RemoveTagsFromResource and ListTagsForResource
act on: every RDS resource here that has an ARN, one row per ARN resource
type (``arn:aws:rds:<region>:<account>:<type>:<name>``) saying how to find
it, how to save its tags and which error names it missing. Default
parameter and option groups are nobody's rows: they list no tags and take
none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strongroom.framework import Call
from strongroom.services.rds import (
    cluster_endpoints,
    cluster_parameter_records,
    cluster_snapshots,
    clusters,
    model,
    option_groups,
    parameters,
    records,
)
from strongroom.services.rds import ops_cluster_parameters as cluster_parameters
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors


@dataclass(frozen=True)
class Taggable:
    resource_type: str
    #: Finds the caller's resource by its name, or None.
    find: Callable[[Call, str], Record | None]
    #: Saves the resource's new tags.
    save: Callable[[Call, Record, list[list[str]]], None]
    #: The error a missing resource of this type raises.
    missing: Callable[[str], Exception]


def _save_parameter_group(call: Call, rec: Record, tags: list[list[str]]) -> None:
    records.update_parameter_group(call.conn, rec["account"], rec["region"], rec["name"], tags=tags)


def _save_cluster_parameter_group(call: Call, rec: Record, tags: list[list[str]]) -> None:
    cluster_parameter_records.set_tags(call.conn, rec["account"], rec["region"], rec["name"], tags)


KINDS: dict[str, Taggable] = {
    "db": Taggable(
        model.INSTANCE_TYPE,
        lambda call, name: records.find_instance(call.conn, call.account, call.region, name),
        lambda call, rec, tags: records.update_instance(call.conn, rec["resource_id"], tags=tags),
        lambda name: errors.DBInstanceNotFoundFault(f"DBInstance {name} not found."),
    ),
    "snapshot": Taggable(
        model.SNAPSHOT_TYPE,
        lambda call, name: records.find_snapshot(call.conn, call.account, call.region, name),
        lambda call, rec, tags: records.update_snapshot(call.conn, rec["resource_id"], tags=tags),
        lambda name: errors.DBSnapshotNotFoundFault(f"DBSnapshot {name} not found."),
    ),
    "cluster": Taggable(
        clusters.CLUSTER_TYPE,
        lambda call, name: clusters.find(call.conn, call.account, call.region, name),
        lambda call, rec, tags: clusters.update_cluster(call.conn, rec["resource_id"], tags=tags),
        lambda name: errors.DBClusterNotFoundFault(f"DBCluster {name} not found."),
    ),
    "cluster-snapshot": Taggable(
        cluster_snapshots.SNAPSHOT_TYPE,
        lambda call, name: cluster_snapshots.find(call.conn, call.account, call.region, name),
        lambda call, rec, tags: cluster_snapshots.update_snapshot(
            call.conn, rec["resource_id"], tags=tags
        ),
        lambda name: errors.DBClusterSnapshotNotFoundFault(f"DBClusterSnapshot {name} not found."),
    ),
    "cluster-endpoint": Taggable(
        cluster_endpoints.ENDPOINT_TYPE,
        lambda call, name: cluster_endpoints.find(call.conn, call.account, call.region, name),
        lambda call, rec, tags: cluster_endpoints.update_endpoint(
            call.conn, rec["resource_id"], tags=tags
        ),
        lambda name: errors.DBClusterEndpointNotFoundFault(f"DBClusterEndpoint {name} not found."),
    ),
    "pg": Taggable(
        "AWS::RDS::DBParameterGroup",
        parameters.find,
        _save_parameter_group,
        lambda name: errors.DBParameterGroupNotFoundFault(f"DBParameterGroup not found: {name}"),
    ),
    "cluster-pg": Taggable(
        cluster_parameters.RESOURCE_TYPE,
        cluster_parameters.find,
        _save_cluster_parameter_group,
        lambda name: errors.DBParameterGroupNotFoundFault(
            f"DBClusterParameterGroup not found: {name}"
        ),
    ),
    "og": Taggable(
        option_groups.OPTION_GROUP_TYPE,
        option_groups.find,
        lambda call, rec, tags: option_groups.set_tags(call.conn, rec, tags),
        lambda name: errors.OptionGroupNotFoundFault(
            f"Specified OptionGroupName: {name} not found."
        ),
    ),
}

_NOT_RDS = "The specified resource name does not match an RDS resource in this region."


def resolve(call: Call, action: str, arn: str) -> tuple[Taggable, Record]:
    """The caller's resource `arn` names, once `action` is allowed on it.
    Another account's or Region's ARN names nothing of the caller's: the
    type's own not-found error, as for a missing one."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "rds":
        raise errors.InvalidParameterValue(_NOT_RDS)
    call.authorize(f"rds:{action}", arn)
    if parts[5] not in KINDS:
        raise errors.InvalidParameterValue(_NOT_RDS)
    kind = KINDS[parts[5]]
    name = ":".join(parts[6:])
    ours = parts[4] == call.account and parts[3] == call.region
    rec = kind.find(call, name) if ours and name else None
    if rec is None:
        raise kind.missing(name)
    call.audit_resource(rec["arn"], kind.resource_type)
    return kind, rec


def save(call: Call, kind: Taggable, rec: Record, tags: list[list[str]]) -> None:
    if rec.get("default"):
        raise errors.InvalidParameterValue(f"{rec['name']} is a default group: it can't be tagged.")
    kind.save(call, rec, tags)
