"""Object Lock: retention (GOVERNANCE, COMPLIANCE) and legal holds that
really refuse to remove a version until the clock passes its date (the
server clock: `--time-travel` crosses it in seconds).

What is refused, as AWS refuses it: deleting a locked version by its id
(a delete without a version id only adds a delete marker), overwriting the
`null` version of a locked key, and shortening or removing a retention.
GOVERNANCE gives way to a caller sending
``x-amz-bypass-governance-retention: true`` who is allowed
``s3:BypassGovernanceRetention``; COMPLIANCE and legal holds never do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.objects import Obj
from strongroom.services.s3.service import errors

MODES = ("GOVERNANCE", "COMPLIANCE")
DAY = 86400.0


def epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def require_enabled(bucket: Bucket) -> None:
    if bucket.object_lock is None:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")


def for_new_version(
    bucket: Bucket, mode: str | None, until: Any, legal_hold: str | None, now: float
) -> dict[str, Any]:
    """The lock fields of a version being written: the request's, else the
    bucket's default retention."""
    if (
        mode is not None or until is not None or legal_hold is not None
    ) and bucket.object_lock is None:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
    if (mode is None) != (until is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )
    out: dict[str, Any] = {"legal_hold": legal_hold == "ON"}
    if mode is not None:
        if mode not in MODES:
            raise errors.InvalidArgument("Unknown wormMode directive.")
        stamp = epoch(until)
        if stamp <= now:
            raise errors.InvalidArgument("The retain until date must be in the future!")
        out.update(lock_mode=mode, lock_until=stamp)
        return out
    default = ((bucket.object_lock or {}).get("Rule") or {}).get("DefaultRetention")
    if default:
        days = default.get("Days") or 0
        years = default.get("Years") or 0
        out.update(lock_mode=default["Mode"], lock_until=now + days * DAY + years * 365 * DAY)
    return out


def _bypass(call: Call, bucket: Bucket, key: str, bypass: bool | None) -> bool:
    if not bypass:
        return False
    access.authorize(call, "s3:BypassGovernanceRetention", bucket, key)
    return True


def check_removal(call: Call, bucket: Bucket, obj: Obj | None, bypass: bool | None) -> None:
    """Refuse to remove (or overwrite) a version Object Lock protects."""
    if obj is None or obj.delete_marker:
        return
    if obj.legal_hold:
        raise _protected()
    if obj.lock_until is None or obj.lock_until <= call.clock.timestamp():
        return
    if obj.lock_mode == "GOVERNANCE" and _bypass(call, bucket, obj.key, bypass):
        return
    raise _protected()


def check_retention_change(
    call: Call, bucket: Bucket, obj: Obj, mode: str | None, until: float | None, bypass: bool | None
) -> None:
    """A retention may be lengthened; shortened or removed only in
    GOVERNANCE mode with the bypass; COMPLIANCE never (until it expires)."""
    now = call.clock.timestamp()
    if obj.lock_until is None or obj.lock_until <= now:
        return
    weaker = (
        until is None
        or until < obj.lock_until
        or (obj.lock_mode == "COMPLIANCE" and mode == "GOVERNANCE")
    )
    if not weaker:
        return
    if obj.lock_mode == "GOVERNANCE" and _bypass(call, bucket, obj.key, bypass):
        return
    raise _protected()


def _protected() -> Exception:
    return errors.AccessDenied("Access Denied because object protected by object lock.")


def members(obj: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.lock_mode and obj.lock_until is not None:
        out["ObjectLockMode"] = obj.lock_mode
        out["ObjectLockRetainUntilDate"] = obj.lock_until
    if obj.legal_hold:
        out["ObjectLockLegalHoldStatus"] = "ON"
    return out
