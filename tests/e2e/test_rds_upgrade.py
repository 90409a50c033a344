"""Engine version upgrades of RDS for PostgreSQL instances, end to end with
boto3 against real PostgreSQL servers: ModifyDBInstance EngineVersion with
AllowMajorVersionUpgrade runs the real pg_upgrade from the oldest installed
major to the newest (15 → 18 on CI) and every row is there after; the
pre-upgrade snapshot; the upgrade log files (DescribeDBLogFiles,
DownloadDBLogFilePortion, the ``upgrade`` export into CloudWatch Logs); a
failed precheck leaving the old major running; in-Region read replicas
upgraded with their source; a pending upgrade applied at the maintenance
window (a --time-travel server); Aurora clusters exporting their instances'
logs into ``/aws/rds/cluster/<id>/postgresql``.

Skipped only when this machine has fewer than two PostgreSQL majors.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from strongroom.engines.postgres.binaries import Catalogue
from strongroom.testing import StrongroomServer, add_account

pytestmark = pytest.mark.e2e

MAJORS = [v.major for v in Catalogue().versions()]
if len(MAJORS) < 2:
    pytest.skip("needs two installed PostgreSQL majors", allow_module_level=True)
OLD, NEW = str(MAJORS[0]), str(MAJORS[-1])
PASSWORD = "S3cret-pass"


OTHER = "111111111111"


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-upgrade-") as d:
        other = add_account(d, OTHER)
        srv = StrongroomServer(Path(d))
        srv.start()
        try:
            yield srv, other
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def server(two_accounts: tuple[StrongroomServer, dict[str, str]]) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_for(check: Callable[[], Any], timeout: float = 120.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def wait_available(rds: Any, ident: str, timeout: float = 180.0) -> dict[str, Any]:
    return wait_for(
        lambda: (d := describe(rds, ident))["DBInstanceStatus"] == "available" and d,
        timeout=timeout, what=f"{ident} available",
    )  # fmt: skip


def connect(inst: dict[str, Any]) -> Any:
    return psycopg.connect(
        host="127.0.0.1", port=inst["Endpoint"]["Port"], user="admin", password=PASSWORD,
        dbname="app", autocommit=True, connect_timeout=5,
    )  # fmt: skip


def create(rds: Any, ident: str, **more: Any) -> dict[str, Any]:
    rds.create_db_instance(
        DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        DBName="app", EngineVersion=OLD, **more,
    )  # fmt: skip
    return wait_available(rds, ident)


def rows(inst: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connect(inst) as conn:
        return conn.execute("SELECT id, item FROM orders ORDER BY id").fetchall()


def messages(rds: Any, ident: str) -> list[str]:
    return [
        e["Message"]
        for e in rds.describe_events(SourceIdentifier=ident, SourceType="db-instance")["Events"]
    ]


# --------------------------------------------------------------------- the main upgrade


@pytest.fixture(scope="module")
def shop(server: StrongroomServer, rds: Any) -> dict[str, Any]:
    key = server.client("kms").create_key(Description="shop")["KeyMetadata"]["Arn"]
    inst = create(
        rds, "shop", StorageEncrypted=True, KmsKeyId=key, BackupRetentionPeriod=1,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"],
    )  # fmt: skip
    with connect(inst) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        conn.execute("INSERT INTO orders SELECT g, 'item-' || g FROM generate_series(1, 2500) g")
    return inst


def test_what_an_engine_version_change_refuses(rds: Any, shop: dict[str, Any]) -> None:
    base = {"DBInstanceIdentifier": "shop", "ApplyImmediately": True}
    code, message, status = fails(rds.modify_db_instance, **base, EngineVersion=NEW)
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert message == (
        "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
    )
    code, message, _ = fails(
        rds.modify_db_instance, **base, EngineVersion="99.1", AllowMajorVersionUpgrade=True
    )
    assert code == "InvalidParameterCombination"
    assert message.startswith("Cannot find version 99.1 for postgres")
    code, message, _ = fails(rds.modify_db_instance, **base, EngineVersion=f"{OLD}.0")
    assert (code, message) == (
        "InvalidParameterCombination",
        f"Cannot upgrade postgres from {shop['EngineVersion']} to {OLD}.0",
    )
    rds.create_db_parameter_group(
        DBParameterGroupName=f"old-{OLD}", DBParameterGroupFamily=f"postgres{OLD}",
        Description="of the old major",
    )  # fmt: skip
    code, message, _ = fails(
        rds.modify_db_instance, **base, EngineVersion=NEW, AllowMajorVersionUpgrade=True,
        DBParameterGroupName=f"old-{OLD}",
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    assert f"Use a parameter group with DBParameterGroupFamily postgres{NEW}." in message
    # The version it runs: nothing to do.
    out = rds.modify_db_instance(**base, EngineVersion=shop["EngineVersion"])["DBInstance"]
    assert (out["DBInstanceStatus"], out["EngineVersion"]) == ("available", shop["EngineVersion"])
    # Nothing changed.
    assert describe(rds, "shop")["EngineVersion"] == shop["EngineVersion"]
    assert describe(rds, "shop")["PendingModifiedValues"] == {}


def test_only_an_authorized_caller_of_the_owner_account_upgrades(
    server: StrongroomServer, two_accounts: Any, rds: Any, shop: dict[str, Any]
) -> None:
    upgrade = {"DBInstanceIdentifier": "shop", "EngineVersion": NEW,
               "AllowMajorVersionUpgrade": True, "ApplyImmediately": True}  # fmt: skip
    forged = server.client("rds", secret_access_key="x" * 40)
    assert fails(forged.modify_db_instance, **upgrade)[0] == "SignatureDoesNotMatch"
    theirs = server.client("rds", **two_accounts[1])
    code, _, status = fails(theirs.modify_db_instance, **upgrade)
    assert (code, status) == ("DBInstanceNotFound", 404)
    iam = server.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader", PolicyName="describe-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "rds:Describe*", "Resource": "*"}]}),
    )  # fmt: skip
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = server.client(
        "rds", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    code, message, status = fails(reader.modify_db_instance, **upgrade)
    assert (code, status) == ("AccessDenied", 403)
    assert "rds:ModifyDBInstance" in message
    assert describe(rds, "shop")["DBInstanceStatus"] == "available"
    assert describe(rds, "shop")["EngineVersion"] == shop["EngineVersion"]


def test_a_major_upgrade_runs_pg_upgrade_and_keeps_every_row(
    server: StrongroomServer, rds: Any, shop: dict[str, Any]
) -> None:
    before = rows(shop)
    rds.create_db_parameter_group(
        DBParameterGroupName=f"new-{NEW}", DBParameterGroupFamily=f"postgres{NEW}",
        Description="for the new major",
    )  # fmt: skip
    rds.modify_db_parameter_group(
        DBParameterGroupName=f"new-{NEW}",
        Parameters=[{"ParameterName": "work_mem", "ParameterValue": "8192",
                     "ApplyMethod": "immediate"}],
    )  # fmt: skip
    out = rds.modify_db_instance(
        DBInstanceIdentifier="shop", EngineVersion=NEW, AllowMajorVersionUpgrade=True,
        DBParameterGroupName=f"new-{NEW}", ApplyImmediately=True,
    )["DBInstance"]  # fmt: skip
    assert out["DBInstanceStatus"] == "upgrading"
    assert out["PendingModifiedValues"]["EngineVersion"].split(".")[0] == NEW
    inst = wait_available(rds, "shop", timeout=240)
    assert inst["EngineVersion"].split(".")[0] == NEW
    assert inst["DBParameterGroups"][0]["DBParameterGroupName"] == f"new-{NEW}"
    assert inst["PendingModifiedValues"] == {}
    assert rows(inst) == before and len(before) == 2500
    with connect(inst) as conn:
        assert conn.execute("SHOW server_version").fetchone()[0].split(".")[0] == NEW
        assert conn.execute("SHOW work_mem").fetchone()[0] == "8MB"
        conn.execute("INSERT INTO orders VALUES (2501, 'after')")
    events = messages(rds, "shop")
    assert "Database instance is being upgraded" in events
    assert any(
        m.startswith(f"Database instance upgraded from engine version {shop['EngineVersion']}")
        for m in events
    )
    # The pre-upgrade snapshot (backups are on): automated, encrypted, of the old major.
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier="shop")["DBSnapshots"]
    pre = [s for s in snaps if s["DBSnapshotIdentifier"].startswith("rds:preupgrade-shop-")]
    assert len(pre) == 1, snaps
    old_dashed = shop["EngineVersion"].replace(".", "-")
    assert pre[0]["DBSnapshotIdentifier"].startswith(f"rds:preupgrade-shop-{old_dashed}-")
    assert (pre[0]["SnapshotType"], pre[0]["Status"], pre[0]["Encrypted"]) == (
        "automated", "available", True,
    )  # fmt: skip
    assert pre[0]["EngineVersion"] == shop["EngineVersion"]
    # ... restorable to an instance of the old major, with the rows of then.
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="shop-before", DBSnapshotIdentifier=pre[0]["DBSnapshotIdentifier"]
    )
    restored = wait_available(rds, "shop-before")
    assert restored["EngineVersion"] == shop["EngineVersion"]
    assert rows(restored) == before
    rds.delete_db_instance(DBInstanceIdentifier="shop-before", SkipFinalSnapshot=True)


def test_the_upgrade_log_is_listed_downloaded_and_published(
    server: StrongroomServer, rds: Any, shop: dict[str, Any]
) -> None:
    wait_available(rds, "shop")
    files = rds.describe_db_log_files(DBInstanceIdentifier="shop")["DescribeDBLogFiles"]
    names = [f["LogFileName"] for f in files]
    for stem in ("pg_upgrade_precheck.log", "pg_upgrade_internal.log", "pg_upgrade_server.log"):
        assert any(n.startswith(f"error/{stem}.") for n in names), names
    assert any(n.startswith("error/postgresql.log.") for n in names)  # (the old major's too)
    internal = next(n for n in names if n.startswith("error/pg_upgrade_internal.log."))
    portion = rds.download_db_log_file_portion(
        DBInstanceIdentifier="shop", LogFileName=internal, Marker="0"
    )
    assert "Performing Upgrade" in portion["LogFileData"]
    # The aws CLI pages through it all (--starting-token 0), as for the engine log.
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "rds", "download-db-log-file-portion", "--db-instance-identifier", "shop",
         "--log-file-name", internal, "--starting-token", "0", "--output", "text",
         "--endpoint-url", server.endpoint],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    whole = (server.data_dir / "engines").glob(f"postgres/instances/*/data/{internal}")
    assert done.stdout.strip() == next(whole).read_text().strip()
    precheck = next(n for n in names if n.startswith("error/pg_upgrade_precheck.log."))
    text = rds.download_db_log_file_portion(
        DBInstanceIdentifier="shop", LogFileName=precheck, Marker="0"
    )["LogFileData"]
    assert "Performing Consistency Checks" in text and "Clusters are compatible" in text
    filtered = rds.describe_db_log_files(
        DBInstanceIdentifier="shop", FilenameContains="pg_upgrade"
    )["DescribeDBLogFiles"]
    assert len(filtered) == 3
    logs = server.client("logs")

    def published() -> list[dict[str, Any]] | None:
        try:
            found = logs.filter_log_events(
                logGroupName="/aws/rds/instance/shop/upgrade",
                filterPattern='"Performing Upgrade"',
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return found or None

    events = wait_for(published, timeout=30, what="the upgrade log in CloudWatch Logs")
    assert events[0]["logStreamName"] == "shop"
    streams = logs.describe_log_streams(logGroupName="/aws/rds/instance/shop/upgrade")
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["shop"]
    # The postgresql export goes on after the upgrade, from the new major.
    with connect(describe(rds, "shop")) as conn, pytest.raises(psycopg.Error):
        conn.execute("SELECT 1/0")

    def division() -> list[dict[str, Any]] | None:
        found = logs.filter_log_events(
            logGroupName="/aws/rds/instance/shop/postgresql", filterPattern='"division by zero"'
        )["events"]
        return found or None

    wait_for(division, timeout=30, what="the engine log after the upgrade")


def test_a_failed_precheck_leaves_the_old_major_running(rds: Any) -> None:
    inst = create(rds, "blocked", BackupRetentionPeriod=0, DBParameterGroupName=f"old-{OLD}")
    with connect(inst) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        conn.execute("INSERT INTO orders VALUES (1, 'kept')")
        # pg_upgrade can't carry reg* columns (other than regclass/regtype).
        conn.execute("CREATE TABLE blocker (f regproc)")
    upgrade = {"DBInstanceIdentifier": "blocked", "EngineVersion": NEW,
               "AllowMajorVersionUpgrade": True, "ApplyImmediately": True}  # fmt: skip
    code, message, _ = fails(rds.modify_db_instance, **upgrade)
    assert (code, message) == (
        "InvalidParameterCombination",
        f"The current DB parameter group old-{OLD} is custom. You must explicitly specify a "
        "new DB parameter group, either default or custom, for the engine version upgrade.",
    )
    rds.modify_db_instance(**upgrade, DBParameterGroupName=f"default.postgres{NEW}")
    wait_for(
        lambda: any("cannot be upgraded" in m for m in messages(rds, "blocked")),
        timeout=180, what="the failed upgrade",
    )  # fmt: skip
    after = wait_available(rds, "blocked")
    assert after["EngineVersion"] == inst["EngineVersion"]
    assert after["DBParameterGroups"][0]["DBParameterGroupName"] == f"old-{OLD}"
    assert rows(after) == [(1, "kept")]
    failure = next(m for m in messages(rds, "blocked") if "cannot be upgraded" in m)
    assert "reg" in failure
    names = [
        f["LogFileName"]
        for f in rds.describe_db_log_files(DBInstanceIdentifier="blocked")["DescribeDBLogFiles"]
    ]
    precheck = next(n for n in names if n.startswith("error/pg_upgrade_precheck.log."))
    text = rds.download_db_log_file_portion(
        DBInstanceIdentifier="blocked", LogFileName=precheck, Marker="0"
    )["LogFileData"]
    assert "reg*" in text
    # No backups: no pre-upgrade snapshot.
    assert rds.describe_db_snapshots(DBInstanceIdentifier="blocked")["DBSnapshots"] == []
    rds.delete_db_instance(DBInstanceIdentifier="blocked", SkipFinalSnapshot=True)


def test_in_region_read_replicas_are_upgraded_with_their_source(rds: Any) -> None:
    src = create(rds, "src", BackupRetentionPeriod=1)
    with connect(src) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        conn.execute("INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 300) g")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="src-r1", SourceDBInstanceIdentifier="src"
    )
    wait_available(rds, "src-r1")
    code, message, _ = fails(
        rds.modify_db_instance, DBInstanceIdentifier="src-r1", EngineVersion=NEW,
        AllowMajorVersionUpgrade=True, ApplyImmediately=True,
    )  # fmt: skip
    assert code == "InvalidParameterCombination" and "read replica" in message
    rds.modify_db_instance(
        DBInstanceIdentifier="src", EngineVersion=NEW, AllowMajorVersionUpgrade=True,
        ApplyImmediately=True,
    )  # fmt: skip
    wait_for(
        lambda: describe(rds, "src")["EngineVersion"].startswith(NEW + "."),
        timeout=240, what="the source upgraded",
    )  # fmt: skip
    source = wait_available(rds, "src")
    replica = wait_for(
        lambda: (d := describe(rds, "src-r1"))["EngineVersion"].startswith(NEW + ".")
        and d["DBInstanceStatus"] == "available" and d,
        timeout=180, what="the replica upgraded",
    )  # fmt: skip
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "src"
    with connect(source) as conn:
        conn.execute("INSERT INTO orders VALUES (301, 'after the upgrade')")
    wait_for(lambda: len(rows(replica)) == 301, timeout=30, what="replication after the upgrade")
    with connect(replica) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO orders VALUES (999, 'no')")


# --------------------------------------------------------------------- the maintenance window


def test_a_pending_upgrade_waits_for_the_maintenance_window() -> None:
    with tempfile.TemporaryDirectory(prefix="strongroom-upgrade-tt-") as d:
        srv = StrongroomServer(Path(d), time_travel=True)
        srv.start()
        try:
            rds = srv.client("rds")
            inst = create(rds, "later", BackupRetentionPeriod=0)
            with connect(inst) as conn:
                conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
                conn.execute("INSERT INTO orders VALUES (1, 'one'), (2, 'two')")
            # A window that opens two hours from now (the server's clock is
            # the real one until it is moved).
            start = datetime.now(UTC) + timedelta(hours=2)
            end = start + timedelta(minutes=30)
            day = lambda t: t.strftime("%a").lower()  # noqa: E731
            window = f"{day(start)}:{start:%H:%M}-{day(end)}:{end:%H:%M}"
            out = rds.modify_db_instance(
                DBInstanceIdentifier="later", EngineVersion=NEW, AllowMajorVersionUpgrade=True,
                PreferredMaintenanceWindow=window,
            )["DBInstance"]  # fmt: skip
            assert out["PendingModifiedValues"]["EngineVersion"].split(".")[0] == NEW
            assert out["DBInstanceStatus"] == "available"
            time.sleep(3)  # (the housekeeping job has looked: not yet)
            assert describe(rds, "later")["EngineVersion"] == inst["EngineVersion"]
            srv.advance_clock("2h5m")
            after = wait_for(
                lambda: (x := describe(rds, "later"))["EngineVersion"].startswith(NEW + ".")
                and x["DBInstanceStatus"] == "available" and x,
                timeout=240, what="the upgrade at the window",
            )  # fmt: skip
            assert after["PendingModifiedValues"] == {}
            assert after["DBParameterGroups"][0]["DBParameterGroupName"] == f"default.postgres{NEW}"
            assert rows(after) == [(1, "one"), (2, "two")]
        finally:
            srv.stop()


# --------------------------------------------------------------------- Aurora log exports


def test_an_aurora_cluster_exports_its_instances_logs(server: StrongroomServer, rds: Any) -> None:
    out = rds.create_db_cluster(
        DBClusterIdentifier="aur", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword=PASSWORD, DatabaseName="app",
        EnableCloudwatchLogsExports=["postgresql"],
    )["DBCluster"]  # fmt: skip
    assert out["EnabledCloudwatchLogsExports"] == ["postgresql"]
    code, message, _ = fails(
        rds.create_db_cluster, DBClusterIdentifier="aur2", Engine="aurora-postgresql",
        MasterUsername="admin", MasterUserPassword=PASSWORD,
        EnableCloudwatchLogsExports=["upgrade"],
    )  # fmt: skip
    assert code == "InvalidParameterCombination" and "'upgrade'" in message
    rds.create_db_instance(
        DBInstanceIdentifier="aur-1", DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier="aur",
    )  # fmt: skip
    writer = wait_available(rds, "aur-1")
    with connect(writer) as conn, pytest.raises(psycopg.Error):
        conn.execute("SELECT 1/0")
    logs = server.client("logs")
    group = "/aws/rds/cluster/aur/postgresql"

    def found() -> list[dict[str, Any]] | None:
        try:
            events = logs.filter_log_events(logGroupName=group, filterPattern='"division by zero"')[
                "events"
            ]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return events or None

    events = wait_for(found, timeout=30, what="the cluster's log group")
    assert {e["logStreamName"] for e in events} == {"aur-1"}
    cluster = rds.modify_db_cluster(
        DBClusterIdentifier="aur",
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["postgresql"]},
    )["DBCluster"]
    assert "EnabledCloudwatchLogsExports" not in cluster
    with connect(writer) as conn, pytest.raises(psycopg.Error):
        conn.execute("SELECT 'after-disable'::int")
    time.sleep(3)
    later = logs.filter_log_events(logGroupName=group, filterPattern='"after-disable"')["events"]
    assert later == []
    cluster = rds.modify_db_cluster(
        DBClusterIdentifier="aur",
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql", "instance"]},
    )["DBCluster"]
    assert cluster["EnabledCloudwatchLogsExports"] == ["instance", "postgresql"]
    with connect(writer) as conn, pytest.raises(psycopg.Error):
        conn.execute("SELECT 'after-enable'::int")
    wait_for(
        lambda: logs.filter_log_events(logGroupName=group, filterPattern='"after-enable"')[
            "events"
        ],
        timeout=30, what="the export enabled again",
    )  # fmt: skip
    assert (
        logs.filter_log_events(logGroupName=group, filterPattern='"after-disable"')["events"] == []
    )


def test_an_upgrade_cut_short_by_a_stop_of_strongroom_finishes_after_its_start() -> None:
    with tempfile.TemporaryDirectory(prefix="strongroom-upgrade-stop-") as d:
        srv = StrongroomServer(Path(d))
        srv.start()
        try:
            rds = srv.client("rds")
            key = srv.client("kms").create_key(Description="cut")["KeyMetadata"]["Arn"]
            inst = create(rds, "cut", StorageEncrypted=True, KmsKeyId=key, BackupRetentionPeriod=0)
            with connect(inst) as conn:
                conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
                conn.execute("INSERT INTO orders SELECT g, 'c' || g FROM generate_series(1, 500) g")
            before = rows(inst)
            rds.modify_db_instance(
                DBInstanceIdentifier="cut", EngineVersion=NEW, AllowMajorVersionUpgrade=True,
                ApplyImmediately=True,
            )  # fmt: skip
            time.sleep(3)  # (pg_upgrade is at work)
            assert describe(rds, "cut")["DBInstanceStatus"] == "upgrading"
            srv.stop(timeout=120)
            # Stopped cleanly: nothing of the encrypted instance is left in plaintext.
            instance_dir = Path(d) / "engines" / "postgres" / "instances"
            leftovers = [p.name for p in instance_dir.glob("*/*") if p.is_dir()]
            assert not {"data", "upgrade", "data.old"} & set(leftovers), leftovers
            srv.start()
            rds = srv.client("rds")
            after = wait_for(
                lambda: (x := describe(rds, "cut"))["DBInstanceStatus"] == "available" and x,
                timeout=240, what="the upgrade taken up again",
            )  # fmt: skip
            assert after["EngineVersion"].split(".")[0] == NEW
            # (an instance whose upgrade ended as strongroom stopped is
            # described available while its engine is started again)
            assert wait_for(lambda: _rows_or_none(after), timeout=60, what="rows") == before
        finally:
            srv.stop()


def _rows_or_none(inst: dict[str, Any]) -> list[tuple[Any, ...]] | None:
    try:
        return rows(inst)
    except psycopg.OperationalError:
        return None
