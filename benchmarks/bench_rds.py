"""RDS benchmark: the seed's workflow against a plain dump and restore.

A database of ``--mb`` MiB (default 1024) in a real RDS instance; then, each
timed from the call to ``available``: CreateDBSnapshot, an encrypted
CopyDBSnapshot (a customer managed key), RestoreDBInstanceFromDBSnapshot
(a new server with the data). The baseline is ``pg_dump -Fc | pg_restore``
of the same database into a new database of the same server. Printed: each
time, the ratio (snapshot + copy + restore) / (dump | restore), the issue's
target being at most 1.5, and CreateDBInstance-to-available seconds (target
under 3).

Run: ``python benchmarks/bench_rds.py [--mb 1024]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import psycopg

from strongroom.testing import StrongroomServer

PASSWORD = "Bench-pass-1"


def wait(fn: Any, done: Any, timeout: float = 3600) -> float:
    started = time.monotonic()
    while True:
        if done(fn()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError
        time.sleep(0.05)


def instance(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def snapshot(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]


def load(port: int, mb: int) -> int:
    rows = mb * 1024 * 1024 // 165  # about 165 bytes a row on disk, heap and index
    with psycopg.connect(host="127.0.0.1", port=port, user="admin", password=PASSWORD,
                         dbname="app", autocommit=True) as conn:  # fmt: skip
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, a text, b text)")
        step = 500_000
        for start in range(1, rows + 1, step):
            conn.execute(
                "INSERT INTO t SELECT g, md5(random()::text) || md5(g::text), md5(random()::text) "
                "FROM generate_series(%s, %s) g",
                (start, min(rows, start + step - 1)),
            )
        return conn.execute("SELECT pg_database_size('app')").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    args = parser.parse_args()
    with StrongroomServer() as server:
        rds, kms = server.client("rds"), server.client("kms")
        started = time.monotonic()
        rds.create_db_instance(
            DBInstanceIdentifier="bench", Engine="postgres", DBInstanceClass="db.t3.micro",
            MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
            DBName="app",
        )  # fmt: skip
        wait(lambda: instance(rds, "bench"), lambda i: i["DBInstanceStatus"] == "available")
        first = time.monotonic() - started
        started = time.monotonic()
        rds.create_db_instance(
            DBInstanceIdentifier="second", Engine="postgres", DBInstanceClass="db.t3.micro",
            MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        )  # fmt: skip
        wait(lambda: instance(rds, "second"), lambda i: i["DBInstanceStatus"] == "available")
        second = time.monotonic() - started
        rds.delete_db_instance(DBInstanceIdentifier="second", SkipFinalSnapshot=True)
        inst = instance(rds, "bench")
        port = inst["Endpoint"]["Port"]
        size = load(port, args.mb)
        print(f"database: {size / 2**20:.0f} MiB")

        t0 = time.monotonic()
        rds.create_db_snapshot(DBInstanceIdentifier="bench", DBSnapshotIdentifier="s1")
        wait(lambda: snapshot(rds, "s1"), lambda s: s["Status"] != "creating")
        t_snap = time.monotonic() - t0
        key = kms.create_key()["KeyMetadata"]["Arn"]
        t0 = time.monotonic()
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="s1", TargetDBSnapshotIdentifier="s1-enc",
                             KmsKeyId=key)  # fmt: skip
        wait(lambda: snapshot(rds, "s1-enc"), lambda s: s["Status"] != "creating")
        t_copy = time.monotonic() - t0
        t0 = time.monotonic()
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="bench-enc",
                                                 DBSnapshotIdentifier="s1-enc")  # fmt: skip
        wait(lambda: instance(rds, "bench-enc"), lambda i: i["DBInstanceStatus"] != "creating")
        t_restore = time.monotonic() - t0

        from strongroom.engines.postgres.binaries import Catalogue

        bin_dir = Catalogue([]).resolve(inst["EngineVersion"]).bin_dir
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        with psycopg.connect(host="127.0.0.1", port=port, user="admin", password=PASSWORD,
                             dbname="postgres", autocommit=True) as conn:  # fmt: skip
            conn.execute("CREATE DATABASE target")
        t0 = time.monotonic()
        dump = subprocess.Popen(
            [str(bin_dir / "pg_dump"), "-Fc", "-h", "127.0.0.1", "-p", str(port), "-U", "admin",
             "app"], stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        subprocess.run(
            [str(bin_dir / "pg_restore"), "-h", "127.0.0.1", "-p", str(port), "-U", "admin",
             "-d", "target"], stdin=dump.stdout, env=env, check=True,
        )  # fmt: skip
        dump.stdout.close()  # type: ignore[union-attr]
        assert dump.wait() == 0
        t_dump = time.monotonic() - t0

    total = t_snap + t_copy + t_restore
    print(
        f"CreateDBInstance-to-available: {first:.2f} s (first), {second:.2f} s (from the template)"
    )
    print(f"CreateDBSnapshot {t_snap:.2f} s, encrypted CopyDBSnapshot {t_copy:.2f} s, "
          f"RestoreDBInstanceFromDBSnapshot {t_restore:.2f} s: {total:.2f} s")  # fmt: skip
    print(f"pg_dump -Fc | pg_restore: {t_dump:.2f} s")
    print(f"ratio: {total / t_dump:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
