"""CloudWatch authorization end to end: every served operation refused to a
forged signature, to a caller with no policy and to another account; IAM
policies on alarm ARNs, the ``cloudwatch:namespace`` condition key and tag
conditions; and CloudTrail's record of the calls."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name

from strongroom.services.cloudwatch import service as cloudwatch_service
from strongroom.testing import StrongroomServer, add_account

pytestmark = pytest.mark.e2e

OWNER = "000000000000"
OTHER = "111111111111"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-cw-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def cw(server: StrongroomServer) -> Any:
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts) -> Any:
    return server.client("cloudwatch", **two_accounts[1])


def new_user(server: StrongroomServer) -> tuple[str, Any, Any]:
    iam = server.client("iam")
    name = "cw-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "cloudwatch", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    return name, client, iam


ALARM = "owner-alarm"
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{OWNER}:alarm:{ALARM}"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def target(cw: Any) -> dict[str, str]:
    cw.put_metric_data(Namespace="Owner", MetricData=[{"MetricName": "Secret", "Value": 42.0}])
    cw.put_metric_alarm(
        AlarmName=ALARM, Namespace="Owner", MetricName="Secret", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "team", "Value": "owner"}],
    )  # fmt: skip
    return {"alarm": ALARM, "arn": ALARM_ARN}


STAT = {"Metric": {"Namespace": "Owner", "MetricName": "Secret"}, "Period": 60, "Stat": "Sum"}
#: Every served operation, with the arguments it is called with on the owner's alarm.
CALLS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "PutMetricData": lambda t: {"Namespace": "Theirs", "MetricData": [{"MetricName": "m", "Value": 1}]},
    "GetMetricStatistics": lambda t: {
        "Namespace": "Owner", "MetricName": "Secret", "StartTime": NOW - timedelta(hours=1),
        "EndTime": NOW + timedelta(minutes=5), "Period": 60, "Statistics": ["Sum"],
    },
    "GetMetricData": lambda t: {
        "MetricDataQueries": [{"Id": "m", "MetricStat": STAT}],
        "StartTime": NOW - timedelta(hours=1), "EndTime": NOW + timedelta(minutes=5),
    },
    "ListMetrics": lambda t: {},
    "PutMetricAlarm": lambda t: {
        "AlarmName": t["alarm"], "Namespace": "Owner", "MetricName": "Secret",
        "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 99.0,
        "ComparisonOperator": "GreaterThanThreshold",
    },
    "DescribeAlarms": lambda t: {},
    "DescribeAlarmsForMetric": lambda t: {"Namespace": "Owner", "MetricName": "Secret"},
    "DescribeAlarmHistory": lambda t: {"AlarmName": t["alarm"]},
    "DeleteAlarms": lambda t: {"AlarmNames": [t["alarm"]]},
    "SetAlarmState": lambda t: {"AlarmName": t["alarm"], "StateValue": "ALARM", "StateReason": "x"},
    "EnableAlarmActions": lambda t: {"AlarmNames": [t["alarm"]]},
    "DisableAlarmActions": lambda t: {"AlarmNames": [t["alarm"]]},
    "TagResource": lambda t: {"ResourceARN": t["arn"], "Tags": [{"Key": "k", "Value": "v"}]},
    "UntagResource": lambda t: {"ResourceARN": t["arn"], "TagKeys": ["team"]},
    "ListTagsForResource": lambda t: {"ResourceARN": t["arn"]},
}  # fmt: skip
#: Operations acting in the caller's own account (its metrics, its alarm of
#: that name): another account succeeds there, on its own data only.
ACCOUNT_LEVEL = {
    "PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricAlarm",
    "DescribeAlarms", "DescribeAlarmsForMetric", "DescribeAlarmHistory",
    "EnableAlarmActions", "DisableAlarmActions",
}  # fmt: skip
#: Operations naming an alarm by name: another account names its own, not there.
BY_NAME = {"DeleteAlarms", "SetAlarmState"}


def test_every_served_operation_is_covered() -> None:
    assert set(CALLS) == set(cloudwatch_service.operations)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("cloudwatch", secret_access_key="x" * 40)
    code, _ = fails(getattr(forged, xform_name(operation)), **CALLS[operation](target))
    assert code == "InvalidSignatureException"


@pytest.fixture(scope="module")
def nobody(server: StrongroomServer) -> tuple[str, Any]:
    name, client, _ = new_user(server)
    return name, client


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(nobody, target, operation) -> None:
    name, client = nobody
    code, message = fails(getattr(client, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:iam::{OWNER}:user/{name} is not authorized")
    assert f"cloudwatch:{operation}" in message


@pytest.mark.parametrize("operation", sorted(set(CALLS) - ACCOUNT_LEVEL))
def test_another_account_is_refused(theirs, target, operation) -> None:
    code, message = fails(getattr(theirs, xform_name(operation)), **CALLS[operation](target))
    if operation in BY_NAME:
        assert code == "ResourceNotFound"
    else:
        assert code == "AccessDeniedException"
        assert f"arn:aws:iam::{OTHER}:root" in message


@pytest.mark.parametrize("operation", sorted(ACCOUNT_LEVEL))
def test_another_account_sees_and_changes_only_its_own(cw, theirs, target, operation) -> None:
    out = getattr(theirs, xform_name(operation))(**CALLS[operation](target))
    out.pop("ResponseMetadata", None)
    assert OWNER not in json.dumps(out, default=str)
    assert "42.0" not in json.dumps(out, default=str)
    alarm = cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
    assert alarm["Threshold"] == 1.0 and alarm["ActionsEnabled"] is True


def test_the_owners_data_is_untouched(cw, target) -> None:
    assert cw.list_tags_for_resource(ResourceARN=ALARM_ARN)["Tags"] == [
        {"Key": "team", "Value": "owner"}
    ]
    got = cw.get_metric_statistics(**CALLS["GetMetricStatistics"](target))["Datapoints"]
    assert [p["Sum"] for p in got] == [42.0]


def test_policy_on_alarm_arns(server: StrongroomServer, cw) -> None:
    name, as_user, iam = new_user(server)
    iam.put_user_policy(
        UserName=name, PolicyName="alarms",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricAlarm", "cloudwatch:SetAlarmState"],
             "Resource": f"arn:aws:cloudwatch:us-east-1:{OWNER}:alarm:team-{name}-*"}
        ),
    )  # fmt: skip
    args = {
        "Namespace": "N", "MetricName": "m", "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold",
    }  # fmt: skip
    as_user.put_metric_alarm(AlarmName=f"team-{name}-1", **args)
    as_user.set_alarm_state(AlarmName=f"team-{name}-1", StateValue="OK", StateReason="r")
    code, message = fails(as_user.put_metric_alarm, AlarmName=f"other-{name}", **args)
    assert code == "AccessDeniedException"
    assert f"alarm:other-{name}" in message


def test_the_namespace_condition_key(server: StrongroomServer) -> None:
    name, as_user, iam = new_user(server)
    iam.put_user_policy(
        UserName=name, PolicyName="ns",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "MyApp"}}}
        ),
    )  # fmt: skip
    as_user.put_metric_data(Namespace="MyApp", MetricData=[{"MetricName": "m", "Value": 1}])
    code, _ = fails(
        as_user.put_metric_data, Namespace="Other", MetricData=[{"MetricName": "m", "Value": 1}]
    )
    assert code == "AccessDeniedException"


def test_tag_conditions(server: StrongroomServer, cw) -> None:
    name, as_user, iam = new_user(server)
    args = {
        "Namespace": "N", "MetricName": "m", "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold",
    }  # fmt: skip
    cw.put_metric_alarm(AlarmName=f"abac-{name}-a", Tags=[{"Key": "team", "Value": name}], **args)
    cw.put_metric_alarm(AlarmName=f"abac-{name}-b", **args)
    iam.put_user_policy(
        UserName=name, PolicyName="abac",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "cloudwatch:SetAlarmState", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": name}}},
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
             "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/team": name}}},
        ),
    )  # fmt: skip
    as_user.set_alarm_state(AlarmName=f"abac-{name}-a", StateValue="OK", StateReason="r")
    code, _ = fails(
        as_user.set_alarm_state, AlarmName=f"abac-{name}-b", StateValue="OK", StateReason="r"
    )
    assert code == "AccessDeniedException"
    as_user.put_metric_alarm(
        AlarmName=f"abac-{name}-c", Tags=[{"Key": "team", "Value": name}], **args
    )
    code, _ = fails(as_user.put_metric_alarm, AlarmName=f"abac-{name}-d", **args)
    assert code == "AccessDeniedException"


def test_calls_are_in_cloudtrail(server: StrongroomServer, cw, target) -> None:
    """Every call is a management event (LookupEvents returns it); PutMetricData
    records its namespace, never its values."""
    cw.put_metric_data(Namespace="Audited", MetricData=[{"MetricName": "v", "Value": 31337.0}])
    cw.get_metric_data(**CALLS["GetMetricData"](target))
    cw.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="audited")
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + 10
    names: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for event in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventSource",
                               "AttributeValue": "monitoring.amazonaws.com"}]
        )["Events"]:  # fmt: skip
            names.setdefault(event["EventName"], json.loads(event["CloudTrailEvent"]))
        if {"PutMetricData", "GetMetricData", "SetAlarmState", "PutMetricAlarm"} <= set(names):
            break
        time.sleep(0.3)
    assert {"PutMetricData", "GetMetricData", "SetAlarmState", "PutMetricAlarm"} <= set(names)
    put = names["PutMetricData"]
    assert put["eventSource"] == "monitoring.amazonaws.com" and put["managementEvent"] is True
    assert "31337" not in json.dumps(put)
    assert put["requestParameters"]["namespace"] in ("Audited", "Owner", "Theirs")
