"""The state store's SQLite specifics: driver-level transactions and the
checkpointer that keeps WAL checkpoints off the request path."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, select

from strongroom.store.db import Store, settings_table


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite+pysqlite:///{tmp_path / 'state.db'}")
    s.create_schema()
    yield s
    s.close()


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
