"""S3 POST Object (browser-based uploads) end to end: forms built by boto3's
``generate_presigned_post`` and posted by a plain HTTP client (requests),
path-style and virtual-hosted, small and streamed files, each success
answer (204, 200, 201 with its PostResponse, 303 to the redirect), the
policy's conditions refusing what they must, the signature checked, and
the signer authorized as PutObject would be (IAM, bucket policy, another
account, default encryption)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests
from botocore.config import Config

from strongroom.testing import StrongroomServer, add_account

OTHER = "111111111111"


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-s3post-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


#: Forms signed with SigV4 (boto3 signs them with Signature Version 2
#: unless the client is configured for s3v4; both are tested).
V4 = Config(signature_version="s3v4", retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3", config=V4)


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts) -> Any:
    return server.client("s3", config=V4, **two_accounts[1])


def new_bucket(s3: Any) -> str:
    name = f"p-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    return new_bucket(s3)


def post(
    presigned: dict[str, Any],
    data: bytes,
    *,
    filename: str = "upload.bin",
    extra: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    fields = {k: v for k, v in presigned["fields"].items() if k not in drop}
    fields.update(extra or {})
    return requests.post(
        url or presigned["url"],
        data=fields,
        files={"file": (filename, data, "application/octet-stream")},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )


def error_of(resp: requests.Response) -> dict[str, str]:
    root = ET.fromstring(resp.content)
    return {child.tag: child.text or "" for child in root}


def test_small_upload_defaults_to_204(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "small/one.txt")
    resp = post(presigned, b"hello from a form")
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    etag = resp.headers["ETag"]
    assert etag == f'"{hashlib.md5(b"hello from a form").hexdigest()}"'
    assert resp.headers["Location"].endswith(f"/{bucket}/small/one.txt")
    got = s3.get_object(Bucket=bucket, Key="small/one.txt")
    assert got["Body"].read() == b"hello from a form"
    assert got["ServerSideEncryption"] == "AES256"


def test_signature_version_2_form(server: StrongroomServer, bucket: str) -> None:
    v2 = server.client("s3")  # boto3's default for presigned POSTs in us-east-1
    presigned = v2.generate_presigned_post(bucket, "v2/obj")
    assert "AWSAccessKeyId" in presigned["fields"]
    resp = post(presigned, b"signed the old way")
    assert resp.status_code == 204, resp.text
    forged = dict(presigned["fields"], signature="AAAA" + presigned["fields"]["signature"][4:])
    resp = requests.post(presigned["url"], data=forged, files={"file": ("f", b"x")}, timeout=30)
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "SignatureDoesNotMatch")
    assert v2.get_object(Bucket=bucket, Key="v2/obj")["Body"].read() == b"signed the old way"


def test_large_file_streams_and_filename_is_put_in_the_key(s3: Any, bucket: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # spooled, over 64 KiB and the unsigned limit
    presigned = s3.generate_presigned_post(
        bucket,
        "big/${filename}",
        Conditions=[["starts-with", "$key", "big/"], ["content-length-range", 1, 8 * 1024**2]],
    )
    resp = post(presigned, data, filename="photo.raw")
    assert resp.status_code == 204, resp.text
    got = s3.get_object(Bucket=bucket, Key="big/photo.raw")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)


def test_status_201_answers_post_response(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket,
        "answers/201",
        Fields={"success_action_status": "201", "Content-Type": "text/plain"},
        Conditions=[{"success_action_status": "201"}, {"Content-Type": "text/plain"}],
    )
    resp = post(presigned, b"created")
    assert resp.status_code == 201, resp.text
    root = ET.fromstring(resp.content)
    tag = root.tag.rsplit("}", 1)[-1]
    assert tag == "PostResponse"
    values = {child.tag.rsplit("}", 1)[-1]: child.text for child in root}
    assert values["Bucket"] == bucket
    assert values["Key"] == "answers/201"
    assert values["ETag"] == f'"{hashlib.md5(b"created").hexdigest()}"'
    assert values["Location"].endswith(f"/{bucket}/answers/201")
    head = s3.head_object(Bucket=bucket, Key="answers/201")
    assert head["ContentType"] == "text/plain"


def test_status_200_and_redirect_303(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket,
        "answers/200",
        Fields={"success_action_status": "200"},
        Conditions=[{"success_action_status": "200"}],
    )
    resp = post(presigned, b"ok")
    assert resp.status_code == 200, resp.text
    assert resp.content == b""

    target = "https://example.com/done?x=1"
    presigned = s3.generate_presigned_post(
        bucket,
        "answers/303",
        Fields={"success_action_redirect": target},
        Conditions=[["starts-with", "$success_action_redirect", "https://example.com/"]],
    )
    resp = post(presigned, b"redirected")
    assert resp.status_code == 303, resp.text
    location = resp.headers["Location"]
    assert location.startswith("https://example.com/done?x=1&")
    assert f"bucket={bucket}" in location and "key=answers%2F303" in location
    assert "etag=" in location
    assert s3.get_object(Bucket=bucket, Key="answers/303")["Body"].read() == b"redirected"


def test_virtual_hosted_post(server: StrongroomServer, s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "vhost/obj")
    port = server.endpoint.rsplit(":", 1)[1]
    resp = post(
        presigned,
        b"virtual",
        url=f"http://127.0.0.1:{port}/",
        headers={"Host": f"{bucket}.s3.localhost:{port}"},
    )
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="vhost/obj")["Body"].read() == b"virtual"


def test_metadata_and_default_kms_encryption(server: StrongroomServer, s3: Any) -> None:
    name = new_bucket(s3)
    key_id = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_id,
                    }
                }
            ]
        },
    )
    presigned = s3.generate_presigned_post(
        name,
        "meta",
        Fields={"x-amz-meta-owner": "alice", "Cache-Control": "no-cache"},
        Conditions=[["starts-with", "$x-amz-meta-owner", ""], {"Cache-Control": "no-cache"}],
    )
    resp = post(presigned, b"kms by default")
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-amz-server-side-encryption"] == "aws:kms"
    head = s3.head_object(Bucket=name, Key="meta")
    assert head["Metadata"] == {"owner": "alice"}
    assert head["CacheControl"] == "no-cache"
    assert head["SSEKMSKeyId"] == key_id
    assert s3.get_object(Bucket=name, Key="meta")["Body"].read() == b"kms by default"


def test_requested_sse_field(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket,
        "sse/kms",
        Fields={"x-amz-server-side-encryption": "aws:kms"},
        Conditions=[{"x-amz-server-side-encryption": "aws:kms"}],
    )
    resp = post(presigned, b"kms")
    assert resp.status_code == 204, resp.text
    assert s3.head_object(Bucket=bucket, Key="sse/kms")["ServerSideEncryption"] == "aws:kms"


# -- the policy refusing ------------------------------------------------------


def test_condition_failed(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket, "cond/${filename}", Conditions=[["starts-with", "$key", "cond/"]]
    )
    resp = post(presigned, b"x", extra={"key": "elsewhere/x"})
    assert resp.status_code == 403
    err = error_of(resp)
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "cond/"]'
    )
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="elsewhere/x")


def test_extra_field_refused(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "extra")
    resp = post(presigned, b"x", extra={"x-amz-meta-sneaky": "1"})
    assert resp.status_code == 403
    assert error_of(resp)["Message"] == (
        "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"
    )
    ignored = post(presigned, b"x", extra={"x-ignore-this": "1"})
    assert ignored.status_code == 204, ignored.text


def test_content_length_range(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket, "sized", Conditions=[["content-length-range", 10, 100 * 1024]]
    )
    resp = post(presigned, os.urandom(200 * 1024))  # large enough to be spooled
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["Code"] == "EntityTooLarge"
    assert err["ProposedSize"] == str(200 * 1024)
    assert err["MaxSizeAllowed"] == str(100 * 1024)
    resp = post(presigned, b"tiny")
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "EntityTooSmall")
    assert err["MinSizeAllowed"] == "10"
    assert post(presigned, b"just right").status_code == 204


def test_expired_policy(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "late", ExpiresIn=-10)
    resp = post(presigned, b"x")
    assert resp.status_code == 403
    assert error_of(resp)["Message"] == "Invalid according to Policy: Policy expired."


def test_bad_signature(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "forged")
    sig = presigned["fields"]["x-amz-signature"]
    forged = ("0" if sig[0] != "0" else "1") + sig[1:]
    resp = post(presigned, b"x", extra={"x-amz-signature": forged})
    assert resp.status_code == 403
    err = error_of(resp)
    assert err["Code"] == "SignatureDoesNotMatch"
    assert err["StringToSign"] == presigned["fields"]["policy"]
    # A policy changed after signing is refused just the same.
    doc = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    doc["conditions"] = [c for c in doc["conditions"] if "key" not in c]
    tampered = base64.b64encode(json.dumps(doc).encode()).decode()
    resp = post(presigned, b"x", extra={"policy": tampered, "key": "anything"})
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "SignatureDoesNotMatch")


def test_unknown_access_key(server: StrongroomServer, bucket: str) -> None:
    client = server.client(
        "s3", access_key_id="AKIAUNKNOWNKEY000000", secret_access_key="x" * 40, config=V4
    )
    presigned = client.generate_presigned_post(bucket, "nobody")
    resp = post(presigned, b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "InvalidAccessKeyId")


def test_missing_fields(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "missing")
    resp = post(presigned, b"x", drop=("key",))
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "InvalidArgument")
    assert err["Message"].startswith("Bucket POST must contain a field named 'key'.")
    resp = post(presigned, b"x", drop=("x-amz-signature",))
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "InvalidArgument")
    assert "'x-amz-signature'" in err["Message"]
    no_file = {"x-ignore-no-file": (None, "a field, not a file")}  # multipart, no file part
    resp = requests.post(presigned["url"], data=presigned["fields"], files=no_file, timeout=30)
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "InvalidArgument")
    assert err["Message"] == "POST requires exactly one file upload per request."
    resp = requests.post(presigned["url"], data=b"not a form", timeout=30)
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (412, "PreconditionFailed")


def test_malformed_policy(s3: Any, server: StrongroomServer, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "badpolicy")
    text = base64.b64encode(b"{not json").decode()
    fields = dict(
        presigned["fields"], policy=text, **{"x-amz-signature": _sign(server, presigned, text)}
    )
    resp = requests.post(presigned["url"], data=fields, files={"file": ("f", b"x")}, timeout=30)
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "InvalidPolicyDocument")


def _sign(server: StrongroomServer, presigned: dict[str, Any], policy: str) -> str:
    _akid, date, region, service, _ = presigned["fields"]["x-amz-credential"].split("/")
    key = ("AWS4" + server.secret_access_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def test_oversized_fields_refused(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(bucket, "fat")
    resp = post(presigned, b"x", extra={"x-ignore-padding": "p" * 30000})
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "MaxPostPreDataLengthExceeded")


# -- authorization ------------------------------------------------------------


def _user(server: StrongroomServer, policy: dict | None) -> Any:
    iam = server.client("iam")
    name = "post-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client(
        "s3",
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
        config=V4,
    )


def test_signer_needs_put_object(server: StrongroomServer, s3: Any, bucket: str) -> None:
    nobody = _user(server, None)
    resp = post(nobody.generate_presigned_post(bucket, "authz/nobody"), b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")
    writer = _user(
        server,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{bucket}/authz/*",
                }
            ],
        },
    )
    assert post(writer.generate_presigned_post(bucket, "authz/ok"), b"x").status_code == 204
    resp = post(writer.generate_presigned_post(bucket, "other/no"), b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")


def test_other_account_needs_the_bucket_policy(s3: Any, theirs: Any) -> None:
    name = new_bucket(s3)
    resp = post(theirs.generate_presigned_post(name, "cross"), b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{name}/*",
                    }
                ],
            }
        ),
    )
    assert post(theirs.generate_presigned_post(name, "cross"), b"x").status_code == 204
    assert s3.get_object(Bucket=name, Key="cross")["Body"].read() == b"x"


def test_anonymous_form_needs_a_public_bucket_policy(s3: Any) -> None:
    name = new_bucket(s3)
    url = s3.generate_presigned_post(name, "k")["url"]
    form = {"key": "anon/${filename}"}
    files = {"file": ("a.txt", b"anonymous")}
    resp = requests.post(url, data=form, files=files, timeout=30)
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{name}/blocked/*",
                    }
                ],
            }
        ),
    )
    resp = requests.post(url, data={"key": "blocked/x"}, files=files, timeout=30)
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")


def test_bucket_policy_deny_applies_to_signed_forms(s3: Any) -> None:
    name = new_bucket(s3)
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{name}/*",
                        "Condition": {
                            "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                        },
                    }
                ],
            }
        ),
    )
    resp = post(s3.generate_presigned_post(name, "plain"), b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (403, "AccessDenied")
    presigned = s3.generate_presigned_post(
        name,
        "kms",
        Fields={"x-amz-server-side-encryption": "aws:kms"},
        Conditions=[{"x-amz-server-side-encryption": "aws:kms"}],
    )
    assert post(presigned, b"x").status_code == 204


def test_no_such_bucket(s3: Any) -> None:
    presigned = s3.generate_presigned_post(f"nope-{uuid.uuid4().hex[:8]}", "k")
    resp = post(presigned, b"x")
    assert (resp.status_code, error_of(resp)["Code"]) == (404, "NoSuchBucket")


def test_a_form_signed_for_another_bucket_is_refused(s3: Any, bucket: str) -> None:
    other = new_bucket(s3)
    presigned = s3.generate_presigned_post(other, "moved")
    resp = post(presigned, b"x", url=presigned["url"].replace(f"/{other}", f"/{bucket}"))
    assert resp.status_code == 403
    assert error_of(resp)["Message"] == (
        f'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "{other}"]'
    )


def test_content_type_starts_with_each_listed_type(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket,
        "typed",
        Fields={"Content-Type": "image/png"},
        Conditions=[["starts-with", "$Content-Type", "image/"]],
    )
    assert post(presigned, b"x", extra={"Content-Type": "image/png,image/gif"}).status_code == 204
    resp = post(presigned, b"x", extra={"Content-Type": "image/png,text/html"})
    assert resp.status_code == 403
    assert "Policy Condition failed" in error_of(resp)["Message"]


def test_temporary_credentials_sign_forms(server: StrongroomServer, bucket: str) -> None:
    creds = server.client("sts").get_session_token()["Credentials"]
    session = server.session(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    client = session.client("s3", endpoint_url=server.endpoint, config=V4)
    presigned = client.generate_presigned_post(bucket, "temp/obj")
    assert "x-amz-security-token" in presigned["fields"]
    assert post(presigned, b"temporary").status_code == 204
    fields = {k: v for k, v in presigned["fields"].items() if k != "x-amz-security-token"}
    resp = requests.post(presigned["url"], data=fields, files={"file": ("f", b"x")}, timeout=30)
    assert (resp.status_code, error_of(resp)["Code"]) == (400, "InvalidToken")


def test_tagging_and_storage_class_fields(s3: Any, bucket: str) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
    presigned = s3.generate_presigned_post(
        bucket,
        "tagged",
        Fields={"tagging": tagging, "x-amz-storage-class": "STANDARD_IA"},
        Conditions=[{"tagging": tagging}, {"x-amz-storage-class": "STANDARD_IA"}],
    )
    assert post(presigned, b"x").status_code == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [
        {"Key": "team", "Value": "web"}
    ]
    assert s3.head_object(Bucket=bucket, Key="tagged")["StorageClass"] == "STANDARD_IA"


def test_a_credential_for_an_unknown_region_is_refused(
    server: StrongroomServer, bucket: str
) -> None:
    client = server.client("s3", config=V4, region="xx-nowhere-1")
    presigned = client.generate_presigned_post(bucket, "nowhere")
    resp = post(presigned, b"x", url=f"{server.endpoint}/{bucket}")
    err = error_of(resp)
    assert (resp.status_code, err["Code"]) == (400, "InvalidArgument")
    assert "valid region" in err["Message"]
