"""Aurora PostgreSQL end to end: a DB cluster (created with the aws CLI) has
no compute until its first instance, the writer, a real PostgreSQL server;
later instances are readers, real streaming replicas of the writer. Rows
written through the cluster endpoint appear on the reader endpoint, writes
on a reader are refused by the engine, a new master password reaches every
instance, a failover promotes a reader for real (every row kept, the new
writer writable, the old writer a reader again), deleting the writer
promotes a reader, an encrypted cluster's instances are encrypted under its
key, RDS's rules and errors, tags, filters and paging.

One server for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"
NEW_PASSWORD = "N3w-s3cret-pass"
ENGINE = "aurora-postgresql"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-aurora-") as data_dir:
        srv = StrongroomServer(Path(data_dir))
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def cluster(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def instance(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def wait_until(fn: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if ok(found):
            return found
        assert time.monotonic() < deadline, f"still {found}"
        time.sleep(0.05)


def wait_instance(rds: Any, ident: str) -> dict[str, Any]:
    return wait_until(
        lambda: instance(rds, ident),
        lambda i: i["DBInstanceStatus"] not in ("creating", "rebooting", "modifying"),
    )


def wait_cluster(rds: Any, ident: str) -> dict[str, Any]:
    return wait_until(
        lambda: cluster(rds, ident), lambda c: c["Status"] not in ("creating", "failing-over")
    )


def connect(port: int, password: str = PASSWORD, user: str = "admin") -> Any:
    return psycopg.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname="app",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def rows(port: int, password: str = PASSWORD) -> list[tuple]:
    with connect(port, password) as conn:
        return conn.execute("SELECT * FROM orders ORDER BY id").fetchall()


def insert(port: int, first: int, last: int, password: str = PASSWORD) -> None:
    with connect(port, password) as conn:
        conn.execute(
            "INSERT INTO orders SELECT g, 'item-' || g FROM generate_series(%s::int, %s::int) g",
            (first, last),
        )


def eventually_rows(port: int, want: list[tuple], password: str = PASSWORD) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            got = rows(port, password)
        except psycopg.Error:
            got = None
        if got == want:
            return
        assert time.monotonic() < deadline, f"{len(got or [])} of {len(want)} rows"
        time.sleep(0.1)


def reader_port(rds: Any, ident: str) -> int:
    """The reader endpoint's port: the first available reader of
    DBClusterMembers (see docs/rds.md)."""
    found = cluster(rds, ident)
    for member in found["DBClusterMembers"]:
        if not member["IsClusterWriter"]:
            inst = instance(rds, member["DBInstanceIdentifier"])
            if inst["DBInstanceStatus"] == "available":
                return int(inst["Endpoint"]["Port"])
    raise AssertionError("no available reader")


def cluster_events(rds: Any, ident: str) -> list[str]:
    found = rds.describe_events(SourceType="db-cluster", SourceIdentifier=ident, Duration=60)
    return [e["Message"] for e in found["Events"]]


def cli(server: StrongroomServer, *args: str) -> Any:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "rds", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


# --------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def shop(server: StrongroomServer, rds: Any) -> dict[str, Any]:
    made = cli(
        server, "create-db-cluster", "--db-cluster-identifier", "shop", "--engine", ENGINE,
        "--master-username", "admin", "--master-user-password", PASSWORD,
        "--database-name", "app", "--tags", "Key=team,Value=shop",
    )["DBCluster"]  # fmt: skip
    assert made["Status"] == "creating"
    assert (made["Engine"], made["MasterUsername"], made["DatabaseName"]) == (
        ENGINE,
        "admin",
        "app",
    )
    assert made["DBClusterMembers"] == []
    assert made["StorageEncrypted"] is False
    major = made["EngineVersion"].split(".")[0]
    assert made["DBClusterParameterGroup"] == f"default.aurora-postgresql{major}"
    assert made["DBClusterArn"] == "arn:aws:rds:us-east-1:000000000000:cluster:shop"
    assert made["DbClusterResourceId"].startswith("cluster-")
    return wait_cluster(rds, "shop")


def test_a_cluster_has_no_compute_until_an_instance_is_added(
    rds: Any, shop: dict[str, Any]
) -> None:
    assert shop["Status"] == "available"
    assert shop["DBClusterMembers"] == []
    assert (
        rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["shop"]}])[
            "DBInstances"
        ]
        == []
    )
    assert "DB cluster created" in cluster_events(rds, "shop")


def test_engine_versions_are_the_installed_majors(rds: Any, shop: dict[str, Any]) -> None:
    versions = rds.describe_db_engine_versions(Engine=ENGINE)["DBEngineVersions"]
    assert shop["EngineVersion"] in [v["EngineVersion"] for v in versions]
    for v in versions:
        major = v["EngineVersion"].split(".")[0]
        assert (v["MajorEngineVersion"], v["DBParameterGroupFamily"]) == (
            major, f"aurora-postgresql{major}",
        )  # fmt: skip


def test_what_create_db_cluster_refuses(rds: Any, shop: dict[str, Any]) -> None:
    base = {"DBClusterIdentifier": "x", "Engine": ENGINE, "MasterUsername": "admin",
            "MasterUserPassword": PASSWORD}  # fmt: skip
    code, _, status = fails(rds.create_db_cluster, **{**base, "DBClusterIdentifier": "shop"})
    assert (code, status) == ("DBClusterAlreadyExistsFault", 400)
    code, message, _ = fails(rds.create_db_cluster, **{**base, "MasterUsername": ""})
    assert code == "InvalidParameterValue" and "MasterUsername" in message
    code, message, _ = fails(rds.create_db_cluster, **{**base, "MasterUserPassword": "short"})
    assert code == "InvalidParameterValue" and "shorter than 8" in message
    code, message, _ = fails(rds.create_db_cluster, **{**base, "EngineVersion": "9.6"})
    assert code == "InvalidParameterCombination" and "available on this server" in message
    code, _, _ = fails(rds.create_db_cluster, **{**base, "Engine": "nosuch"})
    assert code == "InvalidParameterValue"
    code, _, status = fails(
        rds.create_db_cluster, **{**base, "DBClusterParameterGroupName": "nope"}
    )
    assert (code, status) == ("DBClusterParameterGroupNotFound", 404)
    code, _, _ = fails(rds.create_db_cluster, **{**base, "BackupRetentionPeriod": 0})
    assert code == "InvalidParameterValue"
    code, _, status = fails(rds.describe_db_clusters, DBClusterIdentifier="nope")
    assert (code, status) == ("DBClusterNotFoundFault", 404)


def test_instance_settings_that_belong_to_the_cluster_are_refused(
    rds: Any, shop: dict[str, Any]
) -> None:
    base = {"DBInstanceIdentifier": "x", "DBInstanceClass": "db.r6g.large", "Engine": ENGINE,
            "DBClusterIdentifier": "shop"}  # fmt: skip
    for extra, words in (
        ({"MasterUsername": "admin"}, "master user name"),
        ({"MasterUserPassword": PASSWORD}, "master user password"),
        ({"AllocatedStorage": 20}, "allocated storage"),
        ({"StorageEncrypted": True}, "storage encryption"),
    ):
        code, message, _ = fails(rds.create_db_instance, **base, **extra)
        assert code == "InvalidParameterCombination"
        assert message == (
            f"The requested DB Instance will be a member of a DB Cluster. Set {words} for the "
            "DB Cluster."
        )
    code, message, _ = fails(rds.create_db_instance, **{**base, "Engine": "postgres"})
    assert (code, message) == (
        "InvalidParameterCombination",
        "The engine name requested for your DB instance (postgres) doesn't match the engine "
        "name of your DB cluster (aurora-postgresql).",
    )
    code, _, status = fails(rds.create_db_instance, **{**base, "DBClusterIdentifier": "nope"})
    assert (code, status) == ("DBClusterNotFoundFault", 404)
    code, _, _ = fails(rds.create_db_instance, **{**base, "DBClusterIdentifier": None} if False
                       else {k: v for k, v in base.items() if k != "DBClusterIdentifier"})  # fmt: skip
    assert code == "InvalidParameterValue"


@pytest.fixture(scope="module")
def writer(rds: Any, shop: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    made = rds.create_db_instance(
        DBInstanceIdentifier="shop-1", DBInstanceClass="db.r6g.large", Engine=ENGINE,
        DBClusterIdentifier="shop",
    )["DBInstance"]  # fmt: skip
    assert (made["DBInstanceStatus"], made["DBClusterIdentifier"]) == ("creating", "shop")
    inst = wait_instance(rds, "shop-1")
    print(f"\nAurora writer CreateDBInstance-to-available: {time.monotonic() - started:.2f} s")
    assert inst["DBInstanceStatus"] == "available"
    with connect(inst["Endpoint"]["Port"]) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
    return inst


def test_the_first_instance_is_the_writer_behind_the_cluster_endpoint(
    rds: Any, writer: dict[str, Any]
) -> None:
    found = cluster(rds, "shop")
    assert found["DBClusterMembers"] == [
        {"DBInstanceIdentifier": "shop-1", "IsClusterWriter": True,
         "DBClusterParameterGroupStatus": "in-sync", "PromotionTier": 1}
    ]  # fmt: skip
    assert found["Endpoint"] == "127.0.0.1"
    assert found["Port"] == writer["Endpoint"]["Port"]
    assert (writer["Engine"], writer["MasterUsername"], writer["DBName"]) == (
        ENGINE,
        "admin",
        "app",
    )
    # The cluster's master password (kept only as a SCRAM verifier) works.
    insert(found["Port"], 1, 500)
    assert len(rows(found["Port"])) == 500
    with pytest.raises(psycopg.OperationalError):
        connect(found["Port"], "Wrong-pass-1")
    listed = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["shop"]}])
    assert [i["DBInstanceIdentifier"] for i in listed["DBInstances"]] == ["shop-1"]


@pytest.fixture(scope="module")
def reader(rds: Any, writer: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    rds.create_db_instance(
        DBInstanceIdentifier="shop-2", DBInstanceClass="db.r6g.large", Engine=ENGINE,
        DBClusterIdentifier="shop", PromotionTier=0,
    )  # fmt: skip
    inst = wait_instance(rds, "shop-2")
    print(f"\nAurora reader CreateDBInstance-to-available: {time.monotonic() - started:.2f} s")
    assert inst["DBInstanceStatus"] == "available"
    return inst


def test_rows_written_through_the_cluster_endpoint_appear_on_the_reader_endpoint(
    rds: Any, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    found = cluster(rds, "shop")
    assert [
        (m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in found["DBClusterMembers"]
    ] == [
        ("shop-1", True),
        ("shop-2", False),
    ]
    assert found["ReaderEndpoint"] == "127.0.0.1"
    port = reader_port(rds, "shop")
    assert port == reader["Endpoint"]["Port"] != found["Port"]
    insert(found["Port"], 501, 800)
    eventually_rows(port, rows(found["Port"]))
    assert len(rows(port)) == 800


def test_writes_on_the_reader_are_refused(rds: Any, reader: dict[str, Any]) -> None:
    with (
        connect(reader_port(rds, "shop")) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute("INSERT INTO orders VALUES (100000, 'no')")


def test_a_new_master_password_reaches_every_instance(
    rds: Any, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    out = rds.modify_db_cluster(
        DBClusterIdentifier="shop", MasterUserPassword=NEW_PASSWORD, ApplyImmediately=True,
        BackupRetentionPeriod=7,
    )["DBCluster"]  # fmt: skip
    assert out["BackupRetentionPeriod"] == 7
    found = cluster(rds, "shop")
    for port in (found["Port"], reader_port(rds, "shop")):
        wait_until(lambda p=port: _logs_in(p, NEW_PASSWORD), bool, timeout=30)
    assert not _logs_in(found["Port"], PASSWORD)
    assert "Reset master credentials" in cluster_events(rds, "shop")


def _logs_in(port: int, password: str) -> bool:
    try:
        connect(port, password).close()
        return True
    except psycopg.OperationalError:
        return False


def test_failover_promotes_the_reader_and_keeps_every_row(
    rds: Any, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    before = cluster(rds, "shop")
    want = rows(before["Port"], NEW_PASSWORD)
    started = time.monotonic()
    out = rds.failover_db_cluster(DBClusterIdentifier="shop", TargetDBInstanceIdentifier="shop-2")
    assert out["DBCluster"]["Status"] == "failing-over"
    after = wait_cluster(rds, "shop")
    print(f"\nFailoverDBCluster-to-available (writer + old writer re-copied): "
          f"{time.monotonic() - started:.2f} s")  # fmt: skip
    assert after["Status"] == "available"
    assert [
        (m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in after["DBClusterMembers"]
    ] == [
        ("shop-1", False),
        ("shop-2", True),
    ]
    # The cluster endpoint moved to the new writer; the reader endpoint to the old one.
    assert after["Port"] == reader["Endpoint"]["Port"]
    assert rows(after["Port"], NEW_PASSWORD) == want
    insert(after["Port"], 801, 900, NEW_PASSWORD)
    old = wait_instance(rds, "shop-1")
    assert old["DBInstanceStatus"] == "available"
    port = reader_port(rds, "shop")
    assert port == writer["Endpoint"]["Port"]
    eventually_rows(port, rows(after["Port"], NEW_PASSWORD), NEW_PASSWORD)
    with connect(port, NEW_PASSWORD) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO orders VALUES (100000, 'no')")
    messages = cluster_events(rds, "shop")
    assert "Started cross AZ failover to DB instance: shop-2" in messages
    assert "Completed failover to DB instance: shop-2" in messages
    code, _, _ = fails(
        rds.failover_db_cluster, DBClusterIdentifier="shop", TargetDBInstanceIdentifier="shop-2"
    )
    assert code == "InvalidDBInstanceState"
    code, _, _ = fails(
        rds.failover_db_cluster, DBClusterIdentifier="shop", TargetDBInstanceIdentifier="nope"
    )
    assert code == "InvalidParameterValue"


def test_instance_operations_that_belong_to_the_cluster(
    rds: Any, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    code, message, _ = fails(
        rds.create_db_snapshot, DBInstanceIdentifier="shop-1", DBSnapshotIdentifier="s"
    )
    assert (code, message) == (
        "InvalidParameterValue",
        "The specified instance is a member of a cluster and a snapshot cannot be created "
        "directly. Please use the CreateDBClusterSnapshot API instead.",
    )
    code, _, _ = fails(rds.stop_db_instance, DBInstanceIdentifier="shop-1")
    assert code == "InvalidParameterCombination"
    code, message, _ = fails(
        rds.modify_db_instance, DBInstanceIdentifier="shop-2", MasterUserPassword="Other-pass-1"
    )
    assert code == "InvalidParameterCombination" and "Set master user password" in message
    code, _, _ = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="rr",
        SourceDBInstanceIdentifier="shop-1",
    )  # fmt: skip
    assert code in ("InvalidParameterCombination", "InvalidDBInstanceState")
    assert instance(rds, "shop-1")["DBInstanceStatus"] == "available"


def test_cluster_parameter_groups_reach_the_engines(rds: Any, shop: dict[str, Any]) -> None:
    major = shop["EngineVersion"].split(".")[0]
    family = f"aurora-postgresql{major}"
    groups = rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    assert {"DBClusterParameterGroupName": f"default.{family}", "DBParameterGroupFamily": family,
            "Description": f"Default cluster parameter group for {family}",
            "DBClusterParameterGroupArn": "arn:aws:rds:us-east-1:000000000000:cluster-pg:"
            f"default.{family}"} in groups  # fmt: skip
    made = rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="tuned", DBParameterGroupFamily=family, Description="t"
    )["DBClusterParameterGroup"]
    assert made["DBClusterParameterGroupArn"].endswith(":cluster-pg:tuned")
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="tuned",
        Parameters=[{"ParameterName": "work_mem", "ParameterValue": "8192",
                     "ApplyMethod": "immediate"}],
    )  # fmt: skip
    code, message, _ = fails(
        rds.modify_db_cluster_parameter_group, DBClusterParameterGroupName=f"default.{family}",
        Parameters=[{"ParameterName": "work_mem", "ParameterValue": "8192"}],
    )  # fmt: skip
    assert (code, message) == ("InvalidParameterValue", "Cannot modify a default parameter group.")
    code, _, _ = fails(
        rds.modify_db_cluster_parameter_group, DBClusterParameterGroupName="tuned",
        Parameters=[{"ParameterName": "max_connections", "ParameterValue": "50",
                     "ApplyMethod": "immediate"}],
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(
        rds.create_db_cluster, DBClusterIdentifier="x", Engine=ENGINE, MasterUsername="admin",
        MasterUserPassword=PASSWORD, DBClusterParameterGroupName="nope",
    )  # fmt: skip
    assert code == "DBClusterParameterGroupNotFound"
    user = rds.describe_db_cluster_parameters(DBClusterParameterGroupName="tuned", Source="user")
    assert [(p["ParameterName"], p["ParameterValue"]) for p in user["Parameters"]] == [
        ("work_mem", "8192")
    ]
    defaults = rds.describe_engine_default_cluster_parameters(DBParameterGroupFamily=family)
    assert defaults["EngineDefaults"]["Parameters"]
    rds.create_db_cluster(
        DBClusterIdentifier="tuned", Engine=ENGINE, MasterUsername="admin",
        MasterUserPassword=PASSWORD, DatabaseName="app", DBClusterParameterGroupName="tuned",
    )  # fmt: skip
    assert cluster(rds, "tuned")["DBClusterParameterGroup"] == "tuned"
    # boto3's waiters for clusters work on these statuses.
    rds.get_waiter("db_cluster_available").wait(
        DBClusterIdentifier="tuned", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    rds.create_db_instance(DBInstanceIdentifier="tuned-1", DBInstanceClass="db.r6g.large",
                           Engine=ENGINE, DBClusterIdentifier="tuned")  # fmt: skip
    port = wait_instance(rds, "tuned-1")["Endpoint"]["Port"]
    with connect(port) as conn:
        assert conn.execute("SHOW work_mem").fetchone()[0] == "8MB"
    # A change to the group reaches the running writer.
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="tuned",
        Parameters=[{"ParameterName": "work_mem", "ParameterValue": "16384"}],
    )

    def work_mem() -> str:
        with connect(port) as conn:
            return conn.execute("SHOW work_mem").fetchone()[0]

    wait_until(work_mem, lambda v: v == "16MB", timeout=30)
    code, _, _ = fails(rds.delete_db_cluster_parameter_group, DBClusterParameterGroupName="tuned")
    assert code == "InvalidDBParameterGroupState"
    rds.delete_db_instance(DBInstanceIdentifier="tuned-1")
    wait_until(lambda: cluster(rds, "tuned")["DBClusterMembers"], lambda m: m == [])
    rds.delete_db_cluster(DBClusterIdentifier="tuned", SkipFinalSnapshot=True)
    rds.get_waiter("db_cluster_deleted").wait(
        DBClusterIdentifier="tuned", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    rds.reset_db_cluster_parameter_group(
        DBClusterParameterGroupName="tuned", ResetAllParameters=True
    )
    user = rds.describe_db_cluster_parameters(DBClusterParameterGroupName="tuned", Source="user")
    assert user["Parameters"] == []
    rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="tuned")
    code, _, status = fails(rds.describe_db_cluster_parameters, DBClusterParameterGroupName="tuned")
    assert (code, status) == ("DBParameterGroupNotFound", 404)


def test_tags_on_a_cluster(rds: Any, shop: dict[str, Any]) -> None:
    arn = shop["DBClusterArn"]
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "team", "Value": "shop"}
    ]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "env", "Value": "prod"}])
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["team"])
    assert cluster(rds, "shop")["TagList"] == [{"Key": "env", "Value": "prod"}]
    code, _, _ = fails(
        rds.list_tags_for_resource, ResourceName="arn:aws:rds:us-east-1:000000000000:cluster:nope"
    )
    assert code == "DBClusterNotFoundFault"


def test_describe_filters_and_paging(rds: Any, shop: dict[str, Any]) -> None:
    for i in range(21):
        rds.create_db_cluster(
            DBClusterIdentifier=f"page-{i:02d}", Engine=ENGINE, MasterUsername="admin",
            MasterUserPassword=PASSWORD,
        )  # fmt: skip
    first = rds.describe_db_clusters(MaxRecords=20)
    assert len(first["DBClusters"]) == 20 and first["Marker"]
    second = rds.describe_db_clusters(MaxRecords=20, Marker=first["Marker"])
    names = [c["DBClusterIdentifier"] for c in first["DBClusters"] + second["DBClusters"]]
    assert names == sorted(names) and "shop" in names and len(names) == 22
    by_arn = rds.describe_db_clusters(DBClusterIdentifier=shop["DBClusterArn"])["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in by_arn] == ["shop"]
    filtered = rds.describe_db_clusters(
        Filters=[{"Name": "db-cluster-resource-id", "Values": [shop["DbClusterResourceId"]]}]
    )["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in filtered] == ["shop"]
    code, _, _ = fails(rds.describe_db_clusters, Filters=[{"Name": "nope", "Values": ["x"]}])
    assert code == "InvalidParameterValue"
    for i in range(21):
        wait_cluster(rds, f"page-{i:02d}")
        rds.delete_db_cluster(DBClusterIdentifier=f"page-{i:02d}", SkipFinalSnapshot=True)


def test_an_encrypted_cluster_has_encrypted_instances(server: StrongroomServer, rds: Any) -> None:
    key = server.client("kms").create_key(Description="aurora")["KeyMetadata"]["Arn"]
    made = rds.create_db_cluster(
        DBClusterIdentifier="vault", Engine=ENGINE, MasterUsername="admin",
        MasterUserPassword=PASSWORD, DatabaseName="app", StorageEncrypted=True, KmsKeyId=key,
    )["DBCluster"]  # fmt: skip
    assert (made["StorageEncrypted"], made["KmsKeyId"]) == (True, key)
    default = rds.create_db_cluster(
        DBClusterIdentifier="vault-default", Engine=ENGINE, MasterUsername="admin",
        MasterUserPassword=PASSWORD, StorageEncrypted=True,
    )["DBCluster"]  # fmt: skip
    assert default["StorageEncrypted"] is True and ":key/" in default["KmsKeyId"]
    assert default["KmsKeyId"] != key
    wait_cluster(rds, "vault")
    rds.create_db_instance(DBInstanceIdentifier="vault-1", DBInstanceClass="db.r6g.large",
                           Engine=ENGINE, DBClusterIdentifier="vault")  # fmt: skip
    # The reader is asked for at once: it waits for its writer.
    rds.create_db_instance(DBInstanceIdentifier="vault-2", DBInstanceClass="db.r6g.large",
                           Engine=ENGINE, DBClusterIdentifier="vault")  # fmt: skip
    first, second = wait_instance(rds, "vault-1"), wait_instance(rds, "vault-2")
    for inst in (first, second):
        assert (inst["DBInstanceStatus"], inst["StorageEncrypted"], inst["KmsKeyId"]) == (
            "available", True, key,
        )  # fmt: skip
    with connect(first["Endpoint"]["Port"]) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
    insert(first["Endpoint"]["Port"], 1, 50)
    eventually_rows(second["Endpoint"]["Port"], rows(first["Endpoint"]["Port"]))
    code, _, _ = fails(rds.create_db_cluster, DBClusterIdentifier="vault-bad", Engine=ENGINE,
                       MasterUsername="admin", MasterUserPassword=PASSWORD,
                       StorageEncrypted=True, KmsKeyId="alias/nope")  # fmt: skip
    assert code == "KMSKeyNotAccessibleFault"


def wait_snapshot(rds: Any, ident: str) -> dict[str, Any]:
    return wait_until(
        lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)[
            "DBClusterSnapshots"
        ][0],
        lambda s: s["Status"] != "creating",
    )


def test_a_cluster_snapshot_restores_encrypted_under_a_key_of_choice(
    server: StrongroomServer, rds: Any, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    """The seed's workflow for clusters: an unencrypted cluster's snapshot
    restored with KmsKeyId (as AWS allows for clusters) is encrypted and
    holds every row."""
    source_port = cluster(rds, "shop")["Port"]
    want = rows(source_port, NEW_PASSWORD)
    made = rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="shop-snap", DBClusterIdentifier="shop",
        Tags=[{"Key": "k", "Value": "v"}],
    )["DBClusterSnapshot"]  # fmt: skip
    assert (made["Status"], made["StorageEncrypted"], made["SnapshotType"]) == (
        "creating", False, "manual",
    )  # fmt: skip
    assert made["DBClusterSnapshotArn"].endswith(":cluster-snapshot:shop-snap")
    rds.get_waiter("db_cluster_snapshot_available").wait(
        DBClusterSnapshotIdentifier="shop-snap", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    snap = wait_snapshot(rds, "shop-snap")
    assert (snap["Status"], snap["PercentProgress"], snap["DBClusterIdentifier"]) == (
        "available", 100, "shop",
    )  # fmt: skip
    assert wait_cluster(rds, "shop")["Status"] == "available"
    code, _, _ = fails(
        rds.create_db_cluster_snapshot, DBClusterSnapshotIdentifier="shop-snap",
        DBClusterIdentifier="shop",
    )  # fmt: skip
    assert code == "DBClusterSnapshotAlreadyExistsFault"
    listed = rds.describe_db_cluster_snapshots(DBClusterIdentifier="shop")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"] for s in listed] == ["shop-snap"]
    key = server.client("kms").create_key(Description="restore")["KeyMetadata"]["Arn"]
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="shop-copy", SnapshotIdentifier="shop-snap", Engine=ENGINE,
        KmsKeyId=key,
    )["DBCluster"]  # fmt: skip
    assert (restored["StorageEncrypted"], restored["KmsKeyId"]) == (True, key)
    assert wait_cluster(rds, "shop-copy")["Status"] == "available"
    rds.create_db_instance(DBInstanceIdentifier="shop-copy-1", DBInstanceClass="db.r6g.large",
                           Engine=ENGINE, DBClusterIdentifier="shop-copy")  # fmt: skip
    inst = wait_instance(rds, "shop-copy-1")
    assert (inst["DBInstanceStatus"], inst["StorageEncrypted"], inst["KmsKeyId"]) == (
        "available", True, key,
    )  # fmt: skip
    # Every row, and the master password the snapshot's cluster had.
    assert rows(cluster(rds, "shop-copy")["Port"], NEW_PASSWORD) == want
    # Copies: KmsKeyId encrypts an unencrypted snapshot's copy; without it
    # the copy is as the source.
    enc = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="shop-snap", TargetDBClusterSnapshotIdentifier="shop-enc",
        KmsKeyId=key, CopyTags=True,
    )["DBClusterSnapshot"]  # fmt: skip
    assert (enc["StorageEncrypted"], enc["KmsKeyId"]) == (True, key)
    assert enc["SourceDBClusterSnapshotArn"] == snap["DBClusterSnapshotArn"]
    assert enc["TagList"] == [{"Key": "k", "Value": "v"}]
    plain = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="shop-snap",
        TargetDBClusterSnapshotIdentifier="shop-plain",
    )["DBClusterSnapshot"]
    assert plain["StorageEncrypted"] is False
    assert wait_snapshot(rds, "shop-enc")["Status"] == "available"
    assert wait_snapshot(rds, "shop-plain")["Status"] == "available"
    for ident in ("shop-enc", "shop-plain"):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=ident)
    # The snapshot is deleted; the restored cluster does not depend on it.
    out = rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="shop-snap")
    assert out["DBClusterSnapshot"]["Status"] == "deleted"
    code, _, status = fails(
        rds.describe_db_cluster_snapshots, DBClusterSnapshotIdentifier="shop-snap"
    )
    assert (code, status) == ("DBClusterSnapshotNotFoundFault", 404)
    code, _, _ = fails(
        rds.restore_db_cluster_from_snapshot, DBClusterIdentifier="x", SnapshotIdentifier="nope",
        Engine=ENGINE,
    )  # fmt: skip
    assert code == "DBClusterSnapshotNotFoundFault"
    rds.delete_db_instance(DBInstanceIdentifier="shop-copy-1")
    wait_until(lambda: cluster(rds, "shop-copy")["DBClusterMembers"], lambda m: m == [])
    rds.delete_db_cluster(DBClusterIdentifier="shop-copy", SkipFinalSnapshot=True)


def test_an_encrypted_cluster_snapshot_is_reencrypted_on_restore(
    server: StrongroomServer, rds: Any
) -> None:
    port = instance(rds, "vault-1")["Endpoint"]["Port"]
    want = rows(port)
    snap = rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="vault-snap", DBClusterIdentifier="vault"
    )["DBClusterSnapshot"]
    vault_key = cluster(rds, "vault")["KmsKeyId"]
    assert (snap["StorageEncrypted"], snap["KmsKeyId"]) == (True, vault_key)
    wait_snapshot(rds, "vault-snap")
    wait_cluster(rds, "vault")
    same = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="vault-same", SnapshotIdentifier="vault-snap", Engine=ENGINE
    )["DBCluster"]
    assert same["KmsKeyId"] == vault_key
    other = server.client("kms").create_key(Description="other")["KeyMetadata"]["Arn"]
    moved = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="vault-moved", SnapshotIdentifier="vault-snap", Engine=ENGINE,
        KmsKeyId=other,
    )["DBCluster"]  # fmt: skip
    assert moved["KmsKeyId"] == other
    wait_cluster(rds, "vault-moved")
    code, _, _ = fails(
        rds.copy_db_cluster_snapshot, SourceDBClusterSnapshotIdentifier="vault-snap",
        TargetDBClusterSnapshotIdentifier="vault-plain", KmsKeyId="",
    )  # fmt: skip
    assert code == "InvalidParameterValue"  # an encrypted snapshot never becomes unencrypted
    copy = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="vault-snap", TargetDBClusterSnapshotIdentifier="vault-re",
        KmsKeyId=other,
    )["DBClusterSnapshot"]  # fmt: skip
    assert (copy["StorageEncrypted"], copy["KmsKeyId"]) == (True, other)
    wait_snapshot(rds, "vault-re")
    # Re-encrypted: the copy no longer needs the source or its key.
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="vault-snap")
    # Across Regions: the source by its ARN; encrypted, a key of the destination.
    west = server.client("rds", region="us-west-2")
    code, _, _ = fails(
        west.copy_db_cluster_snapshot, SourceDBClusterSnapshotIdentifier=copy["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="vault-west",
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(
        west.copy_db_cluster_snapshot, SourceDBClusterSnapshotIdentifier=copy["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="vault-west", KmsKeyId=other,
    )  # fmt: skip
    assert code == "KMSKeyNotAccessibleFault"
    west_key = server.client("kms", region="us-west-2").create_key()["KeyMetadata"]["Arn"]
    crossed = west.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=copy["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="vault-west", KmsKeyId=west_key,
    )["DBClusterSnapshot"]  # fmt: skip
    assert (crossed["KmsKeyId"], crossed["SourceDBClusterSnapshotArn"]) == (
        west_key, copy["DBClusterSnapshotArn"],
    )  # fmt: skip
    assert wait_snapshot(west, "vault-west")["Status"] == "available"
    west.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="vault-west", SnapshotIdentifier="vault-west", Engine=ENGINE
    )
    wait_cluster(west, "vault-west")
    west.create_db_instance(DBInstanceIdentifier="vault-west-1", DBInstanceClass="db.r6g.large",
                            Engine=ENGINE, DBClusterIdentifier="vault-west")  # fmt: skip
    west_inst = wait_instance(west, "vault-west-1")
    assert (west_inst["DBInstanceStatus"], west_inst["KmsKeyId"]) == ("available", west_key)
    assert rows(west_inst["Endpoint"]["Port"]) == want
    server.client("kms").disable_key(KeyId=vault_key)
    try:
        rds.restore_db_cluster_from_snapshot(
            DBClusterIdentifier="vault-re", SnapshotIdentifier="vault-re", Engine=ENGINE
        )
        wait_cluster(rds, "vault-re")
        rds.create_db_instance(DBInstanceIdentifier="vault-re-1", DBInstanceClass="db.r6g.large",
                               Engine=ENGINE, DBClusterIdentifier="vault-re")  # fmt: skip
        re_inst = wait_instance(rds, "vault-re-1")
        assert (re_inst["DBInstanceStatus"], re_inst["KmsKeyId"]) == ("available", other)
        assert rows(re_inst["Endpoint"]["Port"]) == want
    finally:
        server.client("kms").enable_key(KeyId=vault_key)
    rds.create_db_instance(DBInstanceIdentifier="vault-moved-1", DBInstanceClass="db.r6g.large",
                           Engine=ENGINE, DBClusterIdentifier="vault-moved")  # fmt: skip
    inst = wait_instance(rds, "vault-moved-1")
    assert (inst["DBInstanceStatus"], inst["KmsKeyId"]) == ("available", other)
    assert rows(inst["Endpoint"]["Port"]) == want


def test_an_encrypted_cluster_comes_back_after_a_restart(server: StrongroomServer) -> None:
    """Its instances' files sealed while strongroom is stopped, then the
    writer and its reader back, streaming."""
    before = rows(instance(server.client("rds"), "vault-1")["Endpoint"]["Port"])
    server.stop()
    server.start()
    rds = server.client("rds")
    ports = [instance(rds, i)["Endpoint"]["Port"] for i in ("vault-1", "vault-2")]
    for port in ports:
        wait_until(lambda p=port: _logs_in(p, PASSWORD), bool, timeout=60)
    assert rows(ports[0]) == before
    insert(ports[0], 51, 60)
    eventually_rows(ports[1], rows(ports[0]))
    assert cluster(rds, "vault")["Port"] == ports[0]


def test_deleting_the_writer_promotes_a_reader_then_the_cluster_goes(
    server: StrongroomServer, writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    rds = server.client("rds")
    code, message, _ = fails(rds.delete_db_cluster, DBClusterIdentifier="shop",
                             SkipFinalSnapshot=True)  # fmt: skip
    assert (code, message) == (
        "InvalidDBClusterStateFault",
        "Cluster cannot be deleted, it still contains DB instances in non-deleting state.",
    )
    want = rows(cluster(rds, "shop")["Port"], NEW_PASSWORD)
    # shop-2 is the writer now: deleting it promotes shop-1.
    rds.delete_db_instance(DBInstanceIdentifier="shop-2")
    wait_until(lambda: cluster(rds, "shop")["DBClusterMembers"], lambda m: len(m) == 1)
    found = wait_cluster(rds, "shop")
    assert found["DBClusterMembers"][0]["DBInstanceIdentifier"] == "shop-1"
    assert found["DBClusterMembers"][0]["IsClusterWriter"] is True
    assert found["Port"] == writer["Endpoint"]["Port"]
    assert rows(found["Port"], NEW_PASSWORD) == want
    insert(found["Port"], 901, 910, NEW_PASSWORD)
    rds.delete_db_instance(DBInstanceIdentifier="shop-1")
    wait_until(lambda: cluster(rds, "shop")["DBClusterMembers"], lambda m: m == [])
    rds.modify_db_cluster(DBClusterIdentifier="shop", DeletionProtection=True)
    code, _, _ = fails(rds.delete_db_cluster, DBClusterIdentifier="shop", SkipFinalSnapshot=True)
    assert code == "InvalidParameterCombination"
    rds.modify_db_cluster(DBClusterIdentifier="shop", DeletionProtection=False)
    code, _, _ = fails(rds.delete_db_cluster, DBClusterIdentifier="shop")
    assert code == "InvalidParameterCombination"
    out = rds.delete_db_cluster(DBClusterIdentifier="shop", SkipFinalSnapshot=True)
    assert out["DBCluster"]["Status"] == "deleting"
    wait_until(
        lambda: rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": ["shop"]}]),
        lambda r: r["DBClusters"] == [],
    )
    assert "DB cluster deleted" in cluster_events(rds, "shop")
