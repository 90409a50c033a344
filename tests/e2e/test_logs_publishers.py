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

    def found() -> list[dict[str, Any]]:
        return cli(
            server, "logs", "filter-log-events", "--log-group-name", GROUP,
            "--filter-pattern", '"division by zero"',
        )["events"]  # fmt: skip

    events = wait_for(found, timeout=20, what="division by zero in CloudWatch Logs")
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
