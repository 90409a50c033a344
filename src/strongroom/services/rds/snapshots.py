"""DB snapshots: new snapshot records (a data key of their own when
encrypted) and the rules of copy and restore."""

from __future__ import annotations

import dataclasses
from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.rds import keys, model, records
from strongroom.services.rds.service import errors


def require_new(call: Call, identifier: str) -> str:
    ident = model.require_identifier("DBSnapshotIdentifier", identifier, 255)
    if records.find_snapshot(call.conn, call.account, call.region, ident) is not None:
        raise errors.DBSnapshotAlreadyExistsFault(
            f"Cannot create the snapshot because a snapshot with the identifier {ident} "
            "already exists."
        )
    return ident


def new_record(
    call: Call,
    identifier: str,
    *,
    instance: dict[str, Any],
    snapshot_type: str,
    encrypted: bool,
    kms_key_arn: str | None,
    data_key: bytes | None,
    resource_id: str,
    tags: list[list[str]],
    source: dict[str, Any] | None = None,
) -> records.Record:
    now = call.clock.timestamp()
    attrs = {
        "StorageType": instance.get("storage_type")
        or (instance.get("attrs") or {}).get("StorageType", "gp2"),
        "InstanceClass": instance.get("instance_class")
        or (instance.get("attrs") or {}).get("InstanceClass"),
        "AvailabilityZone": (instance.get("attrs") or {}).get("AvailabilityZone"),
        "LicenseModel": (instance.get("attrs") or {}).get("LicenseModel"),
        "OriginalSnapshotCreateTime": (source or {}).get("created"),
    }
    return {
        "account": call.account,
        "region": call.region,
        "identifier": identifier,
        "resource_id": resource_id,
        "arn": model.snapshot_arn(call.account, call.region, identifier),
        "instance_identifier": instance.get("instance_identifier") or instance["identifier"],
        "dbi_resource_id": instance.get("dbi_resource_id") or instance.get("resource_id"),
        "snapshot_type": snapshot_type,
        "status": "creating",
        "percent": 0,
        "engine": instance["engine"],
        "engine_version": instance["engine_version"],
        "master_username": instance["master_username"],
        "db_name": instance["db_name"],
        "port": instance["port"],
        "allocated_storage": instance["allocated_storage"],
        "encrypted": encrypted,
        "kms_key_arn": kms_key_arn,
        "data_key": data_key,
        "created": now,
        "instance_created": instance.get("instance_created") or instance.get("created"),
        "source_snapshot": source["arn"] if source else None,
        "source_region": source["region"] if source else None,
        "size": 0,
        "has_data": False,
        "tags": tags,
        "shared_with": [],
        "attrs": {k: v for k, v in attrs.items() if v is not None},
    }


def start_snapshot(
    call: Call,
    rec: records.Record,
    identifier: str,
    snapshot_type: str,
    *,
    tags: list[list[str]] | None = None,
    hand_off: bool = False,
) -> tuple[records.Record, str | None]:
    """A new snapshot of instance `rec` (status creating): its record and,
    when the instance is encrypted, the payload text of its data key (made
    under the instance's KMS key). `hand_off`: queue the work here."""
    ident = require_new(call, identifier)
    resource_id = model.new_resource_id("snap-")
    wrapped = plain = None
    if rec["encrypted"]:
        wrapped, _arn, key = keys.new_data_key(
            call, rec["kms_key_arn"], keys.snapshot_context(resource_id)
        )
        plain = b64_text(key)
    if tags is None and (rec["attrs"] or {}).get("CopyTagsToSnapshot"):
        tags = [list(t) for t in rec["tags"]]
    snap = new_record(
        call,
        ident,
        instance=rec,
        snapshot_type=snapshot_type,
        encrypted=bool(rec["encrypted"]),
        kms_key_arn=rec["kms_key_arn"],
        data_key=wrapped,
        resource_id=resource_id,
        tags=tags or [],
    )
    records.insert_snapshot(call.conn, snap)
    call.audit_resource(snap["arn"], model.SNAPSHOT_TYPE)
    records.add_event(
        call.conn, call.account, call.region, ident, "db-snapshot", snap["arn"],
        "Creating manual snapshot" if snapshot_type == "manual" else "Creating automated snapshot",
        ["creation"], call.clock.timestamp(),
    )  # fmt: skip
    if hand_off:
        payload: dict[str, Any] = {"snapshot": resource_id, "id": rec["resource_id"]}
        if plain is not None:
            payload["snapshot_key"] = plain
        call.hand_off("take_snapshot", payload)
    return snap, plain


def resolve_source(call: Call, identifier: str) -> records.Record:
    """A snapshot named by identifier or ARN (an ARN may name another Region
    of the caller's account: a cross-Region copy)."""
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) < 7 or parts[2] != "rds" or parts[5] != "snapshot":
            raise errors.InvalidParameterValue(
                f"The parameter SourceDBSnapshotIdentifier is not a valid identifier: {identifier}"
            )
        region, account, ident = parts[3], parts[4], parts[6]
        found = records.find_snapshot(call.conn, account, region, ident)
        if found is None or (account != call.account and not shared_with(found, call.account)):
            raise errors.DBSnapshotNotFoundFault(f"DBSnapshot {identifier} not found.")
        return found
    return records.resolve_snapshot(call.conn, call.account, call.region, identifier)


def shared_with(snap: records.Record, account: str) -> bool:
    """Whether `account` may copy and restore `snap` (its "restore" attribute)."""
    shared = snap["shared_with"] or []
    return account in shared or "all" in shared


def require_available(snap: records.Record) -> None:
    if snap["status"] != "available":
        raise errors.InvalidDBSnapshotStateFault(
            f"Snapshot {snap['identifier']} is not in available state (it is {snap['status']})."
        )


def open_key(call: Call, snap: records.Record) -> bytes | None:
    """The snapshot's data key, unwrapped by KMS for the caller."""
    if not snap["encrypted"]:
        return None
    ctx = call
    if snap["region"] != call.region and snap["account"] == call.account:
        # A cross-Region copy: the source's key is asked in its own Region
        # (the same call otherwise: its KMS events are recorded with it).
        ctx = dataclasses.replace(call, region=snap["region"])
    context = (
        # An automated snapshot is sealed under its instance's data key.
        keys.instance_context(snap["dbi_resource_id"])
        if (snap["attrs"] or {}).get("KeyOf") == "instance"
        else keys.snapshot_context(snap["resource_id"])
    )
    return keys.open_data_key(ctx, snap["data_key"], snap["kms_key_arn"], context)
