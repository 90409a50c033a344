"""Automated backups: RestoreDBInstanceToPointInTime,
DescribeDBInstanceAutomatedBackups and DeleteDBInstanceAutomatedBackup
(see `backups`; the work is in `work_backups`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.rds import backups, instances, keys, master_secret, model, records
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBInstanceAutomatedBackups", default=100, maximum=100, minimum=20)
_FILTERS = {"status", "db-instance-id", "dbi-resource-id"}


def _iso(ts: float) -> str:
    dt = model.dt(ts)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""


def _source(
    call: Call,
    identifier: str | None,
    dbi_resource_id: str | None,
    backup_arn: str | None,
) -> tuple[records.Record | None, records.Record | None, str]:
    """(the source instance if it still exists, its automated backup, the
    source's identifier), each check as RDS makes it."""
    if identifier:
        rec = records.resolve_instance(call.conn, call.account, call.region, identifier)
        call.authorize("rds:RestoreDBInstanceToPointInTime", rec["arn"])
        if rec["backup_retention"] <= 0:
            raise errors.PointInTimeRestoreNotEnabledFault(
                f"Point-in-time restore is not enabled for DB instance {rec['identifier']}: "
                "its backup retention period is 0."
            )
        return rec, backups.find(call.conn, rec["resource_id"]), rec["identifier"]
    if dbi_resource_id or backup_arn:
        backup = backups.resolve(call, dbi_resource_id, backup_arn)
        call.authorize("rds:RestoreDBInstanceToPointInTime", backup["instance_arn"])
        rec = records.instance_by_resource(call.conn, backup["dbi_resource_id"])
        return rec, backup, backup["instance_identifier"]
    raise errors.InvalidParameterCombination(
        "One of SourceDBInstanceIdentifier, SourceDbiResourceId or "
        "SourceDBInstanceAutomatedBackupsArn must be specified."
    )


def _target_time(
    backup: records.Record | None, name: str, restore_time: datetime | None, latest: bool | None
) -> float:
    if backup is None or backup["earliest"] is None or backup["latest"] is None:
        raise errors.InvalidRestoreFault(
            f"DB instance {name} has no restorable time yet: its first automated backup "
            "is not complete."
        )
    target = backup["latest"] if latest else restore_time.timestamp()  # type: ignore[union-attr]
    if not backup["earliest"] <= target <= backup["latest"]:
        raise errors.InvalidRestoreFault(
            f"The restore time {_iso(target)} is not within the restorable window of DB "
            f"instance {name} ({_iso(backup['earliest'])} to {_iso(backup['latest'])})."
        )
    return target


@service.operation(authorize=False, blocking=True)
def restore_DB_instance_to_point_in_time(
    call: Call,
    TargetDBInstanceIdentifier: str,
    SourceDBInstanceIdentifier: str | None = None,
    RestoreTime: datetime | None = None,
    UseLatestRestorableTime: bool | None = None,
    SourceDbiResourceId: str | None = None,
    SourceDBInstanceAutomatedBackupsArn: str | None = None,
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
    PreferredBackupWindow: str | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    identifier = model.require_identifier("TargetDBInstanceIdentifier", TargetDBInstanceIdentifier)
    arn = model.instance_arn(call.account, call.region, identifier)
    call.authorize("rds:RestoreDBInstanceToPointInTime", arn)
    managed = instances.require_managed_choice(
        ManageMasterUserPassword, None, MasterUserSecretKmsKeyId
    )
    if RestoreTime is not None and UseLatestRestorableTime:
        raise errors.InvalidParameterCombination(
            "Cannot specify both RestoreTime and UseLatestRestorableTime."
        )
    if RestoreTime is None and not UseLatestRestorableTime:
        raise errors.InvalidParameterCombination(
            "Either RestoreTime or UseLatestRestorableTime must be specified."
        )
    if BackupRetentionPeriod is not None and not 0 <= BackupRetentionPeriod <= 35:
        raise errors.InvalidParameterValue(
            "Invalid backup retention period. Must be a value from 0 to 35 days."
        )
    backups.require_window(PreferredBackupWindow)
    source, backup, name = _source(
        call, SourceDBInstanceIdentifier, SourceDbiResourceId, SourceDBInstanceAutomatedBackupsArn
    )
    engine = (backup or {}).get("attrs", {}).get("Engine") or (source or {}).get("engine")
    if Engine is not None and Engine != engine:
        raise errors.InvalidParameterCombination(
            f"The engine {Engine} does not match the source's engine {engine}."
        )
    target = _target_time(backup, name, RestoreTime, UseLatestRestorableTime)
    assert backup is not None
    dbi = backup["dbi_resource_id"]
    base = backups.base_for(call.conn, dbi, target)
    if base is None:
        raise errors.InvalidRestoreFault(
            f"No automated backup of DB instance {name} ends before {_iso(target)}."
        )
    instances.require_port(Port)
    tags = instances.request_tags(Tags)
    instances.require_new(call, identifier)
    resource_id = model.new_resource_id()
    payload: dict[str, Any] = {
        "id": resource_id,
        "source": name,
        "source_dbi": dbi,
        "snapshot_file": base["resource_id"],
        "wal": backups.wal_for(call.conn, dbi, (base["attrs"] or {}).get("WalStart") or "", target),
        "target": target,
        # The engine's commit records carry the wall clock's times.
        "target_wall": call.clock.wall_time(call.conn, target),
        "port": Port,
    }
    wrapped = key_arn = None
    if backup["encrypted"]:
        # As the source: the restored instance is encrypted under its KMS key.
        source_key = keys.open_data_key(
            call, backup["data_key"], backup["kms_key_arn"], keys.instance_context(dbi)
        )
        payload["source_key"] = b64_text(source_key)
        wrapped, key_arn, plain = instances.encryption(call, resource_id, backup["kms_key_arn"])
        payload["data_key"] = plain
    source_attrs = (source or {}).get("attrs") or {}
    attrs = {
        k: v
        for k, v in {
            "MultiAZ": MultiAZ,
            "PubliclyAccessible": PubliclyAccessible,
            "AvailabilityZone": AvailabilityZone,
            "CopyTagsToSnapshot": CopyTagsToSnapshot,
            "DBParameterGroupName": DBParameterGroupName,
            "PreferredBackupWindow": PreferredBackupWindow
            or source_attrs.get("PreferredBackupWindow"),
            "LicenseModel": (base["attrs"] or {}).get("LicenseModel"),
        }.items()
        if v is not None
    }
    rec = instances.new_record(
        call,
        identifier,
        resource_id=resource_id,
        engine=base["engine"],
        version=base["engine_version"],
        instance_class=DBInstanceClass
        or (source or {}).get("instance_class")
        or (base["attrs"] or {}).get("InstanceClass")
        or "db.t3.micro",
        master_username=base["master_username"],
        db_name=DBName or base["db_name"],
        port=Port,
        storage=AllocatedStorage or base["allocated_storage"],
        storage_type=StorageType or (base["attrs"] or {}).get("StorageType", "gp2"),
        encrypted=bool(backup["encrypted"]),
        kms_key_arn=key_arn,
        data_key=wrapped,
        deletion_protection=bool(DeletionProtection),
        backup_retention=backup["retention"]
        if BackupRetentionPeriod is None
        else BackupRetentionPeriod,
        tags=tags,
        attrs=attrs,
        restored_from=backup["instance_arn"],
    )
    if managed:
        payload["password"] = master_secret.new_password()
        rec["attrs"]["MasterUserSecret"] = master_secret.create(
            call, rec, payload["password"], MasterUserSecretKmsKeyId
        )
    records.insert_instance(call.conn, rec)
    call.audit_resource(arn, model.INSTANCE_TYPE)
    call.hand_off("restore_instance_to_time", payload, key=f"db:{resource_id}")
    return {"DBInstance": model.instance_wire(rec)}


def _matches(backup: records.Record, filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        if name == "status" and backup["status"] not in values:
            return False
        if name == "db-instance-id" and not (
            backup["instance_identifier"] in {v.lower() for v in values}
            or backup["instance_arn"] in values
        ):
            return False
        if name == "dbi-resource-id" and not (
            backup["dbi_resource_id"] in values or backup["arn"] in values
        ):
            return False
    return True


@service.operation
def describe_DB_instance_automated_backups(
    call: Call,
    DbiResourceId: str | None = None,
    DBInstanceIdentifier: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
    DBInstanceAutomatedBackupsArn: str | None = None,
) -> dict[str, Any]:
    filters = parse_filters(Filters, _FILTERS)
    if DbiResourceId or DBInstanceAutomatedBackupsArn:
        items = [backups.resolve(call, DbiResourceId, DBInstanceAutomatedBackupsArn)]
    else:
        items = backups.list_for(call.conn, call.account, call.region)
    if DBInstanceIdentifier is not None:
        items = [b for b in items if b["instance_identifier"] == DBInstanceIdentifier.lower()]
        if not items:
            raise errors.DBInstanceAutomatedBackupNotFoundFault(
                f"No automated backups found for DB instance {DBInstanceIdentifier}."
            )
    items = [b for b in items if _matches(b, filters)]
    scope = [
        DbiResourceId,
        DBInstanceIdentifier,
        DBInstanceAutomatedBackupsArn,
        sorted(filters.items()),
    ]
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, [backups.to_wire(b) for b in page.items])


@service.operation(authorize=False)
def delete_DB_instance_automated_backup(
    call: Call,
    DbiResourceId: str | None = None,
    DBInstanceAutomatedBackupsArn: str | None = None,
) -> dict[str, Any]:
    if not DbiResourceId and not DBInstanceAutomatedBackupsArn:
        raise errors.InvalidParameterCombination(
            "One of DbiResourceId or DBInstanceAutomatedBackupsArn must be specified."
        )
    backup = backups.find(call.conn, DbiResourceId) if DbiResourceId else None
    if backup is None and DBInstanceAutomatedBackupsArn:
        backup = next(
            (
                b
                for b in backups.list_for(call.conn, call.account, call.region)
                if b["arn"] == DBInstanceAutomatedBackupsArn
            ),
            None,
        )
    mine = backup is not None and (backup["account"], backup["region"]) == (
        call.account,
        call.region,
    )
    # The decision comes before the answer, found or not (nothing is told of
    # another account's backups).
    resource = (
        backup["arn"]
        if mine
        else DBInstanceAutomatedBackupsArn
        or make_arn("rds", call.region, call.account, f"auto-backup:{DbiResourceId}")
    )
    call.authorize("rds:DeleteDBInstanceAutomatedBackup", resource)
    if not mine:
        raise errors.DBInstanceAutomatedBackupNotFoundFault(
            f"Automated backup {DbiResourceId or DBInstanceAutomatedBackupsArn} not found."
        )
    assert backup is not None
    call.audit_resource(backup["arn"], backups.AUTOMATED_BACKUP_TYPE)
    if backup["status"] != "retained":
        raise errors.InvalidDBInstanceAutomatedBackupStateFault(
            "Only retained automated backups of deleted DB instances can be deleted: the DB "
            f"instance {backup['instance_identifier']} still exists (set its backup retention "
            "period to 0 to delete its automated backups)."
        )
    gone = backups.forget(call.conn, backup["dbi_resource_id"])
    if gone is not None:
        call.hand_off("remove_backup_files", gone)
    backup["status"] = "deleted"
    return {"DBInstanceAutomatedBackup": backups.to_wire(backup)}
