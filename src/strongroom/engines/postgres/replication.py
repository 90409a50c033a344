"""PostgreSQL streaming replicas (issue #12 item 7): what a read replica is
made of, how far behind its source it is, and its promotion.

- **The replication role** ``rdsrepladmin`` (RDS's own name for it): a
  ``LOGIN REPLICATION`` role on the source, no password. It is allowed only
  over the source's Unix socket, by ``peer``, mapped from the engine's OS
  account (pg_hba.conf / pg_ident.conf, written by the engine): the replica's
  WAL receiver runs as that account, so no replication password exists to
  be written into ``primary_conninfo`` or anywhere else.
- **The replica's data directory** is ``pg_basebackup -X stream -R -C -S
  strongroom_replica_<id>`` from the *running* source, as that role: the
  physical copy streams straight into the new directory (never through
  memory), its WAL streamed alongside, and ``-R`` writes ``standby.signal``
  and ``primary_conninfo`` (socket, port, user, ``application_name`` = the
  replica's id, so the source's ``pg_stat_replication`` names it) with
  ``primary_slot_name``: the slot, created by the backup itself, keeps the
  WAL the replica still needs from the moment the copy starts. The copy is
  not fsynced at its end (``--no-sync``, 1 to 2 s saved on a busy machine), as an
  instance's copy of its template is not: the server's own checkpoints
  make what it writes durable.
- **Hot standby**: the replica answers reads; a write is the engine's own
  "cannot execute … in a read-only transaction".
- **A source that is itself a replica** (cascading) works the same way: the
  backup and the slot are taken on the standby, and the new replica streams
  from it.
- **Lag**: :func:`status` asks both ends. On the source,
  ``pg_stat_replication`` (the WAL sender's ``state``, ``replay_lsn``,
  ``replay_lag``) against its current WAL position; on the replica, the WAL
  receiver's status and ``pg_last_wal_replay_lsn`` /
  ``pg_last_xact_replay_timestamp``. A replica that has replayed all the
  source has written is 0 s behind, however long the source has been idle
  (AWS's ReplicaLag for PostgreSQL grows while the source is idle, up to
  five minutes; a lag that only measures idleness helps no one here); one
  that is behind is as far behind as the time since the last transaction it
  replayed committed (``replay_lag`` of the WAL sender when it has replayed
  none yet).
- **Promotion** is ``pg_promote()`` (wait for it), then ``primary_conninfo``
  and ``primary_slot_name`` reset, and the replica's slot dropped on its
  source. Replicas of the promoted one keep streaming from it (they follow
  its new timeline: ``recovery_target_timeline = latest``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from psycopg import sql

from strongroom.engines.driver import EngineError, Instance, InstanceSpec, ReplicationStatus

if TYPE_CHECKING:
    from strongroom.engines.postgres.engine import PostgresEngine

#: The role replicas stream as (RDS names its own so).
REPLICATION_ROLE = "rdsrepladmin"
#: How long promotion may take before it is a failure.
PROMOTE_TIMEOUT_S = 60


def slot_name(instance_id: str) -> str:
    """The physical replication slot a replica holds on its source."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in instance_id.lower())
    return ("strongroom_replica_" + cleaned)[:63]


def ensure_role(engine: PostgresEngine, source: Instance) -> None:
    """The replication role on `source` and the authentication files that
    let the engine's account be it over the socket (instances created before
    replicas existed get them here; a reload applies them)."""
    engine._write_config(source)
    with engine._admin(source) as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        if not in_recovery:
            # (a standby has it already: it came with the source's files)
            conn.execute(
                sql.SQL(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
                    "THEN CREATE ROLE {role} LOGIN REPLICATION; END IF; END $$"
                ).format(name=sql.Literal(REPLICATION_ROLE), role=sql.Identifier(REPLICATION_ROLE))
            )
        conn.execute("SELECT pg_reload_conf()")


def create_replica(engine: PostgresEngine, source: Instance, spec: InstanceSpec) -> Instance:
    """A hot standby of the running `source`, streaming over a slot of its own."""
    engine._check_open()
    if not engine.is_running(source):
        raise EngineError(f"{source.instance_id} is not running")
    version = engine.resolve_version(str(source.major))
    bin_dir = engine._bin(version)
    spec = replace(spec, master_username=source.master_username, db_name=source.db_name)
    ensure_role(engine, source)
    slot = slot_name(spec.instance_id)
    with engine._ilock(spec.instance_id):
        instance, instance_dir = engine._new_instance(
            spec, version, role="replica", source_id=source.instance_id
        )
        try:
            conninfo = (
                f"host={source.socket_dir} port={int(source.port)} "
                f"user={REPLICATION_ROLE} application_name={instance.instance_id}"
            )
            engine._run(
                bin_dir,
                ["pg_basebackup", "-d", conninfo, "-w", "-D", str(instance.data_dir),
                 "-Fp", "-X", "stream", "-R", "-C", "-S", slot, "-c", "fast", "--no-sync"],
                cwd=instance_dir,
                timeout=3600,
            )  # fmt: skip
            engine._clean_copied(instance.data_dir)  # (it drops standby.signal too)
            (instance.data_dir / "standby.signal").touch()
            engine.account.chown(instance.data_dir / "standby.signal")
            engine._save(instance)
            engine.start(instance)
        except BaseException:
            with contextlib.suppress(Exception):
                engine._drop_slot(source, slot)
            engine._discard(instance)
            raise
    return instance


def promote(engine: PostgresEngine, instance: Instance) -> Instance:
    """The replica becomes a standalone, writable primary."""
    if instance.role != "replica":
        raise EngineError(f"{instance.instance_id} is not a replica")
    with engine._admin(instance) as conn:
        if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            done = conn.execute("SELECT pg_promote(true, %s)", (PROMOTE_TIMEOUT_S,)).fetchone()[0]
            if not done:
                raise EngineError(f"{instance.instance_id} did not promote in time")
        conn.execute("ALTER SYSTEM RESET primary_conninfo")
        conn.execute("ALTER SYSTEM RESET primary_slot_name")
        conn.execute("SELECT pg_reload_conf()")
    with contextlib.suppress(FileNotFoundError):
        (instance.data_dir / "standby.signal").unlink()
    engine._drop_replica_slot(instance)
    promoted = replace(instance, role="primary", source_id=None)
    engine._save(promoted)
    return promoted


def _lsn_int(lsn: str | None) -> int | None:
    if not lsn:
        return None
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def status(engine: PostgresEngine, replica: Instance) -> ReplicationStatus:
    """How the replica's replication stands, measured at both ends now."""
    if replica.role != "replica":
        raise EngineError(f"{replica.instance_id} is not a replica")
    with engine._admin(replica) as conn:
        row = conn.execute(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
            "(SELECT status FROM pg_stat_wal_receiver LIMIT 1)"
        ).fetchone()
    in_recovery, replayed, since_replay, receiver = row
    if not in_recovery:
        return ReplicationStatus("promoted", False, 0.0, replayed, replayed, 0)
    source_lsn = sender = sender_lag = None
    with contextlib.suppress(EngineError):
        source = engine.open(replica.source_id or "")
        if engine.is_running(source):
            with engine._admin(source) as conn:
                source_lsn = conn.execute(
                    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                    "ELSE pg_current_wal_lsn() END)::text"
                ).fetchone()[0]
                found = conn.execute(
                    "SELECT state, extract(epoch FROM replay_lag)::float8 "
                    "FROM pg_stat_replication WHERE application_name = %s",
                    (replica.instance_id,),
                ).fetchone()
                if found is not None:
                    sender, sender_lag = found
    behind = None
    if source_lsn is not None and replayed is not None:
        behind = max(0, (_lsn_int(source_lsn) or 0) - (_lsn_int(replayed) or 0))
    if behind == 0:
        lag: float | None = 0.0
    elif since_replay is not None:
        # Behind: the time since the last transaction it replayed committed
        # (grows while replay is held up; AWS's ReplicaLag is the same measure).
        lag = max(0.0, float(since_replay))
    else:
        lag = max(0.0, float(sender_lag)) if sender_lag is not None else None
    streaming = receiver == "streaming" and sender in ("streaming", "catchup")
    return ReplicationStatus(
        sender or receiver or "stopped", streaming, lag, replayed, source_lsn, behind
    )


def wait_caught_up(engine: PostgresEngine, replica: Instance, timeout_s: float = 30.0) -> None:
    """Until the replica has replayed everything its source has written."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = status(engine, replica)
        if now.bytes_behind == 0:
            return
        if time.monotonic() > deadline:
            raise EngineError(f"{replica.instance_id} did not catch up in time")
        time.sleep(0.02)
