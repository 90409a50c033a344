"""The key-policy and bucket-policy checks CreateTrail makes of its
destinations, on the documents AWS's CloudTrail guide shows."""

from __future__ import annotations

import json

from strongroom.services.cloudtrail.destinations import (
    bucket_policy_allows,
    encryption_policy_allows,
)

ACCT = "000000000000"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/org-audit"
SERVICE = {"Service": "cloudtrail.amazonaws.com"}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ACL = {"Effect": "Allow", "Principal": SERVICE, "Action": "s3:GetBucketAcl",
       "Resource": "arn:aws:s3:::trail-bucket",
       "Condition": {"StringEquals": {"aws:SourceArn": TRAIL}}}  # fmt: skip
WRITE = {"Effect": "Allow", "Principal": SERVICE, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::trail-bucket/AWSLogs/{ACCT}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                        "aws:SourceArn": TRAIL}}}  # fmt: skip


def test_the_documented_bucket_policy_is_enough() -> None:
    assert bucket_policy_allows(doc(ACL, WRITE), "trail-bucket", None, ACCT, TRAIL)


def test_bucket_policy_refusals() -> None:
    assert not bucket_policy_allows(None, "trail-bucket", None, ACCT, TRAIL)
    assert not bucket_policy_allows(doc(ACL), "trail-bucket", None, ACCT, TRAIL)
    assert not bucket_policy_allows(doc(WRITE), "trail-bucket", None, ACCT, TRAIL)
    # The prefix must be in the writable resource.
    assert not bucket_policy_allows(doc(ACL, WRITE), "trail-bucket", "p", ACCT, TRAIL)
    other = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/other"
    assert not bucket_policy_allows(doc(ACL, WRITE), "trail-bucket", None, ACCT, other)
    deny = {**WRITE, "Effect": "Deny"}
    deny.pop("Condition")
    assert not bucket_policy_allows(doc(ACL, WRITE, deny), "trail-bucket", None, ACCT, TRAIL)
    wrong_acl = {**WRITE, "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}}
    assert not bucket_policy_allows(doc(ACL, wrong_acl), "trail-bucket", None, ACCT, TRAIL)


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
