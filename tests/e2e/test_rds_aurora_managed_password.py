"""ManageMasterUserPassword for Aurora PostgreSQL DB clusters end to end:
the secret RDS creates and owns (``rds!cluster-<uuid>``), the writer and its
streaming reader both taking the password read from it, RDS's refusals,
rotation on demand (ModifyDBCluster RotateMasterUserPassword) and on the
clock reaching every instance, turning management off and on again under a
customer key, the secret deleted with the cluster, other accounts and
callers refused, and the password nowhere in clear. One server for the
module, the tests in order; two PostgreSQL instances."""

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
ENGINE = "aurora-postgresql"
SEEN: list[str] = []  # every password read from Secrets Manager, for the secrecy test


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-aurora-secret-") as d:
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


def cluster(rds: Any, ident: str = "vault") -> dict[str, Any]:
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def wait_until(fn: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if ok(found):
            return found
        assert time.monotonic() < deadline, f"still {found}"
        time.sleep(0.05)


def wait_instance(rds: Any, ident: str) -> dict[str, Any]:
    return wait_until(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0],
        lambda i: i["DBInstanceStatus"] == "available",
    )


def secret_value(sm: Any, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    value = json.loads(sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])
    SEEN.append(value["password"])
    return value


def logs_in(port: int, password: str) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="admin", password=password, dbname="postgres",
            autocommit=True, connect_timeout=5,
        ) as conn:  # fmt: skip
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def ports(rds: Any) -> list[int]:
    """The writer's and the reader's ports."""
    return [int(wait_instance(rds, i)["Endpoint"]["Port"]) for i in ("vault-1", "vault-2")]


def everywhere(rds: Any, password: str, timeout: float = 30) -> None:
    """`password` logs in on the writer and (by replication) on the reader."""
    for port in ports(rds):
        wait_until(lambda p=port: logs_in(p, password), bool, timeout=timeout)


def wait_rotated(sm: Any, arn: str, old: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        value = secret_value(sm, arn)
        if value["password"] != old:
            stages = json.dumps(sm.describe_secret(SecretId=arn)["VersionIdsToStages"])
            assert "AWSPENDING" not in stages, "rotation still pending"
            return value
        assert time.monotonic() < deadline, "the secret was not rotated"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def vault(rds: Any) -> dict[str, Any]:
    """A cluster whose master password RDS manages, with a writer and a reader."""
    out = rds.create_db_cluster(
        DBClusterIdentifier="vault", Engine=ENGINE, MasterUsername="admin",
        ManageMasterUserPassword=True, Tags=[{"Key": "team", "Value": "vault"}],
    )["DBCluster"]  # fmt: skip
    assert out["MasterUserSecret"]["SecretStatus"] == "active"
    for name in ("vault-1", "vault-2"):
        rds.create_db_instance(
            DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large", Engine=ENGINE,
            DBClusterIdentifier="vault",
        )  # fmt: skip
        wait_instance(rds, name)
    return cluster(rds)


@pytest.fixture(scope="module")
def app_key(server: StrongroomServer) -> str:
    kms = server.client("kms")
    key = kms.create_key(Description="cluster secrets")["KeyMetadata"]
    kms.create_alias(AliasName="alias/cluster-secrets", TargetKeyId=key["KeyId"])
    return key["Arn"]


def test_the_secret_rds_creates_for_the_cluster(
    server: StrongroomServer, rds: Any, sm: Any, vault: dict[str, Any]
) -> None:
    secret = vault["MasterUserSecret"]
    managed_key = server.client("kms").describe_key(KeyId="alias/aws/secretsmanager")
    assert secret["KmsKeyId"] == managed_key["KeyMetadata"]["Arn"]
    info = sm.describe_secret(SecretId=secret["SecretArn"])
    assert info["Name"].startswith("rds!cluster-")
    uuid.UUID(info["Name"][len("rds!cluster-") :])
    assert info["OwningService"] == "rds"
    assert info["RotationEnabled"] is True
    assert info["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert {"Key": "aws:rds:primaryDBClusterArn", "Value": vault["DBClusterArn"]} in info["Tags"]
    assert (
        info["Description"]
        == f"Secret associated with primary RDS DB cluster: {vault['DBClusterArn']}"
    )
    value = secret_value(sm, secret["SecretArn"])
    assert value["username"] == "admin"
    everywhere(rds, value["password"])
    assert cluster(rds)["MasterUserSecret"] == secret
    # The cluster's instances don't carry it: it is the cluster's.
    assert "MasterUserSecret" not in wait_instance(rds, "vault-1")


def test_what_rds_refuses(rds: Any, vault: dict[str, Any]) -> None:
    base = dict(DBClusterIdentifier="nope", Engine=ENGINE, MasterUsername="admin")
    code, message, status = fails(
        rds.create_db_cluster, **base, ManageMasterUserPassword=True, MasterUserPassword=PASSWORD
    )
    assert (code, status) == (
        "InvalidParameterCombination",
        400,
    ) and "MasterUserPassword" in message
    code, _, status = fails(
        rds.create_db_cluster, **base, MasterUserPassword=PASSWORD,
        MasterUserSecretKmsKeyId="alias/aws/secretsmanager",
    )  # fmt: skip
    assert (code, status) == ("InvalidParameterCombination", 400)
    for kwargs in (
        {"MasterUserPassword": PASSWORD},  # managed: no password of the caller's
        {"RotateMasterUserPassword": True},  # not without ApplyImmediately
        {"ManageMasterUserPassword": False},  # off: a password is required
        {"MasterUserSecretKmsKeyId": "alias/aws/secretsmanager"},  # only when turning it on
    ):
        code, message, status = fails(rds.modify_db_cluster, DBClusterIdentifier="vault", **kwargs)
        assert (code, status) == ("InvalidParameterCombination", 400), kwargs
    code, message, _ = fails(
        rds.modify_db_cluster, DBClusterIdentifier="vault", MasterUserPassword=PASSWORD
    )
    assert "DB cluster" in message
    # An instance of the cluster doesn't take it: it is the cluster's setting.
    code, _, _ = fails(
        rds.modify_db_instance, DBInstanceIdentifier="vault-1", ManageMasterUserPassword=False,
        MasterUserPassword=PASSWORD,
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    assert (
        rds.describe_db_clusters(DBClusterIdentifier="vault")["DBClusters"][0]["MasterUserSecret"]
        == vault["MasterUserSecret"]
    )


def test_rotation_on_demand_reaches_every_instance(
    rds: Any, sm: Any, vault: dict[str, Any]
) -> None:
    arn = vault["MasterUserSecret"]["SecretArn"]
    before = secret_value(sm, arn)
    rds.modify_db_cluster(
        DBClusterIdentifier="vault", RotateMasterUserPassword=True, ApplyImmediately=True
    )
    after = wait_rotated(sm, arn, before["password"])
    assert secret_value(sm, arn, "AWSPREVIOUS")["password"] == before["password"]
    everywhere(rds, after["password"])
    assert not any(logs_in(p, before["password"]) for p in ports(rds))
    # Secrets Manager's own RotateSecret: RDS rotates it the same way.
    sm.rotate_secret(SecretId=arn)
    third = wait_rotated(sm, arn, after["password"])
    everywhere(rds, third["password"])
    assert not any(logs_in(p, after["password"]) for p in ports(rds))
    events = rds.describe_events(SourceType="db-cluster", SourceIdentifier="vault", Duration=60)
    assert "Reset master credentials" in [e["Message"] for e in events["Events"]]


def test_rotation_on_the_clock(server: StrongroomServer, rds: Any, sm: Any, vault) -> None:
    arn = vault["MasterUserSecret"]["SecretArn"]
    before = secret_value(sm, arn)
    server.advance_clock("8d")
    after = wait_rotated(sm, arn, before["password"], timeout=60)
    everywhere(rds, after["password"])
    assert not any(logs_in(p, before["password"]) for p in ports(rds))


def test_a_new_instance_takes_the_managed_password(rds: Any, sm: Any, vault) -> None:
    value = secret_value(sm, vault["MasterUserSecret"]["SecretArn"])
    rds.create_db_instance(
        DBInstanceIdentifier="vault-3", DBInstanceClass="db.r6g.large", Engine=ENGINE,
        DBClusterIdentifier="vault",
    )  # fmt: skip
    port = int(wait_instance(rds, "vault-3")["Endpoint"]["Port"])
    wait_until(lambda: logs_in(port, value["password"]), bool, timeout=30)
    rds.delete_db_instance(DBInstanceIdentifier="vault-3")
    wait_until(
        lambda: [m["DBInstanceIdentifier"] for m in cluster(rds)["DBClusterMembers"]],
        lambda names: "vault-3" not in names,
    )


def test_turning_it_off_and_on_again_under_a_customer_key(
    rds: Any, sm: Any, vault: dict[str, Any], app_key: str
) -> None:
    old = vault["MasterUserSecret"]["SecretArn"]
    managed_password = secret_value(sm, old)["password"]
    out = rds.modify_db_cluster(
        DBClusterIdentifier="vault", ManageMasterUserPassword=False,
        MasterUserPassword=PASSWORD, ApplyImmediately=True,
    )["DBCluster"]  # fmt: skip
    assert "MasterUserSecret" not in out
    assert fails(sm.describe_secret, SecretId=old)[0] == "ResourceNotFoundException"
    everywhere(rds, PASSWORD)
    assert not any(logs_in(p, managed_password) for p in ports(rds))
    wait_until(lambda: cluster(rds), lambda c: "PendingModifiedValues" not in c, timeout=30)
    out = rds.modify_db_cluster(
        DBClusterIdentifier="vault", ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId="alias/cluster-secrets", ApplyImmediately=True,
    )["DBCluster"]  # fmt: skip
    secret = out["MasterUserSecret"]
    assert secret["KmsKeyId"] == app_key and secret["SecretArn"] != old
    value = secret_value(sm, secret["SecretArn"])
    everywhere(rds, value["password"])
    assert not any(logs_in(p, PASSWORD) for p in ports(rds))
    # A rotation under the customer key.
    rds.modify_db_cluster(
        DBClusterIdentifier="vault", RotateMasterUserPassword=True, ApplyImmediately=True
    )
    rotated = wait_rotated(sm, secret["SecretArn"], value["password"])
    everywhere(rds, rotated["password"])


def test_other_accounts_and_callers_are_refused(
    server: StrongroomServer, rds: Any, other_account: dict[str, str], vault
) -> None:
    theirs = server.client("rds", **other_account)
    code, _, _ = fails(
        theirs.modify_db_cluster, DBClusterIdentifier="vault",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "DBClusterNotFoundFault"
    code, _, _ = fails(
        theirs.modify_db_cluster, DBClusterIdentifier=vault["DBClusterArn"],
        ManageMasterUserPassword=False, MasterUserPassword=PASSWORD, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "DBClusterNotFoundFault"
    forged = server.client("rds", secret_access_key="x" * 40)
    code, _, _ = fails(
        forged.modify_db_cluster, DBClusterIdentifier="vault",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "SignatureDoesNotMatch"
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "rds", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    code, _, _ = fails(
        client.modify_db_cluster, DBClusterIdentifier="vault",
        RotateMasterUserPassword=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "AccessDenied"
    # With rds:* but nothing of Secrets Manager, RDS can't make the secret.
    iam.put_user_policy(
        UserName=name, PolicyName="rds-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "rds:*", "Resource": "*"}]}),
    )  # fmt: skip
    code, message, _ = fails(
        client.create_db_cluster, DBClusterIdentifier="denied", Engine=ENGINE,
        MasterUsername="admin", ManageMasterUserPassword=True,
    )  # fmt: skip
    assert code in ("AccessDeniedException", "AccessDenied")
    assert "secretsmanager:CreateSecret" in message
    assert (
        rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": ["denied"]}])[
            "DBClusters"
        ]
        == []
    )


def test_the_password_is_nowhere_in_clear(server: StrongroomServer, rds: Any) -> None:
    assert SEEN
    time.sleep(1.5)  # the audit queue is written
    trail = server.client("cloudtrail")
    text = json.dumps(
        [e for p in trail.get_paginator("lookup_events").paginate() for e in p["Events"]],
        default=str,
    )
    described = json.dumps(rds.describe_db_clusters()["DBClusters"], default=str)
    log = server.read_log()
    for password in set(SEEN):
        assert password not in text and password not in described and password not in log


def test_deleting_the_cluster_deletes_its_secret(rds: Any, sm: Any) -> None:
    arn = cluster(rds)["MasterUserSecret"]["SecretArn"]
    for name in ("vault-2", "vault-1"):  # one at a time: each is the cluster's work
        wait_instance(rds, name)
        rds.delete_db_instance(DBInstanceIdentifier=name)
        wait_until(
            lambda: [m["DBInstanceIdentifier"] for m in cluster(rds)["DBClusterMembers"]],
            lambda names, n=name: n not in names,
        )
    wait_until(lambda: cluster(rds), lambda c: c["Status"] == "available", timeout=30)
    rds.delete_db_cluster(DBClusterIdentifier="vault", SkipFinalSnapshot=True)
    assert fails(sm.describe_secret, SecretId=arn)[0] == "ResourceNotFoundException"
