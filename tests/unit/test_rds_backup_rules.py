"""The rules behind RDS's automated backups (services/rds/backups.py) and the
clock's mapping of its times back to the wall clock (store/clock.py), with
an injected store and no server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from strongroom.services.rds import backups
from strongroom.store.clock import Clock
from strongroom.store.db import Store


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_latest_window_start() -> None:
    assert backups.window_start("03:00-03:30", ts("2026-12-07 10:00")) == ts("2026-12-07 03:00")
    assert backups.window_start("03:00-03:30", ts("2026-12-07 02:59")) == ts("2026-12-06 03:00")
    assert backups.window_start("23:45-00:15", ts("2026-12-07 23:50")) == ts("2026-12-07 23:45")


def test_a_snapshot_is_due_once_a_window_has_begun_since_the_last() -> None:
    window = "03:00-03:30"
    created = ts("2026-12-07 23:10")
    assert backups.snapshot_due(window, created, None)  # the first, right after creation
    assert not backups.snapshot_due(window, ts("2026-12-08 02:59"), created)
    assert backups.snapshot_due(window, ts("2026-12-08 03:00"), created)
    # a window the clock jumped over is caught up at once
    assert backups.snapshot_due(window, ts("2026-12-09 23:00"), created)


def test_identifiers_and_points() -> None:
    assert backups.snapshot_identifier("shop", ts("2026-12-07 03:04:59")) == (
        "rds:shop-2026-12-07-03-04"
    )
    assert backups.restorable_point(100.0) == 99.999
    assert backups.earliest_point(100.0004) == pytest.approx(100.002)


def test_wall_time_through_the_clock_jumps(store: Store) -> None:
    clock = Clock(time_travel=True)
    with store.transaction() as conn:
        start_wall = time.time()
        assert clock.wall_time(conn, start_wall) == pytest.approx(start_wall, abs=0.01)
        clock.advance(conn, 3600)
        jump_wall = time.time()
        clock.advance(conn, 86400)
        # before the first jump: offset 0
        assert clock.wall_time(conn, start_wall - 10) == pytest.approx(start_wall - 10)
        # a time the clock jumped over maps to the jump
        assert clock.wall_time(conn, jump_wall + 7200) == pytest.approx(jump_wall, abs=0.05)
        # after the jumps: the offset since
        now = clock.timestamp()
        assert clock.wall_time(conn, now) == pytest.approx(now - 90000, abs=0.01)


def test_without_time_travel_the_times_are_the_wall_clock(store: Store) -> None:
    with store.transaction() as conn:
        assert Clock().wall_time(conn, 1234.5) == 1234.5
