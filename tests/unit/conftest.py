"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strongroom.store.db import Store


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh SQLite state store with its schema, in a temporary directory."""
    s = Store(f"sqlite+pysqlite:///{tmp_path / 'state.db'}")
    s.create_schema()
    yield s
    s.close()
