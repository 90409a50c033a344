"""CloudWatch Logs state.

Events are stored as batches: one row per PutLogEvents call (and per
publisher's flush), holding its events packed (`events.pack`), with the
batch's first and last timestamps, so a scan reads a few large rows and
skips in SQL the batches whose time range cannot match. Groups and streams
carry a numeric id the batches name, and their running totals.
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
    UniqueConstraint,
)

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

groups = Table(
    "logs_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    #: creationTime, epoch milliseconds.
    Column("created", BigInteger, nullable=False),
    Column("retention_days", Integer, nullable=True),
    Column("log_group_class", String(32), nullable=False, default="STANDARD"),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    #: The KMS key the group's events are encrypted under (its ARN), the data
    #: key KMS generated from it (wrapped), and the data key's id.
    Column("kms_key_id", String(2048), nullable=True),
    Column("data_key", LargeBinary, nullable=True),
    Column("data_key_id", Integer, nullable=True),
    #: [[key, value], ...]
    Column("tags", JsonText, nullable=False, default=list),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    #: The longest time one of its batches spans (ms): a scan from time T
    #: needs no batch that starts before T minus this.
    Column("max_span", BigInteger, nullable=False, default=0),
    UniqueConstraint("account", "region", "name", name="uq_logs_groups_name"),
)

streams = Table(
    "logs_streams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("name", String(512), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("first_event", BigInteger, nullable=True),
    Column("last_event", BigInteger, nullable=True),
    Column("last_ingestion", BigInteger, nullable=True),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    UniqueConstraint("group_id", "name", name="uq_logs_streams_name"),
)

#: Wrapped data keys of groups (a group associated with a key again gets a
#: new one; batches name the key they were sealed under).
data_keys = Table(
    "logs_data_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("kms_key_id", String(2048), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Index("ix_logs_data_keys_group", "group_id"),
)

batches = Table(
    "logs_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("stream_id", Integer, nullable=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("ingestion", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    #: Sum of the events' UTF-8 message bytes.
    Column("bytes", Integer, nullable=False),
    #: The data key (`data_keys.id`) the payload is sealed under, or NULL.
    Column("data_key_id", Integer, nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_logs_batches_group", "group_id", "first_ts"),
    Index("ix_logs_batches_stream", "stream_id", "first_ts"),
    Index("ix_logs_batches_expiry", "group_id", "last_ts"),
)

metric_filters = Table(
    "logs_metric_filters",
    metadata,
    Column("group_id", Integer, primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("pattern", Text, nullable=False),
    #: [{"metricName", "metricNamespace", "metricValue", ...}] as given.
    Column("transformations", JsonText, nullable=False, default=list),
    Column("created", BigInteger, nullable=False),
    Column("apply_on_transformed", Boolean, nullable=False, default=False),
    Column("field_selection", Text, nullable=True),
    Column("emit_dimensions", JsonText, nullable=True),
)

query_definitions = Table(
    "logs_query_definitions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("query_string", Text, nullable=False),
    Column("log_group_names", JsonText, nullable=False, default=list),
    Column("last_modified", BigInteger, nullable=False),
    Index("ix_logs_query_definitions_owner", "account", "region", "name"),
)

queries = Table(
    "logs_queries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("query_string", Text, nullable=False),
    Column("log_group_names", JsonText, nullable=False, default=list),
    Column("status", String(16), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("duration", Float, nullable=False, default=0.0),
    #: What the run reads: {"groups": [group ids], "start", "end" (ms), "limit"}.
    Column("plan", JsonText, nullable=False, default=dict),
    #: [[{"field", "value"}, ...], ...] and the statistics, once complete.
    Column("results", JsonText, nullable=True),
    Column("statistics", JsonText, nullable=True),
    Index("ix_logs_queries_owner", "account", "region", "created"),
)

#: CreateExportTask's tasks (`exports`): what to export and how far it got.
export_tasks = Table(
    "logs_export_tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=True),
    Column("group_name", String(512), nullable=False),
    Column("group_id", Integer, nullable=False),
    Column("from_ms", BigInteger, nullable=False),
    Column("to_ms", BigInteger, nullable=False),
    Column("destination", String(512), nullable=False),
    Column("prefix", String(1024), nullable=False),
    Column("stream_prefix", String(512), nullable=True),
    #: PENDING, RUNNING, PENDING_CANCEL, COMPLETED, CANCELLED, FAILED.
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("completed", BigInteger, nullable=True),
    Index("ix_logs_export_tasks_owner", "account", "status"),
)

#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    groups,
    streams,
    data_keys,
    batches,
    metric_filters,
    query_definitions,
    queries,
    export_tasks,
)

#: Subscription filters (`subscriptions`): at most two a group. `cursor` is
#: the id of the last batch the delivery job has gone past (delivered or
#: found not matching), committed with the deliveries it made.
subscription_filters = Table(
    "logs_subscription_filters",
    metadata,
    Column("group_id", Integer, primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("pattern", Text, nullable=False),
    Column("destination_arn", String(2048), nullable=False),
    Column("role_arn", String(2048), nullable=True),
    Column("distribution", String(16), nullable=False, default="ByLogStream"),
    Column("created", BigInteger, nullable=False),
    Column("apply_on_transformed", Boolean, nullable=False, default=False),
    Column("field_selection", Text, nullable=True),
    Column("emit_system_fields", JsonText, nullable=True),
    Column("cursor", BigInteger, nullable=False, default=0),
)

#: Resource policies (`resource_policies`): account-scoped documents, at
#: most 10 an account and Region, kept verbatim.
resource_policies = Table(
    "logs_resource_policies",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("revision", String(64), nullable=False),
)

#: Data protection policies of log groups (`protection`), kept verbatim.
data_protection = Table(
    "logs_data_protection",
    metadata,
    Column("group_id", Integer, primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated", BigInteger, nullable=False),
    #: Events ingested from this time (ms) on are masked (AWS masks at ingestion).
    Column("since", BigInteger, nullable=False),
)

#: Account policies (`protection`): an account-level data protection policy
#: (one an account and Region), kept verbatim.
account_policies = Table(
    "logs_account_policies",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("policy_type", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("document", Text, nullable=False),
    Column("scope", String(16), nullable=False, default="ALL"),
    Column("selection_criteria", Text, nullable=True),
    Column("updated", BigInteger, nullable=False),
    Column("since", BigInteger, nullable=False),
)

#: Destinations (`destinations`): cross-account subscription targets, kept
#: as the control plane (their Kinesis and Firehose targets are not served).
destinations = Table(
    "logs_destinations",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("target_arn", String(2048), nullable=False),
    Column("role_arn", String(2048), nullable=False),
    Column("access_policy", Text, nullable=True),
    Column("created", BigInteger, nullable=False),
    #: [[key, value], ...]
    Column("tags", JsonText, nullable=False, default=list),
)

TABLES = (
    *TABLES, subscription_filters, resource_policies, data_protection, account_policies,
    destinations,
)  # fmt: skip

#: Where metric filters have read a group's batches to: the last batch id
#: whose events were published as CloudWatch datapoints, moved in the
#: transaction that stores those datapoints (exactly once across restarts).
metric_filter_cursors = Table(
    "logs_metric_filter_cursors",
    metadata,
    Column("group_id", Integer, primary_key=True),
    Column("last_batch", BigInteger, nullable=False),
)

TABLES += (metric_filter_cursors,)
