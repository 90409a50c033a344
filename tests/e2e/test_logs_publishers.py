"""Publishers into CloudWatch Logs, end to end: a real RDS PostgreSQL
instance's engine log (EnableCloudwatchLogsExports /
CloudwatchLogsExportConfiguration) and a real Lambda function's output.

The issue's user commands run as written with the `aws` CLI: the export
enabled by modify-db-instance, ``select 1/0`` in psql, filter-log-events
finding "division by zero", start-query with ``stats count(*) by bin(5m)``,
put-retention-policy. A restart of strongroom neither loses nor doubles a
line. Lambda: START / the function's prints / END / REPORT in
``/aws/lambda/<fn>``, stream ``YYYY/MM/DD/[$LATEST]<32 hex>``, delivered
only when the execution role allows logs:CreateLogStream/PutLogEvents.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"
GROUP = "/aws/rds/instance/shop/postgresql"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-logpub-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(data_dir)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def cli(server: StrongroomServer, *args: str) -> Any:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def connect(inst: dict[str, Any]) -> Any:
    return psycopg.connect(
        host="127.0.0.1", port=inst["Endpoint"]["Port"], user="admin", password=PASSWORD,
        dbname="app", autocommit=True, connect_timeout=5,
    )  # fmt: skip


def all_events(logs: Any, group: str, pattern: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    if pattern:
        kwargs["filterPattern"] = pattern
    while True:
        page = logs.filter_log_events(**kwargs)
        found.extend(page["events"])
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


@pytest.fixture(scope="module")
def shop(server: StrongroomServer) -> dict[str, Any]:
    rds = server.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="shop", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20, DBName="app",
    )  # fmt: skip
    return wait_for(
        lambda: (d := describe(rds, "shop"))["DBInstanceStatus"] == "available" and d,
        timeout=90, what="shop available",
    )  # fmt: skip


# --------------------------------------------------------------------- RDS


def test_the_issue_commands_with_the_aws_cli(
    server: StrongroomServer, shop: dict[str, Any]
) -> None:
    out = cli(
        server, "rds", "modify-db-instance", "--db-instance-identifier", "shop",
        "--cloudwatch-logs-export-configuration", '{"EnableLogTypes":["postgresql"]}',
        "--apply-immediately",
    )["DBInstance"]  # fmt: skip
    assert out["PendingModifiedValues"]["PendingCloudwatchLogsExports"] == {
        "LogTypesToEnable": ["postgresql"]
    }
    assert "EnabledCloudwatchLogsExports" not in out
    shown = describe(server.client("rds"), "shop")
    assert shown["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert "PendingCloudwatchLogsExports" not in shown["PendingModifiedValues"]

    port = str(shop["Endpoint"]["Port"])
    psql = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", port, "-U", "admin", "-d", "app", "-c", "select 1/0"],
        env={**os.environ, "PGPASSWORD": PASSWORD}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "division by zero" in psql.stderr
    errored = time.monotonic()

    def found() -> list[dict[str, Any]]:
        env = {**os.environ, **server.aws_env()}
        out = subprocess.run(
            ["aws", "logs", "filter-log-events", "--log-group-name", GROUP,
             "--filter-pattern", '"division by zero"', "--endpoint-url", server.endpoint,
             "--output", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if out.returncode != 0 and "ResourceNotFoundException" in out.stderr:
            return []  # the publisher has not made the group yet
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["events"]

    events = wait_for(found, timeout=20, what="division by zero in CloudWatch Logs")
    print(f"\nengine error to filter-log-events: {time.monotonic() - errored:.2f} s (with the CLI)")
    assert events[0]["logStreamName"] == "shop"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:127\.0\.0\.1\(\d+\):admin@app:\[\d+\]:"
                    r"ERROR:  division by zero$", events[0]["message"]), events[0]["message"]  # fmt: skip
    # Stamped with the line's own time (second resolution), not the ingest.
    line_time = time.strptime(events[0]["message"][:19], "%Y-%m-%d %H:%M:%S")
    assert events[0]["timestamp"] == (int(time.mktime(line_time)) - time.timezone) * 1000

    now = int(time.time())
    query_id = cli(
        server, "logs", "start-query", "--log-group-name", GROUP,
        "--start-time", str(now - 3600), "--end-time", str(now + 60),
        "--query-string",
        "fields @timestamp, @message | filter @message like /ERROR/ | stats count(*) by bin(5m)",
    )["queryId"]  # fmt: skip
    result = wait_for(
        lambda: (r := cli(server, "logs", "get-query-results", "--query-id", query_id))["status"]
        == "Complete" and r,
        what="the query",
    )  # fmt: skip
    counts = [{f["field"]: f["value"] for f in row} for row in result["results"]]
    assert sum(int(c["count(*)"]) for c in counts) >= 1

    cli(server, "logs", "put-retention-policy", "--log-group-name", GROUP,
        "--retention-in-days", "7")  # fmt: skip
    group = server.client("logs").describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]
    assert group["retentionInDays"] == 7


def test_multi_line_entries_stay_together(server: StrongroomServer, shop: dict[str, Any]) -> None:
    with connect(shop) as conn, pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("select 'multi-line-marker',\n  2,\n  1/0")
    logs = server.client("logs")

    def statement() -> list[dict[str, Any]]:
        return [
            e for e in all_events(logs, GROUP, '"multi-line-marker"') if "STATEMENT" in e["message"]
        ]

    (event,) = wait_for(statement, timeout=20, what="the multi-line statement")
    lines = event["message"].split("\n")
    assert len(lines) == 3, event["message"]
    assert lines[0].endswith("STATEMENT:  select 'multi-line-marker',")
    assert lines[2].strip() == "1/0"


def test_the_rds_log_exports_to_s3_as_the_issue_writes_it(
    server: StrongroomServer, shop: dict[str, Any]
) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="audit-archive")
    logs_principal = {"Service": "logs.us-east-1.amazonaws.com"}
    s3.put_bucket_policy(
        Bucket="audit-archive",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:GetBucketAcl",
             "Resource": "arn:aws:s3:::audit-archive"},
            {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::audit-archive/*",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        ]}),
    )  # fmt: skip
    to = str(int(time.time() * 1000))
    task_id = cli(
        server, "logs", "create-export-task", "--log-group-name", GROUP, "--from", "0",
        "--to", to, "--destination", "audit-archive", "--destination-prefix", "rds",
    )["taskId"]  # fmt: skip
    logs = server.client("logs")
    task = wait_for(
        lambda: (t := logs.describe_export_tasks(taskId=task_id)["exportTasks"][0])["status"][
            "code"
        ] not in ("PENDING", "RUNNING") and t,
        what="the export",
    )  # fmt: skip
    assert task["status"]["code"] == "COMPLETED", task
    body = s3.get_object(Bucket="audit-archive", Key=f"rds/{task_id}/shop/000000.gz")["Body"]
    lines = gzip.decompress(body.read()).decode().splitlines()
    division = [line for line in lines if "division by zero" in line and "ERROR" in line]
    assert division and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z \d{4}-", division[0])


def test_export_configuration_is_validated_as_rds_does(
    server: StrongroomServer, shop: dict[str, Any]
) -> None:
    rds = server.client("rds")
    code, message = fails(
        rds.modify_db_instance,
        DBInstanceIdentifier="shop",
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["audit", "postgresql"]},
    )
    assert code == "InvalidParameterCombination"
    assert message.startswith("You cannot use the log types 'audit' with engine version postgres ")
    assert message.endswith("For supported log types, see the documentation.")
    code, _ = fails(
        rds.create_db_instance,
        DBInstanceIdentifier="bad-types", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        EnableCloudwatchLogsExports=["slowquery"],
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    with pytest.raises(botocore.exceptions.ClientError):
        describe(rds, "bad-types")
    # A control-plane engine keeps its types too (nothing runs to publish).
    made = rds.create_db_instance(
        DBInstanceIdentifier="cp-mysql", Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        EnableCloudwatchLogsExports=["error", "slowquery"],
    )["DBInstance"]  # fmt: skip
    assert made["EnabledCloudwatchLogsExports"] == ["error", "slowquery"]
    out = rds.modify_db_instance(
        DBInstanceIdentifier="cp-mysql",
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["slowquery"]},
    )["DBInstance"]
    assert out["PendingModifiedValues"]["PendingCloudwatchLogsExports"] == {
        "LogTypesToDisable": ["slowquery"]
    }
    assert describe(rds, "cp-mysql")["EnabledCloudwatchLogsExports"] == ["error"]


def test_a_restored_instance_exports_from_its_start(
    server: StrongroomServer, shop: dict[str, Any]
) -> None:
    """RestoreDBInstanceFromDBSnapshot with EnableCloudwatchLogsExports:
    the new instance's own engine log, in its own group and stream."""
    rds = server.client("rds")
    rds.create_db_snapshot(DBInstanceIdentifier="shop", DBSnapshotIdentifier="shop-snap")
    wait_for(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="shop-snap")["DBSnapshots"][0][
            "Status"
        ] == "available",
        timeout=90, what="the snapshot",
    )  # fmt: skip
    made = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="shop-copy", DBSnapshotIdentifier="shop-snap",
        EnableCloudwatchLogsExports=["postgresql"],
    )["DBInstance"]  # fmt: skip
    assert made["EnabledCloudwatchLogsExports"] == ["postgresql"]
    inst = wait_for(
        lambda: (d := describe(rds, "shop-copy"))["DBInstanceStatus"] == "available" and d,
        timeout=90, what="shop-copy available",
    )  # fmt: skip
    with connect(inst) as conn, pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("select 'restored-marker', 1/0")
    logs = server.client("logs")
    group = "/aws/rds/instance/shop-copy/postgresql"

    def found() -> list[dict[str, Any]] | None:
        try:
            return all_events(logs, group, '"restored-marker"') or None
        except botocore.exceptions.ClientError:
            return None

    events = wait_for(found, timeout=20, what="the restored instance's line")
    assert {e["logStreamName"] for e in events} == {"shop-copy"}
    # The source's lines are not carried over into the copy's group.
    assert not all_events(logs, group, '"multi-line-marker"')
    rds.delete_db_instance(DBInstanceIdentifier="shop-copy", SkipFinalSnapshot=True)


def test_a_restart_loses_and_doubles_no_line(
    server: StrongroomServer, shop: dict[str, Any]
) -> None:
    """Markers written before, during and after a restart of strongroom
    are each published exactly once."""

    def burst(tag: str, n: int) -> None:
        with connect(shop) as conn:
            for i in range(n):
                with pytest.raises(psycopg.errors.RaiseException):
                    conn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'restart-marker {tag}-{i}'; END $$")

    burst("before", 40)
    server.stop()  # some of them not yet published, likely
    server.start()
    rds = server.client("rds")
    inst = wait_for(
        lambda: (d := describe(rds, "shop"))["DBInstanceStatus"] == "available" and d,
        timeout=90, what="shop back",
    )  # fmt: skip
    wait_for(lambda: _connects(inst), timeout=60, what="the engine back")
    burst("after", 40)
    logs = server.client("logs")

    def markers() -> list[str] | None:
        seen = [
            m.group(1)
            for e in all_events(logs, GROUP, '"restart-marker"')
            if "ERROR" in e["message"] and (m := re.search(r"restart-marker (\S+)", e["message"]))
        ]
        return seen if len(seen) >= 80 else None

    seen = wait_for(markers, timeout=30, what="80 markers")
    expected = [f"before-{i}" for i in range(40)] + [f"after-{i}" for i in range(40)]
    assert sorted(seen) == sorted(expected)


def _connects(inst: dict[str, Any]) -> bool:
    try:
        connect(inst).close()
    except psycopg.OperationalError:
        return False
    return True


# ------------------------------------------------------------------ Lambda

PRINTS = """
import json

def lambda_handler(event, context):
    print("hello from the function", event["n"])
    print("second line")
    return {"n": event["n"]}
"""
LOGS_ALLOWED = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}],
})  # fmt: skip
STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
REPORT = re.compile(
    r"^REPORT RequestId: (\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?$"
)


def _function(server: StrongroomServer, *, allowed: bool, **more: Any) -> str:
    from tests.e2e.lambda_helpers import create, handler_zip, role

    iam = server.client("iam")
    role_arn = role(iam)
    if allowed:
        iam.put_role_policy(
            RoleName=role_arn.split("/")[-1], PolicyName="logs", PolicyDocument=LOGS_ALLOWED
        )
    return create(server.client("lambda"), role_arn, handler_zip(PRINTS), **more)["FunctionName"]


def _invoke(server: StrongroomServer, name: str, n: int) -> str:
    out = server.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    return out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_a_functions_output_lands_in_its_log_group(server: StrongroomServer) -> None:
    name = _function(server, allowed=True)
    first, second = _invoke(server, name, 1), _invoke(server, name, 2)
    invoked = time.monotonic()
    group = f"/aws/lambda/{name}"
    logs = server.client("logs")

    def delivered() -> list[dict[str, Any]] | None:
        try:
            found = all_events(logs, group)
        except botocore.exceptions.ClientError:
            return None
        return found if sum(e["message"].startswith("REPORT") for e in found) >= 2 else None

    events = wait_for(delivered, what="both invocations' output")
    print(f"\nInvoke to its REPORT in CloudWatch Logs: {time.monotonic() - invoked:.2f} s")
    (stream,) = {e["logStreamName"] for e in events}  # one warm environment
    assert STREAM.match(stream), stream
    text = [e["message"] for e in events]
    # INIT_START (and strongroom's note of the interpreter it chose) come first.
    assert text[0].startswith("INIT_START Runtime Version: python:")
    text = text[next(i for i, t in enumerate(text) if t.startswith("START ")) :]
    assert text[0] == f"START RequestId: {first} Version: $LATEST\n"
    assert text[1] == "hello from the function 1\n"
    assert text[2] == "second line\n"
    assert text[3] == f"END RequestId: {first}\n"
    report = REPORT.match(text[4].rstrip("\n"))
    assert report and report.group(1) == first and report.group(2), text[4]  # Init Duration
    assert text[5] == f"START RequestId: {second} Version: $LATEST\n"
    report = REPORT.match(text[9].rstrip("\n"))
    assert report and report.group(1) == second and report.group(2) is None, text[9]
    # The aws CLI finds the prints.
    found = cli(server, "logs", "filter-log-events", "--log-group-name", group,
                "--filter-pattern", '"hello from the function"')["events"]  # fmt: skip
    assert [e["message"] for e in found] == [
        "hello from the function 1\n", "hello from the function 2\n",
    ]  # fmt: skip
    described = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in described] == [stream]


def test_the_logging_config_log_group_is_used(server: StrongroomServer) -> None:
    name = _function(
        server, allowed=True, LoggingConfig={"LogFormat": "Text", "LogGroup": "/custom/functions"}
    )
    request_id = _invoke(server, name, 3)
    logs = server.client("logs")

    def delivered() -> list[dict[str, Any]] | None:
        try:
            found = all_events(logs, "/custom/functions", f'"{request_id}"')
        except botocore.exceptions.ClientError:
            return None
        return found if len(found) >= 3 else None

    assert wait_for(delivered, what="the custom group")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert groups == []


def test_without_logs_permissions_nothing_is_delivered(server: StrongroomServer) -> None:
    denied = _function(server, allowed=False)
    _invoke(server, denied, 4)  # the function runs all the same
    # Delivered in order: once a later function's output is there, the
    # denied one's was dealt with.
    allowed = _function(server, allowed=True)
    _invoke(server, allowed, 5)
    logs = server.client("logs")
    wait_for(
        lambda: logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{allowed}")["logGroups"],
        what="the allowed function's group",
    )  # fmt: skip
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{denied}")["logGroups"] == []


LOGGING = """
import logging

def lambda_handler(event, context):
    logging.getLogger().info("structured hello")
    logging.getLogger().debug("not at INFO")
    return {}
"""


def test_json_log_format_writes_the_functions_logging_as_json(server: StrongroomServer) -> None:
    from tests.e2e.lambda_helpers import create, handler_zip, role

    iam = server.client("iam")
    role_arn = role(iam)
    iam.put_role_policy(
        RoleName=role_arn.split("/")[-1], PolicyName="logs", PolicyDocument=LOGS_ALLOWED
    )
    name = create(
        server.client("lambda"), role_arn, handler_zip(LOGGING),
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )["FunctionName"]  # fmt: skip
    request_id = _invoke(server, name, 6)
    logs = server.client("logs")

    def structured() -> list[dict[str, Any]] | None:
        try:
            found = all_events(logs, f"/aws/lambda/{name}", '{ $.message = "structured hello" }')
        except botocore.exceptions.ClientError:
            return None
        return found or None

    (event,) = wait_for(structured, what="the JSON record")
    record = json.loads(event["message"])
    assert record["level"] == "INFO"
    assert record["requestId"] == request_id
    assert record["message"] == "structured hello"
    assert "timestamp" in record
    assert not all_events(logs, f"/aws/lambda/{name}", '"not at INFO"')
