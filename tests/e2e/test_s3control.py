"""S3 Control's account-level Block Public Access end to end with boto3:
Get/Put/DeletePublicAccessBlock (the host-prefixed URL boto3 builds,
``{AccountId}.localhost``, and a request with the account in its header only), each refused
to a forged signature, an IAM user without the permission and another
account's id; and S3 combining the account's settings with each bucket's
(a public bucket policy refused, a public policy restricted to the owner,
a public ACL refused)."""

from __future__ import annotations

import http.client
import json
import socket
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"
OPEN = {
    "BlockPublicAcls": False,
    "IgnorePublicAcls": False,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}


def fails(fn: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-s3control-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(autouse=True)
def localhost_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.localhost`` resolves to 127.0.0.1 as on most systems (not this one's)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def control(server: StrongroomServer, **kwargs: Any) -> Any:
    """An s3control client as boto3 makes one: its requests go to
    ``http://{AccountId}.localhost:PORT/v20180820/...``."""
    session = server.session(kwargs.get("access_key_id"), kwargs.get("secret_access_key"))
    return session.client(
        "s3control",
        endpoint_url=f"http://localhost:{server.port}",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


def test_host_prefixed_requests_round_trip(server: StrongroomServer) -> None:
    ctl = control(server)
    sent: list[str] = []
    ctl.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    assert fails(ctl.get_public_access_block, AccountId=OWNER) == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    assert sent[0].startswith(f"http://{OWNER}.localhost:{server.port}/v20180820/")
    config = {**OPEN, "BlockPublicPolicy": True}
    ctl.put_public_access_block(AccountId=OWNER, PublicAccessBlockConfiguration=config)
    got = ctl.get_public_access_block(AccountId=OWNER)["PublicAccessBlockConfiguration"]
    assert got == config
    ctl.delete_public_access_block(AccountId=OWNER)
    assert fails(ctl.get_public_access_block, AccountId=OWNER)[0] == (
        "NoSuchPublicAccessBlockConfiguration"
    )


def test_without_the_host_prefix(server: StrongroomServer) -> None:
    """A client that does not put the account in the host name (botocore's
    endpoint rules always do): the x-amz-account-id header names it."""
    host = f"127.0.0.1:{server.port}"
    url = f"http://{host}/v20180820/configuration/publicAccessBlock"
    body = (
        b'<PublicAccessBlockConfiguration xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
        b"<BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>"
    )
    creds = Credentials(server.access_key_id, server.secret_access_key)
    for method, data, expected in (("PUT", body, 200), ("GET", b"", 200), ("DELETE", b"", 200)):
        req = AWSRequest(method=method, url=url, data=data, headers={"x-amz-account-id": OWNER})
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(method, url.split(host, 1)[1], body=data, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        text = resp.read()
        assert resp.status == expected, text
        if method == "GET":
            assert b"<BlockPublicAcls>true</BlockPublicAcls>" in text
            assert b"<BlockPublicPolicy>false</BlockPublicPolicy>" in text


def test_refused_callers(server: StrongroomServer, two_accounts) -> None:
    config = {**OPEN, "RestrictPublicBuckets": True}
    forged = control(server, secret_access_key="x" * 40)
    theirs = control(server, **two_accounts[1])
    iam = server.client("iam")
    name = "ctl-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    nobody = control(
        server, access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    for client, code in (
        (forged, "SignatureDoesNotMatch"),
        (nobody, "AccessDenied"),
        (theirs, "AccessDenied"),  # another account's id
    ):
        assert fails(client.get_public_access_block, AccountId=OWNER) == (code, 403)
        assert fails(
            client.put_public_access_block, AccountId=OWNER, PublicAccessBlockConfiguration=config
        ) == (code, 403)
        assert fails(client.delete_public_access_block, AccountId=OWNER) == (code, 403)
    # Their own account's settings are theirs, and not ours.
    theirs.put_public_access_block(AccountId=OTHER, PublicAccessBlockConfiguration=config)
    assert theirs.get_public_access_block(AccountId=OTHER)["PublicAccessBlockConfiguration"] == (
        config
    )
    assert fails(control(server).get_public_access_block, AccountId=OWNER)[0] == (
        "NoSuchPublicAccessBlockConfiguration"
    )
    theirs.delete_public_access_block(AccountId=OTHER)
    # An IAM user allowed the actions may use them.
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "s3:GetAccountPublicAccessBlock",
                            "s3:PutAccountPublicAccessBlock",
                        ],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    nobody.put_public_access_block(AccountId=OWNER, PublicAccessBlockConfiguration=config)
    assert nobody.get_public_access_block(AccountId=OWNER)["PublicAccessBlockConfiguration"] == (
        config
    )
    nobody.delete_public_access_block(AccountId=OWNER)


def _open_bucket(s3: Any) -> str:
    name = f"c-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=OPEN)
    return name


def _public_policy(name: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{name}/*",
                }
            ],
        }
    )


def test_account_settings_combine_with_the_buckets(
    server: StrongroomServer, s3: Any, two_accounts
) -> None:
    ctl = control(server)
    name = _open_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"public")
    theirs = server.client("s3", **two_accounts[1])
    try:
        # BlockPublicPolicy at the account level refuses a public policy the
        # bucket's own settings allow.
        ctl.put_public_access_block(
            AccountId=OWNER, PublicAccessBlockConfiguration={**OPEN, "BlockPublicPolicy": True}
        )
        assert fails(s3.put_bucket_policy, Bucket=name, Policy=_public_policy(name)) == (
            "AccessDenied",
            403,
        )
        ctl.delete_public_access_block(AccountId=OWNER)
        s3.put_bucket_policy(Bucket=name, Policy=_public_policy(name))
        assert theirs.get_object(Bucket=name, Key="k")["Body"].read() == b"public"
        # RestrictPublicBuckets at the account level: the public policy lets
        # in only the owner's account.
        ctl.put_public_access_block(
            AccountId=OWNER,
            PublicAccessBlockConfiguration={**OPEN, "RestrictPublicBuckets": True},
        )
        assert fails(theirs.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"public"
        # Another account's settings do not touch our buckets.
        their_ctl = control(server, **two_accounts[1])
        ctl.delete_public_access_block(AccountId=OWNER)
        their_ctl.put_public_access_block(
            AccountId=OTHER,
            PublicAccessBlockConfiguration={**OPEN, "RestrictPublicBuckets": True},
        )
        assert theirs.get_object(Bucket=name, Key="k")["Body"].read() == b"public"
        their_ctl.delete_public_access_block(AccountId=OTHER)
        # BlockPublicAcls at the account level refuses a public ACL.
        s3.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
        s3.put_object_acl(Bucket=name, Key="k", ACL="public-read")
        ctl.put_public_access_block(
            AccountId=OWNER, PublicAccessBlockConfiguration={**OPEN, "BlockPublicAcls": True}
        )
        assert fails(s3.put_object_acl, Bucket=name, Key="k", ACL="public-read") == (
            "AccessDenied",
            403,
        )
        s3.put_object_acl(Bucket=name, Key="k", ACL="private")
    finally:
        ctl.delete_public_access_block(AccountId=OWNER)


def test_other_s3_control_operations_are_not_implemented(server: StrongroomServer) -> None:
    ctl = control(server)
    assert fails(ctl.list_access_points, AccountId=OWNER) == ("NotImplemented", 501)
