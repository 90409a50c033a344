"""S3 Object Lock end to end: a locked version really cannot be deleted
until the server clock passes its date (crossed with --time-travel);
GOVERNANCE gives way to s3:BypassGovernanceRetention, COMPLIANCE and legal
holds never; bucket default retention; retention only lengthened."""

from __future__ import annotations

import datetime
import json
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


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def refused(fn: Any, **kwargs: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return code_of(exc)


def server_now(s3: Any) -> datetime.datetime:
    bucket = f"clock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t", Body=b"")
    return s3.head_object(Bucket=bucket, Key="t")["LastModified"]


def test_compliance_and_governance(server: StrongroomServer, s3: Any) -> None:
    name = f"lock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert (
        refused(
            s3.put_bucket_versioning, Bucket=name, VersioningConfiguration={"Status": "Suspended"}
        )
        == "InvalidBucketState"
    )
    until = server_now(s3) + datetime.timedelta(days=1)
    v = s3.put_object(
        Bucket=name, Key="audit.log", Body=b"evidence",
        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
    )["VersionId"]  # fmt: skip
    head = s3.head_object(Bucket=name, Key="audit.log")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert refused(s3.delete_object, Bucket=name, Key="audit.log", VersionId=v) == "AccessDenied"
    assert (
        refused(
            s3.delete_object,
            Bucket=name,
            Key="audit.log",
            VersionId=v,
            BypassGovernanceRetention=True,
        )
        == "AccessDenied"
    )
    # Shortening a COMPLIANCE retention is refused; lengthening is fine.
    assert refused(
        s3.put_object_retention, Bucket=name, Key="audit.log", VersionId=v,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - datetime.timedelta(hours=12)},
    ) == "AccessDenied"  # fmt: skip
    s3.put_object_retention(
        Bucket=name, Key="audit.log", VersionId=v,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until + datetime.timedelta(days=1)},
    )  # fmt: skip
    # A delete without a version only adds a marker; the version stays.
    assert s3.delete_object(Bucket=name, Key="audit.log")["DeleteMarker"] is True
    out = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "audit.log", "VersionId": v}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    # GOVERNANCE: the bypass header and permission let the owner through.
    g = s3.put_object(
        Bucket=name, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]  # fmt: skip
    assert refused(s3.delete_object, Bucket=name, Key="gov", VersionId=g) == "AccessDenied"
    iam = server.client("iam")
    user = "lock-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user, PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:DeleteObjectVersion", "s3:GetObject*"], "Resource": "*"}]}),
    )  # fmt: skip
    key = iam.create_access_key(UserName=user)["AccessKey"]
    them = server.client(
        "s3", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    assert (
        refused(
            them.delete_object, Bucket=name, Key="gov", VersionId=g, BypassGovernanceRetention=True
        )
        == "AccessDenied"
    )  # no s3:BypassGovernanceRetention
    s3.delete_object(Bucket=name, Key="gov", VersionId=g, BypassGovernanceRetention=True)
    # Past the date, by the server clock, the COMPLIANCE version goes.
    server.advance_clock("3d")
    s3.delete_object(Bucket=name, Key="audit.log", VersionId=v)


def test_default_retention_and_legal_hold(server: StrongroomServer, s3: Any) -> None:
    name = f"dflt-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    config = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert config["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    v = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    assert s3.get_object_retention(Bucket=name, Key="k")["Retention"]["Mode"] == "GOVERNANCE"
    assert refused(s3.delete_object, Bucket=name, Key="k", VersionId=v) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=v, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"]["Status"] == "ON"
    server.advance_clock("2d")
    # Retention over, the legal hold still holds, whatever the bypass.
    assert (
        refused(s3.delete_object, Bucket=name, Key="k", VersionId=v, BypassGovernanceRetention=True)
        == "AccessDenied"
    )
    s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=v, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=name, Key="k", VersionId=v)


def test_lock_needs_a_lock_bucket(s3: Any) -> None:
    name = f"nolock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    until = server_now(s3) + datetime.timedelta(days=1)
    assert refused(
        s3.put_object, Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    ) == "InvalidRequest"  # fmt: skip
    assert refused(s3.get_object_lock_configuration, Bucket=name) == (
        "ObjectLockConfigurationNotFoundError"
    )
    # Enabling on an existing bucket needs versioning first.
    lock = {"ObjectLockEnabled": "Enabled"}
    assert (
        refused(s3.put_object_lock_configuration, Bucket=name, ObjectLockConfiguration=lock)
        == "InvalidBucketState"
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock)
