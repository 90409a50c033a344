"""The Lambda execution engine with real processes running AWS's runtime
interface client (awslambdaric) over real function code."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.engines.lambda_runtime import (
    Credentials,
    EngineClosed,
    FileLogSink,
    FunctionImage,
    LambdaEngine,
    TooManyRequests,
    UnsupportedRuntime,
)

ACCOUNT = "123456789012"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSecretKeyValue"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123456789"
ENDPOINT = "http://127.0.0.1:45999"

HANDLERS = {
    "basic": """
        import os
        COUNT = 0
        def lambda_handler(event, context):
            global COUNT
            COUNT += 1
            print("invocation", COUNT)
            return {
                "count": COUNT,
                "event": event,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "invoked_function_arn": context.invoked_function_arn,
                "remaining": context.get_remaining_time_in_millis(),
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "client_context": (
                    context.client_context.custom if context.client_context else None
                ),
                "cognito_identity_id": context.identity.cognito_identity_id,
                "pid": os.getpid(),
            }
    """,
    "environ": """
        import os
        def lambda_handler(event, context):
            return dict(os.environ)
    """,
    "raises": """
        class RotationError(Exception):
            pass
        def helper():
            raise RotationError("testSecret failed: cannot log in")
        def lambda_handler(event, context):
            print("about to fail")
            helper()
    """,
    "import_error": """
        import module_that_is_not_there
        def lambda_handler(event, context):
            return 1
    """,
    "syntax_error": """
        def lambda_handler(event, context)
            return 1
    """,
    "no_handler": """
        def other(event, context):
            return 1
    """,
    "slow": """
        import time
        STARTED = 0
        def lambda_handler(event, context):
            global STARTED
            STARTED += 1
            time.sleep(event.get("sleep", 0))
            return {"started": STARTED}
    """,
    "memory": """
        import time
        def lambda_handler(event, context):
            hoard = []
            for _ in range(event["mb"]):
                hoard.append(b"\\x01" * (1 << 20))
                time.sleep(0.002)
            return len(hoard)
    """,
    "exits": """
        import os
        def lambda_handler(event, context):
            print("leaving")
            os._exit(3)
    """,
    "logging": """
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def lambda_handler(event, context):
            logger.info("via logging %s", "module")
            print("line one\\nline two")
            return "ok"
    """,
    "boto": """
        import boto3
        client = boto3.client("secretsmanager")
        def lambda_handler(event, context):
            credentials = client._request_signer._credentials
            return {
                "endpoint": client.meta.endpoint_url,
                "region": client.meta.region_name,
                "access_key": credentials.access_key,
            }
    """,
    "big": """
        def lambda_handler(event, context):
            return "x" * (7 * 1024 * 1024)
    """,
}


def _zip(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("lambda_function.py", textwrap.dedent(HANDLERS[name]))
    return path


def creds(expires_in: timedelta = timedelta(hours=1)) -> Credentials:
    return Credentials("ASIAEXAMPLEKEY000001", SECRET, TOKEN, datetime.now(UTC) + expires_in)


class Functions:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.zips: dict[str, Path] = {}

    def image(self, name: str, **overrides) -> FunctionImage:
        if name not in self.zips:
            self.zips[name] = _zip(self.tmp, name)
        function_name = overrides.pop("function_name", f"fn-{name}")
        fields = {
            "key": f"{function_name}:$LATEST:1",
            "function_name": function_name,
            "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function_name}",
            "version": "$LATEST",
            "runtime": "python3.11",
            "handler": "lambda_function.lambda_handler",
            "code_zip": self.zips[name],
            "memory_mb": 128,
            "timeout_s": 3.0,
            "environment": {},
            "region": "us-east-1",
            "account": ACCOUNT,
        }
        fields.update(overrides)
        return FunctionImage(**fields)


@pytest.fixture(scope="module")
def functions(tmp_path_factory) -> Functions:
    return Functions(tmp_path_factory.mktemp("zips"))


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[LambdaEngine]:
    eng = LambdaEngine(
        tmp_path_factory.mktemp("engine"),
        ENDPOINT,
        interpreters={"python3.12": sys.executable + "-no-such-interpreter"},
    )
    yield eng
    eng.close()


def invoke(engine: LambdaEngine, image: FunctionImage, event=None, **kwargs):
    calls = kwargs.pop("calls", None)
    given = kwargs.pop("credentials", None)

    def provide() -> Credentials:
        if calls is not None:
            calls.append(1)
        return given or creds()

    return engine.invoke(
        image,
        json.dumps(event if event is not None else {}).encode(),
        request_id=kwargs.pop("request_id", str(uuid.uuid4())),
        invoked_arn=kwargs.pop("invoked_arn", image.function_arn),
        credentials=provide,
        **kwargs,
    )


REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]+)\tDuration: \d+\.\d\d ms\t"
    r"Billed Duration: \d+ ms\tMemory Size: (?P<mem>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t"
    r"(?:Init Duration: \d+\.\d\d ms\t)?(?P<rest>.*)\n$"
)


def test_handler_result_and_context(engine, functions) -> None:
    image = functions.image("basic", function_name="ctx")
    request_id = str(uuid.uuid4())
    qualified = image.function_arn + ":prod"
    result = invoke(
        engine,
        image,
        {"hello": "world"},
        request_id=request_id,
        invoked_arn=qualified,
        client_context=json.dumps(
            {"custom": {"caller": "test", "city": "Łódź"}, "env": {}, "client": {}},
            ensure_ascii=False,
        ),
        cognito_identity=json.dumps(
            {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
        ),
    )
    assert result.function_error is None
    body = json.loads(result.payload)
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "ctx"
    assert body["function_version"] == "$LATEST"
    assert body["memory_limit_in_mb"] == "128"
    assert body["aws_request_id"] == request_id
    assert body["invoked_function_arn"] == qualified
    assert 2000 < body["remaining"] <= 3000
    assert body["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["log_stream_name"])
    assert body["client_context"] == {"caller": "test", "city": "Łódź"}
    assert body["cognito_identity_id"] == "us-east-1:abc"
    assert result.executed_version == "$LATEST"
    assert result.init_duration_ms is not None and result.init_duration_ms > 0


def test_start_end_report_lines(engine, functions) -> None:
    image = functions.image("basic", function_name="lines")
    request_id = str(uuid.uuid4())
    cold = invoke(engine, image, request_id=request_id)
    lines = cold.log_text.splitlines(keepends=True)
    assert lines[0].startswith("INIT_START Runtime Version: python:3.11")
    assert lines[1] == "strongroom: runtime python3.11 runs on Python " + ".".join(
        map(str, sys.version_info[:3])
    ) + " (server interpreter)\n" or sys.version_info[:2] != (3, 11)
    assert f"START RequestId: {request_id} Version: $LATEST\n" in lines
    assert "invocation 1\n" in lines
    assert lines[-2] == f"END RequestId: {request_id}\n"
    report = REPORT.match(lines[-1])
    assert report and report["id"] == request_id and report["mem"] == "128"
    assert 5 <= int(report["used"]) <= 128
    assert "Init Duration: " in lines[-1]
    warm = invoke(engine, image)
    assert warm.log_text.startswith("START RequestId: ")
    assert "Init Duration" not in warm.log_text and warm.init_duration_ms is None
    assert REPORT.match(warm.log_text.splitlines(keepends=True)[-1])


def test_default_sink_writes_the_log_stream(engine, functions) -> None:
    image = functions.image("basic", function_name="sunk")
    result = invoke(engine, image)
    stream = json.loads(result.payload)["log_stream_name"]
    assert isinstance(engine.log_sink, FileLogSink)
    events = engine.log_sink.read("/aws/lambda/sunk", stream)
    assert "".join(message for _, message in events) == result.log_text
    assert all(abs(ts - time.time() * 1000) < 60_000 for ts, _ in events)


def test_warm_reuse_then_retire_gives_a_new_environment(engine, functions) -> None:
    image = functions.image("basic", function_name="warm")
    first = json.loads(invoke(engine, image).payload)
    second = json.loads(invoke(engine, image).payload)
    assert (first["count"], second["count"]) == (1, 2)
    assert first["pid"] == second["pid"]
    engine.retire("warm:")
    time.sleep(0.2)
    third = json.loads(invoke(engine, image).payload)
    assert third["count"] == 1 and third["pid"] != first["pid"]
    _gone(first["pid"])


def test_changed_image_key_gets_new_environments(engine, functions) -> None:
    old = functions.image("basic", function_name="rev")
    new = functions.image("basic", function_name="rev", key="rev:$LATEST:2", memory_mb=256)
    assert json.loads(invoke(engine, old).payload)["count"] == 1
    body = json.loads(invoke(engine, new).payload)
    assert body["count"] == 1 and body["memory_limit_in_mb"] == "256"


def test_function_error_shape(engine, functions) -> None:
    image = functions.image("raises")
    request_id = str(uuid.uuid4())
    result = invoke(engine, image, request_id=request_id)
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert body["errorType"] == "RotationError"
    assert body["errorMessage"] == "testSecret failed: cannot log in"
    assert body["requestId"] == request_id
    assert any("helper()" in frame for frame in body["stackTrace"])
    assert any("lambda_function.py" in frame for frame in body["stackTrace"])
    assert result.error_type == "RotationError"
    assert "about to fail\n" in result.log_text
    assert "[ERROR] RotationError: testSecret failed: cannot log in" in result.log_text
    # The environment survives a function error.
    again = invoke(engine, image)
    assert again.init_duration_ms is None


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        (
            "import_error",
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'module_that_is_not_there'",
        ),
        (
            "no_handler",
            "Runtime.HandlerNotFound",
            "Handler 'lambda_handler' missing on module 'lambda_function'",
        ),
        ("syntax_error", "Runtime.UserCodeSyntaxError", None),
    ],
)
def test_init_errors(engine, functions, name, error_type, message) -> None:
    image = functions.image(name)
    started = time.monotonic()
    result = invoke(engine, image)
    assert time.monotonic() - started < 5
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert body["errorType"] == error_type
    if message:
        assert body["errorMessage"] == message
    else:
        assert body["errorMessage"].startswith("Syntax error in module 'lambda_function'")
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert "INIT_REPORT Init Duration: " in result.log_text
    assert f"Status: error\tError Type: {error_type}" in result.log_text
    assert f"[ERROR] {error_type}" in result.log_text
    # Every invoke retries the init (a new environment each time).
    assert json.loads(invoke(engine, image).payload)["errorType"] == error_type


def test_timeout_kills_and_next_invoke_is_fresh(engine, functions) -> None:
    image = functions.image("slow", timeout_s=1.0)
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    result = invoke(engine, image, {"sleep": 30}, request_id=request_id)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert list(body) == ["errorMessage"]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
        + re.escape(request_id)
        + r" Task timed out after 1\.00 seconds",
        body["errorMessage"],
    )
    assert body["errorMessage"] + "\n" in result.log_text
    assert "Status: timeout" in result.log_text.splitlines()[-1]
    assert result.duration_ms >= 1000
    after = invoke(engine, image, {"sleep": 0})
    assert after.function_error is None
    assert json.loads(after.payload) == {"started": 1}  # a fresh environment
    assert after.init_duration_ms is not None


def test_memory_limit(engine, functions) -> None:
    image = functions.image("memory", timeout_s=20.0)
    fits = invoke(engine, image, {"mb": 40})
    assert fits.function_error is None and json.loads(fits.payload) == 40
    request_id = str(uuid.uuid4())
    result = invoke(engine, image, {"mb": 400}, request_id=request_id)
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }
    assert result.error_type == "Runtime.ExitError"
    last = result.log_text.splitlines()[-1]
    assert "Max Memory Used: 128 MB" in last
    assert "Status: error\tError Type: Runtime.OutOfMemory" in last
    assert (
        f"RequestId: {request_id} Error: Runtime exited with error: signal: killed\n"
        "Runtime.ExitError\n"
    ) in result.log_text
    assert invoke(engine, image, {"mb": 1}).function_error is None


def test_process_exit_mid_invoke(engine, functions) -> None:
    image = functions.image("exits")
    request_id = str(uuid.uuid4())
    result = invoke(engine, image, request_id=request_id)
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    assert "leaving\n" in result.log_text


def test_environment_variables_and_credentials(engine, functions) -> None:
    image = functions.image(
        "environ",
        environment={"APP_SETTING": "on", "AWS_REGION": "eu-north-1", "TZ": "Europe/Paris"},
        region="eu-west-1",
        memory_mb=256,
    )
    result = invoke(engine, image)
    env = json.loads(result.payload)
    assert env["APP_SETTING"] == "on"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"  # reserved wins
    assert env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn-environ"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn-environ"
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert Path(env["LAMBDA_TASK_ROOT"]).joinpath("lambda_function.py").is_file()
    assert Path(env["LAMBDA_RUNTIME_DIR"]).joinpath("awslambdaric").is_dir()
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAEXAMPLEKEY000001"
    assert env["AWS_SECRET_ACCESS_KEY"] == SECRET
    assert env["AWS_SESSION_TOKEN"] == TOKEN
    assert "_LAMBDA_TELEMETRY_LOG_FD" not in env  # the runtime client takes it
    assert "_X_AMZN_TRACE_ID" in env
    # The server's own environment does not leak in.
    assert "PYTHONPATH" not in env or env["PYTHONPATH"] != os.environ.get("PYTHONPATH")
    # The credentials reach the function, never the engine's files.
    for path in engine.base_dir.rglob("*"):
        if path.is_file() and not path.name.endswith((".py", ".pyc")):
            data = path.read_bytes()
            assert SECRET.encode() not in data and TOKEN.encode() not in data, path


def test_boto3_in_a_function_calls_strongroom_and_fits_in_128_mb(engine, functions) -> None:
    result = invoke(engine, functions.image("boto"))
    assert json.loads(result.payload) == {
        "endpoint": ENDPOINT,
        "region": "us-east-1",
        "access_key": "ASIAEXAMPLEKEY000001",
    }
    used = int(REPORT.match(result.log_text.splitlines(keepends=True)[-1])["used"])
    assert used < 100


def test_logging_module_and_multiline_stdout(engine, functions) -> None:
    image = functions.image("logging")
    request_id = str(uuid.uuid4())
    result = invoke(engine, image, request_id=request_id)
    assert result.payload == b'"ok"'
    assert re.search(
        r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t"
        + request_id
        + r"\tvia logging module\n",
        result.log_text,
    )
    assert "line one\nline two\n" in result.log_text


def test_response_too_large(engine, functions) -> None:
    result = invoke(engine, functions.image("big"))
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "Response payload size exceeded maximum allowed payload size" in body["errorMessage"]


def test_concurrency_is_bounded(engine, functions) -> None:
    image = functions.image("slow", function_name="bounded", max_concurrency=1)
    invoke(engine, image, {"sleep": 0})  # warm
    done: list = []
    worker = threading.Thread(target=lambda: done.append(invoke(engine, image, {"sleep": 1.0})))
    worker.start()
    time.sleep(0.3)
    with pytest.raises(TooManyRequests) as caught:
        invoke(engine, image, {"sleep": 0})
    assert caught.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    worker.join()
    assert done and done[0].function_error is None
    assert invoke(engine, image, {"sleep": 0}).function_error is None
    # Without a reserved limit, a second environment starts for a concurrent invoke.
    free = functions.image("slow", function_name="unbounded")
    worker = threading.Thread(target=lambda: done.append(invoke(engine, free, {"sleep": 0.8})))
    worker.start()
    time.sleep(0.3)
    assert invoke(engine, free, {"sleep": 0}).function_error is None
    worker.join()
    assert engine.environments(free.key) == 2


def test_unusable_configured_interpreter_falls_back_and_says_so(engine, functions) -> None:
    image = functions.image("basic", function_name="py312", runtime="python3.12")
    result = invoke(engine, image)
    assert result.function_error is None
    version = ".".join(map(str, sys.version_info[:3]))
    assert (
        f"strongroom: runtime python3.12 runs on Python {version} (server interpreter; "
        f"{sys.executable}-no-such-interpreter cannot import awslambdaric)\n" in result.log_text
    )


def test_configured_interpreter_is_used(tmp_path, functions) -> None:
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    eng = LambdaEngine(tmp_path / "engine", ENDPOINT, interpreters={runtime: sys.executable})
    try:
        result = invoke(eng, functions.image("basic", function_name="own", runtime=runtime))
    finally:
        eng.close()
    version = ".".join(map(str, sys.version_info[:3]))
    assert f"strongroom: runtime {runtime} runs on Python {version} ({sys.executable})\n" in (
        result.log_text
    )


def test_credentials_fetched_only_for_new_environments(engine, functions) -> None:
    image = functions.image("basic", function_name="creds")
    calls: list = []
    invoke(engine, image, calls=calls)
    invoke(engine, image, calls=calls)
    assert len(calls) == 1
    # Credentials about to expire: the environment is not reused.
    short = functions.image("basic", function_name="short-creds")
    calls = []
    soon = creds(timedelta(seconds=30))
    first = json.loads(invoke(engine, short, calls=calls, credentials=soon).payload)
    second = json.loads(invoke(engine, short, calls=calls, credentials=soon).payload)
    assert len(calls) == 2 and first["pid"] != second["pid"]
    _gone(first["pid"])  # retired, and not counted against the concurrency limit
    bounded = functions.image("basic", function_name="short-creds-1", max_concurrency=1)
    invoke(engine, bounded, credentials=soon)
    assert invoke(engine, bounded, credentials=soon).function_error is None


def test_warm_latency(engine, functions) -> None:
    image = functions.image("basic", function_name="latency")
    invoke(engine, image)
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        invoke(engine, image)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    print(
        f"\nwarm invoke through the engine: p50 {statistics.median(samples):.3f} ms, "
        f"p99 {samples[197]:.3f} ms"
    )
    assert statistics.median(samples) < 50


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _stopped(pid: int) -> None:
    """The process is stopped (SIGSTOP takes effect when it is next scheduled)."""
    deadline = time.monotonic() + 1.0
    while _state(pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) == "T"


def _gone(pid: int, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _state(pid) in ("gone", "Z"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still {_state(pid)}")


def test_freeze_retire_and_close(tmp_path, functions) -> None:
    eng = LambdaEngine(tmp_path / "engine", ENDPOINT, freeze_after_s=0.3, retire_after_s=2.0)
    try:
        image = functions.image("basic", function_name="idle")
        pid = json.loads(invoke(eng, image).payload)["pid"]
        time.sleep(0.9)
        assert _state(pid) == "T"  # frozen
        body = json.loads(invoke(eng, image).payload)
        assert body["pid"] == pid and body["count"] == 2  # thawed, warm
        time.sleep(2.3)
        _gone(pid, within=1.5)  # retired after idling
        assert eng.environments(image.key) == 0
        # close() kills every environment, busy, idle or frozen.
        busy_image = functions.image("slow", function_name="closing", timeout_s=30.0)
        frozen_pid = json.loads(invoke(eng, image).payload)["pid"]
        time.sleep(0.9)
        assert _state(frozen_pid) == "T"
        outcome: list = []

        def run() -> None:
            try:
                outcome.append(invoke(eng, busy_image, {"sleep": 20}))
            except Exception as error:
                outcome.append(error)

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)
        children = _children_under(tmp_path / "engine")
        assert frozen_pid in children and len(children) == 2
    finally:
        eng.close()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], EngineClosed)
    for child in children:
        _gone(child)
    assert not list((tmp_path / "engine" / "envs").iterdir())


def test_freeze_right_after_each_invocation(tmp_path, functions) -> None:
    eng = LambdaEngine(tmp_path / "engine", ENDPOINT, freeze_after_s=0)
    try:
        image = functions.image("basic", function_name="freeze-now")
        first = json.loads(invoke(eng, image).payload)
        _stopped(first["pid"])
        second = json.loads(invoke(eng, image).payload)
        assert second["pid"] == first["pid"] and second["count"] == 2
        _stopped(first["pid"])
    finally:
        eng.close()
    _gone(first["pid"])


def test_a_new_engine_reaps_what_a_dead_one_left(tmp_path, functions) -> None:
    """A server killed without closing leaves (frozen) environments behind; the
    next engine over the same base dir kills them."""
    base = tmp_path / "engine"
    script = textwrap.dedent(
        f"""
        import os, json, uuid, signal, sys, time
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        from strongroom.engines.lambda_runtime import Credentials, FunctionImage, LambdaEngine
        eng = LambdaEngine(Path({str(base)!r}), "http://127.0.0.1:1", freeze_after_s=0.1)
        image = FunctionImage(**json.loads(sys.argv[1]) | {{"code_zip": Path(sys.argv[2])}})
        c = Credentials("AK", "SK", "TK", datetime.now(UTC) + timedelta(hours=1))
        r = eng.invoke(image, b"{{}}", request_id=str(uuid.uuid4()),
                       invoked_arn=image.function_arn, credentials=lambda: c)
        print(json.loads(r.payload)["pid"], flush=True)
        time.sleep(0.6)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    image = functions.image("basic", function_name="orphan")
    fields = {k: v for k, v in image.__dict__.items() if k != "code_zip"}
    fields["environment"] = dict(image.environment)
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(fields), str(image.code_zip)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")},
        check=False,
    )
    orphan = int(done.stdout.split()[0])
    assert _state(orphan) == "T"  # frozen, and its server is gone
    LambdaEngine(base, ENDPOINT).close()
    deadline = time.monotonic() + 3
    while _state(orphan) != "gone" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(orphan) in ("gone", "Z")


def test_unsupported_runtime(engine, functions) -> None:
    image = functions.image("basic", function_name="node", runtime="nodejs20.x")
    with pytest.raises(UnsupportedRuntime):
        invoke(engine, image)
    assert engine.environments(image.key) == 0


def _children_under(base: Path) -> list[int]:
    """This process's children whose working directory is under ``base``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _parent(int(entry)) != os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd.startswith(str(base)):
            found.append(int(entry))
    return found


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1
