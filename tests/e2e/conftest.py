from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Iterator[StrongroomServer]:
    """One real server per module, once on each state store."""
    store_url = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        store_url = pg.create_database("s" + uuid.uuid4().hex[:12])
    with StrongroomServer(store_url=store_url) as srv:
        yield srv
