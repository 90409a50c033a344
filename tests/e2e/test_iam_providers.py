"""IAM OpenID Connect and SAML identity providers end to end with boto3:
ARNs, round trips, limits and AWS's errors, and who may manage them."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from idp import metadata

from strongroom.testing import StrongroomServer, add_account

ACCOUNT = "000000000000"
OTHER = "111111111111"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(*args, **kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


@pytest.fixture(scope="module")
def iam(server: StrongroomServer) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def raw_iam(server: StrongroomServer) -> Any:
    from botocore.config import Config

    return server.client(
        "iam", config=Config(retries={"max_attempts": 1}, parameter_validation=False)
    )


# -- OpenID Connect ---------------------------------------------------------


def test_oidc_provider_round_trip(iam: Any) -> None:
    host = f"{uid('oidc')}.example.com/id/ABC"
    out = iam.create_open_id_connect_provider(
        Url=f"https://{host}",
        ClientIDList=["sts.amazonaws.com", "app"],
        ThumbprintList=[THUMB.upper()],
        Tags=[{"Key": "team", "Value": "db"}],
    )
    arn = out["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    assert out["Tags"] == [{"Key": "team", "Value": "db"}]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host
    assert got["ClientIDList"] == ["sts.amazonaws.com", "app"]
    assert got["ThumbprintList"] == [THUMB]
    assert isinstance(got["CreateDate"], dt.datetime)
    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.remove_client_id_from_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, ClientID="never-there"
    )
    other = "a" * 40
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=[other]
    )
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["sts.amazonaws.com", "x"]
    assert got["ThumbprintList"] == [other]

    iam.tag_open_id_connect_provider(
        OpenIDConnectProviderArn=arn,
        Tags=[{"Key": "TEAM", "Value": "web"}, {"Key": "b", "Value": "1"}],
    )
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "TEAM", "Value": "web"}, {"Key": "b", "Value": "1"}]
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "b", "Value": "1"}]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    code, status, message = fails(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == f"OpenIDConnect Provider not found for arn {arn}"
    assert fails(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)[:2] == (
        "NoSuchEntity",
        404,
    )


def test_oidc_provider_errors(iam: Any, raw_iam: Any) -> None:
    host = f"{uid('dup')}.example.com"
    iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=[THUMB])
    code, status, message = fails(
        iam.create_open_id_connect_provider, Url=f"https://{host}", ThumbprintList=[THUMB]
    )
    assert (code, status) == ("EntityAlreadyExists", 409)
    assert message == f"Provider with url https://{host} already exists."
    # Not normalized: another case or a trailing slash is another provider (as in AWS).
    iam.create_open_id_connect_provider(Url=f"https://{host}/", ThumbprintList=[THUMB])

    assert fails(iam.create_open_id_connect_provider, Url="http://plain.example.com")[:2] == (
        "InvalidInput",
        400,
    )
    assert fails(iam.create_open_id_connect_provider, Url="https://q.example.com/?a=b")[:2] == (
        "InvalidInput",
        400,
    )
    code, status, _ = fails(
        raw_iam.create_open_id_connect_provider,
        Url=f"https://{uid('t')}.example.com",
        ThumbprintList=["abc"],
    )
    assert (code, status) == ("ValidationError", 400)
    code, status, _ = fails(
        raw_iam.create_open_id_connect_provider,
        Url=f"https://{uid('t')}.example.com",
        ThumbprintList=["z" * 40],
    )
    assert (code, status) == ("InvalidInput", 400)
    code, status, message = fails(
        iam.create_open_id_connect_provider,
        Url=f"https://{uid('t')}.example.com",
        ThumbprintList=[f"{i:040x}" for i in range(6)],
    )
    assert (code, status) == ("LimitExceeded", 409)
    assert message == "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5"
    code, status, _ = fails(
        iam.create_open_id_connect_provider,
        Url=f"https://{uid('t')}.example.com",
        ClientIDList=[f"c{i}" for i in range(101)],
    )
    assert (code, status) == ("LimitExceeded", 409)
    code, status, _ = fails(
        iam.create_open_id_connect_provider,
        Url=f"https://{uid('t')}.example.com",
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}],
    )
    assert (code, status) == ("InvalidInput", 400)
    missing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/nope.example.com"
    for fn, extra in (
        (iam.get_open_id_connect_provider, {}),
        (iam.add_client_id_to_open_id_connect_provider, {"ClientID": "a"}),
        (iam.update_open_id_connect_provider_thumbprint, {"ThumbprintList": [THUMB]}),
        (iam.list_open_id_connect_provider_tags, {}),
    ):
        assert fails(fn, OpenIDConnectProviderArn=missing, **extra)[:2] == ("NoSuchEntity", 404)
    # Wrong types never reach the operation.
    code, status, _ = fails(raw_iam.create_open_id_connect_provider, Url=5)
    assert status == 400
    code, status, _ = fails(raw_iam.create_open_id_connect_provider)
    assert (code, status) == ("ValidationError", 400)


# -- SAML -------------------------------------------------------------------


def test_saml_provider_round_trip(iam: Any) -> None:
    name = uid("saml")
    document = metadata()
    out = iam.create_saml_provider(
        Name=name, SAMLMetadataDocument=document, Tags=[{"Key": "k", "Value": "v"}]
    )
    arn = out["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == document
    assert got["ValidUntil"] == dt.datetime(2049, 1, 1, tzinfo=dt.UTC)
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}
    assert listed[arn]["ValidUntil"] == dt.datetime(2049, 1, 1, tzinfo=dt.UTC)

    newer = metadata("2050-06-01T00:00:00Z")
    out = iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=newer)
    assert out["SAMLProviderArn"] == arn
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == newer
    assert got["ValidUntil"] == dt.datetime(2050, 6, 1, tzinfo=dt.UTC)

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "x", "Value": "y"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["K"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "x", "Value": "y"}]
    iam.delete_saml_provider(SAMLProviderArn=arn)
    assert fails(iam.get_saml_provider, SAMLProviderArn=arn)[:2] == ("NoSuchEntity", 404)


def test_saml_provider_errors(iam: Any, raw_iam: Any) -> None:
    name = uid("saml")
    iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata())
    assert fails(iam.create_saml_provider, Name=name, SAMLMetadataDocument=metadata())[:2] == (
        "EntityAlreadyExists",
        409,
    )
    not_xml = "x" * 1200
    assert fails(iam.create_saml_provider, Name=uid("s"), SAMLMetadataDocument=not_xml)[:2] == (
        "InvalidInput",
        400,
    )
    entities = (
        '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>' + metadata().split("?>", 1)[1]
    )
    assert fails(iam.create_saml_provider, Name=uid("s"), SAMLMetadataDocument=entities)[:2] == (
        "InvalidInput",
        400,
    )
    no_cert = metadata().replace('use="signing"', 'use="encryption"')
    assert fails(iam.create_saml_provider, Name=uid("s"), SAMLMetadataDocument=no_cert)[:2] == (
        "InvalidInput",
        400,
    )
    code, status, _ = fails(raw_iam.create_saml_provider, Name=uid("s"), SAMLMetadataDocument="x")
    assert (code, status) == ("ValidationError", 400)
    missing = f"arn:aws:iam::{ACCOUNT}:saml-provider/missing"
    assert fails(iam.delete_saml_provider, SAMLProviderArn=missing)[:2] == ("NoSuchEntity", 404)


# -- who may manage providers ---------------------------------------------------------


def new_user(server: StrongroomServer, account_iam: Any | None = None) -> tuple[str, dict]:
    iam = account_iam or server.client("iam")
    name = uid("u")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def test_provider_operations_need_permission(server: StrongroomServer, iam: Any) -> None:
    host = f"{uid('perm')}.example.com"
    arn = iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=[THUMB])[
        "OpenIDConnectProviderArn"
    ]
    name, creds = new_user(server)
    as_user = server.client("iam", **creds)
    code, status, message = fails(
        as_user.get_open_id_connect_provider, OpenIDConnectProviderArn=arn
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:GetOpenIDConnectProvider on resource: {arn}" in message
    assert fails(as_user.list_saml_providers)[:2] == ("AccessDenied", 403)
    assert fails(as_user.create_open_id_connect_provider, Url=f"https://{uid('x')}.example.com")[
        :2
    ] == ("AccessDenied", 403)
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:GetOpenIDConnectProvider", "Resource": arn}
                ],
            }
        ),
    )
    assert as_user.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["Url"] == host


def test_forged_signature_is_refused(server: StrongroomServer) -> None:
    forged = server.client("iam", access_key_id=server.access_key_id, secret_access_key="x" * 40)
    code, status, _ = fails(forged.list_open_id_connect_providers)
    assert (code, status) == ("SignatureDoesNotMatch", 403)


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    """A server whose data directory holds a second account (111111111111)."""
    with tempfile.TemporaryDirectory(prefix="strongroom-idp-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as srv:
            yield srv, other


def test_other_account_sees_nothing(two_accounts: tuple[StrongroomServer, dict]) -> None:
    srv, other_root = two_accounts
    iam = srv.client("iam")
    host = f"{uid('iso')}.example.com"
    arn = iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=[THUMB])[
        "OpenIDConnectProviderArn"
    ]
    saml = iam.create_saml_provider(Name=uid("iso"), SAMLMetadataDocument=metadata())[
        "SAMLProviderArn"
    ]
    other = srv.client("iam", **other_root)
    listed = other.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert arn not in [p["Arn"] for p in listed]
    assert saml not in [p["Arn"] for p in other.list_saml_providers()["SAMLProviderList"]]
    for fn, kw in (
        (other.get_open_id_connect_provider, {"OpenIDConnectProviderArn": arn}),
        (other.delete_open_id_connect_provider, {"OpenIDConnectProviderArn": arn}),
        (other.get_saml_provider, {"SAMLProviderArn": saml}),
        (other.delete_saml_provider, {"SAMLProviderArn": saml}),
    ):
        assert fails(fn, **kw)[:2] == ("NoSuchEntity", 404)
    # The same URL is free to register in the other account: another ARN.
    mine = other.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=[THUMB])
    assert mine["OpenIDConnectProviderArn"] == f"arn:aws:iam::{OTHER}:oidc-provider/{host}"
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["Url"] == host
