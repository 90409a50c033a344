"""S3 state: buckets (one global namespace), objects, multipart uploads and
their parts, the per-account SSE-S3 keys (sealed by the root key) and the
blobs waiting to be removed from the blob store once their rows are gone.

Object bodies are never here: each is a blob in the blob store (`blobs`),
named by its id and encrypted under its own data key, stored here only
wrapped (under the account's SSE-S3 key, or by KMS for SSE-KMS)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, LargeBinary, String, Table, Text

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account", String(12), nullable=False, index=True),
    Column("region", String(32), nullable=False),
    Column("created", Float, nullable=False),
    #: {key: value}
    Column("tags", JsonText, nullable=False, default=dict),
    #: The ServerSideEncryptionConfiguration as given, or NULL (SSE-S3).
    Column("encryption", JsonText, nullable=True),
    #: The bucket policy document, or NULL.
    Column("policy", Text, nullable=True),
    #: The bucket's Block Public Access settings (all four on for a new
    #: bucket, as on AWS since 2023), or NULL once deleted.
    Column("public_access_block", JsonText, nullable=True),
    #: The CORS configuration's rules, or NULL.
    Column("cors", JsonText, nullable=True),
    #: NULL (never enabled), "Enabled" or "Suspended".
    Column("versioning", String(16), nullable=True),
    #: Object Lock: NULL (not enabled, which only CreateBucket can do), or
    #: {"Rule": {"DefaultRetention": {...}}} ({} without a default).
    Column("object_lock", JsonText, nullable=True),
    #: The lifecycle configuration's rules as given, or NULL.
    Column("lifecycle", JsonText, nullable=True),
    #: The NotificationConfiguration as given, or NULL.
    Column("notifications", JsonText, nullable=True),
    #: An S3 Bucket Key: a data key KMS made for the bucket (wrapped), which
    #: wraps the objects' own data keys; with its key ARN and when S3 makes
    #: a new one.
    Column("bucket_key", LargeBinary, nullable=True),
    Column("bucket_key_arn", String(2048), nullable=True),
    Column("bucket_key_until", Float, nullable=True),
)

#: Keys sort as S3 lists them, by their UTF-8 bytes (PostgreSQL's "C" collation).
KeyText = String(1024).with_variant(String(1024, collation="C"), "postgresql")

objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String(63), primary_key=True),
    Column("key", KeyText, primary_key=True),
    #: "null" for a version written while versioning was never enabled or
    #: suspended; else a time-ordered id.
    Column("version_id", String(64), primary_key=True),
    #: The key's current version (at most one row of a key has it).
    Column("latest", Boolean, nullable=False, default=True),
    #: A delete marker: no body (blob and data key empty).
    Column("delete_marker", Boolean, nullable=False, default=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("blob", String(40), nullable=False),
    #: The object's data key, wrapped (see `crypto`).
    Column("data_key", LargeBinary, nullable=False),
    #: AES256 or aws:kms (what the object answers as ServerSideEncryption).
    Column("sse", String(16), nullable=False),
    Column("kms_key_arn", String(2048), nullable=True),
    #: The data key is wrapped under the bucket key of this ARN (Bucket Keys).
    Column("bucket_key", LargeBinary, nullable=True),
    #: Content-Type, Cache-Control… as given: {member: value}.
    Column("headers", JsonText, nullable=False, default=dict),
    Column("metadata", JsonText, nullable=False, default=dict),
    Column("tags", JsonText, nullable=False, default=dict),
    #: {"algorithm": "CRC32", "value": "...", "type": "FULL_OBJECT"} or {}.
    Column("checksum", JsonText, nullable=False, default=dict),
    Column("storage_class", String(32), nullable=False, default="STANDARD"),
    Column("parts", Integer, nullable=True),
    Column("owner", String(12), nullable=False),
    #: Object Lock retention of this version: GOVERNANCE or COMPLIANCE
    #: until the clock passes `lock_until`; a legal hold until it is lifted.
    Column("lock_mode", String(16), nullable=True),
    Column("lock_until", Float, nullable=True),
    Column("legal_hold", Boolean, nullable=False, default=False),
    #: SSE-C: the MD5 of the customer's key (base64), never the key.
    Column("customer_key_md5", String(32), nullable=True),
)

uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("bucket", String(63), nullable=False, index=True),
    Column("key", KeyText, nullable=False),
    Column("initiated", Float, nullable=False),
    Column("initiator", String(2048), nullable=False),
    Column("owner", String(12), nullable=False),
    #: What the object will be created with: headers, metadata, tags, SSE
    #: settings, checksum algorithm and type, storage class.
    Column("attrs", JsonText, nullable=False, default=dict),
    #: The upload's data key for its parts, wrapped as an object's.
    Column("data_key", LargeBinary, nullable=False),
    Column("bucket_key", LargeBinary, nullable=True),
)

parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("blob", String(40), nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("checksum", JsonText, nullable=False, default=dict),
)

account_keys = Table(
    "s3_account_keys",
    metadata,
    Column("account", String(12), primary_key=True),
    #: 32 bytes, sealed under the root key (AAD names the account).
    Column("sealed", LargeBinary, nullable=False),
)

#: Blobs no row refers to any more, removed by the `collect` job after the
#: transaction that dropped them committed (so a rolled-back delete never
#: loses a body).
garbage = Table(
    "s3_garbage",
    metadata,
    Column("blob", String(40), primary_key=True),
    Column("since", Float, nullable=False),
    Column("pending", Boolean, nullable=False, default=False),
)

#: The part of a body kept in the store, by blob id (see `objects`): a small
#: body itself, sealed as a one-chunk blob under the object's data key
#: (ids ``i…``: no file), or the key of a blob written before its
#: transaction opened, sealed under the data key (ids ``k…``). A table of
#: its own, not columns of `objects`: a store made before it gains it with
#: no migration.
bodies = Table(
    "s3_bodies",
    metadata,
    Column("blob", String(40), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

#: The pieces of an object CompleteMultipartUpload made (blob ids ``m…``):
#: its parts' blobs, in order, opened with the object's data key (the
#: upload's), so completing an upload writes rows, not its bytes again.
composed = Table(
    "s3_composed",
    metadata,
    Column("blob", String(40), primary_key=True),
    Column("object_blob", String(40), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
)

#: A bucket's Object Ownership and ACL, once they differ from a new
#: bucket's (BucketOwnerEnforced, the owner's FULL_CONTROL): no row is that
#: default, so the hot path reads nothing. A table of its own so a store
#: made before it gains it with no migration; DeleteBucket drops the row.
bucket_acls = Table(
    "s3_bucket_acls",
    metadata,
    Column("bucket", String(63), primary_key=True),
    #: ObjectWriter, BucketOwnerPreferred or BucketOwnerEnforced; NULL once
    #: DeleteBucketOwnershipControls removed them (ACLs then enabled, objects
    #: owned by their writers, as AWS does).
    Column("ownership", String(32), nullable=True),
    #: The bucket ACL's grants as GetBucketAcl answers them, or NULL (the
    #: owner's FULL_CONTROL).
    Column("grants", JsonText, nullable=True),
)

#: Account-level Block Public Access (S3 Control's PutPublicAccessBlock),
#: combined with each bucket's own settings: a setting on at either level is on.
account_public_access = Table(
    "s3_account_public_access",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("config", JsonText, nullable=False),
)

TABLES = (
    buckets, objects, uploads, parts, account_keys, garbage, bodies, composed, bucket_acls,
    account_public_access,
)  # fmt: skip
