"""Automated backups at work (see `backups`): the job that notices what is
due, the background work that archives WAL, writes heartbeats, takes the
automated snapshots and expires them, and the restore to a point in time.

The job (`rds_backups`, every 2 s while an instance archives) only looks:
files in an instance's spool, a heartbeat 5 minutes old, a snapshot due in
the backup window, a snapshot past the retention period. The work then runs
in a server thread (`backup_instance`, one at a time per instance), with no
transaction open while the engine works, as the rest of RDS's work does.

Plaintext WAL exists only in the engine's own ``pg_wal`` and, until the next
pass seals it (seconds), in the instance's spool, both beside the running
engine's plaintext data directory; a stop seals the spool before the data
directory is sealed at rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from strongroom.encoding import b64_bytes
from strongroom.engines.driver import EngineError, Instance, InstanceSpec
from strongroom.engines.postgres import archive
from strongroom.framework import Background, JobRun
from strongroom.services.rds import backups, crypt, keys, model, records, snapshots
from strongroom.services.rds.service import ENGINES, service
from strongroom.services.rds.supervisor import Supervisor
from strongroom.services.rds.work import event

log = logging.getLogger("strongroom.services.rds")

CHECK_EVERY_S = 2.0
#: How long a heartbeat's segment may take to reach the spool.
ARCHIVE_WAIT_S = 10.0


def _sup(work: Background | JobRun) -> Supervisor:
    return work.runtime.resource(ENGINES)


def _key(payload: dict[str, Any], name: str) -> bytes | None:
    value = payload.get(name)
    return b64_bytes(value) if value else None


def _engine_instance(sup: Supervisor, rec: records.Record) -> Instance | None:
    """The instance's engine, if it is one this process runs as a primary."""
    if not model.ENGINES.get(rec["engine"], model.ENGINES["mysql"]).real:
        return None
    if (rec["attrs"] or {}).get("DBClusterIdentifier"):
        return None  # an Aurora cluster's instance: backups are the cluster's (not yet)
    if rec["status"] not in model.RUNNING or not sup.attached(rec["resource_id"]):
        return None
    inst = sup.open(rec["resource_id"])
    if inst is None or inst.role != "primary":
        return None
    return inst


# --------------------------------------------------------------------- the job


def _due(
    inst: Instance, rec: records.Record, backup: records.Record | None, snaps: list, now: float
) -> bool:
    if rec["backup_retention"] <= 0:
        return archive.enabled(inst) or backup is not None
    if backup is None or not archive.enabled(inst) or archive.spooled(inst):
        return True
    if backup["pending_heartbeat"] or backup["retention"] != rec["backup_retention"]:
        return True
    last = backup["last_heartbeat"]
    if last is None or now - last >= backups.HEARTBEAT_EVERY_S:
        return True
    window = (rec["attrs"] or {}).get("PreferredBackupWindow", backups.DEFAULT_WINDOW)
    taken = max((s["created"] for s in snaps), default=None)
    if backups.snapshot_due(window, now, taken):
        return True
    cutoff = now - rec["backup_retention"] * backups.DAY
    return any(s["created"] < cutoff for s in snaps)


@service.job
def rds_backups(run: JobRun) -> float | None:
    """Hand off the backup work of every instance that has some due, and
    expire the snapshots of retained automated backups."""
    now = run.clock.timestamp()
    sup: Supervisor = run.resource(ENGINES)
    watched = False
    for rec in records.all_instances(run.conn):
        inst = _engine_instance(sup, rec)
        if inst is None:
            continue
        rid = rec["resource_id"]
        backup = backups.find(run.conn, rid)
        watched = watched or rec["backup_retention"] > 0
        snaps = (
            backups.automated_snapshots(run.conn, rid, preupgrade=False)
            if backup is not None
            else []
        )
        if _due(inst, rec, backup, snaps, now):
            run.hand_off("backup_instance", {"id": rid}, key=f"backup:{rid}")
    upcoming: list[float] = []
    for backup in backups.retained(run.conn):
        gone = expire(run, backup["dbi_resource_id"], now)
        if gone is not None:
            run.hand_off("remove_backup_files", gone)
        left = backups.automated_snapshots(run.conn, backup["dbi_resource_id"])
        upcoming += [s["created"] + backup["retention"] * backups.DAY for s in left]
    candidates = [t for t in (now + CHECK_EVERY_S if watched else None, *upcoming) if t]
    return min(candidates) if candidates else None


# --------------------------------------------------------------------- the work


@service.background
def backup_instance(work: Background, payload: dict[str, Any]) -> None:
    """One pass of an instance's backups: archiving set up, the spool
    sealed into the archive, a due automated snapshot, a due heartbeat,
    expiry."""
    rid = payload["id"]
    with work.transaction() as run:
        rec = records.instance_by_resource(run.conn, rid)
    sup = _sup(work)
    inst = _engine_instance(sup, rec) if rec is not None else None
    if rec is None or inst is None:
        return
    engine = sup.postgres
    if rec["backup_retention"] <= 0:
        turn_off(work, sup, rec, inst)
        return
    key = sup.key_of(rid) if rec["encrypted"] else None
    if rec["encrypted"] and key is None:
        return  # not started by this process yet
    try:
        with work.transaction(write=True) as run:
            backup = backups.ensure(run.conn, rec, run.clock.timestamp())
            if backup["retention"] != rec["backup_retention"]:
                backups.update_backup(run.conn, rid, retention=rec["backup_retention"])
        if not archive.enabled(inst):
            archive.enable(engine, inst)
        else:
            adopt(work, sup, rid)
        seal_spool(work, sup, rid, inst, key)
        with work.transaction() as run:
            now = run.clock.timestamp()
            snaps = backups.automated_snapshots(run.conn, rid, preupgrade=False)
            backup = backups.find(run.conn, rid) or backup
        window = (rec["attrs"] or {}).get("PreferredBackupWindow", backups.DEFAULT_WINDOW)
        taken = max((s["created"] for s in snaps), default=None)
        fresh = False
        if backups.snapshot_due(window, now, taken):
            fresh = take_automated_snapshot(work, sup, rec, inst, key)
            # (a heartbeat strictly after its end: the window then reaches past it)
            time.sleep(0.01)
        last = backup["last_heartbeat"]
        if not backup["pending_heartbeat"] and (
            fresh or last is None or now - last >= backups.HEARTBEAT_EVERY_S
        ):
            heartbeat(work, sup, rec, inst, key)
        settle_heartbeat(work, sup, rid, inst, key)
    except (EngineError, OSError, crypt.CorruptFile) as err:
        log.warning("RDS instance %s: backup work failed: %s", rec["identifier"], err)
    with work.transaction(write=True) as run:
        gone = expire(run, rid, run.clock.timestamp())
    if gone is not None:
        remove_files(sup, gone)


def seal_spool(
    work: Background, sup: Supervisor, rid: str, inst: Instance, key: bytes | None
) -> list[str]:
    """Seal what the archiver has handed over into the archive, record it,
    then delete it from the spool."""
    files = archive.spooled(inst)
    if not files:
        return []
    dest = backups.wal_dir(sup.root, rid)
    sealed = [(path, backups.seal_file(path, dest / path.name, key, rid)) for path in files]
    with work.transaction(write=True) as run:
        kept = backups.find(run.conn, rid) is not None
        now = run.clock.timestamp()
        for path, size in sealed if kept else []:
            backups.add_segment(run.conn, rid, path.name, now, size)
    if not kept:  # the automated backup went meanwhile (retention 0, deletion)
        remove_files(sup, {"dbi": rid, "wal": [path.name for path, _size in sealed]})
    for path, _size in sealed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return [path.name for path, _size in sealed]


def adopt(work: Background, sup: Supervisor, rid: str) -> None:
    """Record the files sealed into the archive at a shutdown (when no
    transaction could record them)."""
    directory = sup.root / "wal" / rid
    try:
        names = {n for n in os.listdir(directory) if archive.ARCHIVED_NAME.match(n)}
    except FileNotFoundError:
        return
    with work.transaction() as run:
        known = {s["name"] for s in backups.segments(run.conn, rid)}
    if names - known:
        with work.transaction(write=True) as run:
            now = run.clock.timestamp()
            for name in sorted(names - known):
                backups.add_segment(run.conn, rid, name, now, (directory / name).stat().st_size)


def heartbeat(
    work: Background, sup: Supervisor, rec: records.Record, inst: Instance, key: bytes | None
) -> None:
    """A commit and a segment switch, noted as pending until its segment is
    archived (then every time before it is restorable)."""
    rid = rec["resource_id"]
    before = work.runtime.clock.timestamp()
    name = archive.heartbeat(sup.postgres, inst)
    with work.transaction(write=True) as run:
        backups.update_backup(
            run.conn,
            rid,
            last_heartbeat=before,
            pending_heartbeat={"segment": name, "time": before},
        )
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    while time.monotonic() < deadline:
        if name in seal_spool(work, sup, rid, inst, key):
            return
        time.sleep(0.05)


def settle_heartbeat(
    work: Background, sup: Supervisor, rid: str, inst: Instance | None, key: bytes | None
) -> None:
    """Once a pending heartbeat's segment is archived, LatestRestorableTime
    moves up to it (on the automated backup and the instance)."""
    with work.transaction(write=True) as run:
        backup = backups.find(run.conn, rid)
        pending = (backup or {}).get("pending_heartbeat") or {}
        if not pending or not backups.mark_heartbeat(
            run.conn, rid, pending["segment"], pending["time"]
        ):
            return
        latest = backups.restorable_point(pending["time"])
        values: dict[str, Any] = {"pending_heartbeat": {}}
        if backup["earliest"] is not None and latest >= backup["earliest"]:
            values["latest"] = latest
        else:  # before the first snapshot's end: another heartbeat at once
            values["last_heartbeat"] = None
        backups.update_backup(run.conn, rid, **values)
        rec = records.instance_by_resource(run.conn, rid)
        if rec is not None and "latest" in values:
            attrs = {**(rec["attrs"] or {}), "LatestRestorableTime": latest}
            records.update_instance(run.conn, rid, attrs=attrs)


def take_automated_snapshot(
    work: Background, sup: Supervisor, rec: records.Record, inst: Instance, key: bytes | None
) -> bool:
    """An automated snapshot: a base backup sealed under the instance's data
    key (when encrypted), its first WAL segment and end time noted."""
    rid = rec["resource_id"]
    engine = sup.postgres
    start = archive.current_wal_file(engine, inst)
    with work.transaction(write=True) as run:
        now = run.clock.timestamp()
        ident = backups.snapshot_identifier(rec["identifier"], now)
        if records.find_snapshot(run.conn, rec["account"], rec["region"], ident) is not None:
            return False
        call = keys.as_rds(run, rec["account"], rec["region"], "CreateDBSnapshot")
        tags = (
            [list(t) for t in rec["tags"]] if (rec["attrs"] or {}).get("CopyTagsToSnapshot") else []
        )
        snap = snapshots.new_record(
            call, ident, instance=rec, snapshot_type="automated",
            encrypted=bool(rec["encrypted"]), kms_key_arn=rec["kms_key_arn"],
            data_key=rec["data_key"], resource_id=model.new_resource_id("snap-"), tags=tags,
        )  # fmt: skip
        # Sealed under the instance's own data key, as its WAL is.
        snap["attrs"].update({"KeyOf": "instance", "WalStart": start})
        records.insert_snapshot(run.conn, snap)
        event(run, snap, "Creating automated snapshot", ["creation"], snapshot=True)
    snap_rid = snap["resource_id"]
    path = sup.snapshot_path(snap_rid)
    tmp = path.with_suffix(".partial")
    try:
        out = crypt.writer(tmp, key, f"snapshot:{snap_rid}")
        try:
            engine.snapshot_to(inst, out)  # type: ignore[arg-type]
        finally:
            out.close()
        tmp.replace(path)
    except (EngineError, OSError) as err:
        log.warning("automated snapshot %s failed: %s", ident, err)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with work.transaction(write=True) as run:
            records.delete_snapshot(run.conn, snap_rid)
        return False
    with work.transaction(write=True) as run:
        ended = run.clock.timestamp()
        current = records.snapshot_by_resource(run.conn, snap_rid)
        if current is None:  # the instance went meanwhile
            remove_files(sup, {"snapshots": [snap_rid]})
            return False
        attrs = {**(current["attrs"] or {}), "BackupEnd": ended}
        records.update_snapshot(
            run.conn, snap_rid, status="available", percent=100,
            size=path.stat().st_size, has_data=True, attrs=attrs,
        )  # fmt: skip
        event(run, snap, "Automated snapshot created", ["creation"], snapshot=True)
        event(run, rec, "Finished DB Instance backup", ["backup"])
        backup = backups.find(run.conn, rid)
        if backup is not None:
            point = backups.earliest_point(ended)
            earliest = backup["earliest"] if backup["earliest"] is not None else point
            backups.update_backup(
                run.conn, rid, earliest=min(earliest, point),
                status="active" if backup["status"] == "creating" else backup["status"],
            )  # fmt: skip
    return True


def expire(run: JobRun, rid: str, now: float) -> dict[str, Any] | None:
    """Delete the automated snapshots past the retention period and the WAL
    no remaining snapshot needs; a retained backup with nothing left goes.
    The files to remove once this commits, or None."""
    backup = backups.find(run.conn, rid)
    if backup is None:
        return None
    snaps = backups.automated_snapshots(run.conn, rid)
    cutoff = now - backup["retention"] * backups.DAY
    gone = [s for s in snaps if s["created"] < cutoff and s["status"] != "creating"]
    keep = [s for s in snaps if s not in gone]
    for snap in gone:
        records.delete_snapshot(run.conn, snap["resource_id"])
        event(run, snap, "Deleted automated snapshot", ["deletion"], snapshot=True)
    if backup["status"] == "retained" and not keep:
        backups.delete_backup(run.conn, rid)
        return {"snapshots": [s["resource_id"] for s in gone], "dbi": rid, "all_wal": True}
    if not gone:
        return None
    bases = [s for s in keep if s["status"] == "available" and (s["attrs"] or {}).get("BackupEnd")]
    ends = [s["attrs"]["BackupEnd"] for s in bases]
    earliest = backups.earliest_point(min(ends)) if ends else None
    start = min((s["attrs"].get("WalStart") or "" for s in bases), default=None)
    dropped = backups.drop_segments_before(run.conn, rid, start) if start else []
    values: dict[str, Any] = {"earliest": earliest}
    if earliest is None or (backup["latest"] is not None and backup["latest"] < earliest):
        # No window until the next heartbeat (at once) reaches past the new start.
        values.update(latest=None, last_heartbeat=None)
    backups.update_backup(run.conn, rid, **values)
    return {"snapshots": [s["resource_id"] for s in gone], "dbi": rid, "wal": dropped}


def remove_files(sup: Supervisor, gone: dict[str, Any]) -> None:
    for snap_rid in gone.get("snapshots") or []:
        with contextlib.suppress(FileNotFoundError):
            sup.snapshot_path(snap_rid).unlink()
    rid = gone.get("dbi")
    if not rid:
        return
    directory = sup.root / "wal" / rid
    if gone.get("all_wal"):
        shutil.rmtree(directory, ignore_errors=True)
        return
    for name in gone.get("wal") or []:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


@service.background
def remove_backup_files(work: Background, payload: dict[str, Any]) -> None:
    """Files of automated backups whose records have gone."""
    remove_files(_sup(work), payload)


def turn_off(work: Background, sup: Supervisor, rec: records.Record, inst: Instance) -> None:
    """Retention 0: archiving stops and the automated backup goes, as on AWS."""
    with contextlib.suppress(EngineError):
        archive.disable(sup.postgres, inst)
    for path in archive.spooled(inst):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    with work.transaction(write=True) as run:
        gone = backups.forget(run.conn, rec["resource_id"])
        current = records.instance_by_resource(run.conn, rec["resource_id"])
        if current is not None and "LatestRestorableTime" in (current["attrs"] or {}):
            attrs = dict(current["attrs"])
            attrs.pop("LatestRestorableTime")
            records.update_instance(run.conn, rec["resource_id"], attrs=attrs)
    if gone is not None:
        remove_files(sup, gone)


# --------------------------------------------------------------------- stop hooks


def before_stop(work: Background, sup: Supervisor, rec: records.Record) -> None:
    """A last heartbeat, so the restore window reaches the stop."""
    inst = _engine_instance(sup, rec)
    if inst is None or rec["backup_retention"] <= 0 or not archive.enabled(inst):
        return
    key = sup.key_of(rec["resource_id"]) if rec["encrypted"] else None
    try:
        heartbeat(work, sup, rec, inst, key)
        settle_heartbeat(work, sup, rec["resource_id"], inst, key)
    except (EngineError, OSError) as err:
        log.warning("RDS instance %s: last heartbeat failed: %s", rec["identifier"], err)


def after_stop(work: Background, sup: Supervisor, rid: str, key: bytes | None) -> None:
    """What the archiver handed over while the engine stopped, sealed (the
    spool holds no plaintext while the instance is stopped)."""
    inst = sup.open(rid)
    if inst is None or not archive.spooled(inst):
        return
    seal_spool(work, sup, rid, inst, key)
    settle_heartbeat(work, sup, rid, inst, key)


# --------------------------------------------------------------------- restore


@service.background
def restore_instance_to_time(work: Background, payload: dict[str, Any]) -> None:
    """RestoreDBInstanceToPointInTime's engine: the base backup (an automated
    snapshot) and the archived WAL after it, recovered to the target time."""
    rid = payload["id"]
    with work.transaction() as run:
        rec = records.instance_by_resource(run.conn, rid)
    if rec is None or rec["status"] != "creating":
        return
    sup = _sup(work)
    engine = sup.postgres
    key = _key(payload, "source_key")
    source = payload["source_dbi"]
    try:
        inst = sup.open(rid)
        if inst is None:
            stream = crypt.reader(
                sup.snapshot_path(payload["snapshot_file"]), key,
                f"snapshot:{payload['snapshot_file']}",
            )  # fmt: skip
            wal = sup.root / "wal" / source

            def fill(directory: Any) -> None:
                for name in payload["wal"]:
                    backups.open_file(wal / name, directory / name, key, source)

            try:
                inst = archive.restore_to_time(
                    engine, stream,
                    InstanceSpec(
                        instance_id=rid, version=None, master_username=rec["master_username"],
                        master_password=payload.get("password") or "", db_name=rec["db_name"],
                        port=payload.get("port"),
                    ),
                    fill, payload["target_wall"],
                )  # fmt: skip
            finally:
                stream.close()
        else:
            engine.start(inst)
    except (EngineError, crypt.CorruptFile, OSError) as err:
        log.warning("RDS instance %s could not be restored: %s", rec["identifier"], err)
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status="failed")
            event(run, rec, "DB instance could not be restored", ["failure"])
        return
    sup.attach(rid, _key(payload, "data_key"))
    target = datetime.fromtimestamp(payload["target"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    with work.transaction(write=True) as run:
        if records.instance_by_resource(run.conn, rid) is None:
            return
        records.update_instance(run.conn, rid, status="available", port=inst.port)
        event(
            run, rec, f"Restored from DB instance {payload['source']} to {target} UTC",
            ["creation"],
        )  # fmt: skip
        event(run, rec, "DB instance created", ["creation"])
