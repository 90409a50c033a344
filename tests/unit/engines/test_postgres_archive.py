"""WAL archiving and point-in-time restore with real PostgreSQL servers
(engines/postgres/archive.py): the archiver hands segments to the spool, a
heartbeat makes every time reachable, and a base backup plus the archived
WAL recovers to a time between two batches of rows (exactly the first)."""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from strongroom.engines.driver import EngineError, Instance, InstanceSpec
from strongroom.engines.postgres import PostgresEngine, archive

PASSWORD = "S3cret-pass-archive"


@pytest.fixture(scope="module")
def engine() -> PostgresEngine:
    root = Path(tempfile.mkdtemp(prefix="sr-pgarchive-"))
    eng = PostgresEngine(root / "engines" / "postgres")
    yield eng
    eng.close()
    shutil.rmtree(root, ignore_errors=True)


def connect(instance: Instance) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=instance.port, user="admin", password=PASSWORD,
        dbname="shop", autocommit=True,
    )  # fmt: skip


def collect(instance: Instance, into: Path, until: str, timeout: float = 30.0) -> None:
    """Take spooled files (as strongroom does) until `until` has come."""
    deadline = time.monotonic() + timeout
    while True:
        for path in archive.spooled(instance):
            shutil.copy(path, into / path.name)
            path.unlink()
        if (into / until).exists():
            return
        assert time.monotonic() < deadline, f"{until} was never archived"
        time.sleep(0.05)


def test_point_in_time_restore(engine: PostgresEngine) -> None:
    inst = engine.create(InstanceSpec("pitr", "18", "admin", PASSWORD, db_name="shop"))
    assert not archive.enabled(inst)
    archive.enable(engine, inst)
    assert archive.enabled(inst)
    kept = Path(tempfile.mkdtemp(prefix="sr-pgarchive-kept-"))
    try:
        start = archive.current_wal_file(engine, inst)
        backup = io.BytesIO()
        engine.snapshot_to(inst, backup)
        with connect(inst) as conn:
            conn.execute("CREATE TABLE t (id int)")
            conn.execute("INSERT INTO t SELECT generate_series(1, 100)")
        time.sleep(0.3)
        target = time.time()
        time.sleep(0.3)
        with connect(inst) as conn:
            conn.execute("INSERT INTO t SELECT generate_series(101, 200)")
        last = archive.heartbeat(engine, inst)
        assert archive.SEGMENT_NAME.match(last)
        collect(inst, kept, last)
        assert archive.spooled(inst) == []

        def fill(directory: Path) -> None:
            for path in sorted(kept.iterdir()):
                if path.name >= start or not archive.SEGMENT_NAME.match(path.name):
                    shutil.copy(path, directory / path.name)

        backup.seek(0)
        started = time.monotonic()
        restored = archive.restore_to_time(
            engine, backup, InstanceSpec("pitr-back", None, "admin", ""), fill, target
        )
        print(f"\nrestore to a point in time: {time.monotonic() - started:.2f}s")
        with connect(restored) as conn:
            assert conn.execute("SELECT count(*), max(id) FROM t").fetchone() == (100, 100)
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            conn.execute("INSERT INTO t VALUES (999)")  # promoted: writable
        assert not (restored.instance_dir / archive.RESTORE).exists()
        assert not (restored.instance_dir / archive.BACKUP_CONF).exists()
        engine.destroy(restored)
    finally:
        engine.destroy(inst)
        shutil.rmtree(kept, ignore_errors=True)


def test_a_target_the_wal_does_not_reach_fails(engine: PostgresEngine) -> None:
    inst = engine.create(InstanceSpec("short", "18", "admin", PASSWORD, db_name="shop"))
    try:
        backup = io.BytesIO()
        engine.snapshot_to(inst, backup)
        backup.seek(0)
        with pytest.raises(EngineError):
            archive.restore_to_time(
                engine,
                backup,
                InstanceSpec("short-back", None, "admin", ""),
                lambda directory: None,
                time.time() + 3600,
            )
        assert "short-back" not in engine.instance_ids()
    finally:
        engine.destroy(inst)
