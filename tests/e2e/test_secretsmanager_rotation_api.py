"""RotateSecret and CancelRotateSecret as an API: what they refuse and what
they record, with functions that rotate nothing (the PostgreSQL rotations
are tests/e2e/test_rotation.py). The forged-signature, unauthorized and
cross-account refusals of both operations are in test_secretsmanager_authz.py."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
import pytest
from lambda_helpers import create, handler_zip, role

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)
OWNER = "000000000000"
FAILS = "def lambda_handler(event, context):\n    raise RuntimeError('no ' + event['Step'])\n"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer(time_travel=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def sm(server: StrongroomServer) -> Any:
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def failing(server: StrongroomServer) -> str:
    """A function Secrets Manager may invoke, which fails every step."""
    lam = server.client("lambda")
    arn = create(lam, role(server.client("iam")), code=handler_zip(FAILS))["FunctionArn"]
    lam.add_permission(
        FunctionName=arn, StatementId="sm", Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
    )  # fmt: skip
    return arn


def fails(fn: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def new_secret(sm: Any) -> dict[str, str]:
    return sm.create_secret(Name=f"rot/{uuid.uuid4().hex[:8]}", SecretString="v")


def service_event(server: StrongroomServer, arn: str, name: str, timeout: float = 60) -> dict:
    """The CloudTrail record of the secret's service event `name`, once there."""
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )["Events"]:
            if event["EventName"] == name:
                return json.loads(event["CloudTrailEvent"])
        time.sleep(0.3)
    raise AssertionError(f"no {name} for {arn}")


def stages(sm: Any, arn: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {})


def test_a_function_is_needed(sm: Any) -> None:
    secret = new_secret(sm)
    assert fails(sm.rotate_secret, SecretId=secret["ARN"]) == (
        "InvalidRequestException",
        "No Lambda rotation function ARN is associated with this secret.",
    )
    assert fails(sm.rotate_secret, SecretId=secret["ARN"] + "-nope")[0] == (
        "ResourceNotFoundException"
    )


@pytest.mark.parametrize(
    "rules",
    [
        {"AutomaticallyAfterDays": 30, "ScheduleExpression": "rate(30 days)"},
        {"AutomaticallyAfterDays": 1001},
        {"ScheduleExpression": "rate(2 hours)"},
        {"ScheduleExpression": "cron(0 16 * * MON *)"},
        {"ScheduleExpression": "rate(1 days)", "Duration": "25h"},
        {"Duration": "3h"},
    ],
)
def test_rules_aws_refuses(sm: Any, failing: str, rules: dict) -> None:
    secret = new_secret(sm)
    code, _ = fails(
        sm.rotate_secret, SecretId=secret["ARN"], RotationLambdaARN=failing, RotationRules=rules
    )
    assert code in ("InvalidParameterException", "ValidationException")
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["RotationEnabled"] is False and "RotationLambdaARN" not in described


def test_a_secret_marked_for_deletion_is_not_rotated(sm: Any, failing: str) -> None:
    secret = new_secret(sm)
    sm.delete_secret(SecretId=secret["ARN"], RecoveryWindowInDays=7)
    assert fails(sm.rotate_secret, SecretId=secret["ARN"], RotationLambdaARN=failing) == (
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )


def test_a_function_that_is_not_there(sm: Any) -> None:
    secret = new_secret(sm)
    missing = f"arn:aws:lambda:us-east-1:{OWNER}:function:none-{uuid.uuid4().hex[:6]}"
    assert fails(sm.rotate_secret, SecretId=secret["ARN"], RotationLambdaARN=missing) == (
        "AccessDeniedException",
        CANNOT_INVOKE,
    )
    assert sm.describe_secret(SecretId=secret["ARN"])["RotationEnabled"] is False


def test_the_caller_needs_lambda_invoke_function(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    iam = server.client("iam")
    name = "rot-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = server.client(
        "secretsmanager", access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
    )  # fmt: skip
    statement = {"Effect": "Allow", "Action": "secretsmanager:RotateSecret", "Resource": "*"}
    iam.put_user_policy(
        UserName=name, PolicyName="rotate",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )  # fmt: skip
    secret = new_secret(sm)
    call = {
        "SecretId": secret["ARN"], "RotationLambdaARN": failing,
        "RotationRules": {"AutomaticallyAfterDays": 7}, "RotateImmediately": False,
    }  # fmt: skip
    code, message = fails(as_user.rotate_secret, **call)
    assert code == "AccessDeniedException"
    assert "lambda:InvokeFunction" in message and failing in message
    assert sm.describe_secret(SecretId=secret["ARN"])["RotationEnabled"] is False
    invoke = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": failing}
    iam.put_user_policy(
        UserName=name, PolicyName="rotate",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement, invoke]}),
    )  # fmt: skip
    assert "VersionId" not in as_user.rotate_secret(**call)
    assert sm.describe_secret(SecretId=secret["ARN"])["RotationEnabled"] is True


def test_a_schedule_without_rotating_now_then_cancelled_from_the_cli(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    secret = new_secret(sm)
    rules = {"ScheduleExpression": "cron(0 16 ? * MON *)", "Duration": "3h"}
    out = sm.rotate_secret(
        SecretId=secret["ARN"], RotationLambdaARN=failing, RotationRules=rules,
        RotateImmediately=False,
    )  # fmt: skip
    assert (out["ARN"], out["Name"]) == (secret["ARN"], secret["Name"])
    assert "VersionId" not in out
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == failing
    assert described["RotationRules"] == rules
    nxt = described["NextRotationDate"].astimezone(UTC)
    assert (nxt.weekday(), nxt.hour, nxt.minute, nxt.second) == (0, 18, 59, 59)  # Monday
    assert stages(sm, secret["ARN"]) == {secret["VersionId"]: ["AWSCURRENT"]}
    listed = next(s for s in sm.list_secrets()["SecretList"] if s["ARN"] == secret["ARN"])
    assert listed["RotationEnabled"] is True and listed["NextRotationDate"] == nxt
    time.sleep(1.0)  # not due: nothing runs
    assert stages(sm, secret["ARN"]) == {secret["VersionId"]: ["AWSCURRENT"]}

    env = {**os.environ, **server.aws_env()}
    cancelled = subprocess.run(
        ["aws", "secretsmanager", "cancel-rotate-secret", "--secret-id", secret["ARN"],
         "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout) == {"ARN": secret["ARN"], "Name": secret["Name"]}
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described
    assert described["RotationLambdaARN"] == failing  # kept for a later RotateSecret


def test_a_failed_rotation_keeps_its_pending_version_until_removed(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    secret = new_secret(sm)
    out = sm.rotate_secret(
        SecretId=secret["ARN"], RotationLambdaARN=failing,
        RotationRules={"ScheduleExpression": "rate(10 days)"},
    )  # fmt: skip
    pending = out["VersionId"]
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["RotationRules"] == {
        "ScheduleExpression": "rate(10 days)", "AutomaticallyAfterDays": 10,
    }  # fmt: skip
    failed = service_event(server, secret["ARN"], "RotationFailed")
    assert failed["eventType"] == "AwsServiceEvent"
    assert failed["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert failed["additionalEventData"] == {"SecretId": secret["ARN"]}
    assert failed["errorMessage"] == (
        f"Error when executing lambda {failing} during createSecret step"
    )
    assert "LastRotatedDate" not in sm.describe_secret(SecretId=secret["ARN"])
    assert stages(sm, secret["ARN"]) == {
        secret["VersionId"]: ["AWSCURRENT"], pending: ["AWSPENDING"],
    }  # fmt: skip
    code, message = fails(sm.rotate_secret, SecretId=secret["ARN"])
    assert (code, message) == (
        "InvalidRequestException",
        "A previous rotation isn't complete. That rotation will be reattempted.",
    )
    # CancelRotateSecret names the version and leaves its label, as AWS says.
    assert sm.cancel_rotate_secret(SecretId=secret["ARN"])["VersionId"] == pending
    assert stages(sm, secret["ARN"])[pending] == ["AWSPENDING"]
    sm.update_secret_version_stage(
        SecretId=secret["ARN"], VersionStage="AWSPENDING", RemoveFromVersionId=pending
    )
    again = sm.rotate_secret(SecretId=secret["ARN"], RotateImmediately=False)
    assert "VersionId" not in again
    assert sm.describe_secret(SecretId=secret["ARN"])["RotationEnabled"] is True


def test_a_token_already_used_by_a_version(sm: Any, failing: str) -> None:
    secret = new_secret(sm)
    code, _ = fails(
        sm.rotate_secret, SecretId=secret["ARN"], RotationLambdaARN=failing,
        ClientRequestToken=secret["VersionId"],
    )  # fmt: skip
    assert code == "ResourceExistsException"


def test_a_new_value_abandons_an_unfinished_rotation(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    secret = new_secret(sm)
    pending = sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=failing)["VersionId"]
    service_event(server, secret["ARN"], "RotationFailed")
    put = sm.put_secret_value(SecretId=secret["ARN"], SecretString="by hand")
    assert stages(sm, secret["ARN"]) == {
        put["VersionId"]: ["AWSCURRENT"], secret["VersionId"]: ["AWSPREVIOUS"],
    }  # fmt: skip
    assert pending not in stages(sm, secret["ARN"])
    abandoned = service_event(server, secret["ARN"], "RotationAbandoned")
    assert abandoned["eventType"] == "AwsServiceEvent"
    assert abandoned["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert abandoned["additionalEventData"] == {"SecretId": secret["ARN"]}
    # The next rotation is not refused any more.
    assert "VersionId" not in sm.rotate_secret(SecretId=secret["ARN"], RotateImmediately=False)


def test_the_next_window_retries_an_unfinished_rotation(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    """Moves the clock (with the tests after it)."""
    secret = new_secret(sm)
    pending = sm.rotate_secret(
        SecretId=secret["ARN"], RotationLambdaARN=failing,
        RotationRules={"AutomaticallyAfterDays": 1},
    )["VersionId"]  # fmt: skip
    first = service_event(server, secret["ARN"], "RotationFailed")
    server.advance_clock("2d")
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + 60
    failures: list[dict] = []
    while len(failures) < 2 and time.monotonic() < deadline:
        failures = [
            json.loads(e["CloudTrailEvent"])
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": secret["ARN"]}]
            )["Events"]
            if e["EventName"] == "RotationFailed"
        ]
        time.sleep(0.3)
    assert len(failures) == 2, failures
    # The same rotation again: its version, still AWSPENDING.
    assert {f["requestID"] for f in failures} == {first["requestID"]}
    assert pending in first["requestID"]
    assert stages(sm, secret["ARN"])[pending] == ["AWSPENDING"]


def test_a_new_value_counts_as_a_rotation_for_a_schedule_in_days(
    sm: Any, server: StrongroomServer, failing: str
) -> None:
    """Last: it moves the clock."""
    days, cron = new_secret(sm), new_secret(sm)
    monthly = (datetime.now(UTC).day + 9) % 28 + 1  # over a week away, whatever the date
    for secret, rules in (
        (days, {"AutomaticallyAfterDays": 7}),
        (cron, {"ScheduleExpression": f"cron(0 3 {monthly} * ? *)"}),
    ):
        sm.rotate_secret(
            SecretId=secret["ARN"], RotationLambdaARN=failing, RotationRules=rules,
            RotateImmediately=False,
        )  # fmt: skip
    before = {
        s["ARN"]: sm.describe_secret(SecretId=s["ARN"])["NextRotationDate"] for s in (days, cron)
    }
    server.advance_clock("2d")
    for secret in (days, cron):
        sm.put_secret_value(SecretId=secret["ARN"], SecretString="by hand")
    after = {
        s["ARN"]: sm.describe_secret(SecretId=s["ARN"])["NextRotationDate"] for s in (days, cron)
    }
    assert (after[days["ARN"]] - before[days["ARN"]]).days == 2
    assert after[cron["ARN"]] == before[cron["ARN"]]
