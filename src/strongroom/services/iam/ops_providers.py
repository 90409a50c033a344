"""IAM operations on identity providers: OpenID Connect and SAML."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import providers as model
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page_out,
    remove_tags,
    tag_context,
)
from strongroom.services.iam.service import errors, service

# -- OpenID Connect ---------------------------------------------------------


@service.operation(authorize=False)
def create_OpenIDConnect_provider(
    call: Call,
    Url: str,
    ClientIDList: list[str] | None = None,
    ThumbprintList: list[str] | None = None,
    Tags: list[dict[str, str]] | None = None,
    ContextProvider: dict[str, Any] | None = None,
    IdentityCenterInstanceArn: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    url = model.normalize_url(call, Url)
    arn = model.oidc_arn(call.account, url)
    call.authorize("iam:CreateOpenIDConnectProvider", arn, tag_context(Tags))
    tags = check_new_tags(call, Tags or [])
    client_ids = model.check_client_ids(call, ClientIDList or [])
    thumbprints = model.check_thumbprints(call, ThumbprintList or [])
    propagation = model.new_propagation(call, ContextProvider, IdentityCenterInstanceArn)
    provider = model.create_oidc(call, url, client_ids, thumbprints, tags)
    model.put_propagation(call, provider.arn, propagation)
    call.audit_resource(provider.arn, "AWS::IAM::OIDCProvider")
    out: dict[str, Any] = {"OpenIDConnectProviderArn": provider.arn}
    if tags:
        out["Tags"] = tags
    return out


@service.operation(authorize=False)
def get_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:GetOpenIDConnectProvider", OpenIDConnectProviderArn)
    return model.resolve_oidc(call, OpenIDConnectProviderArn).to_output()


@service.operation(authorize=False)
def list_OpenIDConnect_providers(call: Call, **_: Any) -> dict[str, Any]:
    call.authorize("iam:ListOpenIDConnectProviders", "*")
    found = model.list_oidc(call.conn, call.account)
    return {"OpenIDConnectProviderList": [p.to_list_entry() for p in found]}


@service.operation(authorize=False)
def delete_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:DeleteOpenIDConnectProvider", OpenIDConnectProviderArn)
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    model.delete_oidc(call, provider)
    call.audit_resource(provider.arn, "AWS::IAM::OIDCProvider")
    return {}


@service.operation(authorize=False)
def update_OpenIDConnect_provider_thumbprint(
    call: Call, OpenIDConnectProviderArn: str, ThumbprintList: list[str], **_: Any
) -> dict[str, Any]:
    call.authorize("iam:UpdateOpenIDConnectProviderThumbprint", OpenIDConnectProviderArn)
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    model.update_oidc(call, provider, thumbprints=model.check_thumbprints(call, ThumbprintList))
    return {}


@service.operation(authorize=False)
def add_ClientID_to_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, ClientID: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn)
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    if ClientID not in provider.client_ids:  # adding one already there is a no-op, as in AWS
        ids = model.check_client_ids(call, [*provider.client_ids, ClientID])
        model.update_oidc(call, provider, client_ids=ids)
    return {}


@service.operation(authorize=False)
def remove_ClientID_from_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, ClientID: str, **_: Any
) -> dict[str, Any]:
    call.authorize("iam:RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn)
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    if ClientID in provider.client_ids:  # removing one not there is a no-op, as in AWS
        ids = [c for c in provider.client_ids if c != ClientID]
        model.update_oidc(call, provider, client_ids=ids)
    return {}


@service.operation(authorize=False)
def tag_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, Tags: list[dict[str, str]], **_: Any
) -> dict[str, Any]:
    call.authorize("iam:TagOpenIDConnectProvider", OpenIDConnectProviderArn, tag_context(Tags))
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    tags = merge_tags(call, provider.tags, check_new_tags(call, Tags), "OpenIDConnectProvider")
    model.update_oidc(call, provider, tags=tags)
    return {}


@service.operation(authorize=False)
def untag_OpenIDConnect_provider(
    call: Call, OpenIDConnectProviderArn: str, TagKeys: list[str], **_: Any
) -> dict[str, Any]:
    call.authorize(
        "iam:UntagOpenIDConnectProvider",
        OpenIDConnectProviderArn,
        tag_context(None, TagKeys),
    )
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    model.update_oidc(call, provider, tags=remove_tags(provider.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_OpenIDConnect_provider_tags(
    call: Call,
    OpenIDConnectProviderArn: str,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListOpenIDConnectProviderTags", OpenIDConnectProviderArn)
    provider = model.resolve_oidc(call, OpenIDConnectProviderArn)
    return page_out(call, "Tags", provider.tags, Marker, MaxItems)


# -- SAML -------------------------------------------------------------------


@service.operation(authorize=False)
def create_SAML_provider(
    call: Call,
    SAMLMetadataDocument: str,
    Name: str,
    Tags: list[dict[str, str]] | None = None,
    AssertionEncryptionMode: str | None = None,
    AddPrivateKey: str | None = None,
    ContextProvider: dict[str, Any] | None = None,
    IdentityCenterInstanceArn: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    arn = model.saml_arn(call.account, Name)
    call.authorize("iam:CreateSAMLProvider", arn, tag_context(Tags))
    if AddPrivateKey is not None or AssertionEncryptionMode == "Required":
        raise errors.InvalidInputException(
            "Encrypted SAML assertions are not supported by this server."
        )
    tags = check_new_tags(call, Tags or [])
    propagation = model.new_propagation(call, ContextProvider, IdentityCenterInstanceArn)
    provider = model.create_saml(call, Name, SAMLMetadataDocument, tags)
    model.put_propagation(call, provider.arn, propagation)
    call.audit_resource(provider.arn, "AWS::IAM::SAMLProvider")
    out: dict[str, Any] = {"SAMLProviderArn": provider.arn}
    if tags:
        out["Tags"] = tags
    return out


@service.operation(authorize=False)
def get_SAML_provider(call: Call, SAMLProviderArn: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:GetSAMLProvider", SAMLProviderArn)
    return model.resolve_saml(call, SAMLProviderArn).to_output()


@service.operation(authorize=False)
def list_SAML_providers(call: Call, **_: Any) -> dict[str, Any]:
    call.authorize("iam:ListSAMLProviders", "*")
    found = model.list_saml(call.conn, call.account)
    return {"SAMLProviderList": [p.to_list_entry() for p in found]}


@service.operation(authorize=False)
def update_SAML_provider(
    call: Call,
    SAMLProviderArn: str,
    SAMLMetadataDocument: str | None = None,
    AssertionEncryptionMode: str | None = None,
    AddPrivateKey: str | None = None,
    RemovePrivateKey: str | None = None,
    ContextProvider: dict[str, Any] | None = None,
    IdentityCenterInstanceArn: str | None = None,
    RemoveContextProvider: bool = False,
    RemoveIdentityCenterInstance: bool = False,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:UpdateSAMLProvider", SAMLProviderArn)
    provider = model.resolve_saml(call, SAMLProviderArn)
    if AddPrivateKey is not None or AssertionEncryptionMode == "Required":
        raise errors.InvalidInputException(
            "Encrypted SAML assertions are not supported by this server."
        )
    propagation = model.updated_propagation(
        call,
        provider.context,
        ContextProvider,
        RemoveContextProvider,
        IdentityCenterInstanceArn,
        RemoveIdentityCenterInstance,
    )
    model.update_saml(call, provider, document=SAMLMetadataDocument)
    if propagation != provider.context:
        model.put_propagation(call, provider.arn, propagation)
    return {"SAMLProviderArn": provider.arn}


@service.operation(authorize=False)
def delete_SAML_provider(call: Call, SAMLProviderArn: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:DeleteSAMLProvider", SAMLProviderArn)
    provider = model.resolve_saml(call, SAMLProviderArn)
    model.delete_saml(call, provider)
    call.audit_resource(provider.arn, "AWS::IAM::SAMLProvider")
    return {}


@service.operation(authorize=False)
def tag_SAML_provider(
    call: Call, SAMLProviderArn: str, Tags: list[dict[str, str]], **_: Any
) -> dict[str, Any]:
    call.authorize("iam:TagSAMLProvider", SAMLProviderArn, tag_context(Tags))
    provider = model.resolve_saml(call, SAMLProviderArn)
    tags = merge_tags(call, provider.tags, check_new_tags(call, Tags), "SAMLProvider")
    model.update_saml(call, provider, tags=tags)
    return {}


@service.operation(authorize=False)
def untag_SAML_provider(
    call: Call, SAMLProviderArn: str, TagKeys: list[str], **_: Any
) -> dict[str, Any]:
    call.authorize("iam:UntagSAMLProvider", SAMLProviderArn, tag_context(None, TagKeys))
    provider = model.resolve_saml(call, SAMLProviderArn)
    model.update_saml(call, provider, tags=remove_tags(provider.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_SAML_provider_tags(
    call: Call,
    SAMLProviderArn: str,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListSAMLProviderTags", SAMLProviderArn)
    provider = model.resolve_saml(call, SAMLProviderArn)
    return page_out(call, "Tags", provider.tags, Marker, MaxItems)
