"""Grants as stored: which operations a key's grants may allow, and creating
one (shared by CreateGrant and the internal API)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select

from strongroom import tokens
from strongroom.framework import Call
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms.keys import Key
from strongroom.services.kms.service import errors
from strongroom.services.kms.tables import grants

#: Grant operations each key usage supports (DescribeKey, CreateGrant and
#: RetireGrant go with any key).
_USAGE_OPERATIONS = {
    "ENCRYPT_DECRYPT": {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    },
    "SIGN_VERIFY": {"Sign", "Verify", "GetPublicKey"},
    "GENERATE_VERIFY_MAC": {"GenerateMac", "VerifyMac"},
    "KEY_AGREEMENT": {"DeriveSharedSecret", "GetPublicKey"},
}
_ANY_KEY = {"DescribeKey", "CreateGrant", "RetireGrant"}
_ASYMMETRIC_ENCRYPTION = {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}


def allowed_operations(key: Key) -> set[str]:
    ops = set(_USAGE_OPERATIONS[key.key_usage]) | _ANY_KEY
    if key.key_usage == "ENCRYPT_DECRYPT" and not key.is_symmetric:
        ops = _ASYMMETRIC_ENCRYPTION | _ANY_KEY
    return ops


def same_constraints(row: Any, constraints: dict[str, Any] | None) -> bool:
    return (orjson.loads(row.constraints) if row.constraints else None) == (constraints or None)


def dry_run_check(dry: bool | None) -> None:
    if dry:
        raise errors.DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set."
        )


def create(
    call: Call,
    key: Key,
    *,
    grantee: str,
    operations: list[str],
    retiring: str | None = None,
    constraints: dict[str, Any] | None = None,
    name: str | None = None,
    dry_run: bool | None = None,
) -> tuple[str, str]:
    """(GrantId, GrantToken) of a new grant — or of the same named grant again."""
    if not operations:
        raise errors.ValidationException("Grants must allow at least one operation.")
    unsupported = sorted(set(operations) - allowed_operations(key))
    if unsupported:
        raise errors.ValidationException(
            f"Grant operations {unsupported} are not supported for the key {key.arn} "
            f"with key spec {key.key_spec} and key usage {key.key_usage}."
        )
    constraints = {k: v for k, v in (constraints or {}).items() if v is not None} or None
    context_constraints = set(constraints or ()) & {
        "EncryptionContextEquals",
        "EncryptionContextSubset",
    }
    if context_constraints and not key.is_symmetric:
        raise errors.ValidationException(
            "Grant constraints are supported only for symmetric encryption KMS keys."
        )
    dry_run_check(dry_run)
    ops_json = orjson.dumps(sorted(set(operations))).decode()
    if name:
        for row in call.conn.execute(
            select(grants).where(
                grants.c.account == key.account,
                grants.c.region == key.region,
                grants.c.key_id == key.key_id,
                grants.c.name == name,
            )
        ):
            if (
                row.grantee == grantee
                and row.retiring == retiring
                and row.operations == ops_json
                and same_constraints(row, constraints)
            ):
                return row.grant_id, row.token
    grant_id = crypto.material_id(crypto.random_bytes(32))
    token = tokens.encode({"g": grant_id, "n": crypto.random_bytes(48).hex()})
    call.conn.execute(
        insert(grants).values(
            grant_id=grant_id,
            account=key.account,
            region=key.region,
            key_id=key.key_id,
            name=name,
            grantee=grantee,
            retiring=retiring,
            issuing_account=f"arn:aws:iam::{call.principal.account or call.account}:root",
            operations=ops_json,
            constraints=orjson.dumps(constraints).decode() if constraints else None,
            created=call.clock.timestamp(),
            token=token,
        )
    )
    return grant_id, token


def delete(call: Call, key: Key, grant_id: str) -> None:
    """Remove a grant of `key`; NotFoundException when it has none of that id."""
    done = call.conn.execute(
        sql_delete(grants).where(
            grants.c.grant_id == grant_id,
            grants.c.account == key.account,
            grants.c.region == key.region,
            grants.c.key_id == key.key_id,
        )
    )
    if done.rowcount == 0:
        raise errors.NotFoundException(f"Grant ID {grant_id} not found")
