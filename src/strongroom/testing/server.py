"""Run a real strongroom server process for tests: a free port, a temporary
data directory, known root credentials."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from strongroom.arn import unique_id


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StrongroomServer:
    """A strongroom server process. Use `start()`/`stop()` or as a context manager."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        auth: str = "sigv4",
        time_travel: bool = False,
        store_url: str | None = None,
        workers: int = 1,
        region: str = "us-east-1",
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="strongroom-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.auth = auth
        self.time_travel = time_travel
        self.store_url = store_url
        self.workers = workers
        self.region = region
        self.extra_args = extra_args or []
        self.env = env or {}
        self.access_key_id = unique_id("AKIA", 20)
        self.secret_access_key = secrets.token_urlsafe(30)[:40]
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "server.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> StrongroomServer:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "strongroom", "serve",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--auth", self.auth,
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.time_travel:
            cmd.append("--time-travel")
        if self.store_url:
            cmd += ["--store", self.store_url]
        cmd += self.extra_args
        env = dict(os.environ)
        for name in ("AWS_ENDPOINT_URL", "STRONGROOM_STORE"):
            env.pop(name, None)
        env.update(
            STRONGROOM_ROOT_ACCESS_KEY_ID=self.access_key_id,
            STRONGROOM_ROOT_SECRET_ACCESS_KEY=self.secret_access_key,
        )
        env.update(self.env)
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The log is the server's, in its private data dir: private as well.
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        # A process group of its own: `kill` takes the workers with the parent.
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, process_group=0
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"strongroom exited early:\n{self.read_log()[-4000:]}")
            try:  # unsigned: whichever account the server calls its default
                with urllib.request.urlopen(f"{self.endpoint}/_strongroom/health", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"strongroom did not start in {timeout}s:\n{self.read_log()[-4000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop with SIGTERM, as an operator would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL to the server's whole process group (the parent and every
        worker at once): no process gets a chance to clean up."""
        if self.process:
            try:  # even when the parent is gone: its workers may not be
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        self.process = None

    def pids(self) -> list[int]:
        """The server's processes (Linux): the parent first, then its workers."""
        if self.process is None:
            return []
        found = [self.process.pid]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            fields = stat.rpartition(")")[2].split()
            if int(fields[2]) == self.process.pid and int(proc.name) != self.process.pid:
                found.append(int(proc.name))
        return found

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StrongroomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- clients ----------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The server's health, signed by the root: with the services it serves."""
        from botocore.credentials import Credentials

        from strongroom.admin_client import signed_request

        req = signed_request(
            f"{self.endpoint}/_strongroom/health",
            "GET",
            None,
            Credentials(self.access_key_id, self.secret_access_key),
            self.region,
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def advance_clock(self, duration: str) -> dict[str, Any]:
        """Move a --time-travel server's clock forward (e.g. "8d"), signed
        by the default account's root as the endpoint requires."""
        from botocore.credentials import Credentials

        from strongroom.admin_client import signed_request

        req = signed_request(
            f"{self.endpoint}/_strongroom/clock",
            "POST",
            {"advance": duration},
            Credentials(self.access_key_id, self.secret_access_key),
            self.region,
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def aws_env(self) -> dict[str, str]:
        """Environment variables that point the aws CLI and SDKs at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def session(
        self,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
    ) -> Any:
        import boto3

        return boto3.Session(
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            aws_session_token=session_token,
            region_name=region or self.region,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` on this server (root credentials by default)."""
        from botocore.config import Config

        session = self.session(
            kwargs.pop("access_key_id", None),
            kwargs.pop("secret_access_key", None),
            kwargs.pop("session_token", None),
            kwargs.pop("region", None),
        )
        kwargs.setdefault("config", Config(retries={"max_attempts": 1}))
        return session.client(service, endpoint_url=self.endpoint, **kwargs)


def add_account(
    data_dir: str | os.PathLike[str], account: str, *, store_url: str | None = None
) -> dict[str, str]:
    """Give `account` a root access key in the state of `data_dir` (and
    `store_url`), as the README says to: start a server once with
    ``--account`` and the key chosen, then stop it. Returns the key as
    client keyword arguments (``access_key_id``, ``secret_access_key``), for
    `StrongroomServer.client` on a server started on that state afterwards."""
    key = {
        "access_key_id": unique_id("AKIA", 20),
        "secret_access_key": secrets.token_urlsafe(30)[:40],
    }
    setup = StrongroomServer(
        data_dir,
        store_url=store_url,
        extra_args=["--account", account],
        env={
            "STRONGROOM_ROOT_ACCESS_KEY_ID": key["access_key_id"],
            "STRONGROOM_ROOT_SECRET_ACCESS_KEY": key["secret_access_key"],
        },
    )
    setup.start()
    setup.stop()
    return key
