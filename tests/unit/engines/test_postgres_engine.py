"""The PostgreSQL engine driver with real PostgreSQL servers (issue #12 item 1).

One engine per module; instances are created from its per-major templates,
so most tests cost a copy and a server start. Timings are printed (-s)."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from strongroom.engines.driver import (
    DatabaseEngine,
    EngineError,
    Instance,
    InstanceSpec,
    UnknownParameter,
    VersionNotAvailable,
)
from strongroom.engines.postgres import Catalogue, PostgresEngine, resolve_account
from strongroom.engines.postgres.binaries import embedded_bin_dir
from strongroom.engines.postgres.scram import verifier

PASSWORD = "S3cret-pass-8f2a61"
SYSTEM_MAJORS = sorted(int(Path(p).parent.name) for p in glob.glob("/usr/lib/postgresql/*/bin"))
#: The machine's own PostgreSQL (.ci/run installs the distribution's), beside the embedded 18.
SYSTEM = SYSTEM_MAJORS[0] if SYSTEM_MAJORS else 18
SECRETS: list[str] = [PASSWORD]


@pytest.fixture
def scratch() -> Path:
    """A directory outside /tmp/pytest-of-<user>: every pytest session resets
    that one to 0700, which would cut the engine account off mid-test."""
    path = Path(tempfile.mkdtemp(prefix="sr-pgengine-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def engine() -> PostgresEngine:
    root = Path(tempfile.mkdtemp(prefix="sr-pgengine-"))
    base = root / "engines" / "postgres"
    eng = PostgresEngine(base)
    yield eng
    eng.close()
    assert _server_pids(base) == []
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def primary(engine) -> Instance:
    started = time.monotonic()
    instance = engine.create(InstanceSpec("shop", "18", "admin", PASSWORD, db_name="shop"))
    print(
        f"\ncreate (first of major 18: binaries + initdb + copy + start): "
        f"{time.monotonic() - started:.2f}s"
    )
    return instance


def connect(instance: Instance, password: str = PASSWORD, **kw) -> psycopg.Connection:
    params = {
        "host": "127.0.0.1",
        "port": instance.port,
        "user": instance.master_username,
        "password": password,
        "dbname": instance.db_name or "postgres",
        "connect_timeout": 10,
        "autocommit": True,
    }
    params.update(kw)
    return psycopg.connect(**params)


def _server_pids(base: Path) -> list[int]:
    """Every live process whose command line names a directory under ``base``
    or whose working directory is under it (a postmaster's children keep its
    data directory as their cwd and retitle themselves)."""
    needle = os.fsencode(str(base))
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.fsencode(os.readlink(f"/proc/{entry}/cwd"))
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or cwd.startswith(needle)):
            pids.append(int(entry))
    return pids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


# ---------------------------------------------------------------- discovery


def test_discovery_finds_the_embedded_18_and_the_machines_majors(engine):
    versions = {v.major: v for v in engine.versions()}
    assert embedded_bin_dir() is not None
    assert versions[18].source == "embedded"
    assert re.fullmatch(r"18\.\d+", versions[18].version)
    for major in SYSTEM_MAJORS:
        assert versions[major].bin_dir == Path(f"/usr/lib/postgresql/{major}/bin").resolve()
        out = os.popen(f"/usr/lib/postgresql/{major}/bin/postgres --version").read()
        assert versions[major].version in out
    assert SYSTEM_MAJORS, "the machine's PostgreSQL (the distribution's postgresql package)"
    assert versions[18].parameter_group_family == "postgres18"
    assert isinstance(engine, DatabaseEngine)


def test_engine_version_lookup(engine):
    assert engine.resolve_version(str(SYSTEM)).major == SYSTEM
    assert engine.resolve_version(f"{SYSTEM}.4").major == SYSTEM
    assert engine.resolve_version("18.1").major == 18
    assert engine.resolve_version(None).major == max(v.major for v in engine.versions())
    for missing in ("13", "13.7", "9.6", "latest", "99"):
        with pytest.raises(VersionNotAvailable) as caught:
            engine.resolve_version(missing)
        assert caught.value.requested == missing
        assert caught.value.available == [v.version for v in engine.versions()]
        assert "18." in str(caught.value)


def test_bin_dirs_named_by_the_environment(monkeypatch, tmp_path):
    embedded = embedded_bin_dir()
    monkeypatch.setenv("STRONGROOM_POSTGRES_BIN", f"{tmp_path / 'nothing'}:{embedded}")
    found = Catalogue(use_embedded=False, scan_system=False).versions()
    assert [(v.major, v.source) for v in found] == [(18, "configured")]
    monkeypatch.delenv("STRONGROOM_POSTGRES_BIN")
    assert Catalogue(use_embedded=False, scan_system=False).versions() == []
    only_system = Catalogue(
        [f"/usr/lib/postgresql/{SYSTEM}/bin"], use_embedded=False, scan_system=False
    )
    assert [v.major for v in only_system.versions()] == [SYSTEM]
    with pytest.raises(VersionNotAvailable) as caught:
        only_system.resolve("18")
    assert caught.value.available == [only_system.versions()[0].version]


def test_engine_from_server_options(scratch):
    embedded = str(embedded_bin_dir())
    eng = PostgresEngine.from_options(scratch / "e", {"bin": f"/nonexistent:{embedded}"})
    try:
        assert eng.resolve_version("18").source == "configured"
        if os.geteuid() == 0:
            assert eng.account.name in ("postgres", "strongroom-pg") and eng.account.switch
        else:
            assert eng.account.name == pwd.getpwuid(os.geteuid()).pw_name
    finally:
        eng.close()
    with pytest.raises(EngineError, match="unknown PostgreSQL engine options: colour"):
        PostgresEngine.from_options(scratch / "f", {"colour": "blue"})


# ---------------------------------------------------------------- create, connect, password


def test_create_connects_with_the_master_password_only(engine, primary):
    with connect(primary) as conn:
        user, db, addr = conn.execute(
            "SELECT current_user, current_database(), inet_server_addr()::text"
        ).fetchone()
        assert (user, db) == ("admin", "shop")
        assert addr.startswith("127.0.0.1")
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"
        ).fetchone()[0]
        assert owner == "admin"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT rolpassword FROM pg_authid")  # the master is no superuser
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(primary, password="wrong-password")
    # the control superuser is refused over TCP
    with pytest.raises(psycopg.OperationalError):
        connect(primary, user="rdsadmin", password="")


def test_creation_is_fast_from_the_template(engine):
    timings = {}
    for major in sorted({SYSTEM, 18} & {v.major for v in engine.versions()}):
        engine.create(InstanceSpec(f"warmup{major}", str(major), "admin", PASSWORD))  # template
        started = time.monotonic()
        instance = engine.create(
            InstanceSpec(f"fast{major}", str(major), "dbo", PASSWORD, db_name="app")
        )
        with connect(instance) as conn:
            conn.execute("SELECT 1")
        timings[major] = time.monotonic() - started
        for name in (f"warmup{major}", f"fast{major}"):
            engine.destroy(engine.open(name))
    for major, seconds in timings.items():
        print(
            f"\ncreate-to-accepting-connections, PostgreSQL {major}: {seconds:.3f}s (target < 3s)"
        )
    # The 3 s target is bench_rds.py's; on a loaded CI this only catches a
    # creation that ran initdb again (several times slower) or hung.
    assert timings and all(s < 20.0 for s in timings.values()), timings


def test_set_password_really_changes_the_login(engine):
    instance = engine.create(InstanceSpec("pw", str(SYSTEM), "master", PASSWORD))
    new = "N3w-pass-c0ffee-" + os.urandom(4).hex()
    SECRETS.append(new)
    engine.set_password(instance, "master", new)
    with connect(instance, password=new) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "master"
    with pytest.raises(psycopg.OperationalError):
        connect(instance, password=PASSWORD)
    with pytest.raises(EngineError):
        engine.set_password(instance, "nobody", new)
    with pytest.raises(EngineError):
        engine.set_password(instance, "rdsadmin", new)
    engine.destroy(instance)
    assert not instance.instance_dir.exists()


def test_scram_verifier_matches_postgresql(engine, primary):
    # The server accepts our verifier as a pre-hashed password, and a login
    # with the plaintext works (checked above): here the format itself.
    v = verifier("pässwörd", salt=b"0123456789abcdef")
    assert re.fullmatch(r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+", v)
    instance = engine.create(InstanceSpec("unicode", "18", "admin", "pässwörd-Ⅸ"))
    with connect(instance, password="pässwörd-Ⅸ") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    engine.destroy(instance)


# ---------------------------------------------------------------- parameters


def test_parameters_dynamic_at_once_static_pending_reboot(engine):
    instance = engine.create(InstanceSpec("params", "18", "admin", PASSWORD))
    applied = engine.apply_parameters(
        instance, {"log_min_duration_statement": "250", "shared_buffers": "64MB"}
    )
    by_name = {a.name: a for a in applied}
    assert by_name["log_min_duration_statement"].apply_type == "dynamic"
    assert not by_name["log_min_duration_statement"].pending_reboot
    assert by_name["shared_buffers"].apply_type == "static"
    assert by_name["shared_buffers"].pending_reboot
    assert by_name["shared_buffers"].context == "postmaster"
    with connect(instance) as conn:
        assert conn.execute("SHOW log_min_duration_statement").fetchone()[0] == "250ms"
        assert conn.execute("SHOW shared_buffers").fetchone()[0] == "128MB"
        assert conn.execute(
            "SELECT pending_restart FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()[0]
    engine.restart(instance)
    with connect(instance) as conn:
        assert conn.execute("SHOW shared_buffers").fetchone()[0] == "64MB"
    engine.apply_parameters(instance, {"log_min_duration_statement": None})
    with connect(instance) as conn:
        assert conn.execute("SHOW log_min_duration_statement").fetchone()[0] == "-1"
    with pytest.raises(UnknownParameter):
        engine.apply_parameters(instance, {"no_such_setting": "1"})
    with pytest.raises(UnknownParameter, match="cannot be modified"):
        engine.apply_parameters(instance, {"port": "1"})
    with pytest.raises(EngineError, match="work_mem"):
        engine.apply_parameters(instance, {"work_mem": "lots"})

    params = {p.name: p for p in engine.parameters(instance)}
    assert params["shared_buffers"].apply_type == "static"
    assert params["work_mem"].apply_type == "dynamic"
    assert params["log_connections"].modifiable
    assert not params["port"].modifiable
    assert not params["server_version"].modifiable
    assert params["shared_buffers"].source == "user"
    engine.destroy(instance)


def test_engine_default_parameters_without_a_server(engine):
    for major in sorted({SYSTEM, 18}):
        params = {p.name: p for p in engine.default_parameters(str(major))}
        assert params["shared_buffers"].apply_type == "static"
        assert params["work_mem"].apply_type == "dynamic"
        assert params["work_mem"].data_type == "integer"
        assert params["log_connections"].data_type in ("boolean", "string")
        assert len(params) > 250


# ---------------------------------------------------------------- logs


def test_log_files_listed_and_read_with_markers(engine, primary):
    engine.apply_parameters(primary, {"log_statement": "all"})
    with connect(primary) as conn:
        for i in range(200):
            conn.execute(f"SELECT {i} AS marker_{i}")
    # the logging collector writes behind a pipe: wait for the last line
    hour = time.strftime("%Y-%m-%d-%H", time.gmtime())
    _wait_logged(engine, primary, b"SELECT 199 AS marker_199")
    files = engine.list_log_files(primary)
    assert files
    for f in files:
        assert re.fullmatch(r"error/postgresql\.log\.\d{4}-\d{2}-\d{2}-\d{2}", f.name)
    current = next(f for f in files if f.name.endswith(hour))
    assert current.size > 0 and abs(current.last_written - time.time()) < 120
    whole = (primary.data_dir / current.name).read_bytes()
    assert b"SELECT 199 AS marker_199" in whole

    # markers: small portions, each of whole lines, make up the file
    pieces, marker, pending = [], "0", True
    while pending:
        portion = engine.read_log_file(primary, current.name, marker, max_bytes=4096)
        assert portion.data.endswith(b"\n") or not portion.additional_data_pending
        assert len(portion.data) <= 4096
        pieces.append(portion.data)
        marker, pending = portion.marker, portion.additional_data_pending
    assert b"".join(pieces) == whole[: int(marker)]
    assert b"".join(pieces).startswith(whole[:100])
    assert len(pieces) > 3

    # reading on from the last marker sees only what was logged since
    with connect(primary) as conn:
        conn.execute("SELECT 'after the marker'")
    _wait_logged(engine, primary, b"after the marker")
    later = engine.read_log_file(primary, current.name, marker)
    assert b"after the marker" in later.data
    assert b"marker_199" not in later.data
    for bad in ("postgresql.log", "error/../PG_VERSION", "error/postgresql.log.x"):
        with pytest.raises(EngineError):
            engine.read_log_file(primary, bad)
    engine.apply_parameters(primary, {"log_statement": None})


def _wait_logged(engine, instance: Instance, needle: bytes) -> None:
    deadline = time.monotonic() + 10
    while True:
        files = engine.list_log_files(instance)
        if files and needle in (instance.data_dir / files[-1].name).read_bytes():
            return
        assert time.monotonic() < deadline, f"{needle!r} never logged"
        time.sleep(0.02)


def test_old_log_files_are_purged(engine, primary):
    current = engine.list_log_files(primary)[-1]
    old = primary.data_dir / "error" / "postgresql.log.2020-01-01-00"
    old.write_text("2020-01-01 00:00:00 UTC::@:[1]:LOG:  an old line\n")
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    names = [f.name for f in engine.list_log_files(primary)]
    assert names[0] == "error/postgresql.log.2020-01-01-00" and current.name in names
    assert engine.read_log_file(primary, names[0]).data.endswith(b"an old line\n")
    assert engine.purge_log_files(primary, older_than_s=4320 * 60) == []
    assert engine.purge_log_files(primary, older_than_s=1440 * 60) == [names[0]]
    assert not old.exists()
    assert current.name in [f.name for f in engine.list_log_files(primary)]


# ---------------------------------------------------------------- snapshots


def _rows(instance: Instance, password: str = PASSWORD) -> list[tuple]:
    with connect(instance, password=password) as conn:
        return conn.execute("SELECT id, name, payload, at FROM items ORDER BY id").fetchall()


def test_usage_counts_client_sessions_and_the_files_on_disk(engine, primary):
    base = engine.usage(primary)
    held = [connect(primary) for _ in range(3)]
    try:
        now = engine.usage(primary)
    finally:
        for conn in held:
            conn.close()
    # (the control plane's own session, asking, is not counted)
    assert now.connections == base.connections + 3
    assert now.wal_bytes >= 16 * 1024 * 1024  # at least one WAL segment
    assert now.storage_bytes > now.wal_bytes
    assert now.max_used_xids > 0
    assert now.oldest_slot_lag_bytes is None  # no replica, no slot


def test_snapshot_streams_and_restores_every_row(engine, primary):
    with connect(primary) as conn:
        conn.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text, payload bytea, at timestamptz)"
        )
        conn.execute(
            "INSERT INTO items SELECT g, md5(g::text), decode(md5(g::text) || md5((g*7)::text), 'hex'), "
            "now() - g * interval '1 minute' FROM generate_series(1, 20000) g"
        )
        conn.execute("CREATE INDEX ON items (name)")
    before = _rows(primary)
    assert len(before) == 20000

    # a writer keeps going during the snapshot: the copy is consistent anyway
    stop = threading.Event()

    def writer():
        with connect(primary) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS churn (n int)")
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute("INSERT INTO churn VALUES (%s)", (n,))

    thread = threading.Thread(target=writer)
    thread.start()
    progress = []
    with tempfile.TemporaryFile() as snapshot:
        try:
            info = engine.snapshot_to(
                primary, snapshot, progress=lambda d, t: progress.append((d, t))
            )
        finally:
            stop.set()
            thread.join()
        print(f"\nsnapshot: {info.bytes_written / 1e6:.1f} MB in {info.seconds:.2f}s")
        assert info.bytes_written == snapshot.tell() > 1_000_000
        assert progress and progress[-1][0] == info.bytes_written
        assert all(d <= t for d, t in progress)

        snapshot.seek(0)
        blob = snapshot.read()
        for secret in SECRETS:
            assert secret.encode() not in blob
        snapshot.seek(0)
        started = time.monotonic()
        restored = engine.restore_from(
            snapshot, InstanceSpec("shop-restored", "18", "admin", "", db_name="shop")
        )
        print(f"restore: {time.monotonic() - started:.2f}s")
    assert restored.port != primary.port
    assert restored.data_dir != primary.data_dir
    assert _rows(restored) == before  # the snapshot's master password stays
    with connect(restored) as conn:
        churned = conn.execute("SELECT count(*), coalesce(max(n), 0) FROM churn").fetchone()
        assert churned[0] == churned[1]  # no holes: a consistent prefix of the writer's rows
        assert not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        conn.execute("INSERT INTO items VALUES (20001, 'new', NULL, now())")
    assert engine.list_log_files(restored)  # its own logs, not the source's
    assert not (restored.data_dir / "error" / "postgresql.log.1970-01-01-00").exists()

    # a restore with a new master password
    with tempfile.TemporaryFile() as snapshot:
        engine.snapshot_to(restored, snapshot)
        snapshot.seek(0)
        again = engine.restore_from(
            snapshot, InstanceSpec("shop-again", "18", "admin", "An0ther-pass-77", db_name="shop")
        )
    SECRETS.append("An0ther-pass-77")
    assert len(_rows(again, "An0ther-pass-77")) == 20001
    with pytest.raises(psycopg.OperationalError):
        connect(again)
    engine.destroy(again)

    # a snapshot of another major is refused
    with tempfile.TemporaryFile() as snapshot:
        engine.snapshot_to(restored, snapshot)
        snapshot.seek(0)
        with pytest.raises(EngineError, match="PostgreSQL 18"):
            engine.restore_from(snapshot, InstanceSpec("wrong-major", str(SYSTEM), "admin", ""))
    assert not (engine.base_dir / "instances" / "wrong-major").exists()
    engine.destroy(restored)


def test_stop_start_keeps_data(engine):
    instance = engine.create(InstanceSpec("stopstart", "18", "admin", PASSWORD, db_name="d"))
    with connect(instance) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('before fast stop')")
    engine.stop(instance, "fast")
    assert not engine.is_running(instance)
    assert engine.health(instance).state == "stopped"
    with pytest.raises(psycopg.OperationalError):
        connect(instance)
    engine.start(instance)
    with connect(instance) as conn:
        conn.execute("INSERT INTO t VALUES ('before immediate stop')")
    engine.stop(instance, "immediate")
    # a stopped instance snapshots too (its files, as they are)
    with tempfile.TemporaryFile() as snapshot:
        info = engine.snapshot_to(instance, snapshot)
        assert info.bytes_written == snapshot.tell() > 1_000_000
        snapshot.seek(0)
        cold = engine.restore_from(
            snapshot, InstanceSpec("stopstart-cold", None, "admin", "", db_name="d")
        )
    with connect(cold) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    engine.destroy(cold)
    assert not engine.is_running(instance)
    # files at rest: exported, removed, imported back (what sealing will do)
    with tempfile.TemporaryFile() as files:
        with pytest.raises(EngineError):
            engine.import_data(instance, files)  # it has its data directory
        engine.export_data(instance, files)
        engine.remove_data(instance)
        assert not engine.has_data(instance) and not instance.data_dir.exists()
        with pytest.raises(EngineError):
            engine.start(instance)
        files.seek(0)
        engine.import_data(instance, files)
    assert engine.has_data(instance)
    assert engine.list_log_files(instance)  # its logs came back too
    reopened = engine.open("stopstart")
    assert reopened == instance
    engine.start(reopened)
    assert engine.health(reopened).state == "running"
    with connect(reopened) as conn:
        assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")] == [
            "before fast stop",
            "before immediate stop",
        ]
    with engine._admin(reopened) as conn:
        conn.execute("ALTER SYSTEM SET max_connections = 50")
    assert engine.pending_reboot(reopened) == []  # not yet reloaded
    engine.apply_parameters(reopened, {"max_wal_senders": "8"})
    assert engine.pending_reboot(reopened) == ["max_connections", "max_wal_senders"]
    moved = engine.set_port(reopened, _free_port())
    assert moved.port != reopened.port and engine.open("stopstart").port == moved.port
    assert engine.pending_reboot(moved) == []
    with connect(moved) as conn:
        assert conn.execute("SHOW max_connections").fetchone()[0] == "50"
    with pytest.raises(psycopg.OperationalError):
        connect(reopened)
    reopened = moved
    # a server that dies is seen as failed, and starts again
    os.kill(engine.processes()["stopstart"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while engine.health(reopened).state != "failed" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.health(reopened).state == "failed"
    engine.start(reopened)
    with connect(reopened) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    engine.destroy(reopened)


# ---------------------------------------------------------------- replicas


def test_streaming_replica_and_promotion(engine):
    source = engine.create(InstanceSpec("rsource", str(SYSTEM), "admin", PASSWORD, db_name="app"))
    with connect(source) as conn:
        conn.execute("CREATE TABLE r (n int)")
        conn.execute("INSERT INTO r SELECT generate_series(1, 100)")
    replica = engine.replicate(source, InstanceSpec("rreplica", None, "", ""))
    assert replica.role == "replica" and replica.source_id == "rsource"
    assert engine.health(replica).in_recovery
    with connect(source) as conn:
        conn.execute("INSERT INTO r VALUES (101)")
    deadline = time.monotonic() + 10
    with connect(replica) as conn:
        while conn.execute("SELECT count(*) FROM r").fetchone()[0] != 101:
            assert time.monotonic() < deadline, "the row never reached the replica"
            time.sleep(0.05)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO r VALUES (0)")
    lag = engine.health(replica).replica_lag_s
    assert lag is not None and lag >= 0
    with pytest.raises(EngineError, match="read-only"):
        engine.set_password(replica, "admin", "Whatever-pass-1")
    # a second replica, destroyed: its slot on the source goes with it
    second = engine.replicate(source, InstanceSpec("rreplica2", None, "", ""))
    with engine._admin(source) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 2
    engine.destroy(second)
    with engine._admin(source) as conn:
        slots = [r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots")]
    assert slots == ["strongroom_replica_rreplica"]
    promoted = engine.promote(replica)
    assert promoted.role == "primary"
    assert not engine.health(promoted).in_recovery
    with connect(promoted) as conn:
        conn.execute("INSERT INTO r VALUES (102)")
        assert conn.execute("SELECT count(*) FROM r").fetchone()[0] == 102
    with connect(source) as conn:  # the replica's slot is gone from its source
        assert conn.execute("SELECT count(*) FROM r").fetchone()[0] == 101
    with engine._admin(source) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
    engine.destroy(promoted)
    engine.destroy(source)


# ---------------------------------------------------------------- who runs it, what is on disk


def test_servers_run_unprivileged_with_data_they_own(engine, primary):
    pid = engine.processes()["shop"]
    uid = _uid_of(pid)
    st = primary.data_dir.stat()
    if os.geteuid() == 0:
        assert uid != 0
        assert engine.account.switch
        assert uid == engine.account.uid == pwd.getpwnam(engine.account.name).pw_uid
        expected = "postgres" if _has_user("postgres") else "strongroom-pg"
        assert engine.account.name == expected
    else:
        assert uid == os.geteuid()
    assert st.st_uid == uid
    assert st.st_mode & 0o777 == 0o700
    children = [p for p in _server_pids(engine.base_dir) if p != pid]
    assert children and all(_uid_of(p) == uid for p in children)


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a system account needs root")
def test_a_dedicated_account_is_created_when_named_and_absent(scratch):
    name = "sr-pg-" + os.urandom(3).hex()
    try:
        account = resolve_account(name)
        entry = pwd.getpwnam(name)
        assert (account.name, account.uid, account.switch) == (name, entry.pw_uid, True)
        assert entry.pw_uid != 0 and entry.pw_shell.endswith("nologin")
        assert account.popen_kwargs()["user"] == entry.pw_uid
        # traversal: a 0700 parent gets search permission, nothing more
        locked = scratch / "locked"
        inner = locked / "inner"
        inner.mkdir(parents=True)
        os.chmod(locked, 0o700)
        assert not account.can_traverse(locked)
        changed = account.ensure_traversable(inner / "data")
        assert locked in changed
        assert account.can_traverse(locked)
        assert stat.S_IMODE(locked.stat().st_mode) & 0o004 == 0  # never readable
        probe = subprocess.run(["test", "-x", str(inner)], **account.popen_kwargs())
        assert probe.returncode == 0
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_the_account_is_the_current_user_when_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.setattr(
        pwd, "getpwuid", lambda uid: pwd.struct_passwd(("dev", "x", uid, 4242, "", "/", "/bin/sh"))
    )
    account = resolve_account()
    assert (account.name, account.uid, account.switch) == ("dev", 4242, False)
    assert account.popen_kwargs() == {}
    with pytest.raises(EngineError, match="only when strongroom runs as root"):
        resolve_account("postgres")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_secrets_never_in_logs_or_on_disk(engine, primary, caplog):
    caplog.set_level(logging.DEBUG)
    engine.apply_parameters(primary, {"log_statement": "all", "log_min_error_statement": "info"})
    secret = "Sh0uld-never-leak-" + os.urandom(6).hex()
    SECRETS.append(secret)
    engine.set_password(primary, "admin", secret)
    with connect(primary, password=secret) as conn:
        conn.execute("SELECT 'logged while the password changed'")
    engine.set_password(primary, "admin", PASSWORD)
    with engine._admin(primary) as conn:
        conn.execute("CHECKPOINT")
    # statement logging was on throughout: the master's statement (after the
    # password change) is in the log, so the log has caught up
    _wait_logged(engine, primary, b"logged while the password changed")
    engine.apply_parameters(primary, {"log_statement": None, "log_min_error_statement": None})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    scanned = 0
    for parent, _dirs, files in os.walk(engine.base_dir):
        for name in files:
            path = os.path.join(parent, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue  # the servers' sockets
            with open(path, "rb") as f:
                blob = f.read()
            scanned += 1
            for s in SECRETS:
                assert s.encode() not in blob, f"{s} found in {path}"
    assert scanned > 100
    for s in SECRETS:
        assert s not in logged


def test_close_leaves_no_server_running(scratch):
    base = scratch / "engines" / "postgres"
    eng = PostgresEngine(base)
    a = eng.create(InstanceSpec("one", str(SYSTEM), "admin", PASSWORD))
    eng.create(InstanceSpec("two", str(SYSTEM), "admin", PASSWORD))
    with connect(a) as conn:  # a client still connected does not hold a fast shutdown
        assert len(_server_pids(base)) >= 2
        eng.close()
    assert _server_pids(base) == []
    with pytest.raises(EngineError):
        eng.create(InstanceSpec("three", str(SYSTEM), "admin", PASSWORD))
    # a new engine on the same directory starts the instances again
    again = PostgresEngine(base)
    try:
        again.start(again.open("one"))
        with connect(again.open("one")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # and one more (as after a strongroom that died) adopts the running server
        third = PostgresEngine(base)
        try:
            pid = again.processes()["one"]
            third.start(third.open("one"))
            assert third.processes() == {"one": pid}
            assert third.health(third.open("one")).accepting_connections
            third.stop(third.open("one"))
            assert not again.is_running(again.open("one"))
        finally:
            third.close()
    finally:
        again.close()
    assert _server_pids(base) == []
