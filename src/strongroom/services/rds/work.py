"""What RDS does after the request that asked for it has been answered:
engines starting and stopping, snapshots streaming, copies and restores
(`Service.background` work, handed off by the operations), and the
housekeeping job (instances brought back after a restart of strongroom,
engines that died started again, stopped instances started after 7 days).

Each piece of work reads its record in a transaction of its own, does the
slow part with no transaction open, and writes the outcome (status, the
event RDS raises) in another, so no write lock is held while an engine
works. Every piece is safe to run again (a claim that ran out).

Plaintext data keys reach the work sealed in its hand-off payload (sealed
under the root key at rest, as every hand-off payload is) or from the
supervisor's memory; never a file or a log.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from strongroom.encoding import b64_bytes
from strongroom.engines.driver import EngineError, InstanceSpec
from strongroom.framework import Background, JobRun
from strongroom.services.rds import cluster_endpoints, crypt, keys, model, records
from strongroom.services.rds.service import ENGINES, service
from strongroom.services.rds.supervisor import Supervisor

log = logging.getLogger("strongroom.services.rds")

#: How often the housekeeping job looks at the engines (dead ones, resumes).
CHECK_EVERY_S = 2.0
#: How often starting an engine is tried before the instance is `failed`.
START_ATTEMPTS = 3
#: PercentProgress is written at most this often while a snapshot streams.
PROGRESS_EVERY_S = 0.5


def _sup(work: Background | JobRun) -> Supervisor:
    return work.runtime.resource(ENGINES)


def event(
    run: Any, rec: dict[str, Any], message: str, categories: list[str], *, snapshot: bool = False
) -> None:
    """An RDS event about `rec` (an instance, or a snapshot)."""
    records.add_event(
        run.conn,
        rec["account"],
        rec["region"],
        rec["identifier"],
        "db-snapshot" if snapshot else "db-instance",
        rec["arn"],
        message,
        categories,
        run.clock.timestamp(),
    )


def _key(payload: dict[str, Any], name: str) -> bytes | None:
    value = payload.get(name)
    return b64_bytes(value) if value else None


def _instance(work: Background, rid: str) -> dict[str, Any] | None:
    with work.transaction() as run:
        return records.instance_by_resource(run.conn, rid)


def _fail(work: Background, rid: str, status: str, message: str) -> None:
    with work.transaction(write=True) as run:
        rec = records.instance_by_resource(run.conn, rid)
        if rec is None:
            return
        records.update_instance(run.conn, rid, status=status)
        event(run, rec, message, ["failure"])


# --------------------------------------------------------------------- create


@service.background
def launch_instance(work: Background, payload: dict[str, Any]) -> None:
    """CreateDBInstance's engine: a real server for postgres, nothing for a
    control-plane-only engine; then `available`."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "creating":
        return
    sup = _sup(work)
    port = rec["port"]
    if model.ENGINES[rec["engine"]].real:
        engine = sup.postgres
        try:
            inst = sup.open(rid)
            if inst is None:
                inst = engine.create(
                    InstanceSpec(
                        instance_id=rid,
                        version=rec["engine_version"],
                        master_username=rec["master_username"],
                        master_password=payload["password"],
                        db_name=rec["db_name"],
                        port=payload.get("port"),
                        parameters=payload.get("parameters") or {},
                    )
                )
            else:
                engine.start(inst)
        except EngineError as err:
            log.warning("RDS instance %s did not start: %s", rec["identifier"], err)
            _fail(work, rid, "failed", "DB instance could not be created")
            return
        port = inst.port
        sup.attach(rid, _key(payload, "data_key"))
    with work.transaction(write=True) as run:
        if records.instance_by_resource(run.conn, rid) is None:
            return
        records.update_instance(run.conn, rid, status="available", port=port)
        event(run, rec, "DB instance created", ["creation"])


@service.background
def restore_instance(work: Background, payload: dict[str, Any]) -> None:
    """RestoreDBInstanceFromDBSnapshot's engine: a new server from the
    snapshot's file (opened under the snapshot's data key when encrypted)."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "creating":
        return
    sup = _sup(work)
    port = rec["port"]
    if model.ENGINES[rec["engine"]].real and payload.get("snapshot_file"):
        engine = sup.postgres
        try:
            inst = sup.open(rid)
            if inst is None:
                src = crypt.reader(
                    sup.snapshot_path(payload["snapshot_file"]),
                    _key(payload, "snapshot_key"),
                    f"snapshot:{payload['snapshot_file']}",
                )
                try:
                    inst = engine.restore_from(
                        src,
                        InstanceSpec(
                            instance_id=rid,
                            version=None,
                            master_username=rec["master_username"],
                            master_password="",
                            db_name=rec["db_name"],
                            port=payload.get("port"),
                        ),
                    )
                finally:
                    src.close()
            else:
                engine.start(inst)
        except (EngineError, crypt.CorruptFile, OSError) as err:
            log.warning("RDS instance %s could not be restored: %s", rec["identifier"], err)
            _fail(work, rid, "failed", "DB instance could not be restored")
            return
        port = inst.port
        sup.attach(rid, _key(payload, "data_key"))
        if payload.get("password"):  # a managed master password: RDS's own
            try:
                engine.set_password(inst, rec["master_username"], payload["password"])
            except EngineError as err:
                log.warning("RDS instance %s: password not set: %s", rec["identifier"], err)
    with work.transaction(write=True) as run:
        if records.instance_by_resource(run.conn, rid) is None:
            return
        records.update_instance(run.conn, rid, status="available", port=port)
        event(run, rec, f"Restored from snapshot {payload['snapshot']}", ["creation"])
        event(run, rec, "DB instance created", ["creation"])


# --------------------------------------------------------------------- snapshots


def _progress_writer(work: Background, snap_rid: str):  # type: ignore[no-untyped-def]
    last = [0.0, -1]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        percent = min(99, int(done * 100 / total)) if total else 0
        if percent == last[1] or now - last[0] < PROGRESS_EVERY_S:
            return
        last[0], last[1] = now, percent
        with contextlib.suppress(Exception), work.transaction(write=True) as run:
            records.update_snapshot(run.conn, snap_rid, percent=percent)

    return progress


def snapshot_data(
    work: Background, sup: Supervisor, rec: dict[str, Any], snap_rid: str, key: bytes | None
) -> int:
    """Stream the instance's engine into the snapshot's file; its size."""
    engine = sup.postgres
    inst = sup.open(rec["resource_id"])
    if inst is None:
        raise EngineError(f"{rec['identifier']} has no engine")
    unsealed = False
    if not engine.has_data(inst):
        # A stopped encrypted instance: its files are sealed at rest.
        instance_key = sup.key_of(rec["resource_id"])
        if instance_key is None:
            with work.transaction() as run:
                instance_key = keys.unwrap_as_rds(run, rec)
        sup.unseal_at_rest(inst, instance_key)
        unsealed = True
    path = sup.snapshot_path(snap_rid)
    tmp = path.with_suffix(".partial")
    out = crypt.writer(tmp, key, f"snapshot:{snap_rid}")
    try:
        engine.snapshot_to(inst, out, _progress_writer(work, snap_rid))  # type: ignore[arg-type]
    finally:
        out.close()
        if unsealed:
            with contextlib.suppress(Exception):
                sup.seal_at_rest(inst, sup.key_of(rec["resource_id"]) or instance_key)
    tmp.replace(path)
    return path.stat().st_size


@service.background
def take_snapshot(work: Background, payload: dict[str, Any]) -> None:
    """CreateDBSnapshot's data: the engine's snapshot stream into a file."""
    snap_rid = payload["snapshot"]
    with work.transaction() as run:
        snap = records.snapshot_by_resource(run.conn, snap_rid)
        rec = records.instance_by_resource(run.conn, payload["id"])
    if snap is None or snap["status"] != "creating" or rec is None:
        return
    finish_snapshot(work, _sup(work), rec, snap, _key(payload, "snapshot_key"))


def finish_snapshot(
    work: Background,
    sup: Supervisor,
    rec: dict[str, Any],
    snap: dict[str, Any],
    key: bytes | None,
) -> bool:
    size, has_data = 0, False
    if model.ENGINES[rec["engine"]].real:
        try:
            size = snapshot_data(work, sup, rec, snap["resource_id"], key)
            has_data = True
        except Exception as err:  # the snapshot fails, whatever failed
            log.warning("snapshot %s failed: %s", snap["identifier"], err)
            with work.transaction(write=True) as run:
                records.update_snapshot(run.conn, snap["resource_id"], status="failed")
                records.set_instance_status(
                    run.conn, rec["resource_id"], "available", only_from=("backing-up",)
                )
                event(run, snap, "Snapshot failed", ["failure"], snapshot=True)
            return False
    with work.transaction(write=True) as run:
        records.update_snapshot(
            run.conn,
            snap["resource_id"],
            status="available",
            percent=100,
            size=size,
            has_data=has_data,
        )
        records.set_instance_status(
            run.conn, rec["resource_id"], "available", only_from=("backing-up",)
        )
        kind = "Automated" if snap["snapshot_type"] == "automated" else "Manual"
        event(run, snap, f"{kind} snapshot created", ["creation"], snapshot=True)
        event(run, rec, "Finished DB Instance backup", ["backup"])
    return True


@service.background
def copy_snapshot(work: Background, payload: dict[str, Any]) -> None:
    """CopyDBSnapshot's data: the source's file, opened under its data key
    (if any), written under the copy's (if any): re-encrypted, encrypted,
    or copied as it is."""
    target = payload["target"]
    with work.transaction() as run:
        snap = records.snapshot_by_resource(run.conn, target)
    if snap is None or snap["status"] != "creating":
        return
    sup = _sup(work)
    size, has_data = 0, False
    if payload.get("source_file"):
        source = payload["source_file"]
        try:
            src = crypt.reader(
                sup.snapshot_path(source), _key(payload, "source_key"), f"snapshot:{source}"
            )
            path = sup.snapshot_path(target)
            tmp = path.with_suffix(".partial")
            out = crypt.writer(tmp, _key(payload, "target_key"), f"snapshot:{target}")
            total = max(1, int(payload.get("source_size") or 1))
            progress = _progress_writer(work, target)
            try:
                done = 0
                while chunk := src.read(crypt.CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    progress(done, total)
            finally:
                src.close()
                out.close()
            tmp.replace(path)
            size, has_data = path.stat().st_size, True
        except (OSError, crypt.CorruptFile) as err:
            log.warning("snapshot copy %s failed: %s", snap["identifier"], err)
            with work.transaction(write=True) as run:
                records.update_snapshot(run.conn, target, status="failed")
                event(run, snap, "Snapshot copy failed", ["failure"], snapshot=True)
            return
    with work.transaction(write=True) as run:
        records.update_snapshot(
            run.conn, target, status="available", percent=100, size=size, has_data=has_data
        )
        event(run, snap, "Finished copy of snapshot", ["notification"], snapshot=True)


# --------------------------------------------------------------------- delete


@service.background
def delete_instance(work: Background, payload: dict[str, Any]) -> None:
    """DeleteDBInstance: the final snapshot if asked for, then the engine and
    every file of the instance go, then its record."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "deleting":
        return
    sup = _sup(work)
    if payload.get("final"):
        with work.transaction() as run:
            snap = records.snapshot_by_resource(run.conn, payload["final"])
        if snap is not None and snap["status"] == "creating":
            finish_snapshot(work, sup, rec, snap, _key(payload, "snapshot_key"))
    from strongroom.services.rds import replica_work  # (it builds on this module)

    # As RDS does for PostgreSQL, the source's replicas are promoted first.
    replica_work.release_replicas(work, sup, rec)
    if model.ENGINES[rec["engine"]].real:
        if payload.get("keep_backups"):
            # A retained automated backup: its WAL up to now is archived first.
            from strongroom.services.rds import work_backups

            work_backups.before_stop(work, sup, rec)
        inst = sup.open(rid)
        sup.detach(rid)
        if inst is not None:
            with contextlib.suppress(EngineError):
                sup.postgres.destroy(inst)
        with contextlib.suppress(FileNotFoundError):
            sup.at_rest_path(rid).unlink()
    with work.transaction(write=True) as run:
        replica_work.forget(run, rec)
        records.delete_instance(run.conn, rid)
        event(run, rec, "DB instance deleted", ["deletion"])


# --------------------------------------------------------------------- stop / start / reboot


@service.background
def stop_instance(work: Background, payload: dict[str, Any]) -> None:
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "stopping":
        return
    sup = _sup(work)
    if payload.get("final"):
        with work.transaction() as run:
            snap = records.snapshot_by_resource(run.conn, payload["final"])
        if snap is not None and snap["status"] == "creating":
            finish_snapshot(work, sup, rec, snap, _key(payload, "snapshot_key"))
    stop_engine(work, rec)
    with work.transaction(write=True) as run:
        records.update_instance(
            run.conn,
            rid,
            status="stopped",
            auto_start_at=run.clock.timestamp() + model.AUTO_START_S,
        )
        event(run, rec, "DB instance stopped", ["notification"])


def stop_engine(work: Background, rec: dict[str, Any]) -> None:
    """Stop an instance's engine: its WAL handed to the archive, its files
    sealed when it is encrypted, its data key forgotten."""
    if not model.ENGINES[rec["engine"]].real:
        return
    from strongroom.services.rds import work_backups

    sup = _sup(work)
    rid = rec["resource_id"]
    work_backups.before_stop(work, sup, rec)
    inst = sup.open(rid)
    key = sup.detach(rid)
    if inst is not None:
        try:
            sup.postgres.stop(inst, "fast")
            work_backups.after_stop(work, sup, rid, key)
            if rec["encrypted"] and key is not None:
                sup.seal_at_rest(inst, key)
        except (EngineError, OSError) as err:
            log.warning("RDS instance %s did not stop cleanly: %s", rec["identifier"], err)


def start_engine(work: Background, rec: dict[str, Any], key: bytes | None) -> str | None:
    """Start an instance's engine (its sealed files opened first): None, or
    the status the instance goes to instead of running."""
    sup = _sup(work)
    rid = rec["resource_id"]
    if not model.ENGINES[rec["engine"]].real:
        return None
    inst = sup.open(rid)
    if inst is None:
        return "failed"
    engine = sup.postgres
    if rec["encrypted"]:
        if key is None:
            try:
                with work.transaction() as run:
                    key = keys.unwrap_as_rds(run, rec)
            except Exception as err:  # KMS refused: the key is not usable
                log.warning(
                    "RDS instance %s: its KMS key is not usable: %s", rec["identifier"], err
                )
                return "inaccessible-encryption-credentials"
        try:
            sup.unseal_at_rest(inst, key)
        except (OSError, crypt.CorruptFile) as err:
            log.warning("RDS instance %s: sealed files do not open: %s", rec["identifier"], err)
            return "failed"
    for attempt in range(START_ATTEMPTS):
        try:
            engine.start(inst)
            break
        except EngineError as err:
            # A server that died may leave processes a moment longer (its
            # shared memory still held): try again before giving up.
            log.warning("RDS instance %s did not start: %s", rec["identifier"], err)
            if attempt == START_ATTEMPTS - 1:
                return "failed"
            time.sleep(1.0)
    sup.attach(rid, key)
    return None


@service.background
def start_instance(work: Background, payload: dict[str, Any]) -> None:
    """StartDBInstance, the automatic start after 7 days, and bringing an
    instance back after a restart of strongroom or a dead engine."""
    rid = payload["id"]
    reason = payload.get("reason", "start")
    rec = _instance(work, rid)
    if rec is None:
        return
    if reason == "start" and rec["status"] != "starting":
        return
    if reason in ("resume", "recover") and rec["status"] not in model.RUNNING | {
        "inaccessible-encryption-credentials"
    }:
        return
    outcome = start_engine(work, rec, _key(payload, "data_key"))
    with work.transaction(write=True) as run:
        current = records.instance_by_resource(run.conn, rid)
        if current is None:
            return
        if outcome is not None:
            if current["status"] != outcome:
                records.update_instance(run.conn, rid, status=outcome)
                if outcome == "inaccessible-encryption-credentials":
                    event(
                        run,
                        rec,
                        "The DB instance can't be started because the KMS key is not accessible",
                        ["failure"],
                    )
                else:
                    event(run, rec, "DB instance could not be started", ["failure"])
            return
        status = current["status"]
        if status in ("starting", "inaccessible-encryption-credentials") or (
            reason == "resume" and status in ("rebooting", "modifying")
        ):
            # (a reboot or modification cut short by a restart of strongroom:
            # the engine runs again, so the instance is available)
            status = "available"
        records.update_instance(run.conn, rid, status=status, auto_start_at=None)
        if reason == "recover":
            event(run, rec, "DB instance restarted", ["failure", "notification"])
        elif reason == "auto":
            event(
                run,
                rec,
                "DB instance is being started due to it exceeding the maximum allowed time "
                "being stopped.",
                ["notification"],
            )
            event(run, rec, "DB instance started", ["notification"])
        elif reason != "resume" or rec["status"] == "inaccessible-encryption-credentials":
            event(run, rec, "DB instance started", ["notification"])


@service.background
def reboot_instance(work: Background, payload: dict[str, Any]) -> None:
    """RebootDBInstance: a real restart; pending modifications applied."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "rebooting":
        return
    apply_pending(work, rec, restart=True)
    with work.transaction(write=True) as run:
        current = records.instance_by_resource(run.conn, rid)
        attrs = dict((current or rec)["attrs"] or {})
        attrs.pop("PendingParameters", None)
        if attrs.get("ParameterApplyStatus") == "pending-reboot":
            attrs["ParameterApplyStatus"] = "in-sync"
        records.update_instance(run.conn, rid, status="available", attrs=attrs)
        event(run, rec, "DB instance restarted", ["availability"])


def apply_pending(work: Background, rec: dict[str, Any], *, restart: bool) -> None:
    """Apply PendingModifiedValues, restarting the engine when asked."""
    sup = _sup(work)
    rid = rec["resource_id"]
    inst = sup.open(rid) if model.ENGINES[rec["engine"]].real else None
    moved = (rec["attrs"] or {}).get("PendingParameters")
    if inst is not None and moved:
        # Another parameter group: its values (and the old group's reset).
        try:
            sup.postgres.apply_parameters(inst, moved)
        except EngineError as err:
            log.warning("RDS instance %s: parameters not applied: %s", rec["identifier"], err)
    if inst is not None and restart:
        with contextlib.suppress(EngineError):
            sup.postgres.restart(inst)
    pending = dict(rec["pending"] or {})
    changes: dict[str, Any] = {"pending": {}}
    if "DBInstanceClass" in pending:
        changes["instance_class"] = pending["DBInstanceClass"]
    if "AllocatedStorage" in pending:
        changes["allocated_storage"] = pending["AllocatedStorage"]
    if "BackupRetentionPeriod" in pending:
        changes["backup_retention"] = pending["BackupRetentionPeriod"]
    with work.transaction(write=True) as run:
        records.update_instance(run.conn, rid, **changes)


@service.background
def modify_instance(work: Background, payload: dict[str, Any]) -> None:
    """ModifyDBInstance with ApplyImmediately: the new master password set
    in the engine, then `available` again."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "modifying":
        return
    sup = _sup(work)
    if payload.get("password") and model.ENGINES[rec["engine"]].real:
        inst = sup.open(rid)
        if inst is not None:
            try:
                sup.postgres.set_password(inst, rec["master_username"], payload["password"])
            except EngineError as err:
                log.warning("RDS instance %s: password not set: %s", rec["identifier"], err)
    with work.transaction(write=True) as run:
        records.update_instance(run.conn, rid, status="available")
        if payload.get("password"):
            event(run, rec, "Reset master credentials", ["configuration change"])
        event(run, rec, "Finished applying modification to DB instance", ["configuration change"])


# --------------------------------------------------------------------- housekeeping


@service.job
def rds_housekeeping(run: JobRun) -> float | None:
    """Instances whose engine should run but does not in this process are
    started (after a restart of strongroom: "resume"; a dead engine:
    "recover"); stopped instances and DB clusters past their 7 days are started."""
    from strongroom.services.rds import replica_work, upgrades  # (they build on this module)

    now = run.clock.timestamp()
    sup: Supervisor = run.resource(ENGINES)
    watched = False
    for rec in records.all_instances(run.conn):
        rid = rec["resource_id"]
        if not model.ENGINES.get(rec["engine"], model.ENGINES["mysql"]).real:
            continue
        watched = watched or rec["status"] in model.RUNNING | {
            "inaccessible-encryption-credentials",
            "upgrading",
        }
        if "EngineVersion" in (rec["pending"] or {}) and upgrades.due(run, rec):
            continue  # (its maintenance window has come: the upgrade is handed off)
        if rec["status"] == "upgrading" and not sup.attached(rid):
            upgrades.resume(run, rec)
        elif rec["status"] == "inaccessible-encryption-credentials" and not sup.attached(rid):
            # Tried again until the key is usable again (then: available).
            run.hand_off("start_instance", {"id": rid, "reason": "resume"}, key=f"db:{rid}")
        elif rec["status"] in model.RUNNING:
            if not sup.attached(rid):
                run.hand_off("start_instance", {"id": rid, "reason": "resume"}, key=f"db:{rid}")
            elif not sup.running(rid):
                run.hand_off("start_instance", {"id": rid, "reason": "recover"}, key=f"db:{rid}")
            else:
                replica_work.replication_events(run, sup, rec)
    for rec in records.due_auto_starts(run.conn, now):
        rid = rec["resource_id"]
        records.update_instance(run.conn, rid, status="starting")
        event(run, rec, "DB instance is being started", ["notification"])
        run.hand_off("start_instance", {"id": rid, "reason": "auto"}, key=f"db:{rid}")
    from strongroom.services.rds import cluster_work  # (it builds on this module)

    clusters_due = cluster_work.auto_start_clusters(run, now)
    # Custom endpoints route to where their instances are now.
    sup.endpoints.sync(cluster_endpoints.wanted(run.conn))
    upcoming = records.next_auto_start(run.conn)
    if clusters_due is not None:
        upcoming = clusters_due if upcoming is None else min(upcoming, clusters_due)
    # Engines to watch: look again soon; else only when a stopped instance
    # is due (or stored state changes: a new instance).
    due = now + CHECK_EVERY_S if watched else None
    candidates = [t for t in (due, upcoming) if t is not None]
    return min(candidates) if candidates else None


@service.background
def remove_snapshot_file(work: Background, payload: dict[str, Any]) -> None:
    """DeleteDBSnapshot: the snapshot's file goes once its record has."""
    path = _sup(work).snapshot_path(payload["snapshot"])
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@service.background
def apply_group_parameters(work: Background, payload: dict[str, Any]) -> None:
    """A parameter group's change on one running instance: dynamic values at
    once, static ones written for the next restart (``pending-reboot``)."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] not in model.RUNNING:
        return
    sup = _sup(work)
    inst = sup.open(rid)
    if inst is None:
        return
    try:
        applied = sup.postgres.apply_parameters(inst, payload["values"])
    except EngineError as err:
        log.warning("RDS instance %s: parameters not applied: %s", rec["identifier"], err)
        return
    if any(a.pending_reboot for a in applied):
        with work.transaction(write=True) as run:
            current = records.instance_by_resource(run.conn, rid)
            if current is not None:
                attrs = {**(current["attrs"] or {}), "ParameterApplyStatus": "pending-reboot"}
                records.update_instance(run.conn, rid, attrs=attrs)
