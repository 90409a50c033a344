"""IAM state. Names are unique per account regardless of case, as in IAM."""

from __future__ import annotations

from sqlalchemy import Column, Float, String, Table, Text, UniqueConstraint

from strongroom.store.db import metadata

users = Table(
    "iam_users",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(64), primary_key=True),  # lower-cased name
    Column("user_name", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created", Float, nullable=False),
    Column("permissions_boundary", String(2048), nullable=True),
    #: JSON list of {"Key", "Value"} in the order they were given.
    Column("tags", Text, nullable=False, default="[]"),
    UniqueConstraint("user_id", name="uq_iam_users_user_id"),
)
