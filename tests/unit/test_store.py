"""The state store's SQLite specifics: driver-level transactions and the
checkpointer that keeps WAL checkpoints off the request path."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, insert, select

from strongroom.server.schema import create_state_schema
from strongroom.store.db import HotTables, Store, settings_table


def test_core_statements_join_the_driver_transaction(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(insert(settings_table).values(name="a", value="1"))
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(insert(settings_table).values(name="b", value="2"))
        raise RuntimeError("roll back")
    with store.transaction(write=False) as conn:
        names = [r[0] for r in conn.execute(select(settings_table.c.name))]
    assert names == ["a"]


def test_prepared_statements_commit_without_sqlalchemy(store: Store) -> None:
    with store.transaction() as conn:
        Store.put_setting(conn, "k", "v")
    with store.transaction(write=False) as conn:
        assert Store.get_setting(conn, "k") == "v"


def test_checkpointer_moves_the_wal_into_the_database(store: Store, tmp_path) -> None:
    db = tmp_path / "state.db"
    before = db.stat().st_size
    with store.transaction() as conn:
        for i in range(2000):
            Store.put_setting(conn, f"key-{i}", "x" * 500)
    assert db.stat().st_size == before  # autocheckpoint is off: all in the WAL
    store.start_checkpointer(interval=0.05)
    deadline = time.monotonic() + 5
    while db.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.stat().st_size > before + 500_000


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
def test_checkpointer_runs_at_idle_priority(store: Store) -> None:
    store.start_checkpointer(interval=0.05)
    thread = store._checkpointer[0]  # type: ignore[index]
    deadline = time.monotonic() + 5
    while thread.native_id is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # it lowers itself first thing
    assert os.sched_getscheduler(thread.native_id) == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's thread is untouched


def test_a_starved_checkpointer_is_covered_by_the_event_loop(store: Store, tmp_path) -> None:
    db = tmp_path / "state.db"
    store.start_checkpointer(interval=3600)  # its first pass would be an hour away
    before = db.stat().st_size
    with store.transaction() as conn:
        for i in range(2000):
            Store.put_setting(conn, f"key-{i}", "x" * 500)
    assert not store.checkpoint_if_starved()  # it just started: not starved
    later = time.monotonic() + 3600 * 6
    with store.transaction():
        assert not store.checkpoint_if_starved(later)  # never inside a transaction
    assert store.checkpoint_if_starved(later)
    assert store.starved_checkpoints == 1
    assert db.stat().st_size > before + 500_000
    assert not store.checkpoint_if_starved(later + 1)  # a pass just ran


# -- the hot cache and the shared state generation ---------------------------


def _second(tmp_path) -> Store:
    return Store(f"sqlite+pysqlite:///{tmp_path / 'state.db'}")


def test_hot_cache_holds_while_nothing_changes(store: Store) -> None:
    with store.transaction(write=False):
        assert store.hot_get(("k",)) is None
        store.hot_put(("k",), "v")
    with store.transaction(write=False):
        assert store.hot_get(("k",)) == "v"


def test_a_commit_by_another_process_empties_the_cache(store: Store, tmp_path) -> None:
    other = _second(tmp_path)  # another server process on the same file
    try:
        with store.transaction(write=False):
            store.hot_put(("k",), "v")
        with other.transaction() as conn:
            Store.put_setting(conn, "changed", "yes")
        with store.transaction(write=False):
            assert store.hot_get(("k",)) is None
    finally:
        other.close()


def test_bookkeeping_writes_keep_the_cache(store: Store) -> None:
    with store.transaction(write=False):
        store.hot_put(("k",), "v")
    before = store.generation.read()
    with store.transaction(state=False) as conn:
        Store.put_setting(conn, "audit-like", "x")
    assert store.try_lease("job", "me", 5)
    assert store.generation.read() == before
    with store.transaction(write=False):
        assert store.hot_get(("k",)) == "v"


def test_reads_that_find_nothing_change_nothing(store: Store) -> None:
    before = store.generation.read()
    with store.transaction() as conn:
        assert Store.get_setting(conn, "absent") is None
    assert store.generation.read() == before


def test_a_transaction_stops_using_the_cache_once_it_writes(store: Store) -> None:
    with store.transaction(write=False):
        store.hot_put(("k",), "v")
    with store.transaction() as conn:
        assert store.hot_get(("k",)) == "v"  # committed state, write lock held
        Store.put_setting(conn, "a", "1")
        assert store.hot_get(("k",)) is None
        store.hot_put(("k",), "uncommitted")
    with store.transaction(write=False):
        assert store.hot_get(("k",)) is None


def test_a_rolled_back_write_caches_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction(write=False) as conn:
        Store.put_setting(conn, "a", "1")  # a "read" transaction that writes
        store.hot_put(("k",), "v")
        raise RuntimeError("roll back")
    with store.transaction(write=False) as conn:
        assert store.hot_get(("k",)) is None
        assert Store.get_setting(conn, "a") is None


def test_an_odd_generation_bypasses_the_cache(store: Store) -> None:
    with store.transaction(write=False):
        store.hot_put(("k",), "v")
    word = store.generation._word
    word[0] += 1  # as a writer killed between its COMMIT and "even again" leaves it
    with store.transaction(write=False):
        assert store.hot_get(("k",)) is None
        store.hot_put(("k",), "v2")
    with store.transaction() as conn:  # the next writer moves it on, to even
        Store.put_setting(conn, "a", "1")
    assert store.generation.read() % 2 == 0
    with store.transaction(write=False):
        assert store.hot_get(("k",)) is None


def test_a_read_answered_from_the_cache_opens_no_sqlite_transaction(store: Store) -> None:
    with store.transaction(write=False) as conn:
        assert not conn.connection.driver_connection.in_transaction
        Store.get_setting(conn, "x")  # the first statement begins it
        assert conn.connection.driver_connection.in_transaction


def test_random_bytes_are_never_handed_out_twice() -> None:
    from strongroom.ids import random_bytes

    seen = {random_bytes(12) for _ in range(5000)}  # crosses many pool refills
    assert len(seen) == 5000
    assert len(random_bytes(64)) == 64 and len(random_bytes(1000)) == 1000


def test_a_forked_child_does_not_reuse_the_parents_pool() -> None:
    import os

    from strongroom.ids import random_bytes

    random_bytes(8)  # the pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, random_bytes(16))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 16)
    assert child != random_bytes(16)


def test_event_ids_are_time_ordered_uuids() -> None:
    import time
    import uuid

    from strongroom.ids import uuid7

    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert uuid.UUID(first).version == 7 and uuid.UUID(first).variant == uuid.RFC_4122
    assert first < second


def test_the_wal_file_is_cut_back_once_writes_pause(tmp_path, monkeypatch) -> None:
    import strongroom.store.db as db

    monkeypatch.setattr(db, "WAL_SIZE_LIMIT", 256 * 1024)
    store = Store(f"sqlite+pysqlite:///{tmp_path / 'cut.db'}")
    create_state_schema(store)
    wal = tmp_path / "cut.db-wal"
    try:
        with store.transaction() as conn:
            for i in range(600):
                Store.put_setting(conn, f"k{i}", "x" * 3000)
        assert wal.stat().st_size > 1_000_000
        store.start_checkpointer(interval=0.02)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and wal.stat().st_size > 256 * 1024:
            time.sleep(0.05)  # the writes pause: a checkpoint copies the whole WAL
            with store.transaction() as conn:  # the next writer starts the WAL over
                Store.put_setting(conn, "tick", str(time.monotonic()))
        assert wal.stat().st_size <= 256 * 1024
    finally:
        store.close()


def test_a_write_that_will_not_wait_is_told_the_store_is_busy(store: Store, tmp_path) -> None:
    import sqlite3

    from strongroom.audit.recorder import AuditRecorder
    from strongroom.store.db import StoreBusy

    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a TRUNCATE checkpoint or another process holds it
    started = time.monotonic()
    with pytest.raises(StoreBusy), store.transaction(wait=False):
        pass
    assert not store.try_lease("job", "me", 5, wait=False)
    recorder = AuditRecorder(store)
    recorder._pending.add(("id", "0", "r", 0.0, "E", "s", True, True, None, None, None, {}))
    assert recorder.flush() == 0 and recorder.pending == 1  # kept for later
    assert time.monotonic() - started < 1  # nothing slept in the busy handler
    other.execute("ROLLBACK")
    other.close()
    with store.transaction(wait=False) as conn:  # free again
        Store.put_setting(conn, "after", "1")
    assert recorder.flush(wait=True) == 1 and recorder.pending == 0


def test_a_write_takes_the_lock_soon_after_another_process_lets_it_go(store: Store, tmp_path):
    """Attempts half a millisecond apart, not SQLite's sleeps of up to 100 ms."""
    import sqlite3
    import threading

    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    released = []

    def release() -> None:
        time.sleep(0.35)  # SQLite's handler would try at 0.328 s, then 0.428 s
        released.append(time.monotonic())
        other.execute("ROLLBACK")

    thread = threading.Thread(target=release)
    thread.start()
    try:
        with store.transaction() as conn:
            took = time.monotonic()
            Store.put_setting(conn, "after", "1")
    finally:
        thread.join()
    # SQLite's own handler would take until 0.428 s; 0.1 s leaves a loaded
    # machine room and still tells the two apart.
    assert took - released[0] < 0.1
    from strongroom.store.db import StoreBusy

    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreBusy), store.transaction(wait=0.2):
        pass
    assert 0.2 <= time.monotonic() - started < 1.0  # a bounded wait ends when it said (not 10 s)
    other.execute("ROLLBACK")
    other.close()


def _in_worker(store: Store, work) -> object:
    """`work()` in another thread marked off the loop; its result or exception."""
    out: list[object] = []

    def run() -> None:
        try:
            with store.off_loop():
                out.append(work())
        except BaseException as exc:  # handed back to the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def test_a_worker_thread_has_its_own_connection_and_no_hot_cache(store: Store) -> None:
    with store.transaction(write=False) as loop_conn:
        store.hot_put(("k",), "v")

        def work() -> tuple[object, object, object]:
            seen = store.hot_get(("k",))
            with store.transaction() as conn:
                store.hot_put(("k",), "worker")  # ignored: not its cache
                Store.put_setting(conn, "from-worker", "1")
                return conn, seen, store.writing

        before = store.generation.read()
        worker_conn, seen, writing = _in_worker(store, work)
        assert worker_conn is not loop_conn
        assert seen is None and store.hot_get(("k",)) == "v"
        assert writing is False  # the loop's transaction state, untouched
        assert store.generation.read() == before + 2  # its commit moved the generation
    with store.transaction(write=False) as conn:
        assert store.hot_get(("k",)) is None  # so the loop's cache started over
        assert Store.get_setting(conn, "from-worker") == "1"


# -- values that depend on some tables only -----------------------------------

_extra = MetaData()
_parents = Table("hot_parents", _extra, Column("id", Integer, primary_key=True))
_children = Table(
    "hot_children",
    _extra,
    Column("id", Integer, primary_key=True),
    Column("parent", Integer, ForeignKey("hot_parents.id", ondelete="CASCADE")),
)
SETTINGS = HotTables(settings_table)
CHILDREN = HotTables(_children)


@pytest.fixture
def scoped(store: Store) -> Store:
    _extra.create_all(store.engine)
    return store


def _cached(store: Store, tables: HotTables, key: str = "k") -> object:
    with store.transaction(write=False):
        return store.hot_get((key,), tables)


def _cache(store: Store, tables: HotTables, value: str = "v", key: str = "k") -> None:
    with store.transaction(write=False):
        store.hot_put((key,), value, tables)


def test_a_scoped_value_survives_commits_to_other_tables(scoped: Store) -> None:
    _cache(scoped, SETTINGS)
    _cache(scoped, CHILDREN)
    with scoped.transaction(write=False):
        scoped.hot_put(("any",), "v")  # no tables: any commit drops it
    with scoped.transaction() as conn:
        conn.execute(insert(_parents).values(id=1))
    assert _cached(scoped, SETTINGS) == "v" and _cached(scoped, CHILDREN) == "v"
    with scoped.transaction(write=False):
        assert scoped.hot_get(("any",)) is None
    with scoped.transaction() as conn:
        Store.put_setting(conn, "a", "1")
    assert _cached(scoped, SETTINGS) is None
    assert _cached(scoped, CHILDREN) == "v"


def test_a_cascade_and_raw_sql_count_as_changes_to_their_tables(scoped: Store) -> None:
    with scoped.transaction() as conn:
        conn.execute(insert(_parents).values(id=1))
        conn.execute(insert(_children).values(id=10, parent=1))
    _cache(scoped, CHILDREN)
    with scoped.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM hot_parents WHERE id = 1")  # cascades to a child
    assert _cached(scoped, CHILDREN) is None
    _cache(scoped, SETTINGS)
    with scoped.transaction() as conn:
        conn.connection.driver_connection.execute(
            "INSERT INTO strongroom_settings VALUES ('raw', 'x')"
        )
    assert _cached(scoped, SETTINGS) is None


def test_another_process_commit_drops_the_scoped_values_it_touched(scoped: Store, tmp_path) -> None:
    other = _second(tmp_path)
    try:
        _cache(scoped, SETTINGS)
        _cache(scoped, CHILDREN)
        with other.transaction() as conn:
            Store.put_setting(conn, "from-other", "1")
        assert _cached(scoped, SETTINGS) is None
        assert _cached(scoped, CHILDREN) == "v"
    finally:
        other.close()


def test_a_table_without_triggers_yet_drops_every_scoped_value(scoped: Store) -> None:
    with scoped.transaction() as conn:  # the loop's connection watches the tables it saw
        conn.execute(insert(_parents).values(id=99))
    _cache(scoped, SETTINGS)
    late = Table("hot_late", MetaData(), Column("id", Integer, primary_key=True))
    with scoped.engine.connect() as c, c.begin():  # as another process would create it
        late.create(c)
    with scoped.transaction() as conn:
        conn.execute(insert(late).values(id=1))
    assert _cached(scoped, SETTINGS) is None  # not knowing what changed, "anything" moved
    _cache(scoped, SETTINGS)
    with scoped.transaction() as conn:  # and now the new table is watched too
        conn.execute(insert(late).values(id=2))
    assert _cached(scoped, SETTINGS) == "v"


def test_a_scoped_value_is_not_cached_from_uncommitted_state(scoped: Store) -> None:
    with scoped.transaction() as conn:
        Store.put_setting(conn, "a", "1")
        scoped.hot_put(("k",), "uncommitted", SETTINGS)
        assert scoped.hot_get(("k",), SETTINGS) is None
    assert _cached(scoped, SETTINGS) is None


def test_a_worker_read_transaction_takes_no_write_lock(store: Store) -> None:
    with store.transaction():  # the loop writes: `store.writing` is True

        def read() -> str | None:
            with store.transaction(write=False) as conn:  # a Core statement begins it
                return conn.execute(
                    select(settings_table.c.value).where(settings_table.c.name == "x")
                ).scalar()

        assert _in_worker(store, read) is None  # not stuck behind the loop's write lock


def test_a_worker_write_rolls_back_on_failure(store: Store) -> None:
    def fail() -> None:
        with store.transaction() as conn:
            Store.put_setting(conn, "doomed", "1")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        _in_worker(store, fail)
    with store.transaction(write=False) as conn:
        assert Store.get_setting(conn, "doomed") is None


def test_random_bytes_are_never_handed_out_twice_across_threads() -> None:
    from strongroom.ids import random_bytes

    seen: list[list[bytes]] = [[] for _ in range(4)]

    def draw(out: list[bytes]) -> None:
        for _ in range(5000):
            out.append(random_bytes(12))

    threads = [threading.Thread(target=draw, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drawn = [b for out in seen for b in out]
    assert len(set(drawn)) == len(drawn) == 20000
