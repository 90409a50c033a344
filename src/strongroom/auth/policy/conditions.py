"""The ``Condition`` element: operators, set qualifiers, the request context.

Semantics, as AWS documents them (IAM User Guide, "Condition operators" and
"Conditions with multiple context keys or values"):

* several operators in a block, and several keys under one operator, AND;
* several values for one key OR; for a negated operator (``StringNotEquals``,
  ``NotIpAddress``, ``ArnNotLike``, …) they NOR: the request value must match
  none of them;
* a key absent from the request makes the condition false, except for a
  negated operator (true), an ``…IfExists`` operator (true) and ``Null``;
* ``ForAllValues:`` is true when every request value matches a policy value,
  and also when the key is missing or its value set is empty;
  ``ForAnyValue:`` is true when at least one request value matches, and false
  for a missing key or an empty set;
* key names are case-insensitive; values follow the operator;
* policy variables work in the string, ARN and Bool operators only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from strongroom.auth.policy.patterns import (
    Pieces,
    Template,
    arn_regex,
    glob_regex,
    text_of,
)

Predicate = Callable[[str], bool]


class ConditionValueError(ValueError):
    """A condition value the operator cannot use (not a number, not a CIDR…)."""


# --------------------------------------------------------------------------
# The request context
# --------------------------------------------------------------------------


def _scalar(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes | bytearray):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return v.isoformat()
    return str(v)


def _normalize(v: Any) -> tuple[str, ...] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list | tuple | set | frozenset):
        return tuple(_scalar(x) for x in v)
    return (_scalar(v),)


class RequestContext:
    """Condition keys of one request, looked up case-insensitively.

    Values are strings or lists of strings (a list is a multivalued key; an
    empty list is a key present with an empty value set). Booleans, numbers,
    bytes and datetimes are accepted and rendered as IAM compares them.
    The lowered index is built on first use, so a request whose policies hold
    no condition and no variable never pays for it.
    """

    __slots__ = ("_fallback", "_index", "_raw", "_seen")

    def __init__(self, raw: Mapping[str, Any], fallback: Mapping[str, Any] | None = None) -> None:
        self._raw = raw
        self._fallback = fallback
        self._index: dict[str, Any] | None = None
        #: Normalized values of the keys looked up so far.
        self._seen: dict[str, tuple[str, ...] | None] = {}

    def _build(self) -> dict[str, Any]:
        index: dict[str, Any] = {}
        if self._fallback:
            for k, v in self._fallback.items():
                index[k.lower()] = v
        for k, v in self._raw.items():
            index[k.lower()] = v
        self._index = index
        return index

    def values(self, key_lower: str) -> tuple[str, ...] | None:
        """All values of the key (``None`` when the key is absent)."""
        seen = self._seen
        if key_lower in seen:
            return seen[key_lower]
        index = self._index if self._index is not None else self._build()
        found = seen[key_lower] = _normalize(index.get(key_lower))
        return found

    def scalar(self, key_lower: str) -> str | None:
        """The single value of a key, for a policy variable.

        Multivalued keys cannot be policy variables: a key with other than
        one value resolves to nothing.
        """
        vals = self.values(key_lower)
        if vals is None or len(vals) != 1:
            return None
        return vals[0]


# --------------------------------------------------------------------------
# Value parsers (shared by policy values and request values)
# --------------------------------------------------------------------------

_EPOCH_RE: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")
_YEAR_RE: Final = re.compile(r"(\d{4})(?:-(\d{2}))?")


def parse_number(s: str) -> float | None:
    try:
        x = float(s.strip())
    except (ValueError, AttributeError):
        return None
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return x


@lru_cache(maxsize=4096)
def parse_date(s: str) -> float | None:
    """A W3C ISO 8601 date/time or an epoch (seconds) value, as epoch seconds."""
    s = s.strip()
    m = _YEAR_RE.fullmatch(s)
    if m is not None:  # YYYY or YYYY-MM
        try:
            return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC).timestamp()
        except ValueError:
            return None
    if _EPOCH_RE.fullmatch(s):
        return float(s)
    try:
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in "zZ" and s else s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@lru_cache(maxsize=4096)
def parse_ip(s: str) -> tuple[int, int] | None:
    """(version, integer) for an IP address; ``None`` if it is not one."""
    try:
        a = ipaddress.ip_address(s.strip())
    except ValueError:
        return None
    return a.version, int(a)


def parse_cidr(s: str) -> tuple[int, int, int] | None:
    """(version, network, mask) for a CIDR block; a bare address is /32 (/128)."""
    try:
        n = ipaddress.ip_network(s.strip(), strict=False)
    except ValueError:
        return None
    return n.version, int(n.network_address), int(n.netmask)


def parse_binary(s: str) -> bytes | None:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def _request_bytes(s: str) -> bytes:
    b = parse_binary(s)
    return b if b is not None else s.encode("utf-8")


# --------------------------------------------------------------------------
# Operator families
# --------------------------------------------------------------------------


class Family:
    """How one operator family turns policy values into a predicate."""

    name: str = ""
    variables: bool = False

    def validate(self, raw: str, operator_name: str) -> None:
        """Reject a literal policy value the family cannot use."""

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        raise NotImplementedError


class _StringEquals(Family):
    name = "String"
    variables = True

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        return frozenset(text_of(v) for v in values).__contains__


class _StringEqualsIgnoreCase(Family):
    name = "String"
    variables = True

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        wanted = frozenset(text_of(v).casefold() for v in values)
        return lambda v: v.casefold() in wanted


class _StringLike(Family):
    name = "String"
    variables = True

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        rx = glob_regex(values)
        return lambda v: rx.fullmatch(v) is not None


class _Arn(Family):
    name = "Arn"
    variables = True

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        rx = arn_regex(values)
        return lambda v: rx.fullmatch(v) is not None


class _Bool(Family):
    name = "Bool"
    variables = True

    def validate(self, raw: str, operator_name: str) -> None:
        if raw.lower() not in ("true", "false"):
            raise ConditionValueError(f"Invalid Condition value for {operator_name}: {raw}")

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        wanted = frozenset(text_of(v).lower() for v in values)
        return lambda v: v.lower() in wanted


class _Compare(Family):
    """Numeric and Date: the request value against each policy value."""

    def __init__(self, name: str, parse: Callable[[str], float | None], cmp: Callable) -> None:
        self.name = name
        self._parse = parse
        self._cmp = cmp

    def validate(self, raw: str, operator_name: str) -> None:
        if self._parse(raw) is None:
            raise ConditionValueError(f"Invalid Condition value for {operator_name}: {raw}")

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        parse, cmp = self._parse, self._cmp
        wanted = tuple(x for x in (parse(text_of(v)) for v in values) if x is not None)

        def pred(v: str) -> bool:
            x = parse(v)
            if x is None:
                return False
            return any(cmp(x, p) for p in wanted)

        return pred


class _Binary(Family):
    name = "Binary"

    def validate(self, raw: str, operator_name: str) -> None:
        if parse_binary(raw) is None:
            raise ConditionValueError(f"Invalid Condition value for {operator_name}: {raw}")

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        wanted = frozenset(b for b in (parse_binary(text_of(v)) for v in values) if b is not None)
        return lambda v: _request_bytes(v) in wanted


class _Ip(Family):
    name = "IpAddress"

    def validate(self, raw: str, operator_name: str) -> None:
        if parse_cidr(raw) is None:
            raise ConditionValueError(f"Invalid Condition value for {operator_name}: {raw}")

    def build(self, values: tuple[Pieces, ...]) -> Predicate:
        nets = tuple(n for n in (parse_cidr(text_of(v)) for v in values) if n is not None)

        def pred(v: str) -> bool:
            a = parse_ip(v)
            if a is None:
                return False
            version, addr = a
            return any(ver == version and addr & mask == net for ver, net, mask in nets)

        return pred


class _Null(Family):
    name = "Null"

    def validate(self, raw: str, operator_name: str) -> None:
        if raw.lower() not in ("true", "false"):
            raise ConditionValueError(f"Invalid Condition value for {operator_name}: {raw}")

    def build(self, values: tuple[Pieces, ...]) -> Predicate:  # pragma: no cover - unused
        raise NotImplementedError


_NUM = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}

#: canonical operator name -> (family, negated)
OPERATORS: Final[dict[str, tuple[Family, bool]]] = {
    "StringEquals": (_StringEquals(), False),
    "StringNotEquals": (_StringEquals(), True),
    "StringEqualsIgnoreCase": (_StringEqualsIgnoreCase(), False),
    "StringNotEqualsIgnoreCase": (_StringEqualsIgnoreCase(), True),
    "StringLike": (_StringLike(), False),
    "StringNotLike": (_StringLike(), True),
    "Bool": (_Bool(), False),
    "BinaryEquals": (_Binary(), False),
    "IpAddress": (_Ip(), False),
    "NotIpAddress": (_Ip(), True),
    "ArnEquals": (_Arn(), False),
    "ArnLike": (_Arn(), False),
    "ArnNotEquals": (_Arn(), True),
    "ArnNotLike": (_Arn(), True),
    "Null": (_Null(), False),
}
for _suffix, _cmp in _NUM.items():
    OPERATORS["Numeric" + _suffix] = (
        _Compare("Numeric", parse_number, _cmp),
        _suffix == "NotEquals",
    )
    OPERATORS["Date" + _suffix] = (_Compare("Date", parse_date, _cmp), _suffix == "NotEquals")

_BY_LOWER: Final = {name.lower(): name for name in OPERATORS}

FOR_ALL: Final = "ForAllValues"
FOR_ANY: Final = "ForAnyValue"
_SET_OPS: Final = {"forallvalues": FOR_ALL, "foranyvalue": FOR_ANY}


class UnknownOperator(ValueError):
    pass


def parse_operator(raw: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> (set qualifier, base operator, if_exists)."""
    set_op: str | None = None
    name = raw
    if ":" in raw:
        prefix, name = raw.split(":", 1)
        set_op = _SET_OPS.get(prefix.lower())
        if set_op is None:
            raise UnknownOperator(raw)
    if_exists = False
    if name.lower().endswith("ifexists"):
        if_exists = True
        name = name[: -len("ifexists")]
    base = _BY_LOWER.get(name.lower())
    if base is None or (if_exists and base == "Null"):
        raise UnknownOperator(raw)
    return set_op, base, if_exists


# --------------------------------------------------------------------------
# A compiled condition: one operator, one key, its values
# --------------------------------------------------------------------------


class Condition:
    """``{"<operator>": {"<key>": [values]}}`` for one key, compiled."""

    __slots__ = (
        "__weakref__",
        "_family",
        "_static",
        "_templates",
        "if_exists",
        "key",
        "key_lower",
        "negated",
        "null_wants",
        "operator",
        "set_op",
        "values",
    )

    def __init__(
        self,
        operator_name: str,
        key: str,
        values: Sequence[str],
        *,
        variables: bool,
    ) -> None:
        set_op, base, if_exists = parse_operator(operator_name)
        family, negated = OPERATORS[base]
        self.operator = (f"{set_op}:" if set_op else "") + base + ("IfExists" if if_exists else "")
        self.key = key
        self.key_lower = key.lower()
        self.values = tuple(values)
        self.set_op = set_op
        self.if_exists = if_exists
        self.negated = negated
        self._family = family
        use_vars = variables and family.variables
        self._templates = tuple(Template(v, variables=use_vars) for v in self.values)
        for t in self._templates:
            if not t.has_vars:
                family.validate(t.raw, self.operator)
        self.null_wants: frozenset[bool] | None = None
        self._static: Predicate | None = None
        if isinstance(family, _Null):
            self.null_wants = frozenset(v.lower() == "true" for v in self.values)
        elif not any(t.has_vars for t in self._templates):
            self._static = family.build(tuple(t.static for t in self._templates))  # type: ignore[misc]

    @property
    def templates(self) -> tuple[Template, ...]:
        """The values as parsed templates (their `Var` parts name policy variables)."""
        return self._templates

    def _predicate(self, ctx: RequestContext) -> Predicate:
        if self._static is not None:
            return self._static
        resolved = tuple(t.resolve(ctx.scalar) for t in self._templates)
        return _cached_build(self._family, resolved)

    def evaluate(self, ctx: RequestContext) -> bool:
        """Whether the condition holds for the request.

        Raises `Unresolved` when a policy variable in its values has no value
        in the request (the statement is then invalid).
        """
        vals = ctx.values(self.key_lower)
        if self.null_wants is not None:
            return (not vals) in self.null_wants
        set_op = self.set_op
        if vals is None or (not vals and set_op is None):
            # The key is missing (an empty value set counts as missing for a
            # single-valued test): IfExists and negated operators hold,
            # ForAllValues holds vacuously, anything else fails.
            if self.if_exists:
                return True
            if set_op is not None:
                return set_op == FOR_ALL
            return self.negated
        pred = self._static or self._predicate(ctx)
        if len(vals) == 1:
            hit = pred(vals[0])
            return (not hit) if self.negated else hit
        if set_op == FOR_ALL:
            if self.negated:
                return not any(map(pred, vals))
            return all(map(pred, vals))
        if set_op == FOR_ANY and self.negated:
            return not all(map(pred, vals))
        # ForAnyValue, or no qualifier on a multivalued key: any request value
        # matching will do (none may match, for a negated operator).
        hit = any(map(pred, vals))
        return (not hit) if self.negated else hit

    def __repr__(self) -> str:
        return f"Condition({self.operator!r}, {self.key!r}, {list(self.values)!r})"


_INTERNED: weakref.WeakValueDictionary[tuple, Condition] = weakref.WeakValueDictionary()


def make_condition(
    operator_name: str, key: str, values: Sequence[str], *, variables: bool
) -> Condition:
    """A compiled condition, shared with every identical one already compiled.

    Policies repeat conditions (the same network, the same MFA check); one
    object per distinct condition lets an evaluation test each just once.
    """
    set_op, base, if_exists = parse_operator(operator_name)
    sig = (set_op, base, if_exists, key.lower(), tuple(values), variables)
    cond = _INTERNED.get(sig)
    if cond is None:
        cond = Condition(operator_name, key, values, variables=variables)
        _INTERNED[sig] = cond
    return cond


@lru_cache(maxsize=8192)
def _cached_build(family: Family, values: tuple[Pieces, ...]) -> Predicate:
    return family.build(values)
