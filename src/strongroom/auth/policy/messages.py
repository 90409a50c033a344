"""AccessDenied messages in AWS's words.

``User: arn:aws:iam::111122223333:user/bob is not authorized to perform:
kms:Decrypt on resource: arn:aws:kms:… because no identity-based policy
allows the kms:Decrypt action`` — and the explicit-deny form, ``… with an
explicit deny in a resource-based policy``.
"""

from __future__ import annotations

from typing import Final

from strongroom.auth.policy.evaluate import EXPLICIT_DENY, Decision

#: denied_by -> how AWS names that kind of policy in a message.
POLICY_NOUNS: Final = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "scp": "service control policy",
}


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def denial_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """The AccessDenied message for a denied `Decision`."""
    if decision.allowed:
        raise ValueError("the decision allows the request: there is nothing to explain")
    head = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
    noun = POLICY_NOUNS.get(decision.denied_by or "identity", POLICY_NOUNS["identity"])
    if decision.reason == EXPLICIT_DENY:
        return f"{head} with an explicit deny in {_article(noun)} {noun}"
    return f"{head} because no {noun} allows the {action} action"


__all__ = ["POLICY_NOUNS", "denial_message"]
