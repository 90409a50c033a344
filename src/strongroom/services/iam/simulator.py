"""The IAM policy simulator: SimulatePrincipalPolicy / SimulateCustomPolicy and
the context-key listings, answered by the same `evaluate()` as every request.

Each policy of a simulation is a `SimPolicy`: what the response calls it
(SourcePolicyId, SourcePolicyType), its text (for the line and column of a
matched statement) and its compiled form.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import orjson

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
from strongroom.framework import Call

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

    def span(self, index: int) -> tuple[dict[str, int], dict[str, int]] | None:
        if self._spans is None:
            self._spans = statement_spans(self.text)
        return self._spans[index] if index < len(self._spans) else None


def compile_policy_text(call: Call, text: str, kind: str) -> CompiledPolicy:
    """A simulation input: InvalidInput in IAM's words when it is not valid."""
    try:
        return parse_policy(text, kind)
    except MalformedPolicy as exc:
        raise call.service.errors.InvalidInputException(exc.message) from None


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
        key = orjson.loads(text[i:key_end])
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
            raise call.service.errors.InvalidInputException(
                "Context entries must have a context key name."
            )
        if kind.startswith("boolean"):
            for v in values:
                if v.lower() not in ("true", "false"):
                    raise call.service.errors.InvalidInputException(
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
) -> list[dict[str, Any]]:
    """One EvaluationResult per action and resource."""
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
    sets = [identity, boundary] + ([[resource_policy]] if resource_policy else [])
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            owner = resource_account(resource_owner, resource)
            req = AuthzRequest(
                action, resource, caller_arn, caller_account, is_root, owner, context, aliases
            )
            decision = evaluate(req, id_set, r_set, b_set)
            if decision.reason == "explicit_deny":
                chosen = [m for m in decision.matched if m.effect == "Deny"]
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
            verdict = DECISIONS[decision.reason]
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": verdict,
                "MatchedStatements": statements,
                "MissingContextValues": missing if resource == "*" else [],
            }
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
