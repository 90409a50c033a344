"""Credentials: long-term access keys (root and IAM users) and STS sessions.

Secret access keys are stored only sealed, with the key id as associated data.
Session tokens are stored as a SHA-256 digest: the server only ever needs to
recognise a token, never to give it back.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, LargeBinary, String, Table, Text

from strongroom.store.db import metadata

access_keys = Table(
    "auth_access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    #: None for the account root's keys.
    Column("user_name", String(64), nullable=True),
    Column("user_id", String(32), nullable=True),
    Column("user_arn", String(2048), nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created", Float, nullable=False),
    Column("last_used", Float, nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(32), nullable=True),
    Index("ix_auth_access_keys_user", "account", "user_name"),
)

sessions = Table(
    "auth_sessions",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("expires", Float, nullable=False),
    Column("created", Float, nullable=False),
    #: The Principal the session acts as, JSON (type, arn, principal_id, …).
    Column("principal", Text, nullable=False),
    #: The long-term key that asked for the session, for revocation.
    Column("source_access_key_id", String(128), nullable=True),
    Index("ix_auth_sessions_expires", "expires"),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    access_keys,
    sessions,
)
