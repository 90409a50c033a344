"""Data events are recorded only while a logging trail selects them, as
AWS records them, and LookupEvents never returns them. The pipeline asks
CloudTrail (`Service.data_events`) before it records one; here IAM's
ListUsers is declared a data event for the test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.audit import records
from strongroom.protocol.http import Request
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.cloudtrail import trails
from strongroom.services.cloudtrail.trails import Trail


@pytest.fixture
def app(tmp_path) -> Iterator[tuple[App, Credentials]]:
    config = Config(data_dir=tmp_path)
    access_key_id, secret, _ = prepare(config)
    assert secret is not None
    application = App(config)
    yield application, Credentials(access_key_id, secret)
    application.shutdown()


def request(
    credentials: Credentials, service: str, body: str, target: str | None = None
) -> Request:
    headers = (
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        if target
        else {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    aws = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=body, headers=headers)
    SigV4Auth(credentials, service, "us-east-1").add_auth(aws)
    signed = {k.lower(): v for k, v in aws.headers.items()}
    signed["host"] = "127.0.0.1:4566"
    return Request("POST", "/", "", signed, body.encode())


def stored_names(application: App) -> list[tuple[str, bool]]:
    application.audit.flush(wait=True)
    with application.store.transaction(write=False) as conn:
        return [(e.event_name, e.management) for _, _, e in records.scan(conn)]


def test_a_data_event_is_recorded_only_while_a_trail_selects_it(app, monkeypatch) -> None:
    application, credentials = app
    iam = next(s for s in application.services if s.name == "iam")
    monkeypatch.setitem(
        iam.operations,
        "ListUsers",
        dataclasses.replace(iam.operations["ListUsers"], management=False),
    )
    list_users = "Action=ListUsers&Version=2010-05-08"
    assert application.handle(request(credentials, "iam", list_users)).status == 200
    assert ("ListUsers", False) not in stored_names(application)

    trail = Trail(
        account="000000000000", region="us-east-1", name="data", s3_bucket="b",
        arn=trails.trail_arn("000000000000", "us-east-1", "data"), logging=True,
        selectors={"advanced": [{"FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "eventName", "Equals": ["ListUsers"]}]}]},
    )  # fmt: skip
    with application.store.transaction() as conn:
        trails.create(conn, trail)
    assert application.handle(request(credentials, "iam", list_users)).status == 200
    assert stored_names(application).count(("ListUsers", False)) == 1

    # LookupEvents never returns a data event.
    looked = application.handle(
        request(
            credentials,
            "cloudtrail",
            '{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"ListUsers"}]}',
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
        )
    )
    assert looked.status == 200 and b'"Events":[]' in looked.body.replace(b" ", b"")

    trail.logging = False
    with application.store.transaction() as conn:
        trails.save(conn, trail, "logging")
    assert application.handle(request(credentials, "iam", list_users)).status == 200
    assert stored_names(application).count(("ListUsers", False)) == 1


def test_the_scheduled_job_delivers_through_the_configured_sink(app, monkeypatch) -> None:
    """CreateTrail + StartLogging over the wire, then the scheduler's job
    (under its lease) writes the events recorded since as a log file
    through the sink the wiring configures — once."""
    import gzip
    import json

    from strongroom.services.cloudtrail import destinations, ops_delivery
    from strongroom.services.cloudtrail.delivery import MemorySink

    application, credentials = app
    # No bucket here: the S3 wiring's check is the e2e tests' (test_cloudtrail_delivery).
    monkeypatch.setattr(destinations, "_bucket_check", lambda *args: None)
    target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
    created = application.handle(
        request(
            credentials,
            "cloudtrail",
            '{"Name":"job","S3BucketName":"trail-bucket"}',
            target + "CreateTrail",
        )
    )
    assert created.status == 200, created.body
    started = application.handle(
        request(credentials, "cloudtrail", '{"Name":"job"}', target + "StartLogging")
    )
    assert started.status == 200
    listed = application.handle(request(credentials, "iam", "Action=ListUsers&Version=2010-05-08"))
    assert listed.status == 200
    application.audit.flush(wait=True)
    sink = MemorySink()
    monkeypatch.setattr(ops_delivery, "_sink_factory", lambda run: sink)
    application.run_due_work(wait=True)
    names = [
        r["eventName"]
        for (bucket, key), (body, _, _) in sink.objects.items()
        if bucket == "trail-bucket" and "/CloudTrail/" in key
        for r in json.loads(gzip.decompress(body))["Records"]
    ]
    assert names.count("ListUsers") == 1, names
    application.run_due_work(wait=True)
    again = sum(
        len(json.loads(gzip.decompress(body))["Records"]) for body, _, _ in sink.objects.values()
    )
    assert again == len(names)
