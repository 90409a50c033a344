"""Object Lock operations: the bucket's configuration (default retention),
a version's retention and legal hold (`locks` says what they refuse)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, buckets, locks, objects
from strongroom.services.s3.service import errors, service


@service.operation(authorize=False)
def put_object_lock_configuration(
    call: Call, Bucket: str, ObjectLockConfiguration: dict[str, Any] | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketObjectLockConfiguration", bucket)
    config = ObjectLockConfiguration or {}
    if config.get("ObjectLockEnabled") != "Enabled":
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    if bucket.object_lock is None and bucket.versioning != "Enabled":
        raise errors.InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
        )
    rule = config.get("Rule")
    stored: dict[str, Any] = {}
    if rule:
        default = rule.get("DefaultRetention") or {}
        mode, days, years = default.get("Mode"), default.get("Days"), default.get("Years")
        if mode not in locks.MODES or (days is None) == (years is None):
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        if (days is not None and days <= 0) or (years is not None and years <= 0):
            raise errors.InvalidArgument(
                "Default retention period must be a positive integer value"
            )
        stored = {"Rule": {"DefaultRetention": {k: v for k, v in default.items() if v is not None}}}
    buckets.set_fields(call.conn, Bucket, object_lock=stored, versioning="Enabled")
    return {}


@service.operation(authorize=False)
def get_object_lock_configuration(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketObjectLockConfiguration", bucket)
    if bucket.object_lock is None:
        raise errors.ObjectLockConfigurationNotFoundError(
            "Object Lock configuration does not exist for this bucket", BucketName=Bucket
        )
    return {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", **bucket.object_lock}}


@service.operation(authorize=False, data_event=True)
def put_object_retention(
    call: Call,
    Bucket: str,
    Key: str,
    Retention: dict[str, Any] | None = None,
    VersionId: str | None = None,
    BypassGovernanceRetention: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutObjectRetention", bucket, Key)
    locks.require_enabled(bucket)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    retention = Retention or {}
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if (mode is None) != (until is None):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    if mode is not None and mode not in locks.MODES:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    stamp = locks.epoch(until) if until is not None else None
    if stamp is not None and stamp <= call.clock.timestamp():
        raise errors.InvalidArgument("The retain until date must be in the future!")
    locks.check_retention_change(call, bucket, obj, mode, stamp, BypassGovernanceRetention)
    objects.set_fields(call.conn, obj, lock_mode=mode, lock_until=stamp)
    return {}


@service.operation(authorize=False, data_event=True)
def get_object_retention(
    call: Call, Bucket: str, Key: str, VersionId: str | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetObjectRetention", bucket, Key)
    locks.require_enabled(bucket)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    if not obj.lock_mode:
        raise errors.NoSuchObjectLockConfiguration(
            "The specified object does not have a ObjectLock configuration"
        )
    return {"Retention": {"Mode": obj.lock_mode, "RetainUntilDate": obj.lock_until}}


@service.operation(authorize=False, data_event=True)
def put_object_legal_hold(
    call: Call,
    Bucket: str,
    Key: str,
    LegalHold: dict[str, Any] | None = None,
    VersionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutObjectLegalHold", bucket, Key)
    locks.require_enabled(bucket)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    status = (LegalHold or {}).get("Status")
    if status not in ("ON", "OFF"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    objects.set_fields(call.conn, obj, legal_hold=status == "ON")
    return {}


@service.operation(authorize=False, data_event=True)
def get_object_legal_hold(
    call: Call, Bucket: str, Key: str, VersionId: str | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetObjectLegalHold", bucket, Key)
    locks.require_enabled(bucket)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    return {"LegalHold": {"Status": "ON" if obj.legal_hold else "OFF"}}
