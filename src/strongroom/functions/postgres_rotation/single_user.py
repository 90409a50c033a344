"""Secrets Manager rotation for PostgreSQL, single user: the user changes its
own password.

While the password changes there is a moment when the old one no longer
works and clients holding it fail to connect until they read the new
AWSCURRENT; alternating users avoid that.
"""

from __future__ import annotations

from typing import Any

from rotation import connect, get_secret_dict, logger, run_step, set_password


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    run_step(event, create_pending, set_secret)


def create_pending(client: Any, arn: str, password: str, current: dict[str, Any]) -> dict[str, Any]:
    return {**current, "password": password}


def set_secret(client: Any, arn: str, token: str) -> None:
    """Log in with the pending, current or previous password (the first that
    works: a retry finds the pending one set already) and set the pending one."""
    pending = get_secret_dict(client, arn, "AWSPENDING", token)
    conn = connect(pending)
    if conn is not None:
        conn.close()
        logger.info(
            "setSecret: AWSPENDING secret is already set as password in PostgreSQL DB for secret arn %s.",
            arn,
        )
        return
    current = get_secret_dict(client, arn, "AWSCURRENT")
    if current["username"] != pending["username"]:
        raise ValueError(
            f"Attempting to modify user {pending['username']} other than current user {current['username']}"
        )
    if current["host"] != pending["host"]:
        raise ValueError(
            f"Attempting to modify user for host {pending['host']} other than current host {current['host']}"
        )
    conn = connect(current)
    if conn is None:
        try:
            previous = get_secret_dict(client, arn, "AWSPREVIOUS")
        except client.exceptions.ResourceNotFoundException:
            previous = None
        conn = connect(previous) if previous is not None else None
    if conn is None:
        raise ValueError(
            f"Unable to log into database with previous, current, or pending secret of secret arn {arn}"
        )
    with conn:
        set_password(conn, pending["username"], pending["password"])
    logger.info(
        "setSecret: Successfully set password for user %s in PostgreSQL DB for secret arn %s.",
        pending["username"],
        arn,
    )
