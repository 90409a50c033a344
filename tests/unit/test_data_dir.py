"""The data dir is 0700 and every file in it 0600 — SQLite's -wal and -shm
included — whether the server creates it or finds an older, looser one."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.store.db import Store
from strongroom.store.files import prepare_data_dir, private_dir


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """The common umask, under which a plain open or mkdir is world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(data_dir: Path) -> dict[str, int]:
    return {p.name: _mode(p) for p in data_dir.iterdir()}


def _started_app(data_dir: Path) -> App:
    """An App as `strongroom serve` starts it, having written once."""
    config = Config(data_dir=data_dir)
    prepare(config)
    app = App(config)
    with app.store.transaction() as conn:
        Store.put_setting(conn, "touched", "1")
    return app


def test_a_new_data_dir_and_every_file_in_it_are_private(tmp_path) -> None:
    data_dir = tmp_path / "new" / "data"
    app = _started_app(data_dir)
    try:
        modes = _modes(data_dir)  # while it runs: SQLite's -wal and -shm are there
    finally:
        app.shutdown()
    assert _mode(data_dir) == 0o700
    expected = {
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "state.db-generation",
        "root.key",
        "root-credentials",
    }
    assert expected <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}


def test_an_older_looser_data_dir_is_tightened_and_says_so(tmp_path, caplog) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    database = sqlite3.connect(data_dir / "state.db")  # as an older strongroom left it
    database.execute("PRAGMA journal_mode=WAL")
    database.close()
    (data_dir / "blobs").mkdir(mode=0o755)
    assert _mode(data_dir) == 0o755 and _mode(data_dir / "state.db") == 0o644
    with caplog.at_level(logging.WARNING, logger="strongroom.store"):
        app = _started_app(data_dir)
    try:
        modes = _modes(data_dir)
    finally:
        app.shutdown()
    assert _mode(data_dir) == 0o700
    assert modes.pop("blobs") == 0o700
    assert set(modes.values()) == {0o600}, modes
    assert [r.getMessage() for r in caplog.records] == [
        f"the data dir {data_dir} was mode 0755; made it 0700"
    ]


def test_a_dir_made_moments_ago_by_someone_else_is_tightened_quietly(tmp_path, caplog) -> None:
    (tmp_path / "d").mkdir()  # empty, 0755: as `serve` makes it before the App starts
    with caplog.at_level(logging.WARNING, logger="strongroom.store"):
        prepare_data_dir(tmp_path / "d")
    assert _mode(tmp_path / "d") == 0o700 and not caplog.records


def test_tightening_leaves_other_files_stricter_modes_and_links_alone(tmp_path) -> None:
    data_dir = prepare_data_dir(tmp_path / "d")
    (data_dir / "root.key").write_text("x")
    os.chmod(data_dir / "root.key", 0o400)
    (data_dir / "notes.txt").write_text("the user's, not strongroom's")
    outside = tmp_path / "outside"
    outside.write_text("not ours to change")
    os.chmod(outside, 0o644)
    (data_dir / "server.log").symlink_to(outside)
    prepare_data_dir(data_dir)
    assert _mode(data_dir / "root.key") == 0o400
    assert _mode(data_dir / "notes.txt") == 0o644
    assert _mode(outside) == 0o644
    assert _mode(private_dir(data_dir / "blobs" / "objects")) == 0o700
