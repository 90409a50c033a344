"""RDS read replicas end to end, as real PostgreSQL streaming replicas: rows
written on the source appear on the replica, writes on the replica are
refused by the engine, promotion (boto3 and the aws CLI) makes a writable
standalone instance holding every row, an encrypted source gets an
encrypted replica, a cross-Region replica is under a key of its Region,
cascading replicas, the source's new master password reaches the replica,
RDS's rules (stop, delete, backups), events, a restart of strongroom, and
deleting a source (its replicas are promoted).

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
from psycopg import sql

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"
NEW_PASSWORD = "N3w-s3cret-pass"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-replicas-") as data_dir:
        srv = StrongroomServer(Path(data_dir))
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


@pytest.fixture(scope="module")
def west(server: StrongroomServer) -> Any:
    return server.client("rds", region="us-west-2")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def wait_status(rds: Any, ident: str, *, leaving: set[str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe(rds, ident)
        if found["DBInstanceStatus"] not in leaving:
            return found
        assert time.monotonic() < deadline, f"{ident} still {found['DBInstanceStatus']}"
        time.sleep(0.05)


def connect(inst: dict[str, Any], password: str = PASSWORD) -> Any:
    return psycopg.connect(
        host=inst["Endpoint"]["Address"], port=inst["Endpoint"]["Port"],
        user=inst["MasterUsername"], password=password, dbname="app",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def rows(inst: dict[str, Any], password: str = PASSWORD) -> list[tuple]:
    with connect(inst, password) as conn:
        return conn.execute("SELECT * FROM orders ORDER BY id").fetchall()


def insert(inst: dict[str, Any], first: int, last: int, password: str = PASSWORD) -> None:
    with connect(inst, password) as conn:
        conn.execute(
            "INSERT INTO orders SELECT g, 'item-' || g, md5(g::text) "
            "FROM generate_series(%s::int, %s::int) g",
            (first, last),
        )


def eventually_rows(inst: dict[str, Any], want: list[tuple], timeout: float = 30) -> None:
    """The replica holds exactly `want`, once replication has brought it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = rows(inst)
        except psycopg.OperationalError:
            got = None
        if got == want:
            return
        assert time.monotonic() < deadline, f"replica has {len(got or [])} of {len(want)} rows"
        time.sleep(0.1)


def events(rds: Any, ident: str) -> list[str]:
    found = rds.describe_events(SourceType="db-instance", SourceIdentifier=ident, Duration=60)
    return [e["Message"] for e in found["Events"]]


def replication_info(rds: Any, ident: str, timeout: float = 20) -> dict[str, Any]:
    """The replica's StatusInfos entry, once its lag has been measured."""
    deadline = time.monotonic() + timeout
    while True:
        infos = describe(rds, ident).get("StatusInfos") or []
        if infos and "Message" in infos[0]:
            return infos[0]
        assert time.monotonic() < deadline, f"no measured StatusInfos: {infos}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def source(rds: Any) -> dict[str, Any]:
    rds.create_db_instance(
        DBInstanceIdentifier="src", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20, DBName="app",
    )  # fmt: skip
    inst = wait_status(rds, "src", leaving={"creating"})
    with connect(inst) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text, note text)")
    insert(inst, 1, 1000)
    return inst


@pytest.fixture(scope="module")
def replica(rds: Any, source: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    out = rds.create_db_instance_read_replica(
        DBInstanceIdentifier="src-r1", SourceDBInstanceIdentifier="src",
        Tags=[{"Key": "role", "Value": "reader"}], DBInstanceClass="db.t3.small",
    )["DBInstance"]  # fmt: skip
    assert out["DBInstanceStatus"] == "creating"
    assert out["ReadReplicaSourceDBInstanceIdentifier"] == "src"
    assert (out["DBInstanceClass"], out["BackupRetentionPeriod"]) == ("db.t3.small", 0)
    assert (out["MasterUsername"], out["DBName"], out["Engine"]) == ("admin", "app", "postgres")
    assert out["TagList"] == [{"Key": "role", "Value": "reader"}]
    # As on AWS, the source is modifying while its copy is taken.
    assert describe(rds, "src")["DBInstanceStatus"] in ("modifying", "available")
    inst = wait_status(rds, "src-r1", leaving={"creating"})
    print(f"\nCreateDBInstanceReadReplica-to-available: {time.monotonic() - started:.2f} s")
    assert inst["DBInstanceStatus"] == "available"
    assert wait_status(rds, "src", leaving={"modifying"})["DBInstanceStatus"] == "available"
    return inst


# --------------------------------------------------------------------------- rules


def test_what_a_source_must_be(rds: Any, source: dict[str, Any]) -> None:
    code, message, status = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="x-r",
        SourceDBInstanceIdentifier="nope",
    )  # fmt: skip
    assert (code, status) == ("DBInstanceNotFound", 404)
    # No automated backups: AWS's InvalidDBInstanceState.
    rds.create_db_instance(
        DBInstanceIdentifier="nobackup", Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        BackupRetentionPeriod=0,
    )  # fmt: skip
    wait_status(rds, "nobackup", leaving={"creating"})
    code, message, status = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="x-r",
        SourceDBInstanceIdentifier="nobackup",
    )  # fmt: skip
    assert (code, status) == ("InvalidDBInstanceState", 400)
    assert message.startswith("Automated backups are not enabled for this database instance.")
    # An unencrypted source: no encrypted replica.
    code, _, _ = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="x-r",
        SourceDBInstanceIdentifier="src", KmsKeyId="alias/aws/rds",
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, message, _ = fails(rds.promote_read_replica, DBInstanceIdentifier="src")
    assert (code, message) == ("InvalidDBInstanceState", "DB Instance is not a read replica.")
    code, _, _ = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="src",
        SourceDBInstanceIdentifier="src",
    )  # fmt: skip
    assert code == "DBInstanceAlreadyExists"
    code, _, _ = fails(
        rds.create_db_instance_read_replica, DBInstanceIdentifier="x-r",
        SourceDBClusterIdentifier="no-cluster",
    )  # fmt: skip
    assert code == "DBClusterNotFoundFault"
    assert [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]] == [
        "nobackup", "src",
    ]  # fmt: skip
    rds.delete_db_instance(DBInstanceIdentifier="nobackup", SkipFinalSnapshot=True)


def test_how_many_replicas_and_how_deep(rds: Any) -> None:
    """At most 15 replicas a source, three down a chain (control-plane
    replicas: records only, so this is cheap); a MySQL replica needs backups
    of its own to be a source."""
    rds.create_db_instance(
        DBInstanceIdentifier="many", Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
    )  # fmt: skip
    wait_status(rds, "many", leaving={"creating"})
    for n in range(15):
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=f"many-{n}", SourceDBInstanceIdentifier="many"
        )
    code, message, _ = fails(rds.create_db_instance_read_replica, DBInstanceIdentifier="many-15",
                             SourceDBInstanceIdentifier="many")  # fmt: skip
    assert code == "InvalidDBInstanceState" and "maximum number of read replicas" in message
    listed = describe(rds, "many")["ReadReplicaDBInstanceIdentifiers"]
    assert listed == [f"many-{n}" for n in range(15)]
    first = wait_status(rds, "many-0", leaving={"creating"})
    assert first["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": True, "Status": "replicating"}
    ]
    code, message, _ = fails(rds.create_db_instance_read_replica, DBInstanceIdentifier="deep-1",
                             SourceDBInstanceIdentifier="many-0")  # fmt: skip
    assert code == "InvalidDBInstanceState" and message.startswith("Automated backups")
    parent = "many-0"
    for depth in (1, 2):
        rds.modify_db_instance(DBInstanceIdentifier=parent, BackupRetentionPeriod=1,
                               ApplyImmediately=True)  # fmt: skip
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=f"deep-{depth}", SourceDBInstanceIdentifier=parent
        )
        parent = f"deep-{depth}"
        wait_status(rds, parent, leaving={"creating"})
    rds.modify_db_instance(DBInstanceIdentifier=parent, BackupRetentionPeriod=1,
                           ApplyImmediately=True)  # fmt: skip
    code, message, _ = fails(rds.create_db_instance_read_replica, DBInstanceIdentifier="deep-3",
                             SourceDBInstanceIdentifier=parent)  # fmt: skip
    assert code == "InvalidDBInstanceState" and "at most 3 replicas" in message
    # A control-plane replica promotes too (its record stands alone).
    rds.promote_read_replica(DBInstanceIdentifier="many-1")
    alone = wait_status(rds, "many-1", leaving={"modifying"})
    assert "ReadReplicaSourceDBInstanceIdentifier" not in alone
    assert (alone["DBInstanceStatus"], alone["BackupRetentionPeriod"]) == ("available", 1)
    assert "many-1" not in describe(rds, "many")["ReadReplicaDBInstanceIdentifiers"]
    # Deleting the source: each replica stands alone.
    rds.delete_db_instance(DBInstanceIdentifier="many", SkipFinalSnapshot=True)
    deadline = time.monotonic() + 30
    while "ReadReplicaSourceDBInstanceIdentifier" in describe(rds, "many-14"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert describe(rds, "deep-1")["ReadReplicaSourceDBInstanceIdentifier"] == "many-0"
    for ident in [f"many-{n}" for n in range(15)] + ["deep-1", "deep-2"]:
        wait_status(rds, ident, leaving={"creating", "modifying"})
    for ident in ["deep-2", "deep-1"] + [f"many-{n}" for n in range(15)]:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


# --------------------------------------------------------------------------- streaming


def test_rows_stream_and_writes_are_refused(
    rds: Any, source: dict[str, Any], replica: dict[str, Any]
) -> None:
    assert replica["Endpoint"]["Port"] != source["Endpoint"]["Port"]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "src"
    assert describe(rds, "src")["ReadReplicaDBInstanceIdentifiers"] == ["src-r1"]
    eventually_rows(replica, rows(source))
    insert(source, 1001, 1500)
    with connect(source) as conn:
        conn.execute("UPDATE orders SET note = 'changed' WHERE id <= 10")
        conn.execute("DELETE FROM orders WHERE id BETWEEN 20 AND 29")
    eventually_rows(replica, rows(source))
    assert len(rows(replica)) == 1490
    with connect(replica) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as refused:
            conn.execute("INSERT INTO orders VALUES (0, 'x', 'y')")
        assert "cannot execute INSERT in a read-only transaction" in str(refused.value)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE other (n int)")
    info = replication_info(rds, "src-r1")
    assert (info["StatusType"], info["Status"], info["Normal"]) == (
        "read replication", "replicating", True,
    )  # fmt: skip
    lag = float(info["Message"].split()[2])
    assert info["Message"] == f"Replica lag: {lag:.3f} seconds" and 0 <= lag < 5
    assert "StatusInfos" not in describe(rds, "src")
    assert "Replication for the Read Replica resumed." in events(rds, "src-r1")


def superuser(server: StrongroomServer, inst: dict[str, Any]) -> Any:
    """strongroom's own control session on an engine (its Unix socket, as
    rdsadmin by peer: this test runs as strongroom's OS user)."""
    path = server.data_dir / "engines" / "postgres" / "instances" / inst["DbiResourceId"]
    handle = json.loads((path / "instance.json").read_text())
    return psycopg.connect(host=handle["socket_dir"], port=handle["port"], user="rdsadmin",
                           dbname="postgres", autocommit=True)  # fmt: skip


def lag_of(rds: Any, ident: str) -> float:
    return float(replication_info(rds, ident)["Message"].split()[2])


def test_the_lag_shows_a_replica_falling_behind(
    server: StrongroomServer, rds: Any, source: dict[str, Any], replica: dict[str, Any]
) -> None:
    """Replay paused on the replica (the engine's pg_wal_replay_pause; the
    master user may not, as on RDS): what DescribeDBInstances shows grows;
    resumed, it is back to 0 and every row is there."""
    with connect(replica) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT pg_wal_replay_pause()")
    with superuser(server, replica) as admin:
        admin.execute("SELECT pg_wal_replay_pause()")
        try:
            insert(source, 1501, 1600)
            deadline = time.monotonic() + 20
            while lag_of(rds, "src-r1") < 1.5:
                assert time.monotonic() < deadline, "the lag did not grow"
                time.sleep(0.2)
            assert len(rows(replica)) == 1490  # not replayed yet
        finally:
            admin.execute("SELECT pg_wal_replay_resume()")
    eventually_rows(replica, rows(source))
    deadline = time.monotonic() + 20
    while lag_of(rds, "src-r1") != 0.0:
        assert time.monotonic() < deadline, "the lag did not come back to 0"
        time.sleep(0.2)


def test_replication_that_stops_and_resumes(
    server: StrongroomServer, rds: Any, source: dict[str, Any], replica: dict[str, Any]
) -> None:
    """The replica's WAL receiver cut off (its primary_conninfo emptied, as a
    superuser): StatusInfos says so, and the events tell it stopped and
    resumed."""
    with superuser(server, replica) as admin:
        conninfo = admin.execute("SHOW primary_conninfo").fetchone()[0]
        admin.execute("ALTER SYSTEM SET primary_conninfo = ''")
        admin.execute("SELECT pg_reload_conf()")
        try:
            deadline = time.monotonic() + 20
            while (describe(rds, "src-r1").get("StatusInfos") or [{}])[0].get("Normal", True):
                assert time.monotonic() < deadline, "the stop was not seen"
                time.sleep(0.2)
            assert describe(rds, "src-r1")["StatusInfos"] == [{
                "StatusType": "read replication", "Normal": False, "Status": "error",
                "Message": "Replication has stopped.",
            }]  # fmt: skip
            deadline = time.monotonic() + 20
            while "Replication has stopped." not in events(rds, "src-r1"):
                assert time.monotonic() < deadline, "no event for the stop"
                time.sleep(0.2)
        finally:
            admin.execute(
                sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(sql.Literal(conninfo))
            )
            admin.execute("SELECT pg_reload_conf()")
    insert(source, 1601, 1602)
    eventually_rows(replica, rows(source))
    deadline = time.monotonic() + 20
    while events(rds, "src-r1").count("Replication for the Read Replica resumed.") < 2:
        assert time.monotonic() < deadline, "no event for the resumption"
        time.sleep(0.2)
    assert replication_info(rds, "src-r1")["Normal"] is True


def test_rules_for_replicas_and_their_sources(
    rds: Any, source: dict[str, Any], replica: dict[str, Any]
) -> None:
    code, message, _ = fails(rds.stop_db_instance, DBInstanceIdentifier="src-r1")
    assert code == "InvalidDBInstanceState" and "read replica" in message
    code, message, _ = fails(rds.stop_db_instance, DBInstanceIdentifier="src")
    assert code == "InvalidDBInstanceState" and "read replicas" in message
    code, _, _ = fails(rds.modify_db_instance, DBInstanceIdentifier="src",
                       BackupRetentionPeriod=0, ApplyImmediately=True)  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, message, _ = fails(rds.modify_db_instance, DBInstanceIdentifier="src-r1",
                             BackupRetentionPeriod=3, ApplyImmediately=True)  # fmt: skip
    assert (code, message) == (
        "InvalidParameterCombination", "DB Backups not supported on a read replica for engine postgres",
    )  # fmt: skip
    code, _, _ = fails(rds.modify_db_instance, DBInstanceIdentifier="src-r1",
                       MasterUserPassword=NEW_PASSWORD, ApplyImmediately=True)  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(rds.delete_db_instance, DBInstanceIdentifier="src-r1",
                       FinalDBSnapshotIdentifier="src-r1-final")  # fmt: skip
    assert code == "InvalidParameterCombination"
    assert describe(rds, "src-r1")["DBInstanceStatus"] == "available"
    # A reboot of either is allowed; the replica streams again afterwards.
    rds.reboot_db_instance(DBInstanceIdentifier="src")
    wait_status(rds, "src", leaving={"rebooting"})
    insert(source, 1611, 1620)
    eventually_rows(replica, rows(source))


def test_the_sources_new_password_reaches_the_replica(
    rds: Any, source: dict[str, Any], replica: dict[str, Any]
) -> None:
    rds.modify_db_instance(
        DBInstanceIdentifier="src", MasterUserPassword=NEW_PASSWORD, ApplyImmediately=True
    )
    wait_status(rds, "src", leaving={"modifying"})
    deadline = time.monotonic() + 20
    while True:
        try:
            connect(replica, NEW_PASSWORD).close()
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the new password never reached the replica"
            time.sleep(0.1)
    with pytest.raises(psycopg.OperationalError):
        connect(replica, PASSWORD).close()
    rds.modify_db_instance(
        DBInstanceIdentifier="src", MasterUserPassword=PASSWORD, ApplyImmediately=True
    )
    wait_status(rds, "src", leaving={"modifying"})
    deadline = time.monotonic() + 20
    while True:
        try:
            connect(replica).close()
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


# --------------------------------------------------------------------------- promotion (CLI)


@pytest.fixture(scope="module")
def quick_waiters() -> Iterator[str]:
    """botocore's own RDS waiters, polling every 0.2 s instead of every 30 s."""
    import botocore

    src = Path(botocore.__file__).parent / "data" / "rds" / "2014-10-31" / "waiters-2.json"
    waiters = json.loads(src.read_text())
    for waiter in waiters["waiters"].values():
        waiter["delay"] = 0.2
        waiter["maxAttempts"] = 600
    with tempfile.TemporaryDirectory(prefix="rds-waiters-") as root:
        target = Path(root) / "rds" / "2014-10-31"
        target.mkdir(parents=True)
        (target / "waiters-2.json").write_text(json.dumps(waiters))
        yield root


def cli(server: StrongroomServer, data_path: str, *args: str) -> Any:
    env = {**os.environ, **server.aws_env(), "AWS_DATA_PATH": data_path}
    out = subprocess.run(
        ["aws", "rds", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_promotion_with_the_aws_cli(
    server: StrongroomServer, rds: Any, source: dict[str, Any], replica: dict[str, Any],
    quick_waiters: str,
) -> None:  # fmt: skip
    made = cli(server, quick_waiters, "create-db-instance-read-replica",
               "--db-instance-identifier", "src-r2", "--source-db-instance-identifier", "src")  # fmt: skip
    assert made["DBInstance"]["ReadReplicaSourceDBInstanceIdentifier"] == "src"
    cli(
        server, quick_waiters, "wait", "db-instance-available", "--db-instance-identifier", "src-r2"
    )
    second = describe(rds, "src-r2")
    assert describe(rds, "src")["ReadReplicaDBInstanceIdentifiers"] == ["src-r1", "src-r2"]
    eventually_rows(second, rows(source))
    promoted = cli(server, quick_waiters, "promote-read-replica", "--db-instance-identifier",
                   "src-r2", "--backup-retention-period", "3")["DBInstance"]  # fmt: skip
    assert promoted["DBInstanceStatus"] == "modifying"
    cli(
        server, quick_waiters, "wait", "db-instance-available", "--db-instance-identifier", "src-r2"
    )
    alone = describe(rds, "src-r2")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in alone and "StatusInfos" not in alone
    assert alone["BackupRetentionPeriod"] == 3
    assert describe(rds, "src")["ReadReplicaDBInstanceIdentifiers"] == ["src-r1"]
    # Writable, with every row the source had; the source no longer feeds it.
    before = rows(source)
    assert rows(alone) == before
    insert(alone, 5001, 5100)
    assert len(rows(alone)) == len(before) + 100
    insert(source, 2001, 2010)
    time.sleep(0.5)
    assert [r for r in rows(alone) if 2001 <= r[0] <= 2010] == []
    assert "Read replica promoted to a standalone DB instance." in events(rds, "src-r2")
    rds.delete_db_instance(DBInstanceIdentifier="src-r2", SkipFinalSnapshot=True)
    deadline = time.monotonic() + 60
    while any(i["DBInstanceIdentifier"] == "src-r2"
              for i in rds.describe_db_instances()["DBInstances"]):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)


# --------------------------------------------------------------------------- encryption, Regions


@pytest.fixture(scope="module")
def encrypted(server: StrongroomServer, rds: Any) -> dict[str, Any]:
    key = server.client("kms").create_key(Description="src")["KeyMetadata"]["Arn"]
    rds.create_db_instance(
        DBInstanceIdentifier="enc", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20, DBName="app",
        StorageEncrypted=True, KmsKeyId=key,
    )  # fmt: skip
    inst = wait_status(rds, "enc", leaving={"creating"})
    with connect(inst) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text, note text)")
    insert(inst, 1, 300)
    inst["key"] = key
    return inst


def test_an_encrypted_source_has_an_encrypted_replica(rds: Any, encrypted: dict[str, Any]) -> None:
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="enc-r", SourceDBInstanceIdentifier="enc"
    )
    inst = wait_status(rds, "enc-r", leaving={"creating"})
    assert (inst["StorageEncrypted"], inst["KmsKeyId"]) == (True, encrypted["key"])
    assert inst["DbiResourceId"] != encrypted["DbiResourceId"]
    eventually_rows(inst, rows(encrypted))
    insert(encrypted, 301, 400)
    eventually_rows(inst, rows(encrypted))


def test_a_cross_region_replica(
    server: StrongroomServer, rds: Any, west: Any, encrypted: dict[str, Any]
) -> None:
    west_key = server.client("kms", region="us-west-2").create_key()["KeyMetadata"]["Arn"]
    arn = encrypted["DBInstanceArn"]
    code, _, _ = fails(west.create_db_instance_read_replica, DBInstanceIdentifier="enc-west",
                       SourceDBInstanceIdentifier=arn, SourceRegion="us-east-1")  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(west.create_db_instance_read_replica, DBInstanceIdentifier="enc-west",
                       SourceDBInstanceIdentifier=arn, KmsKeyId=encrypted["key"])  # fmt: skip
    assert code == "KMSKeyNotAccessibleFault"
    code, _, _ = fails(west.create_db_instance_read_replica, DBInstanceIdentifier="enc-west",
                       SourceDBInstanceIdentifier="enc", KmsKeyId=west_key)  # fmt: skip
    assert code == "DBInstanceNotFound"  # by identifier: only this Region's
    out = west.create_db_instance_read_replica(
        DBInstanceIdentifier="enc-west", SourceDBInstanceIdentifier=arn, KmsKeyId=west_key,
        SourceRegion="us-east-1",
    )["DBInstance"]  # fmt: skip
    assert out["ReadReplicaSourceDBInstanceIdentifier"] == arn
    inst = wait_status(west, "enc-west", leaving={"creating"})
    assert inst["DBInstanceArn"].startswith("arn:aws:rds:us-west-2:")
    assert (inst["StorageEncrypted"], inst["KmsKeyId"]) == (True, west_key)
    assert describe(rds, "enc")["ReadReplicaDBInstanceIdentifiers"] == [
        "enc-r", inst["DBInstanceArn"],
    ]  # fmt: skip
    insert(encrypted, 401, 450)
    eventually_rows(inst, rows(encrypted))
    assert replication_info(west, "enc-west")["Status"] == "replicating"
    assert [i["DBInstanceIdentifier"] for i in west.describe_db_instances()["DBInstances"]] == [
        "enc-west"
    ]
    # CloudTrail, in the replica's Region: the source and the key, never the presigned URL.
    trail = server.client("cloudtrail", region="us-west-2")
    deadline = time.monotonic() + 10
    while not (found := trail.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "CreateDBInstanceReadReplica"}
    ])["Events"]):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.2)
    record = json.loads(found[0]["CloudTrailEvent"])
    assert record["requestParameters"]["sourceDBInstanceIdentifier"] == arn
    assert "X-Amz-Signature" not in found[0]["CloudTrailEvent"]


# --------------------------------------------------------------------------- cascading, restart, deletion


def test_a_replica_of_a_replica(rds: Any, source: dict[str, Any], replica: dict[str, Any]) -> None:
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="src-r1-r", SourceDBInstanceIdentifier="src-r1"
    )
    inst = wait_status(rds, "src-r1-r", leaving={"creating"})
    assert inst["ReadReplicaSourceDBInstanceIdentifier"] == "src-r1"
    assert describe(rds, "src-r1")["ReadReplicaDBInstanceIdentifiers"] == ["src-r1-r"]
    insert(source, 3001, 3050)
    eventually_rows(inst, rows(source))


def test_a_snapshot_of_a_replica(rds: Any, source: dict[str, Any], replica: dict[str, Any]) -> None:
    """As on AWS for PostgreSQL, a replica can be snapshotted (the backup
    taken on the standby) and the snapshot restored."""
    eventually_rows(replica, rows(source))
    held = rows(replica)
    rds.create_db_snapshot(DBInstanceIdentifier="src-r1", DBSnapshotIdentifier="from-replica")
    deadline = time.monotonic() + 60
    while (snap := rds.describe_db_snapshots(DBSnapshotIdentifier="from-replica")[
        "DBSnapshots"][0])["Status"] == "creating":  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert snap["Status"] == "available"
    assert wait_status(rds, "src-r1", leaving={"backing-up"})["DBInstanceStatus"] == "available"
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="from-replica", DBSnapshotIdentifier="from-replica"
    )
    restored = wait_status(rds, "from-replica", leaving={"creating"})
    assert "ReadReplicaSourceDBInstanceIdentifier" not in restored
    assert rows(restored) == held
    insert(restored, 7001, 7002)  # a standalone primary
    rds.delete_db_instance(DBInstanceIdentifier="from-replica", SkipFinalSnapshot=True)


def test_replicas_come_back_replicating_after_a_restart(
    server: StrongroomServer, source: dict[str, Any], replica: dict[str, Any],
    encrypted: dict[str, Any],
) -> None:  # fmt: skip
    server.stop()
    with pytest.raises(psycopg.OperationalError):
        connect(replica).close()
    server.start()
    client = server.client("rds")
    for ident in ("src", "src-r1", "src-r1-r", "enc", "enc-r"):
        deadline = time.monotonic() + 60
        while True:
            try:
                connect(describe(client, ident)).close()
                break
            except (psycopg.OperationalError, KeyError):
                assert time.monotonic() < deadline, f"{ident} did not come back"
                time.sleep(0.2)
    insert(source, 4001, 4020)
    insert(encrypted, 501, 520)
    eventually_rows(describe(client, "src-r1"), rows(source))
    eventually_rows(describe(client, "src-r1-r"), rows(source))
    eventually_rows(describe(client, "enc-r"), rows(encrypted))
    assert replication_info(client, "src-r1")["Status"] == "replicating"


def test_deleting_a_source_promotes_its_replicas(server: StrongroomServer) -> None:
    rds = server.client("rds")
    before = rows(describe(rds, "src"))
    rds.delete_db_instance(DBInstanceIdentifier="src", SkipFinalSnapshot=True)
    deadline = time.monotonic() + 60
    while "ReadReplicaSourceDBInstanceIdentifier" in describe(rds, "src-r1"):
        assert time.monotonic() < deadline, "src-r1 was not promoted"
        time.sleep(0.1)
    alone = wait_status(rds, "src-r1", leaving={"modifying"})
    assert alone["DBInstanceStatus"] == "available"
    assert rows(alone) == before
    insert(alone, 6001, 6010)  # writable now
    # Its own replica streams on from it.
    assert describe(rds, "src-r1")["ReadReplicaDBInstanceIdentifiers"] == ["src-r1-r"]
    eventually_rows(describe(rds, "src-r1-r"), rows(alone))
    messages = events(rds, "src-r1")
    assert "Read replica promoted to a standalone DB instance." in messages
    deadline = time.monotonic() + 60
    while any(
        i["DBInstanceIdentifier"] == "src" for i in rds.describe_db_instances()["DBInstances"]
    ):
        assert time.monotonic() < deadline, "src was not deleted"
        time.sleep(0.1)
