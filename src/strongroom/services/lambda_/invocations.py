"""Running a function: the execution role's credentials, the image the
engine builds environments from, and the result as Invoke reports it.

The function runs while its caller holds only a read transaction (Invoke is
``writes=False``): a function that calls back into this server (STS, Secrets
Manager's PutSecretValue during a rotation) must find the write lock free.
What an invocation writes itself (a new session of its role) is written in a
transaction of its own (`side_write`), unless the caller's transaction is
already a write one (a job), which then holds the lock and is used.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from strongroom.encoding import b64_text
from strongroom.engines.lambda_runtime import (
    Credentials,
    EngineClosed,
    FunctionImage,
    InvokeResult,
    TooManyRequests,
    UnsupportedRuntime,
)
from strongroom.services.lambda_ import code, functions, names
from strongroom.services.lambda_.functions import Version
from strongroom.services.lambda_.names import Ref
from strongroom.services.lambda_.roles import CANNOT_ASSUME
from strongroom.services.lambda_.service import LAMBDA_PRINCIPAL, errors
from strongroom.services.sts import api as sts

#: Invoke's payload quotas: 6 MB synchronous, 1 MB asynchronous (the
#: model's Invoke documentation; 256 KB was InvokeAsync's, and Event
#: invocations' until AWS raised it).
MAX_SYNC = 6 * 1024 * 1024
MAX_ASYNC = 1024 * 1024
#: LogType=Tail: the last 4 KB of the invocation's log.
TAIL = 4096


@dataclass(frozen=True, slots=True)
class Outcome:
    """One invocation's result, as Invoke answers it."""

    status: int
    payload: bytes
    function_error: str | None
    executed_version: str
    log_text: str = ""

    def log_tail(self) -> str:
        return b64_text(self.log_text.encode()[-TAIL:])


def side_write(store: Any, fn: Any) -> Any:
    """`fn(conn)` in a write transaction of its own, on a thread of its own
    (the caller's connection is in a read transaction), committed on return."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            with store.off_loop(), store.transaction(write=True) as conn:
                box["value"] = fn(conn)
        except BaseException as exc:  # handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="lambda-side-write")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def image_key(v: Version) -> str:
    return f"{v.account}:{v.region}:{v.name}:{v.version}:{v.revision_id}"


def image_prefix(account: str, region: str, name: str) -> str:
    return f"{account}:{region}:{name}:"


def image_of(ctx: Any, v: Version, max_concurrency: int | None = None) -> FunctionImage:
    store = ctx.runtime.resource("lambda_code")
    logging_config = v.config.get("LoggingConfig") or {}
    return FunctionImage(
        key=image_key(v),
        function_name=v.name,
        function_arn=names.function_arn(v.account, v.region, v.name),
        version=v.version,
        runtime=v.runtime,
        handler=v.handler,
        code_zip=store.path(code.hex_of(v.code_sha256)),
        memory_mb=v.memory,
        timeout_s=float(v.timeout),
        environment=functions.variables(ctx.runtime.sealer, v) or {},
        region=v.region,
        account=v.account,
        max_concurrency=max_concurrency,
        log_group=logging_config.get("LogGroup"),
        role_arn=v.role,
        log_format=logging_config.get("LogFormat") or "Text",
        application_log_level=logging_config.get("ApplicationLogLevel"),
    )


def _credentials(ctx: Any, v: Version, direct: bool) -> Credentials:
    runner = ctx.runtime.resource("lambda_engine")
    clock = ctx.runtime.clock

    def mint() -> sts.ServiceCredentials | None:
        def write(conn: Any) -> sts.ServiceCredentials | None:
            return sts.assume_role_as_service(ctx, v.role, LAMBDA_PRINCIPAL, v.name, conn=conn)

        return write(ctx.conn) if direct else side_write(ctx.runtime.store, write)

    found = runner.credentials(v.role, clock.timestamp(), mint)
    if found is None:
        raise errors.InvalidParameterValueException(CANNOT_ASSUME)
    # The engine compares the expiry with the wall clock; the session's is the
    # server clock's (which a time-travelling server moves ahead).
    left = found.expiration - clock.timestamp()
    return Credentials(
        found.access_key_id,
        found.secret_access_key,
        found.session_token,
        datetime.now(UTC) + timedelta(seconds=left),
    )


def run(
    ctx: Any,
    v: Version,
    invoked_arn: str,
    payload: bytes,
    *,
    request_id: str,
    client_context: str | None = None,
    direct: bool = False,
) -> Outcome:
    """Run `payload` through version `v` on the engine (blocking), within
    the function's reserved concurrency (0: every invocation throttled)."""
    reserved = functions.reserved_concurrency(ctx.conn, Ref(v.account, v.region, v.name, None))
    if reserved == 0:
        raise errors.TooManyRequestsException(
            "Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    runner = ctx.runtime.resource("lambda_engine")
    runner.follow_clock(ctx.runtime.clock.timestamp() - time.time())
    if runner.delivery is not None:
        runner.delivery.bind(ctx.runtime)
    try:
        result: InvokeResult = runner.engine.invoke(
            image_of(ctx, v, reserved),
            payload,
            request_id=request_id,
            invoked_arn=invoked_arn,
            credentials=lambda: _credentials(ctx, v, direct),
            client_context=client_context,
        )
    except TooManyRequests as busy:
        raise errors.TooManyRequestsException(str(busy), Reason=busy.reason or None) from None
    except UnsupportedRuntime as bad:
        raise errors.InvalidRuntimeException(str(bad)) from None
    except EngineClosed:
        raise errors.ServiceException("The Lambda service is shutting down.") from None
    return Outcome(
        200, result.payload, result.function_error, result.executed_version, result.log_text
    )
