"""PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration,
DeleteBucketLifecycle; the rules run in `lifecycle`, by the clock."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, buckets
from strongroom.services.s3.service import errors, service

_ACTIONS = (
    "Expiration",
    "Transitions",
    "NoncurrentVersionExpiration",
    "NoncurrentVersionTransitions",
    "AbortIncompleteMultipartUpload",
)


def _malformed() -> Exception:
    return errors.MalformedXML(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


def _plain(value: Any) -> Any:
    """The rule as stored: timestamps as ISO text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _validate(rule: dict[str, Any]) -> None:
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise _malformed()
    if len(rule.get("ID") or "") > 255:
        raise errors.InvalidArgument("ID length should not exceed allowed limit of 255")
    if not any(rule.get(a) for a in _ACTIONS):
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    expiration = rule.get("Expiration") or {}
    chosen = [
        k for k in ("Days", "Date", "ExpiredObjectDeleteMarker") if expiration.get(k) is not None
    ]
    if len(chosen) > 1:
        raise _malformed()
    if expiration.get("Days") is not None and expiration["Days"] <= 0:
        raise errors.InvalidArgument("'Days' for Expiration action must be a positive integer")
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    if noncurrent and (noncurrent.get("NoncurrentDays") or 0) <= 0:
        raise errors.InvalidArgument(
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
        )
    abort = rule.get("AbortIncompleteMultipartUpload") or {}
    if abort and (abort.get("DaysAfterInitiation") or 0) <= 0:
        raise errors.InvalidArgument("'DaysAfterInitiation' must be a positive integer")
    filt = rule.get("Filter")
    if filt is not None and len([k for k in filt if filt.get(k) is not None]) > 1:
        raise _malformed()
    if filt is not None and rule.get("Prefix") is not None:
        raise _malformed()


@service.operation(authorize=False)
def put_bucket_lifecycle_configuration(
    call: Call,
    Bucket: str,
    LifecycleConfiguration: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutLifecycleConfiguration", bucket)
    rules = (LifecycleConfiguration or {}).get("Rules") or []
    if not rules or len(rules) > 1000:
        raise _malformed()
    ids = [r.get("ID") for r in rules if r.get("ID")]
    if len(ids) != len(set(ids)):
        raise errors.InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    for rule in rules:
        _validate(rule)
    buckets.set_fields(call.conn, Bucket, lifecycle=_plain(rules))
    return {"TransitionDefaultMinimumObjectSize": "all_storage_classes_128K"}


@service.operation(authorize=False)
def get_bucket_lifecycle_configuration(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetLifecycleConfiguration", bucket)
    if not bucket.lifecycle:
        raise errors.NoSuchLifecycleConfiguration(
            "The lifecycle configuration does not exist", BucketName=Bucket
        )
    return {
        "Rules": bucket.lifecycle,
        "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K",
    }


@service.operation(authorize=False)
def delete_bucket_lifecycle(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutLifecycleConfiguration", bucket)
    buckets.set_fields(call.conn, Bucket, lifecycle=None)
    return {}
