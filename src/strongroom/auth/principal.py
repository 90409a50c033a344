"""Who is calling: the identity a request's credentials resolve to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from strongroom.arn import root_arn


@dataclass(frozen=True, slots=True)
class Principal:
    #: CloudTrail's userIdentity.type: Root, IAMUser, AssumedRole, FederatedUser, Unknown.
    type: str
    account: str
    arn: str
    #: GetCallerIdentity's UserId: the account id for root, AIDA… for users,
    #: AROA…:session-name for assumed roles.
    principal_id: str
    user_name: str | None = None
    access_key_id: str | None = None
    #: For temporary credentials: the role or user that issued them.
    session_issuer: dict[str, str] | None = None
    session_created: datetime | None = None
    #: Tags of the principal (aws:PrincipalTag/*) and any session tags.
    tags: dict[str, str] = field(default_factory=dict)
    #: Session policies (JSON texts: the inline Policy and the documents of
    #: PolicyArns) that narrow temporary credentials.
    session_policies: tuple[str, ...] = ()
    #: Session tag keys that pass on to sessions this one creates (role chaining).
    transitive_tag_keys: tuple[str, ...] = ()
    #: For session credentials made with a valid MFA code (GetSessionToken or
    #: AssumeRole with SerialNumber and TokenCode): when (epoch seconds).
    #: Source of aws:MultiFactorAuthPresent / aws:MultiFactorAuthAge.
    mfa_authenticated_at: float | None = None

    @property
    def is_root(self) -> bool:
        return self.type == "Root"

    @property
    def is_service(self) -> bool:
        """An AWS service acting as itself (``secretsmanager.amazonaws.com``
        invoking a rotation function, ``lambda.amazonaws.com`` assuming an
        execution role): it has no identity policies; a resource policy
        naming it is what allows it."""
        return self.type == "AWSService"

    def user_identity(self) -> dict[str, Any]:
        """CloudTrail's userIdentity element for this principal (built once:
        a principal is immutable, and the recorder only serializes it)."""
        cached = _IDENTITIES.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        ident = self._user_identity()
        if len(_IDENTITIES) >= 4096:
            _IDENTITIES.clear()
        _IDENTITIES[id(self)] = (self, ident)
        return ident

    def _user_identity(self) -> dict[str, Any]:
        if self.type in ("WebIdentityUser", "SAMLUser"):
            return self._federated_identity()
        ident: dict[str, Any] = {
            "type": self.type,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account,
        }
        if self.access_key_id:
            ident["accessKeyId"] = self.access_key_id
        if self.type == "IAMUser" and self.user_name:
            ident["userName"] = self.user_name
        if self.session_issuer is not None or self.session_created is not None:
            # Role sessions name their issuer; GetSessionToken's sessions have
            # only the attributes.
            context: dict[str, Any] = {}
            if self.session_issuer is not None:
                context["sessionIssuer"] = self.session_issuer
            context["attributes"] = {
                "creationDate": _iso(self.session_created),
                "mfaAuthenticated": "true" if self.mfa_authenticated_at is not None else "false",
            }
            ident["sessionContext"] = context
        return ident

    def _federated_identity(self) -> dict[str, Any]:
        """As CloudTrail records AssumeRoleWithWebIdentity / AssumeRoleWithSAML:
        no ARN or account, the provider named as the IdP knows itself (the
        OIDC issuer's host and path; for SAML the name qualifier that starts
        the principal id)."""
        if self.type == "WebIdentityUser":
            provider = self.arn.split(":oidc-provider/", 1)[-1]
        else:
            provider = self.principal_id.split(":", 1)[0]
        return {
            "type": self.type,
            "principalId": self.principal_id,
            "userName": self.user_name,
            "identityProvider": provider,
        }


#: id(principal) -> (principal, userIdentity); holding the principal keeps its id unique.
_IDENTITIES: dict[int, tuple[Principal, dict[str, Any]]] = {}


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def root_principal(account: str, access_key_id: str | None = None) -> Principal:
    return Principal(
        type="Root",
        account=account,
        arn=root_arn(account),
        principal_id=account,
        access_key_id=access_key_id,
    )


def service_principal(name: str) -> Principal:
    """The principal of AWS service `name` (``lambda.amazonaws.com``)."""
    return Principal(type="AWSService", account="", arn=name, principal_id=name, user_name=name)
