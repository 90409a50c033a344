"""STS operations: who am I, and temporary credentials."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from strongroom.auth import credentials
from strongroom.auth.policy import MalformedPolicy, parse_policy, policy_size
from strongroom.auth.principal import Principal
from strongroom.framework import Call, Service
from strongroom.services.iam import api as iam
from strongroom.services.sts import sessions

service = Service("sts")
errors = service.errors

#: Session policies (inline plus managed ARNs) are packed; AWS's limit on
#: the inline document is 2048 characters.
MAX_SESSION_POLICY = 2048
ROLE_CHAINING_MAX = 3600
#: The most MinimumSessionTokenSize may ask for, and what SessionTokenUtilization
#: is a percentage of (the model: "must not exceed 4,096 bytes").
MAX_SESSION_TOKEN_SIZE = 4096


#: ``arn:aws:iam::ACCOUNT:role/PATH/NAME`` as STS accepts it in RoleArn.
_ROLE_ARN_RE = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\x21-\x7e]+/)*[\w+=,.@-]{1,64}", re.ASCII
)


def token_size(token: str) -> dict[str, int]:
    """SessionTokenSize and SessionTokenUtilization of an answer (members of
    newer models; an older model's serializer leaves them out)."""
    size = len(token.encode())
    return {
        "SessionTokenSize": size,
        "SessionTokenUtilization": min(100, size * 100 // MAX_SESSION_TOKEN_SIZE),
    }


def check_role_arn(call: Call, role_arn: str) -> None:
    """ValidationError before any authorization when RoleArn is not a role ARN."""
    if not _ROLE_ARN_RE.fullmatch(role_arn) or "//" in role_arn:
        raise errors.ValidationError(f"{role_arn} is invalid")


#: AccessDenied texts of AWS's MFA checks (GetSessionToken, AssumeRole).
MFA_BOTH = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)
MFA_UNKNOWN = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  "
    "Please verify your MFA serial number is valid and associated with this user."
)
MFA_INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def check_mfa(call: Call, serial: str | None, code: str | None) -> float | None:
    """When the request's SerialNumber and TokenCode prove MFA, the time they
    do (the new session's mfa_authenticated_at); None when neither is given.

    The device must be assigned to the calling IAM user (a role session,
    federated user or root has none here) and the code be its current one,
    a step never used before."""
    if serial is None and code is None:
        return None
    if serial is None or code is None:
        raise errors.AccessDenied(MFA_BOTH)
    caller = call.principal
    device = iam.mfa_device_of(call.conn, caller.account, serial)
    if device is None or caller.type != "IAMUser" or device.user_id != caller.principal_id:
        raise errors.AccessDenied(MFA_UNKNOWN)
    now = call.clock.timestamp()
    if not iam.accept_totp(call.conn, call.sealer, device, code, now):
        raise errors.AccessDenied(MFA_INVALID)
    return now


def session_tags(
    call: Call,
    tags: list[dict[str, str]] | None,
    transitive_keys: list[str] | None,
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The new session's tags and transitive keys: the caller's transitive
    tags (role chaining) first, which the request may not set again."""
    caller = call.principal
    inherited_keys = {k.lower() for k in caller.transitive_tag_keys}
    merged: dict[str, str] = {k: v for k, v in caller.tags.items() if k.lower() in inherited_keys}
    seen: set[str] = set()
    for tag in tags or []:
        lowered = tag["Key"].lower()
        if lowered in seen:
            raise errors.InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(lowered)
        if lowered in inherited_keys:
            raise errors.InvalidParameterValue(
                "One or more of the specified transitive tag keys can't be set because they "
                "conflict with transitive tags inherited from the current session."
            )
        merged[tag["Key"]] = tag["Value"]
    transitive = [k for k in caller.transitive_tag_keys]
    for key in transitive_keys or []:
        if key.lower() not in seen:
            raise errors.InvalidParameterValue(
                "The specified transitive tag key must be included in the requested tags."
            )
        if key.lower() not in {k.lower() for k in transitive}:
            transitive.append(key)
    return merged, tuple(transitive)


@service.operation(
    authorize=False,
    no_authorization="AWS answers it for any valid credentials, whatever the policies say",
)
def get_caller_identity(call: Call) -> dict[str, Any]:
    """Needs no permission: AWS answers it for any valid credentials."""
    p = call.principal
    return {"UserId": p.principal_id, "Account": p.account, "Arn": p.arn}


@service.operation(authorize=False)
def assume_role(
    call: Call,
    RoleArn: str,
    RoleSessionName: str,
    PolicyArns: list[dict[str, str]] | None = None,
    Policy: str | None = None,
    DurationSeconds: int = 3600,
    Tags: list[dict[str, str]] | None = None,
    TransitiveTagKeys: list[str] | None = None,
    ExternalId: str | None = None,
    SourceIdentity: str | None = None,
    MinimumSessionTokenSize: int | None = None,
    SerialNumber: str | None = None,
    TokenCode: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    check_role_arn(call, RoleArn)
    if call.principal.is_root and call.authorizer.enforce:
        raise errors.AccessDenied("Roles may not be assumed by root accounts.")
    tags, transitive = session_tags(call, Tags, TransitiveTagKeys)
    mfa_at = check_mfa(call, SerialNumber, TokenCode)
    role = iam.role_by_arn(call.conn, RoleArn)
    context: dict[str, Any] = {}
    if mfa_at is not None:  # the trust policy sees this request's MFA
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = "0"
    else:  # an MFA-authenticated caller's session passes it on (role chaining)
        mfa_at = call.principal.mfa_authenticated_at
    if ExternalId is not None:
        context["sts:ExternalId"] = ExternalId
    if SourceIdentity is not None:
        context["sts:SourceIdentity"] = SourceIdentity
    if tags:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
    if TransitiveTagKeys:
        context["sts:TransitiveTagKeys"] = list(TransitiveTagKeys)
    if RoleSessionName:
        context["sts:RoleSessionName"] = RoleSessionName
    if role is None:  # AWS does not say whether the role exists
        raise errors.AccessDenied(
            f"User: {call.principal.arn} is not authorized to perform: sts:AssumeRole "
            f"on resource: {RoleArn}"
        )
    # The trust policy must allow; when it names the caller's account rather
    # than the caller, the caller's identity policies must allow too.
    if Tags:  # setting session tags needs sts:TagSession in the trust policy too
        call.authorize(
            "sts:TagSession",
            RoleArn,
            context,
            resource_policy=role.trust_policy,
            resource_account=role.account,
            resource_policy_required=True,
            resource_policy_kind="trust",
        )
    call.authorize(
        "sts:AssumeRole",
        RoleArn,
        context,
        resource_policy=role.trust_policy,
        resource_account=role.account,
        resource_policy_required=True,
        resource_policy_kind="trust",
    )
    max_duration = role.max_session_duration
    if call.principal.type == "AssumedRole":
        max_duration = min(max_duration, ROLE_CHAINING_MAX)
    if DurationSeconds > max_duration:
        raise errors.ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            if call.principal.type != "AssumedRole"
            else "The requested DurationSeconds exceeds the 1 hour session limit for roles "
            "assumed by role chaining."
        )
    session_policies = _session_policies(call, Policy, PolicyArns)
    _, creds, user = sessions.role_session(
        call,
        role,
        RoleSessionName,
        DurationSeconds,
        session_policies,
        tags=tags,
        transitive=transitive,
        mfa_at=mfa_at,
        source_access_key_id=call.principal.access_key_id,
        min_token_size=MinimumSessionTokenSize or 0,
    )
    out: dict[str, Any] = {
        "Credentials": creds,
        "AssumedRoleUser": user,
        **token_size(creds["SessionToken"]),
    }
    if session_policies:
        out["PackedPolicySize"] = sessions.packed_size(session_policies)
    if SourceIdentity is not None:
        out["SourceIdentity"] = SourceIdentity
    return out


@service.operation(
    authorize=False,
    no_authorization="AWS does not let policies control authentication (GetSessionToken)",
)
def get_session_token(
    call: Call,
    DurationSeconds: int | None = None,
    MinimumSessionTokenSize: int | None = None,
    SerialNumber: str | None = None,
    TokenCode: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    p = call.principal
    if p.type not in ("IAMUser", "Root") or (p.access_key_id or "").startswith("ASIA"):
        # Role, federated and GetSessionToken sessions alike.
        raise errors.AccessDenied("Cannot call GetSessionToken with session credentials")
    # No permission is needed: AWS does not let policies control authentication.
    limit = 3600 if p.is_root else 129600
    duration = DurationSeconds if DurationSeconds is not None else min(43200, limit)
    if duration > limit:
        raise errors.ValidationError(
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value less than or equal to {limit}"
        )
    mfa_at = check_mfa(call, SerialNumber, TokenCode)
    now = call.clock.timestamp()
    session_principal = Principal(
        type=p.type,
        account=p.account,
        arn=p.arn,
        principal_id=p.principal_id,
        user_name=p.user_name,
        session_created=datetime.fromtimestamp(now, UTC),
        tags=p.tags,
        mfa_authenticated_at=mfa_at,
    )
    akid, secret, token = credentials.create_session(
        call.conn,
        call.sealer,
        principal=session_principal,
        now=now,
        expires=now + duration,
        source_access_key_id=p.access_key_id,
        min_token_size=MinimumSessionTokenSize or 0,
    )
    return {
        "Credentials": {
            "AccessKeyId": akid,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": datetime.fromtimestamp(int(now + duration), UTC),
        },
        **token_size(token),
    }


@service.operation(authorize=False)
def get_access_key_info(call: Call, AccessKeyId: str) -> dict[str, Any]:
    call.authorize("sts:GetAccessKeyInfo", "*")
    cred = credentials.lookup(call.conn, call.sealer, AccessKeyId)
    if cred is None:
        raise errors.InvalidParameterValue(f"The access key {AccessKeyId} does not exist.")
    return {"Account": cred.account}


def _session_policies(
    call: Call, policy: str | None, policy_arns: list[dict[str, str]] | None
) -> tuple[str, ...]:
    texts: list[str] = []
    if policy is not None:
        if policy_size(policy) > MAX_SESSION_POLICY:
            raise errors.PackedPolicyTooLargeException(
                "Packed policy consumes more than the allowed size for session policies."
            )
        try:
            parse_policy(policy, "session")
        except MalformedPolicy as err:
            raise errors.MalformedPolicyDocumentException(str(err)) from None
        texts.append(policy)
    for entry in policy_arns or []:
        arn = entry.get("arn", "")
        document = iam.managed_policy_document(call.conn, arn)
        if document is None:
            raise errors.InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")
        texts.append(document)
    return tuple(texts)


# The federation operations register on import.
from strongroom.services.sts import ops_federation  # noqa: E402

__all__ = ["ops_federation", "service"]
