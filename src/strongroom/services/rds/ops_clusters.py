"""Aurora PostgreSQL DB clusters: CreateDBCluster, DescribeDBClusters,
ModifyDBCluster, DeleteDBCluster, FailoverDBCluster, Stop/StartDBCluster, and the instances of a
cluster (CreateDBInstance / DeleteDBInstance with a DBClusterIdentifier).

The operations check and record; the engines' work (the writer's server,
the readers' streaming copies, a failover) is in `cluster_work`."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_text
from strongroom.engines.postgres import scram
from strongroom.framework import Call
from strongroom.services.rds import (
    clusters,
    instances,
    keys,
    log_exports,
    master_secret,
    model,
    ops_cluster_parameters,
    records,
)
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBClusters", default=100, maximum=100, minimum=20)
_FILTERS = {"clone-group-id", "db-cluster-id", "db-cluster-resource-id", "domain", "engine"}
#: CreateDBInstance's settings that belong to an Aurora instance's cluster,
#: and the word AWS's "Set … for the DB Cluster." uses for each.
CLUSTER_SETTINGS = {
    "MasterUsername": "master user name",
    "MasterUserPassword": "master user password",
    "AllocatedStorage": "allocated storage",
    "StorageEncrypted": "storage encryption",
    "KmsKeyId": "KMS key",
    "DBName": "database name",
    "BackupRetentionPeriod": "backup retention period",
    "ManageMasterUserPassword": "managed master user password",
    "Port": "port",
}


def _require_retention(value: int | None) -> None:
    if value is not None and not 1 <= value <= 35:
        raise errors.InvalidParameterValue(
            "Invalid backup retention period. Must be a value from 1 to 35 days."
        )


def _require_engine(engine: str) -> None:
    if engine in clusters.ENGINES:
        return
    if engine in clusters.OTHER_CLUSTER_ENGINES:
        raise errors.InvalidParameterValue(
            f"Engine {engine} DB clusters are not served by this server: only aurora-postgresql."
        )
    raise errors.InvalidParameterValue("Invalid DB engine")


def _resolve(call: Call, action: str, identifier: str) -> records.Record:
    ident = identifier.split(":")[-1] if identifier.startswith("arn:") else identifier
    call.authorize(f"rds:{action}", clusters.cluster_arn(call.account, call.region, ident.lower()))
    rec = clusters.resolve(call.conn, call.account, call.region, identifier)
    call.audit_resource(rec["arn"], clusters.CLUSTER_TYPE)
    return rec


def wire(call: Call, cluster: records.Record) -> dict[str, Any]:
    return clusters.to_wire(cluster, clusters.members(call.conn, cluster))


@service.operation(authorize=False, blocking=True)
def create_DB_cluster(
    call: Call,
    DBClusterIdentifier: str,
    Engine: str,
    EngineVersion: str | None = None,
    MasterUsername: str | None = None,
    MasterUserPassword: str | None = None,
    DatabaseName: str | None = None,
    Port: int | None = None,
    StorageEncrypted: bool | None = None,
    KmsKeyId: str | None = None,
    DBClusterParameterGroupName: str | None = None,
    DeletionProtection: bool | None = None,
    BackupRetentionPeriod: int | None = None,
    Tags: list[dict[str, str]] | None = None,
    PreferredBackupWindow: str | None = None,
    PreferredMaintenanceWindow: str | None = None,
    CopyTagsToSnapshot: bool | None = None,
    AutoMinorVersionUpgrade: bool | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    EnableCloudwatchLogsExports: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """ManageMasterUserPassword: RDS makes the password and keeps it in a
    secret of its own (`master_secret`, ``rds!cluster-<uuid>``); the cluster
    keeps its verifier only. The VPC, subnet, IAM-authentication and
    monitoring settings are accepted and have nothing to act on here."""
    identifier = model.require_identifier("DBClusterIdentifier", DBClusterIdentifier)
    arn = clusters.cluster_arn(call.account, call.region, identifier)
    call.authorize("rds:CreateDBCluster", arn)
    tags = instances.request_tags(Tags)
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    _require_engine(Engine)
    managed = instances.require_managed_choice(
        ManageMasterUserPassword, MasterUserPassword, MasterUserSecretKmsKeyId
    )
    if managed:
        MasterUserPassword = master_secret.new_password()
    info = model.ENGINES[Engine]
    instances.require_master(info, MasterUsername, MasterUserPassword)
    instances.require_port(Port)
    _require_retention(BackupRetentionPeriod)
    version = instances.resolve_version(call, info, EngineVersion)
    group_name, _values = ops_cluster_parameters.for_cluster(
        call, DBClusterParameterGroupName, version
    )
    if DatabaseName is not None and (
        not DatabaseName or not DatabaseName[0].isalpha() or len(DatabaseName) > 63
        or not all(c.isalnum() or c == "_" for c in DatabaseName)
    ):  # fmt: skip
        raise errors.InvalidParameterValue(
            "The parameter DatabaseName is not a valid identifier. Identifiers must begin with "
            "a letter; must contain only ASCII letters, digits, and underscores."
        )
    if clusters.find(call.conn, call.account, call.region, identifier) is not None:
        raise errors.DBClusterAlreadyExistsFault("DB Cluster already exists")
    resource_id = model.new_resource_id("cluster-")
    encrypted = bool(StorageEncrypted) or bool(KmsKeyId)
    wrapped = key_arn = None
    if encrypted:
        # The cluster's own data key: the key is checked now, as on AWS;
        # each instance gets a data key of its own under the same key.
        key_id = keys.key_for(call, KmsKeyId)
        wrapped, key_arn, _plain = keys.new_data_key(
            call, key_id, keys.instance_context(resource_id)
        )
        keys.grant_to_rds(call, key_arn, resource_id)
    attrs = {
        k: v
        for k, v in {
            "PreferredBackupWindow": PreferredBackupWindow,
            "PreferredMaintenanceWindow": PreferredMaintenanceWindow,
            "CopyTagsToSnapshot": CopyTagsToSnapshot,
            "AutoMinorVersionUpgrade": AutoMinorVersionUpgrade,
            "DBClusterParameterGroupName": group_name,
        }.items()
        if v is not None
    }
    log_exports.on_create(attrs, Engine, version, EnableCloudwatchLogsExports)
    rec = {
        "account": call.account,
        "region": call.region,
        "identifier": identifier,
        "resource_id": resource_id,
        "arn": arn,
        "engine": Engine,
        "engine_version": version,
        "status": "creating",
        "master_username": MasterUsername,
        "master_verifier": scram.verifier(MasterUserPassword or ""),
        "db_name": DatabaseName,
        "port": Port,
        "encrypted": encrypted,
        "kms_key_arn": key_arn,
        "data_key": wrapped,
        "deletion_protection": bool(DeletionProtection),
        "backup_retention": 1 if BackupRetentionPeriod is None else BackupRetentionPeriod,
        "created": call.clock.timestamp(),
        "writer": None,
        "members": [],
        "tags": tags,
        "attrs": attrs,
    }
    if managed:
        attrs["MasterUserSecret"] = master_secret.create(
            call, rec, MasterUserPassword or "", MasterUserSecretKmsKeyId, kind="cluster"
        )
    clusters.insert(call.conn, rec)
    call.audit_resource(arn, clusters.CLUSTER_TYPE)
    call.hand_off("create_cluster", {"cluster": resource_id}, key=f"cluster:{resource_id}")
    return {"DBCluster": clusters.to_wire(rec, [])}


def _matches(rec: records.Record, filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        if name == "db-cluster-id":
            if rec["identifier"] not in {v.lower() for v in values} and rec["arn"] not in values:
                return False
        elif name == "db-cluster-resource-id":
            if rec["resource_id"] not in values:
                return False
        elif name == "engine":
            if rec["engine"] not in values:
                return False
        else:  # domain, clone-group-id: no cluster here has either
            return False
    return True


@service.operation
def describe_DB_clusters(
    call: Call,
    DBClusterIdentifier: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
    IncludeShared: bool | None = None,
) -> dict[str, Any]:
    """IncludeShared: no cluster is ever shared with another account here."""
    from strongroom.services.rds.ops_instances import parse_filters

    filters = parse_filters(Filters, _FILTERS)
    if DBClusterIdentifier is not None:
        items = [clusters.resolve(call.conn, call.account, call.region, DBClusterIdentifier)]
    else:
        items = clusters.list_all(call.conn, call.account, call.region)
    items = [r for r in items if _matches(r, filters)]
    scope = [DBClusterIdentifier, sorted(filters.items())]
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, [wire(call, r) for r in page.items])


@service.operation(authorize=False)
def modify_DB_cluster(
    call: Call,
    DBClusterIdentifier: str,
    NewDBClusterIdentifier: str | None = None,
    ApplyImmediately: bool | None = None,
    BackupRetentionPeriod: int | None = None,
    DBClusterParameterGroupName: str | None = None,
    MasterUserPassword: str | None = None,
    PreferredBackupWindow: str | None = None,
    PreferredMaintenanceWindow: str | None = None,
    DeletionProtection: bool | None = None,
    CopyTagsToSnapshot: bool | None = None,
    AutoMinorVersionUpgrade: bool | None = None,
    CloudwatchLogsExportConfiguration: dict[str, Any] | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    RotateMasterUserPassword: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    """A new master password is set at once (as on AWS, whatever
    ApplyImmediately says) on the writer; readers get it by replication.
    So is one RDS makes when ManageMasterUserPassword turns on (its secret
    made first; turned off, the secret goes and MasterUserPassword is
    required); RotateMasterUserPassword has Secrets Manager rotate the
    secret, which sets the new password on the writer (`master_secret`).
    CloudwatchLogsExportConfiguration applies at once too (`log_exports`)."""
    rec = _resolve(call, "ModifyDBCluster", DBClusterIdentifier)
    if rec["status"] != "available":
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {rec['identifier']} is not in available state."
        )
    if NewDBClusterIdentifier is not None:
        raise errors.InvalidParameterCombination(
            "Renaming a DB cluster is not supported by this server yet."
        )
    instances.require_password(MasterUserPassword, required=False)
    turn_on, turn_off = instances.require_managed_change(
        master_secret.of(rec) is not None,
        ManageMasterUserPassword,
        MasterUserPassword,
        MasterUserSecretKmsKeyId,
        RotateMasterUserPassword,
        bool(ApplyImmediately),
        what="DB cluster",
    )
    _require_retention(BackupRetentionPeriod)
    if (MasterUserPassword or turn_on) and rec["writer"]:
        # The writer takes the new password (the one in the store when the
        # work runs); while other work of the cluster's is queued or running
        # it would not be set, so the change is refused, nothing done.
        queued = call.hand_off(
            "set_cluster_password",
            {"cluster": rec["resource_id"]},
            key=f"cluster:{rec['resource_id']}",
        )
        if not queued:
            raise errors.InvalidDBClusterStateFault(
                f"DB cluster {rec['identifier']} is not in available state."
            )
    changes: dict[str, Any] = {}
    attrs = dict(rec["attrs"] or {})
    if turn_on:
        MasterUserPassword = master_secret.new_password()
        attrs["MasterUserSecret"] = master_secret.create(
            call, rec, MasterUserPassword, MasterUserSecretKmsKeyId, kind="cluster"
        )
    elif turn_off:
        master_secret.delete(call, rec)
        attrs.pop("MasterUserSecret", None)
    elif RotateMasterUserPassword:
        master_secret.rotate(call, rec)
    if DBClusterParameterGroupName is not None:
        name, values = ops_cluster_parameters.for_cluster(
            call, DBClusterParameterGroupName, rec["engine_version"]
        )
        attrs["DBClusterParameterGroupName"] = name
        # The new group's values reach the running instances (dynamic at
        # once, static after a reboot); values the old group set stay until
        # then, as the engine has them.
        for member in clusters.members(call.conn, rec):
            if values and member["status"] == "available":
                call.hand_off(
                    "apply_group_parameters", {"id": member["resource_id"], "values": values}
                )
    for name, value in (
        ("PreferredBackupWindow", PreferredBackupWindow),
        ("PreferredMaintenanceWindow", PreferredMaintenanceWindow),
        ("CopyTagsToSnapshot", CopyTagsToSnapshot),
        ("AutoMinorVersionUpgrade", AutoMinorVersionUpgrade),
    ):
        if value is not None:
            attrs[name] = value
    log_exports.on_cluster_modify(
        call, rec, clusters.members(call.conn, rec), attrs, CloudwatchLogsExportConfiguration
    )
    if DeletionProtection is not None:
        changes["deletion_protection"] = DeletionProtection
    if BackupRetentionPeriod is not None:
        changes["backup_retention"] = BackupRetentionPeriod
    if MasterUserPassword:
        changes["master_verifier"] = scram.verifier(MasterUserPassword)
        if rec["writer"] and not (turn_on or turn_off):  # (as for instances)
            attrs["PendingMasterUserPassword"] = True
    changes["attrs"] = attrs
    clusters.update_cluster(call.conn, rec["resource_id"], **changes)
    rec.update(changes)
    return {"DBCluster": wire(call, rec)}


@service.operation(authorize=False)
def delete_DB_cluster(
    call: Call,
    DBClusterIdentifier: str,
    SkipFinalSnapshot: bool | None = None,
    FinalDBSnapshotIdentifier: str | None = None,
    DeleteAutomatedBackups: bool | None = None,
) -> dict[str, Any]:
    rec = _resolve(call, "DeleteDBCluster", DBClusterIdentifier)
    if rec["deletion_protection"]:
        raise errors.InvalidParameterCombination(
            "Cannot delete protected Cluster, please disable deletion protection and try again."
        )
    if rec["status"] not in ("available", "failed", "inaccessible-encryption-credentials"):
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {rec['identifier']} is not in a state from which it can be deleted "
            f"({rec['status']})."
        )
    if rec["members"]:
        raise errors.InvalidDBClusterStateFault(
            "Cluster cannot be deleted, it still contains DB instances in non-deleting state."
        )
    if SkipFinalSnapshot:
        if FinalDBSnapshotIdentifier is not None:
            raise errors.InvalidParameterCombination(
                "FinalDBSnapshotIdentifier can not be specified when SkipFinalSnapshot is true"
            )
    elif not FinalDBSnapshotIdentifier:
        raise errors.InvalidParameterCombination(
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
        )
    else:
        # A cluster with no instances holds no data on this server (its data
        # lives in its writer), and cluster snapshots are not served yet.
        model.require_identifier("FinalDBSnapshotIdentifier", FinalDBSnapshotIdentifier, 255)
        raise errors.InvalidParameterCombination(
            "Final DB cluster snapshots are not supported by this server yet: specify "
            "SkipFinalSnapshot."
        )
    master_secret.delete(call, rec)
    clusters.update_cluster(call.conn, rec["resource_id"], status="deleting")
    rec["status"] = "deleting"
    call.hand_off("delete_cluster", {"cluster": rec["resource_id"]})
    return {"DBCluster": clusters.to_wire(rec, [])}


@service.operation(authorize=False)
def failover_DB_cluster(
    call: Call, DBClusterIdentifier: str, TargetDBInstanceIdentifier: str | None = None
) -> dict[str, Any]:
    """A reader (TargetDBInstanceIdentifier, else the first available reader
    of the lowest PromotionTier) is promoted to writer; the old writer
    rejoins as a reader, copied from the new one."""
    rec = _resolve(call, "FailoverDBCluster", DBClusterIdentifier)
    if rec["status"] != "available":
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {rec['identifier']} is not in available state."
        )
    member_recs = clusters.members(call.conn, rec)
    writer = next((m for m in member_recs if m["resource_id"] == rec["writer"]), None)
    readers = [m for m in member_recs if m["resource_id"] != rec["writer"]]
    if writer is None or not readers:
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {rec['identifier']} has no reader DB instance to fail over to."
        )
    if TargetDBInstanceIdentifier is not None:
        target = next(
            (m for m in member_recs if m["identifier"] == TargetDBInstanceIdentifier.lower()),
            None,
        )
        if target is None:
            raise errors.InvalidParameterValue(
                f"The DB instance {TargetDBInstanceIdentifier} is not a member of DB cluster "
                f"{rec['identifier']}."
            )
        if target["resource_id"] == rec["writer"]:
            raise errors.InvalidDBInstanceStateFault(
                f"The DB instance {target['identifier']} is already the writer of DB cluster "
                f"{rec['identifier']}."
            )
    else:
        target = min(readers, key=lambda m: int((m["attrs"] or {}).get("PromotionTier", 1)))
    for m in member_recs:
        if m["status"] != "available":
            raise errors.InvalidDBInstanceStateFault(
                f"DB instance {m['identifier']} is not in available state."
            )
    clusters.update_cluster(call.conn, rec["resource_id"], status="failing-over")
    rec["status"] = "failing-over"
    for m in member_recs:
        records.update_instance(call.conn, m["resource_id"], status="rebooting")
    call.hand_off(
        "failover_cluster",
        {"cluster": rec["resource_id"], "target": target["resource_id"]},
        key=f"cluster:{rec['resource_id']}",
    )
    return {"DBCluster": wire(call, rec)}


@service.operation(authorize=False)
def stop_DB_cluster(call: Call, DBClusterIdentifier: str) -> dict[str, Any]:
    """Every member's engine is stopped (`cluster_work.stop_cluster`); the
    cluster starts by itself after 7 days, as on AWS."""
    rec = _resolve(call, "StopDBCluster", DBClusterIdentifier)
    if rec["status"] != "available":
        raise errors.InvalidDBClusterStateFault(
            f"DbCluster {rec['identifier']} is in {rec['status']} state but expected it to be "
            "one of available."
        )
    member_recs = clusters.members(call.conn, rec)
    for m in member_recs:
        if m["status"] != "available":
            raise errors.InvalidDBInstanceStateFault(
                f"DB instance {m['identifier']} is not in available state."
            )
    clusters.update_cluster(call.conn, rec["resource_id"], status="stopping")
    rec["status"] = "stopping"
    for m in member_recs:
        records.update_instance(call.conn, m["resource_id"], status="stopping")
    call.hand_off(
        "stop_cluster", {"cluster": rec["resource_id"]}, key=f"cluster:{rec['resource_id']}"
    )
    return {"DBCluster": wire(call, rec)}


@service.operation(authorize=False)
def start_DB_cluster(call: Call, DBClusterIdentifier: str) -> dict[str, Any]:
    """The members' engines start again (`cluster_work.start_cluster`): an
    encrypted cluster's with the caller's own access to its KMS key."""
    rec = _resolve(call, "StartDBCluster", DBClusterIdentifier)
    if rec["status"] != "stopped":
        raise errors.InvalidDBClusterStateFault(
            f"DbCluster {rec['identifier']} is in {rec['status']} state but expected it to be "
            "one of stopped."
        )
    member_recs = clusters.members(call.conn, rec)
    data_keys: dict[str, str] = {}
    for m in member_recs:
        if m["encrypted"] and m["data_key"] is not None:
            plain = keys.open_data_key(
                call, m["data_key"], m["kms_key_arn"], keys.instance_context(m["resource_id"])
            )
            data_keys[m["resource_id"]] = b64_text(plain)
    clusters.update_cluster(call.conn, rec["resource_id"], status="starting")
    rec["status"] = "starting"
    for m in member_recs:
        records.set_instance_status(call.conn, m["resource_id"], "starting", only_from=("stopped",))
    call.hand_off(
        "start_cluster",
        {"cluster": rec["resource_id"], "keys": data_keys},
        key=f"cluster:{rec['resource_id']}",
    )
    return {"DBCluster": wire(call, rec)}


# --------------------------------------------------------------------- instances of a cluster


def create_member(
    call: Call,
    identifier: str,
    cluster_identifier: str | None,
    engine: str,
    instance_class: str,
    tags: list[list[str]],
    given: dict[str, Any],
) -> dict[str, Any]:
    """CreateDBInstance of an Aurora instance (the caller was authorized on
    the instance's ARN): the writer if the cluster has none, else a reader."""
    if not cluster_identifier:
        raise errors.InvalidParameterValue(
            "The parameter DBClusterIdentifier must be provided for an Aurora DB instance."
        )
    call.authorize(
        "rds:CreateDBInstance",
        clusters.cluster_arn(call.account, call.region, cluster_identifier.lower()),
    )
    cluster = clusters.resolve(call.conn, call.account, call.region, cluster_identifier)
    call.audit_resource(cluster["arn"], clusters.CLUSTER_TYPE)
    if engine != cluster["engine"]:
        raise errors.InvalidParameterCombination(
            f"The engine name requested for your DB instance ({engine}) doesn't match the "
            f"engine name of your DB cluster ({cluster['engine']})."
        )
    for name, words in CLUSTER_SETTINGS.items():
        if given.get(name) is not None:
            raise errors.InvalidParameterCombination(
                f"The requested DB Instance will be a member of a DB Cluster. Set {words} for "
                "the DB Cluster."
            )
    if cluster["status"] not in ("available", "creating"):
        raise errors.InvalidDBClusterStateFault(
            f"DB cluster {cluster['identifier']} is not in available state."
        )
    instances.require_new(call, identifier)
    tier = given.get("PromotionTier")
    if tier is not None and not 0 <= tier <= 15:
        raise errors.InvalidParameterValue("PromotionTier must be a value from 0 to 15.")
    resource_id = model.new_resource_id()
    wrapped = key_arn = plain = None
    if cluster["encrypted"]:
        wrapped, key_arn, plain = instances.encryption(call, resource_id, cluster["kms_key_arn"])
    attrs = {
        k: v
        for k, v in {
            "DBClusterIdentifier": cluster["identifier"],
            "DbClusterResourceId": cluster["resource_id"],
            "PromotionTier": 1 if tier is None else tier,
            "DBParameterGroupName": f"default.{model.family_of(engine, cluster['engine_version'])}",
            "AvailabilityZone": given.get("AvailabilityZone"),
            "PubliclyAccessible": given.get("PubliclyAccessible"),
            "AutoMinorVersionUpgrade": given.get("AutoMinorVersionUpgrade"),
            "PreferredMaintenanceWindow": given.get("PreferredMaintenanceWindow"),
        }.items()
        if v is not None
    }
    rec = instances.new_record(
        call,
        identifier,
        resource_id=resource_id,
        engine=engine,
        version=cluster["engine_version"],
        instance_class=instance_class,
        master_username=cluster["master_username"],
        db_name=cluster["db_name"],
        port=None,
        storage=1,
        storage_type="aurora",
        encrypted=bool(cluster["encrypted"]),
        kms_key_arn=key_arn,
        data_key=wrapped,
        deletion_protection=False,
        backup_retention=cluster["backup_retention"],
        tags=tags,
        attrs=attrs,
    )
    records.insert_instance(call.conn, rec)
    call.audit_resource(rec["arn"], model.INSTANCE_TYPE)
    writer = cluster["writer"] is None
    clusters.add_member(call.conn, cluster, resource_id, writer=writer)
    payload: dict[str, Any] = {
        "id": resource_id,
        "cluster": cluster["resource_id"],
        "parameters": ops_cluster_parameters.values_of(call, cluster),
    }
    if plain is not None:
        payload["data_key"] = plain
    if writer and (cluster["attrs"] or {}).get("Seed") and cluster["encrypted"]:
        # A restored cluster's writer starts from its seed, sealed under the
        # cluster's data key: opened with the caller's own access to the key.
        seed_key = keys.open_data_key(
            call,
            cluster["data_key"],
            cluster["kms_key_arn"],
            keys.instance_context(cluster["resource_id"]),
        )
        payload["seed_key"] = b64_text(seed_key)
    call.hand_off("launch_cluster_member", payload, key=f"db:{resource_id}")
    return {"DBInstance": model.instance_wire(rec)}


def delete_member(
    call: Call, rec: records.Record, cluster: records.Record, final_snapshot: str | None
) -> dict[str, Any]:
    """DeleteDBInstance of a cluster's instance: no final snapshot (the data
    is the cluster's); deleting the writer while readers remain promotes
    one of them first, as AWS fails over."""
    if final_snapshot is not None:
        raise errors.InvalidParameterCombination(
            "FinalDBSnapshotIdentifier can't be specified when deleting an instance of a DB "
            "cluster: the data belongs to the cluster."
        )
    if rec["status"] == "deleting":
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is already being deleted."
        )
    if cluster["status"] in ("stopping", "stopped", "starting"):
        raise errors.InvalidDBClusterStateFault(
            f"DbCluster {cluster['identifier']} is in {cluster['status']} state but expected it "
            "to be one of available."
        )
    if rec["status"] not in instances.DELETABLE:
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in a state from which it can be deleted "
            f"({rec['status']})."
        )
    payload: dict[str, Any] = {"id": rec["resource_id"], "cluster": cluster["resource_id"]}
    if cluster["writer"] == rec["resource_id"]:
        readers = [
            m
            for m in clusters.members(call.conn, cluster)
            if m["resource_id"] != rec["resource_id"] and m["status"] == "available"
        ]
        if readers:
            target = min(readers, key=lambda m: int((m["attrs"] or {}).get("PromotionTier", 1)))
            payload["promote"] = target["resource_id"]
            clusters.update_cluster(call.conn, cluster["resource_id"], status="failing-over")
    records.update_instance(call.conn, rec["resource_id"], status="deleting")
    rec["status"] = "deleting"
    call.hand_off("delete_cluster_member", payload, key=f"cluster:{cluster['resource_id']}")
    return {"DBInstance": model.instance_wire(rec)}
