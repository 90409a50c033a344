"""DB cluster snapshots: CreateDBClusterSnapshot, DescribeDBClusterSnapshots,
DeleteDBClusterSnapshot, RestoreDBClusterFromSnapshot. The data moves in
`cluster_work` (the writer's physical copy; a restored cluster's seed)."""

from __future__ import annotations

import dataclasses
from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.rds import (
    cluster_snapshots,
    clusters,
    instances,
    keys,
    log_exports,
    model,
    ops_cluster_parameters,
    records,
)
from strongroom.services.rds.ops_clusters import _resolve, wire
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBClusterSnapshots", default=100, maximum=100, minimum=20)
_FILTERS = {"db-cluster-id", "db-cluster-snapshot-id", "snapshot-type", "engine"}


@service.operation(authorize=False)
def create_DB_cluster_snapshot(
    call: Call,
    DBClusterSnapshotIdentifier: str,
    DBClusterIdentifier: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    ident = model.require_identifier(
        "DBClusterSnapshotIdentifier", DBClusterSnapshotIdentifier, 255
    )
    arn = cluster_snapshots.snapshot_arn(call.account, call.region, ident)
    call.authorize("rds:CreateDBClusterSnapshot", arn)
    cluster = _resolve(call, "CreateDBClusterSnapshot", DBClusterIdentifier)
    tags = instances.request_tags(Tags) if Tags else None
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    if cluster["status"] != "available":
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {cluster['identifier']} is not in available state."
        )
    writer = (
        records.instance_by_resource(call.conn, cluster["writer"]) if cluster["writer"] else None
    )
    if writer is None or writer["status"] != "available":
        # The cluster's data lives in its writer on this server.
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {cluster['identifier']} has no available writer DB instance to take "
            "a snapshot of."
        )
    if cluster_snapshots.find(call.conn, call.account, call.region, ident) is not None:
        raise errors.DBClusterSnapshotAlreadyExistsFault(
            f"Cannot create the cluster snapshot because one with the identifier {ident} "
            "already exists."
        )
    resource_id = model.new_resource_id("snap-")
    wrapped = plain = None
    if cluster["encrypted"]:
        wrapped, _arn, key = keys.new_data_key(
            call, cluster["kms_key_arn"], keys.snapshot_context(resource_id)
        )
        plain = b64_text(key)
    if tags is None and (cluster["attrs"] or {}).get("CopyTagsToSnapshot"):
        tags = [list(t) for t in cluster["tags"]]
    snap = {
        "account": call.account,
        "region": call.region,
        "identifier": ident,
        "resource_id": resource_id,
        "arn": arn,
        "cluster_identifier": cluster["identifier"],
        "cluster_resource_id": cluster["resource_id"],
        "snapshot_type": "manual",
        "status": "creating",
        "percent": 0,
        "engine": cluster["engine"],
        "engine_version": cluster["engine_version"],
        "master_username": cluster["master_username"],
        "master_verifier": cluster["master_verifier"],
        "db_name": cluster["db_name"],
        "port": cluster["port"],
        "encrypted": bool(cluster["encrypted"]),
        "kms_key_arn": cluster["kms_key_arn"],
        "data_key": wrapped,
        "created": call.clock.timestamp(),
        "cluster_created": cluster["created"],
        "source_arn": None,
        "tags": tags or [],
    }
    cluster_snapshots.insert(call.conn, snap)
    call.audit_resource(arn, cluster_snapshots.SNAPSHOT_TYPE)
    clusters.update_cluster(call.conn, cluster["resource_id"], status="backing-up")
    payload: dict[str, Any] = {"snapshot": resource_id, "id": writer["resource_id"]}
    if plain is not None:
        payload["snapshot_key"] = plain
    call.hand_off("take_cluster_snapshot", payload, key=f"cluster:{cluster['resource_id']}")
    return {"DBClusterSnapshot": cluster_snapshots.to_wire(snap)}


def _matches(rec: records.Record, filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        if name == "db-cluster-id":
            wanted = {v.split(":")[-1].lower() for v in values}
            if rec["cluster_identifier"] not in wanted:
                return False
        elif name == "db-cluster-snapshot-id":
            if rec["identifier"] not in {v.lower() for v in values} and rec["arn"] not in values:
                return False
        elif name == "snapshot-type":
            if rec["snapshot_type"] not in values:
                return False
        elif name == "engine" and rec["engine"] not in values:
            return False
    return True


@service.operation
def describe_DB_cluster_snapshots(
    call: Call,
    DBClusterIdentifier: str | None = None,
    DBClusterSnapshotIdentifier: str | None = None,
    SnapshotType: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
    IncludeShared: bool | None = None,
    IncludePublic: bool | None = None,
    DbClusterResourceId: str | None = None,
) -> dict[str, Any]:
    """IncludeShared / IncludePublic: no cluster snapshot is shared here."""
    from strongroom.services.rds.ops_instances import parse_filters

    filters = parse_filters(Filters, _FILTERS)
    if SnapshotType is not None and SnapshotType not in ("manual", "automated", "shared", "public"):
        raise errors.InvalidParameterValue(f"Invalid snapshot type: {SnapshotType}")
    if DBClusterSnapshotIdentifier is not None:
        items = [
            cluster_snapshots.resolve(
                call.conn, call.account, call.region, DBClusterSnapshotIdentifier
            )
        ]
    else:
        items = cluster_snapshots.list_all(call.conn, call.account, call.region)
    if DBClusterIdentifier is not None:
        wanted = DBClusterIdentifier.split(":")[-1].lower()
        items = [s for s in items if s["cluster_identifier"] == wanted]
    if SnapshotType is not None:
        items = [s for s in items if s["snapshot_type"] == SnapshotType]
    if DbClusterResourceId is not None:
        items = [s for s in items if s["cluster_resource_id"] == DbClusterResourceId]
    items = [s for s in items if _matches(s, filters)]
    scope = [DBClusterIdentifier, DBClusterSnapshotIdentifier, SnapshotType,
             DbClusterResourceId, sorted(filters.items())]  # fmt: skip
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, [cluster_snapshots.to_wire(s) for s in page.items])


def _resolve_snapshot(call: Call, action: str, identifier: str) -> records.Record:
    ident = identifier.split(":")[-1] if identifier.startswith("arn:") else identifier
    call.authorize(
        f"rds:{action}",
        cluster_snapshots.snapshot_arn(call.account, call.region, ident.lower()),
    )
    snap = cluster_snapshots.resolve(call.conn, call.account, call.region, identifier)
    call.audit_resource(snap["arn"], cluster_snapshots.SNAPSHOT_TYPE)
    return snap


@service.operation(authorize=False)
def delete_DB_cluster_snapshot(call: Call, DBClusterSnapshotIdentifier: str) -> dict[str, Any]:
    snap = _resolve_snapshot(call, "DeleteDBClusterSnapshot", DBClusterSnapshotIdentifier)
    if snap["status"] not in ("available", "failed"):
        raise errors.InvalidDBClusterSnapshotStateFault(
            f"Cannot delete the snapshot because it is {snap['status']}."
        )
    cluster_snapshots.delete_snapshot(call.conn, snap["resource_id"])
    call.hand_off("delete_cluster_snapshot_file", {"snapshot": snap["resource_id"]})
    return {"DBClusterSnapshot": {**cluster_snapshots.to_wire(snap), "Status": "deleted"}}


@service.operation(authorize=False, blocking=True)
def restore_DB_cluster_from_snapshot(
    call: Call,
    DBClusterIdentifier: str,
    SnapshotIdentifier: str,
    Engine: str,
    EngineVersion: str | None = None,
    Port: int | None = None,
    DatabaseName: str | None = None,
    Tags: list[dict[str, str]] | None = None,
    KmsKeyId: str | None = None,
    DBClusterParameterGroupName: str | None = None,
    DeletionProtection: bool | None = None,
    CopyTagsToSnapshot: bool | None = None,
    EnableCloudwatchLogsExports: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """A new cluster holding the snapshot's data: encrypted as the snapshot
    is, under KmsKeyId when given (an unencrypted snapshot's cluster is then
    encrypted, as AWS allows for clusters). DatabaseName is accepted: the
    snapshot's databases are restored as they were."""
    identifier = model.require_identifier("DBClusterIdentifier", DBClusterIdentifier)
    arn = clusters.cluster_arn(call.account, call.region, identifier)
    call.authorize("rds:RestoreDBClusterFromSnapshot", arn)
    tags = instances.request_tags(Tags)
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    snap = _resolve_snapshot(call, "RestoreDBClusterFromSnapshot", SnapshotIdentifier)
    if snap["status"] != "available":
        raise errors.InvalidDBClusterSnapshotStateFault(
            f"DBClusterSnapshot {snap['identifier']} is not in available state."
        )
    if Engine != snap["engine"]:
        raise errors.InvalidParameterCombination(
            f"The engine {Engine} is not compatible with the engine of the snapshot "
            f"({snap['engine']})."
        )
    if (
        EngineVersion is not None
        and EngineVersion.split(".")[0] != snap["engine_version"].split(".")[0]
    ):
        raise errors.InvalidParameterCombination(
            f"Cannot restore a snapshot of engine version {snap['engine_version']} to "
            f"version {EngineVersion}: major version upgrades on restore are not supported "
            "by this server."
        )
    instances.require_port(Port)
    default_group, _values = ops_cluster_parameters.for_cluster(
        call, DBClusterParameterGroupName, snap["engine_version"]
    )
    if clusters.find(call.conn, call.account, call.region, identifier) is not None:
        raise errors.DBClusterAlreadyExistsFault("DB Cluster already exists")
    resource_id = model.new_resource_id("cluster-")
    snapshot_key = None
    if snap["encrypted"]:
        # The caller's own access to the snapshot's key is checked, as on AWS.
        snapshot_key = keys.open_data_key(
            call, snap["data_key"], snap["kms_key_arn"], keys.snapshot_context(snap["resource_id"])
        )
    encrypted = bool(snap["encrypted"]) or bool(KmsKeyId)
    wrapped = key_arn = plain = None
    if encrypted:
        key_id = keys.key_for(call, KmsKeyId) if KmsKeyId else snap["kms_key_arn"]
        wrapped, key_arn, plain = keys.new_data_key(
            call, key_id, keys.instance_context(resource_id)
        )
        keys.grant_to_rds(call, key_arn, resource_id)
    rec = {
        "account": call.account,
        "region": call.region,
        "identifier": identifier,
        "resource_id": resource_id,
        "arn": arn,
        "engine": snap["engine"],
        "engine_version": snap["engine_version"],
        "status": "creating",
        "master_username": snap["master_username"],
        "master_verifier": snap["master_verifier"],
        "db_name": snap["db_name"],
        "port": Port,
        "encrypted": encrypted,
        "kms_key_arn": key_arn,
        "data_key": wrapped,
        "deletion_protection": bool(DeletionProtection),
        "backup_retention": 1,
        "created": call.clock.timestamp(),
        "writer": None,
        "members": [],
        "tags": tags,
        "attrs": {
            k: v
            for k, v in {
                "DBClusterParameterGroupName": default_group,
                "CopyTagsToSnapshot": CopyTagsToSnapshot,
                "Seed": cluster_snapshots.seed_name(resource_id),
                "RestoredFrom": snap["arn"],
            }.items()
            if v is not None
        },
    }
    log_exports.on_create(
        rec["attrs"], rec["engine"], rec["engine_version"], EnableCloudwatchLogsExports
    )
    clusters.insert(call.conn, rec)
    call.audit_resource(arn, clusters.CLUSTER_TYPE)
    payload: dict[str, Any] = {"cluster": resource_id, "snapshot_file": snap["resource_id"]}
    if snapshot_key is not None:
        payload["snapshot_key"] = b64_text(snapshot_key)
    if plain is not None:
        payload["seed_key"] = b64_text(plain)
    call.hand_off("restore_cluster", payload, key=f"cluster:{resource_id}")
    return {"DBCluster": wire(call, rec)}


@service.operation(authorize=False)
def copy_DB_cluster_snapshot(
    call: Call,
    SourceDBClusterSnapshotIdentifier: str,
    TargetDBClusterSnapshotIdentifier: str,
    KmsKeyId: str | None = None,
    PreSignedUrl: str | None = None,
    CopyTags: bool | None = None,
    Tags: list[dict[str, str]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The copy rules of DB snapshots: KmsKeyId encrypts an unencrypted
    source's copy and re-encrypts an encrypted one's (the copy no longer
    depends on the source key); never unencrypted; across Regions (the
    source's ARN) an encrypted source needs a KmsKeyId of this Region.
    PreSignedUrl (and SourceRegion) is accepted and not checked."""
    ident = model.require_identifier(
        "TargetDBClusterSnapshotIdentifier", TargetDBClusterSnapshotIdentifier, 255
    )
    arn = cluster_snapshots.snapshot_arn(call.account, call.region, ident)
    call.authorize("rds:CopyDBClusterSnapshot", arn)
    source = cluster_snapshots.resolve_source(
        call.conn, call.account, call.region, SourceDBClusterSnapshotIdentifier
    )
    call.authorize("rds:CopyDBClusterSnapshot", source["arn"])
    call.audit_resource(source["arn"], cluster_snapshots.SNAPSHOT_TYPE)
    tags = instances.request_tags(Tags)
    if CopyTags:
        tags = instances.merge_tags(source["tags"], tags)
    if source["status"] != "available":
        raise errors.InvalidDBClusterSnapshotStateFault(
            f"DBClusterSnapshot {source['identifier']} is not in available state."
        )
    cross_region = source["region"] != call.region
    if KmsKeyId == "":
        raise errors.InvalidParameterValue(
            "The parameter KmsKeyId must not be empty: an encrypted snapshot's copy is "
            "always encrypted."
        )
    if cross_region and source["encrypted"] and not KmsKeyId:
        raise errors.InvalidParameterCombination(
            "KmsKeyId must be specified to copy an encrypted snapshot to another region. "
            "It must be a KMS key of the destination region."
        )
    if KmsKeyId and KmsKeyId.startswith("arn:") and KmsKeyId.split(":")[3] != call.region:
        raise keys.not_accessible(KmsKeyId)
    if cluster_snapshots.find(call.conn, call.account, call.region, ident) is not None:
        raise errors.DBClusterSnapshotAlreadyExistsFault(
            f"Cannot create the cluster snapshot because one with the identifier {ident} "
            "already exists."
        )
    resource_id = model.new_resource_id("snap-")
    payload: dict[str, Any] = {"target": resource_id, "source_file": source["resource_id"]}
    encrypted = bool(source["encrypted"]) or bool(KmsKeyId)
    wrapped = key_arn = None
    if encrypted:
        target_key = keys.key_for(call, KmsKeyId) if KmsKeyId else source["kms_key_arn"]
        wrapped, key_arn, plain = keys.new_data_key(
            call, target_key, keys.snapshot_context(resource_id)
        )
        payload["target_key"] = b64_text(plain)
    if source["encrypted"]:
        ctx = dataclasses.replace(call, region=source["region"]) if cross_region else call
        payload["source_key"] = b64_text(
            keys.open_data_key(
                ctx, source["data_key"], source["kms_key_arn"],
                keys.snapshot_context(source["resource_id"]),
            )
        )  # fmt: skip
    snap = {
        **source,
        "region": call.region,
        "identifier": ident,
        "resource_id": resource_id,
        "arn": arn,
        "snapshot_type": "manual",
        "status": "creating",
        "percent": 0,
        "encrypted": encrypted,
        "kms_key_arn": key_arn,
        "data_key": wrapped,
        "created": call.clock.timestamp(),
        "source_arn": source["arn"],
        "tags": tags,
    }
    cluster_snapshots.insert(call.conn, snap)
    call.audit_resource(arn, cluster_snapshots.SNAPSHOT_TYPE)
    call.hand_off("copy_cluster_snapshot", payload)
    return {"DBClusterSnapshot": cluster_snapshots.to_wire(snap)}
