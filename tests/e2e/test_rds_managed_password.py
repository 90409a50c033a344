"""RDS's managed master user password end to end (ManageMasterUserPassword):
the secret RDS creates and owns in Secrets Manager, logging in with the
password read from it, rotation on demand (ModifyDBInstance
RotateMasterUserPassword, Secrets Manager's RotateSecret) and on the clock,
the old password refused afterwards, a customer key, turning management on
and off, the secret deleted with the instance, CloudTrail, and the password
nowhere in clear. One server for the module, two PostgreSQL instances."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from strongroom.testing import StrongroomServer, add_account

pytestmark = pytest.mark.e2e

OTHER = "111111111111"
PASSWORD = "Plain-pass-1"
SEEN: list[str] = []  # every password read from Secrets Manager, for the secrecy test


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-secret-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def other_account(data_dir: Path) -> dict[str, str]:
    return add_account(data_dir, OTHER)


@pytest.fixture(scope="module")
def server(data_dir: Path, other_account: dict[str, str]) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(data_dir, time_travel=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


@pytest.fixture(scope="module")
def sm(server: StrongroomServer) -> Any:
    return server.client("secretsmanager")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def wait_available(rds: Any, ident: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe(rds, ident)
        if found["DBInstanceStatus"] == "available":
            return found
        assert time.monotonic() < deadline, f"{ident} still {found['DBInstanceStatus']}"
        time.sleep(0.05)


def secret_value(sm: Any, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    value = json.loads(sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])
    SEEN.append(value["password"])
    return value


def connect(inst: dict[str, Any], password: str) -> Any:
    return psycopg.connect(
        host=inst["Endpoint"]["Address"], port=inst["Endpoint"]["Port"],
        user=inst["MasterUsername"], password=password, dbname="postgres",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def logs_in(inst: dict[str, Any], password: str) -> bool:
    try:
        with connect(inst, password) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def wait_rotated(sm: Any, arn: str, old: str, timeout: float = 30) -> dict[str, Any]:
    """The secret's AWSCURRENT once a rotation has moved it off `old`."""
    deadline = time.monotonic() + timeout
    while True:
        value = secret_value(sm, arn)
        if value["password"] != old:
            assert "AWSPENDING" not in json.dumps(
                sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
            ), "rotation still pending"
            return value
        assert time.monotonic() < deadline, "the secret was not rotated"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def managed(rds: Any) -> dict[str, Any]:
    """An instance created with its master password managed by RDS."""
    out = rds.create_db_instance(
        DBInstanceIdentifier="managed", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", ManageMasterUserPassword=True, AllocatedStorage=20,
    )["DBInstance"]  # fmt: skip
    assert out["MasterUserSecret"]["SecretStatus"] == "active"
    return wait_available(rds, "managed")


@pytest.fixture(scope="module")
def app_key(server: StrongroomServer) -> str:
    kms = server.client("kms")
    key = kms.create_key(Description="secrets")["KeyMetadata"]
    kms.create_alias(AliasName="alias/rds-secrets", TargetKeyId=key["KeyId"])
    return key["Arn"]


# --------------------------------------------------------------------------- the secret


def test_the_secret_rds_creates(
    server: StrongroomServer, rds: Any, sm: Any, managed: dict[str, Any]
) -> None:
    secret = managed["MasterUserSecret"]
    managed_key = server.client("kms").describe_key(KeyId="alias/aws/secretsmanager")
    assert secret["KmsKeyId"] == managed_key["KeyMetadata"]["Arn"]
    assert secret["SecretStatus"] == "active"
    info = sm.describe_secret(SecretId=secret["SecretArn"])
    assert info["Name"].startswith("rds!db-")
    uuid.UUID(info["Name"][len("rds!db-") :])
    assert info["OwningService"] == "rds"
    assert info["RotationEnabled"] is True
    assert info["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert {"Key": "aws:rds:primaryDBInstanceArn", "Value": managed["DBInstanceArn"]} in info[
        "Tags"
    ]
    value = secret_value(sm, secret["SecretArn"])
    assert value["username"] == "admin"
    assert logs_in(managed, value["password"])
    listed = sm.list_secrets(Filters=[{"Key": "owning-service", "Values": ["rds"]}])
    assert secret["SecretArn"] in {s["ARN"] for s in listed["SecretList"]}
    # Every description of the instance carries it.
    assert describe(rds, "managed")["MasterUserSecret"] == secret


def test_what_rds_refuses(rds: Any, managed: dict[str, Any]) -> None:
    base = dict(
        DBInstanceIdentifier="nope", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", AllocatedStorage=20,
    )  # fmt: skip
    code, message, status = fails(
        rds.create_db_instance, **base, ManageMasterUserPassword=True, MasterUserPassword=PASSWORD
    )
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert "MasterUserPassword" in message
    code, _, status = fails(
        rds.create_db_instance, **base, MasterUserPassword=PASSWORD,
        MasterUserSecretKmsKeyId="alias/aws/secretsmanager",
    )  # fmt: skip
    assert (code, status) == ("InvalidParameterCombination", 400)
    for kwargs in (
        {"MasterUserPassword": PASSWORD},  # managed: no password of the caller's
        {"RotateMasterUserPassword": True},  # not without ApplyImmediately
        {"ManageMasterUserPassword": False},  # off: a password is required
    ):
        code, _, status = fails(rds.modify_db_instance, DBInstanceIdentifier="managed", **kwargs)
        assert (code, status) == ("InvalidParameterCombination", 400), kwargs


def test_the_secret_changes_only_through_rds(sm: Any, managed: dict[str, Any]) -> None:
    arn = managed["MasterUserSecret"]["SecretArn"]
    for fn, kwargs in (
        (sm.put_secret_value, {"SecretString": "{}"}),
        (sm.update_secret, {"Description": "mine"}),
        (sm.delete_secret, {"ForceDeleteWithoutRecovery": True}),
        (sm.cancel_rotate_secret, {}),
        (
            sm.put_resource_policy,
            {"ResourcePolicy": json.dumps({"Version": "2012-10-17", "Statement": []})},
        ),
        (
            sm.rotate_secret,
            {"RotationLambdaARN": "arn:aws:lambda:us-east-1:000000000000:function:f"},
        ),
    ):
        code, message, status = fails(fn, SecretId=arn, **kwargs)
        assert (code, status) == ("InvalidRequestException", 400), fn
        assert "managed by rds" in message
    assert sm.describe_secret(SecretId=arn)["OwningService"] == "rds"


# --------------------------------------------------------------------------- rotation


def test_rotation_on_demand_changes_the_engine_password(
    server: StrongroomServer, rds: Any, sm: Any, managed: dict[str, Any]
) -> None:
    arn = managed["MasterUserSecret"]["SecretArn"]
    before = secret_value(sm, arn)
    assert logs_in(managed, before["password"])
    rds.modify_db_instance(
        DBInstanceIdentifier="managed", RotateMasterUserPassword=True, ApplyImmediately=True
    )
    after = wait_rotated(sm, arn, before["password"])
    assert after["username"] == "admin"
    assert secret_value(sm, arn, "AWSPREVIOUS")["password"] == before["password"]
    assert logs_in(managed, after["password"])
    assert not logs_in(managed, before["password"])
    # Secrets Manager's own RotateSecret on the managed secret: RDS rotates it.
    sm.rotate_secret(SecretId=arn)
    third = wait_rotated(sm, arn, after["password"])
    assert logs_in(managed, third["password"])
    assert not logs_in(managed, after["password"])
    assert sm.describe_secret(SecretId=arn)["LastRotatedDate"]
    time.sleep(1.5)  # the audit queue is written
    trail = server.client("cloudtrail")
    events = [
        json.loads(e["CloudTrailEvent"])
        for p in trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )
        for e in p["Events"]
    ]
    names = [e["eventName"] for e in events]
    assert "CreateSecret" in names and "RotationSucceeded" in names
    rotate = [e for e in events if e["eventName"] == "RotateSecret"]
    assert {e.get("userIdentity", {}).get("invokedBy") for e in rotate} >= {"rds.amazonaws.com"}
    create = next(e for e in events if e["eventName"] == "CreateSecret")
    assert create["userIdentity"]["invokedBy"] == "rds.amazonaws.com"


def test_rotation_on_the_clock(server: StrongroomServer, sm: Any, managed: dict[str, Any]) -> None:
    arn = managed["MasterUserSecret"]["SecretArn"]
    before = secret_value(sm, arn)
    server.advance_clock("8d")
    after = wait_rotated(sm, arn, before["password"], timeout=60)
    assert logs_in(managed, after["password"])
    assert not logs_in(managed, before["password"])
    # What the rotation asked of KMS, acting as Secrets Manager itself (the
    # grant RDS made), is in the trail as KMS's own events.
    time.sleep(1.5)  # the audit queue is written
    trail = server.client("cloudtrail")
    kms_events = [
        json.loads(e["CloudTrailEvent"])
        for p in trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[
                {"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}
            ]
        )
        for e in p["Events"]
    ]
    ours = [
        e
        for e in kms_events
        if (e.get("requestParameters") or {}).get("encryptionContext", {}).get("SecretARN") == arn
        and e["userIdentity"].get("type") == "AWSService"
    ]
    assert {e["eventName"] for e in ours} >= {"Decrypt", "GenerateDataKey"}, kms_events[:3]
    assert all(e["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com" for e in ours)


# --------------------------------------------------------------------------- on, off, deleted


def test_turning_it_on_with_a_key_and_off_again(rds: Any, sm: Any, app_key: str) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="plain", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
    )  # fmt: skip
    inst = wait_available(rds, "plain")
    assert "MasterUserSecret" not in inst and logs_in(inst, PASSWORD)
    out = rds.modify_db_instance(
        DBInstanceIdentifier="plain", ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId="alias/rds-secrets", ApplyImmediately=True,
    )["DBInstance"]  # fmt: skip
    secret = out["MasterUserSecret"]
    assert secret["KmsKeyId"] == app_key
    assert sm.describe_secret(SecretId=secret["SecretArn"])["KmsKeyId"] in (
        "alias/rds-secrets", app_key,
    )  # fmt: skip
    inst = wait_available(rds, "plain")
    value = secret_value(sm, secret["SecretArn"])
    assert logs_in(inst, value["password"]) and not logs_in(inst, PASSWORD)
    # A rotation under the customer key (Secrets Manager's grant on it).
    rds.modify_db_instance(
        DBInstanceIdentifier="plain", RotateMasterUserPassword=True, ApplyImmediately=True
    )
    rotated = wait_rotated(sm, secret["SecretArn"], value["password"])
    assert logs_in(inst, rotated["password"])
    # Off again: a password of the caller's is required, the secret goes.
    rds.modify_db_instance(
        DBInstanceIdentifier="plain", ManageMasterUserPassword=False,
        MasterUserPassword=PASSWORD, ApplyImmediately=True,
    )  # fmt: skip
    inst = wait_available(rds, "plain")
    assert "MasterUserSecret" not in inst
    code, _, _ = fails(sm.describe_secret, SecretId=secret["SecretArn"])
    assert code == "ResourceNotFoundException"
    assert logs_in(inst, PASSWORD) and not logs_in(inst, rotated["password"])


def test_a_restore_with_a_managed_password(rds: Any, sm: Any) -> None:
    """The restored engine takes RDS's password, not the snapshot's."""
    rds.create_db_snapshot(DBInstanceIdentifier="plain", DBSnapshotIdentifier="plain-1")
    deadline = time.monotonic() + 60
    while (
        rds.describe_db_snapshots(DBSnapshotIdentifier="plain-1")["DBSnapshots"][0]["Status"]
        == "creating"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, _, _ = fails(
        rds.restore_db_instance_from_db_snapshot, DBInstanceIdentifier="restored",
        DBSnapshotIdentifier="plain-1", MasterUserSecretKmsKeyId="alias/rds-secrets",
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    out = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="restored", DBSnapshotIdentifier="plain-1",
        ManageMasterUserPassword=True,
    )["DBInstance"]  # fmt: skip
    arn = out["MasterUserSecret"]["SecretArn"]
    inst = wait_available(rds, "restored")
    assert inst["MasterUserSecret"]["SecretArn"] == arn
    value = secret_value(sm, arn)
    assert logs_in(inst, value["password"]) and not logs_in(inst, PASSWORD)
    # Not while the engine is stopped: the password must reach it.
    rds.stop_db_instance(DBInstanceIdentifier="restored")
    deadline = time.monotonic() + 60
    while describe(rds, "restored")["DBInstanceStatus"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, _, _ = fails(
        rds.modify_db_instance, DBInstanceIdentifier="restored",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "InvalidDBInstanceState"
    rds.delete_db_instance(DBInstanceIdentifier="restored", SkipFinalSnapshot=True)
    assert fails(sm.describe_secret, SecretId=arn)[0] == "ResourceNotFoundException"


def test_a_caller_without_secretsmanager_permissions_is_refused(
    server: StrongroomServer, other_account: dict[str, str]
) -> None:
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name, PolicyName="rds-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "rds:*", "Resource": "*"}]}),
    )  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "rds", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    code, message, _ = fails(
        client.create_db_instance, DBInstanceIdentifier="denied", Engine="mysql",
        DBInstanceClass="db.t3.micro", MasterUsername="admin", ManageMasterUserPassword=True,
        AllocatedStorage=20,
    )  # fmt: skip
    assert code in ("AccessDeniedException", "AccessDenied")
    assert "secretsmanager:CreateSecret" in message
    # Another account can neither rotate the instance's secret nor see it.
    theirs = server.client("rds", **other_account)
    code, _, _ = fails(
        theirs.modify_db_instance, DBInstanceIdentifier="managed",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "DBInstanceNotFound"
    forged = server.client("rds", secret_access_key="x" * 40)
    code, _, _ = fails(
        forged.modify_db_instance, DBInstanceIdentifier="managed",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "SignatureDoesNotMatch"


def test_deleting_the_instance_deletes_its_secret(rds: Any, sm: Any) -> None:
    arn = describe(rds, "managed")["MasterUserSecret"]["SecretArn"]
    wait_available(rds, "managed")
    rds.delete_db_instance(DBInstanceIdentifier="managed", SkipFinalSnapshot=True)
    code, _, _ = fails(sm.describe_secret, SecretId=arn)
    assert code == "ResourceNotFoundException"


def test_the_password_is_nowhere_in_clear(
    server: StrongroomServer, rds: Any, sm: Any, managed: dict[str, Any]
) -> None:
    assert SEEN
    time.sleep(1.5)  # the audit queue is written
    trail = server.client("cloudtrail")
    text = json.dumps(
        [e for p in trail.get_paginator("lookup_events").paginate() for e in p["Events"]],
        default=str,
    )
    events = json.dumps(rds.describe_events(Duration=10080)["Events"], default=str)
    server.stop()
    try:
        log = server.read_log()
        stored = b"".join(
            p.read_bytes()
            for p in server.data_dir.rglob("*")
            if p.is_file() and "engines" not in p.parts and p.stat().st_size < 50_000_000
        )
        for password in set(SEEN):
            assert password not in text and password not in events and password not in log
            assert password.encode() not in stored
    finally:
        server.start()
