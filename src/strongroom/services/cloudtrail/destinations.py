"""What CloudTrail checks of a trail's destinations before it takes them,
each behind a function the S3 and CloudWatch Logs wiring fills in.

- `bucket_check(call, bucket, prefix, trail_arn)`: the bucket exists
  (S3BucketDoesNotExistException) and its policy lets
  ``cloudtrail.amazonaws.com`` call GetBucketAcl and PutObject under
  ``[prefix/]AWSLogs/<account>/`` with ``aws:SourceArn`` the trail and
  ``s3:x-amz-acl`` bucket-owner-full-control
  (InsufficientS3BucketPolicyException). Until S3 is served here there is
  no bucket to check, and every bucket is taken.
- `encryption_check`: the KMS key exists and is enabled and its key policy
  allows CloudTrail GenerateDataKey* (InsufficientEncryptionPolicyException).
  Done here, through KMS's internal API.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from strongroom.encoding import json_value
from strongroom.framework import Call
from strongroom.services.cloudtrail.service import errors
from strongroom.services.kms import api as kms

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"

BucketCheck = Callable[[Call, str, str | None, str], None]


def _no_bucket_check(call: Call, bucket: str, prefix: str | None, trail_arn: str) -> None:
    return None


#: Replaced by the S3 wiring (`set_bucket_check`).
_bucket_check: BucketCheck = _no_bucket_check


def set_bucket_check(check: BucketCheck) -> None:
    global _bucket_check
    _bucket_check = check


def check_bucket(call: Call, bucket: str, prefix: str | None, trail_arn: str) -> None:
    _bucket_check(call, bucket, prefix, trail_arn)


def resolve_kms_key(call: Call, key_id: str, trail_arn: str) -> str:
    """The ARN of the trail's key, after CloudTrail's checks."""
    try:
        key = kms.key_for_service(call, key_id)
    except Exception as exc:  # KMS's NotFoundException
        if getattr(exc, "code", None) == "NotFoundException":
            raise errors.KmsKeyNotFoundException(
                f"KMS key {key_id} not found or access denied."
            ) from None
        raise
    if key["state"] != "Enabled":
        raise errors.KmsKeyDisabledException(f"KMS key {key['arn']} is disabled.")
    if not encryption_policy_allows(key["policy"], trail_arn):
        raise errors.InsufficientEncryptionPolicyException(
            "Insufficient permissions to access S3 bucket or KMS key."
        )
    return key["arn"]


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _names_cloudtrail(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return CLOUDTRAIL_PRINCIPAL in _listed(principal.get("Service")) or "*" in _listed(
        principal.get("AWS")
    )


def _action_matches(patterns: list[Any], action: str) -> bool:
    return any(
        isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns
    )


def _conditions_hold(condition: Any, trail_arn: str) -> bool:
    """The conditions CloudTrail's documented key policy uses: the trail's
    ARN in ``aws:SourceArn`` or the encryption context; others are taken."""
    if not isinstance(condition, dict):
        return True
    for operator, block in condition.items():
        if not isinstance(block, dict):
            continue
        for key, wanted in block.items():
            lowered = key.lower()
            if lowered == "aws:sourcearn" or lowered.startswith(
                "kms:encryptioncontext:aws:cloudtrail:arn"
            ):
                pats = [str(w) for w in _listed(wanted)]
                if operator.startswith("StringLike") or operator.startswith("ArnLike"):
                    ok = any(fnmatch.fnmatchcase(trail_arn, p) for p in pats)
                else:
                    ok = trail_arn in pats
                if not ok:
                    return False
    return True


def encryption_policy_allows(policy_text: str, trail_arn: str) -> bool:
    """Whether a key policy lets CloudTrail call kms:GenerateDataKey* for
    this trail (an Allow naming the service, no Deny)."""
    try:
        policy = json_value(policy_text)
    except ValueError:
        return False
    statements = _listed(policy.get("Statement") if isinstance(policy, dict) else None)
    allowed = False
    for st in statements:
        if not isinstance(st, dict) or not _names_cloudtrail(st.get("Principal")):
            continue
        if not _action_matches(_listed(st.get("Action")), "kms:GenerateDataKey"):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow" and _conditions_hold(st.get("Condition"), trail_arn):
            allowed = True
    return allowed


def bucket_policy_allows(
    policy_text: str | None, bucket: str, prefix: str | None, account: str, trail_arn: str
) -> bool:
    """Whether a bucket policy lets CloudTrail deliver for this trail, as
    CreateTrail requires (for the S3 wiring's `set_bucket_check`):
    ``s3:GetBucketAcl`` on the bucket and ``s3:PutObject`` on
    ``arn:aws:s3:::<bucket>/[prefix/]AWSLogs/<account>/*`` allowed to
    ``cloudtrail.amazonaws.com`` (with ``s3:x-amz-acl`` bucket-owner-full-control
    and ``aws:SourceArn`` the trail where the policy conditions on them), and
    neither denied."""
    if not policy_text:
        return False
    try:
        policy = json_value(policy_text)
    except ValueError:
        return False
    statements = _listed(policy.get("Statement") if isinstance(policy, dict) else None)
    base = f"{prefix}/" if prefix else ""
    needs = {
        "s3:GetBucketAcl": f"arn:aws:s3:::{bucket}",
        # A log file key under the account's prefix stands for them all.
        "s3:PutObject": f"arn:aws:s3:::{bucket}/{base}AWSLogs/{account}/CloudTrail/log.json.gz",
    }
    allowed = dict.fromkeys(needs, False)
    for st in statements:
        if not isinstance(st, dict) or not _names_cloudtrail(st.get("Principal")):
            continue
        for action, resource in needs.items():
            if not _action_matches(_listed(st.get("Action")), action):
                continue
            if not _resource_matches(_listed(st.get("Resource")), resource):
                continue
            if st.get("Effect") == "Deny":
                return False
            if st.get("Effect") == "Allow" and _s3_conditions_hold(st.get("Condition"), trail_arn):
                allowed[action] = True
    return all(allowed.values())


def _resource_matches(patterns: list[Any], resource: str) -> bool:
    return any(isinstance(p, str) and fnmatch.fnmatchcase(resource, p) for p in patterns)


def _s3_conditions_hold(condition: Any, trail_arn: str) -> bool:
    if not _conditions_hold(condition, trail_arn):
        return False
    if not isinstance(condition, dict):
        return True
    for block in condition.values():
        if isinstance(block, dict):
            for key, wanted in block.items():
                if key.lower() == "s3:x-amz-acl" and "bucket-owner-full-control" not in [
                    str(w) for w in _listed(wanted)
                ]:
                    return False
    return True
