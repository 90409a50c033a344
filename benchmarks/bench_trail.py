"""CloudTrail benchmarks: what an active trail costs KMS Encrypt, what a
selected data event costs S3 GetObject, and how long ``aws cloudtrail
validate-logs`` takes over a day of digests.

Request workloads (the harness: strongroom and moto side by side in one run,
each pinned to one core, one signed request replayed by wrk):

- KMS Encrypt of 1 KiB with no trail, with an active trail (S3 delivery,
  log file validation, SSE-KMS under a key of its own) and with an active
  trail that also delivers to CloudWatch Logs (every 2 s of the clock). The
  target: an active trail costs less than 10% of Encrypt's req/s. (moto
  records no events; its trail is stored, not delivered.)
- S3 GetObject of 1 KiB with no trail selecting it and with a trail whose
  basic selector takes the bucket's object events (each GetObject then is a
  data event, recorded).

``--validate`` instead builds a day on a ``--time-travel`` strongroom (a
log file every 5 minutes of the clock, 288 of them, 24 hourly digests) and
times the unmodified ``aws cloudtrail validate-logs`` over it.

Run: ``python benchmarks/bench_trail.py [--duration 10]`` or
``python benchmarks/bench_trail.py --validate``
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from harness import Endpoint, RequestSpec, Workload, json_request
from harness import main as harness_main

ACCT = "000000000000"
CONTEXT = {"purpose": "benchmark", "tenant": "t-0001"}
TRAIL_BUCKET = "bench-trail-logs"
DATA_BUCKET = "bench-trail-data"
DATA_KEY = "objects/one-kib"
BODY = bytes(range(256)) * 4


def _bucket_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCT}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]})  # fmt: skip


def _key_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"},
    ]})  # fmt: skip


def _logs_destination(ep: Endpoint) -> dict[str, str]:
    iam, logs = ep.client("iam"), ep.client("logs")
    logs.create_log_group(logGroupName="bench-trail")
    role = iam.create_role(
        RoleName="bench-trail-to-logs",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    iam.put_role_policy(
        RoleName="bench-trail-to-logs",
        PolicyName="logs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:us-east-1:{ACCT}:log-group:bench-trail:*"}]}),
    )  # fmt: skip
    return {
        "CloudWatchLogsLogGroupArn": f"arn:aws:logs:us-east-1:{ACCT}:log-group:bench-trail:*",
        "CloudWatchLogsRoleArn": role,
    }


def _trail(ep: Endpoint, *, logs: bool = False, selectors: list | None = None) -> None:
    """An active trail: bucket with CloudTrail's policy, validation, its own key."""
    s3, ct, kms = ep.client("s3"), ep.client("cloudtrail"), ep.client("kms")
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    s3.put_bucket_policy(Bucket=TRAIL_BUCKET, Policy=_bucket_policy(TRAIL_BUCKET))
    key = kms.create_key(Policy=_key_policy())["KeyMetadata"]["Arn"]
    extra = _logs_destination(ep) if logs else {}
    ct.create_trail(
        Name="bench",
        S3BucketName=TRAIL_BUCKET,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        **extra,
    )
    if selectors is not None:
        ct.put_event_selectors(TrailName="bench", EventSelectors=selectors)
    ct.start_logging(Name="bench")


def _encrypt(ep: Endpoint) -> RequestSpec:
    key = ep.client("kms").create_key(Description="bench")["KeyMetadata"]["KeyId"]
    payload = {
        "KeyId": key,
        "Plaintext": base64.b64encode(b"x" * 1024).decode(),
        "EncryptionContext": CONTEXT,
    }
    return json_request("kms", "TrentService.Encrypt", payload)


def encrypt_no_trail(ep: Endpoint) -> RequestSpec:
    return _encrypt(ep)


def encrypt_active_trail(ep: Endpoint) -> RequestSpec:
    _trail(ep)
    return _encrypt(ep)


def encrypt_trail_and_logs(ep: Endpoint) -> RequestSpec:
    _trail(ep, logs=True)
    return _encrypt(ep)


def _data_object(ep: Endpoint) -> RequestSpec:
    s3 = ep.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_object(Bucket=DATA_BUCKET, Key=DATA_KEY, Body=BODY)
    return RequestSpec(
        service="s3",
        region="us-east-1",
        method="GET",
        path=f"/{DATA_BUCKET}/{DATA_KEY}",
        headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()},
    )


def get_unselected(ep: Endpoint) -> RequestSpec:
    _trail(ep)  # management events only: GetObject is not recorded
    return _data_object(ep)


def get_selected(ep: Endpoint) -> RequestSpec:
    _trail(
        ep,
        selectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{DATA_BUCKET}/"]}
                ],
            }
        ],
    )
    return _data_object(ep)


WORKLOADS = [
    Workload("kms Encrypt 1 KiB, no trail", encrypt_no_trail),
    Workload("kms Encrypt 1 KiB, active trail", encrypt_active_trail),
    Workload("kms Encrypt 1 KiB, active trail + CloudWatch Logs", encrypt_trail_and_logs),
    Workload("s3 GetObject 1 KiB, no data event selected", get_unselected),
    Workload("s3 GetObject 1 KiB, data event selected", get_selected),
]


# -- validate-logs over a day -------------------------------------------------


def validate_day(files: int = 288) -> int:
    """A day of a trail (`files` log files 5 minutes apart, a digest an hour)
    on a time-travel server, then ``aws cloudtrail validate-logs`` timed."""
    from strongroom.testing import StrongroomServer

    with StrongroomServer(time_travel=True) as server:
        s3, ct, kms = server.client("s3"), server.client("cloudtrail"), server.client("kms")
        s3.create_bucket(Bucket=TRAIL_BUCKET)
        s3.put_bucket_policy(Bucket=TRAIL_BUCKET, Policy=_bucket_policy(TRAIL_BUCKET))
        ct.create_trail(Name="day", S3BucketName=TRAIL_BUCKET, EnableLogFileValidation=True)
        ct.start_logging(Name="day")
        start = datetime.fromisoformat(server.advance_clock("0s")["now"]) - timedelta(minutes=1)
        key = kms.create_key(Description="day")["KeyMetadata"]["KeyId"]
        built = time.monotonic()
        for _ in range(files):
            for _ in range(5):
                kms.encrypt(KeyId=key, Plaintext=b"x" * 64)
            time.sleep(0.3)  # stored by the recorder (within 0.25 s)
            server.advance_clock("5m")
        server.advance_clock("61m")
        listed = s3.get_paginator("list_objects_v2").paginate(Bucket=TRAIL_BUCKET)
        keys = [o["Key"] for page in listed for o in page.get("Contents", [])]
        logs = sum("/CloudTrail/" in k for k in keys)
        digests = sum("/CloudTrail-Digest/" in k for k in keys)
        print(
            f"built {logs} log files and {digests} digests in {time.monotonic() - built:.1f} s",
            flush=True,
        )
        end = datetime.fromisoformat(server.advance_clock("0s")["now"]) + timedelta(minutes=1)
        env = {**os.environ, **server.aws_env(), "AWS_PAGER": ""}
        argv = [
            "aws", "cloudtrail", "validate-logs",
            "--trail-arn", f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/day",
            "--start-time", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--end-time", end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]  # fmt: skip
        began = time.monotonic()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        took = time.monotonic() - began
        print(done.stdout.strip().splitlines()[-2:], done.stderr.strip()[-500:])
        print(f"validate-logs over {digests} digests and {logs} log files: {took:.2f} s")
        return done.returncode


if __name__ == "__main__":
    if "--validate" in sys.argv:
        sys.exit(validate_day())
    sys.exit(harness_main(WORKLOADS, description=__doc__.splitlines()[0]))
