"""Audit events are stored in batches: identities stored once, records
rendered back whole, facets that only ever skip batches that cannot match,
and stores of older schema versions brought forward with their events."""

from __future__ import annotations

import sqlite3
import threading
import time

import orjson
import pytest
from sqlalchemy import func, select, update

from strongroom.audit import records
from strongroom.audit.recorder import AuditRecorder
from strongroom.audit.records import StoredEvent, facet
from strongroom.audit.tables import batches, identities
from strongroom.auth.principal import root_principal
from strongroom.server.schema import create_state_schema
from strongroom.store.db import SCHEMA_VERSION, Store, schema_table

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RESOURCES = [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY_ARN}]


def _record(recorder: AuditRecorder, principal, **overrides) -> str:
    args = {
        "event_time": 1_790_000_000.25,
        "account": "111122223333",
        "region": "us-east-1",
        "event_source": "kms.amazonaws.com",
        "event_name": "Decrypt",
        "principal": principal,
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "source_ip": "192.0.2.7",
        "user_agent": "aws-cli/2",
        "request_id": "req-1",
        "read_only": True,
        "request_parameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": RESOURCES,
        **overrides,
    }
    return recorder.record(**args)


def _stored(store: Store, **filters) -> list[StoredEvent]:
    """Every stored event, oldest first."""
    with store.transaction(write=False) as conn:
        return [e for _s, _i, e in records.scan(conn, **filters)][::-1]


def _rendered(store: Store) -> list[dict]:
    events = _stored(store)
    with store.transaction(write=False) as conn:
        return records.render_events(conn, events)


def test_identity_is_stored_once_and_records_render_whole(store: Store) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333", "AKIAIOSFODNN7EXAMPLE")
    first = _record(recorder, root)
    _record(recorder, root, request_id="req-2", event_name="Encrypt", read_only=False)
    recorder.flush()
    _record(recorder, root, error_code="AccessDeniedException", error_message="no")
    recorder.flush()

    with store.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(batches)).scalar() == 2
        raw = b"".join(conn.execute(select(batches.c.events)).scalars())
    assert b"userIdentity" not in raw and b"arn:aws:iam::111122223333:root" not in raw

    one, two, failed = _rendered(store)
    assert list(one) == [
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
        "awsRegion", "sourceIPAddress", "userAgent", "requestParameters",
        "responseElements", "requestID", "eventID", "readOnly", "resources",
        "eventType", "managementEvent", "recipientAccountId", "eventCategory",
    ]  # fmt: skip
    assert one["userIdentity"] == root.user_identity()
    assert one["eventTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000))
    assert (one["eventID"], one["requestID"], one["readOnly"]) == (first, "req-1", True)
    assert one["resources"] == RESOURCES
    assert one["sourceIPAddress"] == "192.0.2.7" and one["recipientAccountId"] == "111122223333"
    assert (two["eventName"], two["readOnly"]) == ("Encrypt", False)
    assert (failed["errorCode"], failed["errorMessage"]) == ("AccessDeniedException", "no")


def test_a_new_recorder_finds_identities_already_stored(store: Store) -> None:
    root = root_principal("111122223333")
    for _ in range(2):  # e.g. a restart, or a second worker process
        recorder = AuditRecorder(store)
        _record(recorder, root)
        _record(recorder, None, access_key_id=None)  # unauthenticated: "Unknown"
        recorder.flush()
    with store.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 2
    rendered = _rendered(store)
    assert [r["userIdentity"]["type"] for r in rendered] == ["Root", "Unknown"] * 2


def test_identities_of_a_failed_flush_are_written_by_the_next(store: Store, monkeypatch) -> None:
    recorder = AuditRecorder(store)
    _record(recorder, root_principal("111122223333"))
    import strongroom.audit.recorder as recorder_module

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(recorder_module, "write_pending", broken)
    with pytest.raises(RuntimeError):
        recorder.flush()
    monkeypatch.undo()
    assert recorder.flush() == 1
    assert _rendered(store)[0]["userIdentity"]["type"] == "Root"


def test_a_busy_flush_keeps_its_events_and_their_facets(store: Store, tmp_path) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333", "AKIAIOSFODNN7EXAMPLE")
    _record(recorder, root, event_time=1_790_000_002.0)
    other = sqlite3.connect(store.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    assert recorder.flush() == 0 and recorder.pending == 1
    other.execute("ROLLBACK")
    other.close()
    # Recorded later but stamped earlier (a clock stepped back): stored first.
    _record(recorder, root, event_name="Encrypt", resources=None, event_time=1_790_000_001.0)
    assert recorder.flush(wait=True) == 2
    with store.transaction(write=False) as conn:
        rows = conn.execute(select(batches.c.facets, batches.c.first_time)).all()
    assert len(rows) == 1 and rows[0].first_time == 1_790_000_001.0
    assert {"n:Decrypt", "n:Encrypt", "r:" + KEY_ARN} <= set(rows[0].facets.split("\n"))
    assert [e.event_name for e in _stored(store)] == ["Encrypt", "Decrypt"]


def test_facets_skip_only_batches_that_cannot_match(store: Store) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333", "AKIAIOSFODNN7EXAMPLE")
    _record(recorder, root)
    recorder.flush()
    _record(recorder, root, event_name="Encrypt", resources=None, region="eu-west-1")
    recorder.flush()
    with store.transaction(write=False) as conn:
        heads = list(conn.execute(select(batches.c.facets).order_by(batches.c.seq)).scalars())
    assert heads[0].split("\n")[1:-1] == sorted(
        [
            "a:111122223333:us-east-1", "k:AKIAIOSFODNN7EXAMPLE", "n:Decrypt",
            "r:" + KEY_ARN, "s:kms.amazonaws.com", "t:AWS::KMS::Key", "u:root",
        ]
    )  # fmt: skip
    assert [e.event_name for e in _stored(store, facets=[facet("r", KEY_ARN)])] == ["Decrypt"]
    assert [e.event_name for e in _stored(store, facets=[facet("n", "Encrypt")])] == ["Encrypt"]
    assert _stored(store, facets=[facet("a", "111122223333", "ap-south-1")]) == []
    # "%" and "_" in a value are literal, and only whole lines match
    assert _stored(store, facets=[facet("n", "%")]) == []
    assert _stored(store, facets=[facet("n", "Decryp")]) == []


def test_scan_is_newest_first_resumes_after_a_position_and_honours_times(store: Store) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333")
    for batch in range(3):
        for n in range(4):
            _record(
                recorder,
                root,
                event_time=1_790_000_000.0 + batch * 10 + n,
                request_id=f"{batch}-{n}",
            )
        recorder.flush()
    with store.transaction(write=False) as conn:
        seen = list(records.scan(conn))
        ids = [e.own["requestID"] for _s, _i, e in seen]
        assert ids == [f"{b}-{n}" for b in (2, 1, 0) for n in (3, 2, 1, 0)]
        seq, index, _event = seen[5]  # resume inside the middle batch
        rest = [e.own["requestID"] for _s, _i, e in records.scan(conn, before=(seq, index))]
        assert rest == ids[6:]
        window = records.scan(conn, start=1_790_000_011.0, end=1_790_000_012.0)
        assert {e.own["requestID"][0] for _s, _i, e in window} == {"1"}  # one batch read


def test_an_event_orjson_refuses_costs_only_itself_a_slower_encoding(store: Store) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333")
    _record(recorder, root, request_parameters={"huge": 2**70, 3: "int key"})
    _record(recorder, root, request_id="fine")
    assert recorder.flush() == 2
    huge, fine = _rendered(store)
    assert huge["requestParameters"] == {"huge": 2**70, "3": "int key"}
    assert fine["requestID"] == "fine"


def _legacy_store(path, version: int, rows: list[tuple]) -> None:
    """A store as schema `version` (1 or 2) left it: one audit_events row per event."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE strongroom_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
        CREATE TABLE audit_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id VARCHAR(36) NOT NULL UNIQUE,
            account VARCHAR(12) NOT NULL, region VARCHAR(32) NOT NULL,
            event_time FLOAT NOT NULL, event_name VARCHAR(128) NOT NULL,
            event_source VARCHAR(128) NOT NULL, read_only BOOLEAN NOT NULL,
            management BOOLEAN NOT NULL, username VARCHAR(256), access_key_id VARCHAR(128),
            resources TEXT, record TEXT NOT NULL);
        """
    )
    db.execute("INSERT INTO strongroom_schema VALUES (1, ?)", (version,))
    db.executemany(
        "INSERT INTO audit_events (event_id, account, region, event_time, event_name,"
        " event_source, read_only, management, username, access_key_id, resources, record)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.commit()
    db.close()


def test_a_version_2_store_keeps_its_events_as_batches(tmp_path) -> None:
    """Version 1 rows hold whole records and LookupEvents-form resources;
    version 2 rows are slim. Both come through the move to batches."""
    legacy = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "Root", "accountId": "111122223333"},
        "eventTime": "2026-01-01T00:00:00Z",
        "eventName": "Encrypt",
        "requestID": "old",
        "eventID": "e-old",
    }
    lookup_form = [{"ResourceType": "AWS::KMS::Key", "ResourceName": KEY_ARN}]
    slim = {"i": "nobody", "sourceIPAddress": "192.0.2.7", "requestID": "slim"}
    path = tmp_path / "old.db"
    _legacy_store(
        path,
        2,
        [
            ("e-old", "111122223333", "us-east-1", 1_767_225_600.0, "Encrypt",
             "kms.amazonaws.com", 0, 1, "root", None, orjson.dumps(lookup_form).decode(),
             orjson.dumps(legacy).decode()),
            ("e-slim", "111122223333", "us-east-1", 1_767_225_601.0, "Decrypt",
             "kms.amazonaws.com", 1, 1, "root", "AKIAIOSFODNN7EXAMPLE",
             orjson.dumps(RESOURCES).decode(), orjson.dumps(slim).decode()),
        ],
    )  # fmt: skip
    s = Store(f"sqlite+pysqlite:///{path}")
    try:
        create_state_schema(s)
        with s.transaction(write=False) as conn:
            assert conn.execute(select(schema_table.c.version)).scalar() == SCHEMA_VERSION == 3
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert "audit_events" not in tables
        old, new = _stored(s)
        assert (old.event_id, new.event_id) == ("e-old", "e-slim")
        assert records.lookup_resources(old.resources) == lookup_form
        assert records.lookup_resources(new.resources) == lookup_form
        assert _stored(s, facets=[facet("r", KEY_ARN)]) == [old, new]
        rendered_old, rendered_new = _rendered(s)
        assert rendered_old == legacy
        assert rendered_new["requestID"] == "slim" and rendered_new["resources"] == RESOURCES
        assert rendered_new["userIdentity"] == {"type": "Unknown"}  # reference not stored
    finally:
        s.close()


def test_a_version_1_store_is_brought_forward(tmp_path) -> None:
    path = tmp_path / "old.db"
    s = Store(f"sqlite+pysqlite:///{path}")
    create_state_schema(s)
    with s.transaction() as conn:
        conn.execute(update(schema_table).values(version=1))
    s.close()
    s = Store(f"sqlite+pysqlite:///{path}")
    try:
        create_state_schema(s)
        with s.transaction(write=False) as conn:
            assert conn.execute(select(schema_table.c.version)).scalar() == SCHEMA_VERSION == 3
    finally:
        s.close()


def test_render_needs_only_the_event() -> None:
    event = StoredEvent(
        "e", "111122223333", "us-east-1", 0.0, "GetCallerIdentity", "sts.amazonaws.com",
        True, True, None, None, None, {"i": "missing", "requestID": "r"},
    )  # fmt: skip
    out = records.render(event, {})
    assert out["userIdentity"] == {"type": "Unknown"} and "resources" not in out
    assert out["eventTime"] == "1970-01-01T00:00:00Z"


def test_a_large_version_2_store_moves_a_batch_at_a_time(tmp_path) -> None:
    from strongroom.audit import tables

    count = tables._MIGRATION_BATCH * 2 + 7
    slim = orjson.dumps({"i": "nobody", "requestID": "r"}).decode()
    path = tmp_path / "big.db"
    _legacy_store(
        path,
        2,
        [
            (f"e-{n:05d}", "111122223333", "us-east-1", 1_767_225_600.0 + n, "Decrypt",
             "kms.amazonaws.com", 1, 1, "root", None, None, slim)
            for n in range(count)
        ],
    )  # fmt: skip
    s = Store(f"sqlite+pysqlite:///{path}")
    try:
        create_state_schema(s)
        with s.transaction(write=False) as conn:
            sizes = list(conn.execute(select(batches.c.count).order_by(batches.c.seq)).scalars())
        assert sizes == [tables._MIGRATION_BATCH, tables._MIGRATION_BATCH, 7]
        assert [e.event_id for e in _stored(s)] == [f"e-{n:05d}" for n in range(count)]
    finally:
        s.close()


def _hold_write_lock(database: str, seconds: float) -> threading.Thread:
    """Another connection takes the write lock now and lets it go after `seconds`."""
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_a_due_event_makes_the_flush_wait_for_a_busy_store(store: Store) -> None:
    import strongroom.audit.recorder as recorder_module

    recorder = AuditRecorder(store)
    _record(recorder, root_principal("111122223333"))
    holder = _hold_write_lock(store.engine.url.database, 0.3)
    try:
        recorder._pending.first_at = time.monotonic()  # just queued: not due
        started = time.monotonic()
        assert not recorder.flush_due() and not recorder.should_flush()
        assert recorder.flush() == 0 and recorder.pending == 1  # backs off at once
        assert time.monotonic() - started < 0.1
        # Queued MAX_PENDING_AGE ago: due; the flush waits for the lock and writes.
        recorder._pending.first_at = time.monotonic() - recorder_module.MAX_PENDING_AGE
        assert recorder.flush_due() and recorder.should_flush()
        assert recorder.flush() == 1 and recorder.pending == 0
        assert 0.15 < time.monotonic() - started < 0.3 + recorder_module.LOCK_WAIT
    finally:
        holder.join()
    assert [e.event_name for e in _stored(store)] == ["Decrypt"]


def test_a_store_busy_past_the_lock_wait_keeps_the_events(store: Store, monkeypatch) -> None:
    import strongroom.audit.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "LOCK_WAIT", 0.1)
    recorder = AuditRecorder(store)
    _record(recorder, root_principal("111122223333"))
    recorder._pending.first_at -= 10  # long due
    holder = _hold_write_lock(store.engine.url.database, 0.4)
    try:
        started = time.monotonic()
        assert recorder.flush() == 0 and recorder.pending == 1
        assert time.monotonic() - started >= 0.1  # it waited
        assert recorder._pending.age(time.monotonic()) >= 10  # still counts from its record
        # A lock held that long is stuck: for a while flushes do not wait again,
        # so requests that need no lock are not stalled on every tick.
        assert not recorder.flush_due() and not recorder.should_flush()
        started = time.monotonic()
        assert recorder.flush() == 0 and time.monotonic() - started < 0.05
    finally:
        holder.join()
    assert recorder.flush() == 1


def test_the_age_of_a_batch_is_its_oldest_event(store: Store) -> None:
    batch = records.PendingBatch()
    assert batch.age(time.monotonic()) == 0.0
    event = ("id", "0", "r", 0.0, "E", "s", True, True, None, None, None, {})
    batch.add(event)
    first = batch.first_at
    batch.add(event)
    assert batch.first_at == first
    newer = records.PendingBatch()
    newer.add(event)
    newer.absorb(batch)  # a failed flush's events go back in front, with their age
    assert newer.first_at == first and len(newer) == 3


def test_events_recorded_from_threads_are_all_stored_in_time_order(store: Store) -> None:
    """Requests answered off the loop record from worker threads while the
    loop records and flushes: nothing is lost, and each batch is in time order."""
    recorder = AuditRecorder(store)
    principals = [root_principal(f"11112222333{i}", f"AKIA{i}") for i in range(4)]

    def record(n: int) -> None:
        for i in range(300):
            _record(recorder, principals[n], event_time=time.time(), request_id=f"t{n}-{i}")

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        _record(recorder, principals[0], event_time=time.time(), request_id="loop")
        recorder.flush()
    recorder.flush(wait=True)
    stored = _stored(store)
    ids = [e.own["requestID"] for e in stored]
    assert sum(1 for i in ids if i.startswith("t")) == 1200
    assert len(set(i for i in ids if i.startswith("t"))) == 1200
    assert recorder.written == len(stored)
    with store.transaction(write=False) as conn:
        rows = conn.execute(select(batches.c.events)).scalars().all()
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 4
    for body in rows:
        times = [event[3] for event in orjson.loads(body)]
        assert times == sorted(times)
    assert all(e.own["i"] for e in stored)
