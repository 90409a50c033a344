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

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.auth import federation
from strongroom.framework import Call
from strongroom.services.iam.common import iam_arn, when
from strongroom.services.iam.tables import oidc_providers, saml_providers

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
        return out


def oidc_arn(account: str, url: str) -> str:
    return iam_arn(account, "oidc-provider", "/", url)


def _oidc_from_row(row: Any) -> OidcProvider:
    return OidcProvider(
        arn=row.arn,
        account=row.account,
        url=row.url,
        client_ids=orjson.loads(row.client_ids),
        thumbprints=orjson.loads(row.thumbprints),
        created=row.created,
        tags=orjson.loads(row.tags or "[]"),
    )


def normalize_url(call: Call, url: str) -> str:
    """The issuer URL without its scheme, or InvalidInput as IAM answers."""
    errors = call.service.errors
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise errors.InvalidInputException("Invalid Url: URL must begin with https://")
    rest = url[len("https://") :]
    if any(c in rest for c in "?#") or any(c.isspace() for c in rest) or rest.startswith("/"):
        raise errors.InvalidInputException(f"Invalid Url: {url}")
    return rest


def check_thumbprints(call: Call, thumbprints: list[str]) -> list[str]:
    errors = call.service.errors
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
        raise call.service.errors.LimitExceededException(
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
        )
    return unique


def oidc_by_arn(conn: Connection, arn: str) -> OidcProvider | None:
    row = conn.execute(select(oidc_providers).where(oidc_providers.c.arn == arn)).first()
    return _oidc_from_row(row) if row else None


def oidc_by_url(conn: Connection, account: str, url: str) -> OidcProvider | None:
    """The provider of `account` whose issuer is `url` (``https://…``), or None."""
    if not url.startswith("https://"):
        return None
    return oidc_by_arn(conn, oidc_arn(account, url[len("https://") :]))


def resolve_oidc(call: Call, arn: str) -> OidcProvider:
    provider = oidc_by_arn(call.conn, arn)
    if provider is None or provider.account != call.account:
        raise call.service.errors.NoSuchEntityException(
            f"OpenIDConnect Provider not found for arn {arn}"
        )
    return provider


def list_oidc(conn: Connection, account: str) -> list[OidcProvider]:
    rows = conn.execute(
        select(oidc_providers)
        .where(oidc_providers.c.account == account)
        .order_by(oidc_providers.c.arn)
    ).all()
    return [_oidc_from_row(r) for r in rows]


def create_oidc(
    call: Call,
    url: str,
    client_ids: list[str],
    thumbprints: list[str],
    tags: list[dict[str, str]],
) -> OidcProvider:
    errors = call.service.errors
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
            client_ids=orjson.dumps(client_ids).decode(),
            thumbprints=orjson.dumps(thumbprints).decode(),
            created=now,
            tags=orjson.dumps(tags).decode(),
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
    values: dict[str, str] = {}
    if client_ids is not None:
        values["client_ids"] = orjson.dumps(client_ids).decode()
    if thumbprints is not None:
        values["thumbprints"] = orjson.dumps(thumbprints).decode()
    if tags is not None:
        values["tags"] = orjson.dumps(tags).decode()
    call.conn.execute(
        update(oidc_providers).where(oidc_providers.c.arn == provider.arn).values(**values)
    )


def delete_oidc(call: Call, provider: OidcProvider) -> None:
    call.conn.execute(delete(oidc_providers).where(oidc_providers.c.arn == provider.arn))


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
        return out

    def to_list_entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Arn": self.arn, "CreateDate": when(self.created)}
        if self.valid_until is not None:
            out["ValidUntil"] = when(self.valid_until)
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
        tags=orjson.loads(row.tags or "[]"),
    )


def parse_metadata(call: Call, document: str) -> federation.SamlMetadata:
    """The IdP's entity id, signing certificates and validUntil, or InvalidInput."""
    try:
        return federation.parse_saml_metadata(document)
    except federation.FederationError:
        raise call.service.errors.InvalidInputException("Could not parse metadata") from None


def saml_by_arn(conn: Connection, arn: str) -> SamlProvider | None:
    row = conn.execute(select(saml_providers).where(saml_providers.c.arn == arn)).first()
    return _saml_from_row(row) if row else None


def resolve_saml(call: Call, arn: str) -> SamlProvider:
    provider = saml_by_arn(call.conn, arn)
    if provider is None or provider.account != call.account:
        raise call.service.errors.NoSuchEntityException(f"Manifest not found for arn {arn}")
    return provider


def list_saml(conn: Connection, account: str) -> list[SamlProvider]:
    rows = conn.execute(
        select(saml_providers)
        .where(saml_providers.c.account == account)
        .order_by(saml_providers.c.arn)
    ).all()
    return [_saml_from_row(r) for r in rows]


def create_saml(call: Call, name: str, document: str, tags: list[dict[str, str]]) -> SamlProvider:
    errors = call.service.errors
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
            tags=orjson.dumps(tags).decode(),
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
        values["tags"] = orjson.dumps(tags).decode()
    if values:
        call.conn.execute(
            update(saml_providers).where(saml_providers.c.arn == provider.arn).values(**values)
        )


def delete_saml(call: Call, provider: SamlProvider) -> None:
    call.conn.execute(delete(saml_providers).where(saml_providers.c.arn == provider.arn))
