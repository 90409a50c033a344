"""CloudWatch Logs end to end (issue 14, item 1 and the filters of item 2):
groups, streams, tags, PutLogEvents' limits, GetLogEvents' tokens,
FilterLogEvents, TestMetricFilter, and what CloudTrail records of them."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

OWNER = "000000000000"


# `server` (tests/e2e/conftest.py): one server per module on each state
# store, SQLite and PostgreSQL.


@pytest.fixture(scope="module")
def logs(server: StrongroomServer) -> Any:
    return server.client("logs")


def fails(fn: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def now_ms() -> int:
    return int(time.time() * 1000)


def new_group(logs: Any, prefix: str = "/test/") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    return name


# --------------------------------------------------------------------------- groups


def test_create_describe_delete_group(logs: Any) -> None:
    name = new_group(logs, "/app/a-")
    found = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [g["logGroupName"] for g in found] == [name]
    g = found[0]
    assert g["arn"] == f"arn:aws:logs:us-east-1:{OWNER}:log-group:{name}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:us-east-1:{OWNER}:log-group:{name}"
    assert g["storedBytes"] == 0 and g["logGroupClass"] == "STANDARD"
    assert "retentionInDays" not in g
    assert abs(g["creationTime"] - now_ms()) < 60_000
    code, _ = fails(logs.create_log_group, logGroupName=name)
    assert code == "ResourceAlreadyExistsException"
    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    code, message = fails(logs.delete_log_group, logGroupName=name)
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_bad_group_names(logs: Any) -> None:
    for bad in ("has space", "colon:no", "a" * 513, "star*"):
        code, _ = fails(logs.create_log_group, logGroupName=bad)
        assert code == "InvalidParameterException", bad


def test_describe_groups_prefix_pattern_paging(logs: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"/page/{tag}/{i:02d}" for i in range(7)]
    for n in reversed(names):
        logs.create_log_group(logGroupName=n)
    first = logs.describe_log_groups(logGroupNamePrefix=f"/page/{tag}/", limit=3)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:3]
    seen = [g["logGroupName"] for g in first["logGroups"]]
    token = first["nextToken"]
    while token:
        page = logs.describe_log_groups(
            logGroupNamePrefix=f"/page/{tag}/", limit=3, nextToken=token
        )
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
    assert seen == names
    pattern = logs.describe_log_groups(logGroupNamePattern=tag.upper())["logGroups"]
    assert [g["logGroupName"] for g in pattern] == names
    code, _ = fails(logs.describe_log_groups, logGroupNamePrefix="/p", logGroupNamePattern="x")
    assert code == "InvalidParameterException"
    code, _ = fails(logs.describe_log_groups, logGroupNamePrefix="/p", nextToken="garbage")
    assert code == "InvalidParameterException"
    # A token bound to its listing.
    code, _ = fails(
        logs.describe_log_groups, logGroupNamePrefix="/other", nextToken=first["nextToken"]
    )
    assert code == "InvalidParameterException"
    paged = [
        g["logGroupName"]
        for p in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=f"/page/{tag}/", PaginationConfig={"PageSize": 2}
        )
        for g in p["logGroups"]
    ]
    assert paged == names
    listed = logs.list_log_groups(logGroupNamePattern=tag)["logGroups"]
    assert [g["logGroupName"] for g in listed] == names


def test_streams_order_and_paging(logs: Any) -> None:
    group = new_group(logs)
    for s in ("b", "a", "c"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    code, _ = fails(logs.create_log_stream, logGroupName=group, logStreamName="a")
    assert code == "ResourceAlreadyExistsException"
    code, _ = fails(logs.create_log_stream, logGroupName=group, logStreamName="x:y")
    assert code == "InvalidParameterException"
    code, _ = fails(logs.create_log_stream, logGroupName=group + "-none", logStreamName="a")
    assert code == "ResourceNotFoundException"
    t = now_ms()
    logs.put_log_events(
        logGroupName=group, logStreamName="c", logEvents=[{"timestamp": t - 3000, "message": "c"}]
    )
    logs.put_log_events(
        logGroupName=group, logStreamName="a", logEvents=[{"timestamp": t - 1000, "message": "a"}]
    )
    names = [
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
    ]
    assert names == ["a", "b", "c"]
    by_time = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )
    assert [s["logStreamName"] for s in by_time["logStreams"]] == ["a", "c", "b"]
    page = logs.describe_log_streams(logGroupName=group, limit=1, orderBy="LastEventTime")
    assert [s["logStreamName"] for s in page["logStreams"]] == ["b"]
    rest = logs.describe_log_streams(
        logGroupName=group, limit=5, orderBy="LastEventTime", nextToken=page["nextToken"]
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c", "a"]
    code, _ = fails(
        logs.describe_log_streams,
        logGroupName=group,
        orderBy="LastEventTime",
        logStreamNamePrefix="a",
    )
    assert code == "InvalidParameterException"
    a = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="a")["logStreams"][0]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == t - 1000
    assert a["arn"].endswith(f":log-group:{group}:log-stream:a")
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]
    assert len(by_arn) == 3
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    code, _ = fails(logs.delete_log_stream, logGroupName=group, logStreamName="a")
    assert code == "ResourceNotFoundException"
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 1


def test_tags_both_apis(logs: Any) -> None:
    name = f"/tags/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name, tags={"team": "a"})
    arn = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["logGroupArn"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    logs.tag_resource(resourceArn=arn, tags={"env": "prod"})
    logs.tag_log_group(logGroupName=name, tags={"old": "api"})
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {
        "team": "a",
        "env": "prod",
        "old": "api",
    }
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    logs.untag_log_group(logGroupName=name, tags=["old"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    code, _ = fails(logs.tag_resource, resourceArn=arn, tags={"aws:x": "y"})
    assert code == "InvalidParameterException"
    code, _ = fails(logs.tag_resource, resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert code == "TooManyTagsException"
    code, _ = fails(logs.list_tags_for_resource, resourceArn=arn + "-none")
    assert code == "ResourceNotFoundException"


# --------------------------------------------------------------------------- PutLogEvents


def test_put_limits(logs: Any) -> None:
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    put = lambda evs: logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=evs)  # noqa: E731
    code, message = fails(
        logs.put_log_events, logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}],
    )  # fmt: skip
    assert code == "InvalidParameterException" and "chronological" in message
    # 1,048,576 bytes counting 26 an event: exactly at the limit passes, one more fails.
    n = 4
    body = (1_048_576 - 26 * n) // n
    exact = [{"timestamp": t, "message": "x" * body} for _ in range(n)]
    extra = 1_048_576 - n * (body + 26)
    exact[0]["message"] += "x" * extra
    assert "rejectedLogEventsInfo" not in put(exact)
    exact[0]["message"] += "x"
    code, message = fails(
        logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=exact
    )
    assert code == "InvalidParameterException" and "1048577" in message
    code, _ = fails(
        logs.put_log_events, logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": t - 25 * 3600_000, "message": "a"}, {"timestamp": t, "message": "b"}],
    )  # fmt: skip
    assert code == "InvalidParameterException"
    code, _ = fails(
        logs.put_log_events, logGroupName=group, logStreamName="none",
        logEvents=[{"timestamp": t, "message": "a"}],
    )  # fmt: skip
    assert code == "ResourceNotFoundException"
    too_many = [{"timestamp": t, "message": "m"} for _ in range(10_001)]
    with pytest.raises(botocore.exceptions.ClientError):
        put(too_many)


def test_rejected_events_info(logs: Any) -> None:
    group = new_group(logs)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    day = 86_400_000
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": t - 15 * day, "message": "too old"},
            {"timestamp": t - 2 * day, "message": "expired"},
            {"timestamp": t, "message": "kept"},
            {"timestamp": t + 3 * 3600_000, "message": "too new"},
        ],
    )
    assert out["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 0,
        "expiredLogEventEndIndex": 1,
        "tooNewLogEventStartIndex": 3,
    }
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["kept"]
    assert "nextSequenceToken" in out


# --------------------------------------------------------------------------- GetLogEvents


@pytest.fixture(scope="module")
def filled(logs: Any) -> dict[str, Any]:
    """A group with two streams of 25 events each, interleaved in time."""
    group = new_group(logs, "/filled/")
    t0 = now_ms() - 3600_000
    for s, offset in (("one", 0), ("two", 500)):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
        evs = [
            {
                "timestamp": t0 + i * 1000 + offset,
                "message": f"{s} {i} {'ERROR' if i % 5 == 0 else 'INFO'}",
            }
            for i in range(25)
        ]
        for chunk in (evs[:10], evs[10:]):
            logs.put_log_events(logGroupName=group, logStreamName=s, logEvents=chunk)
    return {"group": group, "t0": t0}


def test_get_events_head_and_tail(logs: Any, filled: dict[str, Any]) -> None:
    g = filled["group"]
    head = logs.get_log_events(logGroupName=g, logStreamName="one", startFromHead=True, limit=10)
    assert [e["message"].split()[1] for e in head["events"]] == [str(i) for i in range(10)]
    nxt = logs.get_log_events(
        logGroupName=g, logStreamName="one", nextToken=head["nextForwardToken"], limit=10
    )
    assert [e["message"].split()[1] for e in nxt["events"]] == [str(i) for i in range(10, 20)]
    back = logs.get_log_events(
        logGroupName=g, logStreamName="one", nextToken=nxt["nextBackwardToken"], limit=5
    )
    assert [e["message"].split()[1] for e in back["events"]] == [str(i) for i in range(5, 10)]
    tail = logs.get_log_events(logGroupName=g, logStreamName="one", limit=3)
    assert [e["message"].split()[1] for e in tail["events"]] == ["22", "23", "24"]
    assert tail["nextForwardToken"].startswith("f/") and tail["nextBackwardToken"].startswith("b/")
    end = logs.get_log_events(
        logGroupName=g, logStreamName="one", nextToken=tail["nextForwardToken"]
    )
    assert end["events"] == [] and end["nextForwardToken"] == tail["nextForwardToken"]
    window = logs.get_log_events(
        logGroupName=g, logStreamName="one", startTime=filled["t0"] + 2000,
        endTime=filled["t0"] + 5000, startFromHead=True,
    )  # fmt: skip
    assert [e["message"].split()[1] for e in window["events"]] == ["2", "3", "4"]
    assert all("ingestionTime" in e for e in window["events"])
    code, _ = fails(logs.get_log_events, logGroupName=g, logStreamName="one", nextToken="f/xyz")
    assert code == "InvalidParameterException"
    code, _ = fails(logs.get_log_events, logGroupName=g, logStreamName="nope")
    assert code == "ResourceNotFoundException"


def test_stored_bytes_and_timestamps(logs: Any, filled: dict[str, Any]) -> None:
    g = logs.describe_log_groups(logGroupNamePrefix=filled["group"])["logGroups"][0]
    expected = sum(
        len(f"{s} {i} {'ERROR' if i % 5 == 0 else 'INFO'}")
        for s in ("one", "two")
        for i in range(25)
    )
    assert g["storedBytes"] == expected
    one = logs.describe_log_streams(logGroupName=filled["group"], logStreamNamePrefix="one")[
        "logStreams"
    ][0]
    assert one["firstEventTimestamp"] == filled["t0"]
    assert one["lastEventTimestamp"] == filled["t0"] + 24_000
    assert one["lastIngestionTime"] >= one["lastEventTimestamp"]


# --------------------------------------------------------------------------- FilterLogEvents


def test_filter_interleaved_and_paged(logs: Any, filled: dict[str, Any]) -> None:
    g = filled["group"]
    out = logs.filter_log_events(logGroupName=g, filterPattern="ERROR")
    msgs = [e["message"] for e in out["events"]]
    assert msgs == [f"{s} {i} ERROR" for i in range(0, 25, 5) for s in ("one", "two")]
    assert {e["logStreamName"] for e in out["events"]} == {"one", "two"}
    stamps = [e["timestamp"] for e in out["events"]]
    assert stamps == sorted(stamps)
    assert len({e["eventId"] for e in out["events"]}) == 10
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=g, PaginationConfig={"PageSize": 7}
        )
    )
    every = [e["message"] for p in pages for e in p["events"]]
    assert len(every) == 50 and len(pages) == 8
    only = logs.filter_log_events(logGroupName=g, logStreamNames=["two"], filterPattern="ERROR")
    assert {e["logStreamName"] for e in only["events"]} == {"two"}
    assert only["searchedLogStreams"] == [{"logStreamName": "two", "searchedCompletely": True}]
    pre = logs.filter_log_events(
        logGroupName=g, logStreamNamePrefix="o", filterPattern="?ERROR ?INFO"
    )
    assert len(pre["events"]) == 25
    timed = logs.filter_log_events(
        logGroupName=g, startTime=filled["t0"], endTime=filled["t0"] + 1000
    )
    assert [e["message"] for e in timed["events"]] == ["one 0 ERROR", "two 0 ERROR"]
    code, _ = fails(logs.filter_log_events, logGroupName=g, filterPattern="{ $.a = }")
    assert code == "InvalidParameterException"
    code, _ = fails(
        logs.filter_log_events, logGroupName=g, logStreamNames=["a"], logStreamNamePrefix="a"
    )
    assert code == "InvalidParameterException"


def test_filter_json_and_delimited(logs: Any) -> None:
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    messages = [
        json.dumps({"level": "ERROR", "latency": 1200, "user": {"id": 7}}),
        json.dumps({"level": "INFO", "latency": 5, "user": {"id": 8}, "tags": ["a", "b"]}),
        '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
        '10.0.0.2 - - [10/Oct/2000:13:25:16 -0700] "GET /x.png HTTP/1.0" 200 99',
        "not json {",
    ]
    logs.put_log_events(
        logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)],
    )  # fmt: skip

    def found(p: str) -> list[int]:
        evs = logs.filter_log_events(logGroupName=group, filterPattern=p)["events"]
        return [messages.index(e["message"]) for e in evs]

    assert found('{ $.level = "ERROR" }') == [0]
    assert found("{ $.latency > 1e3 }") == [0]
    assert found("{ $.user.id = 8 && $.tags[1] = b }") == [1]
    assert found("{ $.missing NOT EXISTS && $.level = * }") == [0, 1]
    assert found("[ip, user, username, timestamp, request = *html*, status = 4*, bytes]") == [2]
    assert found("[ip, ..., bytes < 100]") == [3]
    assert found('"GET /x.png"') == [3]
    assert found("%fr[a-z]+k%") == [2]


def test_test_metric_filter(logs: Any) -> None:
    out = logs.test_metric_filter(
        filterPattern="[ip, user, username, timestamp, request, status_code = 4*, bytes]",
        logEventMessages=[
            '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534',
            '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
        ],
    )
    assert [m["eventNumber"] for m in out["matches"]] == [1]
    assert out["matches"][0]["extractedValues"] == {
        "$ip": "127.0.0.1", "$user": "-", "$username": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700", "$request": "GET /apache_pb.gif HTTP/1.0",
        "$status_code": "404", "$bytes": "1534",
    }  # fmt: skip
    code, _ = fails(logs.test_metric_filter, filterPattern="{ $.x >", logEventMessages=["a"])
    assert code == "InvalidParameterException"


# --------------------------------------------------------------------------- CloudTrail


def test_trail_keeps_messages_out(server: StrongroomServer, logs: Any) -> None:
    group = new_group(logs, "/trail/")
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    secret = "customer-data-" + uuid.uuid4().hex
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": secret}],
    )
    logs.filter_log_events(logGroupName=group, filterPattern="customer")
    logs.test_metric_filter(filterPattern="x", logEventMessages=[secret])
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + 30
    while True:
        events = trail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventSource", "AttributeValue": "logs.amazonaws.com"}
            ]
        )["Events"]
        names = {e["EventName"] for e in events}
        if {
            "PutLogEvents",
            "TestMetricFilter",
            "FilterLogEvents",
        } <= names or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    put = next(json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "PutLogEvents")
    assert put["requestParameters"] == {"logGroupName": group, "logStreamName": "s"}
    assert all(secret not in e["CloudTrailEvent"] for e in events)
    assert secret not in server.read_log()


# --------------------------------------------------------------------------- Insights


def results(logs: Any, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        out = logs.get_query_results(queryId=query_id)
        if out["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


def rows(out: dict[str, Any]) -> list[dict[str, str]]:
    return [{c["field"]: c["value"] for c in row} for row in out["results"]]


def test_insights_stats_by_bin(logs: Any, filled: dict[str, Any]) -> None:
    g = filled["group"]
    t0 = filled["t0"] // 1000
    qid = logs.start_query(
        logGroupName=g, startTime=t0 - 60, endTime=t0 + 3600,
        queryString="fields @timestamp, @message | filter @message like /ERROR/ | stats count(*) by bin(5m)",
    )["queryId"]  # fmt: skip
    out = results(logs, qid)
    assert out["status"] == "Complete"
    got = rows(out)
    assert sum(int(r["count(*)"]) for r in got) == 10
    assert all(r["bin(5m)"].endswith(":00.000") for r in got)
    assert out["statistics"]["recordsMatched"] == 10.0
    assert out["statistics"]["recordsScanned"] >= 10.0
    assert out["statistics"]["bytesScanned"] > 0


def test_insights_fields_sort_limit_parse(logs: Any, filled: dict[str, Any]) -> None:
    g = filled["group"]
    t0 = filled["t0"] // 1000
    qid = logs.start_query(
        logGroupNames=[g], startTime=t0 - 60, endTime=t0 + 3600,
        queryString=(
            'parse @message "* * *" as stream, n, level | filter level = "INFO" and n > 20 '
            "| fields stream, n, @logStream | sort n desc, stream asc | limit 3"
        ),
    )["queryId"]  # fmt: skip
    got = rows(results(logs, qid))
    assert [(r["stream"], r["n"]) for r in got] == [("one", "24"), ("two", "24"), ("one", "23")]
    assert got[0]["@logStream"] == "one"
    described = logs.describe_queries(logGroupName=g)["queries"]
    assert qid in {q["queryId"] for q in described}
    code, _ = fails(logs.stop_query, queryId=qid)  # it has ended
    assert code == "InvalidParameterException"
    code, _ = fails(
        logs.start_query, logGroupName=g, startTime=0, endTime=1, queryString="stats nope(x)"
    )
    assert code == "MalformedQueryException"
    code, _ = fails(
        logs.start_query, logGroupName=g + "-none", startTime=0, endTime=1, queryString="fields a"
    )
    assert code == "ResourceNotFoundException"
    code, _ = fails(logs.get_query_results, queryId=str(uuid.uuid4()))
    assert code == "ResourceNotFoundException"


def test_insights_json_fields(logs: Any) -> None:
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    logs.put_log_events(
        logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": t + i, "message": json.dumps({"route": f"/r{i % 2}", "ms": i * 10})}
                   for i in range(6)],
    )  # fmt: skip
    qid = logs.start_query(
        logGroupName=group, startTime=t // 1000 - 10, endTime=t // 1000 + 10,
        queryString="stats avg(ms) as mean, max(ms), count(*) as n by route | sort route",
    )["queryId"]  # fmt: skip
    assert rows(results(logs, qid)) == [
        {"route": "/r0", "mean": "20", "max(ms)": "40", "n": "3"},
        {"route": "/r1", "mean": "30", "max(ms)": "50", "n": "3"},
    ]


def test_query_definitions(logs: Any) -> None:
    name = f"def-{uuid.uuid4().hex[:6]}"
    did = logs.put_query_definition(name=name, queryString="fields @message", logGroupNames=["/a"])[
        "queryDefinitionId"
    ]
    found = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert [(d["name"], d["logGroupNames"]) for d in found] == [(name, ["/a"])]
    logs.put_query_definition(name=name, queryString="fields @timestamp", queryDefinitionId=did)
    found = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert found[0]["queryString"] == "fields @timestamp"
    assert logs.delete_query_definition(queryDefinitionId=did)["success"] is True
    code, _ = fails(logs.delete_query_definition, queryDefinitionId=did)
    assert code == "ResourceNotFoundException"


# --------------------------------------------------------------------------- the aws CLI


def cli(server: StrongroomServer, *args: str) -> dict[str, Any]:
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "logs", *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_issues_cli_commands(server: StrongroomServer) -> None:
    """The commands of issue 14 against a group shaped like RDS's."""
    group = f"/aws/rds/instance/shop-{uuid.uuid4().hex[:6]}/postgresql"
    cli(server, "create-log-group", "--log-group-name", group)
    cli(server, "create-log-stream", "--log-group-name", group, "--log-stream-name", "shop.0")
    t = now_ms()
    events = [
        {
            "timestamp": t - 2000,
            "message": "2024-01-01 00:00:00 UTC::@:[1]:LOG:  checkpoint starting",
        },
        {
            "timestamp": t - 1000,
            "message": "2024-01-01 00:00:01 UTC::@:[2]:ERROR:  division by zero",
        },
        {"timestamp": t, "message": "2024-01-01 00:00:01 UTC::@:[2]:STATEMENT:  select 1/0"},
    ]
    cli(
        server, "put-log-events", "--log-group-name", group, "--log-stream-name", "shop.0",
        "--log-events", json.dumps(events),
    )  # fmt: skip
    found = cli(
        server, "filter-log-events", "--log-group-name", group,
        "--filter-pattern", '"division by zero"',
    )  # fmt: skip
    assert [e["message"] for e in found["events"]] == [events[1]["message"]]
    qid = cli(
        server, "start-query", "--log-group-name", group,
        "--start-time", str(t // 1000 - 60), "--end-time", str(t // 1000 + 60),
        "--query-string",
        "fields @timestamp, @message | filter @message like /ERROR/ | stats count(*) by bin(5m)",
    )["queryId"]  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        out = cli(server, "get-query-results", "--query-id", qid)
        if out["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            break
    assert out["status"] == "Complete"
    assert [[c["field"] for c in row] for row in out["results"]] == [["bin(5m)", "count(*)"]]
    assert out["results"][0][1]["value"] == "1"
    cli(server, "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7")
    described = cli(server, "describe-log-groups", "--log-group-name-prefix", group)
    assert described["logGroups"][0]["retentionInDays"] == 7
    tail = cli(
        server, "get-log-events", "--log-group-name", group, "--log-stream-name", "shop.0",
        "--start-from-head",
    )  # fmt: skip
    assert len(tail["events"]) == 3


def test_a_query_can_be_stopped_before_it_runs(logs: Any, filled: dict[str, Any]) -> None:
    qid = logs.start_query(
        logGroupName=filled["group"], startTime=0, endTime=int(time.time()) + 60,
        queryString="fields @message",
    )["queryId"]  # fmt: skip
    try:
        stopped = logs.stop_query(queryId=qid)["success"]
    except botocore.exceptions.ClientError:
        stopped = False  # it had already run
    out = results(logs, qid)
    assert out["status"] == ("Cancelled" if stopped else "Complete")
    assert {q["queryId"]: q["status"] for q in logs.describe_queries()["queries"]}[qid] == out[
        "status"
    ]


# --------------------------------------------------------------------------- metric filters


def test_metric_filters(logs: Any) -> None:
    group = new_group(logs, "/mf/")
    transform = [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1",
                  "defaultValue": 0.0}]  # fmt: skip
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=transform,
    )  # fmt: skip
    logs.put_metric_filter(
        logGroupName=group, filterName="latency", filterPattern="{ $.latency = * }",
        metricTransformations=[{"metricName": "Latency", "metricNamespace": "App",
                                "metricValue": "$.latency", "dimensions": {"Route": "$.route"}}],
    )  # fmt: skip
    found = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in found] == ["errors", "latency"]
    assert found[0]["metricTransformations"][0]["metricName"] == "Errors"
    assert found[0]["logGroupName"] == group
    by_metric = logs.describe_metric_filters(metricName="Latency", metricNamespace="App")
    assert group in {f["logGroupName"] for f in by_metric["metricFilters"]}
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["metricFilterCount"] == 2
    # Put again replaces.
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="?ERROR ?FATAL",
        metricTransformations=transform,
    )  # fmt: skip
    found = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="err")
    assert [f["filterPattern"] for f in found["metricFilters"]] == ["?ERROR ?FATAL"]
    for bad in (
        {"filterPattern": "{ $.x = }"},
        {"metricTransformations": [dict(transform[0], metricValue="lots")]},
        {"metricTransformations": [dict(transform[0], dimensions={"a": "$.a"})]},
    ):
        kwargs = {"logGroupName": group, "filterName": "bad", "filterPattern": "x",
                  "metricTransformations": transform, **bad}  # fmt: skip
        code, _ = fails(logs.put_metric_filter, **kwargs)
        assert code == "InvalidParameterException", bad
    code, _ = fails(logs.describe_metric_filters, filterNamePrefix="e")
    assert code == "InvalidParameterException"
    logs.delete_metric_filter(logGroupName=group, filterName="errors")
    code, _ = fails(logs.delete_metric_filter, logGroupName=group, filterName="errors")
    assert code == "ResourceNotFoundException"
    assert (
        logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["metricFilterCount"] == 1
    )
