"""What CloudTrail checks of a trail's destinations before it takes them,
and on each delivery.

- `check_bucket(call, bucket, prefix, trail_arn)`: the bucket exists
  (S3BucketDoesNotExistException) and its policy lets
  ``cloudtrail.amazonaws.com`` call GetBucketAcl and PutObject under
  ``[prefix/]AWSLogs/<account>/`` with ``aws:SourceArn`` the trail and
  ``s3:x-amz-acl`` bucket-owner-full-control
  (InsufficientS3BucketPolicyException) — asked of S3's delivery API, so
  the bucket policy is evaluated by S3's own authorizer, as AWS asks S3.
- `resolve_kms_key`: the KMS key exists and is enabled and its key policy
  allows CloudTrail GenerateDataKey* (InsufficientEncryptionPolicyException).
  Done here, through KMS's internal API.
- `check_logs(call, group_arn, role_arn)`: the group exists in the trail's
  account (InvalidCloudWatchLogsLogGroupArnException), the role's trust
  policy lets ``cloudtrail.amazonaws.com`` assume it
  (InvalidCloudWatchLogsRoleArnException) and its permissions allow
  logs:CreateLogStream and logs:PutLogEvents on the trail's stream
  (InvalidCloudWatchLogsLogGroupArnException, in AWS's words).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from strongroom.encoding import json_value
from strongroom.framework import Call, JobRun
from strongroom.services.cloudtrail.service import errors
from strongroom.services.kms import api as kms
from strongroom.services.logs import api as logs
from strongroom.services.s3 import api as s3
from strongroom.services.sts import api as sts

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
#: What the role for CloudWatch Logs must allow on the trail's stream.
LOGS_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]

BucketCheck = Callable[[Call, str, str | None, str], None]


def _s3_bucket_check(call: Call, bucket: str, prefix: str | None, trail_arn: str) -> None:
    account = trail_arn.split(":")[4]
    base = f"{prefix}/" if prefix else ""
    try:
        s3.authorize_delivery(
            call,
            CLOUDTRAIL_PRINCIPAL,
            bucket,
            "",
            source_arn=trail_arn,
            source_account=account,
            action="s3:GetBucketAcl",
        )
        s3.authorize_delivery(
            call,
            CLOUDTRAIL_PRINCIPAL,
            bucket,
            f"{base}AWSLogs/{account}/",
            source_arn=trail_arn,
            source_account=account,
        )
    except Exception as err:
        code = getattr(err, "code", None)
        if code == "NoSuchBucket":
            raise errors.S3BucketDoesNotExistException(
                f"S3 bucket {bucket} does not exist."
            ) from None
        if code == "AccessDenied":
            raise errors.InsufficientS3BucketPolicyException(
                f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
            ) from None
        raise


#: Replaceable (`set_bucket_check`) for unit tests that run without S3.
_bucket_check: BucketCheck = _s3_bucket_check


def set_bucket_check(check: BucketCheck | None) -> None:
    global _bucket_check
    _bucket_check = check or _s3_bucket_check


def check_bucket(call: Call, bucket: str, prefix: str | None, trail_arn: str) -> None:
    _bucket_check(call, bucket, prefix, trail_arn)


def log_group_parts(group_arn: str) -> tuple[str, str, str]:
    """(account, Region, group name) of ``arn:aws:logs:<region>:<acct>:log-group:<name>:*``."""
    parts = group_arn.split(":")
    return parts[4], parts[3], parts[6]


def stream_arn(group_arn: str, stream: str) -> str:
    return f"{group_arn.removesuffix(':*')}:log-stream:{stream}"


def logs_refusal(ctx: Call | JobRun, group_arn: str, role_arn: str, stream: str) -> str | None:
    """Why CloudTrail may not put events into `stream` of the group through
    the role (AWS's exception name and message), or None when it may."""
    account, region, name = log_group_parts(group_arn)
    if not logs.group_exists(ctx, name, account=account, region=region):
        return (
            "InvalidCloudWatchLogsLogGroupArnException: "
            f"CloudTrail cannot validate the specified log group ARN {group_arn}."
        )
    if not sts.service_may_assume(ctx, role_arn, CLOUDTRAIL_PRINCIPAL):
        return (
            "InvalidCloudWatchLogsRoleArnException: "
            "Access denied. Check the trust relationships for your role."
        )
    if not sts.service_role_allows(
        ctx, role_arn, CLOUDTRAIL_PRINCIPAL, LOGS_ACTIONS, stream_arn(group_arn, stream)
    ):
        return (
            "InvalidCloudWatchLogsLogGroupArnException: "
            "Access denied. Verify in IAM that the role has adequate permissions."
        )
    return None


def check_logs(call: Call, group_arn: str, role_arn: str, region: str) -> None:
    """CreateTrail's and UpdateTrail's check of the CloudWatch Logs destination."""
    account = log_group_parts(group_arn)[0]
    if account != call.account:
        raise errors.InvalidCloudWatchLogsLogGroupArnException(
            "Log group ARN and trail must be in the same account."
        )
    refusal = logs_refusal(call, group_arn, role_arn, f"{call.account}_CloudTrail_{region}")
    if refusal is not None:
        code, _, message = refusal.partition(": ")
        raise getattr(errors, code)(message)


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
