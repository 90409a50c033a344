"""KMS grants: create, list, retire, revoke."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, paging
from strongroom.services.kms import access, grant_store, keys
from strongroom.services.kms.grant_store import Grant
from strongroom.services.kms.service import errors, service

KEY_TYPE = "AWS::KMS::Key"

#: "It must be between 1 and 100, inclusive. … it defaults to 50."
LIST_GRANTS = paging.KMS.listing("Grants", default=50, maximum=100)
LIST_RETIRABLE_GRANTS = paging.KMS.listing("Grants", default=50, maximum=100)


def is_service_principal(principal: str) -> bool:
    """``rds.amazonaws.com`` and the like: neither an ARN nor an account id."""
    return not principal.startswith("arn:") and not principal.isdigit()


def _entry(row: Grant, key_arn: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "KeyId": key_arn,
        "GrantId": row.grant_id,
        "CreationDate": row.creation_date,
        "GranteePrincipal": row.grantee,
        "IssuingAccount": row.issuing_account,
        "Operations": list(row.operations),
    }
    if is_service_principal(row.grantee):
        out["GranteeServicePrincipal"] = row.grantee
    if row.name:
        out["Name"] = row.name
    if row.retiring:
        out["RetiringPrincipal"] = row.retiring
        if is_service_principal(row.retiring):
            out["RetiringServicePrincipal"] = row.retiring
    if row.constraints:
        out["Constraints"] = row.constraints
    return out


def _principal_account(principal: str) -> str | None:
    """The account an IAM/STS principal ARN (or a bare account id) belongs to."""
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        return parts[4]
    return None


def _one_of(first: str, second: str, a: str | None, b: str | None, *, required: bool) -> None:
    """AWS's rule for member pairs such as GranteePrincipal/GranteeServicePrincipal."""
    if a is not None and b is not None:
        raise errors.ValidationException(f"You cannot specify both {first} and {second}.")
    if required and a is None and b is None:
        raise errors.ValidationException(f"You must specify either {first} or {second}.")


def _require_grantee(
    grantee: str | None,
    grantee_service: str | None,
    retiring: str | None,
    retiring_service: str | None,
    constraints: dict[str, Any] | None,
) -> None:
    """CreateGrant's member rules (the newest model makes GranteePrincipal optional)."""
    _one_of("GranteePrincipal", "GranteeServicePrincipal", grantee, grantee_service, required=True)
    _one_of(
        "RetiringPrincipal", "RetiringServicePrincipal", retiring, retiring_service, required=False
    )
    if grantee_service is not None:
        if not (constraints or {}).get("SourceArn"):
            raise errors.ValidationException(
                "A grant for a GranteeServicePrincipal requires a SourceArn grant constraint."
            )
        if retiring is None and retiring_service is None:
            raise errors.ValidationException(
                "A grant for a GranteeServicePrincipal requires a RetiringPrincipal or a "
                "RetiringServicePrincipal."
            )


@service.operation(authorize=False)
def create_grant(
    call: Call,
    KeyId: str,
    Operations: list[str],
    GranteePrincipal: str | None = None,
    RetiringPrincipal: str | None = None,
    Constraints: dict[str, Any] | None = None,
    GrantTokens: list[str] | None = None,
    Name: str | None = None,
    DryRun: bool | None = None,
    GranteeServicePrincipal: str | None = None,
    RetiringServicePrincipal: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    grantee = GranteePrincipal or GranteeServicePrincipal
    retiring = RetiringPrincipal or RetiringServicePrincipal
    _require_grantee(
        GranteePrincipal,
        GranteeServicePrincipal,
        RetiringPrincipal,
        RetiringServicePrincipal,
        Constraints,
    )
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    extra: dict[str, Any] = {"kms:GrantOperations": list(Operations)}
    if grantee is not None:
        extra["kms:GranteePrincipal"] = grantee
    if retiring:
        extra["kms:RetiringPrincipal"] = retiring
    if Constraints:
        extra["kms:GrantConstraintType"] = list(Constraints)
    access.authorize(call, key, "kms:CreateGrant", grant_tokens=GrantTokens, extra=extra)
    assert grantee is not None
    key.require_state("CreateGrant")
    grant_id, token = grant_store.create(
        call,
        key,
        grantee=grantee,
        operations=Operations,
        retiring=retiring,
        constraints=Constraints,
        name=Name,
        dry_run=DryRun,
    )
    return {"GrantToken": token, "GrantId": grant_id}


@service.operation(authorize=False)
def list_grants(
    call: Call,
    KeyId: str,
    Limit: int | None = None,
    Marker: str | None = None,
    GrantId: str | None = None,
    GranteePrincipal: str | None = None,
    GranteeServicePrincipal: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:ListGrants")
    _one_of(
        "GranteePrincipal",
        "GranteeServicePrincipal",
        GranteePrincipal,
        GranteeServicePrincipal,
        required=False,
    )
    GranteePrincipal = GranteePrincipal or GranteeServicePrincipal
    rows = grant_store.of_key(call.conn, key, grant_id=GrantId, grantee=GranteePrincipal)
    items = [_entry(row, key.arn) for row in rows]
    scope = (key.arn, GrantId, GranteePrincipal)
    return LIST_GRANTS.over_list(call, items, Marker, Limit, scope=scope)


@service.operation(authorize=False)
def list_retirable_grants(
    call: Call,
    RetiringPrincipal: str | None = None,
    Limit: int | None = None,
    Marker: str | None = None,
    RetiringServicePrincipal: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Grants in this Region whose retiring principal is the one named — a
    principal of the caller's own account (the grants may be on other
    accounts' keys: those are the caller's to retire)."""
    _one_of(
        "RetiringPrincipal",
        "RetiringServicePrincipal",
        RetiringPrincipal,
        RetiringServicePrincipal,
        required=True,
    )
    action = "kms:ListRetirableGrants"
    if RetiringServicePrincipal is not None:
        # "This filter is only usable by callers in a service principal."
        if call.principal.arn != RetiringServicePrincipal:
            raise access.deny(call, action, RetiringServicePrincipal)
        access.authorize_account(call, action, RetiringServicePrincipal)
        retiring = RetiringServicePrincipal
    else:
        assert RetiringPrincipal is not None
        if _principal_account(RetiringPrincipal) != call.account:
            raise access.deny(call, action, RetiringPrincipal)
        access.authorize_account(call, action, RetiringPrincipal)
        retiring = RetiringPrincipal
    rows = grant_store.retirable_by(call.conn, retiring, call.region)
    items = [_entry(row, row.key_arn) for row in rows]
    return LIST_RETIRABLE_GRANTS.over_list(call, items, Marker, Limit, scope=(retiring,))


@service.operation(authorize=False)
def retire_grant(
    call: Call,
    GrantToken: str | None = None,
    KeyId: str | None = None,
    GrantId: str | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    if GrantToken is not None:
        row = grant_store.resolve_by_token(call.conn, GrantToken)
    elif KeyId is not None and GrantId is not None:
        key = keys.resolve(call, KeyId, aliases_ok=False)
        found = grant_store.find_of_key(call.conn, key, GrantId)
        if found is None:
            raise errors.InvalidGrantIdException(f"Grant ID {GrantId} not found")
        row = found
    else:
        raise errors.ValidationException(
            "Either GrantToken, or both KeyId and GrantId, must be specified."
        )
    key = keys.find(call.conn, row.account, row.region, row.key_id)
    if key is None:
        raise errors.NotFoundException(f"Key '{row.key_arn}' does not exist")
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    may_retire = (row.retiring is not None and access.grantee_matches(call, row.retiring)) or (
        access.grantee_matches(call, row.grantee) and "RetireGrant" in row.operations
    )
    if may_retire:
        call.allowed_by("the grant names the caller as its retiring principal or grantee")
    else:
        access.authorize(call, key, "kms:RetireGrant")
    grant_store.dry_run_check(DryRun)
    grant_store.remove(call.conn, row.grant_id)
    return {}


@service.operation(authorize=False)
def revoke_grant(
    call: Call,
    KeyId: str,
    GrantId: str,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:RevokeGrant")
    if grant_store.find_of_key(call.conn, key, GrantId) is None:
        raise errors.NotFoundException(f"Grant ID {GrantId} not found")
    grant_store.dry_run_check(DryRun)
    grant_store.remove(call.conn, GrantId)
    return {}
