"""PostgreSQL streaming replicas in the engine (engines/postgres/replication.py):
the replication role and its peer-only access, the slot, lag measured at
both ends, cascading replicas, and promotion in a chain."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from strongroom.engines.driver import EngineError, InstanceSpec
from strongroom.engines.postgres import PostgresEngine, replication

PASSWORD = "S3cret-pass-77c1"


@pytest.fixture(scope="module")
def engine() -> PostgresEngine:
    root = Path(tempfile.mkdtemp(prefix="sr-pgrepl-"))
    eng = PostgresEngine(root / "engines" / "postgres")
    yield eng
    eng.close()
    shutil.rmtree(root, ignore_errors=True)


def connect(instance, password: str = PASSWORD) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=instance.port, user=instance.master_username,
        password=password, dbname=instance.db_name or "postgres", autocommit=True,
        connect_timeout=10,
    )  # fmt: skip


def count_on(instance, want: int, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    with connect(instance) as conn:
        while True:
            n = conn.execute("SELECT count(*) FROM t").fetchone()[0]
            if n == want or time.monotonic() > deadline:
                return n
            time.sleep(0.05)


def test_a_replica_streams_lags_and_cascades(engine: PostgresEngine) -> None:
    source = engine.create(InstanceSpec("src", None, "admin", PASSWORD, db_name="app"))
    with connect(source) as conn:
        conn.execute("CREATE TABLE t (n int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
    first = engine.replicate(source, InstanceSpec("first", None, "", ""))
    assert (first.role, first.source_id) == ("replica", "src")
    # The source knows it by name, streaming as the replication role over its slot.
    with engine._admin(source) as conn:
        row = conn.execute(
            "SELECT usename, state FROM pg_stat_replication WHERE application_name = 'first'"
        ).fetchone()
        slots = [r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots")]
        role = conn.execute(
            "SELECT rolreplication, rolsuper, rolpassword IS NULL FROM pg_authid "
            "WHERE rolname = %s", (replication.REPLICATION_ROLE,),
        ).fetchone()  # fmt: skip
    assert row == (replication.REPLICATION_ROLE, "streaming")
    assert slots == [replication.slot_name("first")]
    assert role == (True, False, True)  # no password: peer over the socket only
    with pytest.raises(psycopg.OperationalError):  # never over TCP
        psycopg.connect(host="127.0.0.1", port=source.port, user=replication.REPLICATION_ROLE,
                        dbname="replication", replication="true", connect_timeout=5)  # fmt: skip
    replication.wait_caught_up(engine, first)
    caught = engine.replication_status(first)
    assert caught.streaming and caught.lag_s == 0.0 and caught.bytes_behind == 0
    # a replica of the replica (cascading): streams from the first
    second = engine.replicate(first, InstanceSpec("second", None, "", ""))
    assert second.source_id == "first"
    with connect(source) as conn:
        conn.execute("INSERT INTO t SELECT generate_series(1001, 1500)")
    assert count_on(first, 1500) == 1500
    assert count_on(second, 1500) == 1500
    with connect(second) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO t VALUES (0)")
    with engine._admin(first) as conn:
        assert conn.execute(
            "SELECT state FROM pg_stat_replication WHERE application_name = 'second'"
        ).fetchone() == ("streaming",)
    # A stopped source: the replica is behind by what it cannot see, no longer streaming.
    engine.stop(source)
    stalled = engine.replication_status(first)
    assert not stalled.streaming and stalled.source_lsn is None
    engine.start(source)
    deadline = time.monotonic() + 20
    while not engine.replication_status(first).streaming:
        assert time.monotonic() < deadline, "the replica did not reconnect"
        time.sleep(0.1)
    # Promote the middle of the chain: it takes writes; the last one follows it.
    promoted = engine.promote(first)
    assert promoted.role == "primary" and promoted.source_id is None
    with connect(promoted) as conn:
        conn.execute("INSERT INTO t VALUES (-1)")
    assert count_on(second, 1501) == 1501
    assert count_on(source, 1500) == 1500
    with engine._admin(source) as conn:  # its slot on the old source is gone
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
    with pytest.raises(EngineError):
        engine.replication_status(promoted)
    for inst in (second, promoted, source):
        engine.destroy(inst)
