"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strongroom.auth.principal import Principal, root_principal
from strongroom.framework import Call, Service
from strongroom.server.schema import create_state_schema
from strongroom.store.db import Store


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh SQLite state store with its schema, in a temporary directory."""
    s = Store(f"sqlite+pysqlite:///{tmp_path / 'state.db'}")
    create_state_schema(s)
    yield s
    s.close()


@pytest.fixture(scope="session")
def internal_call() -> Callable[..., Call]:
    """Make a `Call` on an in-process App's transaction, as a service's
    internal API receives it: ``internal_call(app, conn, principal=None,
    service=None)`` (the principal defaults to account 000000000000's root;
    `service` is the calling service, e.g. ``"rds"``, by default the first
    served)."""

    def make(
        app: Any, conn: Any, principal: Principal | None = None, service: str | None = None
    ) -> Call:
        principal = principal or root_principal("000000000000")
        caller = app.services[0] if service is None else _caller(app, service)
        return Call(
            runtime=app.runtime,
            service=caller,
            operation="Internal",
            request_id="r",
            account=principal.account or "000000000000",
            region="us-east-1",
            principal=principal,
            source_ip="127.0.0.1",
            user_agent="test",
            secure=False,
            conn=conn,
        )

    return make


def _caller(app: Any, name: str) -> Service:
    """A served service by name, or a bare one of that model (a service that
    is not served yet, standing in as the caller of an internal API)."""
    return app.services_by_name.get(name) or Service(name)
