"""Secrets Manager state. A secret value is stored only envelope-encrypted:
each version keeps the data key KMS wrapped for it (``data_key``) and the
value sealed under that data key (``sealed``), never the value itself.

The staging labels live in a table of their own whose key is (secret,
label): a label sits on at most one version of a secret because the store
cannot hold two rows for it. A version's VersionStages are the labels that
point at it; a version no label points at is deprecated.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

secrets = Table(
    "secretsmanager_secrets",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    #: The KmsKeyId the caller gave (NULL: the AWS managed key aws/secretsmanager).
    Column("kms_key_id", String(2048), nullable=True),
    Column("created", Float, nullable=False),
    Column("last_changed", Float, nullable=False),
    #: DeletionDate while scheduled for deletion, else NULL.
    Column("deletion_date", Float, nullable=True),
    #: When DeleteSecret was called (DescribeSecret's DeletedDate).
    Column("deleted", Float, nullable=True),
    #: [[key, value], ...] (JSON text).
    Column("tags", JsonText, nullable=False, default=list),
    #: The resource policy document, or NULL.
    Column("policy", Text, nullable=True),
    Column("owning_service", String(128), nullable=True),
    Column("secret_type", String(256), nullable=True),
    #: The primary's Region for a replica; NULL for a secret that is its own primary.
    Column("primary_region", String(32), nullable=True),
    #: A primary's replicas: [{"Region", "KmsKeyId", "Status", "StatusMessage"}] (JSON text).
    Column("replicas", JsonText, nullable=False, default=list),
    #: Rotation (RotateSecret, not served yet): configured on the secret so
    #: DescribeSecret reports it as AWS does once it is.
    Column("rotation_enabled", Boolean, nullable=False, default=False),
    Column("rotation_lambda_arn", String(2048), nullable=True),
    Column("rotation_rules", JsonText, nullable=True),
    Column("last_rotated", Float, nullable=True),
    Column("next_rotation", Float, nullable=True),
    #: Counts every new version, so versions sort by creation even within a second.
    Column("version_seq", Integer, nullable=False, default=0),
    Index("ix_secretsmanager_secrets_due", "deletion_date"),
)

versions = Table(
    "secretsmanager_versions",
    metadata,
    Column("secret_arn", String(2048), primary_key=True),
    Column("version_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("created", Float, nullable=False),
    #: "string", "binary", or NULL for a version with no value (AWSPENDING
    #: recorded by a rotation before its createSecret step).
    Column("kind", String(8), nullable=True),
    #: The data key as KMS's GenerateDataKey wrapped it, and the key that did.
    Column("data_key", LargeBinary, nullable=True),
    Column("key_arn", String(2048), nullable=True),
    #: The value sealed under the data key (AES-256-GCM, AAD naming the version).
    Column("sealed", LargeBinary, nullable=True),
    Index("ix_secretsmanager_versions_seq", "secret_arn", "seq"),
)

labels = Table(
    "secretsmanager_labels",
    metadata,
    Column("secret_arn", String(2048), primary_key=True),
    Column("label", String(256), primary_key=True),
    Column("version_id", String(64), nullable=False),
    Index("ix_secretsmanager_labels_version", "secret_arn", "version_id"),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (secrets, versions, labels)
