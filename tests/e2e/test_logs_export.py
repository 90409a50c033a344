"""CloudWatch Logs export to S3 end to end: CreateExportTask /
DescribeExportTasks / CancelExportTask with boto3 and the `aws` CLI.

The bucket policy must allow ``logs.<region>.amazonaws.com`` (GetBucketAcl
and PutObject), or CreateExportTask refuses in AWS's words; the probe object
``<prefix>/aws-logs-write-test``; objects in AWS's layout
``<prefix>/<taskId>/<stream>/000000.gz`` holding ``<ISO time> <message>``
lines of the events in ``[from, to]``; one active task per account; an
SSE-KMS bucket; a KMS-encrypted group decrypted for the export.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
BASE = 1_800_000_000_000  # replaced by "now" in the fixture


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with tempfile.TemporaryDirectory(prefix="strongroom-logexport-") as d:
        srv = StrongroomServer(Path(d))
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


def logs_policy(bucket: str, *, acl: bool = True, put: bool = True) -> str:
    statements = []
    if acl:
        statements.append({
            "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
            "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}",
        })  # fmt: skip
    if put:
        statements.append({
            "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        })  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_task(logs: Any, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        (task,) = logs.describe_export_tasks(taskId=task_id)["exportTasks"]
        if task["status"]["code"] not in ("PENDING", "RUNNING", "PENDING_CANCEL"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.1)


def read_gz(s3: Any, bucket: str, key: str) -> list[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return gzip.decompress(body).decode().splitlines()


@pytest.fixture(scope="module")
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def app_group(server: StrongroomServer, now_ms: int) -> str:
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/app/orders")
    for stream in ("web-1", "web-2", "worker"):
        logs.create_log_stream(logGroupName="/app/orders", logStreamName=stream)
        logs.put_log_events(
            logGroupName="/app/orders", logStreamName=stream,
            logEvents=[{"timestamp": now_ms - 60_000 + i * 1000, "message": f"{stream} line {i}"}
                       for i in range(10)],
        )  # fmt: skip
    return "/app/orders"


@pytest.fixture(scope="module")
def archive(server: StrongroomServer) -> str:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="audit-archive")
    s3.put_bucket_policy(Bucket="audit-archive", Policy=logs_policy("audit-archive"))
    return "audit-archive"


def test_export_with_the_aws_cli_in_aws_layout(
    server: StrongroomServer, app_group: str, archive: str, now_ms: int
) -> None:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "logs", "create-export-task", "--log-group-name", app_group, "--from", "0",
         "--to", str(int(time.time() * 1000)), "--destination", archive,
         "--destination-prefix", "rds", "--task-name", "nightly",
         "--endpoint-url", server.endpoint, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    task_id = json.loads(out.stdout)["taskId"]
    logs = server.client("logs")
    task = wait_task(logs, task_id)
    assert task["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
    assert task["taskName"] == "nightly"
    assert task["destinationPrefix"] == "rds"
    assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
    s3 = server.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=archive)["Contents"]}
    assert keys == {
        "rds/aws-logs-write-test",
        f"rds/{task_id}/web-1/000000.gz",
        f"rds/{task_id}/web-2/000000.gz",
        f"rds/{task_id}/worker/000000.gz",
    }
    probe = s3.get_object(Bucket=archive, Key="rds/aws-logs-write-test")["Body"].read()
    assert probe == b"Permission Check Successful"
    lines = read_gz(s3, archive, f"rds/{task_id}/web-2/000000.gz")
    assert len(lines) == 10
    first = now_ms - 60_000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(first // 1000))
    assert lines[0] == f"{stamp}.{first % 1000:03d}Z web-2 line 0"


def test_time_range_and_stream_prefix(
    server: StrongroomServer, app_group: str, archive: str, now_ms: int
) -> None:
    logs = server.client("logs")
    start = now_ms - 60_000 + 3000
    task_id = logs.create_export_task(
        logGroupName=app_group, fromTime=start, to=start + 2000, destination=archive,
        logStreamNamePrefix="web", destinationPrefix="ranged",
    )["taskId"]  # fmt: skip
    assert wait_task(logs, task_id)["status"]["code"] == "COMPLETED"
    s3 = server.client("s3")
    listed = s3.list_objects_v2(Bucket=archive, Prefix="ranged/")["Contents"]
    assert {o["Key"] for o in listed} == {
        "ranged/aws-logs-write-test",
        f"ranged/{task_id}/web-1/000000.gz",
        f"ranged/{task_id}/web-2/000000.gz",
    }
    lines = read_gz(s3, archive, f"ranged/{task_id}/web-1/000000.gz")
    assert [line.split(" ", 1)[1] for line in lines] == [
        "web-1 line 3", "web-1 line 4", "web-1 line 5",
    ]  # fmt: skip
    # The default prefix is "exportedlogs".
    task_id = logs.create_export_task(
        logGroupName=app_group, fromTime=0, to=now_ms, destination=archive
    )["taskId"]
    assert wait_task(logs, task_id)["destinationPrefix"] == "exportedlogs"
    assert s3.head_object(Bucket=archive, Key=f"exportedlogs/{task_id}/worker/000000.gz")


def test_the_bucket_policy_must_allow_the_logs_principal(
    server: StrongroomServer, app_group: str
) -> None:
    s3, logs = server.client("s3"), server.client("logs")
    s3.create_bucket(Bucket="no-policy")
    code, message, status = fails(
        logs.create_export_task, logGroupName=app_group, fromTime=0, to=1, destination="no-policy"
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == (
        "GetBucketAcl call on the given bucket failed. Please check if CloudWatch Logs has been "
        "granted permission to perform this operation."
    )
    s3.create_bucket(Bucket="acl-only")
    s3.put_bucket_policy(Bucket="acl-only", Policy=logs_policy("acl-only", put=False))
    code, message, _ = fails(
        logs.create_export_task, logGroupName=app_group, fromTime=0, to=1, destination="acl-only"
    )
    assert code == "InvalidParameterException"
    assert message.startswith("PutObject call on the given bucket failed.")
    code, message, _ = fails(
        logs.create_export_task, logGroupName=app_group, fromTime=0, to=1, destination="nope-404"
    )
    assert (code, message) == (
        "InvalidParameterException",
        "The given bucket does not exist. Please make sure the bucket is valid.",
    )
    code, _, _ = fails(
        logs.create_export_task, logGroupName="/no/such", fromTime=0, to=1, destination="acl-only"
    )
    assert code == "ResourceNotFoundException"
    code, message, _ = fails(
        logs.create_export_task, logGroupName=app_group, fromTime=5, to=1, destination="acl-only"
    )
    assert code == "InvalidParameterException"
    assert message.startswith("Specified time range of '5' and '1' is not valid.")
    assert not logs.describe_export_tasks(statusCode="FAILED")["exportTasks"]


def test_one_active_task_per_account_and_cancel(
    server: StrongroomServer, app_group: str, archive: str, now_ms: int
) -> None:
    logs = server.client("logs")

    def create(prefix: str) -> str:
        return logs.create_export_task(
            logGroupName=app_group, fromTime=0, to=now_ms, destination=archive,
            destinationPrefix=prefix,
        )["taskId"]  # fmt: skip

    refused = 0
    for attempt in range(5):
        first = create(f"first-{attempt}")
        try:
            second = create(f"second-{attempt}")
        except botocore.exceptions.ClientError as err:
            assert err.response["Error"]["Code"] == "LimitExceededException"
            assert err.response["Error"]["Message"] == "Resource limit exceeded."
            refused += 1
        else:
            # Accepted only once the first had finished (the job is quick).
            (task,) = logs.describe_export_tasks(taskId=first)["exportTasks"]
            assert task["status"]["code"] == "COMPLETED"
            wait_task(logs, second)
        assert wait_task(logs, first)["status"]["code"] == "COMPLETED"
        if refused:
            break
    assert refused
    code, message, _ = fails(logs.cancel_export_task, taskId=first)
    assert (code, message) == (
        "InvalidOperationException", "The specified export task has already finished.",
    )  # fmt: skip
    code, _, _ = fails(logs.cancel_export_task, taskId="00000000-0000-0000-0000-000000000000")
    assert code == "ResourceNotFoundException"
    listed = logs.describe_export_tasks(statusCode="COMPLETED", limit=1)
    assert len(listed["exportTasks"]) == 1 and listed["nextToken"]


def test_sse_kms_bucket_and_kms_encrypted_group(server: StrongroomServer, now_ms: int) -> None:
    kms, s3, logs = server.client("kms"), server.client("s3"), server.client("logs")
    account = server.client("sts").get_caller_identity()["Account"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:Describe*"], "Resource": "*"},
        ],
    }  # fmt: skip
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="kms-archive")
    s3.put_bucket_policy(Bucket="kms-archive", Policy=logs_policy("kms-archive"))
    s3.put_bucket_encryption(
        Bucket="kms-archive",
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]},
    )  # fmt: skip
    logs.create_log_group(logGroupName="/secure/app", kmsKeyId=key)
    logs.create_log_stream(logGroupName="/secure/app", logStreamName="s")
    logs.put_log_events(
        logGroupName="/secure/app", logStreamName="s",
        logEvents=[{"timestamp": now_ms - 1000, "message": "sealed event"}],
    )  # fmt: skip
    task_id = logs.create_export_task(
        logGroupName="/secure/app", fromTime=0, to=now_ms, destination="kms-archive"
    )["taskId"]
    assert wait_task(logs, task_id)["status"]["code"] == "COMPLETED"
    got = s3.get_object(Bucket="kms-archive", Key=f"exportedlogs/{task_id}/s/000000.gz")
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == key
    lines = gzip.decompress(got["Body"].read()).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["sealed event"]


def test_cancel_a_task_before_it_is_done(
    server: StrongroomServer, app_group: str, archive: str, now_ms: int
) -> None:
    """A PENDING task is CANCELLED at once (a RUNNING one via PENDING_CANCEL);
    a finished one cannot be. The job starts tasks within a second, so the
    cancel usually meets a PENDING one; a few tries make sure of it."""
    logs = server.client("logs")
    cancelled = 0
    for attempt in range(5):
        task_id = logs.create_export_task(
            logGroupName=app_group, fromTime=0, to=now_ms, destination=archive,
            destinationPrefix=f"cancel-{attempt}",
        )["taskId"]  # fmt: skip
        try:
            logs.cancel_export_task(taskId=task_id)
        except botocore.exceptions.ClientError as err:
            assert err.response["Error"]["Code"] == "InvalidOperationException"
            assert wait_task(logs, task_id)["status"]["code"] == "COMPLETED"
            continue
        task = wait_task(logs, task_id)
        assert task["status"] == {"code": "CANCELLED", "message": "Cancelled by user"}
        assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
        cancelled += 1
        break
    assert cancelled
    # No task is active any more: a new one is accepted.
    last = logs.create_export_task(
        logGroupName=app_group, fromTime=0, to=now_ms, destination=archive,
        destinationPrefix="after-cancel",
    )["taskId"]  # fmt: skip
    assert wait_task(logs, last)["status"]["code"] == "COMPLETED"


def test_a_group_whose_key_is_disabled_fails_its_export(
    server: StrongroomServer, archive: str, now_ms: int
) -> None:
    """The export reads the group's sealed batches through KMS: with the key
    disabled the task is accepted (the bucket is fine) and then FAILED."""
    kms, logs = server.client("kms"), server.client("logs")
    account = server.client("sts").get_caller_identity()["Account"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
             "Action": ["kms:Decrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*"},
        ],
    }  # fmt: skip
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/secure/disabled", kmsKeyId=key)
    logs.create_log_stream(logGroupName="/secure/disabled", logStreamName="s")
    logs.put_log_events(
        logGroupName="/secure/disabled", logStreamName="s",
        logEvents=[{"timestamp": now_ms - 1000, "message": "sealed"}],
    )  # fmt: skip
    kms.disable_key(KeyId=key)
    task_id = logs.create_export_task(
        logGroupName="/secure/disabled", fromTime=0, to=now_ms, destination=archive,
        destinationPrefix="disabled",
    )["taskId"]  # fmt: skip
    task = wait_task(logs, task_id)
    assert task["status"]["code"] == "FAILED"
    assert task["status"]["message"].startswith("The KMS key associated with the log group")
    s3 = server.client("s3")
    listed = s3.list_objects_v2(Bucket=archive, Prefix=f"disabled/{task_id}/")
    assert listed["KeyCount"] == 0
