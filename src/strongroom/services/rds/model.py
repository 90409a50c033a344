"""What RDS says about its resources: identifiers, ARNs, the engines it
accepts, and DBInstance / DBSnapshot / Event as the wire has them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.arn import unique_id
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors

INSTANCE_TYPE = "AWS::RDS::DBInstance"
SNAPSHOT_TYPE = "AWS::RDS::DBSnapshot"
HOSTED_ZONE = "Z2R2ITUGPM61AM"
AUTO_START_S = 7 * 86400.0

_IDENT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")
_INVALID_ID = (
    "The parameter {name} is not a valid identifier. Identifiers must begin with a letter; "
    "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
    "or contain two consecutive hyphens."
)

#: Statuses in which an instance's engine runs (or should: it is started
#: again after a restart of strongroom, or when it died).
RUNNING = frozenset({"available", "backing-up", "modifying", "rebooting", "storage-optimization"})


def dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def require_identifier(name: str, value: str, maximum: int = 63) -> str:
    if not value or len(value) > maximum or not _IDENT.match(value) or value.endswith("-"):
        raise errors.InvalidParameterValue(_INVALID_ID.format(name=name))
    return value.lower()


def instance_arn(account: str, region: str, identifier: str) -> str:
    return make_arn("rds", region, account, f"db:{identifier}")


def snapshot_arn(account: str, region: str, identifier: str) -> str:
    return make_arn("rds", region, account, f"snapshot:{identifier}")


def new_resource_id(prefix: str = "db-") -> str:
    return prefix + unique_id("", 26).upper()


# --------------------------------------------------------------------- engines


@dataclass(frozen=True)
class EngineInfo:
    name: str
    description: str
    port: int
    license: str
    #: (version, parameter group family); empty for postgres (from the machine)
    versions: tuple[tuple[str, str], ...] = ()
    real: bool = False


_ORACLE = (
    ("19.0.0.0.ru-2024-10.rur-2024-10.r1", "19"),
    ("21.0.0.0.ru-2024-10.rur-2024-10.r1", "21"),
)
_SQLSERVER = (("15.00.4415.2.v1", "15.0"), ("16.00.4165.4.v1", "16.0"))

ENGINES: dict[str, EngineInfo] = {
    "postgres": EngineInfo("postgres", "PostgreSQL", 5432, "postgresql-license", real=True),
    # Instances of an Aurora PostgreSQL DB cluster only (see `clusters`).
    "aurora-postgresql": EngineInfo(
        "aurora-postgresql", "Aurora (PostgreSQL)", 5432, "postgresql-license", real=True
    ),
    "mysql": EngineInfo(
        "mysql",
        "MySQL Community Edition",
        3306,
        "general-public-license",
        (("8.0.40", "mysql8.0"), ("8.4.3", "mysql8.4")),
    ),
    "mariadb": EngineInfo(
        "mariadb",
        "MariaDb Community Edition",
        3306,
        "general-public-license",
        (("10.11.10", "mariadb10.11"), ("11.4.4", "mariadb11.4")),
    ),
}
for _name, _desc, _lic in (
    ("oracle-ee", "Oracle Database Enterprise Edition", "bring-your-own-license"),
    ("oracle-ee-cdb", "Oracle Database Enterprise Edition (CDB)", "bring-your-own-license"),
    ("oracle-se2", "Oracle Database Standard Edition Two", "license-included"),
    ("oracle-se2-cdb", "Oracle Database Standard Edition Two (CDB)", "license-included"),
):
    ENGINES[_name] = EngineInfo(
        _name, _desc, 1521, _lic, tuple((v, f"{_name}-{m}") for v, m in _ORACLE)
    )
for _name, _desc in (
    ("sqlserver-ee", "Microsoft SQL Server Enterprise Edition"),
    ("sqlserver-se", "Microsoft SQL Server Standard Edition"),
    ("sqlserver-ex", "Microsoft SQL Server Express Edition"),
    ("sqlserver-web", "Microsoft SQL Server Web Edition"),
):
    ENGINES[_name] = EngineInfo(
        _name, _desc, 1433, "license-included", tuple((v, f"{_name}-{m}") for v, m in _SQLSERVER)
    )


def engine_info(engine: str) -> EngineInfo:
    info = ENGINES.get(engine)
    if info is None:
        raise errors.InvalidParameterValue("Invalid DB engine")
    return info


def control_plane_version(info: EngineInfo, requested: str | None) -> tuple[str, str]:
    """(version, family) of a control-plane-only engine for `requested`."""
    if not requested:
        return info.versions[-1]
    for version, family in reversed(info.versions):
        if version == requested or version.startswith(requested + "."):
            return version, family
    raise errors.InvalidParameterCombination(f"Cannot find version {requested} for {info.name}")


def option_group_major(engine: str, version: str) -> str:
    """The MajorEngineVersion of an engine version for option groups: 15
    (postgres), 8.0 (mysql), 10.11 (mariadb), 19 (oracle), 15.00 (sqlserver)."""
    parts = version.split(".")
    if engine in ("postgres", "aurora-postgresql") or engine.startswith("oracle"):
        return parts[0]
    return ".".join(parts[:2])


def default_option_group(engine: str, version: str) -> str:
    return f"default:{engine}-{option_group_major(engine, version).replace('.', '-')}"


def family_of(engine: str, version: str) -> str:
    info = ENGINES.get(engine)
    if info is not None and not info.real:
        for v, family in info.versions:
            if v == version:
                return family
    return f"{engine}{version.split('.')[0]}"


# --------------------------------------------------------------------- wire


def tags_wire(tags: list[Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def peer_name(rec: Record, arn: str) -> str:
    """Another instance (a replica's source, a source's replica) as `rec`'s
    description names it: its identifier in the same account and Region,
    else its ARN (a cross-Region replica)."""
    parts = arn.split(":")
    if len(parts) == 7 and parts[4] == rec["account"] and parts[3] == rec["region"]:
        return parts[6]
    return arn


def instance_wire(rec: Record) -> dict[str, Any]:
    attrs = rec["attrs"] or {}
    family = family_of(rec["engine"], rec["engine_version"])
    out: dict[str, Any] = {
        "DBInstanceIdentifier": rec["identifier"],
        "DBInstanceClass": rec["instance_class"],
        "Engine": rec["engine"],
        "DBInstanceStatus": rec["status"],
        "AllocatedStorage": rec["allocated_storage"],
        "InstanceCreateTime": dt(rec["created"]),
        "PreferredBackupWindow": attrs.get("PreferredBackupWindow", "03:00-03:30"),
        "BackupRetentionPeriod": rec["backup_retention"],
        "DBSecurityGroups": [],
        "VpcSecurityGroups": [],
        "DBParameterGroups": [
            {
                "DBParameterGroupName": attrs.get("DBParameterGroupName", f"default.{family}"),
                "ParameterApplyStatus": attrs.get("ParameterApplyStatus", "in-sync"),
            }
        ],
        "AvailabilityZone": attrs.get("AvailabilityZone", f"{rec['region']}a"),
        "PreferredMaintenanceWindow": attrs.get(
            "PreferredMaintenanceWindow", "sun:05:00-sun:05:30"
        ),
        "PendingModifiedValues": dict(rec["pending"] or {}),
        "MultiAZ": bool(attrs.get("MultiAZ", False)),
        "EngineVersion": rec["engine_version"],
        "AutoMinorVersionUpgrade": bool(attrs.get("AutoMinorVersionUpgrade", True)),
        "ReadReplicaDBInstanceIdentifiers": [
            peer_name(rec, a) for a in attrs.get("ReadReplicas") or []
        ],
        "ReadReplicaDBClusterIdentifiers": [],
        "LicenseModel": attrs.get("LicenseModel") or ENGINES[rec["engine"]].license,
        "OptionGroupMemberships": [
            {
                "OptionGroupName": attrs.get("OptionGroupName")
                or default_option_group(rec["engine"], rec["engine_version"]),
                "Status": attrs.get("OptionGroupStatus", "in-sync"),
            }
        ],
        "PubliclyAccessible": bool(attrs.get("PubliclyAccessible", False)),
        "StorageType": rec["storage_type"],
        "DbInstancePort": 0,
        "StorageEncrypted": bool(rec["encrypted"]),
        "DbiResourceId": rec["resource_id"],
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "DomainMemberships": [],
        "CopyTagsToSnapshot": bool(attrs.get("CopyTagsToSnapshot", False)),
        "MonitoringInterval": 0,
        "DBInstanceArn": rec["arn"],
        "IAMDatabaseAuthenticationEnabled": False,
        "PerformanceInsightsEnabled": False,
        "DeletionProtection": bool(rec["deletion_protection"]),
        "AssociatedRoles": [],
        "TagList": tags_wire(rec["tags"]),
        "CustomerOwnedIpEnabled": False,
        "BackupTarget": "region",
        "NetworkType": "IPV4",
        "StorageThroughput": 0,
        "DedicatedLogVolume": False,
        "MultiTenant": False,
    }
    if rec["master_username"]:
        out["MasterUsername"] = rec["master_username"]
    if rec["db_name"]:
        out["DBName"] = rec["db_name"]
    if attrs.get("DBClusterIdentifier"):
        out["DBClusterIdentifier"] = attrs["DBClusterIdentifier"]
        out["PromotionTier"] = int(attrs.get("PromotionTier", 1))
    if attrs.get("ReplicaSource"):
        out["ReadReplicaSourceDBInstanceIdentifier"] = peer_name(rec, attrs["ReplicaSource"])
    if rec["port"] and rec["status"] not in ("creating",):
        out["Endpoint"] = {"Address": "127.0.0.1", "Port": rec["port"], "HostedZoneId": HOSTED_ZONE}
    if rec["encrypted"]:
        out["KmsKeyId"] = rec["kms_key_arn"]
    if attrs.get("MasterUserSecret"):
        out["MasterUserSecret"] = dict(attrs["MasterUserSecret"])
    if attrs.get("EnabledCloudwatchLogsExports"):
        out["EnabledCloudwatchLogsExports"] = list(attrs["EnabledCloudwatchLogsExports"])
    if rec["status"] == "stopped" and rec["auto_start_at"] is not None:
        out["AutomaticRestartTime"] = dt(rec["auto_start_at"])
    if rec["backup_retention"] and attrs.get("LatestRestorableTime"):
        # Kept by the automated backups' heartbeats (work_backups).
        out["LatestRestorableTime"] = dt(attrs["LatestRestorableTime"])
    return out


def snapshot_wire(rec: Record) -> dict[str, Any]:
    attrs = rec["attrs"] or {}
    out: dict[str, Any] = {
        "DBSnapshotIdentifier": rec["identifier"],
        "DBInstanceIdentifier": rec["instance_identifier"],
        "SnapshotCreateTime": dt(rec["created"]),
        "Engine": rec["engine"],
        "AllocatedStorage": rec["allocated_storage"],
        "Status": rec["status"],
        "Port": rec["port"] or 0,
        "AvailabilityZone": attrs.get("AvailabilityZone", f"{rec['region']}a"),
        "VpcId": "vpc-strongroom",
        "InstanceCreateTime": dt(rec["instance_created"]),
        "EngineVersion": rec["engine_version"],
        "LicenseModel": attrs.get("LicenseModel") or ENGINES[rec["engine"]].license,
        "SnapshotType": rec["snapshot_type"],
        "OptionGroupName": attrs.get("OptionGroupName")
        or default_option_group(rec["engine"], rec["engine_version"]),
        "PercentProgress": rec["percent"],
        "StorageType": attrs.get("StorageType", "gp2"),
        "Encrypted": bool(rec["encrypted"]),
        "DBSnapshotArn": rec["arn"],
        "IAMDatabaseAuthenticationEnabled": False,
        "ProcessorFeatures": [],
        "DbiResourceId": rec["dbi_resource_id"] or "",
        "TagList": tags_wire(rec["tags"]),
        "SnapshotTarget": "region",
        "OriginalSnapshotCreateTime": dt(attrs.get("OriginalSnapshotCreateTime") or rec["created"]),
        "DedicatedLogVolume": False,
        "MultiTenant": False,
    }
    if rec["master_username"]:
        out["MasterUsername"] = rec["master_username"]
    if rec["encrypted"]:
        out["KmsKeyId"] = rec["kms_key_arn"]
    if rec["source_snapshot"]:
        out["SourceDBSnapshotIdentifier"] = rec["source_snapshot"]
        out["SourceRegion"] = rec["source_region"] or rec["region"]
    if rec["status"] == "available":
        out["SnapshotDatabaseTime"] = dt(rec["created"])
    return out


def event_wire(rec: Record) -> dict[str, Any]:
    return {
        "SourceIdentifier": rec["source_id"],
        "SourceType": rec["source_type"],
        "Message": rec["message"],
        "EventCategories": list(rec["categories"] or []),
        "Date": dt(rec["date"]),
        "SourceArn": rec["source_arn"],
    }
