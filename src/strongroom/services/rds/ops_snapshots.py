"""DB snapshots: create, describe, delete, copy (encrypting, re-encrypting)
and restore into a new instance. The data moves in background work."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.rds import (
    clusters,
    instances,
    keys,
    log_exports,
    master_secret,
    model,
    records,
    snapshots,
)
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBSnapshots", default=100, maximum=100, minimum=20)
_FILTERS = {
    "db-instance-id",
    "db-snapshot-id",
    "dbi-resource-id",
    "snapshot-type",
    "engine",
}


@service.operation(authorize=False)
def create_DB_snapshot(
    call: Call,
    DBSnapshotIdentifier: str,
    DBInstanceIdentifier: str,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    ident = DBSnapshotIdentifier.lower()
    call.authorize("rds:CreateDBSnapshot", model.snapshot_arn(call.account, call.region, ident))
    rec = records.resolve_instance(call.conn, call.account, call.region, DBInstanceIdentifier)
    call.authorize("rds:CreateDBSnapshot", rec["arn"])
    clusters.refuse_instance_snapshot(rec)
    tags = instances.request_tags(Tags) if Tags else None
    if rec["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"Cannot create a snapshot because the database instance {rec['identifier']} is "
            "not currently in the available state."
        )
    snap, _plain = snapshots.start_snapshot(
        call, rec, DBSnapshotIdentifier, "manual", tags=tags, hand_off=True
    )
    # As on AWS, the instance is backing-up while the snapshot is taken.
    records.update_instance(call.conn, rec["resource_id"], status="backing-up")
    return {"DBSnapshot": model.snapshot_wire(snap)}


def _matches(snap: records.Record, filters: dict[str, list[str]]) -> bool:
    columns = {
        "db-instance-id": snap["instance_identifier"],
        "db-snapshot-id": snap["identifier"],
        "dbi-resource-id": snap["dbi_resource_id"],
        "snapshot-type": snap["snapshot_type"],
        "engine": snap["engine"],
    }
    for name, values in filters.items():
        wanted = {v.lower() for v in values} if name.endswith("-id") else set(values)
        if name == "dbi-resource-id":
            wanted = set(values)
        if columns[name] not in wanted:
            return False
    return True


@service.operation
def describe_DB_snapshots(
    call: Call,
    DBInstanceIdentifier: str | None = None,
    DBSnapshotIdentifier: str | None = None,
    SnapshotType: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
    IncludeShared: bool | None = None,
    IncludePublic: bool | None = None,
    DbiResourceId: str | None = None,
) -> dict[str, Any]:
    filters = parse_filters(Filters, _FILTERS)
    if DBSnapshotIdentifier is not None:
        items = [snapshots.resolve_source(call, DBSnapshotIdentifier)]
    else:
        items = records.list_snapshots(call.conn, call.account, call.region)
        if IncludeShared or SnapshotType == "shared":
            items += records.snapshots_shared_with(call.conn, call.account, call.region)
    if SnapshotType == "shared":
        items = [s for s in items if s["account"] != call.account]
        SnapshotType = None
    if DBInstanceIdentifier is not None:
        filters.setdefault("db-instance-id", []).append(DBInstanceIdentifier)
    if SnapshotType is not None:
        if SnapshotType not in ("automated", "manual", "shared", "public", "awsbackup"):
            raise errors.InvalidParameterValue(f"Invalid snapshot type: {SnapshotType}")
        filters.setdefault("snapshot-type", []).append(SnapshotType)
    if DbiResourceId is not None:
        filters.setdefault("dbi-resource-id", []).append(DbiResourceId)
    items = [s for s in items if _matches(s, filters)]
    scope = [DBSnapshotIdentifier, sorted(filters.items())]
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, [_wire_for(call, s) for s in page.items])


def _wire_for(call: Call, snap: records.Record) -> dict[str, Any]:
    out = model.snapshot_wire(snap)
    if snap["account"] != call.account:
        out["SnapshotType"] = "shared"  # another account's, shared with the caller
    return out


@service.operation(authorize=False)
def delete_DB_snapshot(call: Call, DBSnapshotIdentifier: str) -> dict[str, Any]:
    arn = model.snapshot_arn(call.account, call.region, DBSnapshotIdentifier.lower())
    call.authorize("rds:DeleteDBSnapshot", arn)
    snap = records.resolve_snapshot(call.conn, call.account, call.region, DBSnapshotIdentifier)
    call.audit_resource(snap["arn"], model.SNAPSHOT_TYPE)
    if snap["status"] not in ("available", "failed"):
        raise errors.InvalidDBSnapshotStateFault(
            f"Cannot delete the snapshot because it is in the {snap['status']} state."
        )
    if snap["snapshot_type"] == "automated":
        raise errors.InvalidDBSnapshotStateFault("Only manual snapshots may be deleted.")
    records.delete_snapshot(call.conn, snap["resource_id"])
    call.hand_off("remove_snapshot_file", {"snapshot": snap["resource_id"]})
    snap["status"] = "deleted"
    return {"DBSnapshot": model.snapshot_wire(snap)}


@service.operation(authorize=False)
def copy_DB_snapshot(
    call: Call,
    SourceDBSnapshotIdentifier: str,
    TargetDBSnapshotIdentifier: str,
    KmsKeyId: str | None = None,
    Tags: list[dict[str, str]] | None = None,
    CopyTags: bool | None = None,
    PreSignedUrl: str | None = None,
    OptionGroupName: str | None = None,
    TargetCustomAvailabilityZone: str | None = None,
    SnapshotTarget: str | None = None,
    CopyOptionGroup: bool | None = None,
    SnapshotAvailabilityZone: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    target_arn = model.snapshot_arn(call.account, call.region, TargetDBSnapshotIdentifier.lower())
    call.authorize("rds:CopyDBSnapshot", target_arn)
    source = snapshots.resolve_source(call, SourceDBSnapshotIdentifier)
    shared = source["account"] != call.account
    if not shared:  # another account's snapshot: its "restore" attribute allowed it
        call.authorize("rds:CopyDBSnapshot", source["arn"])
    tags = instances.request_tags(Tags)
    if CopyTags:
        tags = instances.merge_tags(source["tags"], tags)
    snapshots.require_available(source)
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
    if shared and source["encrypted"] and not KmsKeyId:
        raise errors.InvalidParameterCombination(
            "KmsKeyId must be specified to copy an encrypted snapshot shared from another account."
        )
    if KmsKeyId and KmsKeyId.startswith("arn:") and KmsKeyId.split(":")[3] != call.region:
        raise keys.not_accessible(KmsKeyId)
    ident = snapshots.require_new(call, TargetDBSnapshotIdentifier)
    resource_id = model.new_resource_id("snap-")
    encrypted = bool(source["encrypted"]) or bool(KmsKeyId)
    payload: dict[str, Any] = {"target": resource_id}
    wrapped = key_arn = None
    if encrypted:
        target_key = keys.key_for(call, KmsKeyId) if KmsKeyId else source["kms_key_arn"]
        wrapped, key_arn, plain = keys.new_data_key(
            call, target_key, keys.snapshot_context(resource_id)
        )
        payload["target_key"] = b64_text(plain)
    source_key = snapshots.open_key(call, source)
    if source_key is not None:
        payload["source_key"] = b64_text(source_key)
    if source["has_data"]:
        payload["source_file"] = source["resource_id"]
        payload["source_size"] = source["size"]
    instance_like = {
        "instance_identifier": source["instance_identifier"],
        "identifier": source["instance_identifier"],
        "dbi_resource_id": source["dbi_resource_id"],
        "engine": source["engine"],
        "engine_version": source["engine_version"],
        "master_username": source["master_username"],
        "db_name": source["db_name"],
        "port": source["port"],
        "allocated_storage": source["allocated_storage"],
        "instance_created": source["instance_created"],
        "storage_type": (source["attrs"] or {}).get("StorageType"),
        "instance_class": (source["attrs"] or {}).get("InstanceClass"),
        "attrs": source["attrs"],
    }
    snap = snapshots.new_record(
        call,
        ident,
        instance=instance_like,
        snapshot_type="manual",
        encrypted=encrypted,
        kms_key_arn=key_arn,
        data_key=wrapped,
        resource_id=resource_id,
        tags=tags,
        source=source,
    )
    if not cross_region:
        snap["source_snapshot"] = source["arn"]
    records.insert_snapshot(call.conn, snap)
    call.audit_resource(snap["arn"], model.SNAPSHOT_TYPE)
    records.add_event(
        call.conn, call.account, call.region, ident, "db-snapshot", snap["arn"],
        "Started copy of snapshot " + source["identifier"], ["notification"],
        call.clock.timestamp(),
    )  # fmt: skip
    call.hand_off("copy_snapshot", payload)
    return {"DBSnapshot": model.snapshot_wire(snap)}


@service.operation(authorize=False, blocking=True)
def restore_DB_instance_from_DB_snapshot(
    call: Call,
    DBInstanceIdentifier: str,
    DBSnapshotIdentifier: str | None = None,
    DBInstanceClass: str | None = None,
    Port: int | None = None,
    DBName: str | None = None,
    Engine: str | None = None,
    StorageType: str | None = None,
    AllocatedStorage: int | None = None,
    DeletionProtection: bool | None = None,
    Tags: list[dict[str, str]] | None = None,
    CopyTagsToSnapshot: bool | None = None,
    MultiAZ: bool | None = None,
    PubliclyAccessible: bool | None = None,
    AvailabilityZone: str | None = None,
    DBParameterGroupName: str | None = None,
    BackupRetentionPeriod: int | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    EnableCloudwatchLogsExports: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    identifier = model.require_identifier("DBInstanceIdentifier", DBInstanceIdentifier)
    arn = model.instance_arn(call.account, call.region, identifier)
    call.authorize("rds:RestoreDBInstanceFromDBSnapshot", arn)
    managed = instances.require_managed_choice(
        ManageMasterUserPassword, None, MasterUserSecretKmsKeyId
    )
    if not DBSnapshotIdentifier:
        raise errors.InvalidParameterValue(
            "The parameter DBSnapshotIdentifier must be provided and must not be blank."
        )
    snap = snapshots.resolve_source(call, DBSnapshotIdentifier)
    if snap["account"] == call.account:  # a shared one: its "restore" attribute allowed it
        call.authorize("rds:RestoreDBInstanceFromDBSnapshot", snap["arn"])
    snapshots.require_available(snap)
    if Engine is not None and Engine != snap["engine"]:
        raise errors.InvalidParameterCombination(
            f"The engine {Engine} does not match the snapshot's engine {snap['engine']}."
        )
    instances.require_port(Port)
    tags = instances.request_tags(Tags)
    instances.require_new(call, identifier)
    resource_id = model.new_resource_id()
    payload: dict[str, Any] = {"id": resource_id, "snapshot": snap["identifier"], "port": Port}
    wrapped = key_arn = None
    if snap["encrypted"]:
        # The restored instance is encrypted under the snapshot's KMS key.
        snap_key = snapshots.open_key(call, snap)
        payload["snapshot_key"] = b64_text(snap_key or b"")
        wrapped, key_arn, plain = instances.encryption(call, resource_id, snap["kms_key_arn"])
        payload["data_key"] = plain
    if snap["has_data"]:
        payload["snapshot_file"] = snap["resource_id"]
    attrs = {
        k: v
        for k, v in {
            "MultiAZ": MultiAZ,
            "PubliclyAccessible": PubliclyAccessible,
            "AvailabilityZone": AvailabilityZone,
            "CopyTagsToSnapshot": CopyTagsToSnapshot,
            "DBParameterGroupName": DBParameterGroupName,
            "LicenseModel": (snap["attrs"] or {}).get("LicenseModel"),
        }.items()
        if v is not None
    }
    log_exports.on_create(
        attrs, snap["engine"], snap["engine_version"], EnableCloudwatchLogsExports
    )
    info = model.ENGINES[snap["engine"]]
    rec = instances.new_record(
        call,
        identifier,
        resource_id=resource_id,
        engine=snap["engine"],
        version=snap["engine_version"],
        instance_class=DBInstanceClass
        or (snap["attrs"] or {}).get("InstanceClass")
        or "db.t3.micro",
        master_username=snap["master_username"],
        db_name=DBName or snap["db_name"],
        port=Port if Port is not None else (None if info.real else snap["port"]),
        storage=AllocatedStorage or snap["allocated_storage"],
        storage_type=StorageType or (snap["attrs"] or {}).get("StorageType", "gp2"),
        encrypted=bool(snap["encrypted"]),
        kms_key_arn=key_arn,
        data_key=wrapped,
        deletion_protection=bool(DeletionProtection),
        backup_retention=1 if BackupRetentionPeriod is None else BackupRetentionPeriod,
        tags=tags,
        attrs=attrs,
        restored_from=snap["arn"],
    )
    if managed:
        # The snapshot's password is replaced by RDS's own, kept in the secret.
        payload["password"] = master_secret.new_password()
        rec["attrs"]["MasterUserSecret"] = master_secret.create(
            call, rec, payload["password"], MasterUserSecretKmsKeyId
        )
    records.insert_instance(call.conn, rec)
    call.audit_resource(arn, model.INSTANCE_TYPE)
    call.hand_off("restore_instance", payload, key=f"db:{resource_id}")
    return {"DBInstance": model.instance_wire(rec)}


def _attributes(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "DBSnapshotAttributesResult": {
            "DBSnapshotIdentifier": snap["identifier"],
            "DBSnapshotAttributes": [
                {"AttributeName": "restore", "AttributeValues": list(snap["shared_with"] or [])}
            ],
        }
    }


@service.operation(authorize=False)
def modify_DB_snapshot_attribute(
    call: Call,
    DBSnapshotIdentifier: str,
    AttributeName: str,
    ValuesToAdd: list[str] | None = None,
    ValuesToRemove: list[str] | None = None,
) -> dict[str, Any]:
    arn = model.snapshot_arn(call.account, call.region, DBSnapshotIdentifier.lower())
    call.authorize("rds:ModifyDBSnapshotAttribute", arn)
    snap = records.resolve_snapshot(call.conn, call.account, call.region, DBSnapshotIdentifier)
    call.audit_resource(snap["arn"], model.SNAPSHOT_TYPE)
    if AttributeName != "restore":
        raise errors.InvalidParameterValue(
            f"Invalid snapshot attribute name {AttributeName}: only restore is supported."
        )
    if snap["snapshot_type"] != "manual":
        raise errors.InvalidDBSnapshotStateFault("Only manual snapshots can be shared.")
    adding = list(ValuesToAdd or [])
    for value in adding + list(ValuesToRemove or []):
        if value != "all" and not (len(value) == 12 and value.isdigit()):
            raise errors.InvalidParameterValue(f"Invalid AWS account id or 'all': {value}")
    if adding and snap["encrypted"] and _managed_key(call, snap["kms_key_arn"]):
        raise errors.InvalidParameterValue(
            "You can't share a snapshot that has been encrypted using the default AWS KMS key "
            "of the account (aws/rds). Copy it under a customer managed key and share the copy."
        )
    if "all" in adding and snap["encrypted"]:
        raise errors.InvalidParameterValue("Encrypted snapshots can't be made public.")
    shared = [v for v in (snap["shared_with"] or []) if v not in set(ValuesToRemove or [])]
    shared += [v for v in adding if v not in shared]
    if len([v for v in shared if v != "all"]) > 20:
        raise errors.SharedSnapshotQuotaExceededFault(
            "A snapshot can be shared with at most 20 accounts."
        )
    records.update_snapshot(call.conn, snap["resource_id"], shared_with=shared)
    snap["shared_with"] = shared
    return _attributes(snap)


def _managed_key(call: Call, key_arn: str | None) -> bool:
    """Whether `key_arn` is the account's AWS managed key for RDS."""
    if not key_arn:
        return False
    return key_arn == keys.key_for(call, None)


@service.operation(authorize=False)
def describe_DB_snapshot_attributes(call: Call, DBSnapshotIdentifier: str) -> dict[str, Any]:
    arn = model.snapshot_arn(call.account, call.region, DBSnapshotIdentifier.lower())
    call.authorize("rds:DescribeDBSnapshotAttributes", arn)
    snap = records.resolve_snapshot(call.conn, call.account, call.region, DBSnapshotIdentifier)
    call.audit_resource(snap["arn"], model.SNAPSHOT_TYPE)
    return _attributes(snap)
