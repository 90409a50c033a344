"""CloudWatch Logs authorization end to end: every served operation refused
to a forged signature, to a caller with no policy and to another account;
IAM policies on log-group ARNs and tag conditions."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name

from strongroom.services.logs import service as logs_service
from strongroom.testing import StrongroomServer, add_account

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
    with tempfile.TemporaryDirectory(prefix="strongroom-logs-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def logs(server: StrongroomServer) -> Any:
    return server.client("logs")


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts) -> Any:
    return server.client("logs", **two_accounts[1])


def new_user(server: StrongroomServer) -> tuple[str, Any, Any]:
    iam = server.client("iam")
    name = "l-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "logs", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    return name, client, iam


@pytest.fixture(scope="module")
def target(server: StrongroomServer, logs: Any) -> dict[str, str]:
    name = f"/authz/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name, tags={"team": "owner"})
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    logs.put_metric_filter(
        logGroupName=name, filterName="f", filterPattern="ERROR",
        metricTransformations=[{"metricName": "m", "metricNamespace": "n", "metricValue": "1"}],
    )  # fmt: skip
    logs.put_log_events(
        logGroupName=name,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "owner-only"}],
    )
    arn = f"arn:aws:logs:us-east-1:{OWNER}:log-group:{name}"
    query = logs.start_query(
        logGroupName=name, startTime=0, endTime=int(time.time()) + 60,
        queryString="fields @message",
    )["queryId"]  # fmt: skip
    definition = logs.put_query_definition(name="owner-def", queryString="fields @message")[
        "queryDefinitionId"
    ]
    export = _export_task(server, logs, name)
    return {"name": name, "arn": arn, "query": query, "definition": definition, "export": export}


ARCHIVE = "authz-archive"


def _export_task(server: StrongroomServer, logs: Any, group: str) -> str:
    """An export task of the owner's (the bucket allows CloudWatch Logs)."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket=ARCHIVE)
    principal = {"Service": "logs.us-east-1.amazonaws.com"}
    s3.put_bucket_policy(
        Bucket=ARCHIVE,
        Policy=doc(
            {"Effect": "Allow", "Principal": principal, "Action": "s3:GetBucketAcl",
             "Resource": f"arn:aws:s3:::{ARCHIVE}"},
            {"Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{ARCHIVE}/*"},
        ),
    )  # fmt: skip
    task = logs.create_export_task(
        logGroupName=group, fromTime=0, to=int(time.time() * 1000), destination=ARCHIVE,
        taskName="owner-export",
    )["taskId"]  # fmt: skip
    deadline = time.monotonic() + 30
    while logs.describe_export_tasks(taskId=task)["exportTasks"][0]["status"]["code"] not in (
        "COMPLETED", "FAILED",
    ):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return task


KEY = f"arn:aws:kms:us-east-1:{OWNER}:key/00000000-0000-0000-0000-000000000000"
NOW = int(time.time())
EMAIL = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"

#: Every served operation, with the arguments it is called with on the
#: owner's group (by ARN wherever the operation takes one).
CALLS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "AssociateKmsKey": lambda t: {"resourceIdentifier": t["arn"], "kmsKeyId": KEY},
    "CancelExportTask": lambda t: {"taskId": t["export"]},
    "CreateExportTask": lambda t: {
        "logGroupName": t["name"],
        "fromTime": 0,
        "to": NOW * 1000,
        "destination": ARCHIVE,
    },
    "DescribeExportTasks": lambda t: {},
    "CreateLogGroup": lambda t: {"logGroupName": f"/new/{uuid.uuid4().hex[:8]}"},
    "CreateLogStream": lambda t: {"logGroupName": t["name"], "logStreamName": "new"},
    "DeleteLogGroup": lambda t: {"logGroupName": t["name"]},
    "DeleteLogStream": lambda t: {"logGroupName": t["name"], "logStreamName": "s"},
    "DeleteMetricFilter": lambda t: {"logGroupName": t["name"], "filterName": "f"},
    "DescribeMetricFilters": lambda t: {"logGroupName": t["name"]},
    "PutSubscriptionFilter": lambda t: {
        "logGroupName": t["name"],
        "filterName": "sub",
        "filterPattern": "",
        "destinationArn": f"arn:aws:lambda:us-east-1:{OWNER}:function:nothing",
    },
    "DescribeSubscriptionFilters": lambda t: {"logGroupName": t["name"]},
    "PutResourcePolicy": lambda t: {
        "resourceArn": t["arn"],
        "policyDocument": doc(
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "logs:*", "Resource": "*"}
        ),
    },
    "DescribeResourcePolicies": lambda t: {"resourceArn": t["arn"]},
    "PutDataProtectionPolicy": lambda t: {
        "logGroupIdentifier": t["arn"],
        "policyDocument": json.dumps(
            {
                "Version": "2021-06-01",
                "Statement": [
                    {
                        "DataIdentifier": [EMAIL],
                        "Operation": {"Audit": {"FindingsDestination": {}}},
                    },
                    {"DataIdentifier": [EMAIL], "Operation": {"Deidentify": {"MaskConfig": {}}}},
                ],
            }
        ),
    },
    "GetDataProtectionPolicy": lambda t: {"logGroupIdentifier": t["arn"]},
    "PutAccountPolicy": lambda t: {
        "policyName": "acct",
        "policyType": "DATA_PROTECTION_POLICY",
        "policyDocument": CALLS["PutDataProtectionPolicy"](t)["policyDocument"],
    },
    "DescribeAccountPolicies": lambda t: {"policyType": "DATA_PROTECTION_POLICY"},
    "PutDestination": lambda t: {
        "destinationName": "owner-dest",
        "targetArn": f"arn:aws:kinesis:us-east-1:{OWNER}:stream/s",
        "roleArn": f"arn:aws:iam::{OWNER}:role/r",
    },
    "PutDestinationPolicy": lambda t: {
        "destinationName": "owner-dest",
        "accessPolicy": doc({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "*"}),
    },
    "DescribeDestinations": lambda t: {},
    "DeleteDestination": lambda t: {"destinationName": "owner-dest"},
    "DeleteAccountPolicy": lambda t: {"policyName": "acct", "policyType": "DATA_PROTECTION_POLICY"},
    "DeleteDataProtectionPolicy": lambda t: {"logGroupIdentifier": t["arn"]},
    "DeleteResourcePolicy": lambda t: {"resourceArn": t["arn"]},
    "DeleteSubscriptionFilter": lambda t: {"logGroupName": t["name"], "filterName": "sub"},
    "PutMetricFilter": lambda t: {
        "logGroupName": t["name"],
        "filterName": "theirs",
        "filterPattern": "x",
        "metricTransformations": [{"metricName": "m", "metricNamespace": "n", "metricValue": "1"}],
    },
    "DeleteQueryDefinition": lambda t: {"queryDefinitionId": t["definition"]},
    "DeleteRetentionPolicy": lambda t: {"logGroupName": t["name"]},
    "DescribeLogGroups": lambda t: {},
    "DescribeLogStreams": lambda t: {"logGroupIdentifier": t["arn"]},
    "DescribeQueries": lambda t: {},
    "DescribeQueryDefinitions": lambda t: {},
    "DisassociateKmsKey": lambda t: {"resourceIdentifier": t["arn"]},
    "FilterLogEvents": lambda t: {"logGroupIdentifier": t["arn"]},
    "GetLogEvents": lambda t: {"logGroupIdentifier": t["arn"], "logStreamName": "s"},
    "GetQueryResults": lambda t: {"queryId": t["query"]},
    "ListLogGroups": lambda t: {},
    "ListTagsForResource": lambda t: {"resourceArn": t["arn"]},
    "ListTagsLogGroup": lambda t: {"logGroupName": t["name"]},
    "PutLogEvents": lambda t: {
        "logGroupName": t["name"],
        "logStreamName": "s",
        "logEvents": [{"timestamp": NOW * 1000, "message": "theirs"}],
    },
    "PutQueryDefinition": lambda t: {"name": "theirs", "queryString": "fields @message"},
    "PutRetentionPolicy": lambda t: {"logGroupName": t["name"], "retentionInDays": 1},
    "StartQuery": lambda t: {
        "logGroupIdentifiers": [t["arn"]],
        "startTime": 0,
        "endTime": NOW + 60,
        "queryString": "fields @message",
    },
    "StopQuery": lambda t: {"queryId": t["query"]},
    "TagLogGroup": lambda t: {"logGroupName": t["name"], "tags": {"k": "v"}},
    "TagResource": lambda t: {"resourceArn": t["arn"], "tags": {"k": "v"}},
    "TestMetricFilter": lambda t: {"filterPattern": "x", "logEventMessages": ["x"]},
    "UntagLogGroup": lambda t: {"logGroupName": t["name"], "tags": ["team"]},
    "UntagResource": lambda t: {"resourceArn": t["arn"], "tagKeys": ["team"]},
}
#: Operations on no resource of the owner's: another account calls them on its own.
ACCOUNT_LEVEL = {
    "CreateLogGroup", "DescribeLogGroups", "ListLogGroups", "TestMetricFilter",
    "DescribeQueries", "DescribeQueryDefinitions", "PutQueryDefinition", "DescribeExportTasks",
    "PutAccountPolicy", "DescribeAccountPolicies", "DeleteAccountPolicy",
    "PutDestination", "DescribeDestinations",
}  # fmt: skip
#: Operations naming the group by name (or an id of the caller's own
#: account): another account names its own, which is not there.
BY_NAME = {
    "CreateLogStream", "DeleteLogGroup", "DeleteLogStream", "DeleteRetentionPolicy",
    "DeleteMetricFilter", "DescribeMetricFilters", "PutMetricFilter",
    "ListTagsLogGroup", "PutLogEvents", "PutRetentionPolicy", "TagLogGroup", "UntagLogGroup",
    "GetQueryResults", "StopQuery", "DeleteQueryDefinition", "CreateExportTask",
    "CancelExportTask",
    "PutSubscriptionFilter", "DescribeSubscriptionFilters", "DeleteSubscriptionFilter",
    "PutDestinationPolicy", "DeleteDestination",
}  # fmt: skip


def test_every_served_operation_is_covered() -> None:
    assert set(CALLS) == set(logs_service.operations)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("logs", secret_access_key="x" * 40)
    code, _ = fails(getattr(forged, xform_name(operation)), **CALLS[operation](target))
    assert code == "InvalidSignatureException"


@pytest.fixture(scope="module")
def nobody(server: StrongroomServer) -> tuple[str, Any]:
    """A user of the owner's account with no policy at all."""
    name, client, _ = new_user(server)
    return name, client


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(nobody, target, operation) -> None:
    name, nobody = nobody
    code, message = fails(getattr(nobody, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:iam::{OWNER}:user/{name} is not authorized")


@pytest.mark.parametrize("operation", sorted(set(CALLS) - ACCOUNT_LEVEL))
def test_another_account_is_refused(theirs, target, operation) -> None:
    code, message = fails(getattr(theirs, xform_name(operation)), **CALLS[operation](target))
    if operation in BY_NAME:
        assert code == "ResourceNotFoundException"
    else:
        assert code == "AccessDeniedException"
        assert f"arn:aws:iam::{OTHER}:root" in message


def test_another_account_lists_only_its_own(theirs, target) -> None:
    groups = theirs.describe_log_groups()["logGroups"]
    assert all(OWNER not in g["arn"] for g in groups)
    assert target["name"] not in json.dumps(theirs.describe_queries())
    assert "owner-def" not in json.dumps(theirs.describe_query_definitions())
    assert theirs.describe_export_tasks()["exportTasks"] == []
    assert theirs.describe_export_tasks(taskId=target["export"])["exportTasks"] == []


def test_an_export_needs_its_permission_and_the_group(
    server: StrongroomServer, logs, target
) -> None:
    """logs:CreateExportTask on the group's ARN decides; the bucket policy
    is checked for CloudWatch Logs itself, not for the caller."""
    name, as_user, iam = new_user(server)
    iam.put_user_policy(
        UserName=name,
        PolicyName="export",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "logs:CreateExportTask",
             "Resource": f"{target['arn']}:*"},
            {"Effect": "Allow", "Action": "logs:DescribeExportTasks", "Resource": "*"},
        ),
    )  # fmt: skip
    task = as_user.create_export_task(
        logGroupName=target["name"], fromTime=0, to=int(time.time() * 1000), destination=ARCHIVE,
    )["taskId"]  # fmt: skip
    assert as_user.describe_export_tasks(taskId=task)["exportTasks"][0]["taskId"] == task
    code, _ = fails(as_user.cancel_export_task, taskId=task)
    assert code == "AccessDeniedException"


def test_the_owners_group_is_untouched(logs, target) -> None:
    out = logs.get_log_events(logGroupName=target["name"], logStreamName="s", startFromHead=True)
    assert [e["message"] for e in out["events"]] == ["owner-only"]
    assert logs.list_tags_log_group(logGroupName=target["name"])["tags"] == {"team": "owner"}
    group = logs.describe_log_groups(logGroupNamePrefix=target["name"])["logGroups"][0]
    assert "retentionInDays" not in group


def test_policy_on_the_group_arn(server: StrongroomServer, logs) -> None:
    name, as_user, iam = new_user(server)
    mine = f"/team/{name}"
    other = f"/else/{name}"
    for g in (mine, other):
        logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName=g, logStreamName="s")
    iam.put_user_policy(
        UserName=name,
        PolicyName="write",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:DescribeLogStreams"],
             "Resource": f"arn:aws:logs:us-east-1:{OWNER}:log-group:{mine}:*"}
        ),
    )  # fmt: skip
    event = [{"timestamp": int(time.time() * 1000), "message": "m"}]
    as_user.put_log_events(logGroupName=mine, logStreamName="s", logEvents=event)
    assert len(as_user.describe_log_streams(logGroupName=mine)["logStreams"]) == 1
    code, message = fails(
        as_user.put_log_events, logGroupName=other, logStreamName="s", logEvents=event
    )
    assert code == "AccessDeniedException"
    assert f"log-group:{other}:log-stream:s" in message


def test_tag_condition(server: StrongroomServer, logs) -> None:
    name, as_user, iam = new_user(server)
    tagged, untagged = f"/abac/{name}/a", f"/abac/{name}/b"
    logs.create_log_group(logGroupName=tagged, tags={"team": name})
    logs.create_log_group(logGroupName=untagged)
    iam.put_user_policy(
        UserName=name,
        PolicyName="abac",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "logs:DescribeLogStreams", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": name}}}
        ),
    )  # fmt: skip
    assert as_user.describe_log_streams(logGroupName=tagged)["logStreams"] == []
    code, _ = fails(as_user.describe_log_streams, logGroupName=untagged)
    assert code == "AccessDeniedException"
