"""CloudWatch Logs subscription filters to Lambda, end to end: a real Python
function receives AWS's payload (base64 gzip JSON), decodes it and writes
what it got to a file the test reads; the function's resource policy must
let logs.amazonaws.com in; two filters a group; KMS-encrypted groups;
exactly-once delivery across a kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from lambda_helpers import handler_zip, role

from strongroom.testing import StrongroomServer

OWNER = "000000000000"

#: Decodes the payload as a subscriber does and appends it to $OUT.
DECODER = """
import base64, gzip, json, os

def lambda_handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(data) + "\\n")
    return "ok"
"""


# `server`: tests/e2e/conftest.py's, once on SQLite and once on PostgreSQL
# (where the job runs every tick and passes only settled batches).


def received(path: Path, events: int, timeout: float = 30.0) -> list[dict]:
    """The payloads the function wrote, once they hold `events` log events."""
    deadline = time.monotonic() + timeout
    found: list[dict] = []
    while time.monotonic() < deadline:
        if path.exists():
            found = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if sum(len(p["logEvents"]) for p in found) >= events:
                return found
        time.sleep(0.1)
    return found


def function(server: StrongroomServer, out: Path) -> tuple[str, str]:
    lam = server.client("lambda")
    name = "subscriber-" + uuid.uuid4().hex[:6]
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role(server.client("iam")),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": handler_zip(DECODER)},
        Environment={"Variables": {"OUT": str(out)}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name, arn


def allow_logs(server: StrongroomServer, name: str, group: str, principal: str = "") -> None:
    server.client("lambda").add_permission(
        FunctionName=name,
        StatementId="logs-" + uuid.uuid4().hex[:6],
        Action="lambda:InvokeFunction",
        Principal=principal or "logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:us-east-1:{OWNER}:log-group:{group}:*",
        SourceAccount=OWNER,
    )


def put(logs: Any, group: str, stream: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def new_group(logs: Any, *streams: str, **more: Any) -> str:
    group = f"/subs/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group, **more)
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group


def error_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_matching_events_reach_the_function(server: StrongroomServer, tmp_path: Path) -> None:
    logs = server.client("logs")
    out = tmp_path / "got.jsonl"
    name, arn = function(server, out)
    group = new_group(logs, "web-1", "web-2")
    put(logs, group, "web-1", "ERROR before the filter")
    # Without the function's permission for CloudWatch Logs: AWS's error.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="errors", filterPattern="ERROR", destinationArn=arn
        )
    assert error_of(exc) == (
        "InvalidParameterException",
        "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
        "permission to execute your function.",
    )
    allow_logs(server, name, group)
    logs.put_subscription_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR", destinationArn=arn
    )
    put(logs, group, "web-1", "INFO fine", "ERROR one", "ERROR two")
    put(logs, group, "web-2", "ERROR three", "DEBUG nothing")
    payloads = received(out, 3)
    assert all(p["messageType"] == "DATA_MESSAGE" for p in payloads)
    assert all(p["owner"] == OWNER and p["logGroup"] == group for p in payloads)
    assert all(p["subscriptionFilters"] == ["errors"] for p in payloads)
    by_stream = {p["logStream"]: [e["message"] for e in p["logEvents"]] for p in payloads}
    # One payload per stream; only events ingested after the filter, matching it.
    assert by_stream == {"web-1": ["ERROR one", "ERROR two"], "web-2": ["ERROR three"]}
    first = payloads[0]["logEvents"][0]
    assert set(first) == {"id", "timestamp", "message"}
    assert first["id"].isdigit() and isinstance(first["timestamp"], int)
    ids = [e["id"] for p in payloads for e in p["logEvents"]]
    assert len(set(ids)) == len(ids)
    described = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert len(described) == 1
    f = described[0]
    assert f["filterName"] == "errors" and f["destinationArn"] == arn
    assert f["filterPattern"] == "ERROR" and f["distribution"] == "ByLogStream"
    assert f["logGroupName"] == group and isinstance(f["creationTime"], int)
    # Deleted: nothing more is delivered.
    logs.delete_subscription_filter(logGroupName=group, filterName="errors")
    put(logs, group, "web-1", "ERROR after delete")
    time.sleep(1.5)
    assert sum(len(p["logEvents"]) for p in received(out, 3)) == 3
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        logs.delete_subscription_filter(logGroupName=group, filterName="errors")
    assert error_of(exc) == (
        "ResourceNotFoundException",
        "The specified subscription filter does not exist.",
    )


def test_two_filters_a_group_and_bad_input(server: StrongroomServer, tmp_path: Path) -> None:
    logs = server.client("logs")
    name, arn = function(server, tmp_path / "x.jsonl")
    group = new_group(logs, "s")
    allow_logs(server, name, group, principal="logs.us-east-1.amazonaws.com")
    for filter_name in ("a", "b"):
        logs.put_subscription_filter(
            logGroupName=group, filterName=filter_name, filterPattern="", destinationArn=arn,
            distribution="Random",
        )  # fmt: skip
    # Updating one of the two is no third.
    logs.put_subscription_filter(
        logGroupName=group, filterName="a", filterPattern="x", destinationArn=arn
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="c", filterPattern="", destinationArn=arn
        )
    assert error_of(exc) == ("LimitExceededException", "Resource limit exceeded.")
    got = logs.describe_subscription_filters(logGroupName=group, filterNamePrefix="a")
    assert [(f["filterName"], f["filterPattern"]) for f in got["subscriptionFilters"]] == [
        ("a", "x")
    ]
    page = logs.describe_subscription_filters(logGroupName=group, limit=1)
    assert len(page["subscriptionFilters"]) == 1 and page["nextToken"]
    rest = logs.describe_subscription_filters(logGroupName=group, nextToken=page["nextToken"])
    assert [f["filterName"] for f in rest["subscriptionFilters"]] == ["b"]
    bad = [
        {"filterPattern": "{ $.x = ", "destinationArn": arn},
        {"filterPattern": "", "destinationArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"},
        {"filterPattern": "", "destinationArn": arn, "roleArn": "not-a-role"},
    ]
    for args in bad:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            logs.put_subscription_filter(logGroupName=group, filterName="a", **args)
        assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName="/nope/none", filterName="a", filterPattern="", destinationArn=arn
        )
    assert error_of(exc)[0] == "ResourceNotFoundException"
    missing = arn.rsplit(":", 1)[0] + ":nothing-here"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="a", filterPattern="", destinationArn=missing
        )
    assert error_of(exc)[0] == "InvalidParameterException"
    # Deleting the group takes its filters.
    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []


def test_an_encrypted_group_is_delivered_decrypted(
    server: StrongroomServer, tmp_path: Path
) -> None:
    kms = server.client("kms")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt*"], "Resource": "*"},
        ],
    }  # fmt: skip
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    logs = server.client("logs")
    out = tmp_path / "enc.jsonl"
    name, arn = function(server, out)
    group = new_group(logs, "s", kmsKeyId=key)
    allow_logs(server, name, group)
    logs.put_subscription_filter(
        logGroupName=group, filterName="all", filterPattern="", destinationArn=arn
    )
    put(logs, group, "s", "secret one", "secret two")
    payloads = received(out, 2)
    assert [e["message"] for p in payloads for e in p["logEvents"]] == ["secret one", "secret two"]


def test_exactly_once_across_a_kill(tmp_path: Path) -> None:
    out = tmp_path / "once.jsonl"
    with StrongroomServer(tmp_path / "data") as srv:
        logs = srv.client("logs")
        name, arn = function(srv, out)
        group = new_group(logs, "s")
        allow_logs(srv, name, group)
        logs.put_subscription_filter(
            logGroupName=group, filterName="all", filterPattern="", destinationArn=arn
        )
        sent = []
        for round_ in range(3):
            for i in range(5):
                message = f"event {round_}-{i}"
                put(logs, group, "s", message)
                sent.append(message)
            srv.kill()  # kill -9 with deliveries possibly queued or half-way
            srv.start()
            logs = srv.client("logs")
        payloads = received(out, len(sent), timeout=60)
        got = [e["message"] for p in payloads for e in p["logEvents"]]
        time.sleep(1.0)
        payloads = received(out, len(sent))
        got = [e["message"] for p in payloads for e in p["logEvents"]]
        assert sorted(got) == sorted(sent)


def cli(server: StrongroomServer, service: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", service, *args, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_aws_cli(server: StrongroomServer, tmp_path: Path) -> None:
    """The user guide's commands: add-permission, put-subscription-filter,
    describe-subscription-filters, then a matching event reaches the function."""
    logs = server.client("logs")
    out = tmp_path / "cli.jsonl"
    name, arn = function(server, out)
    group = new_group(logs, "s")
    cli(
        server, "lambda", "add-permission", "--function-name", name, "--statement-id", "cwl",
        "--principal", "logs.amazonaws.com", "--action", "lambda:InvokeFunction",
        "--source-arn", f"arn:aws:logs:us-east-1:{OWNER}:log-group:{group}:*",
        "--source-account", OWNER,
    )  # fmt: skip
    cli(
        server, "logs", "put-subscription-filter", "--log-group-name", group,
        "--filter-name", "errors", "--filter-pattern", "ERROR", "--destination-arn", arn,
    )  # fmt: skip
    described = cli(server, "logs", "describe-subscription-filters", "--log-group-name", group)
    assert [f["filterName"] for f in described["subscriptionFilters"]] == ["errors"]
    put(logs, group, "s", "ERROR from the CLI test", "INFO no")
    payloads = received(out, 1)
    assert [e["message"] for p in payloads for e in p["logEvents"]] == ["ERROR from the CLI test"]
    cli(server, "logs", "delete-subscription-filter", "--log-group-name", group,
        "--filter-name", "errors")  # fmt: skip
    assert (
        cli(server, "logs", "describe-subscription-filters", "--log-group-name", group)[
            "subscriptionFilters"
        ]
        == []
    )
