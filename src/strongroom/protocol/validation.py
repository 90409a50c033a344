"""Input validation from a botocore shape, compiled once, worded as AWS words it.

`compile_validator(shape)` turns an input shape into a small tree of closures
that checks a parsed value (plain Python, member names as in the model) for
required members, lengths, ranges, enums and patterns. Each failure becomes
one sentence in AWS's wording; `validation_message` joins them::

    1 validation error detected: Value null at 'keyId' failed to satisfy
    constraint: Member must not be null

Type errors are not checked here: the protocol readers reject a value of the
wrong type before validation runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.model import Shape

log = logging.getLogger(__name__)

#: check(value, path, errors) appends one message per failed constraint.
Check = Callable[[Any, str, list[str]], None]

_NOT_NULL = "Member must not be null"


def validation_message(errors: list[str]) -> str:
    n = len(errors)
    if n == 1:
        return "1 validation error detected: " + errors[0]
    return f"{n} validation errors detected: " + "; ".join(errors)


def lower_camel(name: str) -> str:
    """The member name as AWS writes it in validation paths (``KeyId`` -> ``keyId``)."""
    if not name:
        return name
    return name[0].lower() + name[1:]


# --------------------------------------------------------------------------- value rendering

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(value: Any) -> str:
    """A value as AWS's (Java) validation messages print it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray):
        n = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]"
    if isinstance(value, datetime):
        d = value
        return (
            f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} UTC {d.year}"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}={render(v)}" for k, v in value.items()) + "}"
    return str(value)


def failure(value: Any, path: str, constraint: str, sensitive: bool) -> str:
    if value is None:
        return f"Value null at '{path}' failed to satisfy constraint: {constraint}"
    if sensitive:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value '{render(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _number(limit: Any) -> str:
    if isinstance(limit, float) and limit.is_integer():
        return str(int(limit))
    return str(limit)


# --------------------------------------------------------------------------- patterns

_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)
_UNICODE_CLASSES = {
    # Inside a character class only a superset can be written with `re`;
    # a superset never rejects what AWS accepts.
    "L": r"\w",
    "N": r"\w",
    "Z": r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
    "M": r"\w",
    "P": r"!-/:-@\[-`{-~\u00a1-\u00bf\u2010-\u2027\u2030-\u205e",
    "S": r"$+<->^`|~\u00a2-\u00a9\u00ac\u00ae-\u00b1\u00b4\u00d7\u00f7",
}
_UNICODE_OUTSIDE = {"L": r"[^\W\d_]", "N": r"\d", "Z": None}


def _surrogate_to_codepoint(match: re.Match[str]) -> str:
    hi = int(match.group(1), 16)
    lo = int(match.group(2), 16)
    return f"\\U{0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00):08X}"


def java_to_python_regex(pattern: str) -> str:
    """Translate the Java-isms of AWS model patterns that Python's `re` rejects."""
    pattern = _SURROGATE_PAIR.sub(_surrogate_to_codepoint, pattern)
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                name = pattern[i + 3 : end] if end != -1 else ""
                key = name[:1].upper()
                if end != -1 and key in _UNICODE_CLASSES and nxt == "p":
                    if in_class:
                        out.append(_UNICODE_CLASSES[key])
                    else:
                        outside = _UNICODE_OUTSIDE.get(key)
                        out.append(outside or "[" + _UNICODE_CLASSES[key] + "]")
                    i = end + 1
                    continue
            out.append(pattern[i : i + 2])
            # Java reads "\w-_" in a class as three items; Python calls it a bad range.
            if (
                in_class
                and nxt in "wdsWDS"
                and i + 3 < n
                and pattern[i + 2] == "-"
                and pattern[i + 3] != "]"
            ):
                out.append("\\-")
                i += 3
                continue
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            i += 1
            # A leading ']' or '^]' is literal.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "]" and in_class:
            in_class = False
        elif c == "[" and in_class:
            out.append("\\[")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


_PATTERN_CACHE: dict[str, Callable[[str], Any] | None] = {}


def pattern_matcher(pattern: str) -> Callable[[str], Any] | None:
    """A function that is truthy when a value satisfies `pattern`, or None.

    Older AWS services match the whole value (Java's ``matches()``); patterns
    that carry their own ``^``/``$`` anchors are searched so that the anchors
    mean what they say. A pattern `re` cannot compile is skipped.
    """
    if pattern in _PATTERN_CACHE:
        return _PATTERN_CACHE[pattern]
    matcher: Callable[[str], Any] | None = None
    for candidate in (pattern, java_to_python_regex(pattern)):
        try:
            compiled = re.compile(candidate)
        except (re.error, OverflowError, RecursionError):
            continue
        anchored = candidate.startswith("^") or candidate.endswith("$")
        matcher = compiled.search if anchored else compiled.fullmatch
        break
    if matcher is None:
        log.debug("skipping pattern Python cannot compile: %r", pattern)
    _PATTERN_CACHE[pattern] = matcher
    return matcher


# --------------------------------------------------------------------------- compiler


#: One constraint: its message, a test of a value, and the same test as a
#: Python expression over ``{x}`` whose constants are ``{c}`` (for the
#: generated fast predicates, see `_Predicates`).
Constraint = tuple[str, Callable[[Any], bool], str, Any]


def _scalar_constraints(shape: Shape) -> list[Constraint]:
    """The constraints of a scalar or collection shape."""
    md = shape.metadata
    kind = shape.type_name
    out: list[Constraint] = []
    lo = md.get("min")
    hi = md.get("max")
    if kind in ("string", "blob", "list", "map"):
        if hi is not None:
            out.append(
                (
                    f"Member must have length less than or equal to {_number(hi)}",
                    lambda v, hi=hi: len(v) <= hi,
                    "len({x}) <= {c}",
                    hi,
                )
            )
        if lo is not None and lo > 0:
            out.append(
                (
                    f"Member must have length greater than or equal to {_number(lo)}",
                    lambda v, lo=lo: len(v) >= lo,
                    "len({x}) >= {c}",
                    lo,
                )
            )
    elif kind in ("integer", "long", "float", "double", "bigdecimal", "biginteger"):
        if hi is not None:
            out.append(
                (
                    f"Member must have value less than or equal to {_number(hi)}",
                    lambda v, hi=hi: v <= hi,
                    "{x} <= {c}",
                    hi,
                )
            )
        if lo is not None:
            out.append(
                (
                    f"Member must have value greater than or equal to {_number(lo)}",
                    lambda v, lo=lo: v >= lo,
                    "{x} >= {c}",
                    lo,
                )
            )
    if kind == "string":
        pattern = md.get("pattern")
        if pattern:
            matcher = pattern_matcher(pattern)
            if matcher is not None:
                out.append(
                    (
                        f"Member must satisfy regular expression pattern: {pattern}",
                        lambda v, m=matcher: m(v) is not None,
                        "{c}({x}) is not None",
                        matcher,
                    )
                )
        enum = md.get("enum")
        if enum:
            allowed = frozenset(enum)
            out.append(
                (
                    "Member must satisfy enum value set: [" + ", ".join(enum) + "]",
                    lambda v, allowed=allowed: v in allowed,
                    "{x} in {c}",
                    allowed,
                )
            )
    return out


class _Predicates:
    """Fast yes/no validators, generated as Python source once per shape.

    A request is almost always valid, and the checks that word AWS's
    messages pay for what only a failure needs: a path string per member
    and list element, a closure call per constraint. A predicate answers
    only "would the check find nothing?", in one function per shape with
    the constraints inlined; the worded check runs only when it says no.
    It follows `_Compiler`'s walk exactly (the same constraints, the same
    members, None skipped the same way)."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self._memo: dict[tuple[str, str], str | None] = {}
        self._count = 0

    def _const(self, value: Any) -> str:
        self._count += 1
        name = f"_c{self._count}"
        self.namespace[name] = value
        return name

    def _tests(self, shape: Shape, x: str) -> list[str]:
        return [
            expr.format(x=x, c=self._const(const))
            for _, _, expr, const in _scalar_constraints(shape)
        ]

    def function(self, shape: Shape) -> str | None:
        """The name of `shape`'s predicate in `namespace`; None: always valid."""
        key = (shape.name, repr(sorted(shape.metadata.items())))
        if key in self._memo:
            return self._memo[key]
        self._count += 1
        name = f"_v{self._count}"
        # Recursive shapes call the name, bound once the source is run.
        self._memo[key] = name
        body = self._body(shape)
        if body is None:
            self._memo[key] = None
            return None
        source = f"def {name}(x):\n" + "".join(f"    {line}\n" for line in body)
        exec(compile(source, f"<predicate {shape.name}>", "exec"), self.namespace)
        return name

    def _value_lines(self, shape: Shape, x: str) -> list[str]:
        """Lines that return False unless the non-None value `x` passes."""
        if shape.type_name in ("structure", "list", "map"):
            inner = self.function(shape)
            return [] if inner is None else [f"if not {inner}({x}): return False"]
        return [f"if not ({test}): return False" for test in self._tests(shape, x)]

    def _structure_lines(self, shape: Shape, x: str) -> list[str] | None:
        """Lines that return False unless the structure `x` passes; None when
        it always passes. Its members are ``{x}_m<i>``: inlined into a list's
        loop, they do not clash with the list's names."""
        if shape.metadata.get("document"):
            return None
        required = set(shape.metadata.get("required", ()))
        lines = []
        for i, (name, member) in enumerate(shape.members.items()):
            m = f"{x}_m{i}"
            value_lines = self._value_lines(member, m)
            if not value_lines and name not in required:
                continue
            lines.append(f"{m} = {x}.get({name!r})")
            if name in required:
                lines.append(f"if {m} is None: return False")
                lines.extend(value_lines)
            elif value_lines:
                lines.append(f"if {m} is not None:")
                lines.extend("    " + line for line in value_lines)
        return lines or None

    def _body(self, shape: Shape) -> list[str] | None:
        kind = shape.type_name
        lines: list[str]
        if kind == "structure":
            lines = self._structure_lines(shape, "x") or []
            if not lines:
                return None
        elif kind == "list":
            lines = [f"if not ({test}): return False" for test in self._tests(shape, "x")]
            # A list of structures tests its elements inline, not a call each.
            member = shape.member
            inline = member.type_name == "structure" and self._structure_lines(member, "i")
            element = inline or self._value_lines(member, "i")
            if element:
                lines.append("for i in x:")
                lines.append("    if i is not None:")
                lines.extend("        " + line for line in element)
            if not lines:
                return None
        elif kind == "map":
            lines = [f"if not ({test}): return False" for test in self._tests(shape, "x")]
            keys = self._tests(shape.key, "k")
            value_shape = shape.value
            values = self._value_lines(value_shape, "v")
            if keys or values:
                lines.append("for k, v in x.items():")
                lines.extend(f"    if not ({test}): return False" for test in keys)
                if values:
                    lines.append("    if v is not None:")
                    lines.extend("        " + line for line in values)
            if not lines:
                return None
        else:
            lines = [f"if not ({test}): return False" for test in self._tests(shape, "x")]
            if not lines:
                return None
        lines.append("return True")
        return lines

    def predicate(self, shape: Shape) -> Callable[[Any], bool] | None:
        name = self.function(shape)
        return None if name is None else self.namespace[name]


class _Compiler:
    def __init__(self) -> None:
        self._memo: dict[tuple[str, bool, str], Check | None] = {}
        self._pending: dict[tuple[str, bool, str], list[Check | None]] = {}
        self._predicates = _Predicates()

    def validator(self, shape: Shape) -> Check | None:
        """The check of an input shape: its fast predicate first, the worded
        walk only for a value the predicate refuses."""
        check = self.compile(shape)
        if check is None:
            return None
        valid = self._predicates.predicate(shape)
        if valid is None:
            return check
        worded = check

        def validated(value: Any, path: str, errors: list[str]) -> None:
            if not valid(value):
                worded(value, path, errors)

        return validated

    def compile(self, shape: Shape, sensitive: bool = False) -> Check | None:
        sensitive = sensitive or bool(shape.metadata.get("sensitive"))
        key = (shape.name, sensitive, repr(sorted(shape.metadata.items())))
        if key in self._memo:
            return self._memo[key]
        cell = self._pending.get(key)
        if cell is not None:
            # A recursive shape: call through the cell filled in below.
            def recurse(v: Any, p: str, e: list[str], cell: list[Check | None] = cell) -> None:
                fn = cell[0]
                if fn is not None:
                    fn(v, p, e)

            return recurse
        cell = [None]
        self._pending[key] = cell
        try:
            result = self._build(shape, sensitive)
        finally:
            del self._pending[key]
        cell[0] = result
        self._memo[key] = result
        return result

    def _build(self, shape: Shape, sensitive: bool) -> Check | None:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, sensitive)
        if kind == "list":
            return self._list(shape, sensitive)
        if kind == "map":
            return self._map(shape, sensitive)
        return self._scalar(shape, sensitive)

    def _scalar(self, shape: Shape, sensitive: bool) -> Check | None:
        constraints = _scalar_constraints(shape)
        if not constraints:
            return None
        if len(constraints) == 1:
            (message, ok, _, _) = constraints[0]

            def check_one(v: Any, path: str, errors: list[str]) -> None:
                if not ok(v):
                    errors.append(failure(v, path, message, sensitive))

            return check_one

        def check(v: Any, path: str, errors: list[str]) -> None:
            for message, ok, _, _ in constraints:
                if not ok(v):
                    errors.append(failure(v, path, message, sensitive))

        return check

    def _structure(self, shape: Shape, sensitive: bool) -> Check | None:
        if shape.metadata.get("document"):
            return None
        members = shape.members
        required = set(shape.metadata.get("required", ()))
        # Model order, so that messages come in the order AWS gives them.
        entries: list[tuple[str, str, bool, Check | None]] = []
        for name, member in members.items():
            sub = self.compile(member, sensitive)
            if sub is not None or name in required:
                entries.append((name, lower_camel(name), name in required, sub))
        if not entries:
            return None

        def check(value: Any, path: str, errors: list[str]) -> None:
            prefix = path + "." if path else ""
            get = value.get
            for name, camel, needed, sub in entries:
                v = get(name)
                if v is None:
                    if needed:
                        errors.append(
                            f"Value null at '{prefix}{camel}' failed to satisfy constraint: "
                            + _NOT_NULL
                        )
                elif sub is not None:
                    sub(v, prefix + camel, errors)

        return check

    def _list(self, shape: Shape, sensitive: bool) -> Check | None:
        own = self._scalar(shape, sensitive)
        element = self.compile(shape.member, sensitive)
        if own is None and element is None:
            return None

        def check(value: Any, path: str, errors: list[str]) -> None:
            if own is not None:
                own(value, path, errors)
            if element is not None:
                for i, item in enumerate(value, 1):
                    if item is not None:
                        element(item, f"{path}.{i}.member", errors)

        return check

    def _map(self, shape: Shape, sensitive: bool) -> Check | None:
        own = self._scalar(shape, sensitive)
        key_constraints = _scalar_constraints(shape.key)
        value_shape = shape.value
        value_is_scalar = value_shape.type_name not in ("structure", "list", "map")
        value_constraints = _scalar_constraints(value_shape) if value_is_scalar else []
        nested = None if value_is_scalar else self.compile(value_shape, sensitive)
        if own is None and not key_constraints and not value_constraints and nested is None:
            return None
        key_message = (
            "Map keys must satisfy constraint: [" + ", ".join(c[0] for c in key_constraints) + "]"
        )
        value_message = (
            "Map value must satisfy constraint: ["
            + ", ".join(c[0] for c in value_constraints)
            + "]"
        )

        def check(value: Any, path: str, errors: list[str]) -> None:
            if own is not None:
                own(value, path, errors)
            bad_key = bad_value = False
            for k, v in value.items():
                if key_constraints and not bad_key:
                    bad_key = not all(c[1](k) for c in key_constraints)
                if v is None:
                    continue
                if value_constraints and not bad_value:
                    bad_value = not all(c[1](v) for c in value_constraints)
                if nested is not None:
                    nested(v, f"{path}.{k}", errors)
            if bad_key:
                errors.append(f"Value at '{path}' failed to satisfy constraint: {key_message}")
            if bad_value:
                errors.append(f"Value at '{path}' failed to satisfy constraint: {value_message}")

        return check


def compile_validator(shape: Shape | None, compiler: _Compiler | None = None) -> Check | None:
    """The validator of an input shape, or None when nothing can fail."""
    if shape is None:
        return None
    return (compiler or _Compiler()).validator(shape)


ValidatorCompiler = _Compiler
