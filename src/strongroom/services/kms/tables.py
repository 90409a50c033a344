"""KMS state. Key material is stored only sealed (`kms_key_material.sealed`).

A key lives in one (account, region); a multi-Region key has one row per
Region under the same ``mrk-`` key id, and each of those rows has its own
copy of every material version.
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

keys = Table(
    "kms_keys",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("key_id", String(64), primary_key=True),
    Column("arn", String(256), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("key_usage", String(32), nullable=False),
    Column("key_spec", String(32), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("key_manager", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("created", Float, nullable=False),
    Column("deletion_date", Float, nullable=True),
    Column("pending_window", Integer, nullable=True),
    Column("valid_to", Float, nullable=True),
    Column("expiration_model", String(32), nullable=True),
    Column("policy", Text, nullable=False),
    #: The primary's Region for a multi-Region key, else NULL.
    Column("primary_region", String(32), nullable=True),
    Column("multi_region", Boolean, nullable=False, default=False),
    Column("rotation_enabled", Boolean, nullable=False, default=False),
    Column("rotation_period", Integer, nullable=True),
    Column("next_rotation", Float, nullable=True),
    Column("on_demand_rotations", Integer, nullable=False, default=0),
    #: The material version new encryptions use (0: none yet, PendingImport).
    Column("current_version", Integer, nullable=False, default=0),
    Column("public_key", LargeBinary, nullable=True),
    #: List of {"TagKey", "TagValue"} (JSON text).
    Column("tags", JsonText, nullable=False, default=list),
    Index("ix_kms_keys_due", "state", "deletion_date"),
)

material = Table(
    "kms_key_material",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("key_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("material_id", String(64), nullable=False),
    #: Sealed under the root key with AAD naming (account, region, key, version).
    Column("sealed", LargeBinary, nullable=True),
    Column("created", Float, nullable=False),
    #: INITIAL | AUTOMATIC | ON_DEMAND
    Column("rotation_type", String(16), nullable=False),
    #: CURRENT | NON_CURRENT | PENDING_ROTATION
    Column("state", String(48), nullable=False),
    #: Imported material: IMPORTED | PENDING_IMPORT; NULL for generated material.
    Column("import_state", String(16), nullable=True),
    Column("valid_to", Float, nullable=True),
    Column("expiration_model", String(32), nullable=True),
    Column("description", String(256), nullable=True),
)

aliases = Table(
    "kms_aliases",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("alias_name", String(256), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Index("ix_kms_aliases_key", "account", "region", "key_id"),
)

grants = Table(
    "kms_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("name", String(256), nullable=True),
    Column("grantee", String(256), nullable=False),
    Column("retiring", String(256), nullable=True),
    Column("issuing_account", String(256), nullable=False),
    #: Sorted list of operation names (JSON text).
    Column("operations", JsonText, nullable=False),
    #: {"EncryptionContextEquals": {...}}, {"EncryptionContextSubset": {...}},
    #: {"SourceArn": ...} (JSON text), or NULL.
    Column("constraints", JsonText, nullable=True),
    Column("created", Float, nullable=False),
    Column("token", String(512), nullable=False),
    Index("ix_kms_grants_key", "account", "region", "key_id"),
    Index("ix_kms_grants_retiring", "retiring"),
)

#: GetParametersForImport's wrapping keys, found again by the import token.
import_tokens = Table(
    "kms_import_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("algorithm", String(32), nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("expires", Float, nullable=False),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    keys,
    material,
    aliases,
    grants,
    import_tokens,
)
