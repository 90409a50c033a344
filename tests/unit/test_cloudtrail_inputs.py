"""Bad input to every trail operation is an AWS error (4xx), never a 500:
empty bodies, empty and odd names, ARNs of other services, wrong shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.protocol.http import Request
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare


def request(credentials: Credentials, body: str, target: str) -> Request:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    aws = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=body, headers=headers)
    SigV4Auth(credentials, "cloudtrail", "us-east-1").add_auth(aws)
    signed = {k.lower(): v for k, v in aws.headers.items()}
    signed["host"] = "127.0.0.1:4566"
    return Request("POST", "/", "", signed, body.encode())


TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
NAMES = ["", "a", "arn:aws:cloudtrail:us-east-1:000000000000:trail/", "arn:aws:s3:::x",
         "arn:aws:cloudtrail:us-east-1:000000000000:trail/none", "x" * 300, "bad name!", "ok-trail"]  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[App, Credentials]]:
    config = Config(data_dir=tmp_path_factory.mktemp("ct-inputs"))
    access_key_id, secret, _ = prepare(config)
    assert secret is not None
    application = App(config)
    yield application, Credentials(access_key_id, secret)
    application.shutdown()


def bodies() -> Iterator[tuple[str, dict]]:
    for name in NAMES:
        yield "CreateTrail", {"Name": name, "S3BucketName": name or "b"}
        yield "CreateTrail", {"Name": "ok-trail", "S3BucketName": "trail-bucket", "KmsKeyId": name}
        for op in ("GetTrail", "DeleteTrail", "GetTrailStatus", "StartLogging", "StopLogging"):
            yield op, {"Name": name}
        yield "UpdateTrail", {"Name": name, "CloudWatchLogsLogGroupArn": name}
        for op in ("GetEventSelectors", "GetInsightSelectors"):
            yield op, {"TrailName": name}
        yield "PutEventSelectors", {"TrailName": name, "EventSelectors": [{}]}
        yield (
            "PutEventSelectors",
            {
                "TrailName": "ok-trail",
                "AdvancedEventSelectors": [{"FieldSelectors": [{"Field": name, "Equals": [name]}]}],
            },
        )
        yield "PutEventSelectors", {"TrailName": "ok-trail", "EventSelectors": [{"DataResources": [{"Type": name}]}]}  # fmt: skip
        yield "PutInsightSelectors", {"TrailName": name, "InsightSelectors": [{"InsightType": name}]}  # fmt: skip
        yield "AddTags", {"ResourceId": name, "TagsList": [{"Key": name or "k"}]}
        yield "RemoveTags", {"ResourceId": name, "TagsList": [{"Key": "k"}]}
        yield "ListTags", {"ResourceIdList": [name]}
        yield "DescribeTrails", {"trailNameList": [name]}
    for op in ("CreateTrail", "UpdateTrail", "PutEventSelectors", "ListTags", "AddTags"):
        yield op, {}
    yield "ListPublicKeys", {"StartTime": 0, "EndTime": 1}
    yield "ListTrails", {"NextToken": "garbage"}


def test_no_input_is_a_500(app) -> None:
    application, credentials = app
    seen = set()
    for op, body in bodies():
        resp = application.handle(request(credentials, json.dumps(body), TARGET + op))
        assert resp.status < 500, (op, body, resp.body)
        seen.add(op)
    assert application.internal_failures == 0
    assert len(seen) >= 17
