"""Engine version upgrades of DB instances (ModifyDBInstance EngineVersion).

**Major** (another installed major, e.g. 15 → 18): only with
AllowMajorVersionUpgrade, never downwards, never to a major this machine
lacks, and with a parameter group of the new major's family (the one
named, else ``default.postgres<new>``; a custom group must be replaced
explicitly, as RDS requires). With ApplyImmediately the upgrade starts at
once, else it waits in PendingModifiedValues for the instance's
maintenance window (`due`, run by the housekeeping job). Status
``upgrading`` while it runs; the work (`upgrade_instance`):

1. when backups are on (BackupRetentionPeriod > 0), the pre-upgrade
   snapshot ``rds:preupgrade-<id>-<old version>-<YYYY-MM-DD-HH-MM>``
   (automated, of the running engine, sealed under the instance's own data
   key when encrypted, as RDS's automated snapshots are), restorable to a
   new instance of the old major;
2. the engine stops; the automated backup's WAL archive and snapshots of
   the old major go (their WAL cannot be replayed on the new major: a new
   backup begins, with a fresh automated snapshot, at the backup job's next
   pass — RDS's "second snapshot" after the upgrade);
3. ``pg_upgrade`` (`engines/postgres/upgrade.py`) from the old data
   directory into a new one, copy mode; its output becomes the instance's
   upgrade log files (`log_exports` publishes them as type ``upgrade``);
4. the new major starts with the new parameter group's values; the record
   shows the new EngineVersion and group. A failed check or upgrade leaves
   the old major running, as RDS does, with the event saying why;
5. in-Region read replicas are upgraded with their source, as RDS for
   PostgreSQL does: each is copied again from the upgraded source
   (a streaming replica must run its source's major). Replicas in other
   Regions stop replicating (``Replication streaming has been terminated``)
   and become standalone instances of the old major.

**Minor** (the same major): the binaries are the installed minor's already,
so only the record changes (at once or at the maintenance window).
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import UTC, datetime
from typing import Any

from strongroom.engines.driver import EngineError, InstanceSpec, VersionNotAvailable
from strongroom.engines.postgres import archive
from strongroom.engines.postgres.upgrade import UpgradeResult
from strongroom.framework import Background, Call, JobRun
from strongroom.services.rds import backups, crypt, keys, model, parameters, records, replicas
from strongroom.services.rds import snapshots as snapshot_records
from strongroom.services.rds.service import ENGINES, errors, service

log = logging.getLogger("strongroom.services.rds")

#: The attribute holding a pending upgrade's parameter group.
PENDING_GROUP = "PendingUpgradeParameterGroup"
#: The attribute holding a running upgrade's target ({"version", "group"}):
#: what `resume` hands off again after a restart of strongroom.
TARGET = "UpgradeTarget"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)-(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)$")  # fmt: skip
DEFAULT_WINDOW = "sun:05:00-sun:05:30"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def _major(version: str) -> int:
    return _key(version)[0] if _key(version) else 0


def plan(
    call: Call,
    rec: records.Record,
    requested: str | None,
    allow_major: bool | None,
    group_name: str | None,
) -> dict[str, Any] | None:
    """ModifyDBInstance's EngineVersion, checked: None (nothing to change),
    or ``{"version", "major", "group"}``."""
    if requested is None:
        return None
    current = rec["engine_version"]
    info = model.engine_info(rec["engine"])
    if not info.real:
        return None  # (control-plane-only engines keep their recorded version)
    if (rec["attrs"] or {}).get("DBClusterIdentifier"):
        raise errors.InvalidParameterCombination(
            "The requested DB Instance is a member of a DB Cluster. Set engine version for "
            "the DB Cluster."
        )
    if _key(requested) < _key(current)[: len(_key(requested))] or (
        _major(requested) < _major(current)
    ):
        raise errors.InvalidParameterCombination(
            f"Cannot upgrade {rec['engine']} from {current} to {requested}"
        )
    sup = call.resource(ENGINES)
    try:
        version = sup.postgres.resolve_version(requested).version
    except VersionNotAvailable as err:
        shown = ", ".join(err.available) or "none"
        raise errors.InvalidParameterCombination(
            f"Cannot find version {requested} for {rec['engine']} "
            f"(available on this server: {shown})"
        ) from None
    if _key(version) == _key(current):
        return None
    major = _major(version) != _major(current)
    if major and not allow_major:
        raise errors.InvalidParameterCombination(
            "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major "
            "version."
        )
    if replicas.source_arn(rec) is not None:
        raise errors.InvalidParameterCombination(
            f"The engine version of the read replica {rec['identifier']} can't be changed on "
            "its own: upgrade its source DB instance, which upgrades its in-Region read "
            "replicas with it."
        )
    group = None
    if major:
        family = model.family_of(rec["engine"], version)
        if group_name is not None:
            found = parameters.resolve(call, group_name)
            if found["family"] != family:
                raise errors.InvalidParameterCombination(
                    f"The parameter group {found['name']} with DBParameterGroupFamily "
                    f"{found['family']} can't be used for this instance. Use a parameter group "
                    f"with DBParameterGroupFamily {family}."
                )
            group = found["name"]
        else:
            current_group = (rec["attrs"] or {}).get("DBParameterGroupName")
            if current_group and not current_group.startswith("default."):
                raise errors.InvalidParameterCombination(
                    f"The current DB parameter group {current_group} is custom. You must "
                    "explicitly specify a new DB parameter group, either default or custom, "
                    "for the engine version upgrade."
                )
            group = f"default.{family}"
    return {"version": version, "major": major, "group": group}


def start(
    call: Call, rec: records.Record, planned: dict[str, Any], *, password: str | None = None
) -> None:
    """An upgrade applied now: status ``upgrading`` (a major's work handed
    off, with a new master password to set once the new major runs) or, for
    a minor, the new version recorded."""
    rid = rec["resource_id"]
    if not planned["major"]:
        records.update_instance(call.conn, rid, engine_version=planned["version"])
        rec["engine_version"] = planned["version"]
        _minor_event(call, rec, planned["version"])
        return
    target = {"version": planned["version"], "group": planned["group"]}
    attrs = {**(rec["attrs"] or {}), TARGET: target}
    records.update_instance(call.conn, rid, status="upgrading", attrs=attrs)
    rec["status"], rec["attrs"] = "upgrading", attrs
    records.add_event(
        call.conn, rec["account"], rec["region"], rec["identifier"], "db-instance", rec["arn"],
        "Database instance is being upgraded", ["maintenance"], call.clock.timestamp(),
    )  # fmt: skip
    payload = {"id": rid, "version": planned["version"], "group": planned["group"]}
    if password:
        payload["password"] = password
    call.hand_off("upgrade_instance", payload, key=f"db:{rid}")


def _minor_event(run: Any, rec: records.Record, version: str) -> None:
    records.add_event(
        run.conn, rec["account"], rec["region"], rec["identifier"], "db-instance", rec["arn"],
        f"Database instance patched (engine version {version})", ["maintenance"],
        run.clock.timestamp(),
    )  # fmt: skip


# --------------------------------------------------------------------- maintenance window


def in_window(window: str, now: float) -> bool:
    """Whether `now` falls in a weekly ``ddd:hh24:mi-ddd:hh24:mi`` window (UTC)."""
    m = _WINDOW.match(window.lower()) or _WINDOW.match(DEFAULT_WINDOW)
    assert m is not None
    week = 7 * 86400
    start = _DAYS.index(m.group(1)) * 86400 + int(m.group(2)) * 3600 + int(m.group(3)) * 60
    end = _DAYS.index(m.group(4)) * 86400 + int(m.group(5)) * 3600 + int(m.group(6)) * 60
    # The epoch began on a Thursday (index 3).
    at = (now + 3 * 86400) % week
    return start <= at < end if start <= end else at >= start or at < end


def due(run: JobRun, rec: records.Record) -> bool:
    """The housekeeping job: a pending EngineVersion whose maintenance
    window has come is applied (major: the upgrade handed off)."""
    pending = dict(rec["pending"] or {})
    version = pending.get("EngineVersion")
    if version is None or rec["status"] != "available":
        return False
    window = (rec["attrs"] or {}).get("PreferredMaintenanceWindow") or DEFAULT_WINDOW
    if not in_window(window, run.clock.timestamp()):
        return False
    pending.pop("EngineVersion")
    attrs = dict(rec["attrs"] or {})
    group = attrs.pop(PENDING_GROUP, None)
    rid = rec["resource_id"]
    if _major(version) == _major(rec["engine_version"]):
        records.update_instance(run.conn, rid, engine_version=version, pending=pending, attrs=attrs)
        _minor_event(run, rec, version)
        return True
    attrs[TARGET] = {"version": version, "group": group}
    records.update_instance(run.conn, rid, status="upgrading", pending=pending, attrs=attrs)
    records.add_event(
        run.conn, rec["account"], rec["region"], rec["identifier"], "db-instance", rec["arn"],
        "Database instance is being upgraded", ["maintenance"], run.clock.timestamp(),
    )  # fmt: skip
    run.hand_off(
        "upgrade_instance", {"id": rid, "version": version, "group": group}, key=f"db:{rid}"
    )
    return True


def resume(run: JobRun, rec: records.Record) -> None:
    """The housekeeping job: an instance `upgrading` whose engine no process
    runs (strongroom restarted during the upgrade) has its upgrade handed
    off again (a no-op while one is queued or running under its key)."""
    target = (rec["attrs"] or {}).get(TARGET)
    if target:
        rid = rec["resource_id"]
        run.hand_off("upgrade_instance", {"id": rid, **target}, key=f"db:{rid}")


# --------------------------------------------------------------------- the work


def _event(run: Any, rec: records.Record, message: str, categories: list[str]) -> None:
    from strongroom.services.rds.work import event

    event(run, rec, message, categories)


def preupgrade_identifier(rec: records.Record, now: float) -> str:
    version = rec["engine_version"].replace(".", "-")
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d-%H-%M")
    return f"rds:preupgrade-{rec['identifier']}-{version}-{stamp}"


def _preupgrade_snapshot(work: Background, sup: Any, rec: records.Record, inst: Any) -> None:
    """The snapshot RDS takes before a major upgrade when backups are on."""
    key = sup.key_of(rec["resource_id"]) if rec["encrypted"] else None
    with work.transaction(write=True) as run:
        ident = preupgrade_identifier(rec, run.clock.timestamp())
        if records.find_snapshot(run.conn, rec["account"], rec["region"], ident) is not None:
            return
        call = keys.as_rds(run, rec["account"], rec["region"], "CreateDBSnapshot")
        snap = snapshot_records.new_record(
            call, ident, instance=rec, snapshot_type="automated",
            encrypted=bool(rec["encrypted"]), kms_key_arn=rec["kms_key_arn"],
            data_key=rec["data_key"], resource_id=model.new_resource_id("snap-"),
            tags=[list(t) for t in rec["tags"]]
            if (rec["attrs"] or {}).get("CopyTagsToSnapshot") else [],
        )  # fmt: skip
        # Sealed under the instance's own data key (its grant lets RDS open
        # it for a restore); not a base of the point-in-time window.
        snap["attrs"].update({"KeyOf": "instance", "PreUpgrade": True})
        records.insert_snapshot(run.conn, snap)
        _event(run, snap, "Creating automated snapshot", ["creation"])
    path = sup.snapshot_path(snap["resource_id"])
    tmp = path.with_suffix(".partial")
    try:
        out = crypt.writer(tmp, key, f"snapshot:{snap['resource_id']}")
        try:
            sup.postgres.snapshot_to(inst, out)
        finally:
            out.close()
        tmp.replace(path)
    except (EngineError, OSError) as err:
        log.warning("pre-upgrade snapshot %s failed: %s", ident, err)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with work.transaction(write=True) as run:
            records.update_snapshot(run.conn, snap["resource_id"], status="failed")
        return
    with work.transaction(write=True) as run:
        records.update_snapshot(
            run.conn, snap["resource_id"], status="available", percent=100,
            size=path.stat().st_size, has_data=True,
        )  # fmt: skip
        _event(run, snap, "Automated snapshot created", ["creation"])


def _group_values(work: Background, rec: records.Record, group: str | None) -> dict[str, str]:
    if not group or group.startswith("default."):
        return {}
    with work.transaction() as run:
        found = records.find_parameter_group(run.conn, rec["account"], rec["region"], group)
    values = (found or {}).get("parameters") or {}
    return {k: v for k, v in values.items() if not k.startswith("rds.") and v is not None}


@service.background
def upgrade_instance(work: Background, payload: dict[str, Any]) -> None:
    """A major version upgrade (see the module)."""
    from strongroom.services.rds import work_backups

    rid = payload["id"]
    with work.transaction() as run:
        rec = records.instance_by_resource(run.conn, rid)
    if rec is None or rec["status"] != "upgrading":
        return
    sup = work.runtime.resource(ENGINES)
    engine = sup.postgres
    inst = sup.open(rid)
    if inst is None:
        return
    old_version = rec["engine_version"]
    if rec["backup_retention"] > 0 and engine.is_running(inst):
        _preupgrade_snapshot(work, sup, rec, inst)
    work_backups.before_stop(work, sup, rec)
    key = sup.key_of(rid)
    with contextlib.suppress(EngineError):
        engine.stop(inst, "fast")
    # The old major's WAL and automated snapshots: no base for the new one.
    with work.transaction(write=True) as run:
        gone = backups.forget(run.conn, rid, preupgrade=False)
        current = records.instance_by_resource(run.conn, rid)
        if current is not None:
            attrs = dict(current["attrs"] or {})
            attrs.pop("LatestRestorableTime", None)
            records.update_instance(run.conn, rid, attrs=attrs)
    if gone is not None:
        work_backups.remove_files(sup, gone)
    for path in archive.spooled(inst):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    try:
        if rec["encrypted"] and key is None:
            # Run again after a restart of strongroom: the key, and the
            # files if they were sealed at rest meanwhile.
            with work.transaction() as run:
                key = keys.unwrap_as_rds(run, rec)
        if rec["encrypted"] and key is not None and not engine.has_data(inst):
            sup.unseal_at_rest(inst, key)
        if inst.major == _major(payload["version"]):
            # Run again after the switch: the new major is in place already.
            result = UpgradeResult(inst, True)
        else:
            result = engine.upgrade_major(inst, payload["version"])
    except Exception as err:  # the upgrade fails, whatever failed
        log.warning("RDS instance %s was not upgraded: %s", rec["identifier"], err)
        result = None
        reason = str(err)
    else:
        reason = result.reason
    upgraded = result is not None and result.upgraded
    running = result.instance if result is not None else inst
    values = _group_values(work, rec, payload.get("group")) if upgraded else {}
    try:
        engine.start(running)
        if values:
            applied = engine.apply_parameters(running, values)
            if any(a.pending_reboot for a in applied):
                engine.restart(running)
        if payload.get("password"):
            engine.set_password(running, rec["master_username"], payload["password"])
    except EngineError as err:
        if sup.closing or engine.closed:
            return  # strongroom is stopping: `resume` takes it up at the next start
        log.warning("RDS instance %s did not start after its upgrade: %s", rec["identifier"], err)
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status="failed")
            _event(run, rec, "DB instance could not be started", ["failure"])
        return
    sup.attach(rid, key)
    with work.transaction(write=True) as run:
        current = records.instance_by_resource(run.conn, rid)
        if current is None:
            return
        attrs = dict(current["attrs"] or {})
        attrs.pop(TARGET, None)
        changes: dict[str, Any] = {"status": "available", "attrs": attrs}
        if upgraded:
            attrs["DBParameterGroupName"] = payload.get("group")
            attrs["ParameterApplyStatus"] = "in-sync"
            attrs.pop("PendingParameters", None)
            changes["engine_version"] = running.version
        records.update_instance(run.conn, rid, **changes)
        if upgraded:
            _event(
                run, rec,
                f"Database instance upgraded from engine version {old_version} to "
                f"{running.version}",
                ["maintenance"],
            )  # fmt: skip
        else:
            _event(
                run, rec,
                f"Database instance is in a state that cannot be upgraded: {reason}",
                ["maintenance", "failure"],
            )  # fmt: skip
    if upgraded:
        _upgrade_replicas(work, sup, rec, running)


def _upgrade_replicas(work: Background, sup: Any, source: records.Record, upgraded: Any) -> None:
    """The source's replicas after its upgrade (see the module)."""
    from strongroom.services.rds import replica_work

    for arn in replicas.replica_arns(source):
        with work.transaction() as run:
            rec = replicas.find_by_arn(run.conn, arn)
        if rec is None:
            continue
        rid = rec["resource_id"]
        if rec["region"] != source["region"]:
            with contextlib.suppress(EngineError):
                replica_work._promote_engine(sup, rec)
            with work.transaction(write=True) as run:
                current = replicas.find_by_arn(run.conn, arn)
                if current is not None:
                    replicas.standalone(run.conn, current)
                    _event(run, rec, replica_work.TERMINATED, [replicas.CATEGORY])
            continue
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status="upgrading")
            _event(run, rec, "Database instance is being upgraded", ["maintenance"])
        key = sup.key_of(rid)
        old = sup.open(rid)
        sup.detach(rid)
        status, version = "available", rec["engine_version"]
        try:
            if old is not None:
                sup.postgres.destroy(old)
            spec = InstanceSpec(rid, None, "", "", port=rec["port"])
            inst = sup.postgres.replicate(upgraded, spec)
            sup.attach(rid, key)
            version = inst.version
        except EngineError as err:
            log.warning("RDS read replica %s was not upgraded: %s", rec["identifier"], err)
            status = "failed"
        with work.transaction(write=True) as run:
            current = records.instance_by_resource(run.conn, rid)
            if current is None:
                continue
            attrs = dict(current["attrs"] or {})
            if status == "available":
                # (its old family's group can't serve the new major: the default does)
                attrs.pop("DBParameterGroupName", None)
            records.update_instance(
                run.conn, rid, status=status, engine_version=version, attrs=attrs
            )
            if status == "available":
                _event(
                    run, rec,
                    f"Database instance upgraded from engine version {rec['engine_version']} "
                    f"to {version}",
                    ["maintenance"],
                )  # fmt: skip
            else:
                _event(run, rec, "Read replica upgrade failed.", ["failure"])
