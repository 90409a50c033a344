"""The key-policy check CreateTrail makes of its KMS key, on the documents
AWS's CloudTrail guide shows. (The bucket policy is S3's to evaluate, through
its delivery API: tests/e2e/test_cloudtrail_delivery.py.)"""

from __future__ import annotations

import json

from strongroom.services.cloudtrail.destinations import (
    encryption_policy_allows,
)

ACCT = "000000000000"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/org-audit"
SERVICE = {"Service": "cloudtrail.amazonaws.com"}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_key_policy() -> None:
    allow = {"Effect": "Allow", "Principal": SERVICE, "Action": "kms:GenerateDataKey*",
             "Resource": "*", "Condition": {"StringLike": {
                 "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCT}:trail/*"}}}  # fmt: skip
    assert encryption_policy_allows(doc(allow), TRAIL)
    assert not encryption_policy_allows(doc(allow), "arn:aws:cloudtrail:us-east-1:1:trail/x")
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
            "Action": "kms:*", "Resource": "*"}  # fmt: skip
    assert not encryption_policy_allows(doc(root), TRAIL)
    assert not encryption_policy_allows(doc(allow, {**allow, "Effect": "Deny"}), TRAIL)
    assert not encryption_policy_allows("not json", TRAIL)
