"""A bucket CloudTrail may deliver into: CloudTrail's documented bucket
policy (AWSCloudTrailAclCheck, AWSCloudTrailWrite) for every trail of the
account, as CreateTrail requires."""

from __future__ import annotations

import json
from typing import Any


def trail_bucket_policy(bucket: str, account: str = "000000000000") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*AWSLogs/{account}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]})  # fmt: skip


def make_trail_bucket(s3: Any, bucket: str, account: str = "000000000000") -> str:
    """Create `bucket` (if it is not there yet) with the policy; its name."""
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_policy(Bucket=bucket, Policy=trail_bucket_policy(bucket, account))
    return bucket
