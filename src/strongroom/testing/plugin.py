"""pytest plugin: real strongroom servers for your tests.

Installed with strongroom (entry point `pytest11`), so these fixtures are there
in any test suite:

- ``strongroom_server``: one server per test module (sigv4 auth, a temporary
  data dir); ``.endpoint``, ``.access_key_id``, ``.secret_access_key``,
  ``.client("kms")``, ``.session()``, ``.aws_env()``.
- ``strongroom_client``: ``strongroom_client("sts")`` → a boto3 client on it.
- ``strongroom_factory``: start your own servers (``auth="permissive"``,
  ``time_travel=True``, …); they are stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strongroom.testing.server import StrongroomServer


@pytest.fixture(scope="module")
def strongroom_server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as server:
        yield server


@pytest.fixture
def strongroom_client(strongroom_server: StrongroomServer) -> Callable[..., Any]:
    return strongroom_server.client


@pytest.fixture
def strongroom_factory() -> Iterator[Callable[..., StrongroomServer]]:
    started: list[StrongroomServer] = []

    def start(**kwargs: Any) -> StrongroomServer:
        server = StrongroomServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
