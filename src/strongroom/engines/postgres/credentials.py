"""A role's password set from its SCRAM verifier: how an Aurora cluster's
master user reaches a writer created after the cluster (the cluster keeps
only the verifier PostgreSQL itself would keep, never the password)."""

from __future__ import annotations

from psycopg import sql

from strongroom.engines.driver import EngineError, Instance
from strongroom.engines.postgres.engine import PostgresEngine

_PREFIX = "SCRAM-SHA-256$"


def set_verifier(engine: PostgresEngine, instance: Instance, user: str, verifier: str) -> None:
    """PostgreSQL stores a password string already in SCRAM form as it is."""
    if not verifier.startswith(_PREFIX):
        raise EngineError("not a SCRAM-SHA-256 verifier")
    engine._check_role(user)
    with engine._admin(instance) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
            raise EngineError(f"no such user {user!r}")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(verifier))
        )
