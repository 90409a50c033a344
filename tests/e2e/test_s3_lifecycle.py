"""S3 lifecycle by the clock: expiration with prefix, tag and size filters,
noncurrent version expiration, expired delete markers, aborting incomplete
multipart uploads and transitions, each crossed with --time-travel."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer(time_travel=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_expiration_filters_and_transitions(server: StrongroomServer, s3: Any) -> None:
    name = f"lc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                 "Expiration": {"Days": 1}},
                {"ID": "tagged-big", "Status": "Enabled",
                 "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "tmp", "Value": "yes"}],
                                    "ObjectSizeGreaterThan": 10}},
                 "Expiration": {"Days": 1}},
                {"ID": "cold", "Status": "Enabled", "Filter": {"Prefix": "cold/"},
                 "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}]},
                {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"},
                 "Expiration": {"Days": 1}},
            ]
        },
    )  # fmt: skip
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [r["ID"] for r in rules] == ["logs", "tagged-big", "cold", "off"]
    s3.put_object(Bucket=name, Key="logs/a", Body=b"x")
    s3.put_object(Bucket=name, Key="keep/b", Body=b"x")
    s3.put_object(Bucket=name, Key="t/big", Body=b"x" * 20, Tagging="tmp=yes")
    s3.put_object(Bucket=name, Key="t/small", Body=b"x", Tagging="tmp=yes")
    s3.put_object(Bucket=name, Key="t/untagged", Body=b"x" * 20)
    s3.put_object(Bucket=name, Key="cold/c", Body=b"x")
    server.advance_clock("2h")
    assert len(keys(s3, name)) == 6
    server.advance_clock("2d")
    assert keys(s3, name) == ["cold/c", "keep/b", "t/small", "t/untagged"]
    assert s3.head_object(Bucket=name, Key="cold/c")["StorageClass"] == "STANDARD_IA"
    s3.delete_bucket_lifecycle(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=name)
    assert exc.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_noncurrent_versions_markers_and_uploads(server: StrongroomServer, s3: Any) -> None:
    name = f"lcv-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": ""},
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                 "Expiration": {"ExpiredObjectDeleteMarker": True},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            ]
        },
    )  # fmt: skip
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket=name, Key="k", Body=body)
    s3.put_object(Bucket=name, Key="gone", Body=b"x")
    s3.delete_object(Bucket=name, Key="gone")  # a marker over one version
    upload = s3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    server.advance_clock("3d")
    versions = s3.list_object_versions(Bucket=name)
    assert [(v["Key"], v["IsLatest"]) for v in versions["Versions"]] == [("k", True)]
    assert "DeleteMarkers" not in versions  # expired: nothing left under it
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"3"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.list_parts(Bucket=name, Key="mp", UploadId=upload)
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"


def test_rules_validated(s3: Any) -> None:
    name = f"lcx-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for rule, code in (
        ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}}, "InvalidRequest"),
        ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}},
         "InvalidArgument"),
    ):  # fmt: skip
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [rule]}
            )
        assert exc.value.response["Error"]["Code"] == code
