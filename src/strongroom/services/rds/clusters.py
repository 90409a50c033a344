"""Aurora PostgreSQL DB clusters: their records, RDS's rules for them and
DBCluster as the wire has it.

A cluster has no compute of its own (as on AWS): its first instance is the
writer, a real PostgreSQL server holding the cluster's data; later ones are
readers, real streaming replicas of the writer. Every address is 127.0.0.1;
what tells the endpoints apart is the port:

- the cluster endpoint (``Endpoint``, ``Port``) is the writer's port, and
  moves to the new writer on a failover;
- the reader endpoint (``ReaderEndpoint``) maps to one reader: the first
  available reader in DBClusterMembers' order (the writer while there is
  none, as AWS's reader endpoint does); its port is that reader's
  ``Endpoint.Port`` in DescribeDBInstances.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.arn import arn as make_arn
from strongroom.services.rds import records
from strongroom.services.rds.cluster_tables import clusters
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors

CLUSTER_TYPE = "AWS::RDS::DBCluster"
ENGINES = frozenset({"aurora-postgresql"})
#: Engines AWS serves in clusters that this server does not run.
OTHER_CLUSTER_ENGINES = frozenset({"aurora-mysql", "aurora", "mysql", "postgres"})
#: Instance statuses in which a member's engine serves.
SERVING = frozenset({"available", "backing-up", "modifying"})


def cluster_arn(account: str, region: str, identifier: str) -> str:
    return make_arn("rds", region, account, f"cluster:{identifier}")


def default_parameter_group(version: str) -> str:
    return f"default.aurora-postgresql{version.split('.')[0]}"


# --------------------------------------------------------------------- records


def _one(conn: Connection, stmt: Any) -> Record | None:
    row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


def find(conn: Connection, account: str, region: str, identifier: str) -> Record | None:
    return _one(
        conn,
        select(clusters).where(
            clusters.c.account == account,
            clusters.c.region == region,
            clusters.c.identifier == identifier.lower(),
        ),
    )


def resolve(conn: Connection, account: str, region: str, identifier: str) -> Record:
    """A cluster by identifier or by ARN (this account and Region only)."""
    ident = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) == 7 and parts[5] == "cluster" and parts[4] == account and parts[3] == region:
            ident = parts[6]
        else:
            ident = ""
    found = find(conn, account, region, ident) if ident else None
    if found is None:
        raise errors.DBClusterNotFoundFault(f"DBCluster {identifier} not found.")
    return found


def by_resource(conn: Connection, resource_id: str) -> Record | None:
    return _one(conn, select(clusters).where(clusters.c.resource_id == resource_id))


def list_all(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(clusters)
        .where(clusters.c.account == account, clusters.c.region == region)
        .order_by(clusters.c.identifier)
    )
    return [dict(r._mapping) for r in rows]


def stopped(conn: Connection) -> list[Record]:
    """Every stopped cluster (of every account: RDS's own automatic start)."""
    rows = conn.execute(select(clusters).where(clusters.c.status == "stopped"))
    return [dict(r._mapping) for r in rows]


def insert(conn: Connection, record: Record) -> None:
    conn.execute(clusters.insert().values(**record))


def update_cluster(conn: Connection, resource_id: str, **values: Any) -> None:
    conn.execute(update(clusters).where(clusters.c.resource_id == resource_id).values(**values))


def delete_cluster(conn: Connection, resource_id: str) -> None:
    conn.execute(delete(clusters).where(clusters.c.resource_id == resource_id))


def cluster_of(conn: Connection, instance: Record) -> Record | None:
    """The cluster an instance belongs to, or None (a standalone instance)."""
    attrs = instance["attrs"] or {}
    cluster_rid = attrs.get("DbClusterResourceId")
    return by_resource(conn, cluster_rid) if cluster_rid else None


def members(conn: Connection, cluster: Record) -> list[Record]:
    """The cluster's instances, in creation order."""
    out = []
    for rid in cluster["members"] or []:
        rec = records.instance_by_resource(conn, rid)
        if rec is not None:
            out.append(rec)
    return out


def add_member(conn: Connection, cluster: Record, rid: str, *, writer: bool) -> None:
    changes: dict[str, Any] = {"members": [*(cluster["members"] or []), rid]}
    if writer:
        changes["writer"] = rid
    update_cluster(conn, cluster["resource_id"], **changes)
    cluster.update(changes)


def remove_member(conn: Connection, cluster: Record, rid: str) -> None:
    changes: dict[str, Any] = {"members": [m for m in cluster["members"] or [] if m != rid]}
    if cluster["writer"] == rid:
        changes["writer"] = None
    update_cluster(conn, cluster["resource_id"], **changes)
    cluster.update(changes)


def add_event(run: Any, cluster: Record, message: str, categories: list[str]) -> None:
    records.add_event(
        run.conn,
        cluster["account"],
        cluster["region"],
        cluster["identifier"],
        "db-cluster",
        cluster["arn"],
        message,
        categories,
        run.clock.timestamp(),
    )


# --------------------------------------------------------------------- wire


def _dt(ts: float | None) -> Any:
    from strongroom.services.rds.model import dt

    return dt(ts)


def reader_of(cluster: Record, member_recs: list[Record]) -> Record | None:
    """The instance the reader endpoint maps to (see the module)."""
    for rec in member_recs:
        if rec["resource_id"] != cluster["writer"] and rec["status"] in SERVING and rec["port"]:
            return rec
    for rec in member_recs:
        if rec["resource_id"] == cluster["writer"]:
            return rec
    return None


def writer_port(cluster: Record, member_recs: list[Record]) -> int:
    for rec in member_recs:
        if rec["resource_id"] == cluster["writer"] and rec["port"]:
            return int(rec["port"])
    return int(cluster["port"] or 5432)


def to_wire(cluster: Record, member_recs: list[Record]) -> dict[str, Any]:
    attrs = cluster["attrs"] or {}
    region = cluster["region"]
    out: dict[str, Any] = {
        "AllocatedStorage": 1,
        "AvailabilityZones": [f"{region}a", f"{region}b", f"{region}c"],
        "BackupRetentionPeriod": cluster["backup_retention"],
        "DBClusterIdentifier": cluster["identifier"],
        "DBClusterParameterGroup": attrs.get(
            "DBClusterParameterGroupName", default_parameter_group(cluster["engine_version"])
        ),
        "DBSubnetGroup": "default",
        "Status": cluster["status"],
        "EarliestRestorableTime": _dt(cluster["created"]),
        "Endpoint": "127.0.0.1",
        "ReaderEndpoint": "127.0.0.1",
        "MultiAZ": len(member_recs) > 1,
        "Engine": cluster["engine"],
        "EngineVersion": cluster["engine_version"],
        "LatestRestorableTime": _dt(cluster["created"]),
        "Port": writer_port(cluster, member_recs),
        "MasterUsername": cluster["master_username"],
        "PreferredBackupWindow": attrs.get("PreferredBackupWindow", "03:00-03:30"),
        "PreferredMaintenanceWindow": attrs.get(
            "PreferredMaintenanceWindow", "sun:05:00-sun:05:30"
        ),
        "ReadReplicaIdentifiers": [],
        "DBClusterMembers": [
            {
                "DBInstanceIdentifier": rec["identifier"],
                "IsClusterWriter": rec["resource_id"] == cluster["writer"],
                "DBClusterParameterGroupStatus": (rec["attrs"] or {}).get(
                    "ParameterApplyStatus", "in-sync"
                ),
                "PromotionTier": int((rec["attrs"] or {}).get("PromotionTier", 1)),
            }
            for rec in member_recs
        ],
        "VpcSecurityGroups": [],
        "HostedZoneId": "Z2R2ITUGPM61AM",
        "StorageEncrypted": bool(cluster["encrypted"]),
        "DbClusterResourceId": cluster["resource_id"],
        "DBClusterArn": cluster["arn"],
        "AssociatedRoles": [],
        "IAMDatabaseAuthenticationEnabled": False,
        "ClusterCreateTime": _dt(cluster["created"]),
        "EngineMode": "provisioned",
        "DeletionProtection": bool(cluster["deletion_protection"]),
        "HttpEndpointEnabled": False,
        "CopyTagsToSnapshot": bool(attrs.get("CopyTagsToSnapshot", False)),
        "CrossAccountClone": False,
        "DomainMemberships": [],
        "TagList": [{"Key": k, "Value": v} for k, v in cluster["tags"]],
        "StorageType": "aurora",
        "AutoMinorVersionUpgrade": bool(attrs.get("AutoMinorVersionUpgrade", True)),
        "NetworkType": "IPV4",
        "EngineLifecycleSupport": "open-source-rds-extended-support",
    }
    if cluster["db_name"]:
        out["DatabaseName"] = cluster["db_name"]
    if cluster["encrypted"]:
        out["KmsKeyId"] = cluster["kms_key_arn"]
    if attrs.get("MasterUserSecret"):
        out["MasterUserSecret"] = dict(attrs["MasterUserSecret"])
    if attrs.get("PendingMasterUserPassword"):
        out["PendingModifiedValues"] = {"MasterUserPassword": "****"}
    if attrs.get("EnabledCloudwatchLogsExports"):
        out["EnabledCloudwatchLogsExports"] = list(attrs["EnabledCloudwatchLogsExports"])
    if cluster["status"] == "stopped" and attrs.get("AutoStartAt") is not None:
        out["AutomaticRestartTime"] = _dt(attrs["AutoStartAt"])
    return out


# --------------------------------------------------------------------- instance operations


def _member(rec: Record) -> str | None:
    return (rec["attrs"] or {}).get("DBClusterIdentifier")


def refuse_instance_snapshot(rec: Record) -> None:
    """CreateDBSnapshot of a cluster's instance (AWS's error)."""
    if _member(rec):
        raise errors.InvalidParameterValue(
            "The specified instance is a member of a cluster and a snapshot cannot be created "
            "directly. Please use the CreateDBClusterSnapshot API instead."
        )


def refuse_instance_stop(rec: Record, verb: str = "stop") -> None:
    """A cluster's instance is not stopped or started on its own: the cluster is."""
    if _member(rec):
        raise errors.InvalidParameterCombination(
            f"DB instance {rec['identifier']} is a member of DB cluster {_member(rec)}: {verb} "
            "the DB cluster instead."
        )


def refuse_instance_settings(rec: Record, given: dict[str, Any]) -> None:
    """ModifyDBInstance of settings that belong to the cluster."""
    if not _member(rec):
        return
    for name, words in (
        ("MasterUserPassword", "master user password"),
        ("ManageMasterUserPassword", "managed master user password"),
        ("AllocatedStorage", "allocated storage"),
        ("BackupRetentionPeriod", "backup retention period"),
    ):
        if given.get(name) is not None:
            raise errors.InvalidParameterCombination(
                f"The requested DB Instance is a member of a DB Cluster. Set {words} for the "
                "DB Cluster."
            )
