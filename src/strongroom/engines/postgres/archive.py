"""WAL archiving and point-in-time restore for the PostgreSQL driver.

Archiving. Every server runs with ``archive_mode = on`` and, until told
otherwise, ``archive_command = 'true'`` (its completed WAL is recycled as
before). `enable` writes ``<instance>/backup.conf`` (included from
``strongroom.conf``; outside the data directory, so neither a snapshot nor a
replica ever carries it) naming the instance's spool,
``<instance>/wal-spool``: the archiver, running as the engine account,
copies each completed segment (and timeline history and backup history
files) there under a temporary name and renames it into place. strongroom
takes the files from the spool (`spooled`), seals them where it keeps its
archive and deletes them: the engine account never needs to reach
strongroom's files, and strongroom never leaves a copy in the spool once it
has sealed it.

`heartbeat` commits a transaction and switches to a new segment, as RDS's
own heartbeat does: so the archive always holds a commit record later than
any time it is said to cover (a recovery to a time with no commit after it
would end before its target), and the segment holding it is archived at once.

Point-in-time restore (`restore_to_time`): a base backup (a ``snapshot_to``
stream) is unpacked into a new instance, the segments it needs are put into
``<instance>/wal-restore`` by the caller (unsealed), and the server starts
with ``recovery.signal``, ``restore_command`` reading that directory and
``recovery_target_time``; it replays to the target and promotes itself
(a new timeline). Then the recovery settings and the unsealed segments go.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from strongroom.engines.driver import EngineError, Instance, InstanceSpec

if TYPE_CHECKING:
    from strongroom.engines.postgres.engine import PostgresEngine

BACKUP_CONF = "backup.conf"
SPOOL = "wal-spool"
RESTORE = "wal-restore"
#: What the archiver hands over: segments, timeline history files, backup
#: history files and a promoted server's last partial segment.
ARCHIVED_NAME = re.compile(
    r"^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$"
)
SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
#: How long a restore may take to replay its WAL and promote.
RECOVERY_TIMEOUT_S = 1800.0


def _shell_quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def spool_dir(instance: Instance) -> Path:
    return instance.instance_dir / SPOOL


def _write_backup_conf(engine: PostgresEngine, instance: Instance, text: str) -> None:
    path = instance.instance_dir / BACKUP_CONF
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    engine.account.chown(tmp)
    os.replace(tmp, path)


def _reload(engine: PostgresEngine, instance: Instance) -> None:
    if not engine.is_running(instance):
        return
    with engine._admin(instance) as conn:
        conn.execute("SELECT pg_reload_conf()")
    # The archiver re-reads the files when its latch is set by the SIGHUP;
    # give it a moment, so no segment completed from now on is discarded.
    time.sleep(0.2)


def enabled(instance: Instance) -> bool:
    path = instance.instance_dir / BACKUP_CONF
    with contextlib.suppress(OSError):
        return "archive_command" in path.read_text()
    return False


def enable(engine: PostgresEngine, instance: Instance) -> None:
    """Archive every completed WAL file into the instance's spool (at once
    when it runs: a reload, no restart)."""
    spool = spool_dir(instance)
    spool.mkdir(mode=0o700, exist_ok=True)
    os.chmod(spool, 0o700)
    engine.account.chown(spool)
    q = _shell_quote(spool)
    command = f"cp %p {q}/.%f.tmp && mv -f {q}/.%f.tmp {q}/%f"
    _write_backup_conf(
        engine,
        instance,
        "# written by strongroom: WAL archiving into the spool strongroom seals from\n"
        f"archive_command = {_conf_quote(command)}\n",
    )
    _reload(engine, instance)


def disable(engine: PostgresEngine, instance: Instance) -> None:
    """Stop archiving (completed WAL is recycled again)."""
    with contextlib.suppress(FileNotFoundError):
        (instance.instance_dir / BACKUP_CONF).unlink()
    _reload(engine, instance)


def spooled(instance: Instance) -> list[Path]:
    """The files the archiver has handed over, oldest first."""
    try:
        names = os.listdir(spool_dir(instance))
    except FileNotFoundError:
        return []
    return [spool_dir(instance) / n for n in sorted(names) if ARCHIVED_NAME.match(n)]


def heartbeat(engine: PostgresEngine, instance: Instance) -> str:
    """Commit a transaction and switch WAL segments: the name of the segment
    just completed (it holds that commit, and the archiver takes it now)."""
    xid = "pg_current_xact_id()" if instance.major >= 13 else "txid_current()"
    with engine._admin(instance) as conn:
        if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            raise EngineError(f"{instance.instance_id} is in recovery")
        conn.execute(f"SELECT {xid}")
        return conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]


def current_wal_file(engine: PostgresEngine, instance: Instance) -> str:
    """The segment WAL is being written to now (a base backup taken from
    now on needs no segment before it)."""
    with engine._admin(instance) as conn:
        return conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]


def restore_to_time(
    engine: PostgresEngine,
    stream: BinaryIO,
    spec: InstanceSpec,
    fill_wal: Callable[[Path], None],
    target_wall: float,
) -> Instance:
    """A new instance from a base backup (a ``snapshot_to`` stream) and the
    archived WAL after it, recovered to ``target_wall`` (epoch seconds of the
    wall clock, which the engine's commit records carry) and promoted.
    ``fill_wal(directory)`` puts the segments there, by their names."""
    from strongroom.engines.postgres.engine import _extract

    engine._check_open()
    engine._check_role(spec.master_username)
    version = engine.resolve_version(spec.version)
    with engine._ilock(spec.instance_id):
        instance, _ = engine._new_instance(spec, version)
        try:
            _extract(stream, instance.data_dir)
            major = (instance.data_dir / "PG_VERSION").read_text().strip()
            if spec.version is None and major != str(version.major):
                version = engine.resolve_version(major)
                instance = replace(instance, major=version.major, version=version.version)
            if major != str(version.major):
                raise EngineError(f"the backup is of PostgreSQL {major}, not {version.major}")
            engine._clean_copied(instance.data_dir)
            restore = instance.instance_dir / RESTORE
            restore.mkdir(mode=0o700)
            fill_wal(restore)
            engine.account.chown_tree(restore)
            target = datetime.fromtimestamp(target_wall, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            command = f"cp {_shell_quote(restore)}/%f %p 2>/dev/null"
            _write_backup_conf(
                engine,
                instance,
                "# written by strongroom: recovery to a point in time (removed once promoted)\n"
                f"restore_command = {_conf_quote(command)}\n"
                f"recovery_target_time = {_conf_quote(target)}\n"
                "recovery_target_inclusive = on\n"
                "recovery_target_timeline = 'latest'\n"
                "recovery_target_action = 'promote'\n",
            )
            (instance.data_dir / "recovery.signal").touch()
            os.chmod(instance.data_dir, 0o700)
            engine.account.chown_tree(instance.data_dir)
            engine._save(instance)
            engine.start(instance)
            _wait_promoted(engine, instance)
            with contextlib.suppress(FileNotFoundError):
                (instance.instance_dir / BACKUP_CONF).unlink()
            _reload(engine, instance)
            shutil.rmtree(restore, ignore_errors=True)
            if spec.master_password:
                engine.set_password(instance, spec.master_username, spec.master_password)
        except BaseException:
            engine._discard(instance)
            raise
    return instance


def _wait_promoted(engine: PostgresEngine, instance: Instance) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        if not engine.is_running(instance):
            raise EngineError(
                f"recovery of {instance.instance_id} failed: {engine._startup_output(instance)}"
            )
        with contextlib.suppress(EngineError), engine._admin(instance) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                return
        if time.monotonic() > deadline:
            raise EngineError(f"recovery of {instance.instance_id} did not finish in time")
        time.sleep(0.05)
