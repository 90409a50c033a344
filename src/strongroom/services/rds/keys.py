"""Encryption keys of instances and snapshots, through KMS's internal API only.

Each encrypted instance and each encrypted snapshot has a data key of its
own, made by KMS's GenerateDataKey from the resource's KMS key (KmsKeyId,
or the account's ``alias/aws/rds``) for the caller, with
``kms:ViaService`` ``rds.<region>.amazonaws.com`` (`Call.invoke`), and the
encryption context::

    {"aws:rds:db-id": <DbiResourceId>}           an instance
    {"aws:rds:snapshot-id": <snapshot resource>}  a snapshot

Only the wrapped data key is stored. An encrypted instance's key also gets
a grant for ``rds.amazonaws.com`` (Decrypt and GenerateDataKey, constrained
to the instance's encryption context), as RDS makes one: with it RDS, acting
as itself, unwraps the instance's data key when it must start the engine
with no caller (after a restart of strongroom, or the automatic start 7
days after a stop). Should the key be disabled or pending deletion then,
the instance becomes ``inaccessible-encryption-credentials``.

KMS's errors become RDS's ``KMSKeyNotAccessibleFault``.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, JobRun, acting_as
from strongroom.services.kms import api as kms
from strongroom.services.rds.service import RDS_PRINCIPAL, errors, service

MANAGED_ALIAS = "alias/aws/rds"


def instance_context(resource_id: str) -> dict[str, str]:
    return {"aws:rds:db-id": resource_id}


def snapshot_context(resource_id: str) -> dict[str, str]:
    return {"aws:rds:snapshot-id": resource_id}


def not_accessible(key_id: str | None) -> Exception:
    return errors.KMSKeyNotAccessibleFault(
        f"The specified KMS key [{key_id}] does not exist, is not enabled or you do not have "
        "permissions to access it."
    )


def key_for(call: Call, kms_key_id: str | None) -> str:
    """The KeyId to encrypt under: the one given, else ``alias/aws/rds``."""
    if kms_key_id and kms_key_id != MANAGED_ALIAS:
        return kms_key_id
    return kms.aws_managed_key(call, "rds")


def new_data_key(call: Call, key_id: str, context: dict[str, str]) -> tuple[bytes, str, bytes]:
    """(wrapped data key, the key's ARN, plaintext data key)."""
    try:
        out = kms.generate_data_key(call, key_id, encryption_context=context)
    except Exception as err:
        if getattr(err, "code", None) is None:
            raise
        raise not_accessible(key_id) from None
    return out["CiphertextBlob"], out["KeyId"], out["Plaintext"]


def open_data_key(ctx: Call, wrapped: bytes, key_arn: str, context: dict[str, str]) -> bytes:
    try:
        return kms.decrypt(ctx, wrapped, encryption_context=context, key_id=key_arn)["Plaintext"]
    except Exception as err:
        if getattr(err, "code", None) is None:
            raise
        raise not_accessible(key_arn) from None


def grant_to_rds(call: Call, key_arn: str, resource_id: str) -> None:
    """The grant RDS keeps on an encrypted instance's key (see the module)."""
    try:
        kms.create_grant(
            call,
            key_arn,
            RDS_PRINCIPAL,
            ["Decrypt", "GenerateDataKey"],
            retiring_principal=RDS_PRINCIPAL,
            constraints={"EncryptionContextSubset": instance_context(resource_id)},
            name=resource_id,
        )
    except Exception as err:
        if getattr(err, "code", None) is None:
            raise
        raise not_accessible(key_arn) from None


def as_rds(run: JobRun, account: str, region: str, operation: str) -> Call:
    """A `Call` of RDS acting as itself (``rds.amazonaws.com``), in `run`'s
    transaction: what it asks of KMS its grants must allow."""
    return acting_as(
        run, service, RDS_PRINCIPAL, account=account, region=region, operation=operation
    )


def unwrap_as_rds(run: JobRun, rec: dict[str, Any]) -> bytes:
    """An instance's data key, unwrapped by RDS itself (its grant)."""
    ctx = as_rds(run, rec["account"], rec["region"], "StartDBInstance")
    return open_data_key(
        ctx, rec["data_key"], rec["kms_key_arn"], instance_context(rec["resource_id"])
    )
