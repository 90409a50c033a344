"""DB instance lifecycle: create, describe, modify, stop, start, reboot, delete.

Each operation checks and records what it was asked in its transaction and
hands the engine's work off (`work`): the answer comes at once, with the
status RDS shows while the work runs (creating, stopping, starting,
rebooting, modifying, deleting)."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.rds import (
    backups,
    clusters,
    instances,
    keys,
    log_exports,
    master_secret,
    model,
    option_groups,
    parameters,
    records,
    replicas,
    snapshots,
    upgrades,
)
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBInstances", default=100, maximum=100, minimum=20)


def _instance_key(rid: str) -> str:
    return f"db:{rid}"


@service.operation(authorize=False, blocking=True)
def create_DB_instance(
    call: Call,
    DBInstanceIdentifier: str,
    DBInstanceClass: str,
    Engine: str,
    DBName: str | None = None,
    AllocatedStorage: int | None = None,
    MasterUsername: str | None = None,
    MasterUserPassword: str | None = None,
    Port: int | None = None,
    EngineVersion: str | None = None,
    StorageEncrypted: bool | None = None,
    KmsKeyId: str | None = None,
    StorageType: str | None = None,
    DeletionProtection: bool | None = None,
    BackupRetentionPeriod: int | None = None,
    Tags: list[dict[str, str]] | None = None,
    MultiAZ: bool | None = None,
    PubliclyAccessible: bool | None = None,
    AvailabilityZone: str | None = None,
    PreferredBackupWindow: str | None = None,
    PreferredMaintenanceWindow: str | None = None,
    AutoMinorVersionUpgrade: bool | None = None,
    CopyTagsToSnapshot: bool | None = None,
    LicenseModel: str | None = None,
    DBParameterGroupName: str | None = None,
    OptionGroupName: str | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    EnableCloudwatchLogsExports: list[str] | None = None,
    DBClusterIdentifier: str | None = None,
    PromotionTier: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    identifier = model.require_identifier("DBInstanceIdentifier", DBInstanceIdentifier)
    arn = model.instance_arn(call.account, call.region, identifier)
    call.authorize("rds:CreateDBInstance", arn)
    tags = instances.request_tags(Tags)
    if tags:
        call.authorize("rds:AddTagsToResource", arn)
    if Engine.startswith("aurora") or DBClusterIdentifier is not None:
        # An instance of a DB cluster (Aurora): `ops_clusters`.
        from strongroom.services.rds import ops_clusters

        given = {name: value for name, value in locals().items() if name[0].isupper()}
        return ops_clusters.create_member(
            call, identifier, DBClusterIdentifier, Engine, DBInstanceClass, tags, given
        )
    info = model.engine_info(Engine)
    managed = instances.require_managed_choice(
        ManageMasterUserPassword, MasterUserPassword, MasterUserSecretKmsKeyId
    )
    if managed:
        MasterUserPassword = master_secret.new_password()
    instances.require_master(info, MasterUsername, MasterUserPassword)
    storage_type = StorageType or "gp2"
    storage = instances.require_storage(info, AllocatedStorage, storage_type)
    instances.require_port(Port)
    if BackupRetentionPeriod is not None and not 0 <= BackupRetentionPeriod <= 35:
        raise errors.InvalidParameterValue(
            "Invalid backup retention period. Must be a value from 0 to 35 days."
        )
    backups.require_window(PreferredBackupWindow)
    version = instances.resolve_version(call, info, EngineVersion)
    if OptionGroupName is not None:
        OptionGroupName = option_groups.for_instance(call, OptionGroupName, Engine, version)
    group_values: dict[str, str] = {}
    if DBParameterGroupName is not None:
        group = parameters.resolve(call, DBParameterGroupName)
        if group["family"] != model.family_of(Engine, version):
            raise errors.InvalidParameterCombination(
                f"The parameter group {group['name']} with DBParameterGroupFamily "
                f"{group['family']} can't be used for this instance. Use a parameter group "
                f"with DBParameterGroupFamily {model.family_of(Engine, version)}."
            )
        DBParameterGroupName = group["name"]
        group_values = parameters.engine_values(group["parameters"] or {})
    instances.require_new(call, identifier)
    if DBName is not None and info.real and (
        not DBName or not DBName[0].isalpha() or len(DBName) > 63
        or not all(c.isalnum() or c == "_" for c in DBName)
    ):  # fmt: skip
        raise errors.InvalidParameterValue(
            "The parameter DBName is not a valid identifier. Identifiers must begin with a "
            "letter; must contain only ASCII letters, digits, and underscores."
        )
    resource_id = model.new_resource_id()
    encrypted = bool(StorageEncrypted) or bool(KmsKeyId)
    wrapped = key_arn = plain = None
    if encrypted:
        wrapped, key_arn, plain = instances.encryption(call, resource_id, KmsKeyId)
    attrs = {
        k: v
        for k, v in {
            "MultiAZ": MultiAZ,
            "PubliclyAccessible": PubliclyAccessible,
            "AvailabilityZone": AvailabilityZone,
            "PreferredBackupWindow": PreferredBackupWindow,
            "PreferredMaintenanceWindow": PreferredMaintenanceWindow,
            "AutoMinorVersionUpgrade": AutoMinorVersionUpgrade,
            "CopyTagsToSnapshot": CopyTagsToSnapshot,
            "LicenseModel": LicenseModel,
            "DBParameterGroupName": DBParameterGroupName,
            "OptionGroupName": OptionGroupName,
        }.items()
        if v is not None
    }
    log_exports.on_create(attrs, Engine, version, EnableCloudwatchLogsExports)
    rec = instances.new_record(
        call,
        identifier,
        resource_id=resource_id,
        engine=Engine,
        version=version,
        instance_class=DBInstanceClass,
        master_username=MasterUsername,
        db_name=DBName,
        port=Port if Port is not None else (None if info.real else info.port),
        storage=storage,
        storage_type=storage_type,
        encrypted=encrypted,
        kms_key_arn=key_arn,
        data_key=wrapped,
        deletion_protection=bool(DeletionProtection),
        backup_retention=1 if BackupRetentionPeriod is None else BackupRetentionPeriod,
        tags=tags,
        attrs=attrs,
    )
    if managed:
        rec["attrs"]["MasterUserSecret"] = master_secret.create(
            call, rec, MasterUserPassword or "", MasterUserSecretKmsKeyId
        )
    records.insert_instance(call.conn, rec)
    call.audit_resource(arn, model.INSTANCE_TYPE)
    payload: dict[str, Any] = {
        "id": resource_id,
        "password": MasterUserPassword,
        "port": Port,
        "parameters": group_values,
    }
    if plain is not None:
        payload["data_key"] = plain
    call.hand_off("launch_instance", payload, key=_instance_key(resource_id))
    return {"DBInstance": model.instance_wire(rec)}


def _matches(rec: records.Record, filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        if name == "db-instance-id":
            if rec["identifier"] not in {v.lower() for v in values} and rec["arn"] not in values:
                return False
        elif name == "dbi-resource-id":
            if rec["resource_id"] not in values:
                return False
        elif name == "engine":
            if rec["engine"] not in values:
                return False
        elif name == "db-cluster-id":
            cluster = (rec["attrs"] or {}).get("DBClusterIdentifier")
            if cluster is None or cluster not in {v.split(":")[-1].lower() for v in values}:
                return False
        elif name == "domain":
            return False
    return True


_FILTERS = {"db-cluster-id", "db-instance-id", "dbi-resource-id", "domain", "engine"}


def parse_filters(filters: list[dict[str, Any]] | None, known: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in filters or []:
        name = f.get("Name", "")
        if name not in known:
            raise errors.InvalidParameterValue(f"Unrecognized filter name: {name}")
        if not f.get("Values"):
            raise errors.InvalidParameterCombination(f"Filter {name} must have at least one value")
        out.setdefault(name, []).extend(f["Values"])
    return out


@service.operation
def describe_DB_instances(
    call: Call,
    DBInstanceIdentifier: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    filters = parse_filters(Filters, _FILTERS)
    if DBInstanceIdentifier is not None:
        ident = DBInstanceIdentifier
        if ident.startswith("arn:"):
            parts = ident.split(":")
            ident = parts[-1] if len(parts) >= 7 else ident
        items = [records.resolve_instance(call.conn, call.account, call.region, ident)]
    else:
        items = records.list_instances(call.conn, call.account, call.region)
    items = [r for r in items if _matches(r, filters)]
    scope = [DBInstanceIdentifier, sorted(filters.items())]
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, [replicas.to_wire(call, r) for r in page.items])


def _resolve(call: Call, action: str, identifier: str) -> records.Record:
    arn = model.instance_arn(call.account, call.region, identifier.lower())
    call.authorize(f"rds:{action}", arn)
    rec = records.resolve_instance(call.conn, call.account, call.region, identifier)
    call.audit_resource(rec["arn"], model.INSTANCE_TYPE)
    return rec


@service.operation(authorize=False)
def delete_DB_instance(
    call: Call,
    DBInstanceIdentifier: str,
    SkipFinalSnapshot: bool | None = None,
    FinalDBSnapshotIdentifier: str | None = None,
    DeleteAutomatedBackups: bool | None = None,
) -> dict[str, Any]:
    rec = _resolve(call, "DeleteDBInstance", DBInstanceIdentifier)
    cluster = clusters.cluster_of(call.conn, rec)
    if cluster is not None:
        from strongroom.services.rds import ops_clusters

        return ops_clusters.delete_member(call, rec, cluster, FinalDBSnapshotIdentifier)
    if rec["deletion_protection"]:
        raise errors.InvalidParameterCombination(
            "Cannot delete protected DB Instance, please disable deletion protection and try again."
        )
    if rec["status"] == "deleting":
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is already being deleted."
        )
    if rec["status"] not in instances.DELETABLE:
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in a state from which it can be deleted "
            f"({rec['status']})."
        )
    payload: dict[str, Any] = {"id": rec["resource_id"]}
    if SkipFinalSnapshot:
        if FinalDBSnapshotIdentifier is not None:
            raise errors.InvalidParameterCombination(
                "FinalDBSnapshotIdentifier can not be specified when SkipFinalSnapshot is true"
            )
    else:
        if replicas.source_arn(rec) is not None:
            raise errors.InvalidParameterCombination(
                "A final snapshot can't be taken of a read replica: specify SkipFinalSnapshot."
            )
        if not FinalDBSnapshotIdentifier:
            raise errors.InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
            )
        if rec["status"] not in ("available", "stopped"):
            raise errors.InvalidDBInstanceStateFault(
                f"Instance {rec['identifier']} is not in available state, so a final snapshot "
                "cannot be taken."
            )
        snap, plain = snapshots.start_snapshot(call, rec, FinalDBSnapshotIdentifier, "manual")
        payload["final"] = snap["resource_id"]
        if plain is not None:
            payload["snapshot_key"] = plain
    records.update_instance(call.conn, rec["resource_id"], status="deleting")
    rec["status"] = "deleting"
    _settle_automated_backups(call, rec, payload, keep=DeleteAutomatedBackups is False)
    # As on AWS, the instance's managed secret goes with it.
    master_secret.delete(call, rec)
    call.hand_off("delete_instance", payload)
    return {"DBInstance": model.instance_wire(rec)}


def _settle_automated_backups(
    call: Call, rec: records.Record, payload: dict[str, Any], *, keep: bool
) -> None:
    """DeleteDBInstance: the automated backup is retained (DeleteAutomatedBackups
    false: its snapshots and WAL stay, restorable, until their retention
    passes) or deleted with the instance."""
    backup = backups.find(call.conn, rec["resource_id"])
    if keep and backup is not None and backup["earliest"] is not None:
        backups.update_backup(call.conn, rec["resource_id"], status="retained")
        payload["keep_backups"] = True
        return
    gone = backups.forget(call.conn, rec["resource_id"])
    if gone is not None:
        call.hand_off("remove_backup_files", gone)


@service.operation(authorize=False)
def stop_DB_instance(
    call: Call,
    DBInstanceIdentifier: str,
    DBSnapshotIdentifier: str | None = None,
    DetachFromDBCapacityReservation: bool | None = None,
) -> dict[str, Any]:
    """DetachFromDBCapacityReservation is accepted: this server has no DB
    capacity reservations, so no instance belongs to one."""
    rec = _resolve(call, "StopDBInstance", DBInstanceIdentifier)
    clusters.refuse_instance_stop(rec)
    if rec["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in available state."
        )
    replicas.require_stoppable(rec)
    payload: dict[str, Any] = {"id": rec["resource_id"]}
    if DBSnapshotIdentifier:
        # Taken by the stop itself, before the engine stops.
        snap, plain = snapshots.start_snapshot(call, rec, DBSnapshotIdentifier, "manual")
        payload["final"] = snap["resource_id"]
        if plain is not None:
            payload["snapshot_key"] = plain
    records.update_instance(call.conn, rec["resource_id"], status="stopping")
    rec["status"] = "stopping"
    call.hand_off("stop_instance", payload, key=_instance_key(rec["resource_id"]))
    return {"DBInstance": model.instance_wire(rec)}


@service.operation(authorize=False)
def start_DB_instance(
    call: Call, DBInstanceIdentifier: str, DBCapacityReservationIdentifier: str | None = None
) -> dict[str, Any]:
    rec = _resolve(call, "StartDBInstance", DBInstanceIdentifier)
    clusters.refuse_instance_stop(rec, "start")
    if DBCapacityReservationIdentifier:
        # No DB capacity reservations exist on this server: none can be named.
        raise errors.DBCapacityReservationNotFoundFault(
            f"DB capacity reservation {DBCapacityReservationIdentifier} not found."
        )
    if rec["status"] not in ("stopped", "inaccessible-encryption-credentials"):
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not stopped, it is {rec['status']}."
        )
    payload: dict[str, Any] = {"id": rec["resource_id"], "reason": "start"}
    if rec["encrypted"]:
        # The caller's own access to the key is checked, as on AWS.
        plain = keys.open_data_key(
            call, rec["data_key"], rec["kms_key_arn"], keys.instance_context(rec["resource_id"])
        )
        payload["data_key"] = b64_text(plain)
    records.update_instance(call.conn, rec["resource_id"], status="starting")
    rec["status"] = "starting"
    call.hand_off("start_instance", payload, key=_instance_key(rec["resource_id"]))
    return {"DBInstance": model.instance_wire(rec)}


@service.operation(authorize=False)
def reboot_DB_instance(
    call: Call, DBInstanceIdentifier: str, ForceFailover: bool | None = None
) -> dict[str, Any]:
    rec = _resolve(call, "RebootDBInstance", DBInstanceIdentifier)
    if rec["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in available state."
        )
    if ForceFailover and not (rec["attrs"] or {}).get("MultiAZ"):
        raise errors.InvalidParameterCombination(
            "Reboot with force failover is only supported for Multi-AZ instances."
        )
    records.update_instance(call.conn, rec["resource_id"], status="rebooting")
    rec["status"] = "rebooting"
    call.hand_off(
        "reboot_instance", {"id": rec["resource_id"]}, key=_instance_key(rec["resource_id"])
    )
    return {"DBInstance": model.instance_wire(rec)}


def _move_to_group(call: Call, rec: records.Record, attrs: dict[str, Any], name: str) -> None:
    """A new parameter group, applied at the next reboot (pending-reboot):
    its values set, the old group's reset."""
    group = parameters.resolve(call, name)
    family = model.family_of(rec["engine"], rec["engine_version"])
    if group["family"] != family:
        raise errors.InvalidParameterCombination(
            f"The parameter group {group['name']} with DBParameterGroupFamily {group['family']} "
            f"can't be used for this instance. Use a parameter group with "
            f"DBParameterGroupFamily {family}."
        )
    current = attrs.get("DBParameterGroupName") or f"default.{family}"
    if group["name"] == current.lower():
        return
    old = parameters.find(call, current)
    values: dict[str, str | None] = dict.fromkeys((old or {}).get("parameters") or {})
    values.update(group["parameters"] or {})
    attrs["DBParameterGroupName"] = group["name"]
    attrs["ParameterApplyStatus"] = "pending-reboot"
    attrs["PendingParameters"] = parameters.engine_values(values)


@service.operation(authorize=False)
def modify_DB_instance(
    call: Call,
    DBInstanceIdentifier: str,
    MasterUserPassword: str | None = None,
    ApplyImmediately: bool | None = None,
    DeletionProtection: bool | None = None,
    DBInstanceClass: str | None = None,
    AllocatedStorage: int | None = None,
    BackupRetentionPeriod: int | None = None,
    CopyTagsToSnapshot: bool | None = None,
    PreferredBackupWindow: str | None = None,
    PreferredMaintenanceWindow: str | None = None,
    AutoMinorVersionUpgrade: bool | None = None,
    PubliclyAccessible: bool | None = None,
    NewDBInstanceIdentifier: str | None = None,
    DBParameterGroupName: str | None = None,
    OptionGroupName: str | None = None,
    ManageMasterUserPassword: bool | None = None,
    MasterUserSecretKmsKeyId: str | None = None,
    RotateMasterUserPassword: bool | None = None,
    CloudwatchLogsExportConfiguration: dict[str, Any] | None = None,
    EngineVersion: str | None = None,
    AllowMajorVersionUpgrade: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    rec = _resolve(call, "ModifyDBInstance", DBInstanceIdentifier)
    clusters.refuse_instance_settings(
        rec,
        {
            "MasterUserPassword": MasterUserPassword,
            "ManageMasterUserPassword": ManageMasterUserPassword,
            "AllocatedStorage": AllocatedStorage,
            "BackupRetentionPeriod": BackupRetentionPeriod,
        },
    )
    if rec["status"] != "available" and not (
        rec["status"] == "stopped" and MasterUserPassword is None
    ):
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in available state."
        )
    if NewDBInstanceIdentifier is not None:
        raise errors.InvalidParameterCombination(
            "Renaming a DB instance is not supported by this server yet."
        )
    instances.require_password(MasterUserPassword, required=False)
    secret = master_secret.of(rec)
    turn_on, turn_off = instances.require_managed_change(
        secret is not None,
        ManageMasterUserPassword,
        MasterUserPassword,
        MasterUserSecretKmsKeyId,
        RotateMasterUserPassword,
        bool(ApplyImmediately),
    )
    if (turn_on or RotateMasterUserPassword) and rec["status"] != "available":
        # The new password must reach a running engine.
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in available state."
        )
    if BackupRetentionPeriod is not None and not 0 <= BackupRetentionPeriod <= 35:
        raise errors.InvalidParameterValue(
            "Invalid backup retention period. Must be a value from 0 to 35 days."
        )
    backups.require_window(PreferredBackupWindow)
    replicas.require_modifiable(rec, BackupRetentionPeriod, MasterUserPassword, turn_on or turn_off)
    upgrade = upgrades.plan(
        call, rec, EngineVersion, AllowMajorVersionUpgrade, DBParameterGroupName
    )
    if upgrade is not None and upgrade["major"] and rec["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"Instance {rec['identifier']} is not in available state."
        )
    rid = rec["resource_id"]
    changes: dict[str, Any] = {}
    attrs = dict(rec["attrs"] or {})
    for name, value in (
        ("CopyTagsToSnapshot", CopyTagsToSnapshot),
        ("PreferredBackupWindow", PreferredBackupWindow),
        ("PreferredMaintenanceWindow", PreferredMaintenanceWindow),
        ("AutoMinorVersionUpgrade", AutoMinorVersionUpgrade),
        ("PubliclyAccessible", PubliclyAccessible),
    ):
        if value is not None:
            attrs[name] = value
    if DBParameterGroupName is not None and not (upgrade and upgrade["major"]):
        _move_to_group(call, rec, attrs, DBParameterGroupName)
    if OptionGroupName is not None:
        # No option does anything here: the membership changes at once.
        attrs["OptionGroupName"] = option_groups.for_instance(
            call, OptionGroupName, rec["engine"], rec["engine_version"]
        )
    if turn_on:
        MasterUserPassword = master_secret.new_password()
        attrs["MasterUserSecret"] = master_secret.create(
            call, rec, MasterUserPassword, MasterUserSecretKmsKeyId
        )
    elif turn_off:
        master_secret.delete(call, rec)
        attrs.pop("MasterUserSecret", None)
    elif RotateMasterUserPassword:
        master_secret.rotate(call, rec)
    shown_before = log_exports.enabled(rec)
    exports_pending = log_exports.on_modify(call, rec, attrs, CloudwatchLogsExportConfiguration)
    changes["attrs"] = attrs
    if DeletionProtection is not None:
        changes["deletion_protection"] = DeletionProtection
    pending = dict(rec["pending"] or {})
    now_values: dict[str, Any] = {}
    for name, column, value in (
        ("DBInstanceClass", "instance_class", DBInstanceClass),
        ("AllocatedStorage", "allocated_storage", AllocatedStorage),
        ("BackupRetentionPeriod", "backup_retention", BackupRetentionPeriod),
    ):
        if value is None:
            continue
        if ApplyImmediately:
            now_values[column] = value
            pending.pop(name, None)
        else:
            pending[name] = value
    if upgrade is not None and not ApplyImmediately:
        # At the maintenance window (`upgrades.due`), with its parameter group.
        pending["EngineVersion"] = upgrade["version"]
        if upgrade["group"]:
            attrs[upgrades.PENDING_GROUP] = upgrade["group"]
    changes.update(now_values)
    if now_values.get("backup_retention") == 0:
        # As on AWS, turning backups off deletes the automated backups (the
        # engine stops archiving at the backup work's next pass).
        gone = backups.forget(call.conn, rid)
        if gone is not None:
            call.hand_off("remove_backup_files", gone)
        attrs.pop("LatestRestorableTime", None)
    payload: dict[str, Any] = {"id": rid}
    busy = False
    upgrading = upgrade is not None and bool(ApplyImmediately)
    if upgrading:
        pending.pop("EngineVersion", None)
        attrs.pop(upgrades.PENDING_GROUP, None)
    if MasterUserPassword:
        # As on AWS, a new master password is applied at once, whatever
        # ApplyImmediately says, and shown as pending (masked) until then.
        payload["password"] = MasterUserPassword
        busy = True
    changes["pending"] = pending
    if busy and rec["status"] == "available":
        changes["status"] = "modifying"
    if upgrading and upgrade["major"]:
        changes.pop("status", None)  # (`upgrades.start`: upgrading)
    records.update_instance(call.conn, rid, **changes)
    rec.update(changes)
    if upgrading:
        # A new master password then goes with the upgrade's work.
        upgrades.start(call, rec, upgrade, password=payload.get("password"))
    out = model.instance_wire(rec)
    if busy:
        out["PendingModifiedValues"] = {**pending, "MasterUserPassword": "****"}
        if turn_on or turn_off:
            out["PendingModifiedValues"].pop("MasterUserPassword")
        if not (upgrading and upgrade["major"]):
            call.hand_off("modify_instance", payload, key=_instance_key(rid))
    if upgrading and upgrade["major"]:
        out["PendingModifiedValues"] = {
            **out["PendingModifiedValues"],
            "EngineVersion": upgrade["version"],
        }
    if exports_pending:
        # As RDS answers it: the types still as they were, the change pending.
        out.pop(log_exports.ATTR, None)
        if shown_before:
            out[log_exports.ATTR] = shown_before
        out["PendingModifiedValues"] = {
            **out["PendingModifiedValues"],
            "PendingCloudwatchLogsExports": exports_pending,
        }
    return {"DBInstance": out}
