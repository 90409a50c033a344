"""Role sessions, as AssumeRole and the AssumeRoleWith* operations make them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strongroom.auth import credentials
from strongroom.auth.policy import policy_size
from strongroom.auth.principal import Principal
from strongroom.framework import Call

#: Session policies (inline plus managed ARNs) are packed; AWS's limit on
#: the inline document is 2048 characters.
MAX_SESSION_POLICY = 2048


def credentials_out(akid: str, secret: str, token: str, expires: float) -> dict[str, Any]:
    """The Credentials member of an answer."""
    return {
        "AccessKeyId": akid,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": datetime.fromtimestamp(int(expires), UTC),
    }


def packed_size(policies: tuple[str, ...]) -> int:
    """PackedPolicySize: the session policies' share of what a session may pack."""
    return min(100, sum(policy_size(p) for p in policies) * 100 // MAX_SESSION_POLICY)


def role_session(
    call: Call,
    role: Any,
    session_name: str,
    duration: int,
    policies: tuple[str, ...],
    *,
    tags: dict[str, str] | None = None,
    transitive: tuple[str, ...] = (),
    mfa_at: float | None = None,
    source_access_key_id: str | None = None,
    min_token_size: int = 0,
) -> tuple[Principal, dict[str, Any], dict[str, Any]]:
    """Store a session of `role`: (its principal, the answer's Credentials,
    its AssumedRoleUser)."""
    now = call.clock.timestamp()
    principal = role_principal(
        role,
        session_name,
        now,
        tags=tags,
        policies=policies,
        transitive=transitive,
        mfa_at=mfa_at,
    )
    expires = now + duration
    akid, secret, token = credentials.create_session(
        call.conn,
        call.sealer,
        principal=principal,
        now=now,
        expires=expires,
        source_access_key_id=source_access_key_id,
        min_token_size=min_token_size,
    )
    call.audit_resource(role.arn, "AWS::IAM::Role", role.account)
    user = {"AssumedRoleId": principal.principal_id, "Arn": principal.arn}
    return principal, credentials_out(akid, secret, token, expires), user


def role_principal(
    role: Any,
    session_name: str,
    now: float,
    *,
    tags: dict[str, str] | None = None,
    policies: tuple[str, ...] = (),
    transitive: tuple[str, ...] = (),
    mfa_at: float | None = None,
) -> Principal:
    """The principal of a session of `role` named `session_name`, made at `now`."""
    session_arn = f"arn:aws:sts::{role.account}:assumed-role/{role.role_name}/{session_name}"
    return Principal(
        type="AssumedRole",
        account=role.account,
        arn=session_arn,
        principal_id=f"{role.role_id}:{session_name}",
        user_name=session_name,
        session_issuer={
            "type": "Role",
            "principalId": role.role_id,
            "arn": role.arn,
            "accountId": role.account,
            "userName": role.role_name,
        },
        session_created=datetime.fromtimestamp(now, UTC),
        tags=tags or {},
        session_policies=policies,
        transitive_tag_keys=transitive,
        mfa_authenticated_at=mfa_at,
    )
