"""STS federation: GetFederationToken, AssumeRoleWithWebIdentity (OIDC) and
AssumeRoleWithSAML.

The two AssumeRoleWith* operations are served unsigned, as AWS serves them:
the token or assertion is the caller's proof. Their authorization decision is
the role's trust policy, evaluated for the federated principal (the IAM
identity provider's ARN, ``Principal: {"Federated": ...}``) with the claims
as condition keys (``<issuer host/path>:aud``, ``:sub``; ``SAML:aud`` …).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from strongroom.arn import parse_arn
from strongroom.auth import credentials, federation
from strongroom.auth.principal import Principal
from strongroom.framework import Call
from strongroom.services.iam import api as iam
from strongroom.services.sts import sessions
from strongroom.services.sts.operations import (
    _session_policies,
    check_role_arn,
    errors,
    service,
    token_size,
)

#: What a federated user may do without a session policy: nothing (AWS:
#: "If you do not pass a policy to this operation, then the federated user
#: has no permissions", except what resource policies grant its ARN).
NO_PERMISSIONS = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}'
)
FEDERATION_MAX = 129600
FEDERATION_ROOT_MAX = 3600


def _is_session(p: Principal) -> bool:
    return p.session_created is not None or (p.access_key_id or "").startswith("ASIA")


def _check_tags(call: Call, tags: list[dict[str, str]] | None) -> dict[str, str]:
    seen: dict[str, str] = {}
    lowered: set[str] = set()
    for tag in tags or []:
        if tag["Key"].lower() in lowered:
            raise errors.InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        lowered.add(tag["Key"].lower())
        seen[tag["Key"]] = tag["Value"]
    return seen


# -- GetFederationToken -----------------------------------------------------------


@service.operation(authorize=False)
def get_federation_token(
    call: Call,
    Name: str,
    Policy: str | None = None,
    PolicyArns: list[dict[str, str]] | None = None,
    DurationSeconds: int | None = None,
    Tags: list[dict[str, str]] | None = None,
    MinimumSessionTokenSize: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    p = call.principal
    if p.type not in ("IAMUser", "Root") or _is_session(p):
        raise errors.AccessDenied("Cannot call GetFederationToken with session credentials")
    account = p.account
    fed_arn = f"arn:aws:sts::{account}:federated-user/{Name}"
    tags = _check_tags(call, Tags)
    context: dict[str, Any] = {}
    if tags:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
    call.authorize("sts:GetFederationToken", fed_arn, context)
    if tags:
        call.authorize("sts:TagSession", fed_arn, context)
    limit = FEDERATION_ROOT_MAX if p.is_root else FEDERATION_MAX
    duration = DurationSeconds if DurationSeconds is not None else min(43200, limit)
    if duration > limit:
        raise errors.ValidationError(
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value less than or equal to {limit}"
        )
    given = _session_policies(call, Policy, PolicyArns)
    now = call.clock.timestamp()
    issuer = {
        "type": "Root" if p.is_root else "IAMUser",
        "principalId": p.principal_id,
        "arn": p.arn,
        "accountId": account,
        "userName": p.user_name or "",
    }
    principal = Principal(
        type="FederatedUser",
        account=account,
        arn=fed_arn,
        principal_id=f"{account}:{Name}",
        user_name=Name,
        session_issuer=issuer,
        session_created=datetime.fromtimestamp(now, UTC),
        tags=tags,
        session_policies=given or (NO_PERMISSIONS,),
    )
    expires = now + duration
    akid, secret, token = credentials.create_session(
        call.conn,
        call.sealer,
        principal=principal,
        now=now,
        expires=expires,
        source_access_key_id=p.access_key_id,
        min_token_size=MinimumSessionTokenSize or 0,
    )
    out: dict[str, Any] = {
        "Credentials": sessions.credentials_out(akid, secret, token, expires),
        "FederatedUser": {"FederatedUserId": principal.principal_id, "Arn": fed_arn},
        **token_size(token),
    }
    if given:
        out["PackedPolicySize"] = sessions.packed_size(given)
    return out


# -- shared by the AssumeRoleWith* operations -------------------------------------


def _role_for(call: Call, role_arn: str, action: str) -> Any:
    role = iam.role_by_arn(call.conn, role_arn)
    if role is None:  # AWS does not say whether the role exists
        raise errors.AccessDenied(f"Not authorized to perform {action}")
    return role


def _trust(call: Call, role: Any, action: str, federated: Principal, ctx: dict[str, Any]) -> None:
    """The trust policy decides, for the federated principal (never the
    anonymous caller the pipeline saw)."""
    call.principal = federated
    try:
        call.authorize(
            action,
            role.arn,
            ctx,
            resource_policy=role.trust_policy,
            resource_account=role.account,
            resource_policy_required=True,
            resource_policy_kind="trust",
        )
    except errors.AccessDenied:
        raise errors.AccessDenied(f"Not authorized to perform {action}") from None


def _duration(call: Call, role: Any, duration: int | None) -> int:
    seconds = 3600 if duration is None else duration
    if seconds > role.max_session_duration:
        raise errors.ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return seconds


def _assumed_role_session(
    call: Call,
    role: Any,
    session_name: str,
    duration: int,
    policies: tuple[str, ...],
    *,
    tags: dict[str, str] | None = None,
    transitive: tuple[str, ...] = (),
    min_token_size: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Store the role session; (Credentials, AssumedRoleUser) of the output."""
    _, creds, user = sessions.role_session(
        call,
        role,
        session_name,
        duration,
        policies,
        tags=tags,
        transitive=transitive,
        min_token_size=min_token_size,
    )
    return creds, user


# -- AssumeRoleWithWebIdentity ------------------------------------------------------

_INVALID_TOKEN = (
    "The web identity token that was passed could not be validated by AWS. Get a new "
    "identity token from the identity provider and then retry the request."
)


def _verified_claims(call: Call, token: str, account: str) -> tuple[dict[str, Any], Any]:
    """The token's claims and its IAM OIDC provider, once its signature verified."""
    try:
        jwt = federation.parse_jwt(token)
    except federation.FederationError:
        raise errors.InvalidIdentityTokenException(
            "The ID Token provided is not a valid JWT. (You may see this error if you sent "
            "an Access Token)"
        ) from None
    iss = jwt.claims.get("iss")
    provider = iam.oidc_by_url(call.conn, account, iss) if isinstance(iss, str) else None
    if provider is None:
        raise errors.InvalidIdentityTokenException(
            f"No OpenIDConnect provider found in your account for {iss}"
        )
    try:
        federation.verify_jwt(jwt, provider.issuer, tuple(provider.thumbprints))
    except federation.FederationError as err:
        if err.kind == "thumbprint":
            raise errors.InvalidIdentityTokenException(
                "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
            ) from None
        if err.kind == "communication":
            raise errors.IDPCommunicationErrorException(
                "Couldn't retrieve verification key from your identity provider,  please "
                "reference AssumeRoleWithWebIdentity documentation for requirements"
            ) from None
        raise errors.InvalidIdentityTokenException(_INVALID_TOKEN) from None
    return jwt.claims, provider


def _check_times(call: Call, claims: dict[str, Any]) -> None:
    now = int(call.clock.timestamp())
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for value in (exp, nbf, iat):
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise errors.InvalidIdentityTokenException(_INVALID_TOKEN)
    if exp is None:
        raise errors.InvalidIdentityTokenException(_INVALID_TOKEN)
    if now >= exp:
        raise errors.ExpiredTokenException(
            f"Token expired: current date/time {now} must be before the expiration "
            f"date/time {int(exp)}"
        )
    if nbf is not None and now < nbf:
        raise errors.InvalidIdentityTokenException(
            f"Token is not yet valid: current date/time {now} must be after the not-before "
            f"date/time {int(nbf)}"
        )
    if iat is not None and now < iat:
        raise errors.InvalidIdentityTokenException(
            f"Token used before issued: current date/time {now} must be after the issue "
            f"date/time {int(iat)}"
        )


TAGS_CLAIM = "https://aws.amazon.com/tags"


def _token_tags(call: Call, claims: dict[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Session tags an ID token passes (``{"principal_tags": {"k": ["v"]},
    "transitive_tag_keys": ["k"]}`` under AWS's claim name)."""
    claim = claims.get(TAGS_CLAIM)
    if claim is None:
        return {}, ()
    bad = errors.InvalidIdentityTokenException(
        f"The {TAGS_CLAIM} claim of the web identity token is not valid"
    )
    if not isinstance(claim, dict):
        raise bad
    raw_tags = claim.get("principal_tags", {})
    raw_keys = claim.get("transitive_tag_keys", [])
    if not isinstance(raw_tags, dict) or not isinstance(raw_keys, list) or len(raw_tags) > 50:
        raise bad
    tags: dict[str, str] = {}
    for key, value in raw_tags.items():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or not 1 <= len(key) <= 128 or len(value) > 256:
            raise bad
        if key.lower() in {k.lower() for k in tags}:
            raise bad
        tags[key] = value
    if not all(isinstance(k, str) and k in tags for k in raw_keys):
        raise bad
    return tags, tuple(raw_keys)


def _audience(call: Call, claims: dict[str, Any], client_ids: list[str]) -> str:
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    for candidate in auds:
        if isinstance(candidate, str) and candidate in client_ids:
            return candidate
    raise errors.InvalidIdentityTokenException("Incorrect token audience")


@service.operation(
    authorize=False,
    anonymous=True,
    blocking=True,  # it may fetch the issuer's keys
)
def assume_role_with_web_identity(
    call: Call,
    RoleArn: str,
    RoleSessionName: str,
    WebIdentityToken: str,
    ProviderId: str | None = None,
    PolicyArns: list[dict[str, str]] | None = None,
    Policy: str | None = None,
    DurationSeconds: int | None = None,
    MinimumSessionTokenSize: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    action = "sts:AssumeRoleWithWebIdentity"
    check_role_arn(call, RoleArn)
    account = (parse_arn(RoleArn) or {}).get("account", "")
    claims, provider = _verified_claims(call, WebIdentityToken, account)
    _check_times(call, claims)
    audience = _audience(call, claims, provider.client_ids)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise errors.InvalidIdentityTokenException(_INVALID_TOKEN)
    role = _role_for(call, RoleArn, action)
    federated = Principal(
        type="WebIdentityUser",
        account=provider.account,
        arn=provider.arn,
        principal_id=f"{provider.url}:{audience}:{sub}",
        user_name=sub,
    )
    ctx: dict[str, Any] = {
        f"{provider.url}:aud": audience,
        f"{provider.url}:sub": sub,
        "aws:FederatedProvider": provider.arn,
        "sts:RoleSessionName": RoleSessionName,
    }
    if isinstance(claims.get("amr"), list | str):
        ctx[f"{provider.url}:amr"] = claims["amr"]
    if isinstance(claims.get("azp"), str):
        ctx[f"{provider.url}:azp"] = claims["azp"]
    tags, transitive = _token_tags(call, claims)
    if tags:
        ctx.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        ctx["aws:TagKeys"] = list(tags)
        _trust(call, role, "sts:TagSession", federated, ctx)
    _trust(call, role, action, federated, ctx)
    duration = _duration(call, role, DurationSeconds)
    policies = _session_policies(call, Policy, PolicyArns)
    creds, user = _assumed_role_session(
        call,
        role,
        RoleSessionName,
        duration,
        policies,
        tags=tags,
        transitive=transitive,
        min_token_size=MinimumSessionTokenSize or 0,
    )
    out: dict[str, Any] = {
        "Credentials": creds,
        "SubjectFromWebIdentityToken": sub,
        "AssumedRoleUser": user,
        "Provider": provider.arn,
        "Audience": audience,
        **token_size(creds["SessionToken"]),
    }
    if policies:
        out["PackedPolicySize"] = sessions.packed_size(policies)
    return out


# -- AssumeRoleWithSAML -----------------------------------------------------------------

#: What AWS accepts as the assertion's audience (its sign-in endpoint, global
#: or regional, or the legacy URN) and as the confirmation's Recipient.
_AWS_SIGNIN_RE = re.compile(r"https://(?:[a-z0-9-]+\.)?signin\.aws\.amazon\.com/saml")
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


def _is_aws_audience(value: str) -> bool:
    return value == "urn:amazon:webservices" or bool(_AWS_SIGNIN_RE.fullmatch(value))


@service.operation(authorize=False, anonymous=True)
def assume_role_with_SAML(
    call: Call,
    RoleArn: str,
    PrincipalArn: str,
    SAMLAssertion: str,
    PolicyArns: list[dict[str, str]] | None = None,
    Policy: str | None = None,
    DurationSeconds: int | None = None,
    MinimumSessionTokenSize: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The SAMLResponse must be signed (the assertion or the whole response)
    by a certificate of the provider's metadata; only then are its claims read."""
    check_role_arn(call, RoleArn)
    parts = parse_arn(PrincipalArn)
    if (
        parts is None
        or parts["service"] != "iam"
        or not parts["resource"].startswith("saml-provider/")
    ):
        raise errors.ValidationError("Request ARN is invalid")
    try:
        assertion = federation.parse_saml_response(SAMLAssertion)
    except federation.FederationError:
        raise errors.InvalidIdentityTokenException(
            "Invalid base64 SAMLResponse or unparseable SAML assertion"
        ) from None
    role_account = (parse_arn(RoleArn) or {}).get("account", "")
    provider = iam.saml_by_arn(call.conn, PrincipalArn)
    if provider is None or provider.account != role_account:
        raise errors.InvalidIdentityTokenException(
            f"SAML provider {PrincipalArn} does not exist in the role's account"
        )
    try:
        meta = federation.parse_saml_metadata(provider.metadata_document)
        federation.verify_saml_signature(assertion, meta.signing_certificates)
    except federation.FederationError:
        raise errors.InvalidIdentityTokenException(
            "Specified provider doesn't exist or the SAML assertion could not be validated "
            "with the provider's metadata"
        ) from None
    if assertion.issuer != meta.entity_id:
        raise errors.InvalidIdentityTokenException(
            "The issuer of the SAML assertion is not the provider's entity id"
        )
    return _assume_with_verified_saml(
        call,
        assertion,
        provider,
        RoleArn,
        PrincipalArn,
        Policy,
        PolicyArns,
        DurationSeconds,
        MinimumSessionTokenSize or 0,
    )


PRINCIPAL_TAG_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"
TRANSITIVE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys"


def _saml_tags(
    call: Call, assertion: federation.SamlAssertion
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Session tags from ``…/Attributes/PrincipalTag:KEY`` attributes (one
    value each) and the keys ``…/Attributes/TransitiveTagKeys`` lists."""
    bad = errors.InvalidIdentityTokenException(
        "The session tag attributes of the SAML assertion are not valid"
    )
    tags: dict[str, str] = {}
    for name, values in assertion.attributes.items():
        if not name.startswith(PRINCIPAL_TAG_ATTRIBUTE):
            continue
        key = name[len(PRINCIPAL_TAG_ATTRIBUTE) :]
        if len(values) != 1 or not 1 <= len(key) <= 128 or len(values[0]) > 256:
            raise bad
        if key.lower() in {k.lower() for k in tags}:
            raise bad
        tags[key] = values[0]
    if len(tags) > 50:
        raise bad
    transitive = assertion.attributes.get(TRANSITIVE_ATTRIBUTE, ())
    if not all(k in tags for k in transitive):
        raise bad
    return tags, tuple(transitive)


def _assume_with_verified_saml(
    call: Call,
    assertion: federation.SamlAssertion,
    provider: Any,
    role_arn: str,
    principal_arn: str,
    policy: str | None,
    policy_arns: list[dict[str, str]] | None,
    duration_seconds: int | None,
    min_token_size: int = 0,
) -> dict[str, Any]:
    """The checks AWS makes on a SAML assertion whose signature verified."""
    action = "sts:AssumeRoleWithSAML"
    now = call.clock.timestamp()
    if assertion.not_on_or_after is None or now >= assertion.not_on_or_after:
        raise errors.ExpiredTokenException("The SAML assertion has expired")
    if assertion.not_before is not None and now < assertion.not_before:
        raise errors.InvalidIdentityTokenException("The SAML assertion is not yet valid")
    if not any(_is_aws_audience(a) for a in assertion.audiences):
        raise errors.InvalidIdentityTokenException("Incorrect SAML audience")
    recipient = next((r for r in assertion.recipients if _AWS_SIGNIN_RE.fullmatch(r)), None)
    if recipient is None:
        raise errors.InvalidIdentityTokenException("Incorrect SAML recipient")
    if (role_arn, principal_arn) not in assertion.roles:
        raise errors.InvalidIdentityTokenException(
            "The SAML assertion does not name the requested role and provider"
        )
    session_name = assertion.session_name
    if not session_name or not _SESSION_NAME_RE.fullmatch(session_name):
        raise errors.InvalidIdentityTokenException(
            "The RoleSessionName attribute of the SAML assertion is missing or invalid"
        )
    role = _role_for(call, role_arn, action)
    qualifier = federation.name_qualifier(assertion.issuer, provider.account, provider.name)
    federated = Principal(
        type="SAMLUser",
        account=provider.account,
        arn=provider.arn,
        principal_id=f"{qualifier}:{assertion.subject}",
        user_name=assertion.subject,
    )
    ctx: dict[str, Any] = {
        "SAML:aud": recipient,
        "SAML:sub": assertion.subject,
        "SAML:sub_type": assertion.subject_type,
        "SAML:iss": assertion.issuer,
        "SAML:namequalifier": qualifier,
        "aws:FederatedProvider": provider.arn,
    }
    tags, transitive = _saml_tags(call, assertion)
    if tags:
        ctx.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        ctx["aws:TagKeys"] = list(tags)
        _trust(call, role, "sts:TagSession", federated, ctx)
    _trust(call, role, action, federated, ctx)
    duration = _duration(call, role, duration_seconds)
    policies = _session_policies(call, policy, policy_arns)
    creds, user = _assumed_role_session(
        call,
        role,
        session_name,
        duration,
        policies,
        tags=tags,
        transitive=transitive,
        min_token_size=min_token_size,
    )
    out: dict[str, Any] = {
        "Credentials": creds,
        "AssumedRoleUser": user,
        "Subject": assertion.subject,
        "SubjectType": assertion.subject_type,
        "Issuer": assertion.issuer,
        "Audience": recipient,
        "NameQualifier": qualifier,
        **token_size(creds["SessionToken"]),
    }
    if policies:
        out["PackedPolicySize"] = sessions.packed_size(policies)
    return out
