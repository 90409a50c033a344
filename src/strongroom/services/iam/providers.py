"""IAM identity providers: OpenID Connect and SAML 2.0 (the domain layer
under ``ops_providers``, and what STS needs to trust a federated caller:
`oidc_by_url`, `oidc_by_arn`, `saml_by_arn`).

An OIDC provider is named by its issuer URL (ARN
``arn:aws:iam::ACCT:oidc-provider/HOST/PATH``, the URL without ``https://``,
compared exactly as AWS does: a trailing slash or another case is another
provider). A SAML provider is named by the caller (``saml-provider/NAME``);
its metadata document is kept as given and read for the IdP's signing
certificates when an assertion arrives.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.auth import federation
from strongroom.framework import Call
from strongroom.services.iam.common import iam_arn, when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import oidc_providers, provider_contexts, saml_providers

#: IAM User Guide, "IAM and AWS STS quotas".
MAX_OIDC_PROVIDERS = 100
MAX_SAML_PROVIDERS = 100
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5


# -- OpenID Connect ---------------------------------------------------------


@dataclass(slots=True)
class OidcProvider:
    arn: str
    account: str
    #: The issuer without ``https://``: ``token.actions.githubusercontent.com``.
    url: str
    client_ids: list[str]
    thumbprints: list[str]
    created: float
    tags: list[dict[str, str]]
    context: Propagation | None = None

    @property
    def issuer(self) -> str:
        return "https://" + self.url

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Url": self.url,
            "ClientIDList": list(self.client_ids),
            "ThumbprintList": list(self.thumbprints),
            "CreateDate": when(self.created),
        }
        if self.tags:
            out["Tags"] = self.tags
        if self.context is not None:
            out.update(self.context.to_output())
        return out

    def to_list_entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Arn": self.arn}
        if self.context is not None and self.context.instance_arn:
            out["IsTrustedIdentityPropagationEnabled"] = True
        return out


def oidc_arn(account: str, url: str) -> str:
    return iam_arn(account, "oidc-provider", "/", url)


def _oidc_from_row(row: Any) -> OidcProvider:
    return OidcProvider(
        arn=row.arn,
        account=row.account,
        url=row.url,
        client_ids=row.client_ids or [],
        thumbprints=row.thumbprints or [],
        created=row.created,
        tags=row.tags or [],
    )


def normalize_url(call: Call, url: str) -> str:
    """The issuer URL without its scheme, or InvalidInput as IAM answers."""
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise errors.InvalidInputException("Invalid Url: URL must begin with https://")
    rest = url[len("https://") :]
    if any(c in rest for c in "?#") or any(c.isspace() for c in rest) or rest.startswith("/"):
        raise errors.InvalidInputException(f"Invalid Url: {url}")
    return rest


def check_thumbprints(call: Call, thumbprints: list[str]) -> list[str]:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}"
        )
    for t in thumbprints:
        if len(t) != 40 or any(c not in "0123456789abcdefABCDEF" for c in t):
            raise errors.InvalidInputException(f"Thumbprint {t} is not a valid thumbprint.")
    return [t.lower() for t in thumbprints]


def check_client_ids(call: Call, client_ids: list[str]) -> list[str]:
    unique: list[str] = []
    for cid in client_ids:
        if cid not in unique:
            unique.append(cid)
    if len(unique) > MAX_CLIENT_IDS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
        )
    return unique


def oidc_by_arn(conn: Connection, arn: str) -> OidcProvider | None:
    row = conn.execute(select(oidc_providers).where(oidc_providers.c.arn == arn)).first()
    if row is None:
        return None
    provider = _oidc_from_row(row)
    provider.context = propagation_of(conn, arn)
    return provider


def oidc_by_url(conn: Connection, account: str, url: str) -> OidcProvider | None:
    """The provider of `account` whose issuer is `url` (``https://…``), or None."""
    if not url.startswith("https://"):
        return None
    return oidc_by_arn(conn, oidc_arn(account, url[len("https://") :]))


def resolve_oidc(call: Call, arn: str) -> OidcProvider:
    provider = oidc_by_arn(call.conn, arn)
    if provider is None or provider.account != call.account:
        raise errors.NoSuchEntityException(f"OpenIDConnect Provider not found for arn {arn}")
    return provider


def list_oidc(conn: Connection, account: str) -> list[OidcProvider]:
    return _listed(conn, oidc_providers, account, _oidc_from_row)


def _listed(conn: Connection, table: Any, account: str, from_row: Callable[[Any], Any]) -> list:
    """The providers of `account` in `table`, by ARN, with their contexts."""
    rows = conn.execute(select(table).where(table.c.account == account).order_by(table.c.arn)).all()
    contexts = propagations_in(conn, account)
    found = [from_row(r) for r in rows]
    for p in found:
        p.context = contexts.get(p.arn)
    return found


def create_oidc(
    call: Call,
    url: str,
    client_ids: list[str],
    thumbprints: list[str],
    tags: list[dict[str, str]],
) -> OidcProvider:
    arn = oidc_arn(call.account, url)
    if oidc_by_arn(call.conn, arn) is not None:
        raise errors.EntityAlreadyExistsException(
            f"Provider with url https://{url} already exists."
        )
    count = call.conn.execute(
        select(func.count())
        .select_from(oidc_providers)
        .where(oidc_providers.c.account == call.account)
    ).scalar_one()
    if count >= MAX_OIDC_PROVIDERS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_OIDC_PROVIDERS}"
        )
    now = call.clock.timestamp()
    call.conn.execute(
        insert(oidc_providers).values(
            arn=arn,
            account=call.account,
            url=url,
            client_ids=client_ids,
            thumbprints=thumbprints,
            created=now,
            tags=tags,
        )
    )
    return OidcProvider(arn, call.account, url, client_ids, thumbprints, now, tags)


def update_oidc(
    call: Call,
    provider: OidcProvider,
    *,
    client_ids: list[str] | None = None,
    thumbprints: list[str] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> None:
    values: dict[str, Any] = {}
    if client_ids is not None:
        values["client_ids"] = client_ids
    if thumbprints is not None:
        values["thumbprints"] = thumbprints
    if tags is not None:
        values["tags"] = tags
    call.conn.execute(
        update(oidc_providers).where(oidc_providers.c.arn == provider.arn).values(**values)
    )


def delete_oidc(call: Call, provider: OidcProvider) -> None:
    call.conn.execute(delete(oidc_providers).where(oidc_providers.c.arn == provider.arn))
    put_propagation(call, provider.arn, None)


# -- SAML -------------------------------------------------------------------


@dataclass(slots=True)
class SamlProvider:
    arn: str
    account: str
    name: str
    provider_uuid: str
    metadata_document: str
    valid_until: float | None
    created: float
    tags: list[dict[str, str]]
    context: Propagation | None = None

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "SAMLProviderUUID": self.provider_uuid,
            "SAMLMetadataDocument": self.metadata_document,
            "CreateDate": when(self.created),
        }
        if self.valid_until is not None:
            out["ValidUntil"] = when(self.valid_until)
        if self.tags:
            out["Tags"] = self.tags
        if self.context is not None:
            out.update(self.context.to_output())
        return out

    def to_list_entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Arn": self.arn, "CreateDate": when(self.created)}
        if self.valid_until is not None:
            out["ValidUntil"] = when(self.valid_until)
        if self.context is not None and self.context.instance_arn:
            out["IsTrustedIdentityPropagationEnabled"] = True
        return out


def saml_arn(account: str, name: str) -> str:
    return iam_arn(account, "saml-provider", "/", name)


def _saml_from_row(row: Any) -> SamlProvider:
    return SamlProvider(
        arn=row.arn,
        account=row.account,
        name=row.name,
        provider_uuid=row.provider_uuid,
        metadata_document=row.metadata_document,
        valid_until=row.valid_until,
        created=row.created,
        tags=row.tags or [],
    )


def parse_metadata(call: Call, document: str) -> federation.SamlMetadata:
    """The IdP's entity id, signing certificates and validUntil, or InvalidInput."""
    try:
        return federation.parse_saml_metadata(document)
    except federation.FederationError:
        raise errors.InvalidInputException("Could not parse metadata") from None


def saml_by_arn(conn: Connection, arn: str) -> SamlProvider | None:
    row = conn.execute(select(saml_providers).where(saml_providers.c.arn == arn)).first()
    if row is None:
        return None
    provider = _saml_from_row(row)
    provider.context = propagation_of(conn, arn)
    return provider


def resolve_saml(call: Call, arn: str) -> SamlProvider:
    provider = saml_by_arn(call.conn, arn)
    if provider is None or provider.account != call.account:
        raise errors.NoSuchEntityException(f"Manifest not found for arn {arn}")
    return provider


def list_saml(conn: Connection, account: str) -> list[SamlProvider]:
    return _listed(conn, saml_providers, account, _saml_from_row)


def create_saml(call: Call, name: str, document: str, tags: list[dict[str, str]]) -> SamlProvider:
    meta = parse_metadata(call, document)
    arn = saml_arn(call.account, name)
    if saml_by_arn(call.conn, arn) is not None:
        raise errors.EntityAlreadyExistsException(f"Provider with name {name} already exists.")
    count = call.conn.execute(
        select(func.count())
        .select_from(saml_providers)
        .where(saml_providers.c.account == call.account)
    ).scalar_one()
    if count >= MAX_SAML_PROVIDERS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for SAMLProvidersPerAccount: {MAX_SAML_PROVIDERS}"
        )
    now = call.clock.timestamp()
    provider = SamlProvider(
        arn=arn,
        account=call.account,
        name=name,
        provider_uuid="p" + uuid.uuid4().hex[:20],
        metadata_document=document,
        valid_until=meta.valid_until,
        created=now,
        tags=tags,
    )
    call.conn.execute(
        insert(saml_providers).values(
            arn=arn,
            account=call.account,
            name=name,
            provider_uuid=provider.provider_uuid,
            metadata_document=document,
            valid_until=meta.valid_until,
            created=now,
            tags=tags,
        )
    )
    return provider


def update_saml(
    call: Call,
    provider: SamlProvider,
    *,
    document: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> None:
    values: dict[str, Any] = {}
    if document is not None:
        meta = parse_metadata(call, document)
        values["metadata_document"] = document
        values["valid_until"] = meta.valid_until
    if tags is not None:
        values["tags"] = tags
    if values:
        call.conn.execute(
            update(saml_providers).where(saml_providers.c.arn == provider.arn).values(**values)
        )


def delete_saml(call: Call, provider: SamlProvider) -> None:
    call.conn.execute(delete(saml_providers).where(saml_providers.c.arn == provider.arn))
    put_propagation(call, provider.arn, None)


# -- trusted identity propagation (members of newer models) ---------------------

#: What a context provider's keys may hold (the model's documentation):
#: ASCII letters and digits, single spaces, and ``_ . : / = + - @ #``; no
#: leading or trailing space.
_CONTEXT_KEY_RE = re.compile(r"[A-Za-z0-9_.:/=+\-@#]+(?: [A-Za-z0-9_.:/=+\-@#]+)*", re.ASCII)
#: An IAM Identity Center instance ARN (InstanceMetadata, IAM Identity Center
#: API Reference).
_INSTANCE_ARN_RE = re.compile(
    r"arn:(?:aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(?:sso)?ins-[a-zA-Z0-9-.]{16}",
    re.ASCII,
)


@dataclass(slots=True)
class Propagation:
    """A provider's trusted identity propagation settings: the ContextProvider
    structure (as given, members that were set) and the Identity Center instance."""

    context_provider: dict[str, Any] | None
    instance_arn: str | None

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.context_provider is not None:
            out["ContextProvider"] = self.context_provider
        if self.instance_arn is not None:
            out["IdentityCenterInstanceArn"] = self.instance_arn
        return out


def _check_context_key(call: Call, member: str, value: str) -> None:
    if not _CONTEXT_KEY_RE.fullmatch(value):
        raise errors.InvalidInputException(
            f"Invalid {member}: the key can contain only ASCII letters, numbers, single "
            "spaces, and the characters _ . : / = + - @ #, and can't start or end with a space."
        )


def check_context_provider(call: Call, given: dict[str, Any]) -> dict[str, Any]:
    """A ContextProvider as the model documents it; the members that were set."""
    subject_key = given.get("SubjectSourceKey")
    if not isinstance(subject_key, str):
        raise errors.InvalidInputException("ContextProvider must specify SubjectSourceKey.")
    _check_context_key(call, "SubjectSourceKey", subject_key)
    out: dict[str, Any] = {}
    definitions = given.get("KeyDefinitionList")
    if definitions is not None:
        checked = []
        for d in definitions:
            entry = {"SourceKey": d.get("SourceKey")}
            _check_context_key(call, "SourceKey", entry["SourceKey"] or "")
            if d.get("TargetKey") is not None:
                _check_context_key(call, "TargetKey", d["TargetKey"])
                entry["TargetKey"] = d["TargetKey"]
            checked.append(entry)
        out["KeyDefinitionList"] = checked
    out["SubjectSourceKey"] = subject_key
    type_value = given.get("SubjectTypeValue")
    type_key = given.get("SubjectTypeSourceKey")
    if type_value is not None and type_key is not None:
        raise errors.InvalidInputException(
            "SubjectTypeValue and SubjectTypeSourceKey are mutually exclusive: specify one "
            "or neither."
        )
    if type_value is not None:
        out["SubjectTypeValue"] = type_value
    if type_key is not None:
        _check_context_key(call, "SubjectTypeSourceKey", type_key)
        out["SubjectTypeSourceKey"] = type_key
    return out


def check_instance_arn(call: Call, arn: str) -> str:
    if not _INSTANCE_ARN_RE.fullmatch(arn):
        raise errors.InvalidInputException(f"Invalid IdentityCenterInstanceArn: {arn}")
    return arn


def new_propagation(
    call: Call, context_provider: dict[str, Any] | None, instance_arn: str | None
) -> Propagation | None:
    """What a Create*Provider request sets: an instance needs a context provider."""
    if instance_arn is not None and context_provider is None:
        raise errors.InvalidInputException(
            "ContextProvider must be specified when IdentityCenterInstanceArn is specified."
        )
    if context_provider is None:
        return None
    return Propagation(
        check_context_provider(call, context_provider),
        check_instance_arn(call, instance_arn) if instance_arn is not None else None,
    )


def updated_propagation(
    call: Call,
    current: Propagation | None,
    context_provider: dict[str, Any] | None,
    remove_context_provider: bool,
    instance_arn: str | None,
    remove_instance: bool,
) -> Propagation | None:
    """UpdateSAMLProvider: each setting replaced, removed, or (neither) kept."""
    if context_provider is not None and remove_context_provider:
        raise errors.InvalidInputException(
            "ContextProvider and RemoveContextProvider are mutually exclusive."
        )
    if instance_arn is not None and remove_instance:
        raise errors.InvalidInputException(
            "IdentityCenterInstanceArn and RemoveIdentityCenterInstance are mutually exclusive."
        )
    cp = current.context_provider if current else None
    instance = current.instance_arn if current else None
    if context_provider is not None:
        cp = check_context_provider(call, context_provider)
    elif remove_context_provider:
        cp = None
    if instance_arn is not None:
        instance = check_instance_arn(call, instance_arn)
    elif remove_instance:
        instance = None
    if instance is not None and cp is None:
        raise errors.InvalidInputException(
            "An IAM Identity Center instance can be associated only with a provider that "
            "has a ContextProvider."
        )
    return Propagation(cp, instance) if cp is not None or instance is not None else None


def _propagation_from_row(row: Any) -> Propagation:
    return Propagation(row.context_provider or None, row.identity_center_instance_arn)


def propagation_of(conn: Connection, arn: str) -> Propagation | None:
    row = conn.execute(select(provider_contexts).where(provider_contexts.c.arn == arn)).first()
    return _propagation_from_row(row) if row else None


def propagations_in(conn: Connection, account: str) -> dict[str, Propagation]:
    rows = conn.execute(
        select(provider_contexts).where(provider_contexts.c.account == account)
    ).all()
    return {r.arn: _propagation_from_row(r) for r in rows}


def put_propagation(call: Call, arn: str, value: Propagation | None) -> None:
    """Store (or, for None, forget) a provider's propagation settings."""
    call.conn.execute(delete(provider_contexts).where(provider_contexts.c.arn == arn))
    if value is None:
        return
    call.conn.execute(
        insert(provider_contexts).values(
            arn=arn,
            account=call.account,
            context_provider=value.context_provider or None,
            identity_center_instance_arn=value.instance_arn,
        )
    )
