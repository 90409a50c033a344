"""Secrecy (issue 16, item 6): secret values and GetRandomPassword's output
never reach the state store unencrypted (the SQLite database and its WAL),
the server's log, or the audit trail (CloudTrail LookupEvents), whatever
operation carried them; and AWS's own caching client reads through us."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


def marker() -> str:
    return "SeCrEt-" + uuid.uuid4().hex


def lookup_all(server: StrongroomServer) -> str:
    """Every event LookupEvents answers, as JSON text."""
    trail = server.client("cloudtrail")
    pages = trail.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 50})
    return json.dumps([e for p in pages for e in p["Events"]], default=str)


def every_file(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def test_values_are_nowhere_in_clear(server: StrongroomServer) -> None:
    sm = server.client("secretsmanager")
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    strings = [marker() for _ in range(5)]
    binary = ("BiNaRy-" + uuid.uuid4().hex).encode()
    name = f"secrecy/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString=strings[0], Tags=[{"Key": "k", "Value": "v"}])
    sm.put_secret_value(SecretId=name, SecretString=strings[1], VersionStages=["AWSPENDING"])
    sm.update_secret(SecretId=name, SecretString=strings[2], KmsKeyId=key["Arn"])
    other = f"secrecy/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=other, SecretBinary=binary, KmsKeyId=key["KeyId"])
    sm.create_secret(Name=f"secrecy/{uuid.uuid4().hex[:8]}", SecretString=strings[3])
    # Refused writes carry values too.
    with pytest.raises(botocore.exceptions.ClientError):
        sm.create_secret(Name=name, SecretString=strings[4])
    passwords = [sm.get_random_password(PasswordLength=40)["RandomPassword"] for _ in range(3)]
    # Every read path hands them back ...
    assert sm.get_secret_value(SecretId=name)["SecretString"] == strings[2]
    assert sm.get_secret_value(SecretId=other)["SecretBinary"] == binary
    batch = sm.batch_get_secret_value(SecretIdList=[name, other])["SecretValues"]
    assert len(batch) == 2
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "eu-west-1"}])
    time.sleep(1.5)  # the audit queue is written
    trail = lookup_all(server)
    assert '"GetSecretValue"' in trail and '"CreateSecret"' in trail and '"Decrypt"' in trail
    server.stop()  # the WAL and the log, as they are on disk
    files = every_file(server.data_dir)
    log = server.read_log()
    try:
        # The scan sees what is stored in clear (a secret's name): it can fail.
        assert name.encode() in files and name in trail
        for value in [*strings, *passwords]:
            for where, text in (("files", files), ("log", log.encode()), ("trail", trail.encode())):
                assert value.encode() not in text, f"{value} in {where}"
        for form in (binary, base64.b64encode(binary)):
            assert form not in files and form not in trail.encode() and form not in log.encode()
    finally:
        server.start()


def test_get_secret_value_records_no_response(server: StrongroomServer) -> None:
    sm = server.client("secretsmanager")
    name = f"secrecy/{uuid.uuid4().hex[:8]}"
    value = marker()
    sm.create_secret(Name=name, SecretString=value)
    sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    events: list[dict] = []
    while time.time() < deadline and not events:
        events = [
            json.loads(e["CloudTrailEvent"])
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}]
            )["Events"]
        ]
        events = [e for e in events if e.get("requestParameters", {}).get("secretId") == name]
        time.sleep(0.2)
    event = events[0]
    assert event["requestParameters"] == {"secretId": name, "versionStage": "AWSCURRENT"}
    assert event.get("responseElements") is None
    assert event["readOnly"] is True


def test_the_aws_caching_client_reads_and_refreshes(server: StrongroomServer) -> None:
    sm = server.client("secretsmanager")
    name = f"cached/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="first")
    cache = SecretCache(config=SecretCacheConfig(secret_refresh_interval=3600), client=sm)
    assert cache.get_secret_string(name) == "first"
    sm.put_secret_value(SecretId=name, SecretString="second")
    assert cache.get_secret_string(name) == "first"  # cached, as it should be
    cache.refresh_secret_now(name)
    assert cache.get_secret_string(name) == "second"
    assert cache.get_secret_string(name, version_stage="AWSPREVIOUS") == "first"
    binary = f"bin/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=binary, SecretBinary=b"\x01\x02")
    assert cache.get_secret_binary(binary) == b"\x01\x02"
