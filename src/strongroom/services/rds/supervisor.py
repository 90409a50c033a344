"""The RDS process resource: the database engines, the files of snapshots
and of sealed instances, and the data keys of the encrypted instances that
run in this process.

- ``<data-dir>/engines/postgres``: the PostgreSQL driver's own files
  (`strongroom.engines.postgres`), built from ``--option rds.postgres.*``;
  in ``tls/`` the server's certificate authority (`engines.postgres.tls`),
  its private key sealed under the root key.
- ``<data-dir>/blobs/rds/snapshots/<snapshot resource id>``: one file per DB
  snapshot, the engine's snapshot stream (a tar), sealed under the
  snapshot's data key when the snapshot is encrypted (`crypt`).
- ``<data-dir>/blobs/rds/at-rest/<DbiResourceId>``: an encrypted instance's
  whole data directory, sealed under the instance's data key, while its
  engine is not running (the plaintext directory is removed then).

An encrypted instance's plaintext data key is held in memory while its
engine runs, and only then: it is forgotten once the files are sealed.
`close` (the server stopping cleanly) stops every engine and seals the
files of each encrypted instance before forgetting its key.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from strongroom.engines.driver import EngineError, Instance, InstanceNotFound
from strongroom.engines.postgres import PostgresEngine, archive
from strongroom.engines.postgres.tls import CertificateAuthority
from strongroom.framework import ResourceContext
from strongroom.services.rds import crypt
from strongroom.services.rds.endpoint_proxy import EndpointProxies
from strongroom.services.rds.replica_monitor import ReplicationMonitor
from strongroom.store.files import BLOBS_DIR, private_dir
from strongroom.store.sealing import Sealer, load_root_key

log = logging.getLogger("strongroom.services.rds")


class Supervisor:
    def __init__(self, data_dir: Path, options: dict[str, str]) -> None:
        self.root = private_dir(data_dir / BLOBS_DIR / "rds")
        self.snapshot_dir = private_dir(self.root / "snapshots")
        self.at_rest_dir = private_dir(self.root / "at-rest")
        self._engine_dir = data_dir / "engines" / "postgres"
        self._data_dir = data_dir
        self._options = options
        self._postgres: PostgresEngine | None = None
        self._lock = threading.Lock()
        #: DbiResourceId -> plaintext data key, for encrypted instances running here.
        self._keys: dict[str, bytes] = {}
        #: DbiResourceId of every instance whose engine this process runs.
        self._attached: set[str] = set()
        #: major -> the engine's default parameters
        self._defaults: dict[str, list[Any]] = {}
        #: The replicas' replication, measured in memory (`replica_monitor`).
        self.replication = ReplicationMonitor(self)
        #: Set when `close` begins (the server is stopping): work cut short
        #: then is taken up at the next start, not failed.
        self.closing = False
        #: The Aurora custom endpoints' listeners (`endpoint_proxy`).
        self.endpoints = EndpointProxies()

    # ------------------------------------------------------------ engines

    @property
    def postgres(self) -> PostgresEngine:
        with self._lock:
            if self._postgres is None:
                sealer = Sealer(load_root_key(self._data_dir))
                self._postgres = PostgresEngine.from_options(
                    self._engine_dir,
                    self._options,
                    tls=CertificateAuthority(self._engine_dir, sealer.seal, sealer.unseal),
                )
            return self._postgres

    def versions(self) -> list[Any]:
        try:
            return self.postgres.versions()
        except EngineError:
            return []

    def default_parameters(self, major: str) -> list[Any]:
        """A major's settings (`PostgresEngine.default_parameters`), cached."""
        with self._lock:
            cached = self._defaults.get(major)
        if cached is None:
            cached = self.postgres.default_parameters(major)
            with self._lock:
                self._defaults[major] = cached
        return cached

    def open(self, resource_id: str) -> Instance | None:
        try:
            return self.postgres.open(resource_id)
        except InstanceNotFound:
            return None

    def attach(self, resource_id: str, key: bytes | None) -> None:
        with self._lock:
            self._attached.add(resource_id)
            if key is not None:
                self._keys[resource_id] = key
        self.replication.watch(resource_id)

    def detach(self, resource_id: str) -> bytes | None:
        with self._lock:
            self._attached.discard(resource_id)
            return self._keys.pop(resource_id, None)

    def attached(self, resource_id: str) -> bool:
        return resource_id in self._attached

    def key_of(self, resource_id: str) -> bytes | None:
        return self._keys.get(resource_id)

    def running(self, resource_id: str) -> bool:
        inst = self.open(resource_id) if resource_id in self._attached else None
        return inst is not None and self.postgres.is_running(inst)

    # ------------------------------------------------------------ files

    def snapshot_path(self, snapshot_resource_id: str) -> Path:
        return self.snapshot_dir / snapshot_resource_id

    def at_rest_path(self, resource_id: str) -> Path:
        return self.at_rest_dir / resource_id

    def seal_at_rest(self, inst: Instance, key: bytes) -> None:
        """Export a stopped instance's data directory sealed under `key`,
        then remove the plaintext directory."""
        engine = self.postgres
        if not engine.has_data(inst):
            return
        path = self.at_rest_path(inst.instance_id)
        tmp = path.with_suffix(".partial")
        out = crypt.writer(tmp, key, f"at-rest:{inst.instance_id}")
        try:
            engine.export_data(inst, out)  # type: ignore[arg-type]
        finally:
            out.close()
        tmp.replace(path)
        engine.remove_data(inst)

    def unseal_at_rest(self, inst: Instance, key: bytes) -> None:
        """Put back a sealed data directory (before the engine starts)."""
        engine = self.postgres
        if engine.has_data(inst):
            return
        path = self.at_rest_path(inst.instance_id)
        src = crypt.reader(path, key, f"at-rest:{inst.instance_id}")
        try:
            engine.import_data(inst, src)
        finally:
            src.close()
        path.unlink()

    def seal_spool(self, inst: Instance, key: bytes | None) -> None:
        """WAL the archiver handed over, sealed into the archive (at shutdown:
        the backup work records it when the instance runs again)."""
        from strongroom.services.rds import backups

        files = archive.spooled(inst)
        if not files:
            return
        dest = backups.wal_dir(self.root, inst.instance_id)
        for path in files:
            backups.seal_file(path, dest / path.name, key, inst.instance_id)
            path.unlink()

    def close(self) -> None:
        """Stop every engine; seal each encrypted instance's files."""
        self.closing = True
        self.replication.close()
        self.endpoints.close()
        with self._lock:
            engine, attached, keys = self._postgres, set(self._attached), dict(self._keys)
            self._attached.clear()
            self._keys.clear()
        if engine is None:
            return
        for rid in sorted(attached):
            with contextlib.suppress(Exception):
                inst = engine.open(rid)
                engine.stop(inst, "fast")
                self.seal_spool(inst, keys.get(rid))
                if rid in keys:
                    self.seal_at_rest(inst, keys[rid])
        engine.close()


def make_supervisor(ctx: ResourceContext) -> Supervisor:
    return Supervisor(ctx.data_dir, ctx.options_for("rds.postgres"))
