"""Automated backups: what RDS keeps of an instance with a backup retention
period (automated snapshots, the archived WAL and the restore window), the
statements over their tables, the rules of the backup window and of
retention, and the WAL archive's files.

An instance whose BackupRetentionPeriod is above 0 has one automated
backup (``rds_automated_backups``, keyed by its DbiResourceId):

- its **automated snapshots** are ordinary DB snapshots of type
  ``automated``, named ``rds:<instance>-YYYY-MM-DD-HH-MM``: the first right
  after the instance is created (or its retention turned on), then one a
  day in its PreferredBackupWindow by the server's clock (one that the
  clock jumped over is taken at once), each deleted once older than the
  retention period;
- its **WAL archive**, ``<data-dir>/blobs/rds/wal/<DbiResourceId>/<file>``:
  every WAL file the engine completes, compressed and sealed (under the
  instance's data key when it is encrypted), one row each in
  ``rds_wal_segments``; files older than the oldest automated snapshot go
  with it;
- its **restore window**: from the end of its oldest automated snapshot to
  the last heartbeat archived (`work_backups`), kept within 5 minutes of
  the clock while the instance runs, as on AWS.

Deleting the instance deletes its automated backup unless
DeleteAutomatedBackups is false: then it is ``retained`` until its
snapshots have all passed the retention period or
DeleteDBInstanceAutomatedBackup deletes it.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.arn import arn as make_arn
from strongroom.arn import unique_id
from strongroom.services.rds import crypt, model, records
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors
from strongroom.services.rds.tables import automated_backups, snapshots, wal_segments

#: How far LatestRestorableTime may trail the clock (AWS: "typically within
#: the last five minutes"): a heartbeat is archived this often.
HEARTBEAT_EVERY_S = 300.0
DEFAULT_WINDOW = "03:00-03:30"
DAY = 86400.0

AUTOMATED_BACKUP_TYPE = "AWS::RDS::DBInstanceAutomatedBackup"


def _one(conn: Connection, stmt: Any) -> Record | None:
    row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


# --------------------------------------------------------------------- records


def find(conn: Connection, dbi_resource_id: str) -> Record | None:
    return _one(
        conn,
        select(automated_backups).where(automated_backups.c.dbi_resource_id == dbi_resource_id),
    )


def list_for(conn: Connection, account: str, region: str) -> list[Record]:
    rows = conn.execute(
        select(automated_backups)
        .where(automated_backups.c.account == account, automated_backups.c.region == region)
        .order_by(automated_backups.c.instance_identifier, automated_backups.c.created)
    )
    return [dict(r._mapping) for r in rows]


def retained(conn: Connection) -> list[Record]:
    rows = conn.execute(select(automated_backups).where(automated_backups.c.status == "retained"))
    return [dict(r._mapping) for r in rows]


def resolve(call: Any, dbi_resource_id: str | None, arn: str | None) -> Record:
    """The caller's automated backup named by DbiResourceId or by its ARN."""
    found = None
    if dbi_resource_id:
        found = find(call.conn, dbi_resource_id)
    elif arn:
        rows = call.conn.execute(select(automated_backups).where(automated_backups.c.arn == arn))
        row = rows.first()
        found = dict(row._mapping) if row is not None else None
    if found is None or found["account"] != call.account or found["region"] != call.region:
        raise errors.DBInstanceAutomatedBackupNotFoundFault(
            f"Automated backup {dbi_resource_id or arn} not found."
        )
    return found


def update_backup(conn: Connection, dbi_resource_id: str, **values: Any) -> None:
    conn.execute(
        update(automated_backups)
        .where(automated_backups.c.dbi_resource_id == dbi_resource_id)
        .values(**values)
    )


def delete_backup(conn: Connection, dbi_resource_id: str) -> None:
    conn.execute(
        delete(automated_backups).where(automated_backups.c.dbi_resource_id == dbi_resource_id)
    )
    conn.execute(delete(wal_segments).where(wal_segments.c.dbi_resource_id == dbi_resource_id))


def ensure(conn: Connection, rec: Record, now: float) -> Record:
    """The instance's automated backup, created (``creating``) on first need."""
    found = find(conn, rec["resource_id"])
    if found is not None:
        return found
    attrs = rec["attrs"] or {}
    backup = {
        "dbi_resource_id": rec["resource_id"],
        "account": rec["account"],
        "region": rec["region"],
        "arn": make_arn(
            "rds", rec["region"], rec["account"], "auto-backup:ab-" + unique_id("", 26).lower()
        ),
        "instance_identifier": rec["identifier"],
        "instance_arn": rec["arn"],
        "status": "creating",
        "retention": rec["backup_retention"],
        "encrypted": bool(rec["encrypted"]),
        "kms_key_arn": rec["kms_key_arn"],
        "data_key": rec["data_key"],
        "earliest": None,
        "latest": None,
        "last_heartbeat": None,
        "pending_heartbeat": {},
        "created": now,
        "attrs": {
            "Engine": rec["engine"],
            "EngineVersion": rec["engine_version"],
            "MasterUsername": rec["master_username"],
            "Port": rec["port"],
            "AllocatedStorage": rec["allocated_storage"],
            "StorageType": rec["storage_type"],
            "InstanceCreateTime": rec["created"],
            "AvailabilityZone": attrs.get("AvailabilityZone", f"{rec['region']}a"),
            "PreferredBackupWindow": attrs.get("PreferredBackupWindow", DEFAULT_WINDOW),
            "LicenseModel": attrs.get("LicenseModel"),
        },
    }
    conn.execute(automated_backups.insert().values(**backup))
    return backup


def automated_snapshots(
    conn: Connection, dbi_resource_id: str, *, preupgrade: bool = True
) -> list[Record]:
    """An instance's automated snapshots, oldest first; `preupgrade` False:
    without the snapshot taken before a major version upgrade (`upgrades`),
    which is not one of the backup's own (no WAL of the new major follows it)."""
    rows = conn.execute(
        select(snapshots)
        .where(
            snapshots.c.dbi_resource_id == dbi_resource_id,
            snapshots.c.snapshot_type == "automated",
        )
        .order_by(snapshots.c.created)
    )
    found = [dict(r._mapping) for r in rows]
    if not preupgrade:
        found = [r for r in found if not (r["attrs"] or {}).get("PreUpgrade")]
    return found


def add_segment(
    conn: Connection, dbi_resource_id: str, name: str, archived: float, size: int
) -> None:
    conn.execute(
        delete(wal_segments).where(
            wal_segments.c.dbi_resource_id == dbi_resource_id, wal_segments.c.name == name
        )
    )
    conn.execute(
        wal_segments.insert().values(
            dbi_resource_id=dbi_resource_id, name=name, archived=archived, size=size
        )
    )


def mark_heartbeat(conn: Connection, dbi_resource_id: str, name: str, at: float) -> bool:
    """Note that segment `name` holds the heartbeat of `at`; False if it is
    not archived yet."""
    return bool(
        conn.execute(
            update(wal_segments)
            .where(wal_segments.c.dbi_resource_id == dbi_resource_id, wal_segments.c.name == name)
            .values(heartbeat=at)
        ).rowcount
    )


def segments(conn: Connection, dbi_resource_id: str) -> list[Record]:
    rows = conn.execute(
        select(wal_segments)
        .where(wal_segments.c.dbi_resource_id == dbi_resource_id)
        .order_by(wal_segments.c.name)
    )
    return [dict(r._mapping) for r in rows]


def drop_segments_before(conn: Connection, dbi_resource_id: str, name: str) -> list[str]:
    """Forget the WAL segments (not history files) named before `name`."""
    gone = [
        s["name"]
        for s in segments(conn, dbi_resource_id)
        if len(s["name"]) == 24 and s["name"] < name
    ]
    for segment in gone:
        conn.execute(
            delete(wal_segments).where(
                wal_segments.c.dbi_resource_id == dbi_resource_id, wal_segments.c.name == segment
            )
        )
    return gone


def forget(conn: Connection, rid: str, *, preupgrade: bool = True) -> dict[str, Any] | None:
    """Delete an instance's automated backup and its automated snapshots
    (retention set to 0, the instance deleted without keeping them,
    DeleteDBInstanceAutomatedBackup; `preupgrade` False: a major version
    upgrade, which keeps the snapshot it took before); the files to remove
    after the commit."""
    backup = find(conn, rid)
    snaps = automated_snapshots(conn, rid, preupgrade=preupgrade)
    if backup is None and not snaps:
        return None
    for snap in snaps:
        records.delete_snapshot(conn, snap["resource_id"])
    delete_backup(conn, rid)
    return {"snapshots": [s["resource_id"] for s in snaps], "dbi": rid, "all_wal": True}


# --------------------------------------------------------------------- rules


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def require_window(window: str | None) -> None:
    """PreferredBackupWindow: ``hh24:mi-hh24:mi`` (UTC), at least 30 minutes."""
    if window is None:
        return
    m = _WINDOW.match(window)
    if m:
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if (end - start) % 1440 >= 30:
            return
    raise errors.InvalidParameterValue(
        f"Invalid value {window} for PreferredBackupWindow: it must be in the format "
        "hh24:mi-hh24:mi (UTC) and at least 30 minutes long."
    )


def window_start(window: str, now: float) -> float:
    """The start of the latest backup window (``hh24:mi-hh24:mi``, UTC) at
    or before `now`."""
    try:
        hours, minutes = (int(p) for p in window.split("-")[0].split(":"))
    except ValueError:
        hours, minutes = 3, 0
    start = math.floor(now / DAY) * DAY + hours * 3600 + minutes * 60
    return start if start <= now else start - DAY


def snapshot_due(window: str, now: float, last_taken: float | None) -> bool:
    """Whether an automated snapshot is due: none yet, or none since the
    latest window began (a window the clock jumped over is caught up)."""
    return last_taken is None or last_taken < window_start(window, now)


def snapshot_identifier(instance_identifier: str, now: float) -> str:
    return (
        "rds:" + instance_identifier + datetime.fromtimestamp(now, UTC).strftime("-%Y-%m-%d-%H-%M")
    )


def restorable_point(at: float) -> float:
    """The latest restorable time a heartbeat taken just after `at` makes
    (milliseconds, as the wire carries them, strictly before its commit)."""
    return math.floor((at - 0.001) * 1000) / 1000


def earliest_point(backup_end: float) -> float:
    """The earliest restorable time an automated snapshot that ended at
    `backup_end` makes (milliseconds, strictly after its end)."""
    return math.ceil(backup_end * 1000) / 1000 + 0.001


def base_for(conn: Connection, dbi_resource_id: str, target: float) -> Record | None:
    """The newest available automated snapshot that ended before `target`."""
    found = None
    for snap in automated_snapshots(conn, dbi_resource_id):
        ended = (snap["attrs"] or {}).get("BackupEnd")
        if snap["status"] == "available" and snap["has_data"] and ended and ended < target:
            # (the window's EarliestTime is earliest_point(ended): after it)
            found = snap
    return found


def wal_for(conn: Connection, dbi_resource_id: str, start: str, target: float) -> list[str]:
    """The archived files a recovery from a base backup that began in
    segment `start` needs to reach `target`: every segment from `start`
    until the first holding a heartbeat after `target`, and every history
    file."""
    names: list[str] = []
    for seg in segments(conn, dbi_resource_id):
        name = seg["name"]
        if name.endswith(".history"):
            names.append(name)
            continue
        if len(name) != 24 or name < start:
            continue
        names.append(name)
        if seg["heartbeat"] is not None and seg["heartbeat"] > target:
            break
    return names


def to_wire(backup: Record) -> dict[str, Any]:
    attrs = backup["attrs"] or {}
    major = str(attrs.get("EngineVersion", "")).split(".")[0]
    out: dict[str, Any] = {
        "DBInstanceArn": backup["instance_arn"],
        "DbiResourceId": backup["dbi_resource_id"],
        "Region": backup["region"],
        "DBInstanceIdentifier": backup["instance_identifier"],
        "RestoreWindow": {},
        "AllocatedStorage": attrs.get("AllocatedStorage") or 0,
        "Status": backup["status"],
        "Port": attrs.get("Port") or 0,
        "AvailabilityZone": attrs.get("AvailabilityZone"),
        "VpcId": "vpc-strongroom",
        "InstanceCreateTime": model.dt(attrs.get("InstanceCreateTime")),
        "MasterUsername": attrs.get("MasterUsername"),
        "Engine": attrs.get("Engine"),
        "EngineVersion": attrs.get("EngineVersion"),
        "LicenseModel": attrs.get("LicenseModel")
        or model.ENGINES[attrs.get("Engine", "postgres")].license,
        "OptionGroupName": f"default:{attrs.get('Engine')}-{major}",
        "Encrypted": bool(backup["encrypted"]),
        "StorageType": attrs.get("StorageType", "gp2"),
        "IAMDatabaseAuthenticationEnabled": False,
        "BackupRetentionPeriod": backup["retention"],
        "PreferredBackupWindow": attrs.get("PreferredBackupWindow", DEFAULT_WINDOW),
        "DBInstanceAutomatedBackupsArn": backup["arn"],
        "DBInstanceAutomatedBackupsReplications": [],
        "BackupTarget": "region",
        "MultiTenant": False,
        "DedicatedLogVolume": False,
    }
    if backup["earliest"] is not None:
        out["RestoreWindow"]["EarliestTime"] = model.dt(backup["earliest"])
    if backup["latest"] is not None:
        out["RestoreWindow"]["LatestTime"] = model.dt(backup["latest"])
    if backup["encrypted"]:
        out["KmsKeyId"] = backup["kms_key_arn"]
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------- files


def wal_dir(root: Path, dbi_resource_id: str) -> Path:
    path = root / "wal" / dbi_resource_id
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _label(dbi_resource_id: str, name: str) -> str:
    return f"wal:{dbi_resource_id}:{name}"


def seal_file(source: Path, dest: Path, key: bytes | None, dbi_resource_id: str) -> int:
    """Compress and seal (under `key`, when given) one archived WAL file;
    its size in the archive."""
    tmp = dest.with_name(dest.name + ".partial")
    out = crypt.writer(tmp, key, _label(dbi_resource_id, dest.name))
    squeeze = zlib.compressobj(1)
    try:
        with open(source, "rb") as src:
            while chunk := src.read(crypt.CHUNK):
                out.write(squeeze.compress(chunk))
        out.write(squeeze.flush())
    finally:
        out.close()
    os.replace(tmp, dest)
    return dest.stat().st_size


def open_file(source: Path, dest: Path, key: bytes | None, dbi_resource_id: str) -> None:
    """The plaintext of one archived WAL file, written to `dest`."""
    src = crypt.reader(source, key, _label(dbi_resource_id, source.name))
    unsqueeze = zlib.decompressobj()
    try:
        with open(dest, "wb") as out:
            while chunk := src.read(crypt.CHUNK):
                out.write(unsqueeze.decompress(chunk))
            out.write(unsqueeze.flush())
    except zlib.error as err:
        raise crypt.CorruptFile(f"archived WAL file {source.name} is corrupt") from err
    finally:
        src.close()
