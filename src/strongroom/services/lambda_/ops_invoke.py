"""Invoke: RequestResponse (run now, answer with the function's result),
Event (queued durably, 202) and DryRun (204 once the caller may invoke)."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_bytes, json_value
from strongroom.framework import Call
from strongroom.services.lambda_ import access, aliases, events, functions, invocations, names
from strongroom.services.lambda_.names import LATEST
from strongroom.services.lambda_.service import errors, service


def require_json(payload: bytes) -> bytes:
    if not payload:
        return b"{}"
    try:
        json_value(payload)
    except ValueError:
        raise errors.InvalidRequestContentException(
            "Could not parse request body into json: Could not parse payload into json"
        ) from None
    return payload


def target(call: Call, ref: names.Ref) -> functions.Version:
    """The version an invocation of `ref` runs (an alias's routing decides
    between its versions)."""
    qualifier = ref.qualifier
    if qualifier is not None and qualifier != LATEST and not names.is_version_number(qualifier):
        alias = aliases.get(call.conn, ref, qualifier)
        if alias is None:
            raise names.not_found(ref)
        found = functions.version(call.conn, ref, alias.pick_version())
        if found is None:
            raise names.not_found(ref)
        return found
    return functions.resolve(call.conn, ref)


def invoke_ref(
    call: Call,
    ref: names.Ref,
    payload: bytes,
    invocation_type: str,
    *,
    client_context: str | None = None,
    context: dict[str, Any] | None = None,
    direct: bool = False,
) -> invocations.Outcome:
    """Authorize and run one invocation of `ref` by `call`'s principal."""
    access.authorize(call, "lambda:InvokeFunction", ref, context)
    limit = invocations.MAX_ASYNC if invocation_type == "Event" else invocations.MAX_SYNC
    if len(payload) > limit:
        operation = "InvokeAsync" if invocation_type == "Event" else "InvokeFunction"
        raise errors.RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        )
    payload = require_json(payload)
    v = target(call, ref)
    functions.require_ready(call, v)
    if invocation_type == "DryRun":
        return invocations.Outcome(204, b"", None, v.version)
    if invocation_type == "Event":
        now = call.clock.timestamp()

        def queue(conn: Any) -> str:
            return events.enqueue(conn, call.sealer, now, ref, ref.qualifier, payload)

        if direct:
            queue(call.conn)
        else:
            invocations.side_write(call.store, queue)
        return invocations.Outcome(202, b"", None, v.version)
    return invocations.run(
        call,
        v,
        ref.arn,
        payload,
        request_id=call.request_id,
        client_context=client_context,
        direct=direct,
    )


@service.operation(authorize=False, blocking=True, writes=False, data_event=True)
def invoke(
    call: Call,
    FunctionName: str,
    InvocationType: str = "RequestResponse",
    LogType: str = "None",
    ClientContext: str | None = None,
    Payload: bytes = b"",
    Qualifier: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName, Qualifier)
    context_text = None
    if ClientContext is not None:
        try:
            context_text = b64_bytes(ClientContext).decode()
        except (ValueError, UnicodeDecodeError):
            raise errors.InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
    outcome = invoke_ref(call, ref, Payload or b"", InvocationType, client_context=context_text)
    out: dict[str, Any] = {"StatusCode": outcome.status}
    if outcome.status == 200:
        out["Payload"] = outcome.payload
        out["ExecutedVersion"] = outcome.executed_version
        if outcome.function_error is not None:
            out["FunctionError"] = outcome.function_error
        if LogType == "Tail":
            out["LogResult"] = outcome.log_tail()
    return out


service.operations["Invoke"].max_body = invocations.MAX_SYNC + 1024 * 1024
