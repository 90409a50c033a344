"""S3 event notifications to Lambda: ObjectCreated/ObjectRemoved invoke the
function with AWS's event shape once the change committed, only where the
function's resource policy lets s3.amazonaws.com in for the bucket."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import requests
from lambda_helpers import handler_zip, role

from strongroom.testing import StrongroomServer

RECORDER = """
import json, os

def lambda_handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return "ok"
"""


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


def wait_for(path: Path, lines: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            found = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if len(found) >= lines:
                return found
        time.sleep(0.1)
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_object_events_invoke_lambda(server: StrongroomServer, tmp_path: Path) -> None:
    s3: Any = server.client("s3")
    lam = server.client("lambda")
    out = tmp_path / "events.jsonl"
    name = "s3-events-" + uuid.uuid4().hex[:6]
    fn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role(server.client("iam")),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": handler_zip(RECORDER)},
        Environment={"Variables": {"OUT": str(out)}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    bucket = f"events-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    config = {
        "LambdaFunctionConfigurations": [
            {
                "Id": "logs-created",
                "LambdaFunctionArn": fn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "logs/"}]}},
            }
        ]
    }
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["LambdaFunctionConfigurations"][0]["Id"] == "logs-created"
    # Without the function's permission for S3 nothing is delivered.
    s3.put_object(Bucket=bucket, Key="logs/denied.txt", Body=b"x")
    time.sleep(1.0)
    assert not out.exists()
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount="000000000000",
    )
    etag = s3.put_object(Bucket=bucket, Key="logs/a b.txt", Body=b"hello")["ETag"]
    s3.put_object(Bucket=bucket, Key="other/ignored", Body=b"x")
    # A browser-based upload (POST Object) is s3:ObjectCreated:Post.
    form = s3.generate_presigned_post(bucket, "logs/posted.txt")
    posted = requests.post(
        form["url"], data=form["fields"], files={"file": ("f", b"posted")}, timeout=30
    )
    assert posted.status_code == 204, posted.text
    s3.delete_object(Bucket=bucket, Key="logs/a b.txt")
    events = wait_for(out, 3)
    # Delivered asynchronously, in any order: the sequencer orders them (as on AWS).
    records = sorted(
        (e["Records"][0] for e in events), key=lambda r: r["s3"]["object"]["sequencer"]
    )
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectRemoved:Delete",
    ]
    assert records[1]["s3"]["object"]["key"] == "logs/posted.txt"
    assert records[1]["s3"]["object"]["size"] == 6
    first = records[0]
    assert first["eventSource"] == "aws:s3" and first["eventVersion"] == "2.1"
    assert first["s3"]["bucket"]["name"] == bucket
    assert first["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert first["s3"]["object"]["key"] == "logs/a+b.txt"
    assert first["s3"]["object"]["size"] == 5
    assert first["s3"]["object"]["eTag"] == etag.strip('"')
    assert first["s3"]["configurationId"] == "logs-created"


def test_bad_configurations_refused(server: StrongroomServer) -> None:
    s3: Any = server.client("s3")
    bucket = f"evbad-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for conf in (
        {"LambdaFunctionArn": "nope", "Events": ["s3:ObjectCreated:*"]},
        {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
         "Events": ["s3:Nothing"]},
    ):  # fmt: skip
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [conf]}
            )
        assert exc.value.response["Error"]["Code"] == "InvalidArgument"
