"""CloudWatch state: metrics, their datapoints aggregated per metric, unit
and storage-resolution bucket, and metric alarms with their history.

A datapoint row is the aggregate of every value put for one metric and unit
in one bucket (a minute, or a second for high-resolution metrics): sample
count, sum, minimum and maximum, and the distribution of the values
(``[[value, count], ...]``) that percentiles are computed from. A put adds
to the row of its bucket; a query sums rows in SQL per period, so reading a
day of a busy metric reads at most 1,440 rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

metrics = Table(
    "cw_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    #: The dimensions sorted by name, as ``name=value`` lines: one metric's identity.
    Column("dims_key", Text, nullable=False),
    #: [[name, value], ...] sorted by name.
    Column("dimensions", JsonText, nullable=False, default=list),
    #: When data was last put (clock epoch seconds), for RecentlyActive.
    Column("last_put", Float, nullable=False),
    UniqueConstraint("account", "region", "namespace", "name", "dims_key", name="uq_cw_metric"),
    Index("ix_cw_metrics_name", "account", "region", "name"),
)

datapoints = Table(
    "cw_datapoints",
    metadata,
    Column("metric_id", Integer, primary_key=True),
    #: The bucket's start, epoch seconds.
    Column("ts", BigInteger, primary_key=True),
    Column("unit", String(32), primary_key=True),
    Column("sample_count", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    #: [[value, count], ...] of the values put one by one (Value, Values and
    #: Counts); None once a statistic set was put here (no percentiles then).
    Column("distribution", JsonText, nullable=True),
)

alarms = Table(
    "cw_alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    #: The alarm's configuration, as PutMetricAlarm named it.
    Column("config", JsonText, nullable=False, default=dict),
    Column("configured", Float, nullable=False),
    Column("actions_enabled", Boolean, nullable=False, default=True),
    Column("state", String(32), nullable=False),
    Column("state_reason", Text, nullable=False),
    Column("state_reason_data", Text, nullable=True),
    Column("state_updated", Float, nullable=False),
    Column("state_transitioned", Float, nullable=False),
    #: When the evaluation job next looks at it (clock epoch seconds).
    Column("next_evaluation", Float, nullable=False),
    #: [[key, value], ...]
    Column("tags", JsonText, nullable=False, default=list),
    UniqueConstraint("account", "region", "name", name="uq_cw_alarm"),
    Index("ix_cw_alarms_due", "next_evaluation"),
)

history = Table(
    "cw_alarm_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("alarm_name", String(255), nullable=False),
    Column("ts", Float, nullable=False),
    Column("item_type", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_cw_history_alarm", "account", "region", "alarm_name", "ts"),
    Index("ix_cw_history_time", "account", "region", "ts"),
)

TABLES = (metrics, datapoints, alarms, history)
