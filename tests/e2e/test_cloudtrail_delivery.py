"""CloudTrail delivery end to end, on a --time-travel server: the issue's
user commands with the unmodified `aws` CLI (bucket, policy, trail with
validation, KMS key, CloudWatch Logs group and role, advanced selectors);
log files at AWS's key layout, SSE-KMS under the trail's key, parsed and
compared with LookupEvents; `aws cloudtrail validate-logs` valid on the
untouched bucket and INVALID for each tampering; a bucket policy changed to
deny, then fixed; kill -9 between events and delivery; basic selectors that
exclude KMS and select S3 data events; CloudWatch Logs delivery within
seconds, with a metric filter matching DisableKey; CreateTrail's bucket,
key and Logs checks (AWS's errors)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
import requests

from strongroom.testing import StrongroomServer

ACCT = "000000000000"
REGION = "us-east-1"
#: The other Region the multi-region trail of the issue's commands sees work in.
WEST = "us-west-2"
#: A log file of the events of Region `r`, under that Region.
LOG_KEY = re.compile(
    rf"^(?:[\w/-]+/)?AWSLogs/{ACCT}/CloudTrail/(?P<r>[a-z0-9-]+)/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCT}_CloudTrail_(?P=r)_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz$"
)
#: A digest of Region `r` of a trail whose home Region is REGION.
DIGEST_KEY = re.compile(
    rf"^(?:[\w/-]+/)?AWSLogs/{ACCT}/CloudTrail-Digest/(?P<r>[a-z0-9-]+)/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCT}_CloudTrail-Digest_(?P=r)_[\w.-]+_{REGION}_\d{{8}}T\d{{6}}Z\.json\.gz$"
)


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def trail_arn(name: str) -> str:
    return f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/{name}"


def bucket_policy(bucket: str, name: str | None, prefix: str = "", effect: str = "Allow") -> str:
    """CloudTrail's documented bucket policy (AWSCloudTrailAclCheck and
    AWSCloudTrailWrite), conditioned on the trail's ARN when `name` is given."""
    source = {"StringEquals": {"aws:SourceArn": trail_arn(name)}} if name else {}
    base = f"{prefix}/" if prefix else ""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": effect,
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}", "Condition": source},
        {"Sid": "AWSCloudTrailWrite", "Effect": effect,
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{base}AWSLogs/{ACCT}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                        **source.get("StringEquals", {})}}},
    ]})  # fmt: skip


def key_policy() -> str:
    """The key policy CloudTrail's docs give: the account, and CloudTrail's
    GenerateDataKey* for this account's trails."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow CloudTrail to encrypt logs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {
             "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCT}:trail/*"}}},
        {"Sid": "Allow CloudTrail to describe key", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:DescribeKey", "Resource": "*"},
    ]})  # fmt: skip


TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
     "Action": "sts:AssumeRole"}]})  # fmt: skip


def logs_permissions(group: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{REGION}:{ACCT}:log-group:{group}:log-stream:*"}]})  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer(time_travel=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


@pytest.fixture(scope="module")
def ct(server: StrongroomServer) -> Any:
    return server.client("cloudtrail")


#: Where the CLI commands' file:// documents are written.
WORK_DIR = tempfile.mkdtemp(prefix="strongroom-ctd-cli-")


def aws(server: StrongroomServer, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The unmodified aws CLI, pointed at the server by AWS_ENDPOINT_URL."""
    env = {**os.environ, **server.aws_env(), "AWS_PAGER": ""}
    done = subprocess.run(
        ["aws", *args], env=env, capture_output=True, text=True, timeout=300, check=False,
        cwd=WORK_DIR,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def deliver(server: StrongroomServer, duration: str = "6m") -> None:
    """Let the audit recorder store the events (within 0.25 s), then move the
    clock past the next delivery: the move runs the due jobs."""
    time.sleep(0.6)
    server.advance_clock(duration)


def settled(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """`read()` once `done` says so, or at the timeout (a bound that catches a
    hang, not a speed target)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = read()
    return value


def objects(s3: Any, bucket: str, marker: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", []) if marker in o["Key"]]
    return sorted(keys)


def records(s3: Any, bucket: str, keys: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        out += json.loads(gzip.decompress(body))["Records"]
    return out


def new_bucket(s3: Any, trail: str | None, prefix: str = "") -> str:
    bucket = "ct-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, trail, prefix))
    return bucket


# -- CreateTrail's checks of its destinations ---------------------------------


def test_create_trail_checks_the_bucket_through_s3(s3, ct) -> None:
    name = "chk-" + uuid.uuid4().hex[:8]
    missing = "ct-missing-" + uuid.uuid4().hex[:8]
    assert fails(ct.create_trail, Name=name, S3BucketName=missing)[0] == (
        "S3BucketDoesNotExistException"
    )
    bare = "ct-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bare)
    code, message = fails(ct.create_trail, Name=name, S3BucketName=bare)
    assert code == "InsufficientS3BucketPolicyException"
    assert message == f"Incorrect S3 bucket policy is detected for bucket: {bare}"
    # A policy for another trail (aws:SourceArn) does not let this one in.
    s3.put_bucket_policy(Bucket=bare, Policy=bucket_policy(bare, "someone-else"))
    assert fails(ct.create_trail, Name=name, S3BucketName=bare)[0] == (
        "InsufficientS3BucketPolicyException"
    )
    # ... nor a policy for another prefix.
    s3.put_bucket_policy(Bucket=bare, Policy=bucket_policy(bare, name, prefix="elsewhere"))
    assert fails(ct.create_trail, Name=name, S3BucketName=bare, S3KeyPrefix="mine")[0] == (
        "InsufficientS3BucketPolicyException"
    )
    # ... nor one whose write asks for another canned ACL, or that also denies.
    wrong_acl = json.loads(bucket_policy(bare, name, prefix="mine"))
    wrong_acl["Statement"][1]["Condition"]["StringEquals"]["s3:x-amz-acl"] = "private"
    s3.put_bucket_policy(Bucket=bare, Policy=json.dumps(wrong_acl))
    assert fails(ct.create_trail, Name=name, S3BucketName=bare, S3KeyPrefix="mine")[0] == (
        "InsufficientS3BucketPolicyException"
    )
    denying = json.loads(bucket_policy(bare, name, prefix="mine"))
    denying["Statement"].append({
        "Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bare}"})  # fmt: skip
    s3.put_bucket_policy(Bucket=bare, Policy=json.dumps(denying))
    assert fails(ct.create_trail, Name=name, S3BucketName=bare, S3KeyPrefix="mine")[0] == (
        "InsufficientS3BucketPolicyException"
    )
    s3.put_bucket_policy(Bucket=bare, Policy=bucket_policy(bare, name, prefix="mine"))
    made = ct.create_trail(Name=name, S3BucketName=bare, S3KeyPrefix="mine")
    assert made["S3BucketName"] == bare
    # UpdateTrail checks the new destination too.
    assert fails(ct.update_trail, Name=name, S3KeyPrefix="other")[0] == (
        "InsufficientS3BucketPolicyException"
    )
    ct.delete_trail(Name=name)


def test_create_trail_checks_the_logs_group_and_role(server, s3, ct) -> None:
    iam, logs = server.client("iam"), server.client("logs")
    name = "cwl-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    group = "grp-" + uuid.uuid4().hex[:8]
    group_arn = f"arn:aws:logs:{REGION}:{ACCT}:log-group:{group}:*"
    role = "role-" + uuid.uuid4().hex[:8]
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
             "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    given = {
        "Name": name,
        "S3BucketName": bucket,
        "CloudWatchLogsLogGroupArn": group_arn,
        "CloudWatchLogsRoleArn": role_arn,
    }
    assert fails(ct.create_trail, **given)[0] == "InvalidCloudWatchLogsLogGroupArnException"
    logs.create_log_group(logGroupName=group)
    code, message = fails(ct.create_trail, **given)
    assert code == "InvalidCloudWatchLogsRoleArnException", message
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=TRUST)
    code, message = fails(ct.create_trail, **given)
    assert code == "InvalidCloudWatchLogsLogGroupArnException", message
    assert "adequate permissions" in message
    iam.put_role_policy(RoleName=role, PolicyName="logs", PolicyDocument=logs_permissions(group))
    made = ct.create_trail(**given)
    assert made["CloudWatchLogsLogGroupArn"] == group_arn
    ct.delete_trail(Name=name)


# -- the commands, with the aws CLI -----------------------------------


@pytest.fixture(scope="module")
def org_audit(server: StrongroomServer, s3, ct) -> dict[str, Any]:
    """The issue's user commands as written (plus the key, role and group
    they name), then work: KMS, IAM and S3 calls."""
    work = Path(WORK_DIR)
    (work / "cloudtrail-policy.json").write_text(bucket_policy("trail-bucket", "org-audit"))
    (work / "key-policy.json").write_text(key_policy())
    (work / "trust.json").write_text(TRUST)
    (work / "logs.json").write_text(logs_permissions("trail"))
    (work / "selectors.json").write_text(json.dumps([
        {"Name": "management", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]}]},
        {"Name": "objects in data-bucket", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::data-bucket/"]}]},
    ]))  # fmt: skip
    key = json.loads(aws(server, "kms", "create-key", "--policy", "file://key-policy.json").stdout)
    key_arn = key["KeyMetadata"]["Arn"]
    aws(server, "kms", "create-alias", "--alias-name", "alias/trail", "--target-key-id", key_arn)
    aws(server, "iam", "create-role", "--role-name", "trail-to-logs",
        "--assume-role-policy-document", "file://trust.json")  # fmt: skip
    aws(server, "iam", "put-role-policy", "--role-name", "trail-to-logs", "--policy-name", "logs",
        "--policy-document", "file://logs.json")  # fmt: skip
    aws(server, "logs", "create-log-group", "--log-group-name", "trail")
    aws(server, "s3", "mb", "s3://trail-bucket")
    aws(server, "s3api", "put-bucket-policy", "--bucket", "trail-bucket",
        "--policy", "file://cloudtrail-policy.json")  # fmt: skip
    created = json.loads(aws(server,
        "cloudtrail", "create-trail", "--name", "org-audit", "--s3-bucket-name", "trail-bucket",
        "--is-multi-region-trail", "--enable-log-file-validation", "--kms-key-id", "alias/trail",
        "--cloud-watch-logs-log-group-arn", f"arn:aws:logs:us-east-1:{ACCT}:log-group:trail:*",
        "--cloud-watch-logs-role-arn", f"arn:aws:iam::{ACCT}:role/trail-to-logs",
    ).stdout)  # fmt: skip
    assert created["KmsKeyId"] == key_arn
    aws(server, "cloudtrail", "start-logging", "--name", "org-audit")
    aws(server, "cloudtrail", "put-event-selectors", "--trail-name", "org-audit",
        "--advanced-event-selectors", "file://selectors.json")  # fmt: skip
    started = datetime.fromisoformat(server.advance_clock("0s")["now"])
    # ... work ...
    kms = server.client("kms")
    work_key = kms.create_key(Description="work")["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=work_key, Plaintext=b"secret")
    kms.disable_key(KeyId=work_key)
    server.client("iam").list_users()
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key="a.txt", Body=b"a")
    s3.get_object(Bucket="data-bucket", Key="a.txt")["Body"].read()
    # Work in another Region: the multi-region trail logs it there.
    west_key = server.client("kms", region=WEST).create_key(Description="west")["KeyMetadata"]
    deliver(server)
    return {
        "key_arn": key_arn, "work_key": work_key, "started": started,
        "west_key_arn": west_key["Arn"],
    }  # fmt: skip


def test_log_files_at_aws_key_layout_and_sse_kms(s3, org_audit) -> None:
    logs = objects(s3, "trail-bucket", "/CloudTrail/")
    assert logs, "no log file was delivered"
    assert {LOG_KEY.match(k).group("r") for k in logs} >= {REGION, WEST}  # type: ignore[union-attr]
    for key in logs:
        assert LOG_KEY.match(key), key
        head = s3.head_object(Bucket="trail-bucket", Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == org_audit["key_arn"]
        assert head["ContentType"] == "application/json"
        assert head["ContentEncoding"] == "gzip"


def test_delivered_records_match_lookup_events(server, s3, ct, org_audit) -> None:
    delivered = records(s3, "trail-bucket", objects(s3, "trail-bucket", "/CloudTrail/"))
    names = [r["eventName"] for r in delivered]
    for wanted in ("CreateKey", "Encrypt", "DisableKey", "ListUsers", "PutObject", "GetObject"):
        assert wanted in names, names
    assert names.count("DisableKey") == 1
    # Each Region's file holds its Region's events: the west key's CreateKey
    # is in us-west-2's file.
    for key in objects(s3, "trail-bucket", "/CloudTrail/"):
        region = LOG_KEY.match(key).group("r")  # type: ignore[union-attr]
        assert {r["awsRegion"] for r in records(s3, "trail-bucket", [key])} == {region}, key
    west = records(s3, "trail-bucket", objects(s3, "trail-bucket", f"/CloudTrail/{WEST}/"))
    assert any(
        r["eventName"] == "CreateKey" and r["responseElements"]["keyMetadata"]["arn"]
        == org_audit["west_key_arn"] for r in west
    ), west  # fmt: skip
    # Management events are LookupEvents' own records (in their Region),
    # byte for byte in meaning.
    lookups = {REGION: ct, WEST: server.client("cloudtrail", region=WEST)}
    for rec in delivered:
        if rec["eventCategory"] != "Management":
            continue
        found = lookups[rec["awsRegion"]].lookup_events(
            LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": rec["eventID"]}]
        )["Events"]
        assert len(found) == 1, rec["eventName"]
        assert json.loads(found[0]["CloudTrailEvent"]) == rec
    # S3 object events are data events: in the files, never in LookupEvents.
    data = [r for r in delivered if r["eventCategory"] == "Data"]
    assert {r["eventName"] for r in data} >= {"PutObject", "GetObject"}
    for rec in data:
        assert rec["resources"][0]["ARN"].startswith("arn:aws:s3:::data-bucket/") or any(
            r["ARN"] == "arn:aws:s3:::data-bucket/a.txt" for r in rec["resources"]
        )
        assert not ct.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": rec["eventID"]}]
        )["Events"]


def test_cloudtrail_own_data_key_is_audited_as_cloudtrail(server, ct, org_audit) -> None:
    deliver(server, "1s")
    found = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateDataKey"}]
    )["Events"]
    mine = [json.loads(e["CloudTrailEvent"]) for e in found]
    ours = [e for e in mine if e["userIdentity"].get("invokedBy") == "cloudtrail.amazonaws.com"]
    assert ours, mine
    event = ours[0]
    assert event["userIdentity"]["type"] == "AWSService"
    assert event["requestParameters"]["encryptionContext"]["aws:cloudtrail:arn"] == trail_arn(
        "org-audit"
    )
    assert event["requestParameters"]["encryptionContext"]["aws:s3:arn"].startswith(
        "arn:aws:s3:::trail-bucket/AWSLogs/"
    )


def test_status_shows_true_delivery_times(ct, org_audit) -> None:
    status = settled(  # Logs delivery: background work, within seconds
        lambda: ct.get_trail_status(Name="org-audit"),
        lambda s: "LatestCloudWatchLogsDeliveryTime" in s,
    )
    assert status["IsLogging"] is True
    assert "LatestDeliveryError" not in status
    assert status["LatestDeliveryTime"] > org_audit["started"] - timedelta(seconds=5)
    assert "LatestCloudWatchLogsDeliveryTime" in status


def test_cloudwatch_logs_gets_each_event_within_seconds(server, org_audit) -> None:
    logs = server.client("logs")
    stream = f"{ACCT}_CloudTrail_{REGION}"
    logs.put_metric_filter(
        logGroupName="trail",
        filterName="disable-key",
        filterPattern='{ $.eventName = "DisableKey" }',
        metricTransformations=[
            {"metricName": "DisableKey", "metricNamespace": "Trail", "metricValue": "1"}
        ],
    )
    server.client("kms").disable_key(KeyId=org_audit["work_key"])
    deadline = time.monotonic() + 15
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(found) < 2:
        found = logs.filter_log_events(
            logGroupName="trail",
            logStreamNames=[stream],
            filterPattern='{ $.eventName = "DisableKey" }',
        )["events"]
        time.sleep(0.5)
    assert len(found) == 2, found  # the first delivery's and the one just made
    message = found[-1]["message"]
    tested = logs.test_metric_filter(
        filterPattern='{ $.eventName = "DisableKey" }', logEventMessages=[message, '{"a": 1}']
    )["matches"]
    assert [m["eventNumber"] for m in tested] == [1]
    assert json.loads(message)["eventSource"] == "kms.amazonaws.com"


def test_an_alarm_fires_on_disable_key_through_the_trail(server, org_audit) -> None:
    """The classic recipe end to end: the trail's events in CloudWatch Logs,
    a metric filter on KMS DisableKey / ScheduleKeyDeletion, a CloudWatch
    alarm on its metric going to ALARM when a key is disabled."""
    logs, cw, kms = server.client("logs"), server.client("cloudwatch"), server.client("kms")
    pattern = (
        "{ ($.eventSource = kms.amazonaws.com) && "
        "(($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"
    )
    logs.put_metric_filter(
        logGroupName="trail",
        filterName="kms-disable-or-delete",
        filterPattern=pattern,
        metricTransformations=[
            {"metricName": "KMSKeyDisableOrDelete", "metricNamespace": "CISBenchmark",
             "metricValue": "1"}
        ],
    )  # fmt: skip
    cw.put_metric_alarm(
        AlarmName="kms-disable-or-delete",
        Namespace="CISBenchmark",
        MetricName="KMSKeyDisableOrDelete",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    key = kms.create_key(Description="to be disabled")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        alarm = cw.describe_alarms(AlarmNames=["kms-disable-or-delete"])["MetricAlarms"][0]
        state = alarm["StateValue"]
        if state == "ALARM":
            break
        listed = cw.list_metrics(Namespace="CISBenchmark")["Metrics"]
        if listed:  # the datapoint is in: let its minute end
            server.advance_clock("30s")
        time.sleep(1.0)
    assert state == "ALARM", alarm
    assert "Threshold Crossed" in alarm["StateReason"], alarm["StateReason"]


# -- validate-logs -------------------------------------------------------------


def validate(
    server: StrongroomServer, org_audit: dict[str, Any], region: str = REGION
) -> subprocess.CompletedProcess:
    """validate-logs over `region`'s digests (the CLI's Region picks them,
    and the public keys: ListPublicKeys in that Region)."""
    start = (org_audit["started"] - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return aws(server,
        "cloudtrail", "validate-logs", "--trail-arn", trail_arn("org-audit"),
        "--start-time", start, "--end-time", end, "--verbose", "--region", region, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def all_digests(server, s3, org_audit) -> list[str]:
    """Three hours of the clock (work in the home Region only): three digests
    chained in each Region the trail has seen work in, log files in them."""
    for _ in range(3):
        server.client("kms").list_keys()
        deliver(server, "61m")
    return objects(s3, "trail-bucket", "/CloudTrail-Digest/")


@pytest.fixture(scope="module")
def digested(all_digests) -> list[str]:
    """The home Region's digests."""
    digests = [k for k in all_digests if f"/CloudTrail-Digest/{REGION}/" in k]
    assert len(digests) >= 3, all_digests
    return digests


def test_validate_logs_passes_on_the_untouched_trail(server, s3, org_audit, digested) -> None:
    for key in digested:
        assert DIGEST_KEY.match(key), key
        head = s3.head_object(Bucket="trail-bucket", Key=key)
        assert head["Metadata"]["signature-algorithm"] == "SHA256withRSA"
        assert re.fullmatch(r"[0-9a-f]+", head["Metadata"]["signature"])
        assert head["ServerSideEncryption"] == "aws:kms"
    done = validate(server, org_audit)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INVALID" not in done.stdout
    assert re.search(r"[1-9]\d*/[1-9]\d* digest files valid", done.stdout), done.stdout
    assert re.search(r"[1-9]\d*/[1-9]\d* log files valid", done.stdout), done.stdout


def _restoring(s3: Any, key: str) -> tuple[bytes, dict[str, str]]:
    got = s3.get_object(Bucket="trail-bucket", Key=key)
    return got["Body"].read(), got["Metadata"]


def _put_back(s3: Any, key: str, body: bytes, metadata: dict[str, str]) -> None:
    s3.put_object(Bucket="trail-bucket", Key=key, Body=body, Metadata=metadata)


def test_validate_logs_passes_in_each_region_of_the_multi_region_trail(
    server, s3, org_audit, all_digests
) -> None:
    west = [k for k in all_digests if f"/CloudTrail-Digest/{WEST}/" in k]
    assert len(west) >= 3, all_digests  # its empty hours are digested too
    docs = [json.loads(gzip.decompress(_restoring(s3, k)[0])) for k in west]
    east = json.loads(gzip.decompress(_restoring(s3, _home_digests(all_digests)[0])[0]))
    assert docs[0]["previousDigestS3Object"] is None  # the Region's own chain
    assert all(f"/CloudTrail/{WEST}/" in f["s3Object"] for d in docs for f in d["logFiles"])
    assert any(d["logFiles"] for d in docs)
    assert {d["digestPublicKeyFingerprint"] for d in docs} != {east["digestPublicKeyFingerprint"]}
    west_keys = server.client("cloudtrail", region=WEST).list_public_keys()["PublicKeyList"]
    assert docs[-1]["digestPublicKeyFingerprint"] in {k["Fingerprint"] for k in west_keys}
    done = validate(server, org_audit, WEST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INVALID" not in done.stdout
    assert f"/CloudTrail-Digest/{WEST}/" in done.stdout
    assert f"/CloudTrail-Digest/{REGION}/" not in done.stdout
    assert re.search(r"[3-9]\d*/[3-9]\d* digest files valid", done.stdout), done.stdout
    assert re.search(r"[1-9]\d*/[1-9]\d* log files valid", done.stdout), done.stdout
    # A changed log file of us-west-2 is INVALID there, and not the home Region's business.
    key = _digested_logs(s3, west)[0]
    body, meta = _restoring(s3, key)
    _put_back(s3, key, gzip.compress(b'{"Records": []}'), meta)
    try:
        done = validate(server, org_audit, WEST)
        assert done.returncode != 0
        assert (
            f"s3://trail-bucket/{key}\tINVALID: hash value doesn't match"
            in done.stdout + done.stderr
        )
        assert validate(server, org_audit, REGION).returncode == 0
    finally:
        _put_back(s3, key, body, meta)


def _home_digests(keys: list[str]) -> list[str]:
    return [k for k in keys if f"/CloudTrail-Digest/{REGION}/" in k]


def _digested_logs(s3: Any, digests: list[str]) -> list[str]:
    named = []
    for key in digests:
        body = s3.get_object(Bucket="trail-bucket", Key=key)["Body"].read()
        named += [f["s3Object"] for f in json.loads(gzip.decompress(body))["logFiles"]]
    assert named
    return named


def test_validate_logs_flags_a_changed_log_file(server, s3, org_audit, digested) -> None:
    key = _digested_logs(s3, digested)[0]
    body, meta = _restoring(s3, key)
    changed = json.loads(gzip.decompress(body))
    changed["Records"][0]["eventName"] = "Tampered"
    _put_back(s3, key, gzip.compress(json.dumps(changed).encode()), meta)
    try:
        done = validate(server, org_audit)
        assert done.returncode != 0
        assert (
            f"s3://trail-bucket/{key}\tINVALID: hash value doesn't match"
            in done.stdout + done.stderr
        )
    finally:
        _put_back(s3, key, body, meta)


def test_validate_logs_flags_a_deleted_log_file(server, s3, org_audit, digested) -> None:
    key = _digested_logs(s3, digested)[-1]
    body, meta = _restoring(s3, key)
    s3.delete_object(Bucket="trail-bucket", Key=key)
    try:
        done = validate(server, org_audit)
        assert done.returncode != 0
        assert f"s3://trail-bucket/{key}\tINVALID: not found" in done.stdout + done.stderr
    finally:
        _put_back(s3, key, body, meta)


def test_validate_logs_flags_a_changed_digest(server, s3, org_audit, digested) -> None:
    key = digested[1]
    body, meta = _restoring(s3, key)
    doc = json.loads(gzip.decompress(body))
    doc["logFiles"] = []
    _put_back(s3, key, gzip.compress(json.dumps(doc).encode()), meta)
    try:
        done = validate(server, org_audit)
        assert done.returncode != 0
        assert (
            f"s3://trail-bucket/{key}\tINVALID: signature verification failed"
            in done.stdout + done.stderr
        )
    finally:
        _put_back(s3, key, body, meta)


def test_validate_logs_flags_a_moved_digest(server, s3, org_audit, digested) -> None:
    key = digested[-1]
    stamp = re.search(r"_(\d{8}T\d{6})Z\.json\.gz$", key).group(1)  # type: ignore[union-attr]
    later = (datetime.strptime(stamp, "%Y%m%dT%H%M%S") + timedelta(seconds=1)).strftime(
        "%Y%m%dT%H%M%S"
    )
    moved = key.replace(stamp, later)
    body, meta = _restoring(s3, key)
    _put_back(s3, moved, body, meta)
    s3.delete_object(Bucket="trail-bucket", Key=key)
    try:
        done = validate(server, org_audit)
        assert done.returncode != 0
        assert f"s3://trail-bucket/{moved}\tINVALID: has been moved" in done.stdout + done.stderr
    finally:
        s3.delete_object(Bucket="trail-bucket", Key=moved)
        _put_back(s3, key, body, meta)


def test_validate_logs_flags_a_broken_chain(server, s3, org_audit, digested) -> None:
    key = digested[1]
    body, meta = _restoring(s3, key)
    s3.delete_object(Bucket="trail-bucket", Key=key)
    try:
        done = validate(server, org_audit)
        assert done.returncode != 0
        assert f"s3://trail-bucket/{key}\tINVALID: not found" in done.stdout + done.stderr
    finally:
        _put_back(s3, key, body, meta)
    assert validate(server, org_audit).returncode == 0


# -- a refused delivery, then fixed ---------------------------------------------


def test_a_bucket_that_denies_shows_the_error_and_gets_the_files_once_fixed(server, s3, ct) -> None:
    name = "deny-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    ct.create_trail(Name=name, S3BucketName=bucket)
    ct.start_logging(Name=name)
    deliver(server, "1s")  # the first (immediate) delivery
    marker = "marker-" + uuid.uuid4().hex[:8]
    server.client("iam").create_user(UserName=marker)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, name, effect="Deny"))
    deliver(server)
    status = ct.get_trail_status(Name=name)
    assert status["LatestDeliveryError"] == "AccessDenied"
    assert status["LatestDeliveryAttemptTime"]
    assert not [
        r for r in records(s3, bucket, objects(s3, bucket, "/CloudTrail/"))
        if r["eventName"] == "CreateUser"
    ]  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, name))
    deliver(server)
    status = ct.get_trail_status(Name=name)
    assert "LatestDeliveryError" not in status
    created = [
        r for r in records(s3, bucket, objects(s3, bucket, "/CloudTrail/"))
        if r["eventName"] == "CreateUser"
        and r["requestParameters"]["userName"] == marker
    ]  # fmt: skip
    assert len(created) == 1
    ct.delete_trail(Name=name)


# -- basic selectors: excluding KMS, selecting S3 data events --------------------


def test_basic_selectors_exclude_kms_and_select_s3_objects(server, s3, ct) -> None:
    name = "sel-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    data = "ct-data-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=data)
    ct.create_trail(Name=name, S3BucketName=bucket)
    ct.put_event_selectors(
        TrailName=name,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{data}/"]}],
            }
        ],
    )
    ct.start_logging(Name=name)
    deliver(server, "1s")
    server.client("kms").list_keys()
    server.client("iam").list_roles()
    s3.put_object(Bucket=data, Key="x", Body=b"x")
    s3.get_object(Bucket=data, Key="x")["Body"].read()
    # A browser-based upload; its policy outlives the clock this module moves on.
    form = s3.generate_presigned_post(data, "posted", ExpiresIn=30 * 86400)
    posted = requests.post(form["url"], data=form["fields"], files={"file": b"z"}, timeout=30)
    assert posted.status_code == 204, posted.text
    s3.put_object(Bucket=bucket, Key="unselected", Body=b"y")
    deliver(server)
    got = records(s3, bucket, objects(s3, bucket, "/CloudTrail/"))
    sources = {r["eventSource"] for r in got}
    assert "kms.amazonaws.com" not in sources
    names = [(r["eventName"], r["eventCategory"]) for r in got]
    assert ("ListRoles", "Management") in names
    assert ("PutObject", "Data") in names and ("GetObject", "Data") in names
    (post,) = [r for r in got if r["eventName"] == "PostObject"]
    assert post["eventCategory"] == "Data" and post["eventSource"] == "s3.amazonaws.com"
    assert post["requestParameters"] == {"bucketName": data, "key": "posted"}
    assert post["userIdentity"]["accountId"] == "000000000000"
    assert f"arn:aws:s3:::{data}/posted" in [r.get("ARN") for r in post["resources"]]
    assert not [
        r for r in got
        if r["eventCategory"] == "Data" and r["requestParameters"].get("bucketName") == bucket
    ]  # fmt: skip
    ct.delete_trail(Name=name)


# -- kill -9 between the events and their delivery ----------------------------------


def _created_users(s3: Any, bucket: str) -> list[str]:
    return [
        r["requestParameters"]["userName"]
        for r in records(s3, bucket, objects(s3, bucket, "/CloudTrail/"))
        if r["eventName"] == "CreateUser"
    ]


@pytest.mark.parametrize(("store", "workers"), [("sqlite", 1), ("postgres", 2)])
def test_kill_9_between_events_and_delivery_loses_and_doubles_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, store: str, workers: int
) -> None:
    """Events stored, then every server process killed before the delivery;
    after the restart each is delivered once. On PostgreSQL with two worker
    processes, one of which holds the scheduler lease and delivers."""
    store_url = None
    if store == "postgres":
        store_url = request.getfixturevalue("postgres").create_database("t" + uuid.uuid4().hex[:12])
    srv = StrongroomServer(
        tmp_path / "data", time_travel=True, store_url=store_url, workers=workers
    ).start()
    try:
        s3, ct, iam = srv.client("s3"), srv.client("cloudtrail"), srv.client("iam")
        bucket = new_bucket(s3, "crash")
        ct.create_trail(Name="crash", S3BucketName=bucket)
        ct.start_logging(Name="crash")
        deliver(srv, "1s")
        made = [f"u-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
        for user in made:
            iam.create_user(UserName=user)
        time.sleep(0.6)  # stored (within 0.25 s of each answer), not delivered
        srv.kill()
        srv.start()
        s3 = srv.client("s3")
        deliver(srv)
        deadline = time.monotonic() + 30  # the lease holder's next tick, if not this worker
        while len(_created_users(s3, bucket)) < len(made) and time.monotonic() < deadline:
            time.sleep(0.5)
        deliver(srv)
        time.sleep(2)
        assert sorted(_created_users(s3, bucket)) == sorted(made)
    finally:
        srv.close()


# -- CloudWatch Logs refused, then allowed again -------------------------------------


def test_a_role_that_no_longer_allows_shows_the_logs_error(server, s3, ct) -> None:
    iam, logs = server.client("iam"), server.client("logs")
    name = "cwe-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    group = "grp-" + uuid.uuid4().hex[:8]
    role = "role-" + uuid.uuid4().hex[:8]
    logs.create_log_group(logGroupName=group)
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="logs", PolicyDocument=logs_permissions(group))
    ct.create_trail(
        Name=name,
        S3BucketName=bucket,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{ACCT}:log-group:{group}:*",
        CloudWatchLogsRoleArn=role_arn,
    )
    ct.start_logging(Name=name)
    iam.delete_role_policy(RoleName=role, PolicyName="logs")
    marker = "cwe-user-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=marker)
    deliver(server, "3s")
    # The Logs delivery runs as background work, off the event loop: it is
    # done within seconds of the job that handed it off, not in the move.
    status = settled(
        lambda: ct.get_trail_status(Name=name),
        lambda s: "LatestCloudWatchLogsDeliveryError" in s,
    )
    assert "adequate permissions" in status["LatestCloudWatchLogsDeliveryError"], status
    iam.put_role_policy(RoleName=role, PolicyName="logs", PolicyDocument=logs_permissions(group))
    deliver(server, "3s")
    status = settled(
        lambda: ct.get_trail_status(Name=name),
        lambda s: "LatestCloudWatchLogsDeliveryError" not in s,
    )
    assert "LatestCloudWatchLogsDeliveryError" not in status, status
    found = logs.filter_log_events(
        logGroupName=group, filterPattern=f'{{ $.requestParameters.userName = "{marker}" }}'
    )["events"]
    assert len(found) == 1
    assert found[0]["logStreamName"] == f"{ACCT}_CloudTrail_{REGION}"
    ct.delete_trail(Name=name)


# -- RecursiveLogging -------------------------------------------------------------------


@pytest.mark.skipif(
    "RecursiveLogging"
    not in botocore.session.get_session()
    .get_service_model("cloudtrail")
    .operation_model("CreateTrail")
    .input_shape.members,
    reason="the installed botocore has no CloudTrail RecursiveLogging",
)
def test_without_recursive_logging_cloudtrails_own_calls_are_not_delivered(
    server, s3, ct, org_audit
) -> None:
    name = "rec-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    ct.create_trail(
        Name=name, S3BucketName=bucket, KmsKeyId=org_audit["key_arn"], RecursiveLogging=False
    )
    ct.put_event_selectors(TrailName=name, EventSelectors=[{
        "ReadWriteType": "All", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{bucket}/"]}],
    }])  # fmt: skip
    ct.start_logging(Name=name)
    deliver(server, "1s")
    server.client("iam").list_users()
    deliver(server)
    deliver(server)
    got = records(s3, bucket, objects(s3, bucket, "/CloudTrail/"))
    assert "ListUsers" in [r["eventName"] for r in got]
    ours = [r for r in got if r["userIdentity"].get("invokedBy") == "cloudtrail.amazonaws.com"]
    # AWS suppresses its PutObject deliveries only; the data key it asked for stays.
    assert not [r for r in ours if r["eventName"] == "PutObject"], ours
    assert "GenerateDataKey" in [r["eventName"] for r in ours], ours
    ct.delete_trail(Name=name)


# -- CloudTrail's own PutObject: an S3 data event -----------------------------


def test_cloudtrails_put_object_is_a_data_event_of_a_trail_selecting_the_bucket(
    server, s3, ct
) -> None:
    """CloudTrail's delivery of a file is S3's PutObject: no management
    event, but a data event (``invokedBy`` cloudtrail.amazonaws.com) for a
    trail whose selectors take that bucket's objects (AWS's "recursive
    events"), and none for a trail that does not select them."""
    name = "own-" + uuid.uuid4().hex[:8]
    bucket = new_bucket(s3, name)
    ct.create_trail(Name=name, S3BucketName=bucket)
    ct.put_event_selectors(TrailName=name, EventSelectors=[{
        "ReadWriteType": "WriteOnly", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{bucket}/"]}],
    }])  # fmt: skip
    ct.start_logging(Name=name)
    plain = "plain-" + uuid.uuid4().hex[:8]
    plain_bucket = new_bucket(s3, plain)
    ct.create_trail(Name=plain, S3BucketName=plain_bucket)
    ct.start_logging(Name=plain)
    try:
        deliver(server, "1s")
        server.client("iam").list_users()
        deliver(server)  # the first files
        server.client("iam").list_users()
        deliver(server)  # files holding the first files' PutObject
        keys = objects(s3, bucket, "/CloudTrail/")
        got = records(s3, bucket, keys)
        puts = [
            r for r in got
            if r["eventName"] == "PutObject"
            and r["userIdentity"].get("invokedBy") == "cloudtrail.amazonaws.com"
        ]  # fmt: skip
        assert puts, [r["eventName"] for r in got]
        put = puts[0]
        assert put["eventSource"] == "s3.amazonaws.com"
        assert put["eventCategory"] == "Data" and put["managementEvent"] is False
        assert put["userIdentity"]["type"] == "AWSService"
        assert put["sourceIPAddress"] == "cloudtrail.amazonaws.com"
        assert put["readOnly"] is False
        objects_put = {r["ARN"] for r in put["resources"] if r["type"] == "AWS::S3::Object"}
        assert len(objects_put) == 1
        (arn,) = objects_put
        assert arn.startswith(f"arn:aws:s3:::{bucket}/AWSLogs/{ACCT}/CloudTrail/")
        assert arn.removeprefix(f"arn:aws:s3:::{bucket}/") in keys  # one of its own files
        assert put["requestParameters"]["bucketName"] == bucket
        # Data events never appear in LookupEvents.
        assert not ct.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": put["eventID"]}]
        )["Events"]
        # A trail selecting no data events gets no PutObject of CloudTrail's.
        plain_got = records(s3, plain_bucket, objects(s3, plain_bucket, "/CloudTrail/"))
        assert "ListUsers" in [r["eventName"] for r in plain_got]
        assert not [r for r in plain_got if r["eventName"] == "PutObject"]
    finally:
        ct.delete_trail(Name=name)
        ct.delete_trail(Name=plain)
