"""The Logs Insights query language: AWS's documented sample queries (CloudWatch
Logs User Guide, "CloudWatch Logs Insights query syntax" and "Sample
queries") compiled and run over a small set of events."""

from __future__ import annotations

import json

import pytest

from strongroom.services.logs import insights

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def compact(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def events() -> list[insights.Record]:
    out = []
    raw = [
        ("user=alice, method:GET, latency := 10", "a"),
        ("user=bob, method:PUT, latency := 30", "a"),
        ("user=alice, method:GET, latency := 50", "b"),
        ("java.lang.Exception: boom", "b"),
        (compact({"statusCode": 400, "srcAddr": "192.0.2.7", "bytes": 100}), "c"),
        (compact({"statusCode": 200, "srcAddr": "198.51.100.1", "bytes": 300}), "c"),
        (compact({"statusCode": 401, "srcAddr": "192.0.2.9", "bytes": 500}), "c"),
        ("debug: noisy", "a"),
    ]
    for i, (message, stream) in enumerate(raw):
        out.append(
            insights.record(T0 + i * 120_000, message, stream, "0:g", T0 + i * 120_000, True)
        )
    return out


def run(text: str) -> list[dict[str, str]]:
    query = insights.compile(text)
    records = events()
    if not insights.needs_json(query):
        records = [{k: v for k, v in r.items() if k.startswith("@")} for r in records]
    return [{c["field"]: c["value"] for c in row} for row in insights.run(query, records).rows]


TABLE: list[tuple[str, list[dict[str, str]]]] = [
    ("fields @timestamp, @message | sort @timestamp desc | limit 2",
     [{"@timestamp": "2023-11-14 22:27:20.000", "@message": "debug: noisy"},
      {"@timestamp": "2023-11-14 22:25:20.000",
       "@message": '{"statusCode":401,"srcAddr":"192.0.2.9","bytes":500}'}]),
    ("filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h)",
     [{"bin(1h)": "2023-11-14 22:00:00.000", "exceptionCount": "1"}]),
    ("fields @timestamp, @message | filter @message like /user/ | stats count(*) by bin(5m)",
     [{"bin(5m)": "2023-11-14 22:10:00.000", "count(*)": "1"},
      {"bin(5m)": "2023-11-14 22:15:00.000", "count(*)": "2"}]),
    ('parse @message "user=*, method:*, latency := *" as @user, @method, @latency '
     "| stats avg(@latency) by @method, @user",
     [{"@method": "GET", "@user": "alice", "avg(@latency)": "30"},
      {"@method": "PUT", "@user": "bob", "avg(@latency)": "30"}]),
    ("parse @message /user=(?<who>[a-z]+)/ | filter ispresent(who) | stats count(*) by who",
     [{"who": "alice", "count(*)": "2"}, {"who": "bob", "count(*)": "1"}]),
    ("filter statusCode in [400, 401] | fields srcAddr | sort srcAddr",
     [{"srcAddr": "192.0.2.7"}, {"srcAddr": "192.0.2.9"}]),
    ("filter statusCode not in [400, 401] and ispresent(statusCode) | fields statusCode",
     [{"statusCode": "200"}]),
    ("filter @message not like /debug/ | stats count(*) as n", [{"n": "7"}]),
    ('filter @message not like "debug" and @logStream = "a" | stats count(*) as n', [{"n": "2"}]),
    ('filter isIpv4InSubnet(srcAddr, "192.0.2.0/24") | stats sum(bytes) as total', [{"total": "600"}]),
    ("stats count_distinct(srcAddr) as n, min(bytes), max(bytes), avg(bytes)",
     [{"n": "3", "min(bytes)": "100", "max(bytes)": "500", "avg(bytes)": "300"}]),
    ("stats pct(bytes, 50) as p50, pct(bytes, 90) as p90", [{"p50": "300", "p90": "500"}]),
    ("filter statusCode >= 400 | stats count(*) by statusCode | sort statusCode desc",
     [{"statusCode": "401", "count(*)": "1"}, {"statusCode": "400", "count(*)": "1"}]),
    ("fields strlen(@message) as len | filter len < 15 | display len", [{"len": "12"}]),
    ("fields toupper(@logStream) as s, bytes * 2 as double | filter double > 500 | display s, double",
     [{"s": "C", "double": "1000"}, {"s": "C", "double": "600"}]),
    ("filter @message =~ /^java/ | fields @logStream", [{"@logStream": "b"}]),
    ("fields @logStream | dedup @logStream | sort @logStream", [
        {"@logStream": "a"}, {"@logStream": "b"}, {"@logStream": "c"}]),
    ("stats earliest(@message) as first, latest(@logStream) as last",
     [{"first": "user=alice, method:GET, latency := 10", "last": "a"}]),
    ("stats count(*) as n by @logStream | sort n desc | limit 1", [{"@logStream": "a", "n": "3"}]),
    ("fields @message | filter (statusCode = 400 or statusCode = 200) and bytes > 150 | fields bytes",
     [{"@message": '{"statusCode":200,"srcAddr":"198.51.100.1","bytes":300}', "bytes": "300"}]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t[0][:40] for t in TABLE])
def test_documented_queries(text: str, expected: list[dict[str, str]]) -> None:
    assert run(text) == expected


BAD = [
    "",
    "stats nope(x)",
    "stats count(*) by",
    "fields",
    "frobnicate x",
    "filter @message like",
    "limit 0",
    "limit 10001",
    'parse @message "a * b" as x, y',
    "parse @message /no named groups/",
    "filter x = (1",
    "fields sum(x)",
    "filter @message like /(/",
]


@pytest.mark.parametrize("text", BAD, ids=[b or "<empty>" for b in BAD])
def test_bad_queries_are_refused(text: str) -> None:
    with pytest.raises(insights.QueryError):
        insights.compile(text)


def test_commands_split_outside_quotes_and_regexes() -> None:
    assert insights.split_commands('filter @message like /a|b/ | parse @message "x|*" as y') == [
        "filter @message like /a|b/",
        'parse @message "x|*" as y',
    ]


def test_the_literal_of_a_like_filter_lets_a_scan_skip_batches() -> None:
    q = insights.compile("fields @message | filter @message like /ERROR/ | stats count(*)")
    assert [s.literal for s in q.steps if s.kind == "filter"] == ["ERROR"]
    q = insights.compile("filter @message like /ERR.R/")
    assert q.steps[0].literal is None
