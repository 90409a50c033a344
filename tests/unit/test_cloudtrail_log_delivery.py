"""Delivery core: the records a trail selects become AWS's log files,
each event exactly once across runs (and a sink that fails loses
nothing); hourly digest files chain and are signed so that awscli's own
validator (``aws cloudtrail validate-logs``' code) accepts them."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

import pytest
from awscli.customizations.cloudtrail.validation import (
    DigestSignatureError,
    Sha256RSADigestValidator,
)

from strongroom.audit.recorder import AuditRecorder
from strongroom.auth.principal import root_principal
from strongroom.encoding import b64_text
from strongroom.services.cloudtrail import delivery, selection, trails
from strongroom.services.cloudtrail.delivery import MemorySink
from strongroom.services.cloudtrail.trails import Trail
from strongroom.store.db import Store
from strongroom.store.sealing import Sealer

ACCT = "000000000000"
T0 = 1_796_000_000.0  # 2026-11-30


def record(recorder: AuditRecorder, at: float, name: str = "Encrypt", **extra) -> str:
    args = {
        "event_time": at,
        "account": ACCT,
        "region": "us-east-1",
        "event_source": "kms.amazonaws.com",
        "event_name": name,
        "principal": root_principal(ACCT),
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "source_ip": "192.0.2.7",
        "user_agent": "aws-cli/2",
        "request_id": "req",
        "read_only": False,
        **extra,
    }
    return recorder.record(**args)


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(os.urandom(32))


def make_trail(store: Store, **kw) -> Trail:
    trail = Trail(
        account=ACCT,
        region="us-east-1",
        name="org-audit",
        arn=trails.trail_arn(ACCT, "us-east-1", "org-audit"),
        s3_bucket="trail-bucket",
        created=T0,
        logging=True,
        start_logging=T0,
        **kw,
    )
    with store.transaction() as conn:
        trails.create(conn, trail)
    return trail


def load(store: Store) -> Trail:
    with store.transaction(write=False) as conn:
        return trails.logging_trails(conn)[0]


def run(store: Store, sealer: Sealer, sink: MemorySink, now: float) -> int:
    with store.transaction() as conn:
        return delivery.run_trails(conn, sealer, sink, now)[0]


def log_objects(sink: MemorySink) -> dict[str, list[dict]]:
    return {
        key: json.loads(gzip.decompress(body))["Records"]
        for (_, key), (body, _, _) in sink.objects.items()
        if "/CloudTrail/" in key
    }


NAME = re.compile(
    r"logs/AWSLogs/000000000000/CloudTrail/(?P<region>[a-z0-9-]+)/\d{4}/\d\d/\d\d/"
    r"000000000000_CloudTrail_(?P=region)_\d{8}T\d{4}Z_[0-9a-f]{16}\.json\.gz\Z"
)


def test_each_event_is_delivered_once_in_aws_log_files(store: Store, sealer: Sealer) -> None:
    make_trail(store, s3_prefix="logs")
    recorder = AuditRecorder(store)
    ids = [record(recorder, T0 + i) for i in range(3)]
    record(recorder, T0 + 4, account="111111111111")  # another account's
    record(recorder, T0 + 5, region="eu-west-1")  # another Region's, single-region trail
    recorder.flush()
    sink = MemorySink()
    assert run(store, sealer, sink, T0 + 10) == 3
    files = log_objects(sink)
    assert len(files) == 1
    ((key, recs),) = files.items()
    assert NAME.match(key), key
    assert [r["eventID"] for r in recs] == ids
    assert recs[0]["eventName"] == "Encrypt" and recs[0]["recipientAccountId"] == ACCT
    # Not yet due; then due, with nothing new: nothing delivered twice.
    assert run(store, sealer, sink, T0 + 20) == 0
    assert run(store, sealer, sink, T0 + 400) == 0
    later = record(recorder, T0 + 500)
    recorder.flush()
    assert run(store, sealer, sink, T0 + 800) == 1
    delivered = [r["eventID"] for recs in log_objects(sink).values() for r in recs]
    assert sorted(delivered) == sorted([*ids, later])
    assert load(store).to_status()["LatestDeliveryTime"].timestamp() == T0 + 800


def test_a_failing_sink_loses_nothing_and_shows_the_error(store: Store, sealer: Sealer) -> None:
    make_trail(store)
    recorder = AuditRecorder(store)
    first = record(recorder, T0 + 1)
    recorder.flush()
    sink = MemorySink(fail="AccessDenied")
    assert run(store, sealer, sink, T0 + 10) == 0
    status = load(store).to_status()
    assert status["LatestDeliveryError"] == "AccessDenied"
    assert "LatestDeliveryTime" not in status
    second = record(recorder, T0 + 20)
    recorder.flush()
    sink.fail = None
    assert run(store, sealer, sink, T0 + 400) == 2
    delivered = [r["eventID"] for recs in log_objects(sink).values() for r in recs]
    assert delivered == [first, second]
    assert "LatestDeliveryError" not in load(store).to_status()


def test_multi_region_and_global_service_events(store: Store, sealer: Sealer) -> None:
    make_trail(store, multi_region=True)
    recorder = AuditRecorder(store)
    record(recorder, T0 + 1, region="eu-west-1")
    record(recorder, T0 + 2, event_source="iam.amazonaws.com", event_name="CreateUser")
    recorder.flush()
    sink = MemorySink()
    assert run(store, sealer, sink, T0 + 10) == 2
    regions = sorted(k.split("/")[3] for k in log_objects(sink))
    assert regions == ["eu-west-1", "us-east-1"]


def test_global_events_need_include_global(store: Store, sealer: Sealer) -> None:
    make_trail(store, include_global=False)
    recorder = AuditRecorder(store)
    record(recorder, T0 + 2, event_source="iam.amazonaws.com", event_name="CreateUser")
    kms = record(recorder, T0 + 3)
    recorder.flush()
    sink = MemorySink()
    run(store, sealer, sink, T0 + 10)
    assert [r["eventID"] for recs in log_objects(sink).values() for r in recs] == [kms]


def test_selectors_decide_what_is_delivered(store: Store, sealer: Sealer) -> None:
    chosen = selection.validate_advanced(
        [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                ]
            }
        ]
    )
    make_trail(store, selectors={"advanced": chosen})
    recorder = AuditRecorder(store)
    record(recorder, T0 + 1)
    read = record(recorder, T0 + 2, name="DescribeKey", read_only=True)
    recorder.flush()
    sink = MemorySink()
    run(store, sealer, sink, T0 + 10)
    assert [r["eventID"] for recs in log_objects(sink).values() for r in recs] == [read]


def digests(sink: MemorySink) -> list[tuple[str, bytes, dict]]:
    found = [
        (key, gzip.decompress(body), meta)
        for (_, key), (body, meta, _) in sink.objects.items()
        if "/CloudTrail-Digest/" in key
    ]
    return sorted(found, key=lambda d: json.loads(d[1])["digestEndTime"])


def public_key_value(store: Store, fingerprint: str) -> bytes:
    with store.transaction(write=False) as conn:
        keys = delivery.public_keys(conn, "us-east-1", 0, 2**40)
    der = next(der for fp, der, _, _ in keys if fp == fingerprint)
    return b64_text(der).encode()  # ListPublicKeys' Value, as boto3 hands it to awscli


def test_digests_chain_and_verify_with_awscli(store: Store, sealer: Sealer) -> None:
    make_trail(store, validation=True, digest_start=T0, digest_due=T0 + 3600)
    recorder = AuditRecorder(store)
    record(recorder, T0 + 5)
    recorder.flush()
    sink = MemorySink()
    run(store, sealer, sink, T0 + 10)
    run(store, sealer, sink, T0 + 3 * 3600 + 1)  # three hours: two of them empty
    found = digests(sink)
    assert len(found) == 3
    validator = Sha256RSADigestValidator()
    previous = None
    for key, raw, meta in found:
        doc = json.loads(raw)
        assert doc["digestS3Object"] == key
        assert re.match(
            r"AWSLogs/000000000000/CloudTrail-Digest/us-east-1/\d{4}/\d\d/\d\d/"
            r"000000000000_CloudTrail-Digest_us-east-1_org-audit_us-east-1_\d{8}T\d{6}Z\.json\.gz\Z",
            key,
        )
        assert meta["signature-algorithm"] == "SHA256withRSA"
        assert doc["digestSignatureAlgorithm"] == "SHA256withRSA"
        data = {**doc, "_signature": meta["signature"]}
        value = public_key_value(store, doc["digestPublicKeyFingerprint"])
        validator.validate("trail-bucket", key, value, data, raw)  # raises when invalid
        if previous is None:
            assert doc["previousDigestSignature"] is None
            assert doc["previousDigestHashValue"] is None
            assert doc["previousDigestS3Object"] is None
            (log,) = doc["logFiles"]
            body = sink.objects[("trail-bucket", log["s3Object"])][0]
            assert log["hashValue"] == hashlib.sha256(gzip.decompress(body)).hexdigest()
            assert log["hashAlgorithm"] == "SHA-256"
        else:
            pkey, praw, pmeta = previous
            assert doc["previousDigestS3Object"] == pkey
            assert doc["previousDigestHashValue"] == hashlib.sha256(praw).hexdigest()
            assert doc["previousDigestSignature"] == pmeta["signature"]
            assert doc["logFiles"] == [] and doc["newestEventTime"] is None
            assert doc["digestStartTime"] == json.loads(praw)["digestEndTime"]
        previous = (key, raw, meta)
    # A changed digest no longer verifies.
    key, raw, meta = found[1]
    tampered = raw.replace(b'"logFiles":[]', b'"logFiles":[ ]')
    data = {**json.loads(tampered), "_signature": meta["signature"]}
    value = public_key_value(store, data["digestPublicKeyFingerprint"])
    with pytest.raises(DigestSignatureError):
        validator.validate("trail-bucket", key, value, data, tampered)


def test_the_private_key_is_stored_sealed(store: Store, sealer: Sealer) -> None:
    from sqlalchemy import select

    from strongroom.services.cloudtrail.tables import signing_keys

    with store.transaction() as conn:
        fingerprint, private = delivery.current_key(conn, sealer, "us-east-1", T0)
        again = delivery.current_key(conn, sealer, "us-east-1", T0 + 1)
        sealed = conn.execute(select(signing_keys.c.sealed_private)).scalar()
    assert again == (fingerprint, private)
    assert private not in sealed and len(fingerprint) == 32


def test_data_events_are_wanted_only_when_a_logging_trail_selects_them(store: Store) -> None:
    invoke = delivery.StoredEvent(
        "", ACCT, "us-east-1", T0, "Invoke", "lambda.amazonaws.com", False, False, None, None,
        [{"type": "AWS::Lambda::Function", "ARN": "arn:aws:lambda:us-east-1:000000000000:function:f"}],
        {},
    )  # fmt: skip
    assert not delivery.wants_data_event(store, invoke)
    trail = make_trail(
        store,
        selectors={
            "basic": selection.validate_basic(
                [
                    {
                        "DataResources": [
                            {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}
                        ]
                    }
                ]
            )
        },
    )
    assert delivery.wants_data_event(store, invoke)
    trail.logging = False
    with store.transaction() as conn:
        trails.save(conn, trail, "logging")
    assert not delivery.wants_data_event(store, invoke)


def test_without_recursive_logging_cloudtrails_own_calls_are_left_out(
    store: Store, sealer: Sealer
) -> None:
    make_trail(store, recursive_logging=False)
    recorder = AuditRecorder(store)
    mine = record(recorder, T0 + 1)
    key = record(  # the GenerateDataKey CloudTrail itself made for an SSE-KMS file
        recorder, T0 + 2, "GenerateDataKey", source_ip="cloudtrail.amazonaws.com",
        user_agent="cloudtrail.amazonaws.com",
    )  # fmt: skip
    delivering = {"source_ip": "cloudtrail.amazonaws.com", "user_agent": "cloudtrail.amazonaws.com"}
    record(recorder, T0 + 3, "PutObject", event_source="s3.amazonaws.com", **delivering)
    record(recorder, T0 + 4, "PutLogEvents", event_source="logs.amazonaws.com", **delivering)
    theirs = record(recorder, T0 + 5, "PutObject", event_source="s3.amazonaws.com")
    recorder.flush()
    sink = MemorySink()
    assert run(store, sealer, sink, T0 + 10) == 3
    # AWS suppresses CloudTrail's PutObject and PutLogEvents only.
    delivered = [r["eventID"] for recs in log_objects(sink).values() for r in recs]
    assert delivered == [mine, key, theirs]


def test_logs_delivery_has_its_own_cursor_and_keeps_it_when_refused(
    store: Store, sealer: Sealer
) -> None:
    group = f"arn:aws:logs:us-east-1:{ACCT}:log-group:trail:*"
    make_trail(store, logs_group_arn=group, logs_role_arn=f"arn:aws:iam::{ACCT}:role/r")
    recorder = AuditRecorder(store)
    first = record(recorder, T0 + 1)
    recorder.flush()
    refusing = MemorySink(fail="InvalidCloudWatchLogsLogGroupArnException: Access denied.")
    run(store, sealer, refusing, T0 + 2)  # S3 refused too: its cursor stays as well
    assert load(store).to_status()["LatestCloudWatchLogsDeliveryError"].startswith("Invalid")
    sink = MemorySink()
    run(store, sealer, sink, T0 + 3)
    second = record(recorder, T0 + 4)
    recorder.flush()
    run(store, sealer, sink, T0 + 6)  # the Logs cadence: S3 is not due for 5 minutes
    stream = (group, f"{ACCT}_CloudTrail_us-east-1")
    messages = [json.loads(e["message"])["eventID"] for e in sink.log_events[stream]]
    assert messages == [first, second]
    assert "LatestCloudWatchLogsDeliveryError" not in load(store).to_status()
    assert log_objects(sink) == {}  # S3 tries again 5 minutes after it was refused
    run(store, sealer, sink, T0 + 400)
    s3_ids = [r["eventID"] for recs in log_objects(sink).values() for r in recs]
    assert s3_ids == [first, second]
    assert len(sink.log_events[stream]) == 2  # nothing sent to Logs twice


def test_a_backlog_is_delivered_in_steps_one_tick_apart(
    store: Store, sealer: Sealer, monkeypatch
) -> None:
    """More batches than one run takes: the trail is due again at once (the
    next tick), and every event arrives once."""
    monkeypatch.setattr(delivery, "MAX_BATCHES", 2)
    make_trail(store)
    recorder = AuditRecorder(store)
    ids = []
    for i in range(5):  # five batches
        ids.append(record(recorder, T0 + i))
        recorder.flush()
    sink = MemorySink()
    with store.transaction() as conn:
        taken, next_due = delivery.run_trails(conn, sealer, sink, T0 + 10)
    assert taken == 2 and next_due == T0 + 10
    for step in range(1, 4):
        run(store, sealer, sink, T0 + 10 + step)
    delivered = [r["eventID"] for recs in log_objects(sink).values() for r in recs]
    assert sorted(delivered) == sorted(ids)
    with store.transaction() as conn:
        _, next_due = delivery.run_trails(conn, sealer, sink, T0 + 20)
    assert next_due == T0 + 13 + delivery.DELIVERY_INTERVAL


# -- CloudWatch Logs delivery off the event loop ------------------------------


def _logs_trail(store: Store) -> tuple[str, tuple[str, str]]:
    group = f"arn:aws:logs:us-east-1:{ACCT}:log-group:trail:*"
    make_trail(store, logs_group_arn=group, logs_role_arn=f"arn:aws:iam::{ACCT}:role/r")
    return group, (group, f"{ACCT}_CloudTrail_us-east-1")


def test_the_job_hands_logs_delivery_off_every_interval_when_events_wait(
    store: Store, sealer: Sealer, monkeypatch
) -> None:
    monkeypatch.setattr(delivery, "_logs_next", {})
    _, stream = _logs_trail(store)
    recorder = AuditRecorder(store)
    handed: list[str] = []
    sink = MemorySink()

    def job(now: float) -> float | None:
        with store.transaction() as conn:
            return delivery.run_trails(conn, sealer, sink, now, lambda t: handed.append(t.arn))[1]

    record(recorder, T0 + 0.5)
    recorder.flush()
    assert job(T0 + 1) == T0 + 1 + delivery.LOGS_INTERVAL
    assert handed == [load(store).arn]
    assert stream not in sink.log_events  # the job itself put nothing into Logs
    # The same run delivered to S3 and moved S3's cursor past the event: the
    # Logs cursor was pinned first, so the handed-off delivery still has it.
    assert [r["eventName"] for recs in log_objects(sink).values() for r in recs] == ["Encrypt"]
    with store.transaction(write=False) as conn:
        batch = delivery.prepare_logs(conn, load(store))
    with store.transaction() as conn:
        assert batch is not None and delivery.put_logs(conn, load(store), sink, batch, T0) == 1
    assert len(sink.log_events[stream]) == 1
    job(T0 + 1 + delivery.LOGS_INTERVAL)
    assert len(handed) == 1  # nothing stored after the Logs cursor: nothing handed off
    record(recorder, T0 + 4)
    recorder.flush()
    job(T0 + 4.5)  # within the interval: not yet
    assert len(handed) == 1
    job(T0 + 1 + 2 * delivery.LOGS_INTERVAL)
    assert len(handed) == 2


def test_prepared_logs_are_put_once_and_not_after_the_cursor_moved(store: Store) -> None:
    _, stream = _logs_trail(store)
    recorder = AuditRecorder(store)
    ids = [record(recorder, T0 + 1), record(recorder, T0 + 2, name="DisableKey")]
    recorder.flush()
    with store.transaction(write=False) as conn:  # the read transaction
        batch = delivery.prepare_logs(conn, load(store))
    assert batch is not None and batch.count == 2 and not batch.more
    with store.transaction(write=False) as conn:
        again = delivery.prepare_logs(conn, load(store))  # a second, racing preparation
    sink = MemorySink()
    with store.transaction() as conn:
        assert delivery.put_logs(conn, load(store), sink, batch, T0 + 3) == 2
    with store.transaction() as conn:  # the cursor moved: the racing batch puts nothing
        assert delivery.put_logs(conn, load(store), sink, again, T0 + 4) is None  # type: ignore[arg-type]
    assert [json.loads(e["message"])["eventID"] for e in sink.log_events[stream]] == ids
    assert [e["timestamp"] for e in sink.log_events[stream]] == [(T0 + 1) * 1000, (T0 + 2) * 1000]
    with store.transaction(write=False) as conn:
        assert delivery.prepare_logs(conn, load(store)) is None
        assert not delivery.logs_pending(conn, load(store))


def test_the_background_work_delivers_a_backlog_in_steps(
    store: Store, sealer: Sealer, monkeypatch
) -> None:
    from contextlib import contextmanager
    from datetime import UTC, datetime

    from strongroom.framework import JobRun
    from strongroom.services.cloudtrail import ops_delivery
    from strongroom.services.cloudtrail.service import service

    monkeypatch.setattr(delivery, "MAX_BATCHES", 2)
    _, stream = _logs_trail(store)
    recorder = AuditRecorder(store)
    ids = []
    for i in range(5):  # five batches: three deliveries of at most two
        ids.append(record(recorder, T0 + i))
        recorder.flush()
    sink = MemorySink()
    writes: list[bool] = []

    class Work:
        @contextmanager
        def transaction(self, write: bool = False):
            writes.append(write)
            with store.transaction(write=write) as conn:
                yield JobRun(
                    service, conn, datetime.fromtimestamp(T0 + 10, UTC), None, writes=write
                )  # type: ignore[arg-type]

    ops_delivery.set_sink_factory(lambda run: sink)
    try:
        ops_delivery.deliver_to_logs(Work(), {"trail": load(store).arn})  # type: ignore[arg-type]
    finally:
        ops_delivery.set_sink_factory(None)
    assert [json.loads(e["message"])["eventID"] for e in sink.log_events[stream]] == ids
    # A read, then a short write, each step (no step takes more than two batches).
    assert len(writes) >= 6 and writes == [False, True] * (len(writes) // 2)
