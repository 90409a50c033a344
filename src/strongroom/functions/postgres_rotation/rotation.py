"""The four steps of a Secrets Manager rotation for PostgreSQL, shared by the
single-user and alternating-users functions.

Secrets Manager invokes the function once per step with
``{"Step", "SecretId", "ClientRequestToken", "RotationToken"}``:

- ``createSecret`` puts the next credentials as the version named by the
  token, staged AWSPENDING (a new password; for alternating users, the other
  user's name too);
- ``setSecret`` makes the database accept them;
- ``testSecret`` logs in with them;
- ``finishSecret`` moves AWSCURRENT to the pending version (Secrets Manager
  then stages the old one AWSPREVIOUS).

A step may be retried after a failure, so each one first checks whether its
work is already done. The secret is the JSON structure AWS defines for
PostgreSQL: engine, host, port, username, password, dbname (and masterarn
for alternating users). The function reaches Secrets Manager at
``SECRETS_MANAGER_ENDPOINT`` when it is set, as AWS's own rotation functions
do, else wherever boto3 points (``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import boto3
import psycopg
from psycopg import sql

logger = logging.getLogger()
logger.setLevel(logging.INFO)

REQUIRED_FIELDS = ("host", "username", "password")
#: Characters left out of generated passwords: they break connection strings.
DEFAULT_EXCLUDE = ":/@\"'\\"

SetSecret = Callable[[Any, str, str], None]
CreatePending = Callable[[Any, str, str, dict[str, Any]], dict[str, Any]]


def secrets_client() -> Any:
    endpoint = os.environ.get("SECRETS_MANAGER_ENDPOINT")
    if endpoint:
        return boto3.client("secretsmanager", endpoint_url=endpoint)
    return boto3.client("secretsmanager")


def run_step(event: dict[str, Any], create_pending: CreatePending, set_secret: SetSecret) -> None:
    """Check that the token names a version this rotation may work on, then
    run the event's step."""
    arn = event["SecretId"]
    token = event["ClientRequestToken"]
    step = event["Step"]
    client = secrets_client()
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in versions[token]:
        logger.info("Secret version %s already set as AWSCURRENT for secret %s.", token, arn)
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(
            f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}."
        )
    if step == "createSecret":
        create_secret(client, arn, token, create_pending)
    elif step == "setSecret":
        set_secret(client, arn, token)
    elif step == "testSecret":
        test_secret(client, arn, token)
    elif step == "finishSecret":
        finish_secret(client, arn, token)
    else:
        raise ValueError(f"Invalid step parameter {step}")


def get_secret_dict(client: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    """The secret's JSON at `stage` (and version `token`), checked for the
    fields a PostgreSQL connection needs."""
    if token:
        value = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=stage)
    else:
        value = client.get_secret_value(SecretId=arn, VersionStage=stage)
    secret = json.loads(value["SecretString"])
    for field in REQUIRED_FIELDS:
        if field not in secret:
            raise KeyError(f"{field} key is missing from secret JSON")
    if secret.get("engine", "postgres") != "postgres":
        raise KeyError("Database engine must be set to 'postgres' in order to use this rotation")
    return secret


def create_secret(client: Any, arn: str, token: str, create_pending: CreatePending) -> None:
    """Put the next credentials as AWSPENDING, unless a retry finds them there."""
    current = get_secret_dict(client, arn, "AWSCURRENT")
    try:
        get_secret_dict(client, arn, "AWSPENDING", token)
        logger.info("createSecret: Successfully retrieved secret for %s.", arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    exclude = os.environ.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDE)
    password = client.get_random_password(ExcludeCharacters=exclude)["RandomPassword"]
    pending = create_pending(client, arn, password, current)
    client.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(pending),
        VersionStages=["AWSPENDING"],
    )
    logger.info("createSecret: Successfully put secret for ARN %s and version %s.", arn, token)


def test_secret(client: Any, arn: str, token: str) -> None:
    pending = get_secret_dict(client, arn, "AWSPENDING", token)
    conn = connect(pending)
    if conn is None:
        raise ValueError(f"Unable to log into database with pending secret of secret ARN {arn}")
    with conn:
        conn.execute("SELECT NOW()")
    logger.info(
        "testSecret: Successfully signed into PostgreSQL DB with AWSPENDING secret in %s.", arn
    )


def finish_secret(client: Any, arn: str, token: str) -> None:
    """Stage AWSCURRENT on the pending version (taking it from the current one)."""
    metadata = client.describe_secret(SecretId=arn)
    current_version = None
    for version, stages in metadata["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            if version == token:
                logger.info(
                    "finishSecret: Version %s already marked as AWSCURRENT for %s", version, arn
                )
                return
            current_version = version
            break
    client.update_secret_version_stage(
        SecretId=arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        RemoveFromVersionId=current_version,
    )
    logger.info(
        "finishSecret: Successfully set AWSCURRENT stage to version %s for secret %s.", token, arn
    )


def connect(secret: dict[str, Any]) -> psycopg.Connection | None:
    """A connection as the secret's user, or None when the database refuses
    the credentials (a wrong password is an answer here, not an error)."""
    try:
        return psycopg.connect(
            host=secret["host"],
            port=int(secret.get("port", 5432)),
            user=secret["username"],
            password=secret["password"],
            dbname=secret.get("dbname", "postgres"),
            connect_timeout=5,
            autocommit=True,
        )
    except psycopg.OperationalError:
        return None


def set_password(conn: psycopg.Connection, username: str, password: str) -> None:
    """ALTER ROLE ... PASSWORD, quoted by the driver (a utility statement takes
    no bind parameters, so the password is a quoted literal)."""
    conn.execute(
        sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
            sql.Identifier(username), sql.Literal(password)
        )
    )
