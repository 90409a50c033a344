"""Parse, validate and compile an IAM policy document.

`parse_policy` turns JSON text into a `CompiledPolicy`: an immutable form in
which every wildcard pattern is already a regex, statements are indexed by
the action's service prefix, and conditions are ready to evaluate. What is
wrong with a document is reported as `MalformedPolicy` with IAM's wording.

The ``kind`` of a policy decides what its statements must and must not say:

==========  =========================  ===========================
kind        Principal / NotPrincipal   Resource / NotResource
==========  =========================  ===========================
identity    prohibited                 required
boundary    prohibited                 required
session     prohibited                 required
resource    required                   required
trust       required                   prohibited
==========  =========================  ===========================
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from strongroom.auth.policy.conditions import (
    Condition,
    ConditionValueError,
    RequestContext,
    UnknownOperator,
    make_condition,
)
from strongroom.auth.policy.patterns import (
    Template,
    Unresolved,
    arn_regex,
    glob_regex,
)

VERSION_2012: Final = "2012-10-17"
VERSION_2008: Final = "2008-10-17"
VERSIONS: Final = (VERSION_2012, VERSION_2008)

KINDS: Final = ("identity", "resource", "trust", "boundary", "session")
_NO_PRINCIPAL_KINDS: Final = frozenset({"identity", "boundary", "session"})
#: Policies stored by IAM itself: their Sids must be alphanumeric.
_IAM_KINDS: Final = frozenset({"identity", "boundary", "session", "trust"})

SYNTAX_ERROR: Final = "Syntax errors in policy."
_TOP_FIELDS: Final = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS: Final = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_TYPES: Final = ("AWS", "Service", "Federated", "CanonicalUser")

_SID_RE: Final = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT_RE: Final = re.compile(r"\d{12}")
_ROOT_ARN_RE: Final = re.compile(r"arn:[a-z0-9-]+:iam::(\d{12}):root")
_AWS_PRINCIPAL_ARN_RE: Final = re.compile(
    r"arn:[a-z0-9-]+:(?:"
    r"iam::\d{12}:(?:user|role)/[^*?]+"
    r"|sts::\d{12}:(?:assumed-role/[^*?/]+/[^*?]+|federated-user/[^*?]+)"
    r")"
)
#: IAM unique ids (AIDA…, AROA…): what a trust policy shows once the user or
#: role it named has been deleted.
_UNIQUE_ID_RE: Final = re.compile(r"A[A-Z0-9]{15,127}")
_VENDOR_RE: Final = re.compile(r"[A-Za-z0-9_.-]+")
_ACTION_NAME_RE: Final = re.compile(r"[A-Za-z0-9_*?.-]+")


class MalformedPolicy(ValueError):
    """The policy document is not valid; ``str(exc)`` is IAM's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicySizeExceeded(MalformedPolicy):
    """The document is larger than the quota (IAM answers LimitExceeded)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Cannot exceed quota for PolicySize: {limit}")
        self.limit = limit


# --------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------

#: How a resource-policy statement names the caller (see evaluate.py).
DIRECT: Final = 3  # the caller's own ARN, "*", a service, the account root itself
VIA_ALIAS: Final = 2  # an ARN standing for the caller (the role of a session)
VIA_ACCOUNT: Final = 1  # the caller's account: a delegation to its IAM policies


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A compiled ``Principal`` / ``NotPrincipal`` element."""

    wildcard: bool
    accounts: frozenset[str]
    arns: frozenset[str]
    services: frozenset[str]
    federated: frozenset[str]
    canonical: frozenset[str]

    def _names(self, name: str) -> bool:
        return (
            name in self.arns
            or name in self.services
            or name in self.federated
            or name in self.canonical
        )

    def _names_account_of(self, arn: str) -> bool:
        m = _ROOT_ARN_RE.fullmatch(arn)
        return m is not None and m.group(1) in self.accounts

    def match(self, arn: str, account: str, is_root: bool, aliases: tuple[str, ...]) -> int | None:
        """How this element names the caller: DIRECT, VIA_ALIAS, VIA_ACCOUNT or None."""
        if self.wildcard or self._names(arn):
            return DIRECT
        in_account = account in self.accounts or self._names_account_of(arn)
        if in_account and is_root:
            return DIRECT
        best = VIA_ACCOUNT if in_account else None
        for alias in aliases:
            if self._names(alias):
                return VIA_ALIAS
            if best is None and self._names_account_of(alias):
                best = VIA_ACCOUNT
        return best

    def excludes(self, arn: str, is_root: bool, account: str, aliases: tuple[str, ...]) -> bool:
        """``NotPrincipal``: is the caller among the excepted principals?

        Every identity that stands for the caller (the caller itself and each
        alias: the role of a session, the account) must be listed; AWS may
        evaluate the account and the role before the session, which is why
        its documentation tells to list them all.
        """
        if self.wildcard:
            return True
        if is_root:
            if account not in self.accounts and not self._names_account_of(arn):
                return False
        elif not self._names(arn):
            return False
        return all(self._names(a) or self._names_account_of(a) for a in aliases)


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise MalformedPolicy(SYNTAX_ERROR)


def _parse_principal(value: Any) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(True, frozenset(), frozenset(), frozenset(), frozenset(), frozenset())
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Invalid principal in policy")
    wildcard = False
    accounts: set[str] = set()
    arns: set[str] = set()
    by_type: dict[str, set[str]] = {"Service": set(), "Federated": set(), "CanonicalUser": set()}
    for ptype, raw in value.items():
        if ptype not in _PRINCIPAL_TYPES:
            raise MalformedPolicy("Invalid principal in policy")
        try:
            names = _string_list(raw)
        except MalformedPolicy:
            raise MalformedPolicy("Invalid principal in policy") from None
        for name in names:
            if ptype == "AWS":
                if name == "*":
                    wildcard = True
                elif _ACCOUNT_RE.fullmatch(name):
                    accounts.add(name)
                elif m := _ROOT_ARN_RE.fullmatch(name):
                    accounts.add(m.group(1))
                elif _AWS_PRINCIPAL_ARN_RE.fullmatch(name) or _UNIQUE_ID_RE.fullmatch(name):
                    arns.add(name)
                else:
                    raise MalformedPolicy("Invalid principal in policy")
            else:
                if not name or (name != "*" and ("*" in name or "?" in name)):
                    raise MalformedPolicy("Invalid principal in policy")
                if name == "*" and ptype != "CanonicalUser":
                    # {"Service": "*"} is not "everyone"; IAM refuses it.
                    raise MalformedPolicy("Invalid principal in policy")
                by_type[ptype].add(name)
    return PrincipalSpec(
        wildcard,
        frozenset(accounts),
        frozenset(arns),
        frozenset(by_type["Service"]),
        frozenset(by_type["Federated"]),
        frozenset(by_type["CanonicalUser"]),
    )


# --------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------


class ResourceMatcher:
    """``Resource`` / ``NotResource`` patterns, compiled to one regex when static."""

    __slots__ = ("__weakref__", "any", "regex", "templates")

    def __init__(self, patterns: list[str], *, variables: bool) -> None:
        self.templates = tuple(Template(p, variables=variables) for p in patterns)
        self.any = any(t.raw == "*" for t in self.templates)
        self.regex = None
        if not self.any and not any(t.has_vars for t in self.templates):
            self.regex = arn_regex(tuple(t.static for t in self.templates))  # type: ignore[misc]

    def matches(self, resource: str, ctx: RequestContext) -> bool:
        """Raises `Unresolved` for a variable the request has no value for."""
        if self.any:
            return True
        rx = self.regex
        if rx is None:
            rx = arn_regex(tuple(t.resolve(ctx.scalar) for t in self.templates))
        return rx.fullmatch(resource) is not None


_RESOURCE_MATCHERS: weakref.WeakValueDictionary[tuple, ResourceMatcher] = (
    weakref.WeakValueDictionary()
)


def make_resource_matcher(patterns: list[str], *, variables: bool) -> ResourceMatcher:
    """A compiled Resource list, shared with every identical one (see make_condition)."""
    sig = (tuple(patterns), variables)
    m = _RESOURCE_MATCHERS.get(sig)
    if m is None:
        m = ResourceMatcher(patterns, variables=variables)
        _RESOURCE_MATCHERS[sig] = m
    return m


class ActionMatcher:
    __slots__ = ("any", "exact", "regex", "vendors")

    def __init__(self, patterns: list[str]) -> None:
        lowered = [p.lower() for p in patterns]
        self.any = "*" in lowered
        self.exact = frozenset(p for p in lowered if "*" not in p and "?" not in p)
        wild = tuple(((p, False),) for p in lowered if ("*" in p or "?" in p) and p != "*")
        self.regex = glob_regex(wild, True) if wild else None
        #: Service prefixes this element can match (None: any service).
        self.vendors: frozenset[str] | None = (
            None if self.any else frozenset(p.split(":", 1)[0] for p in lowered)
        )

    def matches(self, action_lower: str) -> bool:
        if self.any or action_lower in self.exact:
            return True
        return self.regex is not None and self.regex.fullmatch(action_lower) is not None


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    index: int
    sid: str | None
    effect: str
    is_allow: bool
    principal: PrincipalSpec | None
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    action_matcher: ActionMatcher
    resources: tuple[str, ...] | None
    not_resource: bool
    resource_matcher: ResourceMatcher | None
    conditions: tuple[Condition, ...]

    def matches_action(self, action_lower: str) -> bool:
        return self.action_matcher.matches(action_lower) != self.not_action

    def principal_category(
        self, arn: str, account: str, is_root: bool, aliases: tuple[str, ...]
    ) -> int | None:
        """How the statement names the caller (None: it does not apply to the caller)."""
        spec = self.principal
        if spec is None:
            return DIRECT
        if self.not_principal:
            return None if spec.excludes(arn, is_root, account, aliases) else DIRECT
        return spec.match(arn, account, is_root, aliases)

    def matches_resource(self, resource: str, ctx: RequestContext) -> bool:
        m = self.resource_matcher
        if m is None:  # trust policies name no resource
            return True
        return m.matches(resource, ctx) != self.not_resource

    def matches_conditions(self, ctx: RequestContext) -> bool:
        return all(c.evaluate(ctx) for c in self.conditions)

    def applies(self, resource: str, ctx: RequestContext) -> bool:
        """Resource and Condition both match (the action was matched already)."""
        try:
            if not self.matches_resource(resource, ctx):
                return False
            return not self.conditions or self.matches_conditions(ctx)
        except Unresolved:
            return False


def _check_action(action: str) -> None:
    if action == "*":
        return
    colons = action.count(":")
    if colons == 0:
        raise MalformedPolicy(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        )
    if colons > 1:
        raise MalformedPolicy("Actions/Condition can contain only one colon.")
    vendor, name = action.split(":")
    if "*" in vendor or "?" in vendor:
        raise MalformedPolicy("Action vendors (e.g., aws, ec2, etc.) must not contain wildcards")
    if not _VENDOR_RE.fullmatch(vendor) or not _ACTION_NAME_RE.fullmatch(name):
        raise MalformedPolicy(f"Invalid Action: {action}")


def _check_resource(resource: str) -> None:
    if resource == "*":
        return
    if not resource.startswith("arn:") or resource.count(":") < 5:
        raise MalformedPolicy(f'Resource {resource} must be in ARN format or "*".')


def _condition_values(value: Any) -> list[str]:
    if isinstance(value, list):
        if not value:
            raise MalformedPolicy(SYNTAX_ERROR)
        return [_condition_scalar(v) for v in value]
    return [_condition_scalar(value)]


def _condition_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise MalformedPolicy(SYNTAX_ERROR)


def _parse_conditions(value: Any, *, variables: bool) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise MalformedPolicy(SYNTAX_ERROR)
    out: list[Condition] = []
    for op, block in value.items():
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy(SYNTAX_ERROR)
        for key, raw in block.items():
            if ":" not in key:
                raise MalformedPolicy(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            values = _condition_values(raw)
            try:
                out.append(make_condition(op, key, values, variables=variables))
            except UnknownOperator:
                raise MalformedPolicy(f"Invalid Condition type : {op}") from None
            except ConditionValueError as e:
                raise MalformedPolicy(str(e)) from None
    return tuple(out)


def _parse_statement(raw: Any, index: int, kind: str, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy(SYNTAX_ERROR)
    for key in raw:
        if key not in _STATEMENT_FIELDS:
            raise MalformedPolicy(f"Unknown field {key}")

    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise MalformedPolicy(SYNTAX_ERROR)
        if kind in _IAM_KINDS and not _SID_RE.fullmatch(sid):
            raise MalformedPolicy(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies "
                "the regular expression [0-9A-Za-z]*"
            )

    if "Effect" not in raw:
        raise MalformedPolicy("Missing required field Effect")
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")

    # Principal / NotPrincipal
    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if kind in _NO_PRINCIPAL_KINDS:
        if has_p or has_np:
            raise MalformedPolicy("Policy document should not specify a principal.")
        principal, not_principal = None, False
    else:
        if has_p and has_np:
            raise MalformedPolicy("Statement cannot contain both Principal and NotPrincipal")
        if not (has_p or has_np):
            raise MalformedPolicy("Missing required field Principal")
        principal = _parse_principal(raw["Principal" if has_p else "NotPrincipal"])
        not_principal = has_np

    # Action / NotAction
    has_a, has_na = "Action" in raw, "NotAction" in raw
    if has_a and has_na:
        raise MalformedPolicy("Statement cannot contain both Action and NotAction")
    if not (has_a or has_na):
        raise MalformedPolicy("Policy statement must contain actions.")
    action_value = raw["Action" if has_a else "NotAction"]
    if action_value == []:
        raise MalformedPolicy("Policy statement must contain actions.")
    actions = _string_list(action_value)
    for a in actions:
        _check_action(a)

    # Resource / NotResource
    has_r, has_nr = "Resource" in raw, "NotResource" in raw
    resources: list[str] | None = None
    if kind == "trust":
        if has_r:
            raise MalformedPolicy("Has prohibited field Resource")
        if has_nr:
            raise MalformedPolicy("Has prohibited field NotResource")
    else:
        if has_r and has_nr:
            raise MalformedPolicy("Statement cannot contain both Resource and NotResource")
        if not (has_r or has_nr):
            raise MalformedPolicy("Policy statement must contain resources.")
        resource_value = raw["Resource" if has_r else "NotResource"]
        if resource_value == []:
            raise MalformedPolicy("Policy statement must contain resources.")
        resources = _string_list(resource_value)
        for r in resources:
            _check_resource(r)

    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        conditions = _parse_conditions(raw["Condition"], variables=variables)

    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        is_allow=effect == "Allow",
        principal=principal,
        not_principal=not_principal,
        actions=tuple(actions),
        not_action=has_na,
        action_matcher=ActionMatcher(actions),
        resources=tuple(resources) if resources is not None else None,
        not_resource=has_nr,
        resource_matcher=(
            make_resource_matcher(resources, variables=variables) if resources is not None else None
        ),
        conditions=conditions,
    )


# --------------------------------------------------------------------------
# The compiled policy
# --------------------------------------------------------------------------

_ACTION_CACHE_LIMIT: Final = 2048


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPolicy:
    """An immutable, validated, ready-to-evaluate policy document."""

    version: str
    id: str | None
    kind: str
    statements: tuple[Statement, ...]
    #: The parsed JSON, for display (``GetPolicyVersion`` and friends).
    document: Mapping[str, Any] = field(repr=False)
    _by_vendor: Mapping[str, tuple[Statement, ...]] = field(repr=False)
    _any_vendor: tuple[Statement, ...] = field(repr=False)
    _action_cache: dict[str, tuple[Statement, ...]] = field(default_factory=dict, repr=False)

    @property
    def has_variables(self) -> bool:
        return self.version == VERSION_2012

    def statements_for(self, action_lower: str) -> tuple[Statement, ...]:
        """Statements whose Action / NotAction matches the (lower-cased) action."""
        hit = self._action_cache.get(action_lower)
        if hit is not None:
            return hit
        vendor = action_lower.split(":", 1)[0]
        candidates = self._by_vendor.get(vendor, ())
        if self._any_vendor:
            candidates = tuple(sorted((*candidates, *self._any_vendor), key=lambda s: s.index))
        found = tuple(s for s in candidates if s.matches_action(action_lower))
        cache = self._action_cache
        if len(cache) >= _ACTION_CACHE_LIMIT:
            cache.clear()
        cache[action_lower] = found
        return found


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise MalformedPolicy(SYNTAX_ERROR)
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise MalformedPolicy(SYNTAX_ERROR)


def policy_size(text: str) -> int:
    """IAM's policy size: characters, not counting white space."""
    return sum(1 for c in text if not c.isspace())


def parse_policy(
    text: str | bytes | Mapping[str, Any],
    kind: str = "identity",
    *,
    max_size: int | None = None,
) -> CompiledPolicy:
    """Validate a policy document and compile it.

    ``text`` is the JSON document (a mapping is accepted too, already
    parsed). ``max_size`` is the size quota for where the policy is
    attached (IAM counts characters without white space).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}")
    if isinstance(text, Mapping):
        doc: Any = text
        if max_size is not None and policy_size(json.dumps(text)) > max_size:
            raise PolicySizeExceeded(max_size)
    else:
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedPolicy(SYNTAX_ERROR) from None
        if max_size is not None and policy_size(text) > max_size:
            raise PolicySizeExceeded(max_size)
        try:
            doc = json.loads(
                text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
            )
        except (ValueError, RecursionError) as e:
            if isinstance(e, MalformedPolicy):
                raise
            raise MalformedPolicy(SYNTAX_ERROR) from None

    if not isinstance(doc, Mapping):
        raise MalformedPolicy(SYNTAX_ERROR)
    for key in doc:
        if key not in _TOP_FIELDS:
            raise MalformedPolicy(f"Unknown field {key}")

    version = doc.get("Version", VERSION_2008)
    if version not in VERSIONS:
        raise MalformedPolicy("The policy failed legacy parsing")
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy(SYNTAX_ERROR)

    if "Statement" not in doc:
        raise MalformedPolicy("Missing required field Statement")
    raw_statements = doc["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicy(SYNTAX_ERROR)

    variables = version == VERSION_2012
    statements = tuple(
        _parse_statement(s, i, kind, variables) for i, s in enumerate(raw_statements)
    )
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")

    by_vendor: dict[str, list[Statement]] = {}
    any_vendor: list[Statement] = []
    for s in statements:
        vendors = s.action_matcher.vendors
        if s.not_action or vendors is None:
            any_vendor.append(s)
        else:
            for v in vendors:
                by_vendor.setdefault(v, []).append(s)

    return CompiledPolicy(
        version=version,
        id=policy_id,
        kind=kind,
        statements=statements,
        document=doc,
        _by_vendor={k: tuple(v) for k, v in by_vendor.items()},
        _any_vendor=tuple(any_vendor),
    )


#: ``compile_policy`` reads better at call sites that cache the result.
compile_policy = parse_policy

__all__ = [
    "DIRECT",
    "KINDS",
    "VERSIONS",
    "VIA_ACCOUNT",
    "VIA_ALIAS",
    "CompiledPolicy",
    "MalformedPolicy",
    "PolicySizeExceeded",
    "PrincipalSpec",
    "Statement",
    "compile_policy",
    "parse_policy",
    "policy_size",
]
