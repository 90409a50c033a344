"""RDS's CloudWatch metrics: once a minute, by the server's clock, every
running instance publishes what its real engine measures into the
``AWS/RDS`` namespace of its account and Region, through CloudWatch's
internal API, as RDS publishes its instance metrics.

What is published (nothing else: a figure this server does not measure is
left out rather than made up; docs/rds.md lists them):

==============================  ==========  =====================================
metric                          unit        from
==============================  ==========  =====================================
``DatabaseConnections``         Count       client sessions in pg_stat_activity
``FreeStorageSpace``            Bytes       AllocatedStorage minus the bytes the
                                            data directory takes (not Aurora)
``TransactionLogsDiskUsage``    Bytes       the bytes of ``pg_wal``
``MaximumUsedTransactionIDs``   Count       ``max(age(datfrozenxid))``
``OldestReplicationSlotLag``    Bytes       the most lagging slot's retained WAL
                                            (a source with replicas; not Aurora)
``ReplicaLag``                  Seconds     a read replica's replay lag
                                            (`replication.status`)
``AuroraReplicaLag``            Milliseconds  an Aurora reader's, the same measure
==============================  ==========  =====================================

Dimensions: ``DBInstanceIdentifier``; an Aurora cluster's instances publish
each figure under ``DBClusterIdentifier`` + ``Role`` (``WRITER`` /
``READER``) as well, as Aurora does. A stopped (or otherwise not running)
instance publishes nothing, as on AWS.

The job (`rds_metrics`) only sees that a minute is due; the measuring
(a query per instance, a walk of its data directory) happens in background
work (`publish_instance_metrics`), never on the event loop nor inside a
transaction. Each instance's last published minute (`tables.metric_marks`)
is written with its datums: a minute is published once, whatever retries.
Instances are measured by the process that runs their engines.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.engines.driver import EngineError, ReplicationStatus, Usage
from strongroom.framework import Background, JobRun
from strongroom.services.cloudwatch import api as cloudwatch_api
from strongroom.services.rds import clusters, model, records
from strongroom.services.rds.service import ENGINES, service
from strongroom.services.rds.supervisor import Supervisor
from strongroom.services.rds.tables import metric_marks

log = logging.getLogger("strongroom.services.rds")

NAMESPACE = "AWS/RDS"
PERIOD_S = 60.0
GIB = 1024**3


def _minute(ts: float) -> float:
    return ts // PERIOD_S * PERIOD_S


def _marks(conn: Connection) -> dict[str, float]:
    return {
        rid: m for rid, m in conn.execute(select(metric_marks.c.resource_id, metric_marks.c.minute))
    }


def _publishes(sup: Supervisor | None, rec: records.Record) -> bool:
    """Whether the instance's engine runs, here: only then is it measured."""
    if rec["status"] not in model.RUNNING:
        return False
    info = model.ENGINES.get(rec["engine"])
    if info is None or not info.real or sup is None:
        return False
    return sup.attached(rec["resource_id"])


@service.job
def rds_metrics(run: JobRun) -> float | None:
    """Hand off the publishing of a minute's metrics when some running
    instance has not published this minute's yet."""
    now = run.clock.timestamp()
    minute = _minute(now)
    recs = [
        r
        for r in records.all_instances(run.conn)
        if r["status"] in model.RUNNING and (info := model.ENGINES.get(r["engine"])) and info.real
    ]
    if not recs:
        return None
    sup: Supervisor = run.resource(ENGINES)
    marks = _marks(run.conn)
    running = [r for r in recs if _publishes(sup, r)]
    if any(marks.get(r["resource_id"], -1.0) < minute for r in running):
        run.hand_off("publish_instance_metrics", {}, key="metrics")
    return minute + PERIOD_S


def _role(conn: Connection, rec: records.Record, cache: dict[Any, Any]) -> tuple[str, str] | None:
    """(DBClusterIdentifier, WRITER|READER) of an Aurora cluster's instance."""
    cluster_id = (rec["attrs"] or {}).get("DBClusterIdentifier")
    if not cluster_id:
        return None
    key = (rec["account"], rec["region"], cluster_id.lower())
    if key not in cache:
        cache[key] = clusters.find(conn, *key)
    cluster = cache[key]
    if cluster is None:
        return None
    return cluster["identifier"], "WRITER" if cluster["writer"] == rec["resource_id"] else "READER"


def datums(
    rec: records.Record,
    use: Usage,
    replication: ReplicationStatus | None,
    role: tuple[str, str] | None,
    when: datetime,
) -> list[dict[str, Any]]:
    """The MetricDatums of one instance's measurement."""
    values: list[tuple[str, float, str]] = [
        ("DatabaseConnections", float(use.connections), "Count"),
        ("TransactionLogsDiskUsage", float(use.wal_bytes), "Bytes"),
        ("MaximumUsedTransactionIDs", float(use.max_used_xids), "Count"),
    ]
    if role is None:  # Aurora's storage is the cluster volume's, and it has no slots
        allocated = int(rec["allocated_storage"] or 0) * GIB
        values.append(("FreeStorageSpace", float(max(0, allocated - use.storage_bytes)), "Bytes"))
        if use.oldest_slot_lag_bytes is not None:
            values.append(("OldestReplicationSlotLag", float(use.oldest_slot_lag_bytes), "Bytes"))
    if replication is not None and replication.lag_s is not None:
        if role is None:
            values.append(("ReplicaLag", float(replication.lag_s), "Seconds"))
        else:
            values.append(("AuroraReplicaLag", float(replication.lag_s) * 1000.0, "Milliseconds"))
    dimension_sets = [[{"Name": "DBInstanceIdentifier", "Value": rec["identifier"]}]]
    if role is not None:
        dimension_sets.append(
            [
                {"Name": "DBClusterIdentifier", "Value": role[0]},
                {"Name": "Role", "Value": role[1]},
            ]
        )
    return [
        {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit, "Timestamp": when}
        for dims in dimension_sets
        for name, value, unit in values
    ]


def _measure(sup: Supervisor, rec: records.Record) -> tuple[Usage, ReplicationStatus | None] | None:
    inst = sup.open(rec["resource_id"])
    if inst is None or not sup.running(rec["resource_id"]):
        return None
    try:
        use = sup.postgres.usage(inst)
    except (EngineError, OSError) as err:
        log.debug("RDS instance %s not measured: %s", rec["identifier"], err)
        return None
    replication = None
    if inst.role == "replica":
        try:
            replication = sup.postgres.replication_status(inst)
        except EngineError as err:
            log.debug("RDS replica %s: lag not measured: %s", rec["identifier"], err)
    return use, replication


@service.background
def publish_instance_metrics(work: Background, payload: dict[str, Any]) -> None:
    """Measure every running instance of this process that has not published
    this minute, then publish what was measured."""
    sup: Supervisor = work.runtime.resource(ENGINES)
    with work.transaction() as run:
        minute = _minute(run.clock.timestamp())
        marks = _marks(run.conn)
        cache: dict[Any, Any] = {}
        todo = [
            (rec, _role(run.conn, rec, cache))
            for rec in records.all_instances(run.conn)
            if _publishes(sup, rec) and marks.get(rec["resource_id"], -1.0) < minute
        ]
    # (an instance that could not be measured has its minute done all the
    # same: no datapoint for it, as on AWS, and no hand-off again at once)
    measured = [(rec, role, _measure(sup, rec)) for rec, role in todo]
    with work.transaction(write=True) as run:
        when = run.clock.now()
        minute = _minute(when.timestamp())
        marks = _marks(run.conn)
        live = {r["resource_id"]: r for r in records.all_instances(run.conn)}
        for rec, role, found in measured:
            rid = rec["resource_id"]
            now_rec = live.get(rid)
            if now_rec is None or marks.get(rid, -1.0) >= minute:
                continue  # deleted meanwhile, or published by another run of this work
            if found is not None and now_rec["status"] in model.RUNNING:
                stored = cloudwatch_api.put_metric_data(
                    run,
                    NAMESPACE,
                    datums(now_rec, *found, role, when.astimezone(UTC)),
                    account=rec["account"],
                    region=rec["region"],
                )
                if stored.refused:
                    log.warning("CloudWatch refused %d RDS datums of %s", stored.refused, rid)
            if rid in marks:
                run.conn.execute(
                    update(metric_marks)
                    .where(metric_marks.c.resource_id == rid)
                    .values(minute=minute)
                )
            else:
                run.conn.execute(insert(metric_marks).values(resource_id=rid, minute=minute))
        gone = sorted(set(marks) - set(live))
        if gone:
            run.conn.execute(delete(metric_marks).where(metric_marks.c.resource_id.in_(gone)))
