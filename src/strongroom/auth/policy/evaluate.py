"""AWS's policy evaluation logic, in one function: `evaluate`.

As the IAM User Guide ("Policy evaluation logic", "Cross-account policy
evaluation logic") and the KMS Developer Guide ("Default key policy")
describe it:

1. An explicit ``Deny`` in any policy (SCP, resource, identity, boundary,
   session) wins.
2. An SCP, when present, must allow (it applies to the account root too).
3. Same account: the request is allowed when the identity side allows (an
   identity policy allows, and the permissions boundary and session policy,
   when present, allow too), or when the resource policy grants it:

   * naming the caller itself (user ARN, role-session ARN, federated-user
     ARN), ``"*"`` or a service principal: granted outright, whatever the
     identity policies, boundary and session policy say;
   * naming an ARN that stands for the caller (``principal_aliases``: the
     role of a role session, the IAM user behind a federated session):
     granted, but still limited by the boundary and the session policy;
   * naming the caller's account (``123456789012`` or
     ``arn:aws:iam::123456789012:root``): a delegation to the account, which
     grants nothing beyond what its IAM policies allow, except to the account
     root itself.

   The account root is allowed anything its SCPs do not deny.
4. Cross account: the identity side and the resource policy must both allow.
5. ``resource_policy_required`` (KMS key policies, role trust policies): an
   allow must come from the resource policy. Identity policies count only
   when it grants the caller's account (delegation); the account root is
   subject to it like everyone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from strongroom.auth.policy.conditions import RequestContext
from strongroom.auth.policy.document import (
    DIRECT,
    VIA_ACCOUNT,
    VIA_ALIAS,
    CompiledPolicy,
)

ALLOWED: Final = "allowed"
EXPLICIT_DENY: Final = "explicit_deny"
IMPLICIT_DENY: Final = "implicit_deny"

SET_KINDS: Final = ("identity", "resource", "boundary", "session", "scp")


@dataclass(frozen=True, slots=True)
class PolicySet:
    """One source of policies: ``(policy id/name, compiled)`` pairs."""

    kind: str  # "identity" | "resource" | "boundary" | "session" | "scp"
    policies: tuple[tuple[str, CompiledPolicy], ...]

    def __post_init__(self) -> None:
        if self.kind not in SET_KINDS:
            raise ValueError(f"unknown policy set kind {self.kind!r}")

    @classmethod
    def of(cls, kind: str, *policies: CompiledPolicy | tuple[str, CompiledPolicy]) -> PolicySet:
        """Build a set; bare policies are named by position (``"policy-1"`` …)."""
        pairs: list[tuple[str, CompiledPolicy]] = []
        for i, p in enumerate(policies, 1):
            pairs.append(p if isinstance(p, tuple) else (f"{kind}-policy-{i}", p))
        return cls(kind, tuple(pairs))


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    action: str  # "kms:Decrypt"
    resource: str  # ARN or "*"
    principal_arn: str  # the caller (for assumed roles: the assumed-role ARN)
    principal_account: str
    principal_is_root: bool
    resource_account: str | None  # owner of the resource (None: the principal's account)
    context: Mapping[str, Any]  # condition keys: aws:SourceIp, aws:CurrentTime, …
    #: Other ARNs that name the caller in a Principal element: the role ARN of
    #: a role session, the IAM user behind a federated session, the account
    #: root ARN.
    principal_aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source: str  # the policy id/name given in the PolicySet
    sid: str | None
    effect: str  # "Allow" | "Deny"
    index: int  # position of the statement in its policy
    kind: str  # the kind of the PolicySet it came from


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str  # "allowed" | "explicit_deny" | "implicit_deny"
    #: Which kind of policy denied (explicitly, or by not allowing):
    #: "identity" | "resource" | "boundary" | "session" | "scp" | None.
    denied_by: str | None
    matched: tuple[MatchedStatement, ...]


class _Scan:
    """What one policy set says about the request."""

    __slots__ = ("allow", "deny")

    def __init__(self) -> None:
        self.deny = False
        #: 0 when nothing allows; for resource policies the strongest way a
        #: statement named the caller (VIA_ACCOUNT < VIA_ALIAS < DIRECT).
        self.allow = 0


def _scan(
    ps: PolicySet,
    action_lower: str,
    req: AuthzRequest,
    ctx: RequestContext,
    matched: list[MatchedStatement],
    with_principal: bool,
) -> _Scan:
    out = _Scan()
    resource = req.resource
    kind = ps.kind
    for source, policy in ps.policies:
        for st in policy.statements_for(action_lower):
            category = DIRECT
            if with_principal and st.principal is not None:
                category = st.principal_category(
                    req.principal_arn,
                    req.principal_account,
                    req.principal_is_root,
                    req.principal_aliases,
                )
                if category is None:
                    continue
            if not st.applies(resource, ctx):
                continue
            matched.append(MatchedStatement(source, st.sid, st.effect, st.index, kind))
            if st.is_allow:
                if category > out.allow:
                    out.allow = category
            else:
                out.deny = True
    return out


def _present(ps: PolicySet | None) -> bool:
    return ps is not None and bool(ps.policies)


def evaluate(
    req: AuthzRequest,
    identity: PolicySet,
    resource: PolicySet | None = None,
    boundary: PolicySet | None = None,
    session: PolicySet | None = None,
    *,
    scp: PolicySet | None = None,
    resource_policy_required: bool = False,
) -> Decision:
    """Decide a request the way AWS does (see the module docstring).

    A boundary, session or SCP set that is ``None`` or holds no policy is
    absent: it limits nothing. An empty identity set allows nothing.
    """
    action_lower = req.action.lower()
    owner = req.resource_account or req.principal_account
    ctx = RequestContext(
        req.context,
        {"aws:PrincipalAccount": req.principal_account, "aws:ResourceAccount": owner},
    )
    matched: list[MatchedStatement] = []

    scans: list[tuple[str, _Scan]] = []
    scp_scan = _scan(scp, action_lower, req, ctx, matched, False) if _present(scp) else None
    res_scan = (
        _scan(resource, action_lower, req, ctx, matched, True)  # type: ignore[arg-type]
        if resource is not None
        else None
    )
    id_scan = _scan(identity, action_lower, req, ctx, matched, False)
    b_scan = (
        _scan(boundary, action_lower, req, ctx, matched, False)  # type: ignore[arg-type]
        if _present(boundary)
        else None
    )
    s_scan = (
        _scan(session, action_lower, req, ctx, matched, False)  # type: ignore[arg-type]
        if _present(session)
        else None
    )
    for kind, scan in (
        ("scp", scp_scan),
        ("resource", res_scan),
        ("identity", id_scan),
        ("boundary", b_scan),
        ("session", s_scan),
    ):
        if scan is not None:
            scans.append((kind, scan))
    found = tuple(matched)

    for kind, scan in scans:
        if scan.deny:
            return Decision(False, EXPLICIT_DENY, kind, found)

    def deny(kind: str) -> Decision:
        return Decision(False, IMPLICIT_DENY, kind, found)

    allow = Decision(True, ALLOWED, None, found)

    if scp_scan is not None and not scp_scan.allow:
        return deny("scp")

    is_root = req.principal_is_root
    identity_ok = is_root or id_scan.allow > 0
    boundary_ok = b_scan is None or b_scan.allow > 0
    session_ok = s_scan is None or s_scan.allow > 0
    limits_fail = None if boundary_ok else "boundary"
    if limits_fail is None and not session_ok:
        limits_fail = "session"
    identity_fail = "identity" if not identity_ok else limits_fail
    granted = res_scan.allow if res_scan is not None else 0
    cross = owner != req.principal_account

    if resource_policy_required:
        if not granted:
            return deny("resource")
        if granted == VIA_ACCOUNT or cross:
            return allow if identity_fail is None else deny(identity_fail)
        if granted == VIA_ALIAS:
            return allow if limits_fail is None else deny(limits_fail)
        return allow  # DIRECT, same account

    if cross:
        if identity_fail is not None:
            return deny(identity_fail)
        return allow if granted else deny("resource")

    if granted == DIRECT or identity_fail is None:
        return allow
    if granted == VIA_ALIAS:
        return allow if limits_fail is None else deny(limits_fail)
    return deny(identity_fail)


__all__ = [
    "ALLOWED",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "AuthzRequest",
    "Decision",
    "MatchedStatement",
    "PolicySet",
    "evaluate",
]
