"""Read replicas' engine work, after the request has been answered: the
replica's copy of its running source (`launch_replica`), promotion
(`promote_replica`), the replicas a deleted source leaves (promoted, as RDS
does for PostgreSQL), and the replication events the housekeeping job
raises from `replica_monitor`'s measurements.

As in `work`, each piece reads in a transaction of its own, does the slow
part with none open, and writes the outcome in another."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from strongroom.engines.driver import EngineError, InstanceSpec
from strongroom.framework import Background, JobRun
from strongroom.services.rds import model, records, replicas
from strongroom.services.rds.service import service
from strongroom.services.rds.supervisor import Supervisor
from strongroom.services.rds.work import _instance, _key, _sup, event

log = logging.getLogger("strongroom.services.rds")

RESUMED = "Replication for the Read Replica resumed."
STOPPED = "Replication has stopped."
PROMOTED = "Read replica promoted to a standalone DB instance."
TERMINATED = "Replication streaming has been terminated."


def _source_back(run: Any, source_rid: str) -> None:
    """The source is available again once its copy has been taken."""
    records.set_instance_status(run.conn, source_rid, "available", only_from=("modifying",))


@service.background
def launch_replica(work: Background, payload: dict[str, Any]) -> None:
    """CreateDBInstanceReadReplica's engine: a hot standby copied from the
    running source (`PostgresEngine.replicate`); nothing for a
    control-plane-only engine; then `available`, replicating."""
    rid, source_rid = payload["id"], payload["source"]
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
                source = sup.open(source_rid)
                if source is None or not sup.running(source_rid):
                    raise EngineError("the source DB instance's engine is not running")
                inst = engine.replicate(
                    source, InstanceSpec(rid, None, "", "", port=payload.get("port"))
                )
            else:
                engine.start(inst)
            if payload.get("parameters"):
                engine.apply_parameters(inst, payload["parameters"])
        except EngineError as err:
            log.warning("RDS read replica %s was not created: %s", rec["identifier"], err)
            with work.transaction(write=True) as run:
                records.update_instance(run.conn, rid, status="failed")
                _source_back(run, source_rid)
                event(run, rec, "Read replica creation failed.", [replicas.CATEGORY])
            return
        port = inst.port
        sup.attach(rid, _key(payload, "data_key"))
    with work.transaction(write=True) as run:
        _source_back(run, source_rid)
        if records.instance_by_resource(run.conn, rid) is None:
            return
        records.update_instance(run.conn, rid, status="available", port=port)
        event(run, rec, "DB instance created", ["creation"])
        event(run, rec, RESUMED, [replicas.CATEGORY])


def _promote_engine(sup: Supervisor, rec: dict[str, Any]) -> None:
    if not model.ENGINES[rec["engine"]].real:
        return
    inst = sup.open(rec["resource_id"])
    if inst is not None and inst.role == "replica":
        sup.postgres.promote(inst)


@service.background
def promote_replica(work: Background, payload: dict[str, Any]) -> None:
    """PromoteReadReplica: the engine promoted (writable, no longer
    streaming); the record stands alone, with its backup retention."""
    rid = payload["id"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "modifying" or replicas.source_arn(rec) is None:
        return
    try:
        _promote_engine(_sup(work), rec)
    except EngineError as err:
        log.warning("RDS read replica %s was not promoted: %s", rec["identifier"], err)
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status="available")
            event(run, rec, "Read replica promotion failed.", ["failure"])
        return
    with work.transaction(write=True) as run:
        current = records.instance_by_resource(run.conn, rid)
        if current is None:
            return
        replicas.standalone(
            run.conn, current, status="available", backup_retention=payload["retention"]
        )
        event(run, rec, PROMOTED, [replicas.CATEGORY])


def release_replicas(work: Background, sup: Supervisor, source: dict[str, Any]) -> None:
    """A source being deleted: each of its replicas is promoted to a
    standalone instance first (RDS for PostgreSQL does so, in every Region)."""
    for arn in replicas.replica_arns(source):
        with work.transaction() as run:
            rec = replicas.find_by_arn(run.conn, arn)
        if rec is None:
            continue
        try:
            _promote_engine(sup, rec)
        except EngineError as err:
            log.warning("RDS read replica %s was not promoted: %s", rec["identifier"], err)
        with work.transaction(write=True) as run:
            current = replicas.find_by_arn(run.conn, arn)
            if current is None:
                continue
            replicas.standalone(run.conn, current)
            event(run, rec, TERMINATED, [replicas.CATEGORY])
            event(run, rec, PROMOTED, [replicas.CATEGORY])


def forget(run: Any, rec: dict[str, Any]) -> None:
    """A deleted replica leaves its source's list of replicas."""
    if replicas.source_arn(rec) is not None:
        replicas.unlink(run.conn, rec)


def replication_events(run: JobRun, sup: Supervisor, rec: dict[str, Any]) -> None:
    """When a running replica's replication stops or resumes (as measured
    in memory), the event RDS raises; the state is kept in ``attrs`` so each
    change is told once."""
    if replicas.source_arn(rec) is None or rec["status"] not in model.RUNNING:
        return
    latest = sup.replication.latest(rec["resource_id"])
    if latest is None:
        return
    state = "replicating" if latest.streaming else "stopped"
    attrs = rec["attrs"] or {}
    before = attrs.get("ReplicationState", "replicating")
    if state == before:
        return
    with contextlib.suppress(Exception):
        records.update_instance(
            run.conn, rec["resource_id"], attrs={**attrs, "ReplicationState": state}
        )
        event(run, rec, RESUMED if state == "replicating" else STOPPED, [replicas.CATEGORY])
