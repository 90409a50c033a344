"""Read replicas: RDS's rules for them, the links between a replica and its
source, and what DescribeDBInstances shows of them.

The links are kept in each record's ``attrs`` (no column of their own):

- a replica's ``ReplicaSource``: its source's ARN (another Region's for a
  cross-Region replica);
- a source's ``ReadReplicas``: its replicas' ARNs, in creation order.

Both are written in the transaction that creates, promotes or deletes the
replica, so DescribeDBInstances reads them from the record it already has.
What a replica's replication looks like now (streaming, its lag) is
measured by `replica_monitor` in memory and merged in by `to_wire`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from strongroom.framework import Call
from strongroom.services.rds import instances, model, records
from strongroom.services.rds.service import errors

#: Replicas one source may have (RDS's for MariaDB, MySQL and PostgreSQL).
MAX_REPLICAS = 15
#: Replicas in one chain of cascading replicas (RDS for PostgreSQL: three).
MAX_CHAIN = 3
#: A replica's StatusInfos entry names this type.
STATUS_TYPE = "read replication"
#: DescribeEvents' category for replication events.
CATEGORY = "read replica"


def source_arn(rec: records.Record) -> str | None:
    """The ARN of the instance `rec` replicates, or None: not a replica."""
    return (rec["attrs"] or {}).get("ReplicaSource")


def replica_arns(rec: records.Record) -> list[str]:
    return list((rec["attrs"] or {}).get("ReadReplicas") or [])


def _split(arn: str) -> tuple[str, str, str] | None:
    """(account, region, identifier) of a DB instance ARN, or None."""
    parts = arn.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "rds" or parts[5] != "db":
        return None
    return parts[4], parts[3], parts[6]


def find_by_arn(conn: Connection, arn: str) -> records.Record | None:
    found = _split(arn)
    return records.find_instance(conn, *found) if found else None


def resolve_source(call: Call, identifier: str) -> records.Record:
    """The source a replica is asked of: an identifier (this Region) or an
    ARN (this Region or another of the caller's account: a cross-Region
    replica). Another account's instance is not found, as on AWS."""
    if not identifier.startswith("arn:"):
        return records.resolve_instance(call.conn, call.account, call.region, identifier)
    found = _split(identifier)
    if found is None:
        raise errors.InvalidParameterValue(
            f"The parameter SourceDBInstanceIdentifier is not a valid identifier: {identifier}"
        )
    account, region, ident = found
    rec = (
        records.find_instance(call.conn, account, region, ident)
        if account == call.account
        else None
    )
    if rec is None:
        raise errors.DBInstanceNotFoundFault(f"DBInstance {identifier} not found.")
    return rec


def chain_length(conn: Connection, rec: records.Record) -> int:
    """How many replicas `rec` is down its chain (0: not a replica)."""
    depth, arn = 0, source_arn(rec)
    while arn is not None and depth <= MAX_CHAIN:
        depth += 1
        above = find_by_arn(conn, arn)
        arn = source_arn(above) if above is not None else None
    return depth


def require_can_replicate(call: Call, source: records.Record) -> None:
    """RDS's rules for a source of a new read replica."""
    if source["status"] != "available":
        raise errors.InvalidDBInstanceStateFault(
            f"DB Instance {source['identifier']} is not in the available state."
        )
    if source["engine"] not in ("postgres", "mysql", "mariadb") and not source["engine"].startswith(
        ("oracle", "sqlserver")
    ):
        raise errors.InvalidParameterCombination(
            f"Read replicas are not supported for engine {source['engine']}."
        )
    depth = chain_length(call.conn, source)
    # A PostgreSQL replica has no backups of its own and may still be a source
    # (cascading); any other source needs automated backups.
    if not (depth and source["engine"] == "postgres") and not source["backup_retention"]:
        raise errors.InvalidDBInstanceStateFault(
            "Automated backups are not enabled for this database instance. To enable "
            "automated backups, use ModifyDBInstance to set the backup retention period to "
            "a non-zero value."
        )
    if depth >= MAX_CHAIN:
        raise errors.InvalidDBInstanceStateFault(
            f"Cannot create a read replica of {source['identifier']}: a chain of cascading "
            f"read replicas holds at most {MAX_CHAIN} replicas."
        )
    if len(replica_arns(source)) >= MAX_REPLICAS:
        raise errors.InvalidDBInstanceStateFault(
            f"The DB instance {source['identifier']} already has the maximum number of read "
            f"replicas ({MAX_REPLICAS})."
        )


def require_stoppable(rec: records.Record) -> None:
    """RDS stops neither a read replica nor a DB instance that has one."""
    if source_arn(rec) is not None:
        raise errors.InvalidDBInstanceStateFault(
            f"Cannot stop DB instance {rec['identifier']}: it is a read replica."
        )
    if replica_arns(rec):
        raise errors.InvalidDBInstanceStateFault(
            f"Cannot stop DB instance {rec['identifier']}: it has read replicas."
        )


def require_modifiable(
    rec: records.Record, retention: int | None, password: str | None, managed_change: bool
) -> None:
    """ModifyDBInstance's rules for replicas and their sources."""
    if retention == 0 and replica_arns(rec):
        raise errors.InvalidParameterCombination(
            "The backup retention period can't be 0 for a DB instance that is a source to "
            "read replicas."
        )
    if source_arn(rec) is None:
        return
    if retention and rec["engine"] == "postgres":
        raise errors.InvalidParameterCombination(
            "DB Backups not supported on a read replica for engine postgres"
        )
    if password is not None or managed_change:
        # A replica is read-only: the source's master password (an ALTER ROLE
        # in its WAL) reaches the replica through replication.
        raise errors.InvalidParameterCombination(
            f"The master user password can't be changed on the read replica "
            f"{rec['identifier']}: change it on its source DB instance; replication brings "
            "it to the replica."
        )


def link(conn: Connection, source: records.Record, replica_arn: str) -> None:
    """`replica_arn` becomes one of `source`'s replicas."""
    attrs = dict(source["attrs"] or {})
    attrs["ReadReplicas"] = [*replica_arns(source), replica_arn]
    records.update_instance(conn, source["resource_id"], attrs=attrs)
    source["attrs"] = attrs


def unlink(conn: Connection, replica: records.Record) -> None:
    """`replica` is no longer one of its source's replicas (promoted, deleted)."""
    arn = source_arn(replica)
    source = find_by_arn(conn, arn) if arn else None
    if source is not None:
        attrs = dict(source["attrs"] or {})
        attrs["ReadReplicas"] = [a for a in replica_arns(source) if a != replica["arn"]]
        records.update_instance(conn, source["resource_id"], attrs=attrs)


def standalone(conn: Connection, replica: records.Record, **changes: Any) -> records.Record:
    """The replica's record once it stands alone (promoted)."""
    unlink(conn, replica)
    attrs = dict(replica["attrs"] or {})
    attrs.pop("ReplicaSource", None)
    attrs.pop("ReplicationState", None)
    records.update_instance(conn, replica["resource_id"], attrs=attrs, **changes)
    return {**replica, "attrs": attrs, **changes}


def to_wire(call: Call, rec: records.Record) -> dict[str, Any]:
    """DescribeDBInstances' DBInstance: a replica's with its StatusInfos."""
    out = model.instance_wire(rec)
    if source_arn(rec) is None:
        return out
    if rec["status"] in model.RUNNING and model.ENGINES[rec["engine"]].real:
        out["StatusInfos"] = [status_info(call, rec)]
    elif rec["status"] in model.RUNNING:
        # control-plane only: nothing streams, nothing is behind
        out["StatusInfos"] = [{"StatusType": STATUS_TYPE, "Normal": True, "Status": "replicating"}]
    return out


def status_info(call: Call, rec: records.Record) -> dict[str, Any]:
    """A replica's StatusInfos entry from its latest measurement. RDS's API
    has no member for ReplicaLag (a CloudWatch metric on AWS): the lag is in
    Message, as "Replica lag: 0.000 seconds"."""
    latest = instances.supervisor(call).replication.latest(rec["resource_id"])
    if latest is None:  # not measured yet (it has just started)
        return {"StatusType": STATUS_TYPE, "Normal": True, "Status": "replicating"}
    if not latest.streaming:
        return {
            "StatusType": STATUS_TYPE,
            "Normal": False,
            "Status": "error",
            "Message": "Replication has stopped.",
        }
    info = {"StatusType": STATUS_TYPE, "Normal": True, "Status": "replicating"}
    if latest.lag_s is not None:
        info["Message"] = f"Replica lag: {latest.lag_s:.3f} seconds"
    return info
