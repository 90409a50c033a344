"""Secrets Manager rotation end to end: a real PostgreSQL password changes.

The rotation functions are the ones strongroom ships (`strongroom rotation
deploy`), running in Lambda execution environments (awslambdaric over the
Runtime API), calling back into Secrets Manager over HTTP with their role's
credentials, as AWS's rotation functions do.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from strongroom.functions import rotation_zip
from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer(time_travel=True) as srv:
        yield srv


def _admin(pg: Any) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password,
        dbname="postgres", autocommit=True,
    )  # fmt: skip


def _can_login(pg: Any, user: str, password: str) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=pg.port, user=user, password=password,
            dbname="postgres", connect_timeout=5,
        ) as conn:  # fmt: skip
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _db_user(pg: Any, password: str) -> str:
    name = "app_" + uuid.uuid4().hex[:8]
    with _admin(pg) as conn:
        conn.execute(f"CREATE ROLE {name} WITH LOGIN PASSWORD '{password}'")
    return name


def _secret_json(pg: Any, user: str, password: str, **more: Any) -> str:
    return json.dumps(
        {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": pg.port,
            "username": user,
            "password": password,
            "dbname": "postgres",
            **more,
        }
    )


def _deploy(server: StrongroomServer, name: str, strategy: str) -> str:
    """`strongroom rotation deploy`, as the docs show it."""
    out = subprocess.run(
        [sys.executable, "-m", "strongroom", "rotation", "deploy",
         "--function-name", name, "--strategy", strategy],
        env={**os.environ, **server.aws_env()}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    arn = out.stdout.strip().splitlines()[-1]
    assert arn.startswith("arn:aws:lambda:us-east-1:") and arn.endswith(f":function:{name}")
    return arn


@pytest.fixture(scope="module")
def single_arn(server: StrongroomServer) -> str:
    return _deploy(server, "rotate-pg-single", "single-user")


@pytest.fixture(scope="module")
def alternating_arn(server: StrongroomServer) -> str:
    return _deploy(server, "rotate-pg-alternating", "alternating-users")


def _stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})


def _version_with(stages: dict[str, list[str]], label: str) -> str | None:
    return next((v for v, labels in stages.items() if label in labels), None)


def _wait_rotated(sm: Any, secret_id: str, old_current: str, timeout: float = 90) -> str:
    """The new AWSCURRENT version, once the rotation has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stages = _stages(sm, secret_id)
        current = _version_with(stages, "AWSCURRENT")
        if current != old_current and _version_with(stages, "AWSPENDING") is None:
            return current  # type: ignore[return-value]
        time.sleep(0.2)
    raise AssertionError(f"rotation did not finish: {_stages(sm, secret_id)}")


def _wait_failed(server: StrongroomServer, secret_arn: str, timeout: float = 90) -> dict:
    """The RotationFailed service event of the secret."""
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "RotationFailed"}]
        )["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            if secret_arn in json.dumps(record.get("additionalEventData", {})) or any(
                r.get("ResourceName") == secret_arn for r in event.get("Resources", [])
            ):
                return record
        time.sleep(0.3)
    raise AssertionError("no RotationFailed event")


def _custom_function(server: StrongroomServer, name: str, fail_at: str) -> str:
    """The alternating-users function, wrapped to fail at one step (an
    AWS-style zip bundling its driver, and a module of its own besides), with
    the deployed function's role and Secrets Manager's permission."""
    package = io.BytesIO(rotation_zip("alternating-users"))
    out = io.BytesIO()
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(
                "real_function.py" if item.filename == "lambda_function.py" else item, data
            )
        dst.writestr(
            "lambda_function.py",
            "import real_function\n"
            "def lambda_handler(event, context):\n"
            f"    if event['Step'] == {fail_at!r}:\n"
            f"        raise RuntimeError('refusing {fail_at}')\n"
            "    return real_function.lambda_handler(event, context)\n",
        )
    iam, lam = server.client("iam"), server.client("lambda")
    role = iam.get_role(RoleName="rotate-pg-alternating-role")["Role"]["Arn"]
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Timeout=30,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": out.getvalue()},
    )["FunctionArn"]  # fmt: skip
    lam.add_permission(
        FunctionName=name, StatementId="sm", Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


def test_single_user_rotation_from_the_cli(
    server: StrongroomServer, postgres: Any, single_arn: str
) -> None:
    old = "Old-pass-" + uuid.uuid4().hex[:8]
    user = _db_user(postgres, old)
    env = {**os.environ, **server.aws_env()}

    def aws(*args: str) -> dict:
        out = subprocess.run(
            ["aws", "secretsmanager", *args, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout or "{}")

    created = aws(
        "create-secret", "--name", f"prod/{user}/db",
        "--secret-string", _secret_json(postgres, user, old),
    )  # fmt: skip
    first = created["VersionId"]
    rotated = aws(
        "rotate-secret", "--secret-id", f"prod/{user}/db",
        "--rotation-lambda-arn", single_arn,
        "--rotation-rules", "AutomaticallyAfterDays=30",
    )  # fmt: skip
    assert rotated["ARN"] == created["ARN"]
    sm = server.client("secretsmanager")
    current = _wait_rotated(sm, created["ARN"], first)
    assert current == rotated["VersionId"]
    stages = _stages(sm, created["ARN"])
    assert stages[first] == ["AWSPREVIOUS"]
    new = json.loads(sm.get_secret_value(SecretId=created["ARN"])["SecretString"])
    assert new["username"] == user and new["password"] != old
    assert _can_login(postgres, user, new["password"])
    assert not _can_login(postgres, user, old)

    described = sm.describe_secret(SecretId=created["ARN"])
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == single_arn
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "LastRotatedDate" in described
    next_in = described["NextRotationDate"] - described["LastRotatedDate"]
    assert 29 <= next_in.total_seconds() / 86400 <= 31

    # Back to back: a second rotation starts from the new password.
    again = sm.rotate_secret(SecretId=created["ARN"])
    latest = _wait_rotated(sm, created["ARN"], current)
    assert latest == again["VersionId"]
    assert _stages(sm, created["ARN"])[current] == ["AWSPREVIOUS"]
    newest = json.loads(sm.get_secret_value(SecretId=created["ARN"])["SecretString"])
    assert _can_login(postgres, user, newest["password"])
    assert not _can_login(postgres, user, new["password"])

    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": created["ARN"]}]
    )["Events"]
    names = {e["EventName"] for e in events}
    assert {"RotateSecret", "RotationStarted", "RotationSucceeded"} <= names
    # The function's own calls are recorded as its role's.
    by_function = [
        json.loads(e["CloudTrailEvent"])["userIdentity"]
        for e in events
        if e["EventName"] in ("PutSecretValue", "UpdateSecretVersionStage")
    ]
    assert by_function and all(
        who["type"] == "AssumedRole" and ":assumed-role/rotate-pg-single-role/" in who["arn"]
        for who in by_function
    )


def test_alternating_users_keep_the_old_credentials_working(
    server: StrongroomServer, postgres: Any, alternating_arn: str
) -> None:
    sm = server.client("secretsmanager")
    master = sm.create_secret(
        Name=f"master-{uuid.uuid4().hex[:6]}",
        SecretString=_secret_json(postgres, postgres.user, postgres.password),
    )["ARN"]
    old = "Old-pass-" + uuid.uuid4().hex[:8]
    user = _db_user(postgres, old)
    secret = sm.create_secret(
        Name=f"alt/{user}", SecretString=_secret_json(postgres, user, old, masterarn=master)
    )
    sm.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=alternating_arn,
        RotationRules={"AutomaticallyAfterDays": 7},
    )
    current = _wait_rotated(sm, secret["ARN"], secret["VersionId"])
    value = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert value["username"] == f"{user}_clone"
    assert _can_login(postgres, f"{user}_clone", value["password"])
    assert _can_login(postgres, user, old)  # the previous user still works

    # The next rotation goes back to the first user, with a new password.
    sm.rotate_secret(SecretId=secret["ARN"])
    _wait_rotated(sm, secret["ARN"], current)
    back = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert back["username"] == user and back["password"] != old
    assert _can_login(postgres, user, back["password"])
    assert not _can_login(postgres, user, old)
    assert _can_login(postgres, f"{user}_clone", value["password"])


def test_a_failing_test_step_leaves_the_current_password(
    server: StrongroomServer, postgres: Any, alternating_arn: str
) -> None:
    sm = server.client("secretsmanager")
    failing = _custom_function(server, f"rotate-fails-{uuid.uuid4().hex[:6]}", "testSecret")
    master = sm.create_secret(
        Name=f"master-{uuid.uuid4().hex[:6]}",
        SecretString=_secret_json(postgres, postgres.user, postgres.password),
    )["ARN"]
    old = "Old-pass-" + uuid.uuid4().hex[:8]
    user = _db_user(postgres, old)
    secret = sm.create_secret(
        Name=f"fails/{user}", SecretString=_secret_json(postgres, user, old, masterarn=master)
    )
    sm.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=failing,
        RotationRules={"AutomaticallyAfterDays": 7},
    )
    _wait_failed(server, secret["ARN"])
    stages = _stages(sm, secret["ARN"])
    assert _version_with(stages, "AWSCURRENT") == secret["VersionId"]
    pending = _version_with(stages, "AWSPENDING")
    assert pending is not None and pending != secret["VersionId"]  # kept for the retry
    value = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert value["password"] == old
    assert _can_login(postgres, user, old)

    # A new rotation is refused while that one is unfinished.
    with pytest.raises(ClientError) as err:
        sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=alternating_arn)
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


def test_a_pending_version_has_no_value_until_create_secret_puts_one(
    server: StrongroomServer, postgres: Any
) -> None:
    sm = server.client("secretsmanager")
    try:
        server.client("iam").get_role(RoleName="rotate-pg-alternating-role")
    except ClientError:
        _deploy(server, "rotate-pg-alternating", "alternating-users")
    failing = _custom_function(server, f"rotate-nocreate-{uuid.uuid4().hex[:6]}", "createSecret")
    user = _db_user(postgres, "x-pass-1")
    secret = sm.create_secret(
        Name=f"nocreate/{user}", SecretString=_secret_json(postgres, user, "x-pass-1")
    )
    rotated = sm.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=failing,
        RotationRules={"AutomaticallyAfterDays": 7},
    )
    _wait_failed(server, secret["ARN"])
    assert _version_with(_stages(sm, secret["ARN"]), "AWSPENDING") == rotated["VersionId"]
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=secret["ARN"], VersionStage="AWSPENDING")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_function_must_let_secrets_manager_invoke_it(
    server: StrongroomServer, postgres: Any, single_arn: str
) -> None:
    lam = server.client("lambda")
    name = f"no-permission-{uuid.uuid4().hex[:6]}"
    role = server.client("iam").get_role(RoleName="rotate-pg-single-role")["Role"]["Arn"]
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": rotation_zip("single-user")},
    )["FunctionArn"]  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    sm = server.client("secretsmanager")
    user = _db_user(postgres, "y-pass-1")
    secret = sm.create_secret(
        Name=f"noperm/{user}", SecretString=_secret_json(postgres, user, "y-pass-1")
    )
    with pytest.raises(ClientError) as err:
        sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=arn)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "secretsmanager.amazonaws.com" in err.value.response["Error"]["Message"]
    assert _can_login(postgres, user, "y-pass-1")


def test_scheduled_rotation_runs_when_the_clock_passes_it(
    server: StrongroomServer, postgres: Any, single_arn: str
) -> None:
    sm = server.client("secretsmanager")
    user = _db_user(postgres, "z-pass-1")
    secret = sm.create_secret(
        Name=f"sched/{user}", SecretString=_secret_json(postgres, user, "z-pass-1")
    )
    sm.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=single_arn,
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    time.sleep(1.5)  # nothing happens before the date
    assert _version_with(_stages(sm, secret["ARN"]), "AWSCURRENT") == secret["VersionId"]
    assert _can_login(postgres, user, "z-pass-1")
    server.advance_clock("31d")
    _wait_rotated(sm, secret["ARN"], secret["VersionId"])
    value = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert _can_login(postgres, user, value["password"])
    assert not _can_login(postgres, user, "z-pass-1")
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["NextRotationDate"] > described["LastRotatedDate"]


def test_the_caching_client_reads_through_a_rotation(
    server: StrongroomServer, postgres: Any, single_arn: str
) -> None:
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    sm = server.client("secretsmanager")
    user = _db_user(postgres, "c-pass-1")
    secret = sm.create_secret(
        Name=f"cached/{user}", SecretString=_secret_json(postgres, user, "c-pass-1")
    )
    cache = SecretCache(config=SecretCacheConfig(secret_refresh_interval=1), client=sm)
    assert json.loads(cache.get_secret_string(secret["ARN"]))["password"] == "c-pass-1"
    sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=single_arn)
    _wait_rotated(sm, secret["ARN"], secret["VersionId"])
    time.sleep(1.5)
    password = json.loads(cache.get_secret_string(secret["ARN"]))["password"]
    assert password != "c-pass-1"
    assert _can_login(postgres, user, password)


def test_rotated_passwords_are_nowhere_in_clear(
    server: StrongroomServer, postgres: Any, single_arn: str
) -> None:
    """The new password (GetRandomPassword's, put by the function) is in no
    file of the data dir (store, WAL, function logs), the server log or the
    trail. Last in the module: it stops and restarts the server."""
    sm = server.client("secretsmanager")
    user = _db_user(postgres, "s-pass-1")
    secret = sm.create_secret(
        Name=f"secrecy/{user}", SecretString=_secret_json(postgres, user, "s-pass-1")
    )
    sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=single_arn)
    _wait_rotated(sm, secret["ARN"], secret["VersionId"])
    password = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])["password"]
    assert _can_login(postgres, user, password)
    time.sleep(1.5)  # the audit queue is written
    trail = server.client("cloudtrail")
    pages = trail.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 50})
    events = json.dumps([e for p in pages for e in p["Events"]], default=str)
    assert secret["ARN"] in events
    server.stop()
    try:
        files = b"".join(p.read_bytes() for p in sorted(server.data_dir.rglob("*")) if p.is_file())
        assert secret["Name"].encode() in files  # the scan sees what is in clear
        for where, text in (
            ("files", files), ("log", server.read_log().encode()), ("trail", events.encode()),
        ):  # fmt: skip
            assert password.encode() not in text, f"the rotated password is in the {where}"
    finally:
        server.start()
