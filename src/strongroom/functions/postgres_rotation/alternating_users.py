"""Secrets Manager rotation for PostgreSQL, alternating users: each rotation
sets a new password on the *other* of two users (``app`` and ``app_clone``)
and then makes it current, so the credentials clients hold keep working
until the rotation after next.

The secret names a superuser secret in ``masterarn``; with its credentials
the function creates the clone the first time (a login role that is a member
of every role the original is a member of, so it has the same privileges)
and sets passwords. The superuser secret is read with the function's own
role, which needs ``secretsmanager:GetSecretValue`` on it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from rotation import connect, get_secret_dict, logger, run_step, set_password

SUFFIX = "_clone"
#: PostgreSQL cuts identifiers at 63 bytes.
MAX_NAME = 63


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    run_step(event, create_pending, set_secret)


def other_user(username: str) -> str:
    if username.endswith(SUFFIX):
        return username[: -len(SUFFIX)]
    if len(username) + len(SUFFIX) > MAX_NAME:
        raise ValueError(
            f"Unable to clone user, username length with {SUFFIX} appended would exceed {MAX_NAME} characters"
        )
    return username + SUFFIX


def create_pending(client: Any, arn: str, password: str, current: dict[str, Any]) -> dict[str, Any]:
    if "masterarn" not in current:
        raise KeyError("masterarn key is missing from secret JSON")
    return {**current, "username": other_user(current["username"]), "password": password}


def set_secret(client: Any, arn: str, token: str) -> None:
    """As the superuser: create the pending user if it is new, with the
    current user's memberships, then set its password."""
    current = get_secret_dict(client, arn, "AWSCURRENT")
    pending = get_secret_dict(client, arn, "AWSPENDING", token)
    if current["host"] != pending["host"]:
        raise ValueError(
            f"Attempting to modify user for host {pending['host']} other than current host {current['host']}"
        )
    conn = connect(pending)
    if conn is not None:
        conn.close()
        logger.info(
            "setSecret: AWSPENDING secret is already set as password in PostgreSQL DB for secret arn %s.",
            arn,
        )
        return
    master_arn = current["masterarn"]
    master = get_secret_dict(client, master_arn, "AWSCURRENT")
    if master["host"] != current["host"]:
        raise ValueError(
            f"Master database host {master['host']} is not the same host as current {current['host']}"
        )
    conn = connect({**master, "dbname": current.get("dbname", master.get("dbname", "postgres"))})
    if conn is None:
        raise ValueError(
            f"Unable to log into database using credentials in master secret {master_arn}"
        )
    with conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (pending["username"],)
        ).fetchone()
        if exists is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(pending["username"]), sql.Literal(pending["password"])
                )
            )
            grant_memberships(conn, current["username"], pending["username"])
        else:
            set_password(conn, pending["username"], pending["password"])
    logger.info(
        "setSecret: Successfully set password for %s in PostgreSQL DB for secret arn %s.",
        pending["username"],
        arn,
    )


def grant_memberships(conn: Any, source: str, target: str) -> None:
    """Make `target` a member of every role `source` is a member of, and of
    `source` itself, so it holds the same privileges."""
    rows = conn.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        (source,),
    ).fetchall()
    for role in [source, *(row[0] for row in rows)]:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(target)))
