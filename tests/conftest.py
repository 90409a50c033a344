"""Shared fixtures: a throwaway PostgreSQL server per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.testing import free_port

PG_BIN_DIRS = [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
]


def pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        path = Path(d) / name
        if path.exists():
            return str(path)
    return shutil.which(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres account."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PostgresServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="strongroom-pg-"))
        self.port = free_port()
        self.data = self.dir / "data"
        self.user = "strongroom"
        self.password = "pw-" + os.urandom(8).hex()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip("PostgreSQL binaries are not installed")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [initdb, "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                 "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            _as_postgres(
                [pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        if pg_ctl and self.data.exists():
            subprocess.run(
                _as_postgres([pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password,
            dbname="postgres", autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (server.data / "postmaster.pid").exists():
        time.sleep(0.1)
    try:
        yield server
    finally:
        server.stop()
