"""DB cluster snapshots: records and DBClusterSnapshot as the wire has it.

A cluster snapshot's file is the writer's physical copy
(`PostgresEngine.snapshot_to`, as a DB snapshot's is), sealed under a data
key of its own under the cluster's KMS key when the cluster is encrypted.
A cluster restored from one gets a *seed*: the file copied under a data key
of the new cluster (under KmsKeyId, or the snapshot's key), from which its
first instance, the writer, is restored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.arn import arn as make_arn
from strongroom.services.rds.cluster_tables import cluster_snapshots
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors

SNAPSHOT_TYPE = "AWS::RDS::DBClusterSnapshot"


def snapshot_arn(account: str, region: str, identifier: str) -> str:
    return make_arn("rds", region, account, f"cluster-snapshot:{identifier}")


def seed_name(cluster_rid: str) -> str:
    """The file (in the snapshot directory) a restored cluster's writer starts from."""
    return f"seed-{cluster_rid}"


def _one(conn: Connection, stmt: Any) -> Record | None:
    row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


def find(conn: Connection, account: str, region: str, identifier: str) -> Record | None:
    return _one(
        conn,
        select(cluster_snapshots).where(
            cluster_snapshots.c.account == account,
            cluster_snapshots.c.region == region,
            cluster_snapshots.c.identifier == identifier.lower(),
        ),
    )


def resolve(conn: Connection, account: str, region: str, identifier: str) -> Record:
    ident = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        ok = len(parts) == 7 and parts[5] == "cluster-snapshot"
        ident = parts[6] if ok and parts[4] == account and parts[3] == region else ""
    found = find(conn, account, region, ident) if ident else None
    if found is None:
        raise errors.DBClusterSnapshotNotFoundFault(f"DBClusterSnapshot {identifier} not found.")
    return found


def by_resource(conn: Connection, resource_id: str) -> Record | None:
    return _one(
        conn, select(cluster_snapshots).where(cluster_snapshots.c.resource_id == resource_id)
    )


def list_all(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(cluster_snapshots)
        .where(cluster_snapshots.c.account == account, cluster_snapshots.c.region == region)
        .order_by(cluster_snapshots.c.created, cluster_snapshots.c.identifier)
    )
    return [dict(r._mapping) for r in rows]


def insert(conn: Connection, record: Record) -> None:
    conn.execute(cluster_snapshots.insert().values(**record))


def update_snapshot(conn: Connection, resource_id: str, **values: Any) -> None:
    conn.execute(
        update(cluster_snapshots)
        .where(cluster_snapshots.c.resource_id == resource_id)
        .values(**values)
    )


def delete_snapshot(conn: Connection, resource_id: str) -> None:
    conn.execute(delete(cluster_snapshots).where(cluster_snapshots.c.resource_id == resource_id))


def to_wire(rec: Record) -> dict[str, Any]:
    from strongroom.services.rds.model import dt

    region = rec["region"]
    out: dict[str, Any] = {
        "AvailabilityZones": [f"{region}a", f"{region}b", f"{region}c"],
        "DBClusterSnapshotIdentifier": rec["identifier"],
        "DBClusterIdentifier": rec["cluster_identifier"],
        "SnapshotCreateTime": dt(rec["created"]),
        "Engine": rec["engine"],
        "EngineMode": "provisioned",
        "AllocatedStorage": 0,
        "Status": rec["status"],
        "Port": rec["port"] or 0,
        "VpcId": "vpc-strongroom",
        "ClusterCreateTime": dt(rec["cluster_created"]),
        "MasterUsername": rec["master_username"],
        "EngineVersion": rec["engine_version"],
        "LicenseModel": "postgresql-license",
        "SnapshotType": rec["snapshot_type"],
        "PercentProgress": rec["percent"],
        "StorageEncrypted": bool(rec["encrypted"]),
        "DBClusterSnapshotArn": rec["arn"],
        "IAMDatabaseAuthenticationEnabled": False,
        "TagList": [{"Key": k, "Value": v} for k, v in rec["tags"]],
        "StorageType": "aurora",
        "DbClusterResourceId": rec["cluster_resource_id"],
    }
    if rec["encrypted"]:
        out["KmsKeyId"] = rec["kms_key_arn"]
    if rec.get("source_arn"):
        out["SourceDBClusterSnapshotArn"] = rec["source_arn"]
    return out


def resolve_source(conn: Connection, account: str, region: str, identifier: str) -> Record:
    """A copy's source: an identifier (this Region) or an ARN (any Region of
    the caller's account: a cross-Region copy)."""
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) == 7 and parts[5] == "cluster-snapshot" and parts[4] == account:
            found = find(conn, account, parts[3], parts[6])
            if found is not None:
                return found
        raise errors.DBClusterSnapshotNotFoundFault(f"DBClusterSnapshot {identifier} not found.")
    return resolve(conn, account, region, identifier)
