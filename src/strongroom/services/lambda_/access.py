"""Who may do what to a function: the caller's identity policies and the
function's resource policy, through the authorizer.

A function in another account is reachable only where its resource policy
lets the caller in (and the caller's own policies allow it); a function
that does not exist there is refused the same way, so a caller learns
nothing of another account's functions by asking."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.services.lambda_ import names, policies
from strongroom.services.lambda_.names import Ref

FUNCTION_TYPE = "AWS::Lambda::Function"


def authorize(
    call: Call,
    action: str,
    ref: Ref,
    context: dict[str, Any] | None = None,
    *,
    resource_arn: str | None = None,
) -> None:
    """Raise AccessDeniedException unless the caller may `action` the
    function `ref` names (its resource policy for the qualifier taken into
    account), and name the function in the audit record."""
    document = policies.document(call.conn, ref)
    arn = resource_arn or ref.arn
    call.authorize(
        action,
        arn,
        context,
        resource_policy=json_text(document) if document is not None else None,
        resource_account=ref.account,
    )
    call.audit_resource(ref.unqualified_arn, FUNCTION_TYPE, ref.account)


def authorize_create(call: Call, ref: Ref, context: dict[str, Any] | None = None) -> None:
    call.authorize("lambda:CreateFunction", ref.arn, context, resource_account=ref.account)
    call.audit_resource(ref.unqualified_arn, FUNCTION_TYPE, ref.account)


def require_own_account(call: Call, ref: Ref, action: str) -> None:
    """Operations only the owner may call (CreateFunction in another account)."""
    if ref.account != call.account:
        raise call.access_denied(action, names.function_arn(ref.account, ref.region, ref.name))
