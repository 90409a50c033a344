"""CloudWatch end to end, with boto3 (which speaks the JSON protocol), raw
Smithy RPC v2 CBOR requests and the `aws` CLI: metric data in and out,
metric math, listings, alarms and their evaluation by the server's clock,
and CloudWatch Logs metric filters publishing into metrics that an alarm
watches."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Iterator[StrongroomServer]:
    """One real server with --time-travel per module, on each state store."""
    store_url = None
    if request.param == "postgres":
        store_url = request.getfixturevalue("postgres").create_database(
            "cw" + uuid.uuid4().hex[:12]
        )
    with StrongroomServer(time_travel=True, store_url=store_url) as srv:
        yield srv


@pytest.fixture(scope="module")
def cw(server: StrongroomServer) -> Any:
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def logs(server: StrongroomServer) -> Any:
    return server.client("logs")


def server_now(server: StrongroomServer) -> datetime:
    """The server's clock (moved by time travel), to the second."""
    return datetime.fromisoformat(server.advance_clock("0s")["now"]).replace(microsecond=0)


def aligned_now(server: StrongroomServer, second: int = 3) -> datetime:
    """Move the server's clock to `second` seconds past a minute, so that a
    test's next minutes are the ones its alarms evaluate, however long its
    calls take (each phase takes well under the minute left)."""
    wait = (second - server_now(server).second) % 60
    if wait:
        server.advance_clock(f"{wait}s")
    return server_now(server)


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def ns() -> str:
    return f"Test/{uuid.uuid4().hex[:8]}"


def wait_for(check: Callable[[], Any], timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


# --------------------------------------------------------------------------- PutMetricData


def test_values_statistic_sets_and_statistics(cw: Any, server: StrongroomServer) -> None:
    namespace, now = ns(), server_now(server)
    minute = now.replace(second=0)
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Value": 10.0, "Unit": "Milliseconds",
             "Timestamp": minute},
            {"MetricName": "Latency", "Dimensions": dims, "Values": [1.0, 2.0, 30.0],
             "Counts": [1.0, 3.0, 1.0], "Unit": "Milliseconds", "Timestamp": minute},
            {"MetricName": "Latency", "Dimensions": dims, "Unit": "Milliseconds",
             "Timestamp": minute - timedelta(minutes=1),
             "StatisticValues": {"SampleCount": 4, "Sum": 40, "Minimum": 5, "Maximum": 15}},
        ],
    )  # fmt: skip
    got = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=dims,
        StartTime=minute - timedelta(minutes=5), EndTime=minute + timedelta(minutes=1),
        Period=60, Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
    )  # fmt: skip
    points = sorted(got["Datapoints"], key=lambda p: p["Timestamp"])
    assert got["Label"] == "Latency"
    assert [p["Timestamp"] for p in points] == [minute - timedelta(minutes=1), minute]
    assert points[0] == {
        "Timestamp": minute - timedelta(minutes=1), "SampleCount": 4.0, "Sum": 40.0,
        "Average": 10.0, "Minimum": 5.0, "Maximum": 15.0, "Unit": "Milliseconds",
    }  # fmt: skip
    assert points[1]["SampleCount"] == 6.0 and points[1]["Sum"] == 47.0
    assert points[1]["Minimum"] == 1.0 and points[1]["Maximum"] == 30.0
    # Percentiles come from the values put one by one (not the statistic set).
    pct = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=dims,
        StartTime=minute, EndTime=minute + timedelta(minutes=1), Period=60,
        ExtendedStatistics=["p50", "p99"],
    )["Datapoints"]  # fmt: skip
    assert pct[0]["ExtendedStatistics"] == {"p50": 2.0, "p99": 30.0}
    # One period over both minutes; another unit sees nothing; other dimensions are another metric.
    wide = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=dims,
        StartTime=minute - timedelta(minutes=1), EndTime=minute + timedelta(minutes=1),
        Period=120, Statistics=["SampleCount"],
    )["Datapoints"]  # fmt: skip
    assert [p["SampleCount"] for p in wide] == [10.0]
    assert not cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=dims, StartTime=minute,
        EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["Sum"], Unit="Seconds",
    )["Datapoints"]  # fmt: skip
    assert not cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", StartTime=minute,
        EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip


def test_high_resolution_datapoints_keep_their_seconds(cw: Any, server: StrongroomServer) -> None:
    namespace, now = ns(), server_now(server)
    start = now.replace(second=0)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Q", "Value": v, "StorageResolution": 1,
             "Timestamp": start + timedelta(seconds=s)}
            for s, v in ((1, 1.0), (2, 2.0), (12, 5.0))
        ],
    )  # fmt: skip
    got = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Q", StartTime=start,
        EndTime=start + timedelta(seconds=30), Period=10, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    assert sorted((p["Timestamp"], p["Sum"]) for p in got) == [
        (start, 3.0), (start + timedelta(seconds=10), 5.0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "m", "Value": 1}]},
         "InvalidParameterValue", "The value AWS/EC2 for parameter Namespace is invalid."),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m"}]},
         "MissingParameter", "The parameter MetricData.member.1.Value is required."),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1,
          "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]},
         "InvalidParameterCombination", "are mutually exclusive"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Values": [1, 2], "Counts": [1]}]},
         "InvalidParameterValue", "must be of the same size"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1, "StorageResolution": 5}]},
         "InvalidParameterValue", "parameter MetricData.member.1.StorageResolution is invalid"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1,
          "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}]},
         "InvalidParameterValue", "Member must have length less than or equal to 30"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1}] * 1001},
         "InvalidParameterValue", "must not have a size greater than 1000"),
        ({"Namespace": "N", "MetricData": [{"MetricName": "m", "Values": [1.0] * 151}]},
         "InvalidParameterValue", "must not have a size greater than 150"),
    ],
)  # fmt: skip
def test_put_metric_data_refusals(cw: Any, kwargs: dict, code: str, words: str) -> None:
    got, message, status = fails(cw.put_metric_data, **kwargs)
    assert (got, status) == (code, 400)
    assert words in message


def test_timestamps_two_weeks_back_two_hours_ahead(cw: Any, server: StrongroomServer) -> None:
    now = server_now(server)
    for when, words in ((now - timedelta(days=15), "two weeks in the past"),
                        (now + timedelta(hours=3), "two hours in the future")):  # fmt: skip
        code, message, _ = fails(
            cw.put_metric_data, Namespace="N",
            MetricData=[{"MetricName": "m", "Value": 1, "Timestamp": when}],
        )  # fmt: skip
        assert code == "InvalidParameterValue" and words in message
    cw.put_metric_data(
        Namespace=ns(), MetricData=[{"MetricName": "m", "Value": 1,
                                     "Timestamp": now - timedelta(days=13)}]
    )  # fmt: skip


def test_get_metric_statistics_rules(cw: Any, server: StrongroomServer) -> None:
    now = server_now(server)
    base = {"Namespace": "N", "MetricName": "m", "EndTime": now}
    code, message, _ = fails(
        cw.get_metric_statistics, **base, StartTime=now - timedelta(days=2), Period=60,
        Statistics=["Sum"],
    )  # fmt: skip
    assert code == "InvalidParameterCombination" and "exceeds the limit of 1,440" in message
    code, _, _ = fails(
        cw.get_metric_statistics, **base, StartTime=now - timedelta(hours=1), Period=45,
        Statistics=["Sum"],
    )  # fmt: skip
    assert code == "InvalidParameterValue"
    code, _, _ = fails(
        cw.get_metric_statistics, **base, StartTime=now - timedelta(hours=1), Period=60,
    )  # fmt: skip
    assert code == "MissingParameter"
    code, _, _ = fails(
        cw.get_metric_statistics, **base, StartTime=now - timedelta(hours=1), Period=60,
        ExtendedStatistics=["median"],
    )  # fmt: skip
    assert code == "InvalidParameterValue"


# --------------------------------------------------------------------------- GetMetricData


def test_get_metric_data_with_math_scan_order_and_pages(cw: Any, server: StrongroomServer) -> None:
    namespace, now = ns(), server_now(server)
    start = now.replace(second=0) - timedelta(minutes=5)
    data = []
    for i in range(5):
        at = start + timedelta(minutes=i)
        data.append({"MetricName": "Hits", "Value": float(i + 1), "Timestamp": at})
        data.append({"MetricName": "Errors", "Value": 1.0, "Timestamp": at})
    cw.put_metric_data(Namespace=namespace, MetricData=data)

    def stat(name: str) -> dict:
        return {"Metric": {"Namespace": namespace, "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "hits", "MetricStat": stat("Hits"), "ReturnData": False},
        {"Id": "errors", "MetricStat": stat("Errors"), "Label": "errs"},
        {"Id": "rate", "Expression": "100 * errors / hits", "Label": "Error rate"},
        {"Id": "total", "Expression": "SUM(METRICS())"},
        {"Id": "most", "Expression": "MAX([hits, errors])"},
    ]
    got = cw.get_metric_data(
        MetricDataQueries=queries, StartTime=start, EndTime=start + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )  # fmt: skip
    by_id = {r["Id"]: r for r in got["MetricDataResults"]}
    assert set(by_id) == {"errors", "rate", "total", "most"}  # ReturnData False is left out
    assert by_id["errors"]["Label"] == "errs" and by_id["errors"]["Values"] == [1.0] * 5
    assert by_id["rate"]["Label"] == "Error rate"
    assert by_id["rate"]["Values"] == [100.0, 50.0, 100 / 3, 25.0, 20.0]
    assert by_id["total"]["Values"] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert by_id["most"]["Values"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert by_id["rate"]["Timestamps"][0] == start and by_id["rate"]["StatusCode"] == "Complete"
    newest_first = cw.get_metric_data(
        MetricDataQueries=[queries[1]], StartTime=start, EndTime=start + timedelta(minutes=5)
    )["MetricDataResults"][0]["Timestamps"]
    assert newest_first == sorted(newest_first, reverse=True)
    # Pages of 3 datapoints over the 5 of one query.
    page = cw.get_metric_data(
        MetricDataQueries=[queries[1]], StartTime=start, EndTime=start + timedelta(minutes=5),
        MaxDatapoints=3,
    )  # fmt: skip
    first = page["MetricDataResults"][0]
    assert len(first["Values"]) == 3 and first["StatusCode"] == "PartialData"
    rest = cw.get_metric_data(
        MetricDataQueries=[queries[1]], StartTime=start, EndTime=start + timedelta(minutes=5),
        MaxDatapoints=3, NextToken=page["NextToken"],
    )  # fmt: skip
    assert len(rest["MetricDataResults"][0]["Values"]) == 2 and "NextToken" not in rest
    code, _, _ = fails(
        cw.get_metric_data, MetricDataQueries=[queries[1]], StartTime=start,
        EndTime=start + timedelta(minutes=5), NextToken="bogus",
    )  # fmt: skip
    assert code == "InvalidNextToken"
    code, message, _ = fails(
        cw.get_metric_data, MetricDataQueries=[{"Id": "x", "Expression": "RATE(y"}],
        StartTime=start, EndTime=start + timedelta(minutes=5),
    )  # fmt: skip
    assert code == "InvalidParameterValue" and "RATE(y" in message


# --------------------------------------------------------------------------- ListMetrics


def test_list_metrics_filters_and_recently_active(cw: Any, server: StrongroomServer) -> None:
    namespace, now = ns(), server_now(server)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "A", "Value": 1, "Dimensions": [{"Name": "Env", "Value": "prod"}]},
            {"MetricName": "A", "Value": 1, "Dimensions": [{"Name": "Env", "Value": "dev"}]},
            {"MetricName": "B", "Value": 1, "Dimensions": [{"Name": "Env", "Value": "prod"},
                                                         {"Name": "Host", "Value": "h1"}]},
            {"MetricName": "C", "Value": 1, "Timestamp": now - timedelta(days=1)},
        ],
    )  # fmt: skip
    every = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(m["MetricName"] for m in every) == ["A", "A", "B", "C"]
    prod = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Env", "Value": "prod"}])
    assert sorted(m["MetricName"] for m in prod["Metrics"]) == ["A", "B"]
    with_host = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Host"}])["Metrics"]
    assert [m["MetricName"] for m in with_host] == ["B"]
    assert {d["Name"] for d in with_host[0]["Dimensions"]} == {"Env", "Host"}
    assert len(cw.list_metrics(Namespace=namespace, MetricName="A")["Metrics"]) == 2
    # A metric's activity is when data was put (the call), not the datapoint's time.
    assert len(cw.list_metrics(Namespace=namespace, RecentlyActive="PT3H")["Metrics"]) == 4
    code, _, _ = fails(cw.list_metrics, NextToken="nope")
    assert code == "InvalidNextToken"


def test_list_metrics_pages_by_500(cw: Any) -> None:
    namespace = ns()
    for chunk in range(2):
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": "M", "Value": 1, "Dimensions": [{"Name": "i", "Value": str(i)}]}
                for i in range(chunk * 300, chunk * 300 + 300)
            ],
        )
    first = cw.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    rest = cw.list_metrics(Namespace=namespace, NextToken=first["NextToken"])
    assert len(rest["Metrics"]) == 100 and "NextToken" not in rest
    seen = {m["Dimensions"][0]["Value"] for m in first["Metrics"] + rest["Metrics"]}
    assert len(seen) == 600


# --------------------------------------------------------------------------- alarms


def alarm_args(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {
        "AlarmName": name, "Namespace": namespace, "MetricName": "Errors", "Statistic": "Sum",
        "Period": 60, "EvaluationPeriods": 1, "Threshold": 3.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", **extra,
    }  # fmt: skip


def test_alarm_lifecycle_describe_history_and_tags(cw: Any, server: StrongroomServer) -> None:
    namespace, name = ns(), f"alarm-{uuid.uuid4().hex[:6]}"
    aligned_now(server)  # no evaluation comes between SetAlarmState and what it checks
    topic = "arn:aws:sns:us-east-1:000000000000:ops"
    cw.put_metric_alarm(
        **alarm_args(name, namespace), AlarmActions=[topic], AlarmDescription="too many",
        Tags=[{"Key": "team", "Value": "ops"}],
    )  # fmt: skip
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    arn = f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    assert alarm["AlarmArn"] == arn and alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmActions"] == [topic] and alarm["ActionsEnabled"] is True
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=name[:8])["MetricAlarms"]]
    assert cw.describe_alarms(AlarmNames=[name], StateValue="OK")["MetricAlarms"] == []
    assert cw.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:000000000000:o")["MetricAlarms"]
    assert (
        cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    )
    for_metric = cw.describe_alarms_for_metric(MetricName="Errors", Namespace=namespace)
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == [name]
    cw.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="testing",
        StateReasonData=json.dumps({"why": "test"}),
    )  # fmt: skip
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing")
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    kinds = [h["HistoryItemType"] for h in history]
    assert kinds[-1] == "ConfigurationUpdate" and "StateUpdate" in kinds and "Action" in kinds
    state = next(h for h in history if h["HistoryItemType"] == "StateUpdate")
    assert state["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(state["HistoryData"])["newState"]["stateReason"] == "testing"
    action = next(h for h in history if h["HistoryItemType"] == "Action")
    assert topic in action["HistorySummary"]  # recorded, not delivered
    only_config = cw.describe_alarm_history(AlarmName=name, HistoryItemType="ConfigurationUpdate")
    assert [h["HistorySummary"] for h in only_config["AlarmHistoryItems"]] == [
        f'Alarm "{name}" created'
    ]
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[name])
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    # An update keeps the tags and is a ConfigurationUpdate (its state stays
    # until the evaluation the update schedules says otherwise).
    cw.put_metric_alarm(**alarm_args(name, namespace, Threshold=10.0))
    again = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert again["Threshold"] == 10.0
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    updates = cw.describe_alarm_history(AlarmName=name, HistoryItemType="ConfigurationUpdate")
    assert updates["AlarmHistoryItems"][0]["HistorySummary"] == f'Alarm "{name}" updated'
    changed = json.loads(updates["AlarmHistoryItems"][0]["HistoryData"])["originalUpdatedFields"]
    assert changed["threshold"] == 3.0
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    last = cw.describe_alarm_history(AlarmName=name, HistoryItemType="ConfigurationUpdate")[
        "AlarmHistoryItems"
    ][0]
    assert last["HistorySummary"] == f'Alarm "{name}" deleted'
    assert json.loads(last["HistoryData"])["deletedAlarm"]["okActions"] == []
    code, _, status = fails(cw.delete_alarms, AlarmNames=[name])
    assert (code, status) == ("ResourceNotFound", 404)
    code, _, _ = fails(cw.list_tags_for_resource, ResourceARN=arn)
    assert code == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Statistic": None, "ExtendedStatistic": None}, "MissingParameter"),
        ({"ExtendedStatistic": "p90"}, "InvalidParameterCombination"),
        ({"Period": 45}, "InvalidParameterValue"),
        ({"EvaluationPeriods": 2000}, "InvalidParameterValue"),
        ({"DatapointsToAlarm": 2}, "InvalidParameterValue"),
        ({"AlarmActions": ["not-an-arn"]}, "InvalidParameterValue"),
        ({"Metrics": [{"Id": "m", "Expression": "1"}]}, "InvalidParameterCombination"),
    ],
)
def test_put_metric_alarm_refusals(cw: Any, extra: dict, code: str) -> None:
    args = alarm_args("bad", "N", **extra)
    args = {k: v for k, v in args.items() if v is not None}
    assert fails(cw.put_metric_alarm, **args)[0] == code


def test_history_pages_and_scan_order(cw: Any, server: StrongroomServer) -> None:
    name = f"pages-{uuid.uuid4().hex[:6]}"
    aligned_now(server)  # the states set stay until the next minute's evaluation
    cw.put_metric_alarm(**alarm_args(name, ns()))
    for i in range(4):
        cw.set_alarm_state(AlarmName=name, StateValue=("OK", "ALARM")[i % 2], StateReason=str(i))
    items: list[dict] = []
    token: dict[str, str] = {}
    while True:
        page = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate",
                                         MaxRecords=2, **token)  # fmt: skip
        items += page["AlarmHistoryItems"]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    reasons = [json.loads(i["HistoryData"])["newState"]["stateReason"] for i in items]
    assert reasons == ["3", "2", "1", "0"]
    oldest_first = cw.describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    assert [json.loads(i["HistoryData"])["newState"]["stateReason"] for i in oldest_first] == [
        "0", "1", "2", "3",
    ]  # fmt: skip


def state_of(cw: Any, name: str) -> dict[str, Any]:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_an_alarm_follows_its_data_by_the_clock(cw: Any, server: StrongroomServer) -> None:
    namespace, name = ns(), f"clock-{uuid.uuid4().hex[:6]}"
    now = aligned_now(server)
    cw.put_metric_alarm(**alarm_args(name, namespace, EvaluationPeriods=2, DatapointsToAlarm=2,
                                     TreatMissingData="notBreaching"))  # fmt: skip
    minute = now.replace(second=0)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Errors", "Value": 5.0, "Timestamp": minute},
                    {"MetricName": "Errors", "Value": 4.0,
                     "Timestamp": minute + timedelta(minutes=1)}],
    )  # fmt: skip
    server.advance_clock("120s")  # both minutes complete
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "ALARM" and a)
    assert alarm, state_of(cw, name)
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [")
    assert "were greater than or equal to the threshold (3.0)" in alarm["StateReason"]
    assert "(minimum 2 datapoints for OK -> ALARM transition)." in alarm["StateReason"]
    data = json.loads(alarm["StateReasonData"])
    assert data["statistic"] == "Sum" and data["period"] == 60 and data["threshold"] == 3.0
    assert sorted(data["recentDatapoints"]) == [4.0, 5.0]
    server.advance_clock("3m")  # no data for two periods: not breaching
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "OK" and a)
    assert alarm, state_of(cw, name)
    assert "missing datapoints were treated as [NonBreaching]" in alarm["StateReason"]
    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    assert [i["HistorySummary"] for i in items["AlarmHistoryItems"]] == [
        "Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]  # fmt: skip


def test_missing_data_makes_insufficient_data(cw: Any, server: StrongroomServer) -> None:
    name = f"missing-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(**alarm_args(name, ns()))
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="forced")
    server.advance_clock("61s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "INSUFFICIENT_DATA" and a)
    assert alarm and alarm["StateReason"] == "Insufficient Data: 1 datapoint was unknown."


def test_a_metric_math_alarm(cw: Any, server: StrongroomServer) -> None:
    namespace, name = ns(), f"math-{uuid.uuid4().hex[:6]}"
    minute = aligned_now(server).replace(second=0)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Errors", "Value": 3.0, "Timestamp": minute},
                    {"MetricName": "Requests", "Value": 10.0, "Timestamp": minute}],
    )  # fmt: skip

    def stat(metric: str) -> dict:
        return {"Metric": {"Namespace": namespace, "MetricName": metric}, "Period": 60,
                "Stat": "Sum"}  # fmt: skip

    cw.put_metric_alarm(
        AlarmName=name, EvaluationPeriods=1, Threshold=20.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[{"Id": "e", "MetricStat": stat("Errors"), "ReturnData": False},
                 {"Id": "r", "MetricStat": stat("Requests"), "ReturnData": False},
                 {"Id": "rate", "Expression": "100 * e / r", "ReturnData": True}],
    )  # fmt: skip
    server.advance_clock("60s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "ALARM" and a)
    assert alarm, state_of(cw, name)
    assert "[30.0 (" in alarm["StateReason"]


# --------------------------------------------------------------------------- logs -> metrics -> alarm


def test_metric_filters_publish_metrics_an_alarm_watches(
    cw: Any, logs: Any, server: StrongroomServer
) -> None:
    group, namespace = f"/app/{uuid.uuid4().hex[:6]}", ns()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="web")
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": namespace,
                                "metricValue": "1", "defaultValue": 0.0}],
    )  # fmt: skip
    logs.put_metric_filter(
        logGroupName=group, filterName="latency", filterPattern="{ $.latency > 0 }",
        metricTransformations=[{"metricName": "Latency", "metricNamespace": namespace,
                                "metricValue": "$.latency", "unit": "Milliseconds",
                                "dimensions": {"Route": "$.route"}}],
    )  # fmt: skip
    logs.put_metric_filter(
        logGroupName=group, filterName="bytes", filterPattern="[ip, user, status=5*, bytes]",
        metricTransformations=[{"metricName": "ServerErrorBytes", "metricNamespace": namespace,
                                "metricValue": "$bytes", "dimensions": {"Status": "$status"}}],
    )  # fmt: skip
    now = aligned_now(server)
    minute = now.replace(second=0)
    stamp = int(minute.timestamp() * 1000) + 1000
    messages = [
        "ERROR one", "ERROR two", "fine", "ERROR three",
        json.dumps({"latency": 120, "route": "/a"}), json.dumps({"latency": 80, "route": "/a"}),
        json.dumps({"latency": "slow", "route": "/a"}),
        "10.0.0.1 alice 503 2048", "10.0.0.2 bob 200 10", "10.0.0.3 carol 500 1000",
    ]  # fmt: skip
    logs.put_log_events(
        logGroupName=group, logStreamName="web",
        logEvents=[{"timestamp": stamp + i, "message": m} for i, m in enumerate(messages)],
    )  # fmt: skip

    def errors_sum() -> float | None:
        points = cw.get_metric_statistics(
            Namespace=namespace, MetricName="Errors", StartTime=minute,
            EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["Sum", "SampleCount"],
        )["Datapoints"]  # fmt: skip
        return points[0]["Sum"] if points else None

    assert wait_for(errors_sum) == 3.0
    latency = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=[{"Name": "Route", "Value": "/a"}],
        StartTime=minute, EndTime=minute + timedelta(minutes=1), Period=60,
        Statistics=["Average", "SampleCount"], Unit="Milliseconds",
    )["Datapoints"]  # fmt: skip
    assert latency[0]["Average"] == 100.0 and latency[0]["SampleCount"] == 2.0
    for status, size in (("503", 2048.0), ("500", 1000.0)):
        got = cw.get_metric_statistics(
            Namespace=namespace, MetricName="ServerErrorBytes",
            Dimensions=[{"Name": "Status", "Value": status}], StartTime=minute,
            EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        assert got[0]["Sum"] == size
    assert {m["MetricName"] for m in cw.list_metrics(Namespace=namespace)["Metrics"]} == {
        "Errors", "Latency", "ServerErrorBytes",
    }  # fmt: skip

    # A minute with events and no match publishes the default value.
    next_minute = minute + timedelta(minutes=1)
    server.advance_clock("60s")
    logs.put_log_events(
        logGroupName=group, logStreamName="web",
        logEvents=[{"timestamp": int(next_minute.timestamp() * 1000) + 500, "message": "quiet"}],
    )  # fmt: skip

    def default_point() -> list:
        return cw.get_metric_statistics(
            Namespace=namespace, MetricName="Errors", StartTime=next_minute,
            EndTime=next_minute + timedelta(minutes=1), Period=60, Statistics=["Sum", "SampleCount"],
        )["Datapoints"]  # fmt: skip

    point = wait_for(default_point)
    assert point and point[0]["Sum"] == 0.0 and point[0]["SampleCount"] == 1.0
    # Exactly once: more ticks publish nothing again.
    time.sleep(2.5)
    assert errors_sum() == 3.0

    # The alarm on the filter's metric, evaluated at each minute's start by
    # the clock: the minute with 3 errors (ALARM), the quiet minute whose
    # default value is 0 (OK), a minute with 3 new errors (ALARM), a minute
    # with no events at all (missing data: INSUFFICIENT_DATA).
    name = f"logs-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(**alarm_args(name, namespace, Threshold=2.0))
    server.advance_clock("0s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "ALARM" and a)
    assert alarm, state_of(cw, name)
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [3.0 (")
    assert "was greater than or equal to the threshold (2.0)" in alarm["StateReason"]
    server.advance_clock("60s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "OK" and a)
    assert alarm, state_of(cw, name)
    assert "1 datapoint [0.0 (" in alarm["StateReason"]
    assert "was not greater than or equal to the threshold (2.0)" in alarm["StateReason"]
    stamp = int(server_now(server).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="web",
        logEvents=[{"timestamp": stamp + i, "message": m}
                   for i, m in enumerate(("ERROR a", "ERROR b", "ERROR c"))],
    )  # fmt: skip
    third = datetime.fromtimestamp(stamp // 60000 * 60, UTC)

    def third_minute() -> list:
        return cw.get_metric_statistics(
            Namespace=namespace, MetricName="Errors", StartTime=third,
            EndTime=third + timedelta(minutes=1), Period=60, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip

    assert wait_for(third_minute)[0]["Sum"] == 3.0
    server.advance_clock("60s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "ALARM" and a)
    assert alarm, state_of(cw, name)
    server.advance_clock("60s")
    alarm = wait_for(lambda: (a := state_of(cw, name))["StateValue"] == "INSUFFICIENT_DATA" and a)
    assert alarm and alarm["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    assert [h["HistorySummary"] for h in history["AlarmHistoryItems"]] == [
        "Alarm updated from ALARM to INSUFFICIENT_DATA", "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]  # fmt: skip


def test_a_filter_counts_only_events_after_it_was_created(
    cw: Any, logs: Any, server: StrongroomServer
) -> None:
    group, namespace = f"/late/{uuid.uuid4().hex[:6]}", ns()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    stamp = int(server_now(server).timestamp() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": stamp, "message": "hit before"}])  # fmt: skip
    logs.put_metric_filter(
        logGroupName=group, filterName="f", filterPattern="hit",
        metricTransformations=[{"metricName": "Hits", "metricNamespace": namespace,
                                "metricValue": "1"}],
    )  # fmt: skip
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": stamp + 1, "message": "hit after"}])  # fmt: skip
    minute = datetime.fromtimestamp(stamp // 60000 * 60, UTC)

    def hits() -> float | None:
        points = cw.get_metric_statistics(
            Namespace=namespace, MetricName="Hits", StartTime=minute,
            EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return points[0]["Sum"] if points else None

    assert wait_for(hits) == 1.0


# --------------------------------------------------------------------------- CBOR and the CLI


def cbor_call(server: StrongroomServer, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """One CloudWatch call in Smithy RPC v2 CBOR, serialized, signed and
    parsed by botocore's own CBOR code."""
    import boto3

    model = (
        boto3.session.Session()
        .client(
            "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        .meta.service_model
    )
    op = model.operation_model(operation)
    wire = create_serializer("smithy-rpc-v2-cbor", include_validation=False).serialize_to_request(
        params, op
    )
    request = AWSRequest(
        method="POST", url=server.endpoint + wire["url_path"], data=wire["body"],
        headers=dict(wire["headers"]),
    )  # fmt: skip
    SigV4Auth(
        Credentials(server.access_key_id, server.secret_access_key), "monitoring", "us-east-1"
    ).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                                 headers=dict(prepared.headers))  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, body = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, body = err.code, dict(err.headers), err.read()
    from botocore.awsrequest import HeadersDict

    hdrs = HeadersDict()
    for k, v in headers.items():
        hdrs[k] = v
    parsed = create_parser("smithy-rpc-v2-cbor").parse(
        {"status_code": status, "headers": hdrs, "body": body}, op.output_shape
    )
    parsed["_status"] = status
    parsed["_headers"] = {k.lower(): v for k, v in headers.items()}
    return parsed


def test_smithy_rpc_v2_cbor_round_trip(cw: Any, server: StrongroomServer) -> None:
    namespace, now = ns(), server_now(server)
    minute = now.replace(second=0)
    put = cbor_call(server, "PutMetricData", {
        "Namespace": namespace,
        "MetricData": [{"MetricName": "C", "Value": 2.5, "Timestamp": minute, "Unit": "Count"}],
    })  # fmt: skip
    assert put["_status"] == 200 and put["_headers"]["smithy-protocol"] == "rpc-v2-cbor"
    assert put["_headers"]["content-type"] == "application/cbor"
    got = cbor_call(server, "GetMetricStatistics", {
        "Namespace": namespace, "MetricName": "C", "StartTime": minute,
        "EndTime": minute + timedelta(minutes=1), "Period": 60, "Statistics": ["Sum"],
    })  # fmt: skip
    assert got["Datapoints"] == [{"Timestamp": minute, "Sum": 2.5, "Unit": "Count"}]
    # JSON sees what CBOR put.
    assert cw.list_metrics(Namespace=namespace)["Metrics"][0]["MetricName"] == "C"
    refused = cbor_call(server, "PutMetricData", {
        "Namespace": "AWS/Lambda", "MetricData": [{"MetricName": "C", "Value": 1}],
    })  # fmt: skip
    assert refused["_status"] == 400
    assert refused["Error"]["Code"] == "InvalidParameterValue"
    assert refused["_headers"]["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_the_aws_cli(server: StrongroomServer) -> None:
    env = {**os.environ, **server.aws_env()}
    namespace = ns()

    def aws(*args: str) -> Any:
        out = subprocess.run(
            ["aws", "cloudwatch", *args, "--endpoint-url", server.endpoint, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    now = server_now(server)
    aws("put-metric-data", "--namespace", namespace, "--metric-name", "Jobs", "--value", "7",
        "--unit", "Count", "--timestamp", now.isoformat())  # fmt: skip
    stats = aws("get-metric-statistics", "--namespace", namespace, "--metric-name", "Jobs",
                "--start-time", (now - timedelta(minutes=2)).isoformat(),
                "--end-time", (now + timedelta(minutes=1)).isoformat(),
                "--period", "60", "--statistics", "Sum")  # fmt: skip
    assert [p["Sum"] for p in stats["Datapoints"]] == [7.0]
    assert aws("list-metrics", "--namespace", namespace)["Metrics"][0]["MetricName"] == "Jobs"
    aws("put-metric-alarm", "--alarm-name", f"cli-{namespace[5:]}", "--namespace", namespace,
        "--metric-name", "Jobs", "--statistic", "Sum", "--period", "60",
        "--evaluation-periods", "1", "--threshold", "5",
        "--comparison-operator", "GreaterThanThreshold")  # fmt: skip
    alarms = aws("describe-alarms", "--alarm-names", f"cli-{namespace[5:]}")["MetricAlarms"]
    assert alarms[0]["Threshold"] == 5.0
    aws("delete-alarms", "--alarm-names", f"cli-{namespace[5:]}")


def query_call(
    server: StrongroomServer, operation: str, params: dict[str, Any], secret: str | None = None,
    gzip_body: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One CloudWatch call in the query protocol (what older SDKs send),
    serialized, signed and parsed by botocore's own query code."""
    import boto3
    from botocore.awsrequest import HeadersDict

    model = (
        boto3.session.Session()
        .client(
            "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        .meta.service_model
    )
    op = model.operation_model(operation)
    wire = create_serializer("query", include_validation=False).serialize_to_request(params, op)
    body = urllib.parse.urlencode(wire["body"], doseq=True).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if gzip_body:  # as botocore's requestcompression sends a large PutMetricData
        import gzip

        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(
        Credentials(server.access_key_id, secret or server.secret_access_key),
        "monitoring", "us-east-1",
    ).add_auth(request)  # fmt: skip
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=body, method="POST",
                                 headers=dict(prepared.headers))  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, dict(err.headers), err.read()
    hdrs = HeadersDict()
    for k, v in headers.items():
        hdrs[k] = v
    parsed = create_parser("query").parse(
        {"status_code": status, "headers": hdrs, "body": raw}, op.output_shape
    )
    parsed["_status"] = status
    return parsed


def test_the_query_protocol_of_older_sdks(cw: Any, server: StrongroomServer) -> None:
    namespace, minute = ns(), server_now(server).replace(second=0)
    put = query_call(server, "PutMetricData", {
        "Namespace": namespace,
        "MetricData": [{"MetricName": "Q", "Value": 4.0, "Timestamp": minute,
                        "Dimensions": [{"Name": "d", "Value": "v"}]}],
    })  # fmt: skip
    assert put["_status"] == 200
    got = query_call(server, "GetMetricStatistics", {
        "Namespace": namespace, "MetricName": "Q", "Dimensions": [{"Name": "d", "Value": "v"}],
        "StartTime": minute, "EndTime": minute + timedelta(minutes=1), "Period": 60,
        "Statistics": ["Sum"],
    })  # fmt: skip
    assert got["Datapoints"] == [{"Timestamp": minute, "Sum": 4.0, "Unit": "None"}]
    assert cw.list_metrics(Namespace=namespace)["Metrics"][0]["MetricName"] == "Q"
    refused = query_call(server, "PutMetricData", {
        "Namespace": namespace, "MetricData": [{"MetricName": "Q"}],
    })  # fmt: skip
    assert refused["_status"] == 400 and refused["Error"]["Code"] == "MissingParameter"
    many = [{"MetricName": "Big", "Value": float(i), "Timestamp": minute} for i in range(500)]
    big = query_call(
        server, "PutMetricData", {"Namespace": namespace, "MetricData": many}, gzip_body=True
    )
    assert big["_status"] == 200
    total = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Big", StartTime=minute,
        EndTime=minute + timedelta(minutes=1), Period=60, Statistics=["SampleCount"],
    )["Datapoints"]  # fmt: skip
    assert total[0]["SampleCount"] == 500.0
    forged = query_call(server, "ListMetrics", {}, secret="x" * 40)
    assert forged["_status"] == 403 and forged["Error"]["Code"] == "SignatureDoesNotMatch"
