"""S3 authorization end to end: each operation family refused to a forged
signature, to an IAM user with no policy and to another account; bucket
policies evaluated with identity policies (cross-account needs both
sides), with S3's resources and condition keys."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests
from botocore import xform_name

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-s3-") as data_dir:
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


def new_user(server: StrongroomServer, policy: dict | None = None) -> tuple[str, Any]:
    iam = server.client("iam")
    name = "s3u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client(
        "s3", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


@pytest.fixture(scope="module")
def target(s3: Any) -> dict[str, str]:
    name = f"authz-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=b"owner only")
    upload = s3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    return {"bucket": name, "upload": upload}


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::BUCKET/*",
            }
        ],
    }
)

#: One call per operation, on the owner's bucket.
CALLS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    # buckets
    "HeadBucket": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucket": lambda t: {"Bucket": t["bucket"]},
    "GetBucketLocation": lambda t: {"Bucket": t["bucket"]},
    "PutBucketTagging": lambda t: {
        "Bucket": t["bucket"],
        "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]},
    },
    "GetBucketTagging": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucketTagging": lambda t: {"Bucket": t["bucket"]},
    "PutBucketEncryption": lambda t: {
        "Bucket": t["bucket"],
        "ServerSideEncryptionConfiguration": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    },
    "GetBucketEncryption": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucketEncryption": lambda t: {"Bucket": t["bucket"]},
    "PutBucketPolicy": lambda t: {
        "Bucket": t["bucket"],
        "Policy": POLICY.replace("BUCKET", t["bucket"]),
    },
    "GetBucketPolicy": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucketPolicy": lambda t: {"Bucket": t["bucket"]},
    "GetBucketPolicyStatus": lambda t: {"Bucket": t["bucket"]},
    "PutPublicAccessBlock": lambda t: {
        "Bucket": t["bucket"],
        "PublicAccessBlockConfiguration": {"BlockPublicPolicy": True},
    },
    "GetPublicAccessBlock": lambda t: {"Bucket": t["bucket"]},
    "DeletePublicAccessBlock": lambda t: {"Bucket": t["bucket"]},
    "PutBucketCors": lambda t: {
        "Bucket": t["bucket"],
        "CORSConfiguration": {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
    },
    "GetBucketCors": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucketCors": lambda t: {"Bucket": t["bucket"]},
    "GetBucketAcl": lambda t: {"Bucket": t["bucket"]},
    "PutBucketAcl": lambda t: {"Bucket": t["bucket"], "ACL": "private"},
    "GetBucketOwnershipControls": lambda t: {"Bucket": t["bucket"]},
    "PutBucketOwnershipControls": lambda t: {
        "Bucket": t["bucket"],
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "ObjectWriter"}]},
    },
    "DeleteBucketOwnershipControls": lambda t: {"Bucket": t["bucket"]},
    "GetBucketVersioning": lambda t: {"Bucket": t["bucket"]},
    "PutBucketVersioning": lambda t: {
        "Bucket": t["bucket"],
        "VersioningConfiguration": {"Status": "Enabled"},
    },
    "ListObjectVersions": lambda t: {"Bucket": t["bucket"]},
    "PutObjectLockConfiguration": lambda t: {
        "Bucket": t["bucket"],
        "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"},
    },
    "GetObjectLockConfiguration": lambda t: {"Bucket": t["bucket"]},
    "PutBucketLifecycleConfiguration": lambda t: {
        "Bucket": t["bucket"],
        "LifecycleConfiguration": {
            "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "Expiration": {"Days": 1}}]
        },
    },
    "GetBucketLifecycleConfiguration": lambda t: {"Bucket": t["bucket"]},
    "PutBucketNotificationConfiguration": lambda t: {
        "Bucket": t["bucket"],
        "NotificationConfiguration": {},
    },
    "GetBucketNotificationConfiguration": lambda t: {"Bucket": t["bucket"]},
    "DeleteBucketLifecycle": lambda t: {"Bucket": t["bucket"]},
    "PutObjectRetention": lambda t: {
        "Bucket": t["bucket"], "Key": "obj",
        "Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": "2100-01-01T00:00:00Z"},
    },
    "GetObjectRetention": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "PutObjectLegalHold": lambda t: {"Bucket": t["bucket"], "Key": "obj", "LegalHold": {"Status": "ON"}},
    "GetObjectLegalHold": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "GetObjectAcl": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "PutObjectAcl": lambda t: {"Bucket": t["bucket"], "Key": "obj", "ACL": "private"},
    # objects
    "PutObject": lambda t: {"Bucket": t["bucket"], "Key": "new", "Body": b"x"},
    "GetObject": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "HeadObject": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "GetObjectAttributes": lambda t: {
        "Bucket": t["bucket"], "Key": "obj", "ObjectAttributes": ["ETag"],
    },
    "DeleteObject": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "CopyObject": lambda t: {"Bucket": t["bucket"], "Key": "copy", "CopySource": f"{t['bucket']}/obj"},
    "PutObjectTagging": lambda t: {
        "Bucket": t["bucket"],
        "Key": "obj",
        "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]},
    },
    "GetObjectTagging": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    "DeleteObjectTagging": lambda t: {"Bucket": t["bucket"], "Key": "obj"},
    # listings
    "ListObjects": lambda t: {"Bucket": t["bucket"]},
    "ListObjectsV2": lambda t: {"Bucket": t["bucket"]},
    "ListMultipartUploads": lambda t: {"Bucket": t["bucket"]},
    # multipart
    "CreateMultipartUpload": lambda t: {"Bucket": t["bucket"], "Key": "mp2"},
    "UploadPart": lambda t: {
        "Bucket": t["bucket"], "Key": "mp", "UploadId": t["upload"], "PartNumber": 1, "Body": b"x",
    },
    "UploadPartCopy": lambda t: {
        "Bucket": t["bucket"], "Key": "mp", "UploadId": t["upload"], "PartNumber": 1,
        "CopySource": f"{t['bucket']}/obj",
    },
    "CompleteMultipartUpload": lambda t: {
        "Bucket": t["bucket"], "Key": "mp", "UploadId": t["upload"],
        "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
    },
    "AbortMultipartUpload": lambda t: {"Bucket": t["bucket"], "Key": "mp", "UploadId": t["upload"]},
    "ListParts": lambda t: {"Bucket": t["bucket"], "Key": "mp", "UploadId": t["upload"]},
}  # fmt: skip


def test_every_served_operation_is_covered(server: StrongroomServer) -> None:
    served = set(server.health()["services"]["s3"]["operations"])
    # CreateBucket, ListBuckets, DeleteObjects and PostObject (a form no SDK
    # sends): their own tests below.
    own = {"CreateBucket", "ListBuckets", "DeleteObjects", "PostObject"}
    assert served - own == set(CALLS)


def _call(client: Any, operation: str, target: dict[str, str]) -> tuple[str, int]:
    return fails(getattr(client, xform_name(operation)), **CALLS[operation](target))


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("s3", secret_access_key="x" * 40)
    code, status = _call(forged, operation, target)
    assert (code, status) in (("SignatureDoesNotMatch", 403), ("403", 403))  # HEAD: no body


@pytest.fixture(scope="module")
def nobody(server: StrongroomServer) -> Any:
    return new_user(server)[1]


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(nobody: Any, target, operation) -> None:
    code, status = _call(nobody, operation, target)
    assert status == 403 and code in ("AccessDenied", "403")


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_another_account_is_refused(theirs: Any, target, operation) -> None:
    code, status = _call(theirs, operation, target)
    assert status == 403 and code in ("AccessDenied", "403")


def _post_form(client: Any, bucket: str, key: str, **fields: str) -> tuple[str, int]:
    """A browser-based upload (POST Object) whose form `client` signed."""
    presigned = client.generate_presigned_post(bucket, key)
    form = {**presigned["fields"], **fields}
    resp = requests.post(presigned["url"], data=form, files={"file": ("f", b"x")}, timeout=30)
    if resp.status_code < 300:
        return "", resp.status_code
    code = resp.text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return code, resp.status_code


def test_post_object_is_authorized_as_put_object(
    server: StrongroomServer, s3: Any, nobody: Any, theirs: Any, target
) -> None:
    bucket = target["bucket"]
    forged = server.client("s3", secret_access_key="x" * 40)
    assert _post_form(forged, bucket, "post-forged") == ("SignatureDoesNotMatch", 403)
    assert _post_form(nobody, bucket, "post-nobody") == ("AccessDenied", 403)
    assert _post_form(theirs, bucket, "post-theirs") == ("AccessDenied", 403)
    assert _post_form(s3, bucket, "post-owner") == ("", 204)
    assert s3.get_object(Bucket=bucket, Key="post-owner")["Body"].read() == b"x"
    for key in ("post-forged", "post-nobody", "post-theirs"):
        assert fails(s3.head_object, Bucket=bucket, Key=key)[1] == 404


def test_list_buckets_is_per_account(
    server: StrongroomServer, s3: Any, theirs: Any, target
) -> None:
    assert target["bucket"] in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert target["bucket"] not in [b["Name"] for b in theirs.list_buckets()["Buckets"]]
    _name, nobody = new_user(server)
    assert fails(nobody.list_buckets)[0] == "AccessDenied"
    forged = server.client("s3", secret_access_key="x" * 40)
    assert fails(forged.list_buckets)[0] == "SignatureDoesNotMatch"
    assert fails(forged.create_bucket, Bucket="forged-" + uuid.uuid4().hex[:6])[0] == (
        "SignatureDoesNotMatch"
    )
    assert fails(nobody.create_bucket, Bucket="nobody-" + uuid.uuid4().hex[:6])[0] == (
        "AccessDenied"
    )
    # The namespace is global: their create of our name is BucketAlreadyExists.
    assert fails(theirs.create_bucket, Bucket=target["bucket"])[0] == "BucketAlreadyExists"


def test_delete_objects_reports_refusals(server: StrongroomServer, target) -> None:
    _name, nobody = new_user(server)
    out = nobody.delete_objects(Bucket=target["bucket"], Delete={"Objects": [{"Key": "obj"}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]


def test_iam_policy_on_object_arns(server: StrongroomServer, s3: Any, target) -> None:
    bucket = target["bucket"]
    _name, reader = new_user(
        server,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/obj",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringEquals": {"s3:prefix": "public/"}},
                },
            ],
        },
    )
    assert reader.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"owner only"
    assert fails(reader.put_object, Bucket=bucket, Key="obj", Body=b"no")[0] == "AccessDenied"
    reader.list_objects_v2(Bucket=bucket, Prefix="public/")
    assert fails(reader.list_objects_v2, Bucket=bucket)[0] == "AccessDenied"


def test_cross_account_needs_both_sides(server: StrongroomServer, s3: Any, two_accounts) -> None:
    bucket = f"shared-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="shared/doc", Body=b"for them")
    theirs = server.client("s3", **two_accounts[1])
    assert fails(theirs.get_object, Bucket=bucket, Key="shared/doc")[0] == "AccessDenied"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
                "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    assert theirs.get_object(Bucket=bucket, Key="shared/doc")["Body"].read() == b"for them"
    assert fails(theirs.get_object, Bucket=bucket, Key="private")[0] == "AccessDenied"
    # The condition key: a put without the header is refused, with it allowed.
    assert fails(theirs.put_object, Bucket=bucket, Key="shared/up", Body=b"x")[0] == "AccessDenied"
    theirs.put_object(Bucket=bucket, Key="shared/up", Body=b"x", ServerSideEncryption="AES256")
    # Their IAM user needs its own account's allow too.
    iam = server.client("iam", **two_accounts[1])
    name = "them-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = server.client(
        "s3", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    assert fails(user.get_object, Bucket=bucket, Key="shared/doc")[0] == "AccessDenied"
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    assert user.get_object(Bucket=bucket, Key="shared/doc")["Body"].read() == b"for them"
    # New buckets block public policies, as on AWS since 2023.
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}  # fmt: skip
    assert fails(s3.put_bucket_policy, Bucket=bucket, Policy=json.dumps(public))[0] == (
        "AccessDenied"
    )
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(config.values()) and len(config) == 4
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicPolicy": False, "RestrictPublicBuckets": True},
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    # RestrictPublicBuckets: the public policy lets in no other account.
    assert fails(theirs.get_object, Bucket=bucket, Key="shared/doc")[0] == "AccessDenied"
    s3.delete_public_access_block(Bucket=bucket)
    assert fails(s3.get_public_access_block, Bucket=bucket)[0] == (
        "NoSuchPublicAccessBlockConfiguration"
    )
    assert theirs.get_object(Bucket=bucket, Key="shared/doc")["Body"].read() == b"for them"
    # A Deny in the bucket policy wins over the owner's own root's allow.
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert fails(s3.delete_object, Bucket=bucket, Key="shared/doc")[0] == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)
    assert fails(s3.get_bucket_policy, Bucket=bucket)[0] == "NoSuchBucketPolicy"


def test_malformed_policy(s3: Any, target) -> None:
    assert fails(s3.put_bucket_policy, Bucket=target["bucket"], Policy="{not json")[0] == (
        "MalformedPolicy"
    )
    other = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}
    )  # fmt: skip
    assert fails(s3.put_bucket_policy, Bucket=target["bucket"], Policy=other)[0] == (
        "MalformedPolicy"
    )


def test_sse_kms_needs_the_callers_kms_permissions(server: StrongroomServer, s3: Any) -> None:
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    bucket = f"kmsauthz-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    }
                }
            ]
        },
    )
    s3_only = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    _name, writer = new_user(server, {"Version": "2012-10-17", "Statement": [s3_only]})
    assert fails(writer.put_object, Bucket=bucket, Key="k", Body=b"x")[0] == "AccessDenied"
    via = {
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    _name, writer = new_user(server, {"Version": "2012-10-17", "Statement": [s3_only, via]})
    writer.put_object(Bucket=bucket, Key="k", Body=b"through s3")
    assert writer.get_object(Bucket=bucket, Key="k")["Body"].read() == b"through s3"
    # The same permissions do not let the user call KMS directly.
    direct = server.client(
        "kms",
        access_key_id=writer._request_signer._credentials.access_key,
        secret_access_key=writer._request_signer._credentials.secret_key,
    )
    with pytest.raises(botocore.exceptions.ClientError):
        direct.generate_data_key(KeyId=key, KeySpec="AES_256")


def test_trail_records_bucket_calls_as_management_events(server: StrongroomServer, s3: Any) -> None:
    bucket = f"trail-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data", Body=b"x")
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[
            {"AttributeKey": "ResourceName", "AttributeValue": f"arn:aws:s3:::{bucket}"}
        ]
    )["Events"]
    names = {e["EventName"] for e in events}
    assert "CreateBucket" in names
    assert "PutObject" not in names  # a data event, as on AWS
    assert all(e["EventSource"] == "s3.amazonaws.com" for e in events)


def test_cors_configuration(s3: Any, target) -> None:
    bucket = target["bucket"]
    assert fails(s3.get_bucket_cors, Bucket=bucket)[0] == "NoSuchCORSConfiguration"
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://app.example"],
              "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}]  # fmt: skip
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    bad = [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]
    code = fails(s3.put_bucket_cors, Bucket=bucket, CORSConfiguration={"CORSRules": bad})[0]
    assert code == "InvalidRequest"
    s3.delete_bucket_cors(Bucket=bucket)
