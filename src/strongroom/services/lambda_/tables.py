"""Lambda state. Environment variables and queued event payloads are
stored only sealed; function code is a blob in the code store (`code`),
named here by its SHA-256."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, String, Table, Text

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

functions = Table(
    "lambda_functions",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("created", Float, nullable=False),
    #: The number PublishVersion gives next.
    Column("next_version", Integer, nullable=False, default=1),
    #: {key: value}
    Column("tags", JsonText, nullable=False, default=dict),
    #: PutFunctionConcurrency's ReservedConcurrentExecutions, or NULL.
    Column("reserved_concurrency", Integer, nullable=True),
)

#: One row per version: ``$LATEST`` (changed in place) and the published
#: numbers (never changed).
versions = Table(
    "lambda_versions",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("version", String(16), primary_key=True),
    Column("runtime", String(32), nullable=False),
    Column("role", String(2048), nullable=False),
    Column("handler", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("timeout", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("code_sha256", String(64), nullable=False),
    Column("code_size", Integer, nullable=False),
    #: The variables, sealed (AAD names the function and version), or NULL.
    Column("environment", LargeBinary, nullable=True),
    #: The other configuration members as given (Architectures,
    #: EphemeralStorage, TracingConfig, LoggingConfig…).
    Column("config", JsonText, nullable=False, default=dict),
    Column("last_modified", Float, nullable=False),
    Column("revision_id", String(64), nullable=False),
    #: State Pending until this time (then Active).
    Column("pending_until", Float, nullable=False),
    #: LastUpdateStatus InProgress until this time (then Successful); NULL
    #: when no update was made since the function was created.
    Column("updating_until", Float, nullable=True),
)

aliases = Table(
    "lambda_aliases",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("function_version", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    #: RoutingConfig as given, or NULL.
    Column("routing", JsonText, nullable=True),
    Column("revision_id", String(64), nullable=False),
)

#: Resource policies, one per function and qualifier ("" for the
#: unqualified function).
policies = Table(
    "lambda_policies",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("qualifier", String(128), primary_key=True),
    #: The policy document (a dict: Version, Id, Statement).
    Column("document", JsonText, nullable=False),
    Column("revision_id", String(64), nullable=False),
)

#: Event (asynchronous) invocations, queued until run.
events = Table(
    "lambda_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("qualifier", String(128), nullable=True),
    #: The payload, sealed (AAD names the event).
    Column("payload", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    #: When it may next be tried.
    Column("due", Float, nullable=False),
    #: A process has taken it until then, wall-clock time (a worker that
    #: died lets it go).
    Column("claimed_until", Float, nullable=True),
    #: queued | succeeded | failed
    Column("state", String(16), nullable=False),
    Column("created", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Index("ix_lambda_events_due", "state", "due"),
)

TABLES = (functions, versions, aliases, policies, events)
