"""CreateDBInstanceReadReplica and PromoteReadReplica: read replicas that are
real PostgreSQL streaming replicas (control-plane-only engines: records).

The operation checks and records; the engine's work (the replica's copy of
the running source, its promotion) is handed off to `replica_work`."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.rds import instances, keys, model, parameters, records, replicas
from strongroom.services.rds.ops_instances import _resolve
from strongroom.services.rds.service import errors, service


def _encryption(
    call: Call, source: records.Record, resource_id: str, kms_key_id: str | None, cross: bool
) -> tuple[bytes | None, str | None, str | None]:
    """(wrapped data key, key ARN, payload text of the plaintext key) of a
    new replica: encrypted as its source is; under the source's key in its
    Region, under KmsKeyId (a key of this Region) across Regions."""
    if not source["encrypted"]:
        if kms_key_id:
            raise errors.InvalidParameterCombination(
                "You can't create an encrypted read replica from an unencrypted DB instance."
            )
        return None, None, None
    if cross:
        if not kms_key_id:
            raise errors.InvalidParameterCombination(
                "KmsKeyId must be specified to create an encrypted read replica in another "
                "region. It must be a KMS key of the destination region."
            )
        if kms_key_id.startswith("arn:") and kms_key_id.split(":")[3] != call.region:
            raise keys.not_accessible(kms_key_id)
        return instances.encryption(call, resource_id, kms_key_id)
    # In the source's Region a replica is always under the source's key.
    return instances.encryption(call, resource_id, source["kms_key_arn"])


def _parameter_group(
    call: Call, source: records.Record, name: str | None, cross: bool
) -> tuple[str | None, dict[str, str]]:
    """The replica's parameter group (the source's in its Region, the
    default across Regions, unless one is named) and the values to apply."""
    if name is None:
        inherited = None if cross else (source["attrs"] or {}).get("DBParameterGroupName")
        return inherited, {}
    group = parameters.resolve(call, name)
    family = model.family_of(source["engine"], source["engine_version"])
    if group["family"] != family:
        raise errors.InvalidParameterCombination(
            f"The parameter group {group['name']} with DBParameterGroupFamily "
            f"{group['family']} can't be used for this instance. Use a parameter group "
            f"with DBParameterGroupFamily {family}."
        )
    values = parameters.engine_values(group["parameters"] or {})
    return group["name"], values


@service.operation(authorize=False)
def create_DB_instance_read_replica(
    call: Call,
    DBInstanceIdentifier: str,
    SourceDBInstanceIdentifier: str | None = None,
    SourceDBClusterIdentifier: str | None = None,
    DBInstanceClass: str | None = None,
    AvailabilityZone: str | None = None,
    Port: int | None = None,
    MultiAZ: bool | None = None,
    AutoMinorVersionUpgrade: bool | None = None,
    DBParameterGroupName: str | None = None,
    PubliclyAccessible: bool | None = None,
    Tags: list[dict[str, str]] | None = None,
    StorageType: str | None = None,
    CopyTagsToSnapshot: bool | None = None,
    KmsKeyId: str | None = None,
    PreSignedUrl: str | None = None,
    DeletionProtection: bool | None = None,
    AllocatedStorage: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    """PreSignedUrl (and SourceRegion, from which boto3 makes it) is accepted
    and not checked: the source ARN names the source Region."""
    identifier = model.require_identifier("DBInstanceIdentifier", DBInstanceIdentifier)
    arn = model.instance_arn(call.account, call.region, identifier)
    call.authorize("rds:CreateDBInstanceReadReplica", arn)
    tags = instances.request_tags(Tags)
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    if SourceDBClusterIdentifier is not None:
        if SourceDBInstanceIdentifier is not None:
            raise errors.InvalidParameterCombination(
                "SourceDBInstanceIdentifier and SourceDBClusterIdentifier can't both be specified."
            )
        raise errors.DBClusterNotFoundFault(f"DBCluster {SourceDBClusterIdentifier} not found.")
    if not SourceDBInstanceIdentifier:
        raise errors.InvalidParameterValue(
            "The parameter SourceDBInstanceIdentifier must be provided and must not be blank."
        )
    source = replicas.resolve_source(call, SourceDBInstanceIdentifier)
    call.authorize("rds:CreateDBInstanceReadReplica", source["arn"])
    call.audit_resource(source["arn"], model.INSTANCE_TYPE)
    instances.require_new(call, identifier)
    replicas.require_can_replicate(call, source)
    instances.require_port(Port)
    info = model.ENGINES[source["engine"]]
    storage = AllocatedStorage or source["allocated_storage"]
    storage_type = StorageType or source["storage_type"]
    if AllocatedStorage is not None:
        instances.require_storage(info, AllocatedStorage, storage_type)
    cross = source["region"] != call.region
    group, group_values = _parameter_group(call, source, DBParameterGroupName, cross)
    resource_id = model.new_resource_id()
    wrapped, key_arn, plain = _encryption(call, source, resource_id, KmsKeyId, cross)
    source_attrs = source["attrs"] or {}
    attrs = {
        k: v
        for k, v in {
            "ReplicaSource": source["arn"],
            "MultiAZ": MultiAZ,
            "PubliclyAccessible": PubliclyAccessible,
            "AvailabilityZone": AvailabilityZone,
            "AutoMinorVersionUpgrade": AutoMinorVersionUpgrade
            if AutoMinorVersionUpgrade is not None
            else source_attrs.get("AutoMinorVersionUpgrade"),
            "CopyTagsToSnapshot": CopyTagsToSnapshot,
            "LicenseModel": source_attrs.get("LicenseModel"),
            "DBParameterGroupName": group,
        }.items()
        if v is not None
    }
    rec = instances.new_record(
        call,
        identifier,
        resource_id=resource_id,
        engine=source["engine"],
        version=source["engine_version"],
        instance_class=DBInstanceClass or source["instance_class"],
        master_username=source["master_username"],
        db_name=source["db_name"],
        # One machine: a real replica cannot share its source's port.
        port=Port if Port is not None else (None if info.real else source["port"]),
        storage=storage,
        storage_type=storage_type,
        encrypted=bool(source["encrypted"]),
        kms_key_arn=key_arn,
        data_key=wrapped,
        deletion_protection=bool(DeletionProtection),
        # RDS creates read replicas with backups disabled.
        backup_retention=0,
        tags=tags,
        attrs=attrs,
    )
    records.insert_instance(call.conn, rec)
    call.audit_resource(arn, model.INSTANCE_TYPE)
    replicas.link(call.conn, source, arn)
    if info.real:
        # As on AWS, the source is modifying while its copy is taken.
        records.update_instance(call.conn, source["resource_id"], status="modifying")
    payload: dict[str, Any] = {
        "id": resource_id,
        "source": source["resource_id"],
        "port": Port,
        "parameters": group_values,
    }
    if plain is not None:
        payload["data_key"] = plain
    call.hand_off("launch_replica", payload, key=f"db:{resource_id}")
    return {"DBInstance": replicas.to_wire(call, rec)}


@service.operation(authorize=False)
def promote_read_replica(
    call: Call,
    DBInstanceIdentifier: str,
    BackupRetentionPeriod: int | None = None,
    PreferredBackupWindow: str | None = None,
    TagSpecifications: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """TagSpecifications (tags for the automated backups) is accepted: this
    server keeps no automated backups yet."""
    rec = _resolve(call, "PromoteReadReplica", DBInstanceIdentifier)
    if replicas.source_arn(rec) is None:
        raise errors.InvalidDBInstanceStateFault("DB Instance is not a read replica.")
    if rec["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"DB Instance {rec['identifier']} is not in the available state."
        )
    retention = 1 if BackupRetentionPeriod is None else BackupRetentionPeriod
    if not 0 <= retention <= 35:
        raise errors.InvalidParameterValue(
            "Invalid backup retention period. Must be a value from 0 to 35 days."
        )
    if retention == 0 and replicas.replica_arns(rec) and rec["engine"] != "postgres":
        raise errors.InvalidParameterCombination(
            "The backup retention period can't be 0 for a DB instance that is a source to "
            "read replicas."
        )
    attrs = dict(rec["attrs"] or {})
    if PreferredBackupWindow is not None:
        attrs["PreferredBackupWindow"] = PreferredBackupWindow
    records.update_instance(call.conn, rec["resource_id"], status="modifying", attrs=attrs)
    rec.update(status="modifying", attrs=attrs)
    call.hand_off(
        "promote_replica",
        {"id": rec["resource_id"], "retention": retention},
        key=f"db:{rec['resource_id']}",
    )
    return {"DBInstance": replicas.to_wire(call, rec)}
