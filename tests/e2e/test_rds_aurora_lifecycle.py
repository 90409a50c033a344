"""Aurora PostgreSQL clusters stopped and started for real: StopDBCluster
stops every member's engine (readers first, then the writer; the encrypted
cluster's files sealed), StartDBCluster brings them back with every row and
the readers streaming again, RDS's errors, and the automatic start after 7
days by the server's clock (``--time-travel``).

One server for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

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
ENGINE = "aurora-postgresql"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-aurora-life-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(data_dir, time_travel=True)
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


def connect(port: int) -> Any:
    return psycopg.connect(
        host="127.0.0.1", port=port, user="admin", password=PASSWORD, dbname="app",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def rows(port: int) -> list[tuple]:
    with connect(port) as conn:
        return conn.execute("SELECT * FROM orders ORDER BY id").fetchall()


def eventually_rows(port: int, want: list[tuple]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            got = rows(port)
        except psycopg.Error:
            got = None
        if got == want:
            return
        assert time.monotonic() < deadline, f"{len(got or [])} of {len(want)} rows"
        time.sleep(0.1)


def events(rds: Any, source_type: str, ident: str) -> list[str]:
    found = rds.describe_events(
        SourceType=source_type, SourceIdentifier=ident, Duration=14 * 24 * 60
    )
    return [e["Message"] for e in found["Events"]]


@pytest.fixture(scope="module")
def shop(server: StrongroomServer, rds: Any) -> dict[str, Any]:
    """An encrypted cluster with a writer and a reader, and rows."""
    key = server.client("kms").create_key(Description="aurora")["KeyMetadata"]["Arn"]
    rds.create_db_cluster(
        DBClusterIdentifier="shop", Engine=ENGINE, MasterUsername="admin",
        MasterUserPassword=PASSWORD, DatabaseName="app", StorageEncrypted=True, KmsKeyId=key,
    )  # fmt: skip
    for ident in ("shop-1", "shop-2"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.r6g.large",
                               Engine=ENGINE, DBClusterIdentifier="shop")  # fmt: skip
    writer, reader = (
        wait_until(lambda i=i: instance(rds, i), lambda r: r["DBInstanceStatus"] != "creating")
        for i in ("shop-1", "shop-2")
    )
    assert writer["DBInstanceStatus"] == reader["DBInstanceStatus"] == "available"
    with connect(writer["Endpoint"]["Port"]) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        conn.execute("INSERT INTO orders SELECT g, 'item-' || g FROM generate_series(1, 300) g")
    want = rows(writer["Endpoint"]["Port"])
    eventually_rows(reader["Endpoint"]["Port"], want)
    return {"writer": writer, "reader": reader, "rows": want, "key": key}


def test_stop_stops_every_engine(rds: Any, shop: dict[str, Any], data_dir: Path) -> None:
    out = rds.stop_db_cluster(DBClusterIdentifier="shop")["DBCluster"]
    assert out["Status"] == "stopping"
    assert {instance(rds, i)["DBInstanceStatus"] for i in ("shop-1", "shop-2")} <= {
        "stopping", "stopped"}  # fmt: skip
    code, message, status = fails(rds.stop_db_cluster, DBClusterIdentifier="shop")
    assert (code, status) == ("InvalidDBClusterStateFault", 400)
    assert "expected it to be one of available" in message
    found = wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] != "stopping")
    assert found["Status"] == "stopped"
    assert "AutomaticRestartTime" in found
    for ident in ("shop-1", "shop-2"):
        assert instance(rds, ident)["DBInstanceStatus"] == "stopped"
    for inst in (shop["writer"], shop["reader"]):
        with pytest.raises(psycopg.OperationalError):
            connect(inst["Endpoint"]["Port"]).close()
    # Encrypted: the stopped members' files are sealed, no plaintext left.
    for inst in (shop["writer"], shop["reader"]):
        rid = inst["DbiResourceId"]
        assert (data_dir / "blobs" / "rds" / "at-rest" / rid).exists()
        assert not (data_dir / "engines" / "postgres" / "instances" / rid / "data").exists()
    assert "DB cluster stopped" in events(rds, "db-cluster", "shop")
    assert "DB instance stopped" in events(rds, "db-instance", "shop-2")


def test_what_a_stopped_cluster_refuses(rds: Any, shop: dict[str, Any]) -> None:
    code, _, _ = fails(rds.start_db_instance, DBInstanceIdentifier="shop-1")
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(rds.stop_db_instance, DBInstanceIdentifier="shop-1")
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(rds.modify_db_cluster, DBClusterIdentifier="shop", DeletionProtection=True)
    assert code == "InvalidDBClusterStateFault"
    code, _, _ = fails(rds.create_db_instance, DBInstanceIdentifier="shop-3",
                       DBInstanceClass="db.r6g.large", Engine=ENGINE,
                       DBClusterIdentifier="shop")  # fmt: skip
    assert code == "InvalidDBClusterStateFault"
    code, _, _ = fails(rds.delete_db_instance, DBInstanceIdentifier="shop-2")
    assert code == "InvalidDBClusterStateFault"
    code, _, status = fails(rds.stop_db_cluster, DBClusterIdentifier="nope")
    assert (code, status) == ("DBClusterNotFoundFault", 404)
    code, _, status = fails(rds.start_db_cluster, DBClusterIdentifier="nope")
    assert (code, status) == ("DBClusterNotFoundFault", 404)


def test_start_brings_every_row_back_and_the_reader_streams(rds: Any, shop: dict[str, Any]) -> None:
    out = rds.start_db_cluster(DBClusterIdentifier="shop")["DBCluster"]
    assert out["Status"] == "starting"
    code, message, _ = fails(rds.start_db_cluster, DBClusterIdentifier="shop")
    assert code == "InvalidDBClusterStateFault" and "one of stopped" in message
    found = wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] != "starting")
    assert found["Status"] == "available" and "AutomaticRestartTime" not in found
    writer, reader = instance(rds, "shop-1"), instance(rds, "shop-2")
    assert writer["DBInstanceStatus"] == reader["DBInstanceStatus"] == "available"
    wport, rport = writer["Endpoint"]["Port"], reader["Endpoint"]["Port"]
    assert rows(wport) == shop["rows"]
    with connect(wport) as conn:
        conn.execute("INSERT INTO orders VALUES (1000, 'after the start')")
    eventually_rows(rport, rows(wport))
    assert len(rows(rport)) == 301
    assert "DB cluster started" in events(rds, "db-cluster", "shop")
    code, _, _ = fails(rds.start_db_cluster, DBClusterIdentifier="shop")
    assert code == "InvalidDBClusterStateFault"


def test_started_by_rds_after_seven_days(
    server: StrongroomServer, rds: Any, shop: dict[str, Any]
) -> None:
    rds.stop_db_cluster(DBClusterIdentifier="shop")
    wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] == "stopped")
    server.advance_clock("6d")
    time.sleep(1.0)
    assert cluster(rds, "shop")["Status"] == "stopped"
    server.advance_clock("1d1h")
    found = wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] == "available")
    assert "AutomaticRestartTime" not in found
    writer = instance(rds, "shop-1")
    assert writer["DBInstanceStatus"] == "available"
    assert len(rows(writer["Endpoint"]["Port"])) == 301
    messages = events(rds, "db-cluster", "shop")
    assert any("exceeding the maximum allowed time" in m for m in messages)


def served_by(address: str, port: int) -> tuple[int, bool]:
    """(the port of the instance a connection reached, whether it is a reader)."""
    conn = psycopg.connect(
        host=address, port=port, user="admin", password=PASSWORD, dbname="app",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip
    with conn:
        row = conn.execute("SELECT current_setting('port')::int, pg_is_in_recovery()").fetchone()
        return row[0], row[1]


def wait_endpoint(rds: Any, ident: str) -> dict[str, Any]:
    return wait_until(
        lambda: rds.describe_db_cluster_endpoints(DBClusterEndpointIdentifier=ident)[
            "DBClusterEndpoints"
        ][0],
        lambda e: e["Status"] not in ("creating", "modifying"),
    )


def test_the_clusters_own_endpoints(rds: Any, shop: dict[str, Any]) -> None:
    found = cluster(rds, "shop")
    listed = rds.describe_db_cluster_endpoints(DBClusterIdentifier="shop")["DBClusterEndpoints"]
    assert listed == [
        {"DBClusterIdentifier": "shop", "Endpoint": found["Endpoint"], "Status": "available",
         "EndpointType": "WRITER"},
        {"DBClusterIdentifier": "shop", "Endpoint": found["ReaderEndpoint"],
         "Status": "available", "EndpointType": "READER"},
    ]  # fmt: skip
    code, _, status = fails(rds.describe_db_cluster_endpoints, DBClusterIdentifier="nope")
    assert (code, status) == ("DBClusterNotFoundFault", 404)


def test_custom_endpoints_route_for_real(rds: Any, shop: dict[str, Any]) -> None:
    writer, reader = instance(rds, "shop-1"), instance(rds, "shop-2")
    wport, rport = writer["Endpoint"]["Port"], reader["Endpoint"]["Port"]
    port = cluster(rds, "shop")["Port"]
    assert port == wport
    made = rds.create_db_cluster_endpoint(
        DBClusterIdentifier="shop", DBClusterEndpointIdentifier="Shop-RO", EndpointType="reader",
        Tags=[{"Key": "team", "Value": "shop"}],
    )  # fmt: skip
    assert made["DBClusterEndpointIdentifier"] == "shop-ro"
    assert (made["EndpointType"], made["CustomEndpointType"], made["Status"]) == (
        "CUSTOM", "READER", "creating")  # fmt: skip
    assert made["DBClusterEndpointArn"] == (
        "arn:aws:rds:us-east-1:000000000000:cluster-endpoint:shop-ro"
    )
    assert made["DBClusterEndpointResourceIdentifier"].startswith("cluster-endpoint-")
    ro = wait_endpoint(rds, "shop-ro")
    assert ro["Status"] == "available" and ro["Endpoint"].startswith("127.1.")
    # A READER endpoint reaches the reader only, on the cluster's port.
    assert {served_by(ro["Endpoint"], port) for _ in range(4)} == {(rport, True)}
    rds.create_db_cluster_endpoint(
        DBClusterIdentifier="shop", DBClusterEndpointIdentifier="shop-w", EndpointType="ANY",
        StaticMembers=["shop-1"],
    )  # fmt: skip
    w = wait_endpoint(rds, "shop-w")
    assert w["StaticMembers"] == ["shop-1"] and w["Endpoint"] != ro["Endpoint"]
    assert {served_by(w["Endpoint"], port) for _ in range(4)} == {(wport, False)}
    rds.create_db_cluster_endpoint(
        DBClusterIdentifier="shop", DBClusterEndpointIdentifier="shop-all", EndpointType="ANY",
    )  # fmt: skip
    every = wait_endpoint(rds, "shop-all")
    assert {served_by(every["Endpoint"], port) for _ in range(6)} == {
        (wport, False), (rport, True)}  # fmt: skip
    # ModifyDBClusterEndpoint changes where new connections go.
    out = rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="shop-all",
                                         ExcludedMembers=["shop-1"])  # fmt: skip
    assert out["Status"] == "modifying" and out["ExcludedMembers"] == ["shop-1"]
    wait_endpoint(rds, "shop-all")
    assert {served_by(every["Endpoint"], port) for _ in range(4)} == {(rport, True)}
    out = rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="shop-w",
                                         StaticMembers=["shop-2"])  # fmt: skip
    wait_endpoint(rds, "shop-w")
    assert {served_by(w["Endpoint"], port) for _ in range(4)} == {(rport, True)}
    # Filters.
    customs = rds.describe_db_cluster_endpoints(
        DBClusterIdentifier="shop",
        Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
    )["DBClusterEndpoints"]
    assert [e["DBClusterEndpointIdentifier"] for e in customs] == ["shop-all", "shop-ro", "shop-w"]
    readers = rds.describe_db_cluster_endpoints(
        Filters=[{"Name": "db-cluster-endpoint-custom-type", "Values": ["reader"]}]
    )["DBClusterEndpoints"]
    assert [e["DBClusterEndpointIdentifier"] for e in readers] == ["shop-ro"]
    code, _, _ = fails(rds.describe_db_cluster_endpoints,
                       Filters=[{"Name": "nope", "Values": ["x"]}])  # fmt: skip
    assert code == "InvalidParameterValue"
    # Deleted: its listener goes.
    out = rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier="shop-ro")
    assert out["Status"] == "deleting"
    wait_until(
        lambda: rds.describe_db_cluster_endpoints(DBClusterEndpointIdentifier="shop-ro")[
            "DBClusterEndpoints"
        ],
        lambda found: found == [],
    )
    with pytest.raises(psycopg.OperationalError):
        served_by(ro["Endpoint"], port)


def test_what_custom_endpoints_refuse(rds: Any, shop: dict[str, Any]) -> None:
    def create(**kwargs: Any) -> tuple[str, str, int]:
        args = {"DBClusterIdentifier": "shop", "DBClusterEndpointIdentifier": "shop-x",
                "EndpointType": "ANY", **kwargs}  # fmt: skip
        return fails(rds.create_db_cluster_endpoint, **args)

    assert create(EndpointType="WRITER")[0] == "InvalidParameterValue"
    assert create(DBClusterEndpointIdentifier="shop-w")[0] == "DBClusterEndpointAlreadyExistsFault"
    assert create(DBClusterEndpointIdentifier="-bad")[0] == "InvalidParameterValue"
    code, _, status = create(StaticMembers=["nobody"])
    assert (code, status) == ("DBInstanceNotFound", 404)
    code, _, status = create(DBClusterIdentifier="nope")
    assert (code, status) == ("DBClusterNotFoundFault", 404)
    code, _, status = fails(rds.modify_db_cluster_endpoint, DBClusterEndpointIdentifier="nope",
                            EndpointType="ANY")  # fmt: skip
    assert (code, status) == ("DBClusterEndpointNotFoundFault", 400)
    code, _, status = fails(rds.delete_db_cluster_endpoint, DBClusterEndpointIdentifier="nope")
    assert (code, status) == ("DBClusterEndpointNotFoundFault", 400)
    # At most 5 custom endpoints a cluster (AWS's quota).
    for n in range(3):
        rds.create_db_cluster_endpoint(DBClusterIdentifier="shop", EndpointType="ANY",
                                       DBClusterEndpointIdentifier=f"shop-q{n}")  # fmt: skip
    code, _, status = create(DBClusterEndpointIdentifier="shop-q9")
    assert (code, status) == ("DBClusterEndpointQuotaExceededFault", 403)
    # Not while the cluster is stopped.
    for n in range(3):
        wait_endpoint(rds, f"shop-q{n}")
        rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier=f"shop-q{n}")
    rds.stop_db_cluster(DBClusterIdentifier="shop")
    wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] == "stopped")
    assert create()[0] == "InvalidDBClusterStateFault"
    code, _, _ = fails(rds.modify_db_cluster_endpoint, DBClusterEndpointIdentifier="shop-w",
                       EndpointType="READER")  # fmt: skip
    assert code == "InvalidDBClusterStateFault"
    rds.start_db_cluster(DBClusterIdentifier="shop")
    wait_until(lambda: cluster(rds, "shop"), lambda c: c["Status"] == "available")
    reader = instance(rds, "shop-2")
    w = wait_endpoint(rds, "shop-w")
    deadline = time.monotonic() + 30
    while True:  # routing again once the members run
        try:
            assert served_by(w["Endpoint"], cluster(rds, "shop")["Port"]) == (
                reader["Endpoint"]["Port"], True)  # fmt: skip
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_an_empty_cluster_stops_and_starts(rds: Any) -> None:
    rds.create_db_cluster(DBClusterIdentifier="bare", Engine=ENGINE, MasterUsername="admin",
                          MasterUserPassword=PASSWORD)  # fmt: skip
    wait_until(lambda: cluster(rds, "bare"), lambda c: c["Status"] == "available")
    rds.stop_db_cluster(DBClusterIdentifier="bare")
    wait_until(lambda: cluster(rds, "bare"), lambda c: c["Status"] == "stopped")
    rds.start_db_cluster(DBClusterIdentifier="bare")
    wait_until(lambda: cluster(rds, "bare"), lambda c: c["Status"] == "available")
    rds.delete_db_cluster(DBClusterIdentifier="bare", SkipFinalSnapshot=True)
