"""Invoke end to end: functions really run (awslambdaric over the Runtime
API), with their environment, their role's credentials, their errors and
logs; Event invocations are queued and run; DryRun only checks."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_helpers import code_of, create, handler_zip, invoke_json, role

from strongroom.testing import StrongroomServer

CALLER = """
import boto3

def lambda_handler(event, context):
    ident = boto3.client("sts").get_caller_identity()
    return {"arn": ident["Arn"], "account": ident["Account"]}
"""

FAILING = """
def lambda_handler(event, context):
    print("about to fail")
    raise ValueError("bad input: " + str(event.get("n")))
"""

LOGGING = """
def lambda_handler(event, context):
    for i in range(event["lines"]):
        print(f"line {i} " + "x" * 60)
    print("the last line")
    return "ok"
"""

WRITER = """
import os

def lambda_handler(event, context):
    with open(event["path"], "a") as f:
        f.write(context.aws_request_id + "\\n")
    if event.get("fail"):
        raise RuntimeError("failing on purpose")
    return "written"
"""


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer(time_travel=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def lam(server: StrongroomServer) -> Any:
    from botocore.config import Config

    return server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture(scope="module")
def role_arn(server: StrongroomServer) -> str:
    return role(server.client("iam"))


def test_payload_context_and_environment(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn, Environment={"Variables": {"GREETING": "hi there"}})[
        "FunctionName"
    ]
    out, body = invoke_json(lam, name, {"x": [1, 2, 3]})
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert out["ExecutedVersion"] == "$LATEST"
    assert body == {
        "event": {"x": [1, 2, 3]},
        "name": name,
        "version": "$LATEST",
        "arn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "greeting": "hi there",
    }


def test_the_function_acts_as_its_role(lam: Any, server: StrongroomServer) -> None:
    role_name = "exec-" + uuid.uuid4().hex[:8]
    arn = role(server.client("iam"), name=role_name)
    name = create(lam, arn, code=handler_zip(CALLER), Timeout=30)["FunctionName"]
    out, body = invoke_json(lam, name, {})
    assert "FunctionError" not in out, body
    assert body == {
        "arn": f"arn:aws:sts::000000000000:assumed-role/{role_name}/{name}",
        "account": "000000000000",
    }
    # Its session expires by the server clock: once that jumps past it, the
    # warm environment is replaced by one with a new session, as if it had
    # lived out those days.
    server.advance_clock("2d")
    out, body = invoke_json(lam, name, {})
    assert "FunctionError" not in out, body
    assert body["arn"] == f"arn:aws:sts::000000000000:assumed-role/{role_name}/{name}"


def test_update_code_changes_behaviour_and_versions_keep_theirs(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn, code=handler_zip("def lambda_handler(e, c):\n    return 1\n"))[
        "FunctionName"
    ]
    assert invoke_json(lam, name, {})[1] == 1
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="stable", FunctionVersion="1")
    lam.update_function_code(
        FunctionName=name, ZipFile=handler_zip("def lambda_handler(e, c):\n    return 2\n")
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert invoke_json(lam, name, {})[1] == 2
    out, body = invoke_json(lam, name, {}, Qualifier="1")
    assert (body, out["ExecutedVersion"]) == (1, "1")
    out, body = invoke_json(lam, f"{name}:stable", {})
    assert (body, out["ExecutedVersion"]) == (1, "1")


def test_a_function_error(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn, code=handler_zip(FAILING))["FunctionName"]
    out, body = invoke_json(lam, name, {"n": 7}, LogType="Tail")
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad input: 7"
    assert isinstance(body["stackTrace"], list)
    log = base64.b64decode(out["LogResult"]).decode()
    assert "about to fail" in log and "REPORT RequestId:" in log


def test_log_tail_is_the_last_4_kb(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn, code=handler_zip(LOGGING))["FunctionName"]
    out, body = invoke_json(lam, name, {"lines": 200}, LogType="Tail")
    assert body == "ok"
    tail = base64.b64decode(out["LogResult"])
    assert 3500 < len(tail) <= 4096
    text = tail.decode("utf-8", "replace")
    assert "the last line" in text and "REPORT RequestId:" in text and "line 0 " not in text
    out, _ = invoke_json(lam, name, {"lines": 1})
    assert "LogResult" not in out


def test_dry_run_and_limits(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn)["FunctionName"]
    out = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert out["StatusCode"] == 204
    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName=name, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=b'"' + b"x" * 1_100_000 + b'"'
        )
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"not json")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="9")


def test_a_pending_function_cannot_be_invoked(lam: Any, role_arn: str) -> None:
    name = "p-" + uuid.uuid4().hex[:8]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": handler_zip("def lambda_handler(e, c):\n    return 1\n")},
    )
    with pytest.raises(lam.exceptions.ResourceConflictException) as exc:
        lam.invoke(FunctionName=name)
    assert "Pending" in exc.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.update_function_configuration(FunctionName=name, Timeout=5)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.publish_version(FunctionName=name)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for(path: Path, count: int, seconds: float = 30.0) -> list[str]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = _lines(path)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return _lines(path)


def test_event_invocations_run_and_failures_are_retried(
    lam: Any, role_arn: str, server: StrongroomServer
) -> None:
    name = create(lam, role_arn, code=handler_zip(WRITER))["FunctionName"]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        ok = Path(tmp) / "ok"
        out = lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"path": str(ok)})
        )
        assert out["StatusCode"] == 202 and out["Payload"].read() == b""
        assert len(_wait_for(ok, 1)) == 1
        failing = Path(tmp) / "failing"
        lam.invoke(
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps({"path": str(failing), "fail": True}),
        )
        assert len(_wait_for(failing, 1)) == 1
        time.sleep(1.5)
        assert len(_lines(failing)) == 1  # the retry waits a minute
        server.advance_clock("61s")
        assert len(_wait_for(failing, 2)) == 2
        time.sleep(1.0)  # the attempt's outcome is recorded after it wrote
        server.advance_clock("121s")
        assert len(_wait_for(failing, 3)) == 3
        server.advance_clock("10m")
        time.sleep(2)
        assert len(_lines(failing)) == 3  # two retries, then AWS gives up
        assert len(_lines(ok)) == 1  # a success is not run again


def test_aws_cli_invoke(lam: Any, role_arn: str, server: StrongroomServer) -> None:
    name = create(lam, role_arn)["FunctionName"]
    with tempfile.TemporaryDirectory() as tmp:
        outfile = Path(tmp) / "out.json"
        done = subprocess.run(
            [
                "aws",
                "lambda",
                "invoke",
                "--function-name",
                name,
                "--payload",
                '{"from": "cli"}',
                "--log-type",
                "Tail",
                str(outfile),
            ],
            env={**os.environ, **server.aws_env()},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        meta = json.loads(done.stdout)
        assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
        assert "START RequestId:" in base64.b64decode(meta["LogResult"]).decode()
        assert json.loads(outfile.read_text())["event"] == {"from": "cli"}


def test_invoke_is_a_data_event(lam: Any, role_arn: str, server: StrongroomServer) -> None:
    made = create(lam, role_arn)
    name = made["FunctionName"]
    invoke_json(lam, name, {"secret": "do-not-record"})
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": made["FunctionArn"]}]
    )["Events"]
    names = {e["EventName"] for e in events}
    assert "CreateFunction" in names and "Invoke" not in names
    for e in events:
        assert "do-not-record" not in e["CloudTrailEvent"]


def test_code_of_helper_reads_errors() -> None:
    class Fake:
        value = type("E", (), {"response": {"Error": {"Code": "X"}}})()

    assert code_of(Fake) == "X"  # type: ignore[arg-type]


def test_secrets_stay_sealed(lam: Any, role_arn: str, server: StrongroomServer) -> None:
    """Environment values and Event payloads reach neither the trail nor the
    store's files nor the server's log in the clear."""
    env_secret = "env-" + uuid.uuid4().hex
    payload_secret = "payload-" + uuid.uuid4().hex
    name = create(lam, role_arn, Environment={"Variables": {"DB_PASSWORD": env_secret}})[
        "FunctionName"
    ]
    _, body = invoke_json(lam, name, {"p": payload_secret})
    assert body["event"] == {"p": payload_secret}
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"p": payload_secret}))
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"DB_PASSWORD": env_secret + "2"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    lam.publish_version(FunctionName=name)
    time.sleep(2)  # the audit queue and the event worker have written
    events = server.client("cloudtrail").lookup_events(MaxResults=50)["Events"]
    assert any(e["EventName"] == "CreateFunction" for e in events)
    for e in events:
        assert env_secret not in e["CloudTrailEvent"]
        assert payload_secret not in e["CloudTrailEvent"]
    found = []
    for path in server.data_dir.rglob("*"):
        if not path.is_file() or "blobs" in path.parts or "code" in path.parts:
            continue  # the function's own code may hold anything
        data = path.read_bytes()
        for secret in (env_secret, payload_secret):
            if secret.encode() in data:
                found.append(f"{secret[:8]}… in {path.relative_to(server.data_dir)}")
    assert not found, found


def test_reserved_concurrency_bounds_invocations(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn)["FunctionName"]
    before = lam.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert before["AccountUsage"]["FunctionCount"] >= 1
    assert (
        lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    )
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as exc:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    after = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after == before["AccountLimit"]["UnreservedConcurrentExecutions"] - 2
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert "below its minimum value of [100]" in exc.value.response["Error"]["Message"]
    lam.delete_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)


def test_a_warm_environment_keeps_module_state(lam: Any, role_arn: str) -> None:
    counter = "COUNT = 0\n\ndef lambda_handler(event, context):\n    global COUNT\n    COUNT += 1\n    return COUNT\n"
    name = create(lam, role_arn, code=handler_zip(counter))["FunctionName"]
    assert [invoke_json(lam, name, {})[1] for _ in range(3)] == [1, 2, 3]
    lam.update_function_configuration(FunctionName=name, Description="new revision")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert invoke_json(lam, name, {})[1] == 1  # a new configuration: a new environment


def test_a_timeout(lam: Any, role_arn: str) -> None:
    slow = (
        "import time\n\ndef lambda_handler(event, context):\n    time.sleep(5)\n    return 'late'\n"
    )
    name = create(lam, role_arn, code=handler_zip(slow), Timeout=1)["FunctionName"]
    out, body = invoke_json(lam, name, {}, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert "Status: timeout" in base64.b64decode(out["LogResult"]).decode()
