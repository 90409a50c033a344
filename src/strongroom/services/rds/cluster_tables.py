"""Aurora DB clusters' table. A cluster's instances are rows of
``rds_instances`` (their ``attrs`` name the cluster); the cluster keeps
which of them is the writer and their order.

No master password is stored: the cluster keeps the SCRAM verifier
PostgreSQL itself would keep, so a writer created later (the cluster has no
compute until then) gets the master user without the password ever being
kept in clear."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, LargeBinary, String, Table

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

clusters = Table(
    "rds_clusters",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: DBClusterIdentifier, lower-cased as RDS stores it.
    Column("identifier", String(63), primary_key=True),
    #: DbClusterResourceId ("cluster-…").
    Column("resource_id", String(64), nullable=False, unique=True),
    Column("arn", String(2048), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("status", String(64), nullable=False),
    Column("master_username", String(128), nullable=False),
    #: The master user's SCRAM-SHA-256 verifier (never the password).
    Column("master_verifier", String(512), nullable=False),
    Column("db_name", String(128), nullable=True),
    #: The Port asked for (the writer listens on it); NULL: any free port.
    Column("port", Integer, nullable=True),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("kms_key_arn", String(2048), nullable=True),
    #: The cluster's own data key, wrapped by KMS (proves the key at creation).
    Column("data_key", LargeBinary, nullable=True),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    Column("backup_retention", Integer, nullable=False, default=1),
    Column("created", Float, nullable=False),
    #: DbiResourceId of the writer instance, or NULL (no instances yet).
    Column("writer", String(64), nullable=True),
    #: DbiResourceIds of every instance, in creation order.
    Column("members", JsonText, nullable=False, default=list),
    Column("tags", JsonText, nullable=False, default=list),
    #: What else DescribeDBClusters reports (parameter group, windows…).
    Column("attrs", JsonText, nullable=False, default=dict),
)

cluster_snapshots = Table(
    "rds_cluster_snapshots",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("identifier", String(255), primary_key=True),
    #: Names the snapshot's file; never reused.
    Column("resource_id", String(64), nullable=False, unique=True),
    Column("arn", String(2048), nullable=False),
    Column("cluster_identifier", String(63), nullable=False),
    Column("cluster_resource_id", String(64), nullable=False),
    #: manual (automated cluster snapshots are not taken yet)
    Column("snapshot_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("percent", Integer, nullable=False, default=0),
    Column("engine", String(64), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("master_username", String(128), nullable=False),
    #: The cluster's master user verifier, so a restored cluster keeps its password.
    Column("master_verifier", String(512), nullable=False),
    Column("db_name", String(128), nullable=True),
    Column("port", Integer, nullable=True),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("kms_key_arn", String(2048), nullable=True),
    #: The snapshot's data key, wrapped by KMS (NULL: unencrypted).
    Column("data_key", LargeBinary, nullable=True),
    Column("created", Float, nullable=False),
    Column("cluster_created", Float, nullable=True),
    #: The ARN of the cluster snapshot this is a copy of, or NULL.
    Column("source_arn", String(2048), nullable=True),
    Column("tags", JsonText, nullable=False, default=list),
)

cluster_parameter_groups = Table(
    "rds_cluster_parameter_groups",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: DBClusterParameterGroupName, lower-cased as RDS stores it.
    Column("name", String(255), primary_key=True),
    Column("arn", String(2048), nullable=False),
    Column("family", String(255), nullable=False),
    Column("description", String(1024), nullable=False),
    #: The values set in the group: {parameter name: value}.
    Column("parameters", JsonText, nullable=False, default=dict),
    Column("tags", JsonText, nullable=False, default=list),
)

cluster_endpoints = Table(
    "rds_cluster_endpoints",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    #: DBClusterEndpointIdentifier, lower-cased as RDS stores it.
    Column("identifier", String(63), primary_key=True),
    #: DBClusterEndpointResourceIdentifier ("cluster-endpoint-…").
    Column("resource_id", String(64), nullable=False, unique=True),
    Column("arn", String(2048), nullable=False),
    Column("cluster_resource_id", String(64), nullable=False),
    Column("cluster_identifier", String(63), nullable=False),
    #: CustomEndpointType: READER or ANY.
    Column("endpoint_type", String(16), nullable=False),
    Column("static_members", JsonText, nullable=False, default=list),
    Column("excluded_members", JsonText, nullable=False, default=list),
    #: creating | available | modifying | deleting
    Column("status", String(32), nullable=False),
    #: The loopback address its listener has (the cluster's Port), unique
    #: on the server: what tells the endpoint apart, as a DNS name does on AWS.
    Column("address", String(64), nullable=False, unique=True),
    Column("tags", JsonText, nullable=False, default=list),
    Column("created", Float, nullable=False),
)
