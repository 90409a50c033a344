"""The policy simulator answers every case of the evaluation table as
enforcement does.

Each case of ``test_policy_evaluation_cases.CASES`` that SimulateCustomPolicy
can express goes through the operation function itself: identity policies as
``PolicyInputList``, the boundary as ``PermissionsBoundaryPolicyInputList``,
the resource policy as ``ResourcePolicy`` with ``CallerArn`` and
``ResourceOwner``, the context as typed ``ContextEntries``. Its
``EvalDecision`` must be the decision the table expects from `evaluate()`.

The cases the simulator's inputs cannot state are listed in `NOT_EXPRESSIBLE`
by name, each with its reason; `test_not_expressible_list_is_exact` keeps that
list honest and `test_expressible_count` fails when the number of cases the
simulator checks drops.
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from test_policy_evaluation_cases import CASES, Case

from strongroom.arn import parse_arn
from strongroom.protocol.errors import errors_for
from strongroom.services.iam.ops_simulate import simulate_custom_policy

DECISIONS = {"allowed": "allowed", "explicit_deny": "explicitDeny", "implicit_deny": "implicitDeny"}

# -- what the simulator cannot state -------------------------------------------

SESSION = "session policy: neither simulator operation takes one"
SCP = "service control policy: SimulateCustomPolicy takes none"
REQUIRED = (
    "key policy / role trust policy (resource_policy_required): the simulator "
    "evaluates ResourcePolicy as an ordinary resource-based policy, which "
    "identity policies alone may satisfy (and a trust policy, naming no "
    "Resource, is not a valid ResourcePolicy)"
)
ROOT = "account root caller: CallerArn names an IAM user, and the simulator has no root short-cut"
NOT_A_USER = (
    "the resource policy is matched against a role, role session, federated "
    "user or service principal (and its aliases, the role or user behind a "
    "session): CallerArn can only be an IAM user ARN"
)

NOT_EXPRESSIBLE: dict[str, str] = {
    "root-has-full-access": ROOT,
    "root-explicit-deny-in-resource-policy": ROOT,
    "rbp-role-session-arn-ignores-session-policy": SESSION,
    "rbp-role-arn-limited-by-boundary": NOT_A_USER,
    "rbp-role-arn-limited-by-session-policy": SESSION,
    "rbp-role-arn-not-limited-by-identity": NOT_A_USER,
    "rbp-federated-session-arn-ignores-session-policy": SESSION,
    "rbp-federating-user-arn-limited-by-session-policy": SESSION,
    "rbp-role-session-grant-vs-identity-deny": NOT_A_USER,
    "service-principal-allowed": REQUIRED,
    "service-principal-other-service": REQUIRED,
    "notprincipal-assumed-role-excepted": NOT_A_USER,
    "notprincipal-other-session-of-role-denied": NOT_A_USER,
    "notprincipal-missing-role-denies-session": NOT_A_USER,
    "arn-equals-source-topic": NOT_A_USER,
    "arn-equals-other-topic": NOT_A_USER,
    "arn-equals-no-source-arn": NOT_A_USER,
    "session-policy-intersection-allowed": SESSION,
    "session-policy-intersection-denied": SESSION,
    "session-policy-grants-nothing": SESSION,
    "session-policy-explicit-deny": SESSION,
    "scp-limits-identity": SCP,
    "scp-limits-root": SCP,
    "scp-allows": SCP,
    "kms-default-policy-with-iam-policy": REQUIRED,
    "kms-default-policy-without-iam-policy": REQUIRED,
    "kms-default-policy-root": REQUIRED,
    "kms-key-admin-direct-grant": REQUIRED,
    "kms-key-admin-cannot-decrypt": REQUIRED,
    "kms-iam-allow-ineffective": REQUIRED,
    "kms-iam-deny-effective": REQUIRED,
    "kms-root-subject-to-key-policy": REQUIRED,
    "kms-role-grant-session-decrypts": REQUIRED,
    "kms-role-grant-not-admin": REQUIRED,
    "kms-grant-for-aws-resource": REQUIRED,
    "kms-grant-not-for-aws-resource": REQUIRED,
    "kms-role-grant-limited-by-session-policy": SESSION,
    "kms-star-same-account": REQUIRED,
    "kms-star-external-with-iam": REQUIRED,
    "kms-star-external-without-iam": REQUIRED,
    "kms-external-account-delegated": REQUIRED,
    "kms-external-account-not-delegated": REQUIRED,
    "kms-external-account-admin-action": REQUIRED,
    "kms-encryption-context-match": REQUIRED,
    "kms-encryption-context-mismatch": REQUIRED,
    "kms-via-service-direct-call-denied": REQUIRED,
    "kms-via-service-through-ec2": REQUIRED,
    "kms-managed-key-via-ebs": REQUIRED,
    "kms-managed-key-direct": REQUIRED,
    "trust-external-id": REQUIRED,
    "trust-wrong-external-id": REQUIRED,
    "trust-same-account-identity-not-enough": REQUIRED,
}

#: The number of table cases the simulator checks; raise it as the table grows.
EXPRESSIBLE = 153


def _is_user_arn(arn: str) -> bool:
    parts = parse_arn(arn)
    return bool(parts) and parts["service"] == "iam" and parts["resource"].startswith("user/")


def why_not_expressible(c: Case) -> str | None:
    """The reason SimulateCustomPolicy cannot state `c` (None: it can)."""
    if c.session is not None:
        return SESSION
    if c.scp is not None:
        return SCP
    if c.kms:
        return REQUIRED
    if c.is_root:
        return ROOT
    if c.resource_policy is not None:
        # Only a resource policy's Principal element looks at who the caller
        # is; without one the caller matters by its account alone.
        if not _is_user_arn(c.principal):
            return NOT_A_USER
        # The simulator names an IAM user as enforcement does: itself and its
        # account's root. A case that gives it other aliases says something
        # the simulator cannot.
        assert c.aliases in (None, (f"arn:aws:iam::{c.account}:root",)), c.name
    return None


EXPRESSED = [c for c in CASES if why_not_expressible(c) is None]

# -- from a case to the operation's parameters -----------------------------------

#: ContextKeyType of the table's scalar keys that are not strings.
KEY_TYPES = {
    "aws:sourceip": "ip",
    "aws:currenttime": "date",
    "aws:epochtime": "date",
    "aws:tokenissuetime": "date",
    "aws:multifactorauthage": "numeric",
    "s3:max-keys": "numeric",
    "aws:multifactorauthpresent": "boolean",
    "aws:securetransport": "boolean",
    "kms:grantisforawsresource": "boolean",
    "example:key": "binary",
}


def _text(value: Any, kind: str) -> str:
    """A context value as ContextKeyValues carries it."""
    if isinstance(value, bool):
        assert kind == "boolean", (kind, value)
        return "true" if value else "false"
    if isinstance(value, bytes):
        assert kind == "binary", (kind, value)
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, int):
        assert kind in ("numeric", "date"), (kind, value)
    return str(value)


def context_entries(context: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for name, value in context.items():
        kind = KEY_TYPES.get(name.lower(), "string")
        if isinstance(value, list):
            values = [_text(v, kind) for v in value]
            kind += "List"
        else:
            values = [_text(value, kind)]
        entries.append({"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind})
    return entries


def custom_policy_params(c: Case) -> dict[str, Any]:
    """SimulateCustomPolicy's parameters for one case."""
    params: dict[str, Any] = {
        "PolicyInputList": [json.dumps(p) for p in c.identity],
        "ActionNames": [c.action],
        # The table's owner: the resource's account, else the caller's.
        "ResourceOwner": c.resource_account or c.account,
    }
    if c.resource != "*":
        params["ResourceArns"] = [c.resource]
    if c.boundary is not None:
        params["PermissionsBoundaryPolicyInputList"] = [json.dumps(c.boundary)]
    if c.resource_policy is not None:
        params["ResourcePolicy"] = json.dumps(c.resource_policy)
    if _is_user_arn(c.principal):
        assert parse_arn(c.principal)["account"] == c.account, c.name
        params["CallerArn"] = c.principal
    else:
        # No resource policy (why_not_expressible): the caller counts by its
        # account alone, and the operation's own caller is in that account.
        assert c.resource_policy is None, c.name
    if c.context:
        params["ContextEntries"] = context_entries(c.context)
    return params


def fake_call(account: str) -> Any:
    """What the operation uses of a Call; the caller is an IAM user of `account`."""
    return SimpleNamespace(
        service=SimpleNamespace(errors=errors_for("iam")),
        account=account,
        principal=SimpleNamespace(arn=f"arn:aws:iam::{account}:user/simulation-admin"),
        authorize=lambda *args, **kwargs: None,
    )


def simulate(c: Case) -> dict[str, Any]:
    out = simulate_custom_policy(fake_call(c.account), **custom_policy_params(c))
    assert out["IsTruncated"] is False
    [result] = out["EvaluationResults"]
    return result


# -- the checks ------------------------------------------------------------------


@pytest.mark.parametrize("c", EXPRESSED, ids=[c.name for c in EXPRESSED])
def test_simulator_matches_table(c: Case) -> None:
    reason, denied_by = c.expect
    result = simulate(c)
    assert result["EvalActionName"] == c.action
    assert result["EvalResourceName"] == c.resource
    assert result["EvalDecision"] == DECISIONS[reason], c.name
    # The enforcement engine agrees with the table for this very case.
    _, decision = c.run()
    assert decision.reason == reason
    # The statements the simulator names come from the kind of policy that
    # decided: an explicit deny names a Deny of that kind.
    sources = {s["SourcePolicyId"].split(".")[0] for s in result["MatchedStatements"]}
    kind_of = {
        "identity": "PolicyInputList",
        "boundary": "PermissionsBoundaryPolicyInputList",
        "resource": "ResourcePolicy",
    }
    if reason == "explicit_deny":
        assert kind_of[denied_by] in sources, result
    elif reason == "implicit_deny":
        assert result["MatchedStatements"] == []
    else:
        assert sources and sources <= {"PolicyInputList", "ResourcePolicy"}, result
    if c.boundary is not None:
        detail = result["PermissionsBoundaryDecisionDetail"]
        if denied_by == "boundary":
            assert detail["AllowedByPermissionsBoundary"] is False
    else:
        assert "PermissionsBoundaryDecisionDetail" not in result


def test_not_expressible_list_is_exact() -> None:
    """Every case left out is listed, with the reason that applies to it."""
    names = {c.name for c in CASES}
    assert set(NOT_EXPRESSIBLE) <= names, set(NOT_EXPRESSIBLE) - names
    found = {c.name: why for c in CASES if (why := why_not_expressible(c)) is not None}
    assert found == NOT_EXPRESSIBLE


def test_expressible_count() -> None:
    assert len(EXPRESSED) + len(NOT_EXPRESSIBLE) == len(CASES)
    assert len(EXPRESSED) >= EXPRESSIBLE, (
        f"only {len(EXPRESSED)} of the table's {len(CASES)} cases go through the simulator"
    )
