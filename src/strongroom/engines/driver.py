"""The database engine driver interface (issue #12 item 1).

RDS (and later Aurora) drive real database servers through this one
interface; ``engines/postgres`` is its first implementation. A driver owns
processes and files only: it knows nothing of accounts, ARNs, KMS or the
state store. The RDS layer keeps its own records and hands the driver an
instance id, a version and the master credentials; the driver hands back an
:class:`Instance` naming where the server listens and where its files are.

Secrets: a master password passes through :class:`InstanceSpec` and
``set_password`` only; drivers never log it, put it on a command line or
write it to disk unencrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, runtime_checkable

StopMode = Literal["smart", "fast", "immediate"]
#: RDS's ApplyType for a parameter, from the engine's own notion of when a
#: setting takes effect (PostgreSQL: ``pg_settings.context``).
ApplyType = Literal["dynamic", "static"]


class EngineError(Exception):
    """An engine operation failed; the message is safe to show (no secrets)."""


class VersionNotAvailable(EngineError):
    """The requested engine version's major is not installed on this machine.

    ``available`` lists the full versions that are (``["15.18", "18.6"]``); the
    RDS layer words AWS's error from it.
    """

    def __init__(self, requested: str, available: list[str]) -> None:
        self.requested = requested
        self.available = available
        shown = ", ".join(available) or "none"
        super().__init__(f"engine version {requested!r} is not available (available: {shown})")


class UnknownParameter(EngineError):
    """A parameter the engine does not have, or one that cannot be set."""

    def __init__(self, name: str, reason: str = "unknown parameter") -> None:
        self.name = name
        super().__init__(f"{name}: {reason}")


class InstanceNotFound(EngineError):
    pass


@dataclass(frozen=True)
class EngineVersion:
    """One installed engine version: what DescribeDBEngineVersions lists."""

    engine: str  # "postgres"
    major: int  # 15
    version: str  # "15.18"
    bin_dir: Path
    source: str  # "configured" | "embedded" | "system" | "path"

    @property
    def parameter_group_family(self) -> str:
        return f"{self.engine}{self.major}"


@dataclass(frozen=True)
class InstanceSpec:
    """What to create. ``port`` None: the driver picks a free one on 127.0.0.1."""

    instance_id: str
    version: str | None  # a requested EngineVersion ("15", "15.4", "18"); None: the newest
    master_username: str
    master_password: str = field(repr=False)
    db_name: str | None = None
    port: int | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    """A handle on one database server's files and address (no secrets)."""

    instance_id: str
    engine: str
    major: int
    version: str
    port: int
    host: str  # always 127.0.0.1
    socket_dir: Path
    instance_dir: Path  # everything of the instance lives under here
    data_dir: Path  # the engine's own data directory (inside instance_dir)
    master_username: str
    db_name: str | None
    role: Literal["primary", "replica"] = "primary"
    source_id: str | None = None  # a replica's primary


@dataclass(frozen=True)
class Health:
    state: Literal["running", "stopped", "failed"]
    pid: int | None = None
    accepting_connections: bool = False
    in_recovery: bool = False
    #: a replica's replay lag in seconds (None: not a replica or nothing replayed yet)
    replica_lag_s: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class ReplicationStatus:
    """A replica's replication as measured at both ends (``replication_status``)."""

    #: the source's WAL sender state ("streaming", "catchup", "startup"…), else
    #: the replica's WAL receiver status, else "stopped"; "promoted": no longer a standby
    state: str
    streaming: bool
    #: seconds the replica's replay is behind its source (0: it has replayed
    #: everything the source wrote; None: not known yet)
    lag_s: float | None
    replay_lsn: str | None
    source_lsn: str | None
    #: WAL bytes the source has written and the replica not yet replayed
    bytes_behind: int | None


@dataclass(frozen=True)
class Usage:
    """What a running server uses, measured now (``usage``): the figures RDS
    publishes to CloudWatch, and only those this engine really measures."""

    #: client sessions (the engine's own and the control plane's left out)
    connections: int
    #: bytes the instance's files take: data, WAL, engine logs
    storage_bytes: int
    #: bytes of those in the write-ahead log directory
    wal_bytes: int
    #: the oldest unfrozen transaction ID's age, of any database
    max_used_xids: int
    #: WAL bytes the most lagging replication slot holds back (None: no slot)
    oldest_slot_lag_bytes: int | None


@dataclass(frozen=True)
class Parameter:
    """One engine setting, as DescribeDBParameters / DescribeEngineDefaultParameters need it."""

    name: str
    value: str | None
    apply_type: ApplyType
    data_type: str  # "boolean" | "integer" | "float" | "string" | "list"
    modifiable: bool
    description: str = ""
    unit: str | None = None
    allowed_values: str | None = None  # "0-100" or "on,off" style, as RDS shows it
    context: str = ""  # the engine's own (pg_settings.context)
    source: str = "engine-default"


@dataclass(frozen=True)
class AppliedParameter:
    name: str
    value: str | None  # None: reset to the engine default
    apply_type: ApplyType
    pending_reboot: bool  # static: written, takes effect at the next restart
    context: str = ""


@dataclass(frozen=True)
class LogFile:
    name: str  # as RDS names it: "error/postgresql.log.2026-12-07-01"
    size: int
    last_written: float  # epoch seconds


@dataclass(frozen=True)
class LogPortion:
    data: bytes
    marker: str  # where the next read starts
    additional_data_pending: bool


@dataclass(frozen=True)
class SnapshotInfo:
    bytes_written: int
    seconds: float
    version: str


ProgressCallback = Callable[[int, int], None]  # (bytes done, estimated total)


@runtime_checkable
class DatabaseEngine(Protocol):
    """What RDS needs of a database engine. Every method may raise EngineError."""

    engine: str

    # Versions really installed on this machine.
    def versions(self) -> list[EngineVersion]: ...
    def resolve_version(self, requested: str | None) -> EngineVersion: ...

    # Lifecycle.
    def create(self, spec: InstanceSpec) -> Instance: ...
    def open(self, instance_id: str) -> Instance: ...
    def start(self, instance: Instance) -> None: ...
    def stop(self, instance: Instance, mode: StopMode = "fast") -> None: ...
    def restart(self, instance: Instance) -> None: ...
    def is_running(self, instance: Instance) -> bool: ...
    def health(self, instance: Instance) -> Health: ...
    def destroy(self, instance: Instance) -> None: ...
    def close(self) -> None: ...

    # Credentials and settings.
    def set_password(self, instance: Instance, user: str, password: str) -> None: ...
    def parameters(self, instance: Instance) -> list[Parameter]: ...
    def default_parameters(self, version: str | None) -> list[Parameter]: ...
    def apply_parameters(
        self, instance: Instance, values: Mapping[str, str | None]
    ) -> list[AppliedParameter]: ...

    # Logs.
    def list_log_files(self, instance: Instance) -> list[LogFile]: ...
    def read_log_file(
        self, instance: Instance, name: str, marker: str = "0", max_bytes: int = 1024 * 1024
    ) -> LogPortion: ...

    # Data: snapshots, restore, replicas.
    def snapshot_to(
        self, instance: Instance, stream: BinaryIO, progress: ProgressCallback | None = None
    ) -> SnapshotInfo: ...
    def restore_from(self, stream: BinaryIO, spec: InstanceSpec) -> Instance: ...
    def replicate(self, source: Instance, spec: InstanceSpec) -> Instance: ...
    def promote(self, instance: Instance) -> Instance: ...
    def replication_status(self, instance: Instance) -> ReplicationStatus: ...
    def usage(self, instance: Instance) -> Usage: ...

    # Files at rest (encryption at rest seals what export_data writes).
    def export_data(self, instance: Instance, stream: BinaryIO) -> int: ...
    def remove_data(self, instance: Instance) -> None: ...
    def has_data(self, instance: Instance) -> bool: ...
    def import_data(self, instance: Instance, stream: BinaryIO) -> None: ...

    # Modify and housekeeping.
    def set_port(self, instance: Instance, port: int) -> Instance: ...
    def pending_reboot(self, instance: Instance) -> list[str]: ...
    def purge_log_files(self, instance: Instance, older_than_s: float) -> list[str]: ...
