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
    cluster_endpoints,
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
    #: An instance's automated snapshots (the backup job looks every 2 s).
    Index("ix_rds_snapshots_dbi", "dbi_resource_id", "snapshot_type"),
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

option_groups = Table(
    "rds_option_groups",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: OptionGroupName, lower-cased as RDS stores it.
    Column("name", String(255), primary_key=True),
    Column("arn", String(2048), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("major", String(32), nullable=False),
    Column("description", Text, nullable=False),
    #: A copy's SourceOptionGroup (the source's ARN) and CopyTimestamp.
    Column("source", String(2048), nullable=True),
    Column("copied", Float, nullable=True),
    Column("tags", JsonText, nullable=False, default=list),
)

automated_backups = Table(
    "rds_automated_backups",
    metadata,
    #: The instance's DbiResourceId: an automated backup outlives its
    #: instance (retained), and a new instance of the same name has another.
    Column("dbi_resource_id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("instance_identifier", String(63), nullable=False),
    Column("instance_arn", String(2048), nullable=False),
    #: creating (no automated snapshot yet) | active | retained (instance deleted)
    Column("status", String(32), nullable=False),
    Column("retention", Integer, nullable=False),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("kms_key_arn", String(2048), nullable=True),
    #: The instance's data key as KMS wrapped it: the WAL segments and the
    #: automated snapshots are sealed under the instance's data key.
    Column("data_key", LargeBinary, nullable=True),
    #: The restore window (clock times; None: nothing to restore to yet).
    Column("earliest", Float, nullable=True),
    Column("latest", Float, nullable=True),
    #: When the last heartbeat was written (clock), and the segment holding
    #: it while that segment is not yet archived: {"segment", "time"}.
    Column("last_heartbeat", Float, nullable=True),
    Column("pending_heartbeat", JsonText, nullable=False, default=dict),
    Column("created", Float, nullable=False),
    #: What DescribeDBInstanceAutomatedBackups reports of the instance
    #: (engine, version, user, port, storage, window…), as the wire has it.
    Column("attrs", JsonText, nullable=False, default=dict),
    Index("ix_rds_automated_backups_owner", "account", "region"),
)

wal_segments = Table(
    "rds_wal_segments",
    metadata,
    Column("dbi_resource_id", String(64), primary_key=True),
    #: The engine's file name (segment, timeline history, backup history).
    Column("name", String(64), primary_key=True),
    #: When it was sealed into the archive (clock).
    Column("archived", Float, nullable=False),
    #: The heartbeat it holds (clock time before that commit), if any: every
    #: time before it is reachable once this segment is archived.
    Column("heartbeat", Float, nullable=True),
    Column("size", BigInteger, nullable=False, default=0),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    instances,
    snapshots,
    events,
    parameter_groups,
    automated_backups,
    wal_segments,
    option_groups,
)

#: How far the CloudWatch Logs publisher (`log_exports`) has read each
#: engine log file of an instance, per exported log type: the byte offset
#: of the first line not yet published, written in the transaction that
#: publishes the lines before it (no line twice, none lost, across restarts).
log_cursors = Table(
    "rds_log_cursors",
    metadata,
    Column("resource_id", String(64), primary_key=True),
    Column("log_type", String(32), primary_key=True),
    #: As DescribeDBLogFiles names it: ``error/postgresql.log.2026-12-07-23``.
    Column("file_name", String(255), primary_key=True),
    Column("offset", BigInteger, nullable=False),
)

TABLES = (*TABLES, log_cursors)

#: The last minute (clock timestamp, a multiple of 60) whose CloudWatch
#: metrics each instance has published (`monitoring`): written with the
#: datums, so a minute is published once, across retries and restarts.
metric_marks = Table(
    "rds_metric_marks",
    metadata,
    Column("resource_id", String(64), primary_key=True),
    Column("minute", Float, nullable=False),
)

TABLES = (*TABLES, metric_marks)

TABLES = (*TABLES, clusters, cluster_snapshots, cluster_parameter_groups, cluster_endpoints)
