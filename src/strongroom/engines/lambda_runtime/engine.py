"""The Lambda execution engine: warm environments per function image, each a
process running awslambdaric against a Runtime API endpoint served by one
event-loop thread.

Threads: ``invoke`` runs on the caller's (worker) thread and blocks on the
invocation's future; the loop thread serves every environment's Runtime API
socket, reads their log pipes, watches their memory, and times them out.
The pool of environments is guarded by one lock, held only for bookkeeping.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import hashlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
import weakref
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from strongroom.engines.lambda_runtime import logs
from strongroom.engines.lambda_runtime.environment import Environment, Invocation, Outcome
from strongroom.engines.lambda_runtime.interpreters import Interpreters
from strongroom.engines.lambda_runtime.model import (
    Credentials,
    EngineClosed,
    FunctionImage,
    ImageLogSink,
    InvokeResult,
    LogSink,
    TooManyRequests,
)

_PAGE = os.sysconf("SC_PAGE_SIZE")
_MB = 1024 * 1024
#: Variables the runtime interface client would misread if a function set them.
_DROPPED = ("AWS_LAMBDA_MAX_CONCURRENCY", "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET")


class LambdaEngine:
    """Runs Lambda functions the way AWS does (see docs/lambda.md).

    ``freeze_after_s``: an idle environment is stopped (SIGSTOP) after this long
    (0: right after each invocation, as AWS does);
    ``retire_after_s``: and killed after this long (AWS keeps them 5-15 minutes).
    ``default_max_concurrency``: environments per image when the image names none.
    ``init_timeout_s``: how long a runtime may take to initialize (AWS: 10 s).
    ``credentials_margin_s``: an environment whose credentials expire within this
    is retired instead of being given another invocation.
    """

    def __init__(
        self,
        base_dir: Path,
        endpoint_url: str,
        *,
        interpreters: Mapping[str, str] | None = None,
        log_sink: LogSink | None = None,
        image_log_sink: ImageLogSink | None = None,
        freeze_after_s: float = 1.0,
        retire_after_s: float = 300.0,
        default_max_concurrency: int = 10,
        init_timeout_s: float = 10.0,
        credentials_margin_s: float = 120.0,
        memory_poll_s: float = 0.01,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.endpoint_url = endpoint_url
        self.freeze_after_s = freeze_after_s
        self.retire_after_s = retire_after_s
        self.default_max_concurrency = default_max_concurrency
        self.init_timeout_s = init_timeout_s
        self.credentials_margin_s = credentials_margin_s
        self.memory_poll_s = memory_poll_s
        self._interpreters = Interpreters(interpreters or {})
        (self.base_dir / "code").mkdir(parents=True, exist_ok=True)
        # Environments live under a directory of this engine's own (several
        # server processes may share a base dir); left-overs of dead owners
        # are reaped at start.
        self._envs_dir = self.base_dir / "envs" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if log_sink is None and image_log_sink is None:
            log_sink = logs.FileLogSink(self.base_dir / "logs")
        self.log_sink = log_sink
        #: Told the image too (the server's delivery into CloudWatch Logs);
        #: used instead of `log_sink` when given.
        self.image_log_sink = image_log_sink
        self._lock = threading.Lock()
        self._pools: dict[str, list[Environment]] = {}
        self._code_locks: dict[str, threading.Lock] = {}
        self._retired_keys: set[str] = set()
        self._unpacked: set[str] = set()
        self._closed = False
        self._watched: set[Environment] = set()
        self._sampling = False
        self._reap_stale()
        self._envs_dir.mkdir(parents=True)
        self.loop = _new_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name="lambda-runtime-api", daemon=True
        )
        self._thread.start()
        ref = weakref.ref(self)

        def _at_exit() -> None:
            engine = ref()
            if engine is not None:
                engine.close()

        self._at_exit = _at_exit
        atexit.register(_at_exit)

    # ---- the loop thread ----

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_later(0.25, self._housekeep)
        self.loop.run_forever()

    def watch(self, env: Environment) -> None:
        """Sample this environment's memory until it is idle (loop thread)."""
        self._watched.add(env)
        if not self._sampling:
            self._sampling = True
            self.loop.call_later(self.memory_poll_s, self._sample)

    def unwatch(self, env: Environment) -> None:
        self._watched.discard(env)

    def _sample(self) -> None:
        for env in list(self._watched):
            if env.dead or env.kill_reason is not None:
                self._watched.discard(env)
                continue
            rss = _rss(env.pid)
            if rss > env.peak_rss:
                env.peak_rss = rss
            if rss > env.image.memory_mb * _MB:
                env.kill("oom")
                self._watched.discard(env)
        if self._watched:
            self.loop.call_later(self.memory_poll_s, self._sample)
        else:
            self._sampling = False

    def _housekeep(self) -> None:
        if self._closed:
            return
        now = time.monotonic()
        wall = time.time()
        to_kill: list[Environment] = []
        with self._lock:
            for key, pool in list(self._pools.items()):
                for env in list(pool):
                    if env.busy or env.dead:
                        continue
                    idle = now - env.last_used
                    if (
                        env.retiring
                        or idle >= self.retire_after_s
                        or env.credentials_expire - wall < self.credentials_margin_s
                    ):
                        pool.remove(env)
                        to_kill.append(env)
                    elif idle >= self.freeze_after_s and not env.frozen and env.ready:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(env.pid, signal.SIGSTOP)
                        env.frozen = True
                if not pool:
                    del self._pools[key]
        for env in to_kill:
            env.kill("retired")
        self.loop.call_later(0.25, self._housekeep)

    def environment_gone(self, env: Environment) -> None:
        """An environment's process ended (loop thread)."""
        with self._lock:
            code_dir = None if env.busy else self._forget(env)
        leftover = env.events
        env.events = []
        self.loop.run_in_executor(None, self._after_gone, env, code_dir, leftover)

    def _after_gone(self, env: Environment, code_dir: Path | None, leftover: list) -> None:
        self._remove_env_dir(env.id)
        if code_dir is not None:
            shutil.rmtree(code_dir, ignore_errors=True)
        if leftover:  # what it wrote after its last invocation
            with contextlib.suppress(Exception):
                self._emit(env, leftover)

    def _forget(self, env: Environment) -> Path | None:
        """Drop an environment from its pool (with the lock held); the code dir
        to remove if its image was retired and this was its last environment."""
        pool = self._pools.get(env.image.key)
        if pool is not None and env in pool:
            pool.remove(env)
            if not pool:
                del self._pools[env.image.key]
        key = env.image.key
        if key in self._retired_keys and key not in self._pools:
            self._retired_keys.discard(key)
            self._unpacked.discard(key)
            return self._code_dir(key)
        return None

    def _remove_env_dir(self, env_id: str) -> None:
        shutil.rmtree(self._envs_dir / env_id, ignore_errors=True)

    # ---- invoking (worker threads) ----

    def invoke(
        self,
        image: FunctionImage,
        payload: bytes,
        *,
        request_id: str,
        invoked_arn: str,
        credentials: Callable[[], Credentials],
        client_context: str | None = None,
        trace_id: str | None = None,
        cognito_identity: str | None = None,
    ) -> InvokeResult:
        """Run one invocation to its end (blocking). ``client_context`` is the
        JSON text (the service decodes Invoke's base64); ``credentials`` is
        called only when a new environment starts.

        Raises TooManyRequests (every environment the image may have is busy),
        UnsupportedRuntime, EngineClosed; a bad zip raises zipfile.BadZipFile."""
        if trace_id is None:
            trace_id = _new_trace_id()
        context = _header_safe(client_context) if client_context is not None else None
        for _attempt in range(3):
            env = self._acquire(image, credentials)
            inv = Invocation(
                request_id=request_id,
                payload=payload,
                invoked_arn=invoked_arn,
                client_context=context,
                cognito_identity=(
                    _header_safe(cognito_identity) if cognito_identity is not None else None
                ),
                trace_id=_header_safe(trace_id),
                timeout_s=float(image.timeout_s),
            )
            try:
                self.loop.call_soon_threadsafe(env.dispatch, inv)
                outcome = self._wait(env, inv)
                if not outcome.retry:
                    return self._result(env, image, request_id, outcome)
            finally:
                self._release(env)
        raise RuntimeError("no execution environment could be started")  # pragma: no cover

    def _wait(self, env: Environment, inv: Invocation) -> Outcome:
        guard = inv.timeout_s + self.init_timeout_s + 30.0
        try:
            return inv.future.result(timeout=guard)
        except concurrent.futures.TimeoutError:
            # The loop should have timed it out; make sure nothing hangs.
            self.loop.call_soon_threadsafe(env._on_timeout, inv)
            return inv.future.result(timeout=10.0)

    def _result(
        self, env: Environment, image: FunctionImage, request_id: str, outcome: Outcome
    ) -> InvokeResult:
        events = outcome.events
        now = logs.now_ms()
        used = self._memory_used_mb(env, image, outcome)
        events.append((now, logs.end_line(request_id)))
        events.append(
            (
                now,
                logs.report_line(
                    request_id,
                    outcome.duration_ms,
                    image.memory_mb,
                    used,
                    outcome.init_ms,
                    status=outcome.status,
                    error_type=outcome.report_error_type,
                ),
            )
        )
        try:
            self._emit(env, events)
        except Exception:  # a failing sink must not fail the invocation
            pass
        return InvokeResult(
            payload=outcome.payload,
            function_error=outcome.function_error,
            log_text="".join(message for _, message in events),
            executed_version=image.version,
            duration_ms=outcome.duration_ms,
            init_duration_ms=outcome.init_ms,
            error_type=outcome.error_type,
        )

    def _emit(self, env: Environment, events: list) -> None:
        if self.image_log_sink is not None:
            self.image_log_sink(env.image, env.log_group, env.log_stream, events)
        elif self.log_sink is not None:
            self.log_sink(env.log_group, env.log_stream, events)

    def _memory_used_mb(self, env: Environment, image: FunctionImage, outcome: Outcome) -> int:
        if env.kill_reason == "oom":
            return image.memory_mb
        peak = max(_peak_rss(env.pid), env.peak_rss)
        return min(image.memory_mb, max(1, round(peak / _MB)))

    def _acquire(self, image: FunctionImage, credentials: Callable[[], Credentials]) -> Environment:
        wall = time.time()
        with self._lock:
            if self._closed:
                raise EngineClosed("the Lambda engine is closed")
            self._retired_keys.discard(image.key)
            pool = self._pools.setdefault(image.key, [])
            for env in list(reversed(pool)):  # the most recently used first
                if env.busy or env.retiring or env.dead or env.kill_reason is not None:
                    continue
                if env.credentials_expire - wall < self.credentials_margin_s:
                    # Its credentials are about to expire: it takes no more work.
                    env.retiring = True
                    pool.remove(env)
                    self.loop.call_soon_threadsafe(env.kill, "retired")
                    continue
                env.busy = True
                if env.frozen:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(env.pid, signal.SIGCONT)
                    env.frozen = False
                return env
            limit = image.max_concurrency or self.default_max_concurrency
            live = [e for e in pool if e.kill_reason is None and not e.retiring]
            if len(live) >= limit:
                reason = (
                    "ReservedFunctionConcurrentInvocationLimitExceeded"
                    if image.max_concurrency
                    else "ConcurrentInvocationLimitExceeded"
                )
                raise TooManyRequests("Rate Exceeded.", reason=reason)
            env_id = uuid.uuid4().hex
            stream = f"{datetime.now(UTC):%Y/%m/%d}/[{image.version}]{env_id}"
            env = Environment(self, image, env_id, stream)
            env.busy = True
            pool.append(env)
        try:
            self._spawn(env, image, credentials)
        except BaseException:
            with self._lock:
                env.busy = False
                self._forget(env)
            if env.sock is not None:
                env.sock.close()
            raise
        return env

    def _release(self, env: Environment) -> None:
        code_dir = None
        with self._lock:
            env.busy = False
            env.last_used = time.monotonic()
            gone = env.dead or env.kill_reason is not None
            if gone:
                code_dir = self._forget(env)
            elif self.freeze_after_s <= 0 and not env.retiring and env.ready:
                # Frozen as soon as it has answered, as AWS does.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(env.pid, signal.SIGSTOP)
                env.frozen = True
        if not gone and env.retiring:  # it leaves its pool when its process ends
            self.loop.call_soon_threadsafe(env.kill, "retired")
        if code_dir is not None:
            shutil.rmtree(code_dir, ignore_errors=True)

    # ---- starting an environment (worker thread) ----

    def _code_dir(self, key: str) -> Path:
        return self.base_dir / "code" / hashlib.sha256(key.encode()).hexdigest()[:32]

    def _unpack(self, image: FunctionImage) -> Path:
        target = self._code_dir(image.key)
        with self._lock:
            lock = self._code_locks.setdefault(target.name, threading.Lock())
        with lock:
            if target.is_dir():
                with self._lock:
                    self._unpacked.add(image.key)
                return target
            staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
            staging.mkdir(parents=True)
            try:
                with zipfile.ZipFile(image.code_zip) as archive:
                    archive.extractall(staging)
                    for info in archive.infolist():
                        mode = (info.external_attr >> 16) & 0o777
                        if mode and not info.is_dir():
                            with contextlib.suppress(OSError):
                                (staging / info.filename).chmod(mode | 0o400)
                try:
                    staging.rename(target)
                except OSError:
                    if not target.is_dir():  # another process unpacked it first
                        raise
                    shutil.rmtree(staging, ignore_errors=True)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            with self._lock:
                self._unpacked.add(image.key)
            return target

    def _spawn(
        self, env: Environment, image: FunctionImage, credentials: Callable[[], Credentials]
    ) -> None:
        code_dir = self._unpack(image)
        interpreter = self._interpreters.for_runtime(image.runtime)
        creds = credentials()
        expiration = creds.expiration
        if expiration.tzinfo is None:  # naive: UTC, as STS reports it
            expiration = expiration.replace(tzinfo=UTC)
        env.credentials_expire = expiration.timestamp()
        env_dir = self._envs_dir / env.id
        tmp = env_dir / "tmp"
        tmp.mkdir(parents=True)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        env.sock = sock
        out_r, out_w = os.pipe()
        tel_r, tel_w = os.pipe()
        variables = self._variables(
            image, env, interpreter.runtime_dir, code_dir, creds, tmp, tel_w
        )
        try:
            process = subprocess.Popen(
                [interpreter.path, "-m", "awslambdaric", image.handler],
                cwd=code_dir,
                env=variables,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(tel_w,),
                start_new_session=True,
            )
        except BaseException:
            for fd in (out_r, out_w, tel_r, tel_w):
                os.close(fd)
            sock.close()
            raise
        finally:
            del variables  # the credentials are not kept around
        os.close(out_w)
        os.close(tel_w)
        os.set_blocking(out_r, False)
        os.set_blocking(tel_r, False)
        env.spawned_at = time.perf_counter()
        env.process = process
        env.out_fd, env.tel_fd = out_r, tel_r
        try:
            env.pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError):  # before Linux 5.3: exits are polled
            env.pidfd = -1
        # A backstop only: the memory watcher kills at the function's memory
        # size (resident set), as the platform's OOM killer does.
        limit = (image.memory_mb * 2 + 1024) * _MB
        with contextlib.suppress(OSError, ValueError):
            resource.prlimit(process.pid, resource.RLIMIT_AS, (limit, limit))
        (env_dir / "pid").write_text(str(process.pid))
        init_start = logs.init_start_line(image.runtime, interpreter.version, image.region)
        self.loop.call_soon_threadsafe(env.attach, interpreter.note, init_start)

    def _variables(
        self,
        image: FunctionImage,
        env: Environment,
        runtime_dir: str,
        code_dir: Path,
        creds: Credentials,
        tmp: Path,
        telemetry_fd: int,
    ) -> dict[str, str]:
        library_path = f"{code_dir}:{code_dir}/lib"
        if os.environ.get("LD_LIBRARY_PATH"):
            library_path += ":" + os.environ["LD_LIBRARY_PATH"]
        variables = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "LD_LIBRARY_PATH": library_path,
            "TMPDIR": str(tmp),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }
        variables.update(image.environment)
        for name in _DROPPED:
            variables.pop(name, None)
        variables.update(
            {
                "_HANDLER": image.handler,
                "AWS_REGION": image.region,
                "AWS_DEFAULT_REGION": image.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{image.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": image.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(image.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": image.version,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": env.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": env.log_stream,
                "AWS_ACCESS_KEY_ID": creds.access_key_id,
                "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
                "AWS_SESSION_TOKEN": creds.session_token,
                "AWS_LAMBDA_RUNTIME_API": env.api_address,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": runtime_dir,
                "TZ": ":UTC",
                "_LAMBDA_TELEMETRY_LOG_FD": str(telemetry_fd),
            }
        )
        if image.log_format == "JSON":
            variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            variables["AWS_LAMBDA_LOG_LEVEL"] = image.application_log_level or "INFO"
        return variables

    # ---- retiring and closing ----

    def retire(self, key_prefix: str) -> None:
        """Drop the environments of images whose key starts with ``key_prefix``
        (a deleted or updated function); busy ones go when their invocation ends."""
        doomed: list[Environment] = []
        with self._lock:
            for key, pool in list(self._pools.items()):
                if not key.startswith(key_prefix):
                    continue
                self._retired_keys.add(key)
                for env in list(pool):
                    env.retiring = True
                    if not env.busy:
                        pool.remove(env)
                        doomed.append(env)
                if not pool:
                    del self._pools[key]
            # Images with no environment left lose their unpacked code now.
            unused = [
                key
                for key in self._unpacked
                if key.startswith(key_prefix)
                and key not in self._pools
                and not any(env.image.key == key for env in doomed)
            ]
            for key in unused:
                self._unpacked.discard(key)
                self._retired_keys.discard(key)
        for key in unused:
            shutil.rmtree(self._code_dir(key), ignore_errors=True)
        for env in doomed:
            self.loop.call_soon_threadsafe(env.kill, "retired")

    def environments(self, key: str) -> int:
        """How many live environments an image has (for tests and metrics)."""
        with self._lock:
            return sum(1 for e in self._pools.get(key, ()) if e.kill_reason is None)

    def close(self) -> None:
        """Kill every environment (their process groups) and stop the loop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            envs = [env for pool in self._pools.values() for env in pool]
            self._pools.clear()
        atexit.unregister(self._at_exit)

        async def shutdown() -> None:
            for env in envs:
                env.kill("closed")  # invocations in flight end with EngineClosed
                env._shut(None)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        for env in envs:  # whatever the loop could not do
            if env.process is not None and env.process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(env.process.pid, signal.SIGKILL)
        for env in envs:
            if env.process is not None:
                with contextlib.suppress(Exception):
                    env.process.wait(timeout=5)
            if env.sock is not None:
                env.sock.close()
            self._remove_env_dir(env.id)
        with contextlib.suppress(Exception):
            self.loop.close()
        shutil.rmtree(self._envs_dir, ignore_errors=True)

    def _reap_stale(self) -> None:
        """Kill environments a previous engine over this base dir left behind
        (a server that died without closing leaves frozen processes)."""
        code_root = str(self.base_dir / "code")
        for owner in (self.base_dir / "envs").glob("*-*"):
            with contextlib.suppress(ValueError):
                if _alive(int(owner.name.split("-", 1)[0])):
                    continue
            for env_dir in owner.iterdir():
                try:
                    pid = int((env_dir / "pid").read_text())
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except (OSError, ValueError):
                    continue
                if cwd.startswith(code_root) and b"awslambdaric" in cmdline:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            shutil.rmtree(owner, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        try:
            text = os.read(fd, 4096)
        finally:
            os.close(fd)
        at = text.index(b"VmHWM:")
        return int(text[at + 6 : text.index(b"kB", at)]) * 1024
    except (OSError, ValueError):
        return 0


def _new_trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )


def _header_safe(value: str) -> str:
    """A header value on one line: JSON is re-serialized compactly, anything
    else has its line breaks replaced."""
    if "\r" not in value and "\n" not in value:
        return value
    try:
        return json.dumps(json.loads(value), separators=(",", ":"))
    except ValueError:
        return value.replace("\r", " ").replace("\n", " ")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
