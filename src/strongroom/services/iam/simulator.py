"""The IAM policy simulator: SimulatePrincipalPolicy / SimulateCustomPolicy and
the context-key listings, answered by the same `evaluate()` as every request.

Each policy of a simulation is a `SimPolicy`: what the response calls it
(SourcePolicyId, SourcePolicyType), its text (for the line and column of a
matched statement) and its compiled form.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from strongroom.arn import is_account_id, parse_arn
from strongroom.auth.policy import (
    AuthzRequest,
    CompiledPolicy,
    MalformedPolicy,
    PolicySet,
    evaluate,
    parse_policy,
)
from strongroom.auth.policy.conditions import RequestContext
from strongroom.auth.policy.patterns import Unresolved, Var
from strongroom.encoding import json_value
from strongroom.framework import Call
from strongroom.services.iam.service import errors

DECISIONS = {"allowed": "allowed", "explicit_deny": "explicitDeny", "implicit_deny": "implicitDeny"}
#: Keys the evaluator always supplies itself.
_SUPPLIED = frozenset({"aws:principalaccount", "aws:resourceaccount"})
_LIST_TYPES = frozenset(
    {"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"}
)


@dataclass(slots=True)
class SimPolicy:
    policy_id: str
    policy_type: str  # user | group | role | aws-managed | user-managed | resource | none
    text: str
    compiled: CompiledPolicy
    _spans: list[tuple[dict[str, int], dict[str, int]]] | None = field(default=None, repr=False)
    #: A managed policy's ARN (attached, or the permissions boundary).
    arn: str | None = None
    #: The name of the user, group or role an inline policy is embedded in.
    owner: str | None = None
    #: Whether it is the principal's permissions boundary.
    is_boundary: bool = False

    def span(self, index: int) -> tuple[dict[str, int], dict[str, int]] | None:
        if self._spans is None:
            self._spans = statement_spans(self.text)
        return self._spans[index] if index < len(self._spans) else None


def compile_policy_text(call: Call, text: str, kind: str) -> CompiledPolicy:
    """A simulation input: InvalidInput in IAM's words when it is not valid."""
    try:
        return parse_policy(text, kind)
    except MalformedPolicy as exc:
        raise errors.InvalidInputException(exc.message) from None


def inputs(
    call: Call, texts: list[str] | None, name: str, kind: str = "identity"
) -> list[SimPolicy]:
    """``PolicyInputList.1``, ``PolicyInputList.2``, … of the request."""
    return [
        SimPolicy(f"{name}.{i}", "none", text, compile_policy_text(call, text, kind))
        for i, text in enumerate(texts or [], 1)
    ]


# -- where a statement is in its document --------------------------------------


def statement_spans(text: str) -> list[tuple[dict[str, int], dict[str, int]]]:
    """(start, end) Line/Column (1-based) of each statement of a valid document:
    from its opening brace to just past its closing brace."""
    n = len(text)
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def pos(offset: int) -> dict[str, int]:
        line = bisect_right(line_starts, offset)
        return {"Line": line, "Column": offset - line_starts[line - 1] + 1}

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def string_end(i: int) -> int:
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return i + 1

    def value_end(i: int) -> int:
        c = text[i]
        if c == '"':
            return string_end(i)
        if c in "{[":
            close = "}" if c == "{" else "]"
            i = ws(i + 1)
            while text[i] != close:
                if c == "{":
                    i = ws(string_end(i)) + 1  # the key and its colon
                    i = ws(i)
                i = ws(value_end(i))
                if text[i] == ",":
                    i = ws(i + 1)
            return i + 1
        while i < n and text[i] not in ",}] \t\r\n":
            i += 1
        return i

    i = ws(0)
    if i >= n or text[i] != "{":
        return []
    i = ws(i + 1)
    while i < n and text[i] != "}":
        key_end = string_end(i)
        key = json_value(text[i:key_end])
        i = ws(ws(key_end) + 1)
        if key == "Statement":
            if text[i] == "{":
                return [(pos(i), pos(value_end(i)))]
            spans = []
            j = ws(i + 1)
            while text[j] != "]":
                end = value_end(j)
                spans.append((pos(j), pos(end)))
                j = ws(end)
                if text[j] == ",":
                    j = ws(j + 1)
            return spans
        i = ws(value_end(i))
        if i < n and text[i] == ",":
            i = ws(i + 1)
    return []


# -- context ---------------------------------------------------------------------


def context_from_entries(call: Call, entries: list[dict[str, Any]] | None) -> dict[str, Any]:
    """ContextEntries as condition-key values (lists for the *List types)."""
    ctx: dict[str, Any] = {}
    for entry in entries or []:
        name = entry.get("ContextKeyName")
        values = list(entry.get("ContextKeyValues") or [])
        kind = entry.get("ContextKeyType") or ("stringList" if len(values) > 1 else "string")
        if not name:
            raise errors.InvalidInputException("Context entries must have a context key name.")
        if kind.startswith("boolean"):
            for v in values:
                if v.lower() not in ("true", "false"):
                    raise errors.InvalidInputException(
                        f"Invalid boolean value {v} for context key {name}."
                    )
            values = [v.lower() for v in values]
        if kind in _LIST_TYPES:
            ctx[name] = values
        elif values:
            ctx[name] = values[0]
    return ctx


def _template_keys(templates: Any) -> list[str]:
    keys = []
    for t in templates or ():
        for part in getattr(t, "parts", ()):
            if isinstance(part, Var):
                keys.append(part.key)
    return keys


def _statement_keys(st: Any) -> list[str]:
    """Condition keys and policy variables one statement uses."""
    keys: list[str] = []
    if st.resource_matcher is not None:
        keys += _template_keys(st.resource_matcher.templates)
    for cond in st.conditions:
        keys.append(cond.key)
        keys += _template_keys(cond.templates)
    return keys


def _unique(keys: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for k in keys:
        if k.lower() not in seen:
            seen.add(k.lower())
            out.append(k)
    return out


def context_keys(policies: list[CompiledPolicy]) -> list[str]:
    """Every context key the policies refer to (conditions and variables)."""
    keys: list[str] = []
    for policy in policies:
        for st in policy.statements:
            keys += _statement_keys(st)
    return _unique(keys)


def _missing(
    sets: list[list[SimPolicy]], action: str, resource: str, ctx: RequestContext
) -> list[str]:
    """Keys of the statements that apply to (action, resource) the request lacks."""
    missing: list[str] = []
    action_lower = action.lower()
    for policies in sets:
        for p in policies:
            for st in p.compiled.statements_for(action_lower):
                rm = st.resource_matcher
                if rm is not None:
                    try:
                        if rm.matches(resource, ctx) == st.not_resource:
                            continue
                    except Unresolved:
                        pass
                for key in _statement_keys(st):
                    if key.lower() not in _SUPPLIED and ctx.values(key.lower()) is None:
                        missing.append(key)
    return _unique(missing)


# -- simulation ------------------------------------------------------------------


def resource_account(owner: str | None, resource: str) -> str | None:
    if owner:
        if is_account_id(owner):
            return owner
        parts = parse_arn(owner)
        if parts and is_account_id(parts["account"]):
            return parts["account"]
    parts = parse_arn(resource)
    if parts and is_account_id(parts["account"]):
        return parts["account"]
    return None


def organization_levels(call: Call, levels: list[dict[str, Any]] | None) -> list[list[SimPolicy]]:
    """OrderedOrganizationPolicyInputList: the SCPs of each level, root first."""
    out = []
    for i, level in enumerate(levels or [], 1):
        name = f"OrderedOrganizationPolicyInputList.{i}.ServiceControlPolicyInputList"
        # SCPs name no principal, like permissions boundaries.
        out.append(inputs(call, level.get("ServiceControlPolicyInputList"), name, "boundary"))
    return out


def _organizations(
    req: AuthzRequest, owner: str | None, levels: list[PolicySet]
) -> tuple[bool, list[Any]]:
    """(allowed by every level, the SCP statements that deny explicitly).

    As Organizations enforces SCPs: each level of the hierarchy, from the
    root to the account, must allow the action (a level with no SCP allows
    nothing), and an explicit Deny at any level denies. A level is judged on
    its own, as if the resource were in the caller's account, with
    ``aws:ResourceAccount`` still the resource's.
    """
    context = {"aws:ResourceAccount": owner, **req.context} if owner else req.context
    level_req = AuthzRequest(
        req.action,
        req.resource,
        req.principal_arn,
        req.principal_account,
        False,
        req.principal_account,
        context,
        req.principal_aliases,
    )
    allowed = True
    denies: list[Any] = []
    for level in levels:
        decision = evaluate(level_req, level)
        if decision.reason == "explicit_deny":
            denies += [m for m in decision.matched if m.effect == "Deny"]
        if not decision.allowed:
            allowed = False
    return allowed and not denies, denies


def simulate(
    call: Call,
    *,
    identity: list[SimPolicy],
    boundary: list[SimPolicy],
    resource_policy: SimPolicy | None,
    actions: list[str],
    resources: list[str] | None,
    context: dict[str, Any],
    caller_arn: str,
    resource_owner: str | None,
    organization: list[list[SimPolicy]] | None = None,
) -> list[dict[str, Any]]:
    """One EvaluationResult per action and resource; `organization` is the
    SCPs of each level of an Organizations hierarchy, root first."""
    parts = parse_arn(caller_arn)
    caller_account = parts["account"] if parts and parts["account"] else call.account
    is_root = False  # the simulator evaluates policies: no root short-cut
    # As enforcement names every caller (`authorizer.principal_aliases`): its
    # account's root ARN also stands for it, so a NotPrincipal that omits the
    # account does not except the caller.
    aliases = (f"arn:aws:iam::{caller_account}:root",) if caller_account else ()
    keyed: dict[str, SimPolicy] = {}

    def policy_set(kind: str, policies: list[SimPolicy]) -> PolicySet:
        pairs = []
        for p in policies:
            key = f"{kind}#{len(keyed)}"
            keyed[key] = p
            pairs.append((key, p.compiled))
        return PolicySet(kind, tuple(pairs))

    id_set = policy_set("identity", identity)
    b_set = policy_set("boundary", boundary) if boundary else None
    r_set = policy_set("resource", [resource_policy]) if resource_policy else None
    scp_sets = [policy_set("scp", level) for level in organization or []]
    sets = [identity, boundary, *(organization or [])]
    if resource_policy:
        sets.append([resource_policy])
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            owner = resource_account(resource_owner, resource)
            req = AuthzRequest(
                action, resource, caller_arn, caller_account, is_root, owner, context, aliases
            )
            decision = evaluate(req, id_set, r_set, b_set)
            reason = decision.reason
            org_allowed, org_denies = (
                _organizations(req, owner, scp_sets) if scp_sets else (True, [])
            )
            if reason == "explicit_deny" or org_denies:
                reason = "explicit_deny"
                chosen = [m for m in decision.matched if m.effect == "Deny"] + org_denies
            elif not org_allowed:
                reason = "implicit_deny"
                chosen = []
            elif decision.allowed:
                chosen = [m for m in decision.matched if m.kind in ("identity", "resource")]
            else:
                chosen = []
            statements = []
            for m in chosen:
                p = keyed[m.source]
                item: dict[str, Any] = {
                    "SourcePolicyId": p.policy_id,
                    "SourcePolicyType": p.policy_type,
                }
                span = p.span(m.index)
                if span is not None:
                    item["StartPosition"], item["EndPosition"] = span
                statements.append(item)
            missing = _missing(
                sets,
                action,
                resource,
                RequestContext(
                    context,
                    {"aws:PrincipalAccount": caller_account, "aws:ResourceAccount": owner},
                ),
            )
            verdict = DECISIONS[reason]
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": verdict,
                "MatchedStatements": statements,
                "MissingContextValues": missing if resource == "*" else [],
            }
            if scp_sets:
                result["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": org_allowed}
            boundary_detail = None
            if b_set is not None:
                allowed_by = evaluate(req, PolicySet("identity", b_set.policies)).allowed
                boundary_detail = {"AllowedByPermissionsBoundary": allowed_by}
                result["PermissionsBoundaryDecisionDetail"] = boundary_detail
            if resource != "*":
                result["EvalDecisionDetails"] = {}
                specific: dict[str, Any] = {
                    "EvalResourceName": resource,
                    "EvalResourceDecision": verdict,
                    "MatchedStatements": statements,
                    "MissingContextValues": missing,
                    "EvalDecisionDetails": {},
                }
                if boundary_detail is not None:
                    specific["PermissionsBoundaryDecisionDetail"] = boundary_detail
                result["ResourceSpecificResults"] = [specific]
            results.append(result)
    return results


# -- PolicyExclusionList (SimulatePrincipalPolicy) -------------------------------

#: PolicyIdentifier's PolicyType values and the attached policies each names;
#: SCPs and RCPs are never attached to a principal here, so they match nothing.
_EXCLUDED_TYPES = {
    "inline": frozenset({"user", "group", "role"}),
    "aws-managed": frozenset({"aws-managed"}),
    "user-managed": frozenset({"user-managed"}),
    "permission-boundary": frozenset(),
    "scp": frozenset(),
    "rcp": frozenset(),
}
_POLICY_ARN_RE = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy/(.+)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One PolicyIdentifier: a policy type, a managed policy ARN pattern, or an
    inline policy by name and (pattern of) the entity it is embedded in."""

    policy_type: str | None = None
    arn: re.Pattern[str] | None = None
    inline: tuple[str, str, re.Pattern[str]] | None = None

    def matches(self, p: SimPolicy) -> bool:
        if self.policy_type is not None:
            if self.policy_type == "permission-boundary":
                return p.is_boundary
            return not p.is_boundary and p.policy_type in _EXCLUDED_TYPES[self.policy_type]
        if self.arn is not None:
            return not p.is_boundary and p.arn is not None and bool(self.arn.fullmatch(p.arn))
        if self.inline is not None:
            name, kind, entity = self.inline
            return (
                p.arn is None
                and p.policy_type == kind
                and p.policy_id == name
                and p.owner is not None
                and bool(entity.fullmatch(p.owner))
            )
        return False


def _wildcard_regex(call: Call, text: str, what: str) -> str:
    """A regex for `text` with at most one ``*`` (any sequence of characters,
    including none) and any number of ``?`` (exactly one character)."""
    if text.count("*") > 1:
        raise errors.InvalidInputException(f"Invalid {what} {text}: use at most one * wildcard.")
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _arn_exclusion(call: Call, arn: str) -> Exclusion:
    """Wildcards only in the resource name: never in the partition, the
    account or the ``policy/`` resource type."""
    found = _POLICY_ARN_RE.fullmatch(arn)
    if found is None:
        raise errors.InvalidInputException(f"Invalid PolicyArn {arn}.")
    prefix = re.escape(arn[: found.start(1)])
    pattern = prefix + _wildcard_regex(call, found.group(1), "PolicyArn")
    return Exclusion(arn=re.compile(pattern, re.DOTALL))


def _inline_exclusion(call: Call, inline: dict[str, Any], where: str) -> Exclusion:
    """Entity names match regardless of case, as IAM names do."""
    name = inline.get("PolicyName")
    kind = inline.get("AttachmentType")
    entity = inline.get("AttachmentName")
    if not name or kind not in ("user", "group", "role") or not entity:
        raise errors.InvalidInputException(f"Invalid InlinePolicyIdentifier in {where}.")
    if "*" in name or "?" in name:
        raise errors.InvalidInputException(
            f"Invalid PolicyName {name}: wildcards are allowed only in AttachmentName."
        )
    entity_re = re.compile(
        _wildcard_regex(call, entity, "AttachmentName"), re.DOTALL | re.IGNORECASE
    )
    return Exclusion(inline=(name, kind, entity_re))


def exclusions(call: Call, identifiers: list[dict[str, Any]] | None) -> list[Exclusion]:
    """The request's PolicyExclusionList; InvalidInput for a malformed identifier
    (not exactly one member, a malformed ARN, a wildcard where none may be)."""
    out = []
    for i, ident in enumerate(identifiers or [], 1):
        where = f"PolicyExclusionList.member.{i}"
        given = [k for k in ("PolicyType", "PolicyArn", "InlinePolicyIdentifier") if ident.get(k)]
        if len(given) != 1:
            raise errors.InvalidInputException(
                f"{where} must specify exactly one of PolicyType, PolicyArn or "
                "InlinePolicyIdentifier."
            )
        if given == ["PolicyType"]:
            if ident["PolicyType"] not in _EXCLUDED_TYPES:
                raise errors.InvalidInputException(f"Invalid PolicyType {ident['PolicyType']}.")
            out.append(Exclusion(policy_type=ident["PolicyType"]))
        elif given == ["PolicyArn"]:
            out.append(_arn_exclusion(call, ident["PolicyArn"]))
        else:
            out.append(_inline_exclusion(call, ident["InlinePolicyIdentifier"], where))
    return out


def without(policies: list[SimPolicy], excluded: list[Exclusion]) -> list[SimPolicy]:
    """The policies no exclusion identifies."""
    if not excluded:
        return policies
    return [p for p in policies if not any(e.matches(p) for e in excluded)]
