"""Finding the secret and the principal behind an access key id."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, select

from strongroom.arn import root_arn, secret_access_key, unique_id
from strongroom.auth.principal import Principal, root_principal
from strongroom.auth.tables import access_keys, sessions
from strongroom.store.db import HotTables, Prepared
from strongroom.store.sealing import Sealer

#: What a credential is read from: cached across commits that touch neither.
CREDENTIAL_TABLES = HotTables(access_keys, sessions)


def key_aad(access_key_id: str) -> bytes:
    return b"access-key:" + access_key_id.encode()


@dataclass(slots=True)
class Credential:
    access_key_id: str
    account: str
    secret: str
    principal: Principal
    active: bool = True
    #: For session credentials: digest of the token and expiry (epoch seconds).
    token_sha256: str | None = None
    expires: float | None = None


_KEY_QUERY = Prepared(
    select(
        access_keys.c.account,
        access_keys.c.user_name,
        access_keys.c.user_id,
        access_keys.c.user_arn,
        access_keys.c.secret_sealed,
        access_keys.c.active,
    ).where(access_keys.c.access_key_id == bindparam("akid"))
)
_SESSION_QUERY = Prepared(
    select(
        sessions.c.account,
        sessions.c.secret_sealed,
        sessions.c.token_sha256,
        sessions.c.expires,
        sessions.c.principal,
    ).where(sessions.c.access_key_id == bindparam("akid"))
)


def lookup(conn: Connection, sealer: Sealer, access_key_id: str) -> Credential | None:
    """The credential for `access_key_id`, or None when no such key exists."""
    if access_key_id.startswith("ASIA"):
        return _lookup_session(conn, sealer, access_key_id)
    row = _KEY_QUERY.first(conn, akid=access_key_id)
    if row is None:
        return None
    account, user_name, user_id, user_arn, sealed, active = row
    secret = sealer.unseal_str(bytes(sealed), key_aad(access_key_id))
    if user_name is None:
        principal = root_principal(account, access_key_id)
    else:
        principal = Principal(
            type="IAMUser",
            account=account,
            arn=user_arn,
            principal_id=user_id,
            user_name=user_name,
            access_key_id=access_key_id,
        )
    return Credential(access_key_id, account, secret, principal, bool(active))


def _lookup_session(conn: Connection, sealer: Sealer, access_key_id: str) -> Credential | None:
    row = _SESSION_QUERY.first(conn, akid=access_key_id)
    if row is None:
        return None
    account, sealed, token_sha256, expires, principal_json = row
    secret = sealer.unseal_str(bytes(sealed), key_aad(access_key_id))
    principal = principal_from_json(orjson.loads(principal_json), access_key_id)
    return Credential(
        access_key_id, account, secret, principal, True, token_sha256=token_sha256, expires=expires
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(cred: Credential, token: str | None) -> bool:
    if cred.token_sha256 is None:
        return True
    if token is None:
        return False
    return hmac.compare_digest(cred.token_sha256, token_digest(token))


def principal_to_json(p: Principal) -> bytes:
    return orjson.dumps(
        {
            "type": p.type,
            "account": p.account,
            "arn": p.arn,
            "principal_id": p.principal_id,
            "user_name": p.user_name,
            "session_issuer": p.session_issuer,
            "session_created": p.session_created.timestamp() if p.session_created else None,
            "tags": p.tags,
            "session_policies": list(p.session_policies),
            "transitive_tag_keys": list(p.transitive_tag_keys),
            "mfa_authenticated_at": p.mfa_authenticated_at,
        }
    )


def principal_from_json(data: dict[str, Any], access_key_id: str) -> Principal:
    created = data.get("session_created")
    return Principal(
        type=data["type"],
        account=data["account"],
        arn=data["arn"],
        principal_id=data["principal_id"],
        user_name=data.get("user_name"),
        access_key_id=access_key_id,
        session_issuer=data.get("session_issuer"),
        session_created=datetime.fromtimestamp(created, UTC) if created else None,
        tags=data.get("tags") or {},
        session_policies=tuple(data.get("session_policies") or ()),
        transitive_tag_keys=tuple(data.get("transitive_tag_keys") or ()),
        mfa_authenticated_at=data.get("mfa_authenticated_at"),
    )


def create_access_key(
    conn: Connection,
    sealer: Sealer,
    *,
    account: str,
    now: float,
    user_name: str | None = None,
    user_id: str | None = None,
    user_arn: str | None = None,
    access_key_id: str | None = None,
    secret: str | None = None,
) -> tuple[str, str]:
    """Store a new long-term key (root's when `user_name` is None); returns (id, secret)."""
    access_key_id = access_key_id or unique_id("AKIA", 20)
    secret = secret or secret_access_key()
    conn.execute(
        insert(access_keys).values(
            access_key_id=access_key_id,
            account=account,
            user_name=user_name,
            user_id=user_id,
            user_arn=user_arn or root_arn(account),
            secret_sealed=sealer.seal_str(secret, key_aad(access_key_id)),
            active=True,
            created=now,
        )
    )
    return access_key_id, secret


def create_session(
    conn: Connection,
    sealer: Sealer,
    *,
    principal: Principal,
    now: float,
    expires: float,
    source_access_key_id: str | None,
    min_token_size: int = 0,
) -> tuple[str, str, str]:
    """Store temporary credentials acting as `principal`; returns (id, secret, token).

    Only a digest of the token is kept: the server has to recognise it, never
    to hand it out again. The token is at least `min_token_size` characters
    (STS's MinimumSessionTokenSize): a longer token is just as opaque and is
    recognised by its digest like any other.
    """
    access_key_id = unique_id("ASIA", 20)
    secret = secret_access_key()
    token = _session_token(min_token_size)
    conn.execute(
        insert(sessions).values(
            access_key_id=access_key_id,
            account=principal.account,
            secret_sealed=sealer.seal_str(secret, key_aad(access_key_id)),
            token_sha256=token_digest(token),
            expires=expires,
            created=now,
            principal=principal_to_json(principal).decode(),
            source_access_key_id=source_access_key_id,
        )
    )
    return access_key_id, secret, token


def _session_token(min_size: int = 0) -> str:
    """An opaque token of the length AWS's session tokens have (hundreds of
    characters), padded with more random base64 up to `min_size`."""
    import base64
    import os

    token = "IQoJb3JpZ2luX2Vj" + base64.b64encode(os.urandom(240)).decode()
    short = min_size - len(token)
    if short > 0:
        token += base64.b64encode(os.urandom(short * 3 // 4 + 3)).decode()[:short]
    return token
