"""Aurora clusters' engine work, after the request has been answered: the
writer's server (`launch_cluster_member`: a new PostgreSQL holding the
cluster's master user by its SCRAM verifier), readers (streaming replicas
of the writer, `PostgresEngine.replicate`), a new master password, a
failover (a reader promoted; every other instance, the old writer too,
copied again from the new writer and streaming from it), deleting an
instance (the writer: a reader promoted first) and the cluster.

As in `work`, each piece reads in a transaction of its own, does the slow
part with none open, and writes the outcome in another."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from strongroom.engines.driver import EngineError, InstanceSpec
from strongroom.engines.postgres.credentials import set_verifier
from strongroom.framework import Background
from strongroom.services.rds import (
    cluster_endpoints,
    cluster_snapshots,
    clusters,
    crypt,
    master_secret,
    records,
)
from strongroom.services.rds.model import AUTO_START_S
from strongroom.services.rds.service import service
from strongroom.services.rds.supervisor import Supervisor
from strongroom.services.rds.work import (
    _fail,
    _instance,
    _key,
    _sup,
    event,
    snapshot_data,
    start_engine,
    stop_engine,
)

log = logging.getLogger("strongroom.services.rds")

#: How long a reader waits for its writer to come up before it fails.
WRITER_WAIT_S = 300.0


def _cluster(work: Background, cluster_rid: str) -> dict[str, Any] | None:
    with work.transaction() as run:
        return clusters.by_resource(run.conn, cluster_rid)


@service.background
def create_cluster(work: Background, payload: dict[str, Any]) -> None:
    """The cluster is available: it has no compute until an instance is added."""
    with work.transaction(write=True) as run:
        rec = clusters.by_resource(run.conn, payload["cluster"])
        if rec is None or rec["status"] != "creating":
            return
        clusters.update_cluster(run.conn, rec["resource_id"], status="available")
        clusters.add_event(run, rec, "DB cluster created", ["creation"])


@service.background
def delete_cluster(work: Background, payload: dict[str, Any]) -> None:
    with work.transaction(write=True) as run:
        rec = clusters.by_resource(run.conn, payload["cluster"])
        if rec is None or rec["status"] != "deleting":
            return
        clusters.delete_cluster(run.conn, rec["resource_id"])
        cluster_endpoints.delete_of_cluster(run.conn, rec["resource_id"])
        clusters.add_event(run, rec, "DB cluster deleted", ["deletion"])
        wanted = cluster_endpoints.wanted(run.conn)
    _sup(work).endpoints.sync(wanted)
    with contextlib.suppress(FileNotFoundError):
        _sup(work).snapshot_path(cluster_snapshots.seed_name(payload["cluster"])).unlink()


def _writer_engine(work: Background, sup: Supervisor, cluster_rid: str) -> Any:
    """The running writer's engine instance, waiting while it comes up."""
    deadline = time.monotonic() + WRITER_WAIT_S
    while True:
        cluster = _cluster(work, cluster_rid)
        if cluster is None or cluster["writer"] is None:
            raise EngineError("the DB cluster has no writer")
        writer = _instance(work, cluster["writer"])
        if writer is not None and writer["status"] in clusters.SERVING:
            inst = sup.open(writer["resource_id"])
            if inst is not None and sup.running(writer["resource_id"]):
                return inst
        if writer is not None and writer["status"] not in ("creating", "rebooting", "modifying"):
            raise EngineError(f"the writer is {writer['status']}")
        if time.monotonic() > deadline:
            raise EngineError("the writer did not come up in time")
        time.sleep(0.2)


def _apply_group(sup: Supervisor, inst: Any, payload: dict[str, Any]) -> None:
    """The cluster parameter group's values on a new instance (a restart for
    static ones, before it is available)."""
    if payload.get("parameters"):
        applied = sup.postgres.apply_parameters(inst, payload["parameters"])
        if any(a.pending_reboot for a in applied):
            sup.postgres.restart(inst)


@service.background
def launch_cluster_member(work: Background, payload: dict[str, Any]) -> None:
    rid = payload["id"]
    rec = _instance(work, rid)
    cluster = _cluster(work, payload["cluster"])
    if rec is None or rec["status"] != "creating" or cluster is None:
        return
    sup = _sup(work)
    engine = sup.postgres
    writer = cluster["writer"] == rid
    try:
        inst = sup.open(rid)
        if inst is not None:
            engine.start(inst)
        elif writer and (cluster["attrs"] or {}).get("Seed"):
            inst = _restore_writer(sup, rec, cluster, payload)
            _apply_group(sup, inst, payload)
            set_verifier(engine, inst, rec["master_username"], cluster["master_verifier"])
        elif writer:
            # A password nobody knows, replaced at once by the cluster's verifier.
            inst = engine.create(
                InstanceSpec(
                    instance_id=rid,
                    version=rec["engine_version"],
                    master_username=rec["master_username"],
                    master_password=master_secret.new_password(),
                    db_name=rec["db_name"],
                    port=cluster["port"],
                    parameters=payload.get("parameters") or {},
                )
            )
            set_verifier(engine, inst, rec["master_username"], cluster["master_verifier"])
        else:
            source = _writer_engine(work, sup, payload["cluster"])
            inst = engine.replicate(source, InstanceSpec(rid, None, "", "", port=None))
            _apply_group(sup, inst, payload)
    except (EngineError, crypt.CorruptFile, OSError) as err:
        log.warning("RDS cluster instance %s was not created: %s", rec["identifier"], err)
        _fail(work, rid, "failed", "DB instance could not be created")
        return
    sup.attach(rid, _key(payload, "data_key"))
    with work.transaction(write=True) as run:
        if records.instance_by_resource(run.conn, rid) is None:
            return
        records.update_instance(run.conn, rid, status="available", port=inst.port)
        event(run, rec, "DB instance created", ["creation"])
        current = clusters.by_resource(run.conn, cluster["resource_id"])
        if current is not None and writer and (current["attrs"] or {}).get("Seed"):
            # The writer holds the restored data now: the seed is done with.
            attrs = dict(current["attrs"])
            seed = attrs.pop("Seed")
            clusters.update_cluster(run.conn, current["resource_id"], attrs=attrs)
            with contextlib.suppress(FileNotFoundError):
                sup.snapshot_path(seed).unlink()
        if current is not None:
            role = "writer" if writer else "reader"
            clusters.add_event(
                run, current, f"Added DB instance {rec['identifier']} as a {role}", ["creation"]
            )


@service.background
def set_cluster_password(work: Background, payload: dict[str, Any]) -> None:
    """ModifyDBCluster's new master password, on the writer (readers get it
    by replication: the ALTER ROLE is in the writer's WAL)."""
    cluster = _cluster(work, payload["cluster"])
    if cluster is None or cluster["writer"] is None:
        return
    sup = _sup(work)
    inst = sup.open(cluster["writer"])
    if inst is not None:
        try:
            set_verifier(sup.postgres, inst, cluster["master_username"], cluster["master_verifier"])
        except EngineError as err:
            log.warning("RDS cluster %s: password not set: %s", cluster["identifier"], err)
    with work.transaction(write=True) as run:
        current = clusters.by_resource(run.conn, payload["cluster"])
        if current is None:
            return
        attrs = dict(current["attrs"] or {})
        attrs.pop("PendingMasterUserPassword", None)
        clusters.update_cluster(run.conn, current["resource_id"], attrs=attrs)
        clusters.add_event(run, current, "Reset master credentials", ["configuration change"])


def _recopy(sup: Supervisor, rid: str, new_writer: Any) -> int:
    """An instance copied again from the new writer (its old data
    discarded), streaming from it; its port kept. Returns the port."""
    engine = sup.postgres
    old = sup.open(rid)
    port = old.port if old is not None else None
    key = sup.detach(rid)
    if old is not None:
        engine.destroy(old)
    inst = engine.replicate(new_writer, InstanceSpec(rid, None, "", "", port=port))
    sup.attach(rid, key)
    return inst.port


def promote_writer(
    work: Background, cluster_rid: str, target_rid: str, rejoin: list[str]
) -> dict[str, str]:
    """`target_rid` promoted to writer; every instance in `rejoin` copied
    again from it. Returns the statuses the instances end in."""
    sup = _sup(work)
    engine = sup.postgres
    inst = sup.open(target_rid)
    if inst is None:
        raise EngineError("the new writer has no engine")
    if inst.role == "replica":
        inst = engine.promote(inst)
    with work.transaction(write=True) as run:
        clusters.update_cluster(run.conn, cluster_rid, writer=target_rid)
        records.update_instance(run.conn, target_rid, status="available")
    outcome = {target_rid: "available"}
    for rid in rejoin:
        try:
            port = _recopy(sup, rid, inst)
            with work.transaction(write=True) as run:
                records.update_instance(run.conn, rid, status="available", port=port)
            outcome[rid] = "available"
        except EngineError as err:
            log.warning("RDS cluster instance %s did not rejoin: %s", rid, err)
            with work.transaction(write=True) as run:
                records.update_instance(run.conn, rid, status="failed")
            outcome[rid] = "failed"
    return outcome


@service.background
def failover_cluster(work: Background, payload: dict[str, Any]) -> None:
    cluster = _cluster(work, payload["cluster"])
    if cluster is None or cluster["status"] != "failing-over":
        return
    target_rid = payload["target"]
    target = _instance(work, target_rid)
    rejoin = [m for m in cluster["members"] or [] if m != target_rid]
    with work.transaction(write=True) as run:
        clusters.add_event(
            run,
            cluster,
            f"Started cross AZ failover to DB instance: {target['identifier'] if target else ''}",
            ["failover"],
        )
    try:
        promote_writer(work, cluster["resource_id"], target_rid, rejoin)
        message = f"Completed failover to DB instance: {target['identifier'] if target else ''}"
    except EngineError as err:
        log.warning("RDS cluster %s did not fail over: %s", cluster["identifier"], err)
        message = "Failover failed"
        with work.transaction(write=True) as run:
            for rid in cluster["members"] or []:
                records.set_instance_status(run.conn, rid, "available", only_from=("rebooting",))
    with work.transaction(write=True) as run:
        current = clusters.by_resource(run.conn, cluster["resource_id"])
        if current is None:
            return
        clusters.update_cluster(run.conn, current["resource_id"], status="available")
        clusters.add_event(run, current, message, ["failover"])


@service.background
def delete_cluster_member(work: Background, payload: dict[str, Any]) -> None:
    rid, cluster_rid = payload["id"], payload["cluster"]
    rec = _instance(work, rid)
    if rec is None or rec["status"] != "deleting":
        return
    sup = _sup(work)
    if payload.get("promote"):
        cluster = _cluster(work, cluster_rid)
        others = [
            m for m in (cluster["members"] if cluster else []) or []
            if m not in (rid, payload["promote"])
        ]  # fmt: skip
        try:
            promote_writer(work, cluster_rid, payload["promote"], others)
        except EngineError as err:
            log.warning("RDS cluster: no reader promoted: %s", err)
    inst = sup.open(rid)
    sup.detach(rid)
    if inst is not None:
        with contextlib.suppress(EngineError):
            sup.postgres.destroy(inst)
    with contextlib.suppress(FileNotFoundError):
        sup.at_rest_path(rid).unlink()
    with work.transaction(write=True) as run:
        records.delete_instance(run.conn, rid)
        event(run, rec, "DB instance deleted", ["deletion"])
        cluster = clusters.by_resource(run.conn, cluster_rid)
        if cluster is not None:
            clusters.remove_member(run.conn, cluster, rid)
            if cluster["status"] == "failing-over":
                clusters.update_cluster(run.conn, cluster_rid, status="available")
            clusters.add_event(
                run, cluster, f"Removed DB instance {rec['identifier']}", ["deletion"]
            )


# --------------------------------------------------------------------- cluster snapshots


def _restore_writer(
    sup: Supervisor, rec: dict[str, Any], cluster: dict[str, Any], payload: dict[str, Any]
) -> Any:
    """A restored cluster's writer: a new server from the cluster's seed."""
    seed = cluster["attrs"]["Seed"]
    src = crypt.reader(sup.snapshot_path(seed), _key(payload, "seed_key"), f"snapshot:{seed}")
    try:
        return sup.postgres.restore_from(
            src,
            InstanceSpec(
                instance_id=rec["resource_id"],
                version=None,
                master_username=rec["master_username"],
                master_password="",
                db_name=rec["db_name"],
                port=cluster["port"],
            ),
        )
    finally:
        src.close()


@service.background
def take_cluster_snapshot(work: Background, payload: dict[str, Any]) -> None:
    """CreateDBClusterSnapshot's data: the writer's physical copy."""
    snap_rid = payload["snapshot"]
    with work.transaction() as run:
        snap = cluster_snapshots.by_resource(run.conn, snap_rid)
        writer = records.instance_by_resource(run.conn, payload["id"])
    if snap is None or snap["status"] != "creating":
        return
    status, message = "available", "Manual cluster snapshot created"
    try:
        if writer is None:
            raise EngineError("the writer is gone")
        snapshot_data(work, _sup(work), writer, snap_rid, _key(payload, "snapshot_key"))
    except Exception as err:  # the snapshot fails, whatever failed
        log.warning("cluster snapshot %s failed: %s", snap["identifier"], err)
        status, message = "failed", "Cluster snapshot failed"
    with work.transaction(write=True) as run:
        cluster_snapshots.update_snapshot(
            run.conn, snap_rid, status=status, percent=100 if status == "available" else 0
        )
        records.add_event(
            run.conn, snap["account"], snap["region"], snap["identifier"],
            "db-cluster-snapshot", snap["arn"], message, ["backup"], run.clock.timestamp(),
        )  # fmt: skip
        cluster = clusters.by_resource(run.conn, snap["cluster_resource_id"])
        if cluster is not None and cluster["status"] == "backing-up":
            clusters.update_cluster(run.conn, cluster["resource_id"], status="available")


@service.background
def delete_cluster_snapshot_file(work: Background, payload: dict[str, Any]) -> None:
    with contextlib.suppress(FileNotFoundError):
        _sup(work).snapshot_path(payload["snapshot"]).unlink()


@service.background
def restore_cluster(work: Background, payload: dict[str, Any]) -> None:
    """RestoreDBClusterFromSnapshot's data: the snapshot's file copied as the
    new cluster's seed, under the cluster's own data key (re-encrypted,
    encrypted, or as it was); then `available`."""
    cluster = _cluster(work, payload["cluster"])
    if cluster is None or cluster["status"] != "creating":
        return
    sup = _sup(work)
    source, seed = payload["snapshot_file"], cluster["attrs"]["Seed"]
    status = "available"
    try:
        _copy_file(sup, source, _key(payload, "snapshot_key"), seed, _key(payload, "seed_key"))
    except (OSError, crypt.CorruptFile) as err:
        log.warning("cluster restore %s failed: %s", cluster["identifier"], err)
        status = "failed"
    with work.transaction(write=True) as run:
        if clusters.by_resource(run.conn, cluster["resource_id"]) is None:
            return
        clusters.update_cluster(run.conn, cluster["resource_id"], status=status)
        clusters.add_event(
            run,
            cluster,
            "DB cluster created" if status == "available" else "DB cluster restore failed",
            ["creation"] if status == "available" else ["failure"],
        )


def _copy_file(
    sup: Supervisor, source: str, source_key: bytes | None, target: str, target_key: bytes | None
) -> None:
    """A sealed file copied under another key (or none), streamed."""
    src = crypt.reader(sup.snapshot_path(source), source_key, f"snapshot:{source}")
    path = sup.snapshot_path(target)
    tmp = path.with_suffix(".partial")
    out = crypt.writer(tmp, target_key, f"snapshot:{target}")
    try:
        while chunk := src.read(crypt.CHUNK):
            out.write(chunk)
    finally:
        src.close()
        out.close()
    tmp.replace(path)


@service.background
def copy_cluster_snapshot(work: Background, payload: dict[str, Any]) -> None:
    """CopyDBClusterSnapshot's data: the source's file under the copy's key."""
    target = payload["target"]
    with work.transaction() as run:
        snap = cluster_snapshots.by_resource(run.conn, target)
    if snap is None or snap["status"] != "creating":
        return
    status, message = "available", "Finished copy of cluster snapshot"
    try:
        _copy_file(
            _sup(work), payload["source_file"], _key(payload, "source_key"), target,
            _key(payload, "target_key"),
        )  # fmt: skip
    except (OSError, crypt.CorruptFile) as err:
        log.warning("cluster snapshot copy %s failed: %s", snap["identifier"], err)
        status, message = "failed", "Cluster snapshot copy failed"
    with work.transaction(write=True) as run:
        cluster_snapshots.update_snapshot(
            run.conn, target, status=status, percent=100 if status == "available" else 0
        )
        records.add_event(
            run.conn, snap["account"], snap["region"], snap["identifier"],
            "db-cluster-snapshot", snap["arn"], message, ["notification"], run.clock.timestamp(),
        )  # fmt: skip


# --------------------------------------------------------------------- stop / start


@service.background
def stop_cluster(work: Background, payload: dict[str, Any]) -> None:
    """StopDBCluster: every member's engine stopped (the readers first, then
    the writer), each member `stopped`, then the cluster, with the time it
    starts by itself (7 days later, as AWS)."""
    cluster = _cluster(work, payload["cluster"])
    if cluster is None or cluster["status"] != "stopping":
        return
    members = cluster["members"] or []
    order = [m for m in members if m != cluster["writer"]] + [
        m for m in members if m == cluster["writer"]
    ]
    for rid in order:
        rec = _instance(work, rid)
        if rec is None or rec["status"] != "stopping":
            continue
        stop_engine(work, rec)
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status="stopped", auto_start_at=None)
            event(run, rec, "DB instance stopped", ["notification"])
    with work.transaction(write=True) as run:
        current = clusters.by_resource(run.conn, cluster["resource_id"])
        if current is None:
            return
        attrs = {**(current["attrs"] or {}), "AutoStartAt": run.clock.timestamp() + AUTO_START_S}
        clusters.update_cluster(run.conn, current["resource_id"], status="stopped", attrs=attrs)
        clusters.add_event(run, current, "DB cluster stopped", ["notification"])
        wanted = cluster_endpoints.wanted(run.conn)
    _sup(work).endpoints.sync(wanted)


@service.background
def start_cluster(work: Background, payload: dict[str, Any]) -> None:
    """StartDBCluster and the automatic start after 7 days: the writer's
    engine first, then the readers' (streaming from it again); each member
    `available` as its engine runs, then the cluster."""
    cluster = _cluster(work, payload["cluster"])
    if cluster is None or cluster["status"] != "starting":
        return
    members = cluster["members"] or []
    order = [m for m in members if m == cluster["writer"]] + [
        m for m in members if m != cluster["writer"]
    ]
    data_keys = payload.get("keys") or {}
    failed = False
    for rid in order:
        rec = _instance(work, rid)
        if rec is None or rec["status"] != "starting":
            continue
        outcome = start_engine(work, rec, _key(data_keys, rid))
        with work.transaction(write=True) as run:
            records.update_instance(run.conn, rid, status=outcome or "available")
            if outcome is None:
                event(run, rec, "DB instance started", ["notification"])
            else:
                failed = True
                event(run, rec, "DB instance could not be started", ["failure"])
    with work.transaction(write=True) as run:
        current = clusters.by_resource(run.conn, cluster["resource_id"])
        if current is None:
            return
        attrs = {k: v for k, v in (current["attrs"] or {}).items() if k != "AutoStartAt"}
        clusters.update_cluster(run.conn, current["resource_id"], status="available", attrs=attrs)
        if payload.get("auto"):
            clusters.add_event(
                run,
                current,
                "DB cluster is being started due to it exceeding the maximum allowed time "
                "being stopped.",
                ["notification"],
            )
        clusters.add_event(
            run,
            current,
            "DB cluster started" if not failed else "DB cluster started with failed instances",
            ["notification"],
        )
        wanted = cluster_endpoints.wanted(run.conn)
    _sup(work).endpoints.sync(wanted)


def auto_start_clusters(run: Any, now: float) -> float | None:
    """Stopped clusters past their 7 days go to `starting` (their members
    too) and are started by RDS itself; returns when the next one is due."""
    upcoming: float | None = None
    for cluster in clusters.stopped(run.conn):
        due = (cluster["attrs"] or {}).get("AutoStartAt")
        if due is None:
            continue
        if due > now:
            upcoming = due if upcoming is None else min(upcoming, due)
            continue
        clusters.update_cluster(run.conn, cluster["resource_id"], status="starting")
        for rid in cluster["members"] or []:
            records.set_instance_status(run.conn, rid, "starting", only_from=("stopped",))
        clusters.add_event(run, cluster, "DB cluster is being started", ["notification"])
        run.hand_off(
            "start_cluster",
            {"cluster": cluster["resource_id"], "auto": True},
            key=f"cluster:{cluster['resource_id']}",
        )
    return upcoming


# --------------------------------------------------------------------- custom endpoints


@service.background
def sync_cluster_endpoints(work: Background, payload: dict[str, Any]) -> None:
    """A custom endpoint created, modified or deleted: the listeners of this
    process follow the store, then the endpoint is `available` (or gone)."""
    sup = _sup(work)
    with work.transaction() as run:
        wanted = cluster_endpoints.wanted(run.conn)
    listening = sup.endpoints.sync(wanted)
    with work.transaction(write=True) as run:
        for ep in cluster_endpoints.of_cluster(run.conn, payload["cluster"]):
            if ep["status"] == "deleting":
                cluster_endpoints.delete_endpoint(run.conn, ep["resource_id"])
            elif ep["status"] in ("creating", "modifying") and ep["resource_id"] in listening:
                cluster_endpoints.update_endpoint(run.conn, ep["resource_id"], status="available")
