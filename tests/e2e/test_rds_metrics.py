"""RDS's CloudWatch metrics end to end: a real instance and a real read
replica publish into ``AWS/RDS`` once a minute by the server's clock, from
what their PostgreSQL servers really have: DatabaseConnections follows the
psycopg sessions this test holds open, FreeStorageSpace falls as rows are
written, a replica's ReplicaLag is there, an alarm on DatabaseConnections
goes to ALARM, and a stopped instance publishes nothing.

One server for the module (with --time-travel); the tests run in order and
build on each other.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"
GIB = 1024**3


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-metrics-") as data_dir:
        srv = StrongroomServer(Path(data_dir), time_travel=True)
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


@pytest.fixture(scope="module")
def cw(server: StrongroomServer) -> Any:
    return server.client("cloudwatch")


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def wait_status(rds: Any, ident: str, want: str, timeout: float = 120) -> dict[str, Any]:
    found = wait_for(
        lambda: (
            (i := rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])[
                "DBInstanceStatus"
            ]
            == want
            and i
        ),
        timeout,
    )
    assert found, f"{ident} not {want}"
    return found


def server_now(server: StrongroomServer) -> datetime:
    return datetime.fromisoformat(server.advance_clock("0s")["now"])


def next_minute(server: StrongroomServer) -> datetime:
    """Move the clock to 2 s past the next minute: that minute's metrics are
    published now, and each phase of a test ends well before the next."""
    now = server_now(server)
    wait = 62 - now.second - now.microsecond / 1e6
    server.advance_clock(f"{wait:.3f}s")
    return (now + timedelta(seconds=wait)).replace(second=0, microsecond=0)


def connect(inst: dict[str, Any]) -> Any:
    return psycopg.connect(
        host=inst["Endpoint"]["Address"], port=inst["Endpoint"]["Port"],
        user=inst["MasterUsername"], password=PASSWORD, dbname="app",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def datapoint(cw: Any, ident: str, metric: str, minute: datetime, stat: str = "Maximum") -> Any:
    """The instance's `metric` in `minute` (None until it is published)."""
    points = cw.get_metric_statistics(
        Namespace="AWS/RDS", MetricName=metric,
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": ident}],
        StartTime=minute, EndTime=minute + timedelta(minutes=1), Period=60, Statistics=[stat],
    )["Datapoints"]  # fmt: skip
    return points[0] if points else None


def published(cw: Any, ident: str, metric: str, minute: datetime) -> dict[str, Any]:
    point = wait_for(lambda: datapoint(cw, ident, metric, minute))
    assert point, f"no {metric} of {ident} for {minute}"
    return point


@pytest.fixture(scope="module")
def db(rds: Any) -> dict[str, Any]:
    rds.create_db_instance(
        DBInstanceIdentifier="metered", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20, DBName="app",
    )  # fmt: skip
    return wait_status(rds, "metered", "available")


@pytest.fixture(scope="module")
def replica(rds: Any, db: dict[str, Any]) -> dict[str, Any]:
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="metered-r1", SourceDBInstanceIdentifier="metered"
    )
    return wait_status(rds, "metered-r1", "available")


def test_database_connections_follow_the_real_sessions(
    server: StrongroomServer, cw: Any, db: dict[str, Any]
) -> None:
    held = [connect(db) for _ in range(4)]
    try:
        minute = next_minute(server)
        point = published(cw, "metered", "DatabaseConnections", minute)
        assert point["Maximum"] == 4.0 and point["Unit"] == "Count"
        for conn in held[:3]:
            conn.close()
        minute = next_minute(server)
        assert published(cw, "metered", "DatabaseConnections", minute)["Maximum"] == 1.0
    finally:
        for conn in held:
            conn.close()


def test_storage_metrics_come_from_the_data_directory(
    server: StrongroomServer, cw: Any, db: dict[str, Any]
) -> None:
    minute = next_minute(server)
    before = published(cw, "metered", "FreeStorageSpace", minute)
    assert before["Unit"] == "Bytes"
    assert 19 * GIB < before["Maximum"] < 20 * GIB
    wal = published(cw, "metered", "TransactionLogsDiskUsage", minute)["Maximum"]
    assert wal >= 16 * 1024**2  # at least one WAL segment
    xids = published(cw, "metered", "MaximumUsedTransactionIDs", minute)["Maximum"]
    assert xids > 0
    with connect(db) as conn:  # about 40 MB of rows (and as much WAL)
        conn.execute("CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 8) AS pad "
                     "FROM generate_series(1, 120000) g")  # fmt: skip
    minute = next_minute(server)
    after = published(cw, "metered", "FreeStorageSpace", minute)["Maximum"]
    assert before["Maximum"] - after > 30 * 1024**2


def test_a_replica_publishes_its_lag_and_the_source_its_slot(
    server: StrongroomServer, cw: Any, replica: dict[str, Any]
) -> None:
    minute = next_minute(server)
    lag = published(cw, "metered-r1", "ReplicaLag", minute)
    assert lag["Unit"] == "Seconds" and 0.0 <= lag["Maximum"] < 60.0
    assert published(cw, "metered-r1", "DatabaseConnections", minute)["Maximum"] == 0.0
    slot = published(cw, "metered", "OldestReplicationSlotLag", minute)
    assert slot["Unit"] == "Bytes" and slot["Maximum"] >= 0.0
    names = {
        m["MetricName"]
        for m in cw.list_metrics(
            Namespace="AWS/RDS", Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "metered"}]
        )["Metrics"]
    }
    assert names == {
        "DatabaseConnections",
        "FreeStorageSpace",
        "TransactionLogsDiskUsage",
        "MaximumUsedTransactionIDs",
        "OldestReplicationSlotLag",
    }  # fmt: skip  (no ReplicaLag on a source, nothing this server does not measure)


def test_an_alarm_on_database_connections(
    server: StrongroomServer, cw: Any, db: dict[str, Any]
) -> None:
    cw.put_metric_alarm(
        AlarmName="too-many-connections", Namespace="AWS/RDS", MetricName="DatabaseConnections",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "metered"}],
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=3.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    held = [connect(db) for _ in range(3)]
    try:
        minute = next_minute(server)
        assert published(cw, "metered", "DatabaseConnections", minute)["Maximum"] == 3.0
        next_minute(server)  # that minute is complete: the alarm evaluates it
        alarm = wait_for(
            lambda: (
                (a := cw.describe_alarms(AlarmNames=["too-many-connections"])["MetricAlarms"][0])[
                    "StateValue"
                ]
                == "ALARM"
                and a
            )
        )
        assert alarm, "the alarm did not go to ALARM"
        assert "[3.0 (" in alarm["StateReason"]
    finally:
        for conn in held:
            conn.close()


def role_point(cw: Any, cluster: str, role: str, metric: str, minute: datetime) -> Any:
    points = cw.get_metric_statistics(
        Namespace="AWS/RDS", MetricName=metric,
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": cluster},
                    {"Name": "Role", "Value": role}],
        StartTime=minute, EndTime=minute + timedelta(minutes=1), Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    return points[0] if points else None


def test_an_aurora_cluster_publishes_by_role(server: StrongroomServer, rds: Any, cw: Any) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier="fleet", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword=PASSWORD, DatabaseName="app",
    )  # fmt: skip
    for ident in ("fleet-1", "fleet-2"):  # the writer, then a reader
        rds.create_db_instance(
            DBInstanceIdentifier=ident, DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql", DBClusterIdentifier="fleet",
        )  # fmt: skip
        wait_status(rds, ident, "available")
    writer = rds.describe_db_instances(DBInstanceIdentifier="fleet-1")["DBInstances"][0]
    held = [connect(writer) for _ in range(2)]
    try:
        minute = next_minute(server)
        point = wait_for(lambda: role_point(cw, "fleet", "WRITER", "DatabaseConnections", minute))
        assert point and point["Maximum"] == 2.0
    finally:
        for conn in held:
            conn.close()
    lag = wait_for(lambda: role_point(cw, "fleet", "READER", "AuroraReplicaLag", minute))
    assert lag and lag["Unit"] == "Milliseconds" and 0.0 <= lag["Maximum"] < 60000.0
    assert published(cw, "fleet-2", "AuroraReplicaLag", minute)["Maximum"] == lag["Maximum"]
    assert role_point(cw, "fleet", "WRITER", "AuroraReplicaLag", minute) is None
    # Aurora's storage is the cluster volume's: no FreeStorageSpace, no ReplicaLag.
    assert datapoint(cw, "fleet-1", "FreeStorageSpace", minute) is None
    assert datapoint(cw, "fleet-2", "ReplicaLag", minute) is None


def test_a_stopped_instance_publishes_nothing(
    server: StrongroomServer, rds: Any, cw: Any, db: dict[str, Any]
) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="idle", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        BackupRetentionPeriod=0,
    )  # fmt: skip
    wait_status(rds, "idle", "available")
    minute = next_minute(server)
    assert published(cw, "idle", "DatabaseConnections", minute)["Maximum"] == 0.0
    rds.stop_db_instance(DBInstanceIdentifier="idle")
    wait_status(rds, "idle", "stopped")
    minute = next_minute(server)
    published(cw, "metered", "DatabaseConnections", minute)  # this minute was published
    time.sleep(1.0)
    assert datapoint(cw, "idle", "DatabaseConnections", minute) is None
