"""KMS grants: create, list, retire, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select

from strongroom import tokens
from strongroom.services.base import Call
from strongroom.services.kms import access, grant_store, keys
from strongroom.services.kms.paging import page
from strongroom.services.kms.service import errors, service
from strongroom.services.kms.tables import grants

KEY_TYPE = "AWS::KMS::Key"


def _entry(row: Any, key_arn: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "KeyId": key_arn,
        "GrantId": row.grant_id,
        "CreationDate": datetime.fromtimestamp(row.created, UTC),
        "GranteePrincipal": row.grantee,
        "IssuingAccount": row.issuing_account,
        "Operations": orjson.loads(row.operations),
    }
    if row.name:
        out["Name"] = row.name
    if row.retiring:
        out["RetiringPrincipal"] = row.retiring
    if row.constraints:
        out["Constraints"] = orjson.loads(row.constraints)
    return out


@service.operation(authorize=False)
def create_grant(
    call: Call,
    KeyId: str,
    GranteePrincipal: str,
    Operations: list[str],
    RetiringPrincipal: str | None = None,
    Constraints: dict[str, Any] | None = None,
    GrantTokens: list[str] | None = None,
    Name: str | None = None,
    DryRun: bool | None = None,
) -> dict[str, Any]:
    call.audit_request = {
        k: v
        for k, v in {
            "keyId": KeyId,
            "granteePrincipal": GranteePrincipal,
            "retiringPrincipal": RetiringPrincipal,
            "operations": Operations,
            "constraints": Constraints,
            "name": Name,
        }.items()
        if v is not None
    }
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    extra: dict[str, Any] = {
        "kms:GranteePrincipal": GranteePrincipal,
        "kms:GrantOperations": list(Operations),
    }
    if RetiringPrincipal:
        extra["kms:RetiringPrincipal"] = RetiringPrincipal
    if Constraints:
        extra["kms:GrantConstraintType"] = list(Constraints)
    access.authorize(call, key, "kms:CreateGrant", grant_tokens=GrantTokens, extra=extra)
    key.require_state("CreateGrant")
    grant_id, token = grant_store.create(
        call,
        key,
        grantee=GranteePrincipal,
        operations=Operations,
        retiring=RetiringPrincipal,
        constraints=Constraints,
        name=Name,
        dry_run=DryRun,
    )
    call.audit_response = {"grantId": grant_id}
    return {"GrantToken": token, "GrantId": grant_id}


@service.operation(authorize=False)
def list_grants(
    call: Call,
    KeyId: str,
    Limit: int | None = None,
    Marker: str | None = None,
    GrantId: str | None = None,
    GranteePrincipal: str | None = None,
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:ListGrants")
    query = select(grants).where(
        grants.c.account == key.account,
        grants.c.region == key.region,
        grants.c.key_id == key.key_id,
    )
    if GrantId is not None:
        query = query.where(grants.c.grant_id == GrantId)
    if GranteePrincipal is not None:
        query = query.where(grants.c.grantee == GranteePrincipal)
    rows = call.conn.execute(query.order_by(grants.c.created, grants.c.grant_id)).all()
    return page([_entry(row, key.arn) for row in rows], Marker, Limit, 50, "Grants")


@service.operation(authorize=False)
def list_retirable_grants(
    call: Call, RetiringPrincipal: str, Limit: int | None = None, Marker: str | None = None
) -> dict[str, Any]:
    access.authorize_account(call, "kms:ListRetirableGrants")
    rows = call.conn.execute(
        select(grants)
        .where(grants.c.retiring == RetiringPrincipal, grants.c.region == call.region)
        .order_by(grants.c.created, grants.c.grant_id)
    ).all()
    items = [_entry(row, keys.key_arn(row.account, row.region, row.key_id)) for row in rows]
    return page(items, Marker, Limit, 50, "Grants")


def _grant_by_token(call: Call, token: str) -> Any:
    try:
        value = tokens.decode(token)
    except tokens.BadToken:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("g"), str):
        raise errors.InvalidGrantTokenException("Grant token is invalid.")
    row = call.conn.execute(select(grants).where(grants.c.grant_id == value["g"])).first()
    if row is None:
        raise errors.InvalidGrantTokenException("Grant token is invalid.")
    return row


@service.operation(authorize=False)
def retire_grant(
    call: Call,
    GrantToken: str | None = None,
    KeyId: str | None = None,
    GrantId: str | None = None,
    DryRun: bool | None = None,
) -> dict[str, Any]:
    call.audit_request = {k: v for k, v in {"keyId": KeyId, "grantId": GrantId}.items() if v}
    if GrantToken is not None:
        row = _grant_by_token(call, GrantToken)
    elif KeyId is not None and GrantId is not None:
        key = keys.resolve(call, KeyId, aliases_ok=False)
        row = call.conn.execute(
            select(grants).where(
                grants.c.grant_id == GrantId,
                grants.c.account == key.account,
                grants.c.region == key.region,
                grants.c.key_id == key.key_id,
            )
        ).first()
        if row is None:
            raise errors.InvalidGrantIdException(f"Grant ID {GrantId} not found")
    else:
        raise errors.ValidationException(
            "Either GrantToken, or both KeyId and GrantId, must be specified."
        )
    key = keys.find(call.conn, row.account, row.region, row.key_id)
    if key is None:
        raise errors.NotFoundException(
            f"Key '{keys.key_arn(row.account, row.region, row.key_id)}' does not exist"
        )
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    may_retire = (row.retiring is not None and access.grantee_matches(call, row.retiring)) or (
        access.grantee_matches(call, row.grantee) and "RetireGrant" in orjson.loads(row.operations)
    )
    if may_retire:
        call.allowed_by("the grant names the caller as its retiring principal or grantee")
    else:
        access.authorize(call, key, "kms:RetireGrant")
    grant_store.dry_run_check(DryRun)
    call.conn.execute(delete(grants).where(grants.c.grant_id == row.grant_id))
    return {}


@service.operation(authorize=False)
def revoke_grant(
    call: Call, KeyId: str, GrantId: str, DryRun: bool | None = None
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:RevokeGrant")
    row = call.conn.execute(
        select(grants.c.grant_id).where(
            grants.c.grant_id == GrantId,
            grants.c.account == key.account,
            grants.c.region == key.region,
            grants.c.key_id == key.key_id,
        )
    ).first()
    if row is None:
        raise errors.NotFoundException(f"Grant ID {GrantId} not found")
    grant_store.dry_run_check(DryRun)
    call.conn.execute(delete(grants).where(grants.c.grant_id == GrantId))
    return {}
