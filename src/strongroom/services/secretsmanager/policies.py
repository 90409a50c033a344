"""Secret resource policies: parsed by the policy engine, enforced by it (a
secret's policy is the resource policy of every request on it, see
`Secret.authorize`), and checked for public access as BlockPublicPolicy
asks: an Allow to every principal (``"*"``) not narrowed by a condition on
the caller's account, organization, ARN or network."""

from __future__ import annotations

from typing import Any

from strongroom.auth.policy import MalformedPolicy, parse_policy
from strongroom.services.secretsmanager.service import errors

#: Condition keys that narrow a wildcard principal to known callers.
_NARROWING = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
    }
)
PUBLIC = (
    "This resource policy contains a statement that grants public access to the secret. "
    "Remove the statement or add a condition that limits who may use it, or call "
    "PutResourcePolicy with BlockPublicPolicy set to false."
)


def problems(text: str) -> list[dict[str, str]]:
    """ValidateResourcePolicy's ValidationErrors for `text` (none: valid)."""
    try:
        parse_policy(text, "resource")
    except MalformedPolicy as exc:
        return [{"CheckName": "POLICY_SYNTAX_CHECK", "ErrorMessage": exc.message}]
    return []


def require_valid(text: str) -> Any:
    """MalformedPolicyDocumentException unless `text` is a resource policy."""
    try:
        return parse_policy(text, "resource")
    except MalformedPolicy as exc:
        raise errors.MalformedPolicyDocumentException(exc.message) from None


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        names = aws if isinstance(aws, list) else [aws]
        return "*" in names
    return False


def _narrowed(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict) or "IfExists" in operator:
            continue
        if any(str(key).lower() in _NARROWING for key in pairs):
            return True
    return False


def is_public(compiled: Any) -> bool:
    document = compiled.document
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Allow" or "NotPrincipal" in st:
            continue
        if _everyone(st.get("Principal")) and not _narrowed(st.get("Condition")):
            return True
    return False
