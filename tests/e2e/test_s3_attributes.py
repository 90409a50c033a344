"""S3 GetObjectAttributes end to end with boto3: the attributes asked for
of a single-part and a multipart object (ETag, Checksum, ObjectParts with
paging, StorageClass, ObjectSize), by version, and refused to a forged
signature, an IAM user allowed only one of the two actions it needs, and
another account."""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer, add_account

OTHER = "111111111111"
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def fails(fn: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-s3attr-") as data_dir:
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
def bucket(s3: Any) -> str:
    name = f"at-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_single_part_object(s3: Any, bucket: str) -> None:
    body = b"attributes of a small object"
    s3.put_object(
        Bucket=bucket, Key="one", Body=body, ChecksumAlgorithm="CRC32", StorageClass="STANDARD_IA"
    )
    got = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=ALL)
    assert got["ETag"] == hashlib.md5(body).hexdigest()
    assert got["ObjectSize"] == len(body)
    assert got["StorageClass"] == "STANDARD_IA"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert got["Checksum"] == {"ChecksumCRC32": crc, "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in got
    assert got["LastModified"] == s3.head_object(Bucket=bucket, Key="one")["LastModified"]
    only = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == len(body)
    assert "ETag" not in only and "StorageClass" not in only


def test_multipart_object_parts_are_paged(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 1234]
    parts = []
    for number, size in enumerate(sizes, 1):
        etag = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=up, PartNumber=number, Body=b"p" * size
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts}
    )
    got = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL)
    assert got["ETag"] == done["ETag"].strip('"') and got["ETag"].endswith("-3")
    assert got["ObjectSize"] == sum(sizes)
    assert got["ObjectParts"]["TotalPartsCount"] == 3
    assert [p["Size"] for p in got["ObjectParts"]["Parts"]] == sizes
    page = s3.get_object_attributes(
        Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2
    )["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 2
    rest = s3.get_object_attributes(
        Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], PartNumberMarker=2
    )["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["IsTruncated"] is False


def test_versions_and_errors(s3: Any) -> None:
    name = f"atv-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=name, Key="k", Body=b"first")["VersionId"]
    second = s3.put_object(Bucket=name, Key="k", Body=b"second!")["VersionId"]
    got = s3.get_object_attributes(Bucket=name, Key="k", ObjectAttributes=["ObjectSize"])
    assert (got["VersionId"], got["ObjectSize"]) == (second, 7)
    old = s3.get_object_attributes(
        Bucket=name, Key="k", VersionId=first, ObjectAttributes=["ObjectSize"]
    )
    assert (old["VersionId"], old["ObjectSize"]) == (first, 5)
    assert fails(
        s3.get_object_attributes, Bucket=name, Key="missing", ObjectAttributes=["ETag"]
    ) == ("NoSuchKey", 404)
    assert fails(s3.get_object_attributes, Bucket=name, Key="k", ObjectAttributes=["Nope"]) == (
        "InvalidArgument",
        400,
    )
    assert fails(
        s3.get_object_attributes,
        Bucket=f"none-{uuid.uuid4().hex[:8]}",
        Key="k",
        ObjectAttributes=["ETag"],
    ) == ("NoSuchBucket", 404)


def _user(server: StrongroomServer, actions: list[str], bucket: str) -> Any:
    iam = server.client("iam")
    name = "attr-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    if actions:
        iam.put_user_policy(
            UserName=name,
            PolicyName="p",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": actions,
                            "Resource": f"arn:aws:s3:::{bucket}/*",
                        }
                    ],
                }
            ),
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client(
        "s3", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


def test_refused_callers(server: StrongroomServer, s3: Any, bucket: str, two_accounts) -> None:
    s3.put_object(Bucket=bucket, Key="guarded", Body=b"x")
    call = {"Bucket": bucket, "Key": "guarded", "ObjectAttributes": ["ETag"]}
    forged = server.client("s3", secret_access_key="x" * 40)
    assert fails(forged.get_object_attributes, **call) == ("SignatureDoesNotMatch", 403)
    theirs = server.client("s3", **two_accounts[1])
    assert fails(theirs.get_object_attributes, **call) == ("AccessDenied", 403)
    for actions in ([], ["s3:GetObject"], ["s3:GetObjectAttributes"]):
        user = _user(server, actions, bucket)
        assert fails(user.get_object_attributes, **call) == ("AccessDenied", 403), actions
    both = _user(server, ["s3:GetObject", "s3:GetObjectAttributes"], bucket)
    assert both.get_object_attributes(**call)["ETag"] == hashlib.md5(b"x").hexdigest()
