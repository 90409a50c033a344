"""services/s3/api.py: CloudTrail, Logs and Redshift deliver objects into a
customer's bucket as their service principal, allowed only by the bucket
policy (with its aws:SourceArn / aws:SourceAccount / s3:x-amz-acl
conditions), exactly as AWS authorizes those deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.s3 import api as s3_api
from strongroom.services.s3.service import errors

TRAIL = "arn:aws:cloudtrail:us-east-1:000000000000:trail/main"
BUCKET = "audit-archive"
PREFIX = "AWSLogs/000000000000/"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = Config(data_dir=tmp_path)
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


def _policy(conditions: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}*",
                    "Condition": conditions,
                },
                {
                    "Sid": "AWSCloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{BUCKET}",
                },
            ],
        }
    )


def _deliver(app: App, internal_call: Any, key: str, **kw: Any) -> str:
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="cloudtrail")
        return s3_api.deliver(
            call,
            kw.pop("principal", "cloudtrail.amazonaws.com"),
            BUCKET,
            key,
            b'{"Records": []}',
            **kw,
        )


def test_a_delivery_needs_the_bucket_policy(app: App, internal_call: Any) -> None:
    with app.store.transaction(write=True) as conn:
        owner = internal_call(app, conn)
        owner.invoke("s3", "CreateBucket", Bucket=BUCKET)
    key = f"{PREFIX}CloudTrail/us-east-1/2026/12/07/file.json.gz"
    with pytest.raises(errors.AccessDenied):
        _deliver(app, internal_call, key, source_arn=TRAIL, source_account="000000000000")
    conditions = {
        "StringEquals": {
            "s3:x-amz-acl": "bucket-owner-full-control",
            "aws:SourceArn": TRAIL,
            "aws:SourceAccount": "000000000000",
        }
    }
    with app.store.transaction(write=True) as conn:
        internal_call(app, conn).invoke(
            "s3", "PutBucketPolicy", Bucket=BUCKET, Policy=_policy(conditions)
        )
    etag = _deliver(app, internal_call, key, source_arn=TRAIL, source_account="000000000000")
    assert etag.startswith('"')
    with app.store.transaction(write=False) as conn:
        out = internal_call(app, conn).invoke("s3", "GetObject", Bucket=BUCKET, Key=key)
    assert b"".join(out["Body"]) == b'{"Records": []}'
    with app.store.transaction(write=True) as conn:
        s3_api.authorize_delivery(
            internal_call(app, conn, service="cloudtrail"),
            "cloudtrail.amazonaws.com",
            BUCKET,
            "",
            action="s3:GetBucketAcl",
        )
    # Outside the prefix, another trail, no SourceAccount, another service: refused.
    refused = [
        ("other/file", {"source_arn": TRAIL, "source_account": "000000000000"}),
        (key, {"source_arn": TRAIL + "2", "source_account": "000000000000"}),
        (key, {"source_arn": TRAIL}),
        (
            key,
            {
                "source_arn": TRAIL,
                "source_account": "000000000000",
                "principal": "logs.us-east-1.amazonaws.com",
            },
        ),
    ]
    for where, kw in refused:
        with pytest.raises(errors.AccessDenied):
            _deliver(app, internal_call, where, **kw)


def test_no_bucket(app: App, internal_call: Any) -> None:
    with pytest.raises(errors.NoSuchBucket):
        _deliver(app, internal_call, "k", source_arn=TRAIL)
