"""CloudWatch Logs: KMS-encrypted log groups through KMS's internal API,
and retention enforced by the server's clock (issue 14, item 6)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

OWNER = "000000000000"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    srv = StrongroomServer(time_travel=True).start()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def logs(server: StrongroomServer) -> Any:
    return server.client("logs")


@pytest.fixture(scope="module")
def kms(server: StrongroomServer) -> Any:
    return server.client("kms")


def fails(fn: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def logs_key(kms: Any) -> str:
    """A key whose policy lets CloudWatch Logs use it, as AWS documents."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                       f"arn:aws:logs:us-east-1:{OWNER}:log-group:*"}}},
        ],
    }  # fmt: skip
    return kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


def now_ms() -> int:
    return int(time.time() * 1000)


def put(logs: Any, group: str, message: str) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": message}],
    )


def messages(logs: Any, group: str) -> list[str]:
    out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    return [e["message"] for e in out["events"]]


def on_disk(server: StrongroomServer, text: str) -> bool:
    needle = text.encode()
    return any(needle in p.read_bytes() for p in Path(server.data_dir).rglob("*") if p.is_file())


def test_encrypted_group(server: StrongroomServer, logs: Any, kms: Any) -> None:
    key = logs_key(kms)
    group = f"/kms/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group, kmsKeyId=key)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["kmsKeyId"] == key
    secret = "sealed-" + uuid.uuid4().hex
    put(logs, group, secret)
    assert messages(logs, group) == [secret]
    found = logs.filter_log_events(logGroupName=group, filterPattern=secret[:12])["events"]
    assert [e["message"] for e in found] == [secret]
    time.sleep(0.5)  # the WAL and the audit batch written
    assert not on_disk(server, secret)
    # KMS recorded the service's calls, with the log group's context.
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + 10
    while True:
        evs = [
            json.loads(e["CloudTrailEvent"])
            for e in trail.lookup_events(
                LookupAttributes=[
                    {"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}
                ]
            )["Events"]
        ]
        ours = [e for e in evs if e["requestParameters"] and
                e["requestParameters"].get("encryptionContext", {}).get("aws:logs:arn", "").endswith(group)]  # fmt: skip
        if {e["eventName"] for e in ours} >= {
            "GenerateDataKey",
            "Decrypt",
        } or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {e["eventName"] for e in ours} >= {"GenerateDataKey", "Decrypt"}
    assert all(e["userIdentity"]["invokedBy"] == "logs.amazonaws.com" for e in ours)


def test_key_policy_must_allow_the_service(logs: Any, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["Arn"]  # the default policy: the account only
    group = f"/kms/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    code, message = fails(logs.associate_kms_key, logGroupName=group, kmsKeyId=key)
    assert code == "AccessDeniedException"
    assert "not allowed to be used" in message
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    code, _ = fails(logs.associate_kms_key, logGroupName=group, kmsKeyId="not-an-arn")
    assert code == "InvalidParameterException"


def test_a_disabled_key_stops_reads_and_writes(logs: Any, kms: Any) -> None:
    key = logs_key(kms)
    group = f"/kms/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "plain before")
    logs.associate_kms_key(logGroupName=group, kmsKeyId=key)
    put(logs, group, "sealed")
    kms.disable_key(KeyId=key)
    code, _ = fails(
        logs.put_log_events, logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "refused"}],
    )  # fmt: skip
    assert code == "InvalidParameterException"
    code, _ = fails(logs.get_log_events, logGroupName=group, logStreamName="s", startFromHead=True)
    assert code == "InvalidParameterException"
    kms.enable_key(KeyId=key)
    assert messages(logs, group) == ["plain before", "sealed"]
    logs.disassociate_kms_key(logGroupName=group)
    put(logs, group, "plain after")
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert messages(logs, group) == ["plain before", "sealed", "plain after"]


def test_retention_values(logs: Any) -> None:
    group = f"/ret/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    for bad in (2, 0, 4000):
        code, _ = fails(logs.put_retention_policy, logGroupName=group, retentionInDays=bad)
        assert code == "InvalidParameterException", bad
    for good in (1, 3653):
        logs.put_retention_policy(logGroupName=group, retentionInDays=good)
    logs.delete_retention_policy(logGroupName=group)
    assert (
        "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    )


def test_expired_events_are_deleted_by_the_clock(server: StrongroomServer, logs: Any) -> None:
    doomed, kept = f"/ret/{uuid.uuid4().hex[:8]}", f"/ret/{uuid.uuid4().hex[:8]}"
    for g in (doomed, kept):
        logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName=g, logStreamName="s")
        put(logs, g, "old news")
    logs.put_retention_policy(logGroupName=doomed, retentionInDays=1)
    server.advance_clock("2d")
    deadline = time.monotonic() + 10
    while messages(logs, doomed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert messages(logs, doomed) == []
    assert logs.describe_log_groups(logGroupNamePrefix=doomed)["logGroups"][0]["storedBytes"] == 0
    assert messages(logs, kept) == ["old news"]
