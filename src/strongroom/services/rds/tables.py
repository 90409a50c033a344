"""RDS state: DB instances, DB snapshots and the events RDS raised.

No secret is stored in clear: an encrypted instance's or snapshot's data key
is kept only as KMS wrapped it (``data_key``); no master password is stored
at all (PostgreSQL keeps its SCRAM verifier). The data itself lives in files
under ``<data-dir>/blobs/rds`` and ``<data-dir>/engines`` (see
`strongroom.services.rds.supervisor`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

from strongroom.services.rds.cluster_tables import (
    cluster_parameter_groups,
    cluster_snapshots,
    clusters,
)
from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

instances = Table(
    "rds_instances",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: DBInstanceIdentifier, lower-cased as RDS stores it.
    Column("identifier", String(63), primary_key=True),
    #: DbiResourceId ("db-…"): also the engine's instance id and file names.
    Column("resource_id", String(64), nullable=False, unique=True),
    Column("arn", String(2048), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("instance_class", String(64), nullable=False),
    Column("status", String(64), nullable=False),
    Column("master_username", String(128), nullable=True),
    Column("db_name", String(128), nullable=True),
    Column("port", Integer, nullable=True),
    Column("allocated_storage", Integer, nullable=False, default=0),
    Column("storage_type", String(32), nullable=False, default="gp2"),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("kms_key_arn", String(2048), nullable=True),
    #: The instance's data key, wrapped by KMS (NULL: unencrypted).
    Column("data_key", LargeBinary, nullable=True),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    Column("backup_retention", Integer, nullable=False, default=1),
    Column("created", Float, nullable=False),
    #: When a stopped instance starts by itself again (7 days after StopDBInstance).
    Column("auto_start_at", Float, nullable=True),
    #: [[key, value], ...]
    Column("tags", JsonText, nullable=False, default=list),
    #: PendingModifiedValues, as the wire has them (never a password: a new
    #: master password is set at once, as on AWS).
    Column("pending", JsonText, nullable=False, default=dict),
    #: Everything else DescribeDBInstances reports (windows, AZ, parameter
    #: group, MultiAZ, PubliclyAccessible…), as the wire has it.
    Column("attrs", JsonText, nullable=False, default=dict),
    #: The snapshot a restored instance came from (ARN), or NULL.
    Column("restored_from", String(2048), nullable=True),
    Index("ix_rds_instances_auto_start", "auto_start_at"),
)

snapshots = Table(
    "rds_snapshots",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("identifier", String(255), primary_key=True),
    #: Names the snapshot's file; never reused.
    Column("resource_id", String(64), nullable=False, unique=True),
    Column("arn", String(2048), nullable=False),
    Column("instance_identifier", String(63), nullable=False),
    Column("dbi_resource_id", String(64), nullable=True),
    #: manual | automated
    Column("snapshot_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("percent", Integer, nullable=False, default=0),
    Column("engine", String(64), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("master_username", String(128), nullable=True),
    Column("db_name", String(128), nullable=True),
    Column("port", Integer, nullable=True),
    Column("allocated_storage", Integer, nullable=False, default=0),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("kms_key_arn", String(2048), nullable=True),
    Column("data_key", LargeBinary, nullable=True),
    Column("created", Float, nullable=False),
    Column("instance_created", Float, nullable=True),
    #: The ARN of the snapshot this is a copy of, and its Region.
    Column("source_snapshot", String(2048), nullable=True),
    Column("source_region", String(32), nullable=True),
    #: Bytes in the snapshot's file (0: no data, a control-plane-only engine).
    Column("size", BigInteger, nullable=False, default=0),
    Column("has_data", Boolean, nullable=False, default=False),
    Column("tags", JsonText, nullable=False, default=list),
    #: The "restore" attribute: account ids the snapshot is shared with ("all": public).
    Column("shared_with", JsonText, nullable=False, default=list),
    #: The instance's settings a restore starts from (class, storage type…).
    Column("attrs", JsonText, nullable=False, default=dict),
    Index("ix_rds_snapshots_instance", "account", "region", "instance_identifier"),
)

events = Table(
    "rds_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("source_id", String(255), nullable=False),
    #: db-instance | db-snapshot | db-parameter-group …
    Column("source_type", String(32), nullable=False),
    Column("source_arn", String(2048), nullable=False),
    Column("message", Text, nullable=False),
    Column("categories", JsonText, nullable=False, default=list),
    Column("date", Float, nullable=False),
    Index("ix_rds_events_date", "account", "region", "date"),
)

parameter_groups = Table(
    "rds_parameter_groups",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: DBParameterGroupName, lower-cased as RDS stores it.
    Column("name", String(255), primary_key=True),
    Column("arn", String(2048), nullable=False),
    Column("family", String(255), nullable=False),
    Column("description", Text, nullable=False),
    #: The values set in the group: {parameter name: value}.
    Column("parameters", JsonText, nullable=False, default=dict),
    Column("tags", JsonText, nullable=False, default=list),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    instances,
    snapshots,
    events,
    parameter_groups,
    clusters,
    cluster_snapshots,
    cluster_parameter_groups,
)
