"""S3 Object Ownership and ACLs end to end: a new bucket's ACLs disabled
(BucketOwnerEnforced), Put/Get/DeleteBucketOwnershipControls, and with
ACLs enabled (ObjectWriter, BucketOwnerPreferred, no controls) canned ACLs,
grant headers and AccessControlPolicy documents stored and answered by
GetBucketAcl / GetObjectAcl; Block Public Access's BlockPublicAcls; the
object owner as Object Ownership decides it for another account's write."""

from __future__ import annotations

import json
import socket
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from strongroom.testing import StrongroomServer, add_account

OTHER = "111111111111"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def fails(fn: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-s3acl-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts) -> Any:
    return server.client("s3", **two_accounts[1])


def new_bucket(s3: Any, **kwargs: Any) -> str:
    name = f"a-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, **kwargs)
    return name


def open_acls(s3: Any, ownership: str = "ObjectWriter") -> str:
    """A bucket with ACLs enabled and public ACLs allowed."""
    name = new_bucket(s3)
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]}
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return name


def permissions(acl: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for g in acl["Grants"]:
        grantee = g["Grantee"]
        out.append((grantee.get("URI") or grantee.get("ID"), g["Permission"]))
    return sorted(out)


def test_ownership_controls_round_trip(s3: Any) -> None:
    name = new_bucket(s3)
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    for value in ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": value}]}
        )
        got = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert got == [{"ObjectOwnership": value}]
    s3.delete_bucket_ownership_controls(Bucket=name)
    assert fails(s3.get_bucket_ownership_controls, Bucket=name) == (
        "OwnershipControlsNotFoundError",
        404,
    )
    # Without controls ACLs are enabled.
    s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration={"BlockPublicAcls": False}
    )
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert (ALL_USERS, "READ") in permissions(s3.get_bucket_acl(Bucket=name))
    # Enforcing again while the bucket ACL grants more is refused, as on AWS.
    assert fails(
        s3.put_bucket_ownership_controls,
        Bucket=name,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    ) == ("InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    assert fails(s3.get_bucket_ownership_controls, Bucket=f"nope-{uuid.uuid4().hex[:8]}")[0] == (
        "NoSuchBucket"
    )


def test_enforced_refuses_acls(s3: Any) -> None:
    name = new_bucket(s3)
    s3.put_object(Bucket=name, Key="o", Body=b"x", ACL="bucket-owner-full-control")
    for call, kwargs in (
        (s3.put_bucket_acl, {"Bucket": name, "ACL": "public-read"}),
        (s3.put_object_acl, {"Bucket": name, "Key": "o", "ACL": "public-read"}),
        (s3.put_object, {"Bucket": name, "Key": "p", "Body": b"x", "ACL": "authenticated-read"}),
        (s3.put_object_acl, {"Bucket": name, "Key": "o", "GrantRead": f'uri="{ALL_USERS}"'}),
    ):
        assert fails(call, **kwargs) == ("AccessControlListNotSupported", 400)
    acl = s3.get_object_acl(Bucket=name, Key="o")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]


def test_canned_and_granted_acls_are_kept(s3: Any) -> None:
    name = open_acls(s3)
    owner_id = s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    s3.put_object(Bucket=name, Key="pub", Body=b"x", ACL="public-read")
    assert permissions(s3.get_object_acl(Bucket=name, Key="pub")) == sorted(
        [(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ")]
    )
    s3.put_object_acl(Bucket=name, Key="pub", ACL="private")
    assert permissions(s3.get_object_acl(Bucket=name, Key="pub")) == [(owner_id, "FULL_CONTROL")]
    s3.put_object_acl(
        Bucket=name,
        Key="pub",
        GrantRead=f'uri="{ALL_USERS}"',
        GrantFullControl=f'id="{owner_id}"',
    )
    assert permissions(s3.get_object_acl(Bucket=name, Key="pub")) == sorted(
        [(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ")]
    )
    s3.put_bucket_acl(
        Bucket=name,
        AccessControlPolicy={
            "Owner": {"ID": owner_id},
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": owner_id},
                    "Permission": "FULL_CONTROL",
                },
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"},
            ],
        },
    )
    assert permissions(s3.get_bucket_acl(Bucket=name)) == sorted(
        [(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ_ACP")]
    )
    # A copy gets the ACL it asks for, never the source's.
    s3.copy_object(Bucket=name, Key="copy", CopySource=f"{name}/pub")
    assert permissions(s3.get_object_acl(Bucket=name, Key="copy")) == [(owner_id, "FULL_CONTROL")]
    # A multipart upload keeps the ACL it was created with.
    up = s3.create_multipart_upload(Bucket=name, Key="mp", ACL="authenticated-read")
    part = s3.upload_part(Bucket=name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(
        Bucket=name,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert (
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
        "READ",
    ) in permissions(s3.get_object_acl(Bucket=name, Key="mp"))
    # Bad input.
    assert fails(s3.put_object_acl, Bucket=name, Key="pub", GrantRead="nonsense")[0] == (
        "InvalidArgument"
    )
    assert fails(s3.put_bucket_acl, Bucket=name, ACL="bucket-owner-read")[0] == "InvalidArgument"
    assert fails(s3.get_object_acl, Bucket=name, Key="missing")[0] == "NoSuchKey"


def test_block_public_acls_refuses_public_ones(s3: Any) -> None:
    name = new_bucket(s3, ObjectOwnership="ObjectWriter")  # BPA on, as for every new bucket
    s3.put_object(Bucket=name, Key="o", Body=b"x", ACL="private")
    assert fails(s3.put_object_acl, Bucket=name, Key="o", ACL="public-read") == (
        "AccessDenied",
        403,
    )
    assert fails(s3.put_bucket_acl, Bucket=name, ACL="public-read-write") == ("AccessDenied", 403)
    assert fails(s3.put_object, Bucket=name, Key="p", Body=b"x", ACL="public-read")[0] == (
        "AccessDenied"
    )
    owner_id = s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    log_delivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
    s3.put_bucket_acl(  # not public
        Bucket=name,
        AccessControlPolicy={
            "Owner": {"ID": owner_id},
            "Grants": [{"Grantee": {"Type": "Group", "URI": log_delivery}, "Permission": "WRITE"}],
        },
    )
    assert permissions(s3.get_bucket_acl(Bucket=name)) == [(log_delivery, "WRITE")]
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]


def _let_them_write(s3: Any, name: str) -> None:
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                        "Action": ["s3:PutObject", "s3:GetObjectAcl"],
                        "Resource": f"arn:aws:s3:::{name}/*",
                    }
                ],
            }
        ),
    )


def test_object_owner_follows_object_ownership(s3: Any, theirs: Any) -> None:
    theirs_id = None
    for ownership, acl, expect_theirs in (
        ("ObjectWriter", "private", True),
        ("BucketOwnerPreferred", "private", True),
        ("BucketOwnerPreferred", "bucket-owner-full-control", False),
        ("BucketOwnerEnforced", "bucket-owner-full-control", False),
    ):
        name = new_bucket(s3)
        s3.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]}
        )
        _let_them_write(s3, name)
        theirs.put_object(Bucket=name, Key="k", Body=b"x", ACL=acl)
        acl_doc = theirs.get_object_acl(Bucket=name, Key="k")
        bucket_owner = s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
        if expect_theirs:
            assert acl_doc["Owner"]["ID"] != bucket_owner, ownership
            theirs_id = acl_doc["Owner"]["ID"]
        else:
            assert acl_doc["Owner"]["ID"] == bucket_owner, (ownership, acl)
        listed = s3.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"][0]["Owner"]["ID"]
        assert listed == acl_doc["Owner"]["ID"]
    assert theirs_id is not None


def test_acl_operations_refuse_other_callers(
    server: StrongroomServer, s3: Any, theirs: Any
) -> None:
    name = new_bucket(s3)
    forged = server.client("s3", secret_access_key="x" * 40)
    controls = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    for client, code in ((forged, "SignatureDoesNotMatch"), (theirs, "AccessDenied")):
        assert fails(
            client.put_bucket_ownership_controls, Bucket=name, OwnershipControls=controls
        ) == (code, 403)
        assert fails(client.delete_bucket_ownership_controls, Bucket=name) == (code, 403)
    iam = server.client("iam")
    user = "acl-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    nobody = server.client(
        "s3", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    assert fails(nobody.put_bucket_ownership_controls, Bucket=name, OwnershipControls=controls) == (
        "AccessDenied",
        403,
    )
    assert fails(nobody.delete_bucket_ownership_controls, Bucket=name) == ("AccessDenied", 403)
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_a_deleted_bucket_forgets_its_settings(s3: Any) -> None:
    name = open_acls(s3)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=name)["Grants"]] == ["FULL_CONTROL"]


# -- ACL grants decide access -------------------------------------------------------


@pytest.fixture(scope="module")
def anonymous(server: StrongroomServer) -> Any:
    """An unsigned client, as boto3 makes one for public objects."""
    return server.client("s3", config=Config(signature_version=UNSIGNED))


def test_public_read_object_is_readable_anonymously(s3: Any, anonymous: Any) -> None:
    name = open_acls(s3)
    s3.put_object(Bucket=name, Key="public", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=name, Key="private", Body=b"mine")
    assert anonymous.get_object(Bucket=name, Key="public")["Body"].read() == b"for everyone"
    assert anonymous.head_object(Bucket=name, Key="public")["ContentLength"] == 12
    assert fails(anonymous.get_object, Bucket=name, Key="private") == ("AccessDenied", 403)
    # READ on an object lets no one write it, list the bucket or read its ACL.
    assert fails(anonymous.put_object, Bucket=name, Key="public", Body=b"x") == (
        "AccessDenied",
        403,
    )
    assert fails(anonymous.list_objects_v2, Bucket=name) == ("AccessDenied", 403)
    assert fails(anonymous.get_object_acl, Bucket=name, Key="public") == ("AccessDenied", 403)
    # A bucket's public-read lets anyone list it; public-read-write write to it.
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    listed = anonymous.list_objects_v2(Bucket=name)["Contents"]
    assert sorted(o["Key"] for o in listed) == ["private", "public"]
    assert fails(anonymous.get_object, Bucket=name, Key="private") == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    anonymous.put_object(Bucket=name, Key="dropped", Body=b"anon")
    assert s3.get_object(Bucket=name, Key="dropped")["Body"].read() == b"anon"
    # An explicit Deny in the bucket policy still wins over the grant.
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{name}/public",
                    }
                ],
            }
        ),
    )
    assert fails(anonymous.get_object, Bucket=name, Key="public") == ("AccessDenied", 403)
    assert fails(s3.get_object, Bucket=name, Key="public") == ("AccessDenied", 403)


def test_authenticated_read_excludes_unsigned_callers(s3: Any, theirs: Any, anonymous: Any) -> None:
    name = open_acls(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"signed only", ACL="authenticated-read")
    assert theirs.get_object(Bucket=name, Key="k")["Body"].read() == b"signed only"
    assert fails(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)


def test_ignore_public_acls_turns_public_grants_off(
    server: StrongroomServer,
    s3: Any,
    theirs: Any,
    anonymous: Any,
    two_accounts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = open_acls(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    assert fails(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    assert fails(theirs.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    # The stored ACL is kept, only not evaluated.
    assert (ALL_USERS, "READ") in permissions(s3.get_object_acl(Bucket=name, Key="k"))
    # The account's IgnorePublicAcls (S3 Control) does the same for its buckets.
    mine = theirs
    bucket = new_bucket(mine)
    mine.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    mine.delete_public_access_block(Bucket=bucket)
    mine.put_object(Bucket=bucket, Key="k", Body=b"y", ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y"
    # boto3 sends S3 Control requests to {AccountId}.HOST: *.localhost
    # resolves to 127.0.0.1 as on most systems (not this one's).
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real(
            "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k
        ),
    )
    key = two_accounts[1]
    control = server.session(key["access_key_id"], key["secret_access_key"]).client(
        "s3control", endpoint_url=f"http://localhost:{server.port}"
    )
    control.put_public_access_block(
        AccountId=OTHER,
        PublicAccessBlockConfiguration={"IgnorePublicAcls": True},
    )
    try:
        assert fails(anonymous.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    finally:
        control.delete_public_access_block(AccountId=OTHER)
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y"


def _user_in(server: StrongroomServer, key: dict[str, str], policy: dict | None) -> Any:
    """An S3 client of a new IAM user of `key`'s account, with `policy` inline."""
    iam = server.client("iam", **key)
    user = "acl-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=user)
    if policy is not None:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    made = iam.create_access_key(UserName=user)["AccessKey"]
    return server.client(
        "s3", access_key_id=made["AccessKeyId"], secret_access_key=made["SecretAccessKey"]
    )


def test_a_grant_to_another_accounts_canonical_id(
    server: StrongroomServer, s3: Any, theirs: Any, two_accounts
) -> None:
    name = open_acls(s3)
    their_id = theirs.list_buckets()["Owner"]["ID"]
    s3.put_object(Bucket=name, Key="shared", Body=b"to them", GrantRead=f'id="{their_id}"')
    s3.put_object(Bucket=name, Key="kept", Body=b"mine")
    assert theirs.get_object(Bucket=name, Key="shared")["Body"].read() == b"to them"
    assert fails(theirs.get_object, Bucket=name, Key="kept") == ("AccessDenied", 403)
    # READ is not READ_ACP, and no grant lets them list or write the bucket.
    assert fails(theirs.get_object_acl, Bucket=name, Key="shared") == ("AccessDenied", 403)
    assert fails(theirs.list_objects_v2, Bucket=name) == ("AccessDenied", 403)
    assert fails(theirs.put_object, Bucket=name, Key="n", Body=b"x") == ("AccessDenied", 403)
    # A grant to an account delegates to it: its users need its IAM policies too.
    key = two_accounts[1]
    nobody = _user_in(server, key, None)
    reader = _user_in(
        server,
        key,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        },
    )
    assert fails(nobody.get_object, Bucket=name, Key="shared") == ("AccessDenied", 403)
    assert reader.get_object(Bucket=name, Key="shared")["Body"].read() == b"to them"
    assert fails(reader.get_object, Bucket=name, Key="kept") == ("AccessDenied", 403)
    # The bucket's ACL: READ lists it, WRITE writes to it, READ_ACP reads its ACL.
    s3.put_bucket_acl(
        Bucket=name,
        GrantFullControl=f'id="{s3.list_buckets()["Owner"]["ID"]}"',
        GrantRead=f'id="{their_id}"',
        GrantWrite=f'id="{their_id}"',
        GrantReadACP=f'id="{their_id}"',
    )
    assert {o["Key"] for o in theirs.list_objects_v2(Bucket=name)["Contents"]} == {
        "shared",
        "kept",
    }
    theirs.put_object(Bucket=name, Key="theirs", Body=b"written")
    assert theirs.get_object(Bucket=name, Key="theirs")["Body"].read() == b"written"
    assert their_id in {
        g["Grantee"].get("ID") for g in theirs.get_bucket_acl(Bucket=name)["Grants"]
    }
    assert fails(theirs.put_bucket_acl, Bucket=name, ACL="private") == ("AccessDenied", 403)
    # The object they wrote is theirs (ObjectWriter): its ACL gives them
    # FULL_CONTROL, so READ_ACP and WRITE_ACP on it.
    theirs.put_object_acl(Bucket=name, Key="theirs", ACL="bucket-owner-read")
    granted = permissions(theirs.get_object_acl(Bucket=name, Key="theirs"))
    assert (their_id, "FULL_CONTROL") in granted
    assert fails(theirs.get_object_acl, Bucket=name, Key="kept") == ("AccessDenied", 403)
    # An explicit Deny in the bucket policy wins over every grant.
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{name}/shared",
                    }
                ],
            }
        ),
    )
    assert fails(theirs.get_object, Bucket=name, Key="shared") == ("AccessDenied", 403)
    assert fails(reader.get_object, Bucket=name, Key="shared") == ("AccessDenied", 403)
    # A forged signature is refused before any ACL is read.
    forged = server.client("s3", access_key_id=key["access_key_id"], secret_access_key="x" * 40)
    assert fails(forged.list_objects_v2, Bucket=name) == ("SignatureDoesNotMatch", 403)


def test_bucket_owner_enforced_ignores_stored_acls(s3: Any, theirs: Any, anonymous: Any) -> None:
    name = open_acls(s3)
    their_id = theirs.list_buckets()["Owner"]["ID"]
    s3.put_object(Bucket=name, Key="public", Body=b"p", ACL="public-read")
    s3.put_object(Bucket=name, Key="shared", Body=b"s", GrantRead=f'id="{their_id}"')
    assert anonymous.get_object(Bucket=name, Key="public")["Body"].read() == b"p"
    assert theirs.get_object(Bucket=name, Key="shared")["Body"].read() == b"s"
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=enforced)
    assert fails(anonymous.get_object, Bucket=name, Key="public") == ("AccessDenied", 403)
    assert fails(theirs.get_object, Bucket=name, Key="shared") == ("AccessDenied", 403)
    assert s3.get_object(Bucket=name, Key="public")["Body"].read() == b"p"
    # ACLs enabled again: the ACLs kept apply again, as on AWS.
    writer = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=writer)
    assert anonymous.get_object(Bucket=name, Key="public")["Body"].read() == b"p"


def test_the_trail_records_callers_an_acl_let_in(
    server: StrongroomServer, s3: Any, theirs: Any, anonymous: Any, two_accounts
) -> None:
    name = open_acls(s3)
    their_id = theirs.list_buckets()["Owner"]["ID"]
    s3.put_bucket_acl(
        Bucket=name,
        GrantFullControl=f'id="{s3.list_buckets()["Owner"]["ID"]}"',
        GrantReadACP=f'id="{their_id}", uri="{ALL_USERS}"',
    )
    theirs.get_bucket_acl(Bucket=name)
    anonymous.get_bucket_acl(Bucket=name)
    arn = f"arn:aws:s3:::{name}"
    lookup = [{"AttributeKey": "ResourceName", "AttributeValue": arn}]

    def acl_reads(trail: Any) -> list[dict[str, Any]]:
        events = trail.lookup_events(LookupAttributes=lookup)["Events"]
        return [
            json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "GetBucketAcl"
        ]

    their_events = acl_reads(server.client("cloudtrail", **two_accounts[1]))
    assert [e["userIdentity"]["accountId"] for e in their_events] == [OTHER]
    assert their_events[0]["userIdentity"]["type"] == "Root"
    owner_events = acl_reads(server.client("cloudtrail"))
    assert [e["userIdentity"]["type"] for e in owner_events] == ["AWSAccount"]
    assert all("errorCode" not in e for e in their_events + owner_events)
    # An unsigned call is in the bucket owner's trail, whichever account that is.
    bucket = new_bucket(theirs)
    theirs.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    theirs.delete_public_access_block(Bucket=bucket)
    theirs.put_bucket_acl(
        Bucket=bucket, GrantFullControl=f'id="{their_id}"', GrantReadACP=f'uri="{ALL_USERS}"'
    )
    anonymous.get_bucket_acl(Bucket=bucket)
    lookup = [{"AttributeKey": "ResourceName", "AttributeValue": f"arn:aws:s3:::{bucket}"}]
    events = acl_reads(server.client("cloudtrail", **two_accounts[1]))
    assert [(e["userIdentity"]["type"], e["recipientAccountId"]) for e in events] == [
        ("AWSAccount", OTHER)
    ]


def test_a_public_bucket_policy_lets_unsigned_callers_in(s3: Any, anonymous: Any) -> None:
    name = new_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"policy-public")
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
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
        ),
    )
    # RestrictPublicBuckets: a public policy lets in only the owner's account.
    assert fails(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"policy-public"
    assert fails(anonymous.delete_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    assert fails(anonymous.list_buckets) == ("AccessDenied", 403)
    assert fails(anonymous.create_bucket, Bucket=f"anon-{uuid.uuid4().hex[:8]}") == (
        "AccessDenied",
        403,
    )
