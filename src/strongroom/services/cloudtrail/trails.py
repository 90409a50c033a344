"""Trails: the domain layer over ``cloudtrail_trails`` (names and their
rules, look-up by name or ARN across the account's Regions for multi-region
trails, the five-a-Region quota, projections to the wire)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from strongroom.framework import Call
from strongroom.framework.tagging import Tag
from strongroom.services.cloudtrail.service import errors
from strongroom.services.cloudtrail.tables import log_files, logs_cursors, trails
from strongroom.store.db import Prepared

#: Trails a Region may have, multi-region trails of other Regions included.
MAX_TRAILS = 5

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]\Z")
_ADJACENT = re.compile(r"[._-]{2}")
_IP = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\Z")
_LOG_GROUP_ARN = re.compile(r"arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:[\w.\-/#]+:\*\Z")
_ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@\-/]+\Z")


@dataclass(slots=True)
class Trail:
    account: str
    region: str
    name: str
    arn: str
    s3_bucket: str
    s3_prefix: str | None = None
    sns_topic: str | None = None
    include_global: bool = True
    multi_region: bool = False
    validation: bool = False
    logs_group_arn: str | None = None
    logs_role_arn: str | None = None
    kms_key_arn: str | None = None
    organization: bool = False
    recursive_logging: bool = True
    tags: list[Any] = field(default_factory=list)
    selectors: dict[str, Any] | None = None
    insights: list[dict[str, str]] | None = None
    created: float = 0.0
    logging: bool = False
    start_logging: float | None = None
    stop_logging: float | None = None
    cursor_seq: int = 0
    cursor_index: int = 0
    next_delivery: float | None = None
    last_delivery: float | None = None
    last_attempt: float | None = None
    delivery_error: str | None = None
    logs_delivery: float | None = None
    logs_error: str | None = None
    digest_start: float | None = None
    digest_due: float | None = None
    digest_previous: dict[str, Any] | None = None
    last_digest: float | None = None
    digest_error: str | None = None

    @property
    def tag_list(self) -> list[Tag]:
        return [Tag(*t) for t in self.tags]

    def covers(self, region: str) -> bool:
        return self.region == region or self.multi_region

    def to_trail(self) -> dict[str, Any]:
        """The Trail shape (DescribeTrails, GetTrail)."""
        out: dict[str, Any] = {"Name": self.name, "S3BucketName": self.s3_bucket}
        if self.s3_prefix:
            out["S3KeyPrefix"] = self.s3_prefix
        if self.sns_topic:
            out["SnsTopicName"] = self.sns_topic
            out["SnsTopicARN"] = self.sns_topic_arn
        out.update(
            IncludeGlobalServiceEvents=self.include_global,
            IsMultiRegionTrail=self.multi_region,
            HomeRegion=self.region,
            TrailARN=self.arn,
            LogFileValidationEnabled=self.validation,
        )
        if self.logs_group_arn:
            out["CloudWatchLogsLogGroupArn"] = self.logs_group_arn
            out["CloudWatchLogsRoleArn"] = self.logs_role_arn
        if self.kms_key_arn:
            out["KmsKeyId"] = self.kms_key_arn
        out["HasCustomEventSelectors"] = self.selectors is not None
        out["HasInsightSelectors"] = bool(self.insights)
        out["IsOrganizationTrail"] = self.organization
        out["RecursiveLogging"] = self.recursive_logging  # dropped by models without it
        return out

    def to_created(self) -> dict[str, Any]:
        """CreateTrail's and UpdateTrail's answer."""
        out = self.to_trail()
        for name in ("HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"):
            out.pop(name, None)
        return out

    @property
    def sns_topic_arn(self) -> str | None:
        if not self.sns_topic:
            return None
        if self.sns_topic.startswith("arn:"):
            return self.sns_topic
        return f"arn:aws:sns:{self.region}:{self.account}:{self.sns_topic}"

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"IsLogging": self.logging}
        if self.delivery_error:
            out["LatestDeliveryError"] = self.delivery_error
        if self.last_delivery is not None:
            out["LatestDeliveryTime"] = _date(self.last_delivery)
        if self.start_logging is not None:
            out["StartLoggingTime"] = _date(self.start_logging)
            out["TimeLoggingStarted"] = _iso(self.start_logging)
        if self.stop_logging is not None:
            out["StopLoggingTime"] = _date(self.stop_logging)
            out["TimeLoggingStopped"] = _iso(self.stop_logging)
        if self.logs_error:
            out["LatestCloudWatchLogsDeliveryError"] = self.logs_error
        if self.logs_delivery is not None:
            out["LatestCloudWatchLogsDeliveryTime"] = _date(self.logs_delivery)
        if self.last_digest is not None:
            out["LatestDigestDeliveryTime"] = _date(self.last_digest)
        if self.digest_error:
            out["LatestDigestDeliveryError"] = self.digest_error
        if self.last_attempt is not None:
            out["LatestDeliveryAttemptTime"] = _iso(self.last_attempt)
            out["LatestDeliveryAttemptSucceeded"] = (
                _iso(self.last_delivery) if self.last_delivery is not None else ""
            )
        out["LatestNotificationAttemptTime"] = ""
        out["LatestNotificationAttemptSucceeded"] = ""
        return out


_COLUMNS = [f.name for f in fields(Trail) if not f.name.startswith("_")]


def _date(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def trail_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _of(row: Any) -> Trail:
    return Trail(**{name: row._mapping[name] for name in _COLUMNS})


# -- rules -------------------------------------------------------------------


def require_name(name: str) -> None:
    """CloudTrail's trail-name rules (InvalidTrailNameException)."""
    if not 3 <= len(name) <= 128:
        raise errors.InvalidTrailNameException(
            "Trail name too short. Minimum allowed length: 3 characters. Specified name length: "
            f"{len(name)} characters."
            if len(name) < 3
            else "Trail name too long. Maximum allowed length: 128 characters. "
            f"Specified name length: {len(name)} characters."
        )
    if not _NAME.match(name):
        raise errors.InvalidTrailNameException(
            "Trail name must starts with a letter or number and end with a letter or number, "
            "and can contain only ASCII letters (a-z, A-Z), numbers (0-9), periods (.), "
            "underscores (_), or dashes (-)."
        )
    if _ADJACENT.search(name):
        raise errors.InvalidTrailNameException(
            "Trail name cannot have adjacent periods, underscores or dashes."
        )
    if _IP.match(name):
        raise errors.InvalidTrailNameException("Trail name cannot be in IP address format.")


def require_bucket_name(bucket: str) -> None:
    if not 3 <= len(bucket) <= 63 or not re.match(r"[a-z0-9][a-z0-9.-]*[a-z0-9]\Z", bucket):
        raise errors.InvalidS3BucketNameException(f"Bucket name is not valid: {bucket}.")


def require_prefix(prefix: str | None) -> None:
    if prefix is not None and (len(prefix) > 200 or prefix == "/"):
        raise errors.InvalidS3PrefixException(f"Invalid S3 prefix: {prefix}.")


def require_logs(group_arn: str | None, role_arn: str | None) -> None:
    """CloudWatch Logs destination: both ARNs or neither, each well formed."""
    if group_arn and not _LOG_GROUP_ARN.match(group_arn):
        raise errors.InvalidCloudWatchLogsLogGroupArnException(
            f"CloudWatch Logs log group ARN is invalid: {group_arn}"
        )
    if group_arn and not role_arn:
        raise errors.InvalidCloudWatchLogsRoleArnException(
            "You must specify a role ARN together with the log group ARN."
        )
    if role_arn and not group_arn:
        raise errors.InvalidCloudWatchLogsLogGroupArnException(
            "You must specify a log group ARN together with the role ARN."
        )
    if role_arn and not _ROLE_ARN.match(role_arn):
        raise errors.InvalidCloudWatchLogsRoleArnException(
            f"CloudWatch Logs role ARN is invalid: {role_arn}"
        )


# -- look-ups ----------------------------------------------------------------


def account_trails(conn: Connection, account: str) -> list[Trail]:
    rows = conn.execute(
        select(trails).where(trails.c.account == account).order_by(trails.c.region, trails.c.name)
    )
    return [_of(r) for r in rows]


def visible(conn: Connection, account: str, region: str, shadows: bool = True) -> list[Trail]:
    """The trails a Region lists: its own and, with `shadows`, the account's
    multi-region trails homed elsewhere."""
    query = select(trails).where(trails.c.account == account)
    if shadows:
        query = query.where(or_(trails.c.region == region, trails.c.multi_region.is_(True)))
    else:
        query = query.where(trails.c.region == region)
    return [_of(r) for r in conn.execute(query.order_by(trails.c.name))]


#: Asked before every data event is recorded (most stores have no trail):
#: compiled once, a tenth of a Core statement's cost.
_ANY_LOGGING = Prepared(select(trails.c.arn).where(trails.c.logging.is_(True)).limit(1))


def logging_trails(conn: Connection) -> list[Trail]:
    if _ANY_LOGGING.first(conn) is None:
        return []
    return [_of(r) for r in conn.execute(select(trails).where(trails.c.logging.is_(True)))]


def by_arn(conn: Connection, arn: str) -> Trail | None:
    """The trail of that ARN (delivery's own look-up, not a caller's)."""
    row = conn.execute(select(trails).where(trails.c.arn == arn)).first()
    return None if row is None else _of(row)


def find(call: Call, name_or_arn: str) -> Trail | None:
    """The trail a Name/TrailName member names, as the caller's Region sees
    it: a name its own or a multi-region trail's; an ARN of the account."""
    if name_or_arn.startswith("arn:"):
        query = select(trails).where(trails.c.arn == name_or_arn)
    else:
        query = select(trails).where(trails.c.account == call.account, trails.c.name == name_or_arn)
    for row in call.conn.execute(query):
        trail = _of(row)
        if trail.account == call.account and trail.covers(call.region):
            return trail
    return None


def parse_name(name: str) -> None:
    """A Name that is an ARN must be a trail's ARN (CloudTrailARNInvalidException)."""
    if name.startswith("arn:"):
        parts = name.split(":", 5)
        if len(parts) != 6 or parts[2] != "cloudtrail" or not parts[5].startswith("trail/"):
            raise errors.CloudTrailARNInvalidException(
                f"CloudTrail ARN is invalid: {name}. The ARN must be in the format "
                "arn:aws:cloudtrail:region:account-id:trail/trail-name."
            )
    else:
        require_name(name)


def resolve(call: Call, name: str | None) -> Trail:
    if not name:
        raise errors.TrailNotProvidedException("Trail name or ARN is required.")
    parse_name(name)
    trail = find(call, name)
    if trail is None:
        arn = name if name.startswith("arn:") else trail_arn(call.account, call.region, name)
        raise errors.TrailNotFoundException(f"Unknown trail: {arn} for the user: {call.account}")
    return trail


def require_home(call: Call, trail: Trail) -> None:
    if trail.region != call.region:
        raise errors.InvalidHomeRegionException(
            f"This operation must be called from the trail's home region, {trail.region}."
        )


def require_room(call: Call, multi_region: bool) -> None:
    """Five trails a Region; a multi-region trail counts in every Region."""
    mine = account_trails(call.conn, call.account)
    regions = {t.region for t in mine} | {call.region}
    for region in regions if multi_region else {call.region}:
        if sum(1 for t in mine if t.covers(region)) >= MAX_TRAILS:
            raise errors.MaximumNumberOfTrailsExceededException(
                f"User: {call.account} already has {MAX_TRAILS} trails in {region}."
            )


# -- writes ------------------------------------------------------------------


def create(conn: Connection, trail: Trail) -> None:
    values = {name: getattr(trail, name) for name in _COLUMNS}
    conn.execute(insert(trails).values(values))


def save(conn: Connection, trail: Trail, *names: str) -> None:
    conn.execute(
        update(trails)
        .where(trails.c.arn == trail.arn)
        .values({n: getattr(trail, n) for n in names})
    )


def remove(conn: Connection, trail: Trail) -> None:
    """Delete the trail, and its record of log files not yet digested."""
    conn.execute(delete(log_files).where(log_files.c.trail_arn == trail.arn))
    conn.execute(delete(logs_cursors).where(logs_cursors.c.trail_arn == trail.arn))
    conn.execute(delete(trails).where(trails.c.arn == trail.arn))
