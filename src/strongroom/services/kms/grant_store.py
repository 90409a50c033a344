"""Grants as stored: which operations a key's grants may allow, creating one
(shared by CreateGrant and the internal API), finding and removing them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy import delete as sql_delete

from strongroom import tokens
from strongroom.framework import Call
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms.keys import Key, key_arn
from strongroom.services.kms.service import errors
from strongroom.services.kms.states import KeyUsage
from strongroom.services.kms.tables import grants
from strongroom.store.db import Prepared


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    account: str
    region: str
    key_id: str
    name: str | None
    grantee: str
    retiring: str | None
    issuing_account: str
    #: Operation names, sorted.
    operations: list[str]
    #: EncryptionContextEquals / EncryptionContextSubset / SourceArn, or None.
    constraints: dict[str, Any] | None
    #: Epoch seconds, as stored (`creation_date` is the datetime).
    created: float
    token: str

    @property
    def key_arn(self) -> str:
        return key_arn(self.account, self.region, self.key_id)

    @property
    def creation_date(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)


_COLUMNS = [grants.c[f.name] for f in fields(Grant)]

#: Grant operations each key usage supports (DescribeKey, CreateGrant and
#: RetireGrant go with any key).
_USAGE_OPERATIONS = {
    KeyUsage.ENCRYPT_DECRYPT: {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    },
    KeyUsage.SIGN_VERIFY: {"Sign", "Verify", "GetPublicKey"},
    KeyUsage.GENERATE_VERIFY_MAC: {"GenerateMac", "VerifyMac"},
    KeyUsage.KEY_AGREEMENT: {"DeriveSharedSecret", "GetPublicKey"},
}
_ANY_KEY = {"DescribeKey", "CreateGrant", "RetireGrant"}
_ASYMMETRIC_ENCRYPTION = {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}


def allowed_operations(key: Key) -> set[str]:
    ops = set(_USAGE_OPERATIONS[key.key_usage]) | _ANY_KEY
    if key.key_usage == KeyUsage.ENCRYPT_DECRYPT and not key.is_symmetric:
        ops = _ASYMMETRIC_ENCRYPTION | _ANY_KEY
    return ops


def same_constraints(grant: Grant, constraints: dict[str, Any] | None) -> bool:
    return (grant.constraints or None) == (constraints or None)


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
    granted = sorted(set(operations))
    if name:
        for row in _select(call.conn, *_of_key(key), grants.c.name == name):
            if (
                row.grantee == grantee
                and row.retiring == retiring
                and row.operations == granted
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
            operations=granted,
            constraints=constraints or None,
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


# --------------------------------------------------------------------------- finding

_TERMS_OF_KEY = Prepared(
    select(grants.c.grantee, grants.c.operations, grants.c.constraints).where(
        grants.c.account == bindparam("account"),
        grants.c.region == bindparam("region"),
        grants.c.key_id == bindparam("key_id"),
    )
)


def terms_of_key(conn: Connection, key: Key) -> list[tuple[str, list[str], dict[str, Any] | None]]:
    """(grantee, operations, constraints) of each of `key`'s grants: what
    authorization reads on the hot path, with one prepared statement."""
    return _TERMS_OF_KEY.all(conn, account=key.account, region=key.region, key_id=key.key_id)


def _of_key(key: Key) -> tuple[Any, ...]:
    return (
        grants.c.account == key.account,
        grants.c.region == key.region,
        grants.c.key_id == key.key_id,
    )


def _select(conn: Connection, *conditions: Any) -> list[Grant]:
    query = select(*_COLUMNS).where(*conditions).order_by(grants.c.created, grants.c.grant_id)
    return [Grant(*row) for row in conn.execute(query)]


def of_key(
    conn: Connection, key: Key, *, grant_id: str | None = None, grantee: str | None = None
) -> list[Grant]:
    """`key`'s grants (that one, or those of that grantee), oldest first."""
    conditions = list(_of_key(key))
    if grant_id is not None:
        conditions.append(grants.c.grant_id == grant_id)
    if grantee is not None:
        conditions.append(grants.c.grantee == grantee)
    return _select(conn, *conditions)


def retirable_by(conn: Connection, retiring: str, region: str) -> list[Grant]:
    """Grants in `region` (on any account's keys) that `retiring` may retire."""
    return _select(conn, grants.c.retiring == retiring, grants.c.region == region)


def find_of_key(conn: Connection, key: Key, grant_id: str) -> Grant | None:
    found = _select(conn, grants.c.grant_id == grant_id, *_of_key(key))
    return found[0] if found else None


def resolve_by_token(conn: Connection, token: str) -> Grant:
    """The grant a grant token names; InvalidGrantTokenException otherwise."""
    try:
        value = tokens.decode(token)
    except tokens.BadToken:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("g"), str):
        raise errors.InvalidGrantTokenException("Grant token is invalid.")
    found = _select(conn, grants.c.grant_id == value["g"])
    if not found:
        raise errors.InvalidGrantTokenException("Grant token is invalid.")
    return found[0]


def remove(conn: Connection, grant_id: str) -> None:
    conn.execute(sql_delete(grants).where(grants.c.grant_id == grant_id))
