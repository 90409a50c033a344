"""S3 versioning end to end: enable and suspend, version ids, delete
markers, GET/HEAD/DELETE/copy/tags by version, ListObjectVersions, and what
an unversioned bucket keeps doing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with StrongroomServer() as srv:
        yield srv.client("s3")


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_versions_and_delete_markers(s3: Any) -> None:
    name = f"ver-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"before")  # the null version
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=name, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=name, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=name, Key="k")
    assert (got["Body"].read(), got["VersionId"]) == (b"two", v2)
    assert s3.get_object(Bucket=name, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=name, Key="k", VersionId="null")["Body"].read() == b"before"
    # A delete adds a marker; the versions stay.
    out = s3.delete_object(Bucket=name, Key="k")
    assert out["DeleteMarker"] is True
    marker = out["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=name, Key="k")
    assert code_of(exc) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=name, Key="k", VersionId=marker)
    assert code_of(exc) == "MethodNotAllowed"
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    listed = s3.list_object_versions(Bucket=name)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1, "null"]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]
    # Removing the marker brings the newest version back.
    s3.delete_object(Bucket=name, Key="k", VersionId=marker)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"two"
    # Deleting a version for good; then the next one is current.
    s3.delete_object(Bucket=name, Key="k", VersionId=v2)
    assert s3.head_object(Bucket=name, Key="k")["VersionId"] == v1
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=name, Key="k", VersionId=v2)
    assert code_of(exc) == "NoSuchVersion"
    # Copy from a version, tags on a version.
    copied = s3.copy_object(
        Bucket=name, Key="c", CopySource={"Bucket": name, "Key": "k", "VersionId": "null"}
    )
    assert copied["CopySourceVersionId"] == "null"
    assert s3.get_object(Bucket=name, Key="c")["Body"].read() == b"before"
    s3.put_object_tagging(
        Bucket=name, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "t", "Value": "1"}]}
    )
    assert s3.get_object_tagging(Bucket=name, Key="k", VersionId=v1)["TagSet"] == [
        {"Key": "t", "Value": "1"}
    ]
    assert s3.get_object_tagging(Bucket=name, Key="k", VersionId="null")["TagSet"] == []
    # Versions keep the bucket from being deleted.
    for key in ("k", "c"):
        s3.delete_object(Bucket=name, Key=key)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert code_of(exc) == "BucketNotEmpty"
    everything = s3.list_object_versions(Bucket=name)
    targets = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in everything.get("Versions", []) + everything.get("DeleteMarkers", [])
    ]
    out = s3.delete_objects(Bucket=name, Delete={"Objects": targets})
    assert len(out["Deleted"]) == len(targets)
    s3.delete_bucket(Bucket=name)


def test_suspended_replaces_the_null_version(s3: Any) -> None:
    name = f"sus-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=name, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=name, Key="k", Body=b"n1")["VersionId"] == "null"
    assert s3.put_object(Bucket=name, Key="k", Body=b"n2")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=name)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", kept]
    out = s3.delete_object(Bucket=name, Key="k")
    assert out["DeleteMarker"] is True and out["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=name)
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert s3.get_object(Bucket=name, Key="k", VersionId=kept)["Body"].read() == b"kept"


def test_paging_versions(s3: Any) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    made = []
    for key in ("a", "b"):
        for i in range(3):
            made.append(
                (key, s3.put_object(Bucket=name, Key=key, Body=str(i).encode())["VersionId"])
            )
    seen, kwargs = [], {}
    while True:
        page = s3.list_object_versions(Bucket=name, MaxKeys=2, **kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {
            "KeyMarker": page["NextKeyMarker"],
            "VersionIdMarker": page["NextVersionIdMarker"],
        }
    assert sorted(seen) == sorted(made) and len(seen) == 6
