"""Replica secrets: a primary's copies in other Regions of the same account.

A replica is a secret of its own in its Region, with the primary's name and
ARN suffix, ``PrimaryRegion`` naming the primary's Region, and each version
encrypted under a key of the replica's Region (the KmsKeyId given for it, or
that Region's ``aws/secretsmanager``) through KMS in that Region. Whenever
the primary's versions, labels, description or tags change, its replicas are
brought in step in the same transaction (`sync`, hooked on
`values.after_change`): a replica is never behind what its primary answered.
A replica refuses writes (`Secret.require_writable`) until
StopReplicationToReplica makes it a standalone secret.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from strongroom.arn import is_known_region
from strongroom.framework import Call
from strongroom.services.secretsmanager import envelope, secrets, values, versions
from strongroom.services.secretsmanager.secrets import Secret
from strongroom.services.secretsmanager.service import errors

IN_SYNC = "InSync"
FAILED = "Failed"
NAME_TAKEN = "Secret with this name already exists in this region"


def in_region(call: Call, region: str) -> Call:
    """`call` as seen from another Region: its KMS calls go to that Region's
    KMS (and are recorded there), still as the caller."""
    return dataclasses.replace(call, region=region)


def replica_arn(secret: Secret, region: str) -> str:
    parts = secret.arn.split(":")
    parts[3] = region
    return ":".join(parts)


def status(secret: Secret) -> list[dict[str, Any]]:
    """ReplicationStatus: a primary's replicas."""
    out = []
    for r in secret.replicas:
        entry = {"Region": r["Region"], "Status": r["Status"]}
        if r.get("KmsKeyId"):
            entry["KmsKeyId"] = r["KmsKeyId"]
        if r.get("StatusMessage"):
            entry["StatusMessage"] = r["StatusMessage"]
        out.append(entry)
    return out


def require_no_replicas(secret: Secret) -> None:
    if secret.replicas:
        regions = ", ".join(r["Region"] for r in secret.replicas)
        raise errors.InvalidRequestException(
            f"You can't delete secret {secret.name} that still has replica regions "
            f"[{regions}]. Remove the replicas with RemoveRegionsFromReplication first."
        )


def add_regions(
    call: Call, secret: Secret, regions: list[dict[str, str]], force: bool
) -> list[dict[str, Any]]:
    """Replicate `secret` to `regions` ([{"Region", "KmsKeyId"}]); the primary's
    ReplicationStatus after."""
    if secret.is_replica:
        raise errors.InvalidRequestException(
            "Operation not permitted on a replica secret. Call must be made in primary "
            "secret's region."
        )
    taken = {r["Region"] for r in secret.replicas}
    for entry in regions:
        region = entry.get("Region") or ""
        if region == secret.region or not region or not is_known_region(region):
            raise errors.InvalidParameterException(f"Invalid replica region {region}.")
        if region in taken:
            continue
        taken.add(region)
        record: dict[str, Any] = {"Region": region, "KmsKeyId": entry.get("KmsKeyId")}
        there = secrets.find(call, secret.account, region, secret.name)
        if there is not None:
            if not force:
                record.update(Status=FAILED, StatusMessage=NAME_TAKEN)
                secret.replicas.append(record)
                continue
            secrets.delete_secret(call.conn, there)
        replica = secrets.new_secret(
            call,
            secret.name,
            region=region,
            arn=replica_arn(secret, region),
            description=secret.description,
            kms_key_id=entry.get("KmsKeyId"),
            primary_region=secret.region,
        )
        replica.tags = [list(t) for t in secret.tags]
        replica.created = secret.created
        secrets.insert_secret(call.conn, replica)
        _copy(call, secret, replica)
        record.update(Status=IN_SYNC, StatusMessage="Replication succeeded")
        secret.replicas.append(record)
    secret.primary_region = secret.region
    secrets.save(call.conn, secret, "replicas", "primary_region")
    return status(secret)


def remove_regions(call: Call, secret: Secret, regions: list[str]) -> list[dict[str, Any]]:
    for region in regions:
        if region not in {r["Region"] for r in secret.replicas}:
            raise errors.InvalidParameterException(
                f"Invalid replica region {region}: the secret is not replicated there."
            )
    for region in regions:
        replica = secrets.find_by_arn(call, replica_arn(secret, region))
        if replica is not None and replica.primary_region == secret.region:
            secrets.delete_secret(call.conn, replica)
    secret.replicas = [r for r in secret.replicas if r["Region"] not in regions]
    secrets.save(call.conn, secret, "replicas")
    return status(secret)


def promote(call: Call, replica: Secret) -> None:
    """StopReplicationToReplica: the replica becomes a standalone secret."""
    if not replica.is_replica:
        raise errors.InvalidRequestException(
            "StopReplicationToReplica can be called only in a replica secret's region."
        )
    primary = secrets.find_by_arn(call, replica_arn(replica, replica.primary_region or ""))
    if primary is not None:
        primary.replicas = [r for r in primary.replicas if r["Region"] != replica.region]
        secrets.save(call.conn, primary, "replicas")
    replica.primary_region = None
    secrets.save(call.conn, replica, "primary_region")


def sync(call: Call, primary: Secret) -> None:
    """Bring every in-sync replica of `primary` in step with it."""
    for record in primary.replicas:
        if record.get("Status") != IN_SYNC:
            continue
        replica = secrets.find_by_arn(call, replica_arn(primary, record["Region"]))
        if replica is None:
            continue
        replica.description = primary.description
        replica.tags = [list(t) for t in primary.tags]
        replica.last_changed = primary.last_changed
        secrets.save(call.conn, replica, "description", "tags", "last_changed")
        _copy(call, primary, replica)


def _copy(call: Call, primary: Secret, replica: Secret) -> None:
    """The primary's versions and labels, onto the replica: values it lacks
    are decrypted in the primary's Region and sealed under the replica's key."""
    there = in_region(call, replica.region)
    have = {v.version_id for v in versions.all_versions(call.conn, replica.arn)}
    for version in reversed(versions.all_versions(call.conn, primary.arn)):
        if version.version_id in have:
            continue
        data_key = key_arn = sealed = None
        if version.has_value and version.kind is not None:
            value = envelope.open_value(call, primary.arn, version)
            data_key, key_arn, sealed = envelope.seal(
                there, replica, version.version_id, value, version.kind
            )
        versions.add(
            call.conn,
            replica,
            version.version_id,
            version.created,
            kind=version.kind,
            data_key=data_key,
            key_arn=key_arn,
            sealed=sealed,
        )
    versions.copy_labels(call.conn, primary.arn, replica.arn)
    secrets.save(call.conn, replica, "version_seq")


def _on_change(call: Call, secret: Secret) -> None:
    if secret.replicas and not secret.is_replica:
        sync(call, secret)


values.after_change.append(_on_change)
