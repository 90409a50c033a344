"""Lambda for the other services of this server: invoking a function as an
AWS service principal, as Secrets Manager invokes a rotation function.

    from strongroom.services.lambda_ import api as lambda_api

    out = lambda_api.invoke_as_service(
        call, function_arn, payload_bytes,
        principal="secretsmanager.amazonaws.com",
        source_arn=secret_arn, source_account=call.account,
    )
    out.status, out.payload, out.function_error   # 200, b'...', None | "Unhandled"

The function's resource policy (for the qualifier named, if any) must allow
`principal` ``lambda:InvokeFunction``, with its ``AWS:SourceArn`` /
``AWS:SourceAccount`` conditions met (AddPermission with --principal
secretsmanager.amazonaws.com); otherwise Lambda's AccessDeniedException is
raised. Lambda's own errors (ResourceNotFoundException "Function not
found: …", ResourceConflictException for a Pending function,
TooManyRequestsException) are raised as they are; a function error is not
an exception: ``function_error`` says it and ``payload`` holds the error
document ({"errorMessage", "errorType", "stackTrace"}).

`invoke_as_service_later(runtime, function_arn, payload, principal=…)` runs
the same on a worker thread of Lambda's and returns a Future, for callers on
the event loop.

The function runs synchronously, on the caller's thread. Two things the
caller must know, because the function may call back into this server
(a rotation function calls DescribeSecret, PutSecretValue…):

* never call it on the event loop (a job, or a non-blocking operation):
  the function's requests would wait for the loop forever. Call it from a
  blocking operation (``blocking=True``) or a thread of your own;
* with SQLite, a caller holding a write transaction holds the store's write
  lock, and a function that writes back waits for it until its timeout.
  Run the function from a read transaction (``writes=False``), writing your
  own changes before or after in transactions of their own.

``ctx`` is a `Call` or a `JobRun` (its store connection and runtime are
used; a write transaction there is used for what the invocation itself
writes, else a transaction of its own is). Background work
(`Service.background`) invokes from a read transaction of its own
(``work.transaction()``), in a server thread: the way to invoke a function
that calls back. ``invocation_type`` may be
``Event`` (queued, status 202) or ``DryRun`` (checked only, 204).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from strongroom.framework import Call, JobRun, acting_as
from strongroom.services.lambda_ import names
from strongroom.services.lambda_.invocations import Outcome
from strongroom.services.lambda_.ops_invoke import invoke_ref
from strongroom.services.lambda_.service import service

__all__ = ["Outcome", "invoke_as_service", "invoke_as_service_later"]


def invoke_as_service(
    ctx: Call | JobRun,
    function_arn: str,
    payload: bytes,
    *,
    principal: str,
    source_arn: str | None = None,
    source_account: str | None = None,
    invocation_type: str = "RequestResponse",
) -> Outcome:
    """Invoke `function_arn` (ARN, partial ARN or name in the caller's
    account; a qualifier allowed) as the service `principal`."""
    op = ctx.service.operations.get(ctx.operation) if isinstance(ctx, Call) else None
    # A job's transaction as it says (a scheduled job's writes; background
    # work's read ones do not); a call's as its operation says (one not
    # served, an internal caller's, is taken to be writing).
    writing = ctx.writes if isinstance(ctx, JobRun) else (op is None or op.writes)
    region = ctx.region if isinstance(ctx, Call) else _region_of(function_arn)
    account = ctx.account if isinstance(ctx, Call) else (source_account or "")
    call = acting_as(ctx, service, principal, account=account, region=region, operation="Invoke")
    ref = names.parse(call, function_arn)
    call.account = ref.account
    context: dict[str, Any] = {}
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    if source_account is not None:
        context["aws:SourceAccount"] = source_account
    return invoke_ref(call, ref, payload, invocation_type, context=context, direct=writing)


def invoke_as_service_later(
    runtime: Any,
    function_arn: str,
    payload: bytes,
    *,
    principal: str,
    source_arn: str | None = None,
    source_account: str | None = None,
    invocation_type: str = "RequestResponse",
) -> Future[Outcome]:
    """`invoke_as_service` on a thread of Lambda's worker pool, in a read
    transaction of its own: for a caller on the event loop (a scheduled job,
    such as Secrets Manager's rotation scheduler), which must not wait for a
    function that may call back into this server. The Future's result is the
    `Outcome`, or Lambda's error. `function_arn` must be a full ARN (it names
    the account and Region)."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn":
        raise ValueError("invoke_as_service_later needs a function ARN")
    account, region = parts[4], parts[3]

    def run() -> Outcome:
        store = runtime.store
        with store.off_loop(), store.transaction(write=False) as conn:
            # A read transaction: what the invocation writes, it writes apart.
            job = JobRun(service, conn, runtime.clock.now(), runtime, writes=False)
            ctx = acting_as(
                job, service, principal, account=account, region=region, operation="Invoke"
            )
            outcome = invoke_as_service(
                ctx,
                function_arn,
                payload,
                principal=principal,
                source_arn=source_arn,
                source_account=source_account,
                invocation_type=invocation_type,
            )
        if job.children and runtime.record_children is not None:
            runtime.record_children(job.children)
        return outcome

    return runtime.resource("lambda_async").call(run)


def _region_of(function_arn: str) -> str:
    parts = function_arn.split(":")
    if len(parts) > 3 and parts[0] == "arn":
        return parts[3]
    return "us-east-1"
