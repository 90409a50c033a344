"""Replication: ReplicateSecretToRegions, RemoveRegionsFromReplication,
StopReplicationToReplica."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.secretsmanager import replication, secrets
from strongroom.services.secretsmanager.service import service


@service.operation(authorize=False)
def replicate_secret_to_regions(
    call: Call,
    SecretId: str,
    AddReplicaRegions: list[dict[str, str]],
    ForceOverwriteReplicaSecret: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    context = {"secretsmanager:AddReplicaRegions": [r.get("Region", "") for r in AddReplicaRegions]}
    secret = secrets.resolve(call, SecretId, "secretsmanager:ReplicateSecretToRegions", context)
    secret.require_not_deleted()
    status = replication.add_regions(
        call, secret, AddReplicaRegions, bool(ForceOverwriteReplicaSecret)
    )
    return {"ARN": secret.arn, "ReplicationStatus": status}


@service.operation(authorize=False)
def remove_regions_from_replication(
    call: Call, SecretId: str, RemoveReplicaRegions: list[str], **_: Any
) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:RemoveRegionsFromReplication")
    secret.require_not_deleted()
    secret.require_writable()
    status = replication.remove_regions(call, secret, RemoveReplicaRegions)
    return {"ARN": secret.arn, "ReplicationStatus": status}


@service.operation(authorize=False)
def stop_replication_to_replica(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:StopReplicationToReplica")
    secret.require_not_deleted()
    replication.promote(call, secret)
    return {"ARN": secret.arn}
