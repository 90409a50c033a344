"""Major version upgrades with the real ``pg_upgrade`` (RDS's own tool for
them), run as the engine account like every other engine program.

The instance must be stopped. In ``instances/<id>/``::

    data/                 the old cluster: untouched until the switch
    upgrade/              pg_upgrade's working directory (its cwd)
        data/             the new cluster: initdb of the new major, then pg_upgrade --copy
    data.old/             the old cluster for a moment after the switch, then removed

Steps: ``pg_upgrade --check`` (RDS's precheck), a fresh ``initdb`` of the
new major (the bootstrap superuser, encoding, locale and data-checksum
setting of the old cluster, which pg_upgrade requires to match), then
``pg_upgrade --copy --retain``; the engine's log files move to the new
cluster and the directories are switched (two renames), the old one
removed.

**Copy mode, not link mode**: until the switch the old cluster is never
written to, so a failure at any step (a failed check, a failed upgrade, a
crash) leaves the instance on its old major, startable as it was — what
RDS does when an upgrade fails. Link mode would make the old cluster
unusable once the new one has started. Both copies live only inside the
instance directory (0700, the engine account's) while the instance is not
sealed, exactly where the running engine's plaintext files live anyway;
nothing is written elsewhere, and the old copy is removed at the switch.
An encrypted instance's files are sealed at rest as usual once the engine
stops again (the RDS layer's `Supervisor.seal_at_rest`), and `remove_data`
removes a half-done upgrade directory with the data directory.

pg_upgrade's output becomes the instance's upgrade log files, named as RDS
names them (``error/pg_upgrade_precheck.log.<ts>``,
``error/pg_upgrade_internal.log.<ts>``, ``error/pg_upgrade_server.log.<ts>``)
in the data directory's ``error/`` beside the engine's own log: listed by
``list_log_files``, read by ``read_log_file``, sealed at rest and purged by
rds.log_retention_period with them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.engines.driver import EngineError, Instance

if TYPE_CHECKING:
    from strongroom.engines.postgres.engine import PostgresEngine

WORK_DIR = "upgrade"
OLD_DIR = "data.old"
#: The upgrade log files' stem, as RDS names them; a timestamp follows.
PRECHECK = "pg_upgrade_precheck.log"
INTERNAL = "pg_upgrade_internal.log"
SERVER = "pg_upgrade_server.log"
UPGRADE_LOGS = (PRECHECK, INTERNAL, SERVER)


@dataclass(frozen=True)
class UpgradeResult:
    instance: Instance  # the upgraded handle, or the old one when it failed
    upgraded: bool
    #: why it failed (pg_upgrade's own words: safe to show, no secrets)
    reason: str = ""
    log_files: tuple[str, ...] = ()


def stamp(now: float | None = None) -> str:
    """The timestamp RDS appends to an upgrade log's name (UTC)."""
    return time.strftime("%Y-%m-%d-%H-%M", time.gmtime(now if now is not None else time.time()))


def upgrade(engine: PostgresEngine, instance: Instance, target: str) -> UpgradeResult:
    """Upgrade a stopped instance to the installed major named by `target`."""
    old_version = engine.resolve_version(str(instance.major))
    new_version = engine.resolve_version(target)
    if new_version.major <= instance.major:
        raise EngineError(
            f"cannot upgrade {instance.instance_id} from {instance.major} to {new_version.major}"
        )
    if engine.is_running(instance):
        raise EngineError(f"{instance.instance_id} is running")
    discard_leftovers(instance)  # (of an upgrade cut short: it starts over)
    if not engine.has_data(instance):
        raise EngineError(f"{instance.instance_id} has no data directory")
    old_bin, new_bin = engine._bin(old_version), engine._bin(new_version)
    work = instance.instance_dir / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    engine.account.chown(work)
    new_data = work / "data"
    ts = stamp()
    logs: list[str] = []
    try:
        engine._write_config(instance)  # (the old cluster's address files, current)
        _initdb(engine, new_bin, new_data, checksums=_checksums(engine, old_bin, instance.data_dir))
        # The new cluster's own settings: its major decides them (TLS is
        # offered only by a server built with OpenSSL).
        engine._write_config(
            replace(
                instance, data_dir=new_data, major=new_version.major, version=new_version.version
            )
        )
        argv = [
            "pg_upgrade",
            "-b", str(old_bin), "-B", str(new_bin),
            "-d", str(instance.data_dir), "-D", str(new_data),
            "-U", "rdsadmin",
            "-p", str(_free_port()), "-P", str(_free_port()),
            "-s", str(instance.socket_dir),
        ]  # fmt: skip
        instance.socket_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(instance.socket_dir, 0o700)
        engine.account.chown(instance.socket_dir)
        ok, output = _pg_upgrade(engine, new_bin, [*argv, "--check"], work)
        logs.append(_keep(engine, instance.data_dir, f"{PRECHECK}.{ts}", output))
        if not ok:
            return UpgradeResult(instance, False, _reason(output), tuple(logs))
        ok, output = _pg_upgrade(engine, new_bin, [*argv, "--copy", "--retain"], work)
        internal, server = _output_logs(new_data)
        internal = internal or output
        if not ok:
            logs.append(_keep(engine, instance.data_dir, f"{INTERNAL}.{ts}", internal))
            if server:
                logs.append(_keep(engine, instance.data_dir, f"{SERVER}.{ts}", server))
            return UpgradeResult(instance, False, _reason(output), tuple(logs))
        shutil.rmtree(new_data / "pg_upgrade_output.d", ignore_errors=True)
        _move_logs(engine, instance.data_dir, new_data)
        logs.append(_keep(engine, new_data, f"{INTERNAL}.{ts}", internal))
        if server:
            logs.append(_keep(engine, new_data, f"{SERVER}.{ts}", server))
        upgraded = replace(instance, major=new_version.major, version=new_version.version)
        old = instance.instance_dir / OLD_DIR
        shutil.rmtree(old, ignore_errors=True)
        os.rename(instance.data_dir, old)
        os.rename(new_data, instance.data_dir)
        engine._save(upgraded)
        shutil.rmtree(old, ignore_errors=True)
        return UpgradeResult(upgraded, True, "", tuple(logs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def discard_leftovers(instance: Instance) -> None:
    """What an interrupted upgrade left: the unfinished new cluster, or the
    old one after the switch. Cut between the switch's two renames, the old
    cluster (which ``instance.json`` still names) goes back in place."""
    old = instance.instance_dir / OLD_DIR
    if old.is_dir() and not instance.data_dir.exists() and instance.major == _major_of(old):
        os.rename(old, instance.data_dir)
    for name in (WORK_DIR, OLD_DIR):
        shutil.rmtree(instance.instance_dir / name, ignore_errors=True)


def _major_of(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return None


def _free_port() -> int:
    from strongroom.engines.postgres.engine import _free_port as free

    return free()


def _checksums(engine: PostgresEngine, bin_dir: Path, data_dir: Path) -> bool:
    out = engine._run(bin_dir, ["pg_controldata", "-D", str(data_dir)], cwd=data_dir.parent)
    for line in out.splitlines():
        if line.startswith("Data page checksum version:"):
            return line.split(":", 1)[1].strip() != "0"
    return False


def _initdb(engine: PostgresEngine, bin_dir: Path, data_dir: Path, *, checksums: bool) -> None:
    from strongroom.engines.postgres.engine import ADMIN, BASE_CONF, HBA

    argv = [
        "initdb", "-D", str(data_dir), "-U", ADMIN,
        "--auth-local=peer", "--auth-host=scram-sha-256",
        "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ]  # fmt: skip
    if checksums:
        argv.append("--data-checksums")
    elif _initdb_checksums_by_default(engine, bin_dir):
        argv.append("--no-data-checksums")
    engine._run(bin_dir, argv, cwd=data_dir.parent)
    with open(data_dir / "postgresql.conf", "a") as f:
        f.write(BASE_CONF)
    (data_dir / "pg_hba.conf").write_text(HBA)
    engine.account.chown_tree(data_dir)


def _initdb_checksums_by_default(engine: PostgresEngine, bin_dir: Path) -> bool:
    """PostgreSQL 18's initdb turns data checksums on unless told not to."""
    return "--no-data-checksums" in engine._run(bin_dir, ["initdb", "--help"], cwd=Path("/"))


def _pg_upgrade(
    engine: PostgresEngine, bin_dir: Path, argv: list[str], cwd: Path
) -> tuple[bool, str]:
    done = subprocess.run(
        [str(bin_dir / argv[0]), *argv[1:]],
        cwd=cwd,
        env=engine._env(bin_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        timeout=3600,
        **engine.account.popen_kwargs(),
    )
    return done.returncode == 0, done.stdout


def _output_logs(new_data: Path) -> tuple[str, str]:
    """pg_upgrade_internal.log and pg_upgrade_server.log of the newest run
    (``<new data>/pg_upgrade_output.d/<time>/log/``)."""
    root = new_data / "pg_upgrade_output.d"
    runs = sorted(root.iterdir()) if root.is_dir() else []
    if not runs:
        return "", ""
    texts = []
    for name in ("pg_upgrade_internal.log", "pg_upgrade_server.log"):
        try:
            texts.append((runs[-1] / "log" / name).read_text(errors="replace"))
        except OSError:
            texts.append("")
    return texts[0], texts[1]


def _reason(output: str) -> str:
    """Why pg_upgrade stopped, in its own words: the check that failed
    (``Checking for … fatal``) and the first line explaining it, else the
    last line before ``Failure, exiting``."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.endswith("fatal") or line.lower().startswith("fatal"):
            check = line.removesuffix("fatal").strip()
            following = lines[i + 1] if i + 1 < len(lines) else ""
            return (f"{check}: {following}" if check else following or line)[:500]
    kept = [ln for ln in lines if ln != "Failure, exiting"]
    return (kept[-1] if kept else "pg_upgrade failed")[:500]


def _keep(engine: PostgresEngine, data_dir: Path, name: str, text: str) -> str:
    """An upgrade log file in the cluster's ``error/``; its RDS name."""
    from strongroom.engines.postgres.engine import LOG_DIR

    log_dir = data_dir / LOG_DIR
    log_dir.mkdir(mode=0o700, exist_ok=True)
    engine.account.chown(log_dir)
    path = log_dir / name
    path.write_text(text if text.endswith("\n") or not text else text + "\n")
    os.chmod(path, 0o600)
    engine.account.chown(path)
    return f"{LOG_DIR}/{name}"


def _move_logs(engine: PostgresEngine, old_data: Path, new_data: Path) -> None:
    """The old cluster's log files into the new one's ``error/`` (a file of
    the same hour, written by pg_upgrade's start of the new server, is
    appended to the old one's lines)."""
    from strongroom.engines.postgres.engine import LOG_DIR

    src, dst = old_data / LOG_DIR, new_data / LOG_DIR
    if not src.is_dir():
        return
    dst.mkdir(mode=0o700, exist_ok=True)
    engine.account.chown(dst)
    for entry in sorted(os.listdir(src)):
        source, target = src / entry, dst / entry
        if not source.is_file():
            continue
        if target.exists():
            with open(source, "ab") as out, open(target, "rb") as newer:
                shutil.copyfileobj(newer, out)
            target.unlink()
        with contextlib.suppress(OSError):
            shutil.move(str(source), str(target))
        engine.account.chown(target)
