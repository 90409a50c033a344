"""Lifecycle rules, run by the clock: expiration of current versions
(Days, Date), of noncurrent versions (NoncurrentDays,
NewerNoncurrentVersions), removal of expired delete markers, aborting
incomplete multipart uploads, and transitions recorded as storage-class
changes; filtered by prefix, tags and object size.

Times are counted as AWS counts them: the days are added to the object's
creation (or, for a noncurrent version, the time it stopped being current)
and rounded up to the next midnight UTC. The job runs under the scheduler
lease, so once across worker processes; Object Lock still protects the
versions it protects (a locked noncurrent version stays)."""

from __future__ import annotations

import math
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection

from strongroom.services.s3 import buckets, multipart, objects
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.objects import Obj

DAY = 86400.0


def due(created: float, days: int) -> float:
    """`days` after `created`, rounded up to the next midnight UTC."""
    return math.ceil((created + days * DAY) / DAY) * DAY


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def matches(rule: dict[str, Any], obj: Obj) -> bool:
    filt = rule.get("Filter")
    if filt is None:
        return obj.key.startswith(rule.get("Prefix") or "")
    conditions = filt.get("And") or filt
    if not obj.key.startswith(conditions.get("Prefix") or ""):
        return False
    tags = list(conditions.get("Tags") or [])
    if filt.get("Tag"):
        tags.append(filt["Tag"])
    for tag in tags:
        if obj.tags.get(tag.get("Key")) != tag.get("Value"):
            return False
    bigger = conditions.get("ObjectSizeGreaterThan")
    smaller = conditions.get("ObjectSizeLessThan")
    if bigger is not None and not obj.size > bigger:
        return False
    return not (smaller is not None and not obj.size < smaller)


def _locked(obj: Obj, now: float) -> bool:
    return obj.legal_hold or (obj.lock_until is not None and obj.lock_until > now)


class _Next:
    def __init__(self) -> None:
        self.at: float | None = None

    def note(self, when: float) -> None:
        if self.at is None or when < self.at:
            self.at = when


def run(conn: Connection, now: float) -> float | None:
    """Apply every bucket's rules at `now`; when a rule next has work."""
    upcoming = _Next()
    for bucket in buckets.with_lifecycle(conn):
        _apply(conn, bucket, now, upcoming)
    return upcoming.at


def _apply(conn: Connection, bucket: Bucket, now: float, upcoming: _Next) -> None:
    rules = [r for r in bucket.lifecycle or [] if r.get("Status") == "Enabled"]
    if not rules:
        return
    by_key: dict[str, list[Obj]] = {}
    for obj in objects.all_versions(conn, bucket.name):
        by_key.setdefault(obj.key, []).append(obj)
    for key, versions in by_key.items():
        for rule in rules:
            versions = _apply_rule(conn, bucket, rule, key, versions, now, upcoming)
            if not versions:
                break
    for rule in rules:
        abort = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
        if abort is None:
            continue
        prefix = ((rule.get("Filter") or {}).get("Prefix")) or rule.get("Prefix") or ""
        for upload in multipart.of_bucket(conn, bucket.name):
            if not upload.key.startswith(prefix):
                continue
            when = due(upload.initiated, abort)
            if when <= now:
                for blob in multipart.remove(conn, upload.upload_id):
                    objects.discard(conn, blob, now)
            else:
                upcoming.note(when)


def _apply_rule(
    conn: Connection,
    bucket: Bucket,
    rule: dict[str, Any],
    key: str,
    versions: list[Obj],
    now: float,
    upcoming: _Next,
) -> list[Obj]:
    current = versions[0] if versions and versions[0].latest else None
    expiration = rule.get("Expiration") or {}
    if current is not None and not current.delete_marker and matches(rule, current):
        when = None
        if expiration.get("Days") is not None:
            when = due(current.last_modified, expiration["Days"])
        elif expiration.get("Date") is not None:
            when = _epoch(expiration["Date"])
        if when is not None and when <= now:
            if bucket.versioning is None and _locked(current, now):
                return versions
            objects.remove(conn, bucket.name, key, now, bucket.versioning)
            return objects.all_versions_of(conn, bucket.name, key)
        if when is not None:
            upcoming.note(when)
        for transition in rule.get("Transitions") or []:
            at = (
                due(current.last_modified, transition["Days"])
                if transition.get("Days") is not None
                else _epoch(transition["Date"])
                if transition.get("Date") is not None
                else None
            )
            if at is None:
                continue
            if at <= now and current.storage_class != transition.get("StorageClass"):
                objects.set_fields(conn, current, storage_class=transition["StorageClass"])
                current.storage_class = transition["StorageClass"]
            elif at > now:
                upcoming.note(at)
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    days = noncurrent.get("NoncurrentDays")
    if days is not None:
        keep = noncurrent.get("NewerNoncurrentVersions") or 0
        kept = 0
        removed = False
        for newer, obj in pairwise(versions):
            if obj.latest or not matches(rule, obj if not obj.delete_marker else newer):
                continue
            kept += 1
            if kept <= keep:
                continue
            when = due(newer.last_modified, days)
            if when <= now and not _locked(obj, now):
                objects.remove(conn, bucket.name, key, now, bucket.versioning, obj.version_id)
                removed = True
            elif when > now:
                upcoming.note(when)
        if removed:
            versions = objects.all_versions_of(conn, bucket.name, key)
    if (
        expiration.get("ExpiredObjectDeleteMarker")
        and len(versions) == 1
        and versions[0].delete_marker
        and versions[0].key.startswith(
            ((rule.get("Filter") or {}).get("Prefix")) or rule.get("Prefix") or ""
        )
    ):
        objects.remove(conn, bucket.name, key, now, bucket.versioning, versions[0].version_id)
        return []
    return versions
