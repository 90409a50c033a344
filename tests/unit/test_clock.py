from __future__ import annotations

import pytest

from strongroom.server.schema import create_state_schema
from strongroom.store.clock import Clock, parse_duration
from strongroom.store.db import Store


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("8d", 8 * 86400), ("36h", 36 * 3600), ("90m", 5400), ("1w2d", 9 * 86400), ("30", 30),
     ("1.5h", 5400)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "8x", "3d4"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_offset_is_shared_through_the_store(tmp_path) -> None:
    store = Store(f"sqlite+pysqlite:///{tmp_path / 's.db'}")
    create_state_schema(store)
    a, b = Clock(time_travel=True), Clock(time_travel=True)
    with store.transaction() as conn:
        a.advance(conn, 86400)
    with store.transaction(write=False) as conn:
        b.refresh(conn)
    assert b.offset == 86400
    assert b.timestamp() - a.timestamp() < 1
    with store.transaction() as conn, pytest.raises(ValueError):
        a.advance(conn, -1)
    store.close()


def test_wall_clock_cannot_move(tmp_path) -> None:
    store = Store(f"sqlite+pysqlite:///{tmp_path / 's.db'}")
    create_state_schema(store)
    with store.transaction() as conn, pytest.raises(RuntimeError):
        Clock().advance(conn, 10)
    store.close()
