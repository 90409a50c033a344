"""RDS automated backups end to end, on real PostgreSQL servers and the
server's clock: WAL archived (sealed under an encrypted instance's data
key), the automated snapshot right after creation and then one a day in the
backup window, expired after the retention period, LatestRestorableTime
within 5 minutes of the clock, RestoreDBInstanceToPointInTime with boto3
and the `aws` CLI returning exactly the rows of the time asked for, retained
automated backups of deleted instances, and AWS's errors.

One server for the module (with --time-travel); the clock only moves
forward, so the tests run in file order.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from strongroom.testing import StrongroomServer, add_account

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"
MARKER = "plaintext-marker-7f3c2a9e1b"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-backups-") as d:
        yield Path(d)


OTHER = "111111111111"


@pytest.fixture(scope="module")
def other_account(data_dir: Path) -> dict[str, str]:
    return add_account(data_dir, OTHER)


@pytest.fixture(scope="module")
def server(data_dir: Path, other_account: dict[str, str]) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(data_dir, time_travel=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def until(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def available(rds: Any, ident: str) -> dict[str, Any]:
    inst = until(
        lambda: (i := describe(rds, ident))["DBInstanceStatus"] not in ("creating",) and i,
        f"{ident} to leave creating",
    )
    assert inst["DBInstanceStatus"] == "available", inst["DBInstanceStatus"]
    return inst


def backup_of(rds: Any, ident: str) -> dict[str, Any] | None:
    found = rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
    return next((b for b in found if b["DBInstanceIdentifier"] == ident), None)


def restorable(rds: Any, ident: str, after: datetime | None = None) -> dict[str, Any]:
    """The automated backup once its window reaches `after` (or exists)."""

    def ready() -> dict[str, Any] | None:
        b = backup_of(rds, ident)
        latest = (b or {}).get("RestoreWindow", {}).get("LatestTime")
        return b if latest and (after is None or latest >= after) else None

    return until(ready, f"{ident}'s restore window")


def automated(rds: Any, ident: str) -> list[dict[str, Any]]:
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=ident, SnapshotType="automated")
    return snaps["DBSnapshots"]


def connect(inst: dict[str, Any]) -> Any:
    return psycopg.connect(
        host="127.0.0.1", port=inst["Endpoint"]["Port"], user="admin", password=PASSWORD,
        dbname="app", autocommit=True, connect_timeout=5,
    )  # fmt: skip


def rows(inst: dict[str, Any]) -> list[tuple]:
    with connect(inst) as conn:
        return conn.execute("SELECT id, note FROM orders ORDER BY id").fetchall()


def insert(inst: dict[str, Any], first: int, last: int, note: str = "n") -> None:
    with connect(inst) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, note text)")
        conn.execute(
            "INSERT INTO orders SELECT g, %s || g FROM generate_series(%s::int, %s::int) g",
            (note, first, last),
        )


def server_now(server: StrongroomServer) -> datetime:
    return datetime.fromisoformat(server.advance_clock("0s")["now"])


def create(rds: Any, ident: str, **extra: Any) -> dict[str, Any]:
    rds.create_db_instance(
        DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        DBName="app", **extra,
    )  # fmt: skip
    return available(rds, ident)


def run_cli(server: StrongroomServer, *args: str) -> Any:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "rds", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture(scope="module")
def ledger(rds: Any, server: StrongroomServer) -> dict[str, Any]:
    """An unencrypted instance (retention 1 day) with rows at t1 and more at
    t2, `between` a time in between, and its window past t2."""
    inst = create(rds, "ledger", BackupRetentionPeriod=1)
    first = restorable(rds, "ledger")
    insert(inst, 1, 50, "t1-")
    time.sleep(1.5)
    between = server_now(server).replace(microsecond=0)
    time.sleep(1.5)
    insert(inst, 51, 80, "t2-")
    all_rows = rows(inst)
    # A heartbeat is due 5 minutes on: the window reaches the t2 rows.
    server.advance_clock("6m")
    later = restorable(rds, "ledger", after=between)
    return {"inst": inst, "between": between, "rows": all_rows, "first": first, "later": later}


def test_the_first_automated_snapshot_comes_right_after_creation(rds: Any, ledger) -> None:
    snaps = automated(rds, "ledger")
    assert len(snaps) == 1
    snap = snaps[0]
    assert snap["DBSnapshotIdentifier"].startswith("rds:ledger-")
    assert len(snap["DBSnapshotIdentifier"]) == len("rds:ledger-2026-12-07-23-05")
    assert snap["Status"] == "available" and snap["SnapshotType"] == "automated"
    assert snap["DbiResourceId"] == ledger["inst"]["DbiResourceId"]
    backup = ledger["first"]
    assert backup["Status"] == "active"
    assert backup["DbiResourceId"] == ledger["inst"]["DbiResourceId"]
    assert backup["BackupRetentionPeriod"] == 1
    assert backup["DBInstanceAutomatedBackupsArn"].startswith(
        "arn:aws:rds:us-east-1:000000000000:auto-backup:ab-"
    )
    assert backup["RestoreWindow"]["EarliestTime"] <= backup["RestoreWindow"]["LatestTime"]


def test_latest_restorable_time_follows_the_clock(rds: Any, server, ledger) -> None:
    inst = describe(rds, "ledger")
    latest = inst["LatestRestorableTime"]
    now = server_now(server)
    assert latest >= ledger["between"]
    assert (now - latest).total_seconds() < 300, (now, latest)
    assert ledger["later"]["RestoreWindow"]["LatestTime"] == latest


def test_restore_to_a_time_between_gives_exactly_the_earlier_rows(rds: Any, ledger) -> None:
    out = rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="ledger-t1",
        RestoreTime=ledger["between"],
    )["DBInstance"]
    assert out["DBInstanceStatus"] == "creating"
    assert out["StorageEncrypted"] is False
    restored = available(rds, "ledger-t1")
    expected = [r for r in ledger["rows"] if r[0] <= 50]
    assert rows(restored) == expected
    with connect(restored) as conn:  # a primary of its own
        conn.execute("INSERT INTO orders VALUES (1000, 'new')")
    messages = [
        e["Message"]
        for e in rds.describe_events(
            SourceType="db-instance", SourceIdentifier="ledger-t1", Duration=60
        )["Events"]
    ]
    assert any(m.startswith("Restored from DB instance ledger to ") for m in messages)


def test_restore_to_the_latest_time_with_the_aws_cli(rds: Any, server, ledger) -> None:
    out = run_cli(
        server, "restore-db-instance-to-point-in-time",
        "--source-db-instance-identifier", "ledger",
        "--target-db-instance-identifier", "ledger-latest",
        "--use-latest-restorable-time",
    )  # fmt: skip
    assert out["DBInstance"]["DBInstanceIdentifier"] == "ledger-latest"
    restored = available(rds, "ledger-latest")
    assert rows(restored) == ledger["rows"]


def test_restore_errors(rds: Any, server, ledger) -> None:
    window = backup_of(rds, "ledger")["RestoreWindow"]
    code, message, status = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="too-late",
        RestoreTime=datetime.fromtimestamp(window["LatestTime"].timestamp() + 3600, UTC),
    )  # fmt: skip
    assert (code, status) == ("InvalidRestoreFault", 400) and "restorable window" in message
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="too-early",
        RestoreTime=datetime.fromtimestamp(window["EarliestTime"].timestamp() - 60, UTC),
    )  # fmt: skip
    assert code == "InvalidRestoreFault"
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="both", RestoreTime=ledger["between"],
        UseLatestRestorableTime=True,
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="neither",
    )  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, status = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="nosuch",
        TargetDBInstanceIdentifier="x1", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert (code, status) == ("DBInstanceNotFound", 404)
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="ledger-t1", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert code == "DBInstanceAlreadyExists"
    code, _, status = fails(
        rds.restore_db_instance_to_point_in_time, SourceDbiResourceId="db-NOSUCHBACKUP",
        TargetDBInstanceIdentifier="x2", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert (code, status) == ("DBInstanceAutomatedBackupNotFound", 404)
    rds.create_db_instance(
        DBInstanceIdentifier="nobackups", Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        BackupRetentionPeriod=0,
    )  # fmt: skip
    code, _, status = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="nobackups",
        TargetDBInstanceIdentifier="x3", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert (code, status) == ("PointInTimeRestoreNotEnabled", 400)
    for window in ("3:00-3:30", "03:00-03:10", "25:00-25:30"):
        code, _, _ = fails(
            rds.modify_db_instance, DBInstanceIdentifier="ledger", PreferredBackupWindow=window
        )
        assert code == "InvalidParameterValue", window


@pytest.mark.parametrize(
    ("call", "kwargs", "code"),
    [
        ("describe_db_instance_automated_backups", {"MaxRecords": 5}, "InvalidParameterValue"),
        ("describe_db_instance_automated_backups", {"Marker": "garbage"}, "InvalidParameterValue"),
        (
            "describe_db_instance_automated_backups",
            {"Filters": [{"Name": "bogus", "Values": ["x"]}]},
            "InvalidParameterValue",
        ),
        (
            "describe_db_instance_automated_backups",
            {"DBInstanceAutomatedBackupsArn": "not-an-arn"},
            "DBInstanceAutomatedBackupNotFound",
        ),
        ("delete_db_instance_automated_backup", {}, "InvalidParameterCombination"),
        (
            "delete_db_instance_automated_backup",
            {"DBInstanceAutomatedBackupsArn": "arn:aws:rds:us-east-1:000000000000:auto-backup:x"},
            "DBInstanceAutomatedBackupNotFound",
        ),
        (
            "restore_db_instance_to_point_in_time",
            {"SourceDBInstanceIdentifier": "ledger", "TargetDBInstanceIdentifier": "bad--name",
             "UseLatestRestorableTime": True},
            "InvalidParameterValue",
        ),
        (
            "restore_db_instance_to_point_in_time",
            {"SourceDBInstanceIdentifier": "ledger", "TargetDBInstanceIdentifier": "epoch",
             "RestoreTime": datetime(1970, 1, 2, tzinfo=UTC)},
            "InvalidRestoreFault",
        ),
        (
            "restore_db_instance_to_point_in_time",
            {"SourceDBInstanceIdentifier": "ledger", "TargetDBInstanceIdentifier": "r36",
             "UseLatestRestorableTime": True, "BackupRetentionPeriod": 36},
            "InvalidParameterValue",
        ),
        (
            "restore_db_instance_to_point_in_time",
            {"SourceDBInstanceIdentifier": "ledger", "TargetDBInstanceIdentifier": "eng",
             "UseLatestRestorableTime": True, "Engine": "mysql"},
            "InvalidParameterCombination",
        ),
    ],
)  # fmt: skip
def test_bad_input_gets_aws_errors(rds: Any, ledger, call: str, kwargs: dict, code: str) -> None:
    got, _, status = fails(getattr(rds, call), **kwargs)
    assert (got, status // 100) == (code, 4) or (got, status) == (code, 404)


def test_another_account_sees_and_restores_none_of_it(
    rds: Any, server: StrongroomServer, other_account: dict[str, str], ledger
) -> None:
    theirs = server.client("rds", **other_account)
    dbi = ledger["inst"]["DbiResourceId"]
    assert theirs.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"] == []
    code, _, _ = fails(theirs.describe_db_instance_automated_backups, DbiResourceId=dbi)
    assert code == "DBInstanceAutomatedBackupNotFound"
    code, _, _ = fails(theirs.describe_db_instance_automated_backups, DBInstanceIdentifier="ledger")
    assert code == "DBInstanceAutomatedBackupNotFound"
    arn = backup_of(rds, "ledger")["DBInstanceAutomatedBackupsArn"]
    for source in ({"SourceDbiResourceId": dbi}, {"SourceDBInstanceAutomatedBackupsArn": arn}):
        code, _, _ = fails(
            theirs.restore_db_instance_to_point_in_time, TargetDBInstanceIdentifier="stolen",
            UseLatestRestorableTime=True, **source,
        )  # fmt: skip
        assert code == "DBInstanceAutomatedBackupNotFound"
    code, _, _ = fails(
        theirs.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="stolen", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert code == "DBInstanceNotFound"
    code, _, _ = fails(theirs.delete_db_instance_automated_backup, DbiResourceId=dbi)
    assert code == "DBInstanceAutomatedBackupNotFound"
    assert theirs.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"] == []
    assert backup_of(rds, "ledger")["Status"] == "active"


def test_automated_snapshots_are_not_deleted_but_can_be_copied(rds: Any, ledger) -> None:
    snap = automated(rds, "ledger")[0]["DBSnapshotIdentifier"]
    code, message, status = fails(rds.delete_db_snapshot, DBSnapshotIdentifier=snap)
    assert (code, message, status) == (
        "InvalidDBSnapshotState",
        "Only manual snapshots may be deleted.",
        400,
    )
    copy = rds.copy_db_snapshot(
        SourceDBSnapshotIdentifier=snap, TargetDBSnapshotIdentifier="ledger-kept"
    )["DBSnapshot"]
    assert copy["SnapshotType"] == "manual"
    kept = until(
        lambda: (
            (s := rds.describe_db_snapshots(DBSnapshotIdentifier="ledger-kept")["DBSnapshots"][0])[
                "Status"
            ]
            == "available"
            and s
        ),
        "the copy",
    )
    assert kept["SourceDBSnapshotIdentifier"].endswith(":snapshot:" + snap)


def _archive_files(data_dir: Path, dbi: str) -> list[Path]:
    return sorted(p for p in (data_dir / "blobs" / "rds" / "wal" / dbi).iterdir() if p.is_file())


def test_the_archive_holds_the_rows(data_dir: Path, ledger) -> None:
    """The control for the next test: unencrypted, the archived WAL (only
    compressed) holds the rows' text."""
    files = _archive_files(data_dir, ledger["inst"]["DbiResourceId"])
    assert files
    text = b"".join(zlib.decompress(p.read_bytes()) for p in files)
    assert b"t2-80" in text


def test_an_encrypted_instance_keeps_no_plaintext_backups(
    rds: Any, server: StrongroomServer, data_dir: Path
) -> None:
    kms = server.client("kms")
    key = kms.create_key(Description="backups")["KeyMetadata"]["Arn"]
    inst = create(rds, "vault", StorageEncrypted=True, KmsKeyId=key, BackupRetentionPeriod=2)
    restorable(rds, "vault")
    insert(inst, 1, 20, MARKER + "-")
    before = server_now(server)
    server.advance_clock("6m")
    backup = restorable(rds, "vault", after=before)
    assert backup["Encrypted"] is True and backup["KmsKeyId"] == key
    dbi = inst["DbiResourceId"]
    files = _archive_files(data_dir, dbi)
    snaps = [
        data_dir / "blobs" / "rds" / "snapshots" / p.name
        for p in (data_dir / "blobs" / "rds" / "snapshots").iterdir()
    ]
    assert files
    for path in files + snaps:
        assert MARKER.encode() not in path.read_bytes(), path
    for path in files:  # sealed, not merely compressed
        with pytest.raises(zlib.error):
            zlib.decompress(path.read_bytes())
    spool = data_dir / "engines" / "postgres" / "instances" / dbi / "wal-spool"
    assert all(p.name.startswith(".") for p in spool.iterdir()) or not list(spool.iterdir())
    rds.restore_db_instance_to_point_in_time(
        SourceDbiResourceId=dbi, TargetDBInstanceIdentifier="vault-back",
        UseLatestRestorableTime=True,
    )  # fmt: skip
    restored = available(rds, "vault-back")
    assert restored["StorageEncrypted"] is True and restored["KmsKeyId"] == key
    assert rows(restored) == [(i, f"{MARKER}-{i}") for i in range(1, 21)]


def test_a_deleted_instance_can_keep_its_automated_backup(rds: Any) -> None:
    inst = describe(rds, "vault")
    dbi = inst["DbiResourceId"]
    code, _, _ = fails(rds.delete_db_instance_automated_backup, DbiResourceId=dbi)
    assert code == "InvalidDBInstanceAutomatedBackupState"
    rds.delete_db_instance(
        DBInstanceIdentifier="vault", SkipFinalSnapshot=True, DeleteAutomatedBackups=False
    )
    until(lambda: not rds.describe_db_instances(
        Filters=[{"Name": "db-instance-id", "Values": ["vault"]}])["DBInstances"],
        "vault to go")  # fmt: skip
    kept = rds.describe_db_instance_automated_backups(DbiResourceId=dbi)
    assert [b["Status"] for b in kept["DBInstanceAutomatedBackups"]] == ["retained"]
    listed = rds.describe_db_instance_automated_backups(
        Filters=[{"Name": "status", "Values": ["retained"]}]
    )["DBInstanceAutomatedBackups"]
    assert [b["DbiResourceId"] for b in listed] == [dbi]
    rds.restore_db_instance_to_point_in_time(
        SourceDbiResourceId=dbi, TargetDBInstanceIdentifier="vault-again",
        UseLatestRestorableTime=True,
    )  # fmt: skip
    assert rows(available(rds, "vault-again")) == [(i, f"{MARKER}-{i}") for i in range(1, 21)]
    out = rds.delete_db_instance_automated_backup(DbiResourceId=dbi)
    assert out["DBInstanceAutomatedBackup"]["Status"] == "deleted"
    code, _, status = fails(rds.delete_db_instance_automated_backup, DbiResourceId=dbi)
    assert (code, status) == ("DBInstanceAutomatedBackupNotFound", 404)
    code, _, _ = fails(rds.describe_db_instance_automated_backups, DbiResourceId=dbi)
    assert code == "DBInstanceAutomatedBackupNotFound"


def test_deleting_an_instance_deletes_its_automated_backups(rds: Any, data_dir: Path) -> None:
    dbi = describe(rds, "vault-back")["DbiResourceId"]
    restorable(rds, "vault-back")
    rds.delete_db_instance(DBInstanceIdentifier="vault-back", SkipFinalSnapshot=True)
    assert backup_of(rds, "vault-back") is None
    assert automated(rds, "vault-back") == []
    until(lambda: not (data_dir / "blobs" / "rds" / "wal" / dbi).exists(), "the archive to go")


def test_snapshots_by_the_clock_and_the_retention(rds: Any, server, ledger) -> None:
    """Last: the clock moves a day on. The window's snapshot is taken (the
    window the clock jumped over, at once), the first one is past its day of
    retention and goes, and the restore window starts later."""
    first = automated(rds, "ledger")[0]
    server.advance_clock("1d1h")
    fresh = until(
        lambda: [s for s in automated(rds, "ledger") if s["DBSnapshotIdentifier"] !=
                 first["DBSnapshotIdentifier"] and s["Status"] == "available"],
        "the day's automated snapshot",
    )  # fmt: skip
    until(lambda: len(automated(rds, "ledger")) == 1, "the old snapshot to expire")
    assert [s["DBSnapshotIdentifier"] for s in automated(rds, "ledger")] == [
        fresh[0]["DBSnapshotIdentifier"]
    ]
    window = until(
        lambda: (
            (b := backup_of(rds, "ledger"))["RestoreWindow"]["EarliestTime"]
            > first["SnapshotCreateTime"]
            and b
        ),
        "the window to move",
    )["RestoreWindow"]
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="gone-by", RestoreTime=ledger["between"],
    )  # fmt: skip
    assert code == "InvalidRestoreFault"
    assert window["LatestTime"] >= window["EarliestTime"]


def test_retention_zero_deletes_the_automated_backups(rds: Any, data_dir: Path) -> None:
    dbi = describe(rds, "ledger")["DbiResourceId"]
    out = rds.modify_db_instance(
        DBInstanceIdentifier="ledger", BackupRetentionPeriod=0, ApplyImmediately=True
    )["DBInstance"]
    assert out["BackupRetentionPeriod"] == 0
    assert automated(rds, "ledger") == []
    assert backup_of(rds, "ledger") is None
    assert "LatestRestorableTime" not in describe(rds, "ledger")
    code, _, _ = fails(
        rds.restore_db_instance_to_point_in_time, SourceDBInstanceIdentifier="ledger",
        TargetDBInstanceIdentifier="x4", UseLatestRestorableTime=True,
    )  # fmt: skip
    assert code == "PointInTimeRestoreNotEnabled"
    until(lambda: not (data_dir / "blobs" / "rds" / "wal" / dbi).exists(), "the archive to go")
    assert rds.describe_db_snapshots(DBSnapshotIdentifier="ledger-kept")["DBSnapshots"]


def test_backups_go_on_after_a_restart(server: StrongroomServer, rds: Any, data_dir: Path) -> None:
    """Last: strongroom stops (the spool sealed into the archive) and starts
    again; the instance's backups go on and a restore reaches rows written
    before the restart."""
    inst = describe(rds, "ledger-t1")
    restorable(rds, "ledger-t1")
    insert(inst, 2001, 2010, "t3-")
    expected = rows(inst)
    spool = data_dir / "engines" / "postgres" / "instances" / inst["DbiResourceId"] / "wal-spool"
    server.stop()
    assert [p.name for p in spool.iterdir() if not p.name.startswith(".")] == []
    server.start()
    client = server.client("rds")

    def back() -> bool:
        try:
            return rows(describe(client, "ledger-t1")) == expected
        except psycopg.OperationalError:
            return False

    until(back, "ledger-t1 back")
    before = server_now(server)
    server.advance_clock("6m")
    restorable(client, "ledger-t1", after=before)
    client.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ledger-t1", TargetDBInstanceIdentifier="ledger-again",
        UseLatestRestorableTime=True,
    )  # fmt: skip
    assert rows(available(client, "ledger-again")) == expected
