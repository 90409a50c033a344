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
from typing import Any, Final, NamedTuple

from strongroom.auth.policy.conditions import RequestContext
from strongroom.auth.policy.document import (
    DIRECT,
    VIA_ACCOUNT,
    VIA_ALIAS,
    CompiledPolicy,
    Statement,
)
from strongroom.auth.policy.patterns import Unresolved

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


class MatchedStatement(NamedTuple):
    """A statement that applied to the request (for the policy simulator)."""

    source: str  # the policy id/name given in the PolicySet
    sid: str | None
    effect: str  # "Allow" | "Deny"
    index: int  # position of the statement in its policy
    kind: str  # the kind of the PolicySet it came from


class Decision:
    """The outcome of `evaluate` (read-only by convention).

    ``matched`` lists every statement that applied, in the order the policy
    sets were read (SCP, resource, identity, boundary, session); it is built
    on first access, so the authorization hot path does not pay for it.
    """

    __slots__ = ("_matched", "_raw", "allowed", "denied_by", "reason")

    def __init__(
        self,
        allowed: bool,
        reason: str,
        denied_by: str | None,
        matched: tuple[MatchedStatement, ...] | list[tuple[str, str, Statement]] = (),
    ) -> None:
        self.allowed = allowed
        #: "allowed" | "explicit_deny" | "implicit_deny"
        self.reason = reason
        #: Which kind of policy denied (explicitly, or by not allowing):
        #: "identity" | "resource" | "boundary" | "session" | "scp" | None.
        self.denied_by = denied_by
        if isinstance(matched, tuple):
            self._matched: tuple[MatchedStatement, ...] | None = matched
            self._raw: list[tuple[str, str, Statement]] = []
        else:
            self._matched = None
            self._raw = matched

    @property
    def matched(self) -> tuple[MatchedStatement, ...]:
        if self._matched is None:
            self._matched = tuple(
                MatchedStatement(source, st.sid, st.effect, st.index, kind)
                for source, kind, st in self._raw
            )
        return self._matched

    def _key(self) -> tuple:
        return (self.allowed, self.reason, self.denied_by, self.matched)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed!r}, reason={self.reason!r}, "
            f"denied_by={self.denied_by!r}, matched={self.matched!r})"
        )


#: Memo value for a pattern or condition whose variables did not resolve.
_INVALID: Final = 2


def _scan(
    ps: PolicySet,
    action_lower: str,
    req: AuthzRequest,
    ctx: RequestContext,
    memo: dict[object, bool | int],
    matched: list[tuple[str, str, Statement]],
    with_principal: bool,
) -> tuple[bool, int]:
    """(explicit deny?, allow) for one policy set.

    ``allow`` is 0 when nothing allows; for resource policies it is the
    strongest way an allowing statement named the caller (VIA_ACCOUNT <
    VIA_ALIAS < DIRECT). Resource lists and conditions shared by several
    statements are tested once per request (``memo``).
    """
    deny = False
    allow = 0
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
            rm = st.resource_matcher
            if rm is not None:
                if rm.any:
                    hit: bool | int = True
                else:
                    hit = memo.get(rm, -1)
                    if hit == -1:
                        try:
                            hit = rm.matches(resource, ctx)
                        except Unresolved:
                            hit = _INVALID
                        memo[rm] = hit
                    if hit == _INVALID:
                        continue
                if hit == st.not_resource:
                    continue
            if st.conditions:
                ok = True
                for cond in st.conditions:
                    held = memo.get(cond)
                    if held is None:
                        try:
                            held = cond.evaluate(ctx)
                        except Unresolved:
                            held = False
                        memo[cond] = held
                    if not held:
                        ok = False
                        break
                if not ok:
                    continue
            matched.append((source, kind, st))
            if st.is_allow:
                if category > allow:
                    allow = category
            else:
                deny = True
    return deny, allow


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
    memo: dict[object, bool | int] = {}
    found: list[tuple[str, str, Statement]] = []

    scp_deny = res_deny = b_deny = s_deny = False
    scp_allow = granted = b_allow = s_allow = 1
    if scp is not None and scp.policies:
        scp_deny, scp_allow = _scan(scp, action_lower, req, ctx, memo, found, False)
    if resource is not None:
        res_deny, granted = _scan(resource, action_lower, req, ctx, memo, found, True)
    else:
        granted = 0
    id_deny, id_allow = _scan(identity, action_lower, req, ctx, memo, found, False)
    if boundary is not None and boundary.policies:
        b_deny, b_allow = _scan(boundary, action_lower, req, ctx, memo, found, False)
    if session is not None and session.policies:
        s_deny, s_allow = _scan(session, action_lower, req, ctx, memo, found, False)

    for kind, denied in (
        ("scp", scp_deny),
        ("resource", res_deny),
        ("identity", id_deny),
        ("boundary", b_deny),
        ("session", s_deny),
    ):
        if denied:
            return Decision(False, EXPLICIT_DENY, kind, found)

    if not scp_allow:
        return Decision(False, IMPLICIT_DENY, "scp", found)

    failed = _implicit_denier(
        granted,
        id_allow > 0 or req.principal_is_root,
        b_allow > 0,
        s_allow > 0,
        owner != req.principal_account,
        resource_policy_required,
    )
    if failed is None:
        return Decision(True, ALLOWED, None, found)
    return Decision(False, IMPLICIT_DENY, failed, found)


def _implicit_denier(
    granted: int,
    identity_ok: bool,
    boundary_ok: bool,
    session_ok: bool,
    cross: bool,
    resource_policy_required: bool,
) -> str | None:
    """None when the allows add up to an Allow; else the kind that fell short."""
    limits_fail = None if boundary_ok else "boundary"
    if limits_fail is None and not session_ok:
        limits_fail = "session"
    identity_fail = limits_fail if identity_ok else "identity"

    if resource_policy_required:
        if not granted:
            return "resource"
        if granted == VIA_ACCOUNT or cross:
            return identity_fail
        if granted == VIA_ALIAS:
            return limits_fail
        return None  # granted to the caller itself, same account
    if cross:
        if identity_fail is not None:
            return identity_fail
        return None if granted else "resource"
    if granted == DIRECT or identity_fail is None:
        return None
    if granted == VIA_ALIAS:
        return limits_fail
    return identity_fail


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
