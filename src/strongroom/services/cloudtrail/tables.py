"""CloudTrail state: trails, their delivery cursors and log files, and the
per-Region key pairs that sign digest files (private keys sealed)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

trails = Table(
    "cloudtrail_trails",
    metadata,
    Column("account", String(12), primary_key=True),
    #: The home Region: the trail's own; a multi-region trail shadows the others.
    Column("region", String(32), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("s3_bucket", String(63), nullable=False),
    Column("s3_prefix", String(200), nullable=True),
    Column("sns_topic", String(256), nullable=True),
    Column("include_global", Boolean, nullable=False, default=True),
    Column("multi_region", Boolean, nullable=False, default=False),
    Column("validation", Boolean, nullable=False, default=False),
    Column("logs_group_arn", String(2048), nullable=True),
    Column("logs_role_arn", String(2048), nullable=True),
    Column("kms_key_arn", String(2048), nullable=True),
    Column("organization", Boolean, nullable=False, default=False),
    #: RecursiveLogging: False suppresses the events of CloudTrail's own deliveries.
    Column("recursive_logging", Boolean, nullable=False, default=True),
    #: [[key, value], ...].
    Column("tags", JsonText, nullable=False, default=list),
    #: {"basic": [...]} or {"advanced": [...]}, or NULL for the default selector.
    Column("selectors", JsonText, nullable=True),
    #: [{"InsightType": ...}] or NULL.
    Column("insights", JsonText, nullable=True),
    Column("created", Float, nullable=False),
    Column("logging", Boolean, nullable=False, default=False),
    Column("start_logging", Float, nullable=True),
    Column("stop_logging", Float, nullable=True),
    #: Delivery: the last audit batch position handed over (seq, index within).
    Column("cursor_seq", Integer, nullable=False, default=0),
    Column("cursor_index", Integer, nullable=False, default=0),
    Column("next_delivery", Float, nullable=True),
    Column("last_delivery", Float, nullable=True),
    Column("last_attempt", Float, nullable=True),
    Column("delivery_error", Text, nullable=True),
    Column("logs_delivery", Float, nullable=True),
    Column("logs_error", Text, nullable=True),
    #: Digests: the end of the last digest (the next one's start), when the
    #: next is due, and each Region's last digest, {region: {bucket, object,
    #: hash, signature}} (each Region's digests chain on their own).
    Column("digest_start", Float, nullable=True),
    Column("digest_due", Float, nullable=True),
    Column("digest_previous", JsonText, nullable=True),
    Column("last_digest", Float, nullable=True),
    Column("digest_error", Text, nullable=True),
    Index("ix_cloudtrail_trails_logging", "logging"),
)

#: Log files delivered and not yet named by a digest.
log_files = Table(
    "cloudtrail_log_files",
    metadata,
    Column("trail_arn", String(2048), primary_key=True),
    Column("s3_object", String(1024), primary_key=True),
    Column("s3_bucket", String(63), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("oldest", Float, nullable=False),
    Column("newest", Float, nullable=False),
    Column("delivered", Float, nullable=False),
)

#: The key pairs digests are signed with, one current per Region.
signing_keys = Table(
    "cloudtrail_signing_keys",
    metadata,
    Column("region", String(32), primary_key=True),
    Column("fingerprint", String(32), primary_key=True),
    #: PKCS #1 RSAPublicKey, DER.
    Column("public_der", LargeBinary, nullable=False),
    #: The PKCS #8 private key, sealed (AAD names the Region and fingerprint).
    Column("sealed_private", LargeBinary, nullable=False),
    Column("valid_from", Float, nullable=False),
    #: NULL while the key is current.
    Column("valid_to", Float, nullable=True),
)

#: Delivery to CloudWatch Logs: each trail's own cursor into the audit
#: batches (its cadence is seconds, the S3 files' five minutes).
logs_cursors = Table(
    "cloudtrail_logs_cursors",
    metadata,
    Column("trail_arn", String(2048), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("idx", Integer, nullable=False),
)

TABLES = (trails, log_files, signing_keys, logs_cursors)
