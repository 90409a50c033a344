"""A function's resource policy: AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.services.lambda_ import access, aliases, functions, names, policies
from strongroom.services.lambda_.names import LATEST
from strongroom.services.lambda_.service import errors, service


def _target(call: Call, FunctionName: str, Qualifier: str | None, action: str) -> names.Ref:
    """The function (version, alias) whose policy the request is about."""
    ref = names.parse(call, FunctionName, Qualifier)
    access.authorize(call, action, ref)
    if ref.qualifier == LATEST:
        raise errors.InvalidParameterValueException(
            "We currently do not support adding policies for $LATEST."
        )
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    if ref.qualifier is not None:
        if names.is_version_number(ref.qualifier):
            if functions.version(call.conn, ref, ref.qualifier) is None:
                raise names.not_found(ref)
        elif aliases.get(call.conn, ref, ref.qualifier) is None:
            raise names.not_found(ref)
    return ref


def _require_revision(revision_id: str | None, current: str | None) -> None:
    if revision_id is not None and revision_id != current:
        raise errors.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetPolicy API to retrieve the latest Revision Id"
        )


@service.operation(authorize=False)
def add_permission(
    call: Call,
    FunctionName: str,
    StatementId: str,
    Action: str,
    Principal: str,
    SourceArn: str | None = None,
    SourceAccount: str | None = None,
    EventSourceToken: str | None = None,
    Qualifier: str | None = None,
    RevisionId: str | None = None,
    PrincipalOrgID: str | None = None,
    FunctionUrlAuthType: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    ref = _target(call, FunctionName, Qualifier, "lambda:AddPermission")
    if not (Action == "*" or Action.lower().startswith("lambda:")):
        raise errors.InvalidParameterValueException(
            f"1 validation error detected: Value '{Action}' at 'action' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:"
            "[a-zA-Z]+|[*])"
        )
    found = policies.row(call.conn, ref)
    doc, revision = found if found is not None else (policies.new_document(), None)
    _require_revision(RevisionId, revision)
    if any(st.get("Sid") == StatementId for st in doc["Statement"]):
        raise errors.ResourceConflictException(
            f"The statement id ({StatementId}) provided already exists. Please provide a new "
            "statement id, or remove the existing statement."
        )
    statement = policies.statement(
        StatementId,
        Action,
        Principal,
        ref.arn,
        source_arn=SourceArn,
        source_account=SourceAccount,
        org_id=PrincipalOrgID,
        event_source_token=EventSourceToken,
    )
    if FunctionUrlAuthType is not None:
        statement.setdefault("Condition", {}).setdefault("StringEquals", {})[
            "lambda:FunctionUrlAuthType"
        ] = FunctionUrlAuthType
    doc = {**doc, "Statement": [*doc["Statement"], statement]}
    if len(json_text(doc).encode()) > policies.MAX_POLICY:
        raise errors.PolicyLengthExceededException(
            f"The final policy size ({len(json_text(doc).encode())}) is bigger than the "
            f"limit ({policies.MAX_POLICY})."
        )
    policies.put(call.conn, ref, doc, found is not None)
    return {"Statement": json_text(statement)}


@service.operation(authorize=False)
def remove_permission(
    call: Call,
    FunctionName: str,
    StatementId: str,
    Qualifier: str | None = None,
    RevisionId: str | None = None,
) -> dict[str, Any]:
    ref = _target(call, FunctionName, Qualifier, "lambda:RemovePermission")
    found = policies.row(call.conn, ref)
    if found is None or not any(st.get("Sid") == StatementId for st in found[0]["Statement"]):
        if found is None:
            raise errors.ResourceNotFoundException(
                "No policy is associated with the given resource."
            )
        raise errors.ResourceNotFoundException(
            f"Statement {StatementId} is not found in resource policy."
        )
    doc, revision = found
    _require_revision(RevisionId, revision)
    kept = [st for st in doc["Statement"] if st.get("Sid") != StatementId]
    if kept:
        policies.put(call.conn, ref, {**doc, "Statement": kept}, True)
    else:
        policies.drop(call.conn, ref)
    return {}


@service.operation(authorize=False)
def get_policy(call: Call, FunctionName: str, Qualifier: str | None = None) -> dict[str, Any]:
    ref = _target(call, FunctionName, Qualifier, "lambda:GetPolicy")
    found = policies.row(call.conn, ref)
    if found is None:
        raise errors.ResourceNotFoundException("The resource you requested does not exist.")
    return {"Policy": json_text(found[0]), "RevisionId": found[1]}
