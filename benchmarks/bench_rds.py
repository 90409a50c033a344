"""RDS benchmark: the seed's snapshot workflow on a real database, against pg_dump | pg_restore.

One strongroom server (not pinned: the work is in the PostgreSQL processes
it runs) and, on it, an RDS PostgreSQL instance loaded with ``--size-mib`` of
rows (1 GiB by default), of one of two shapes (``--shape``; both by
default, one run each): ~1.1 KB rows (wide: few rows, cheap for a dump) and
~165 B rows (narrow: millions of rows, whose index pg_restore rebuilds). Timed, each until the resource is available:

1. CreateDBSnapshot of the instance (unencrypted, as its instance);
2. CopyDBSnapshot of it with a customer managed KMS key (the encrypted copy);
3. RestoreDBInstanceFromDBSnapshot of the copy (an encrypted instance),
   whose rows are then counted against the source's.

The baseline is what a user without snapshots does: ``pg_dump -Fc`` of the
same database piped into ``pg_restore`` into a new database on the same
server, with the engine's own client binaries. The issue's targets:
snapshot + copy + restore no slower than 1.5x the dump/restore, and
CreateDBInstance to ``available`` in under 3 s (median of ``--creates``).

moto is not measured: its RDS runs no database, so there is nothing of it
to compare a snapshot of data with.

Run: ``python benchmarks/bench_rds.py [--size-mib 1024] [--creates 3] [--shape wide|narrow|both]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import start_unpinned_strongroom

MASTER_USER = "bench"
MASTER_PASSWORD = "bench-Passw0rd-1"
POLL = 0.05
#: Rows of this many bytes of text each: ~1 KiB a row on disk with its overhead.
PAYLOAD_REPEAT = 28  # md5 hex (32 chars) x 28 = 896 characters


def _wait(describe, ok: str, timeout: float) -> float:
    """Poll `describe()` (returning a status) until it is `ok`; seconds waited."""
    started = time.monotonic()
    while True:
        status = describe()
        if status == ok:
            return time.monotonic() - started
        if status in ("failed", "incompatible-restore", "error"):
            raise RuntimeError(f"status {status}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not {ok} after {timeout:.0f} s (last status {status})")
        time.sleep(POLL)


def _instance_status(rds, name: str) -> str:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
        "DBInstanceStatus"
    ]


def _snapshot_status(rds, name: str) -> str:
    return rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"]


def _create_instance(rds, name: str, timeout: float = 120.0) -> tuple[float, dict]:
    """Seconds from CreateDBInstance to available, and the instance."""
    started = time.monotonic()
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername=MASTER_USER,
        MasterUserPassword=MASTER_PASSWORD,
        AllocatedStorage=20,
        DBName="app",
    )
    _wait(lambda: _instance_status(rds, name), "available", timeout)
    elapsed = time.monotonic() - started
    return elapsed, rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def _connect(instance: dict, dbname: str = "app"):
    import psycopg

    ep = instance["Endpoint"]
    return psycopg.connect(
        host=ep["Address"],
        port=ep["Port"],
        user=MASTER_USER,
        password=MASTER_PASSWORD,
        dbname=dbname,
        autocommit=True,
    )


#: The two shapes of rows a run can load: few wide rows favour a dump (little
#: per-row work, one index), many narrow ones favour a snapshot (pg_restore
#: rebuilds a big index). (bytes a row takes on disk, the INSERT's SELECT).
SHAPES = {
    "wide": (
        1100,
        f"SELECT g, repeat(md5(g::text), {PAYLOAD_REPEAT}) FROM generate_series(%s, %s) g",
    ),
    "narrow": (
        165,
        "SELECT g, md5(random()::text) || md5(g::text) || md5(random()::text) "
        "FROM generate_series(%s, %s) g",
    ),
}


def _load(instance: dict, size_mib: int, shape: str) -> tuple[int, int]:
    """Fill table `t` to about `size_mib` with rows of `shape`; (rows, database bytes)."""
    row_bytes, select = SHAPES[shape]
    rows_wanted = max(1000, size_mib * 2**20 // row_bytes)
    with _connect(instance) as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, payload text NOT NULL)")
        step = 200_000
        for start in range(1, rows_wanted + 1, step):
            end = min(rows_wanted, start + step - 1)
            conn.execute(f"INSERT INTO t {select}", (start, end))
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return rows_wanted, size


def _count(instance: dict, dbname: str = "app") -> tuple[int, str]:
    """Rows of `t` and a digest of them all."""
    with _connect(instance, dbname) as conn:
        return conn.execute(
            "SELECT count(*), md5(string_agg(md5(payload), '' ORDER BY id)) FROM t"
        ).fetchone()


def _client_bin(version: str) -> Path:
    """The bin directory of the engine's major that has pg_dump and pg_restore."""
    from strongroom.engines.postgres.binaries import embedded_bin_dir, probe_version

    major = int(version.split(".")[0])
    candidates = [embedded_bin_dir(), Path(f"/usr/lib/postgresql/{major}/bin")]
    for bin_dir in candidates:
        if bin_dir is None or not (bin_dir / "pg_dump").exists():
            continue
        probed = probe_version(bin_dir)
        if probed is not None and probed[0] == major:
            return bin_dir
    raise RuntimeError(f"no pg_dump/pg_restore of PostgreSQL {major} found")


def _dump_restore(instance: dict, bin_dir: Path) -> float:
    """Seconds for pg_dump -Fc | pg_restore into a new database on the same server."""
    ep = instance["Endpoint"]
    with _connect(instance) as conn:
        conn.execute("CREATE DATABASE restored")
    common = ["-h", ep["Address"], "-p", str(ep["Port"]), "-U", MASTER_USER]
    env = {"PGPASSWORD": MASTER_PASSWORD, "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    dump = subprocess.Popen(
        [str(bin_dir / "pg_dump"), "-Fc", *common, "app"], stdout=subprocess.PIPE, env=env
    )
    restore = subprocess.run(
        [str(bin_dir / "pg_restore"), *common, "-d", "restored", "--no-owner"],
        stdin=dump.stdout,
        env=env,
        capture_output=True,
    )
    dump.stdout.close()
    if dump.wait() != 0 or restore.returncode != 0:
        raise RuntimeError(f"dump/restore failed: {restore.stderr.decode()[-500:]}")
    return time.monotonic() - started


def run(size_mib: int, creates: int, shape: str) -> int:
    server = start_unpinned_strongroom()
    if server is None:
        return 2
    try:
        ep = server.endpoint
        rds, kms = ep.client("rds"), ep.client("kms")
        key = kms.create_key(Description="bench-rds")["KeyMetadata"]["Arn"]

        create_times = []
        for i in range(creates):
            seconds, _ = _create_instance(rds, f"bench-create-{i}")
            create_times.append(seconds)
            rds.delete_db_instance(DBInstanceIdentifier=f"bench-create-{i}", SkipFinalSnapshot=True)

        _, source = _create_instance(rds, "bench-src")
        started = time.monotonic()
        rows, size = _load(source, size_mib, shape)
        load_s = time.monotonic() - started
        expected = _count(source)

        baseline = _dump_restore(source, _client_bin(source["EngineVersion"]))
        if _count(source, "restored") != expected:
            raise RuntimeError("pg_restore's copy differs from the source")

        started = time.monotonic()
        rds.create_db_snapshot(DBInstanceIdentifier="bench-src", DBSnapshotIdentifier="bench-1")
        _wait(lambda: _snapshot_status(rds, "bench-1"), "available", 3600)
        snapshot_s = time.monotonic() - started

        started = time.monotonic()
        rds.copy_db_snapshot(
            SourceDBSnapshotIdentifier="bench-1",
            TargetDBSnapshotIdentifier="bench-1-enc",
            KmsKeyId=key,
        )
        _wait(lambda: _snapshot_status(rds, "bench-1-enc"), "available", 3600)
        copy_s = time.monotonic() - started

        started = time.monotonic()
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="bench-enc", DBSnapshotIdentifier="bench-1-enc"
        )
        _wait(lambda: _instance_status(rds, "bench-enc"), "available", 3600)
        restore_s = time.monotonic() - started
        restored = rds.describe_db_instances(DBInstanceIdentifier="bench-enc")["DBInstances"][0]
        if not restored.get("StorageEncrypted"):
            raise RuntimeError("the restored instance is not encrypted")
        if _count(restored) != expected:
            raise RuntimeError("the restored instance's rows differ from the source's")
    finally:
        server.stop()

    total = snapshot_s + copy_s + restore_s
    median_create = statistics.median(create_times)
    print(f"== rds snapshot workflow == {rows} {shape} rows, database {size / 2**20:.0f} MiB")
    print(f"  (loaded in {load_s:.1f} s; every restored row compared by digest)")
    print(f"{'step':44s} {'seconds':>9s}")
    print(f"{'CreateDBSnapshot (unencrypted)':44s} {snapshot_s:9.2f}")
    print(f"{'CopyDBSnapshot with KmsKeyId (encrypted)':44s} {copy_s:9.2f}")
    print(f"{'RestoreDBInstanceFromDBSnapshot (encrypted)':44s} {restore_s:9.2f}")
    print(f"{'snapshot + copy + restore':44s} {total:9.2f}")
    print(f"{'baseline: pg_dump -Fc | pg_restore':44s} {baseline:9.2f}")
    print(f"ratio snapshot-copy-restore / dump-restore: {total / baseline:.2f}x (target <= 1.5x)")
    rounds = " ".join(f"{s:.2f}" for s in create_times)
    print(
        f"CreateDBInstance to available: median {median_create:.2f} s "
        f"(target < 3 s; rounds: {rounds})"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="database size (1024)")
    parser.add_argument("--creates", type=int, default=3, help="instances timed to available")
    parser.add_argument(
        "--shape",
        choices=[*SHAPES, "both"],
        default="both",
        help="rows of ~1.1 KB (wide), of ~165 B (narrow) or a run of each (both, the default)",
    )
    args = parser.parse_args()
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    status = 0
    for shape in shapes:
        status = max(status, run(args.size_mib, args.creates, shape))
    return status


if __name__ == "__main__":
    sys.exit(main())
