"""The Logs Insights query language (CWLI), parsed once into a plan and run
over stored events.

A query is commands joined by ``|``:

- ``fields a, b, expr as alias`` and ``display a, b`` (what the results show);
- ``filter expr``: comparisons (``= != < <= > >=``), ``like``/``not like``
  with a ``/regex/`` or a substring, ``=~ /regex/``, ``in [..]`` /
  ``not in [..]``, ``and``, ``or``, ``not``, parentheses, arithmetic;
- ``stats agg(expr) [as alias], ... [by expr [as alias], ...]`` with
  ``count(*)``, ``count``, ``count_distinct``, ``sum``, ``avg``, ``min``,
  ``max``, ``pct(expr, p)``, ``stddev``, ``earliest``, ``latest``, and
  ``bin(5m)`` (units ms, s, m, h, d, w);
- ``sort expr [asc|desc], ...``; ``limit n``; ``dedup a, b``;
- ``parse field "glob with * parts" as a, b`` and
  ``parse field /regex with (?<named>groups)/``;
- ``unmask`` (every field as stored, unmasked: see `protection`) and the
  function ``unmask(field)`` (that field unmasked; `RAW`).

Functions: strings (strlen, toupper, tolower, concat, substr, trim, ltrim,
rtrim, replace, strcontains, ispresent, isempty, isblank, coalesce),
numbers (abs, ceil, floor, greatest, least, log, sqrt, pow), dates (bin,
datefloor, dateceil, fromMillis, toMillis) and IP addresses (isValidIp,
isValidIpV4, isValidIpV6, isIpInSubnet, isIpv4InSubnet, isIpv6InSubnet).
Discovered fields: @timestamp, @message, @logStream, @log (``account:group``),
@ingestionTime, and the members of a JSON event (``a.b``, arrays ``a.0``).

A query Insights cannot read is `QueryError` (MalformedQueryException).
"""

from __future__ import annotations

import ipaddress
import math
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from strongroom.encoding import json_value

MAX_LENGTH = 10_000
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
SYSTEM = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")


class QueryError(ValueError):
    """A query Insights cannot compile (MalformedQueryException)."""


Record = dict[str, Any]
Expr = Callable[[Record], Any]
#: Where a masked record keeps its unmasked self, for ``unmask(...)``.
RAW = "@@unmasked"
_UNMASK_CALL = re.compile(r"\bunmask\s*\(", re.IGNORECASE)


def unmasking(query: Query) -> tuple[bool, bool]:
    """(whether the query unmasks every field — the ``unmask`` command —,
    whether it calls ``unmask(...)``)."""
    return any(s.kind == "unmask" for s in query.steps), bool(_UNMASK_CALL.search(query.text))


# --------------------------------------------------------------------------- lexing

_LEX = re.compile(
    r"""\s*(?:
        (?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?P<unit>ms|s|m|h|d|w)?\b)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<rx>/(?:[^/\\]|\\.)+/[a-z]*)
      | (?P<name>`[^`]+`|@?[A-Za-z_][A-Za-z0-9_.\-@$]*|@[A-Za-z0-9_.]+)
      | (?P<op>=~|!=|<=|>=|==|=|<|>|\(|\)|\[|\]|,|\+|-|\*|/|%|\^)
    )""",
    re.X,
)
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(slots=True)
class Tok:
    kind: str
    text: str
    value: Any = None


def _lex(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _LEX.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"unexpected symbol found {text[pos : pos + 10].strip()!r}")
        pos = m.end()
        if m.group("num") is not None:
            raw = m.group("num")
            unit = m.group("unit")
            if unit:
                out.append(Tok("dur", raw, float(raw[: -len(unit)]) * _UNITS[unit]))
            else:
                out.append(
                    Tok("num", raw, float(raw) if any(c in raw for c in ".eE") else int(raw))
                )
        elif m.group("str") is not None:
            raw = m.group("str")
            out.append(Tok("str", raw, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif m.group("rx") is not None:
            raw = m.group("rx")
            body, flags = raw[1:].rsplit("/", 1)
            out.append(Tok("rx", raw, _regex(body, flags)))
        elif m.group("name") is not None:
            raw = m.group("name")
            out.append(Tok("name", raw, raw[1:-1] if raw.startswith("`") else raw))
        else:
            out.append(Tok("op", m.group("op")))
    return out


def _regex(body: str, flags: str = "") -> re.Pattern[str]:
    body = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", body)
    try:
        return re.compile(body, re.I if "i" in flags else 0)
    except re.error as err:
        raise QueryError(f"invalid regular expression: {err}") from None


def split_commands(text: str) -> list[str]:
    """The query's commands: split on ``|`` outside quotes, regexes and backticks."""
    out, buf, quote = [], [], ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            buf.append(c)
            if c == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
            buf.append(c)
        elif c == "/" and _regex_starts(buf):
            quote = "/"
            buf.append(c)
        elif c == "|":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    out.append("".join(buf))
    return [c.strip() for c in out if c.strip()]


def _regex_starts(buf: list[str]) -> bool:
    before = "".join(buf).rstrip()
    return (
        not before
        or before.endswith(("like", "=~", "(", ",", "=", "parse", "["))
        or bool(re.search(r"(^|\s)(like|parse\s+\S+)$", before))
    )


# --------------------------------------------------------------------------- values


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def _compare(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    sa, sb = _str(a), _str(b)
    return (sa > sb) - (sa < sb)


def format_time(ms: float) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(ms) % 1000:03d}"


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A date value (@timestamp, bin()): epoch ms, shown as Insights shows dates."""

    ms: float

    def __str__(self) -> str:
        return format_time(self.ms)


def _ms(v: Any) -> float | None:
    if isinstance(v, Timestamp):
        return v.ms
    return _num(v)


# --------------------------------------------------------------------------- functions


def _ip(v: Any) -> Any:
    try:
        return ipaddress.ip_address(_str(v))
    except ValueError:
        return None


def _in_subnet(v: Any, net: Any, version: int | None = None) -> bool:
    ip = _ip(v)
    try:
        network = ipaddress.ip_network(_str(net), strict=False)
    except ValueError:
        return False
    return ip is not None and (version is None or ip.version == version) and ip in network


def _bin(period: Any, ts: Any) -> Any:
    p, t = _num(period), _ms(ts)
    if not p or t is None:
        return None
    return Timestamp(math.floor(t / p) * p)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "strlen": lambda s: len(_str(s)),
    "toupper": lambda s: _str(s).upper(),
    "tolower": lambda s: _str(s).lower(),
    "concat": lambda *a: "".join(_str(x) for x in a),
    "substr": lambda s, start, n=None: _str(s)[int(_num(start) or 0) :][
        : (int(_num(n) or 0) if n is not None else None)
    ],
    "trim": lambda s: _str(s).strip(),
    "ltrim": lambda s: _str(s).lstrip(),
    "rtrim": lambda s: _str(s).rstrip(),
    "replace": lambda s, a, b: _str(s).replace(_str(a), _str(b)),
    "strcontains": lambda s, sub: int(_str(sub) in _str(s)),
    "ispresent": lambda v: v is not None,
    "isempty": lambda v: v is None or _str(v) == "",
    "isblank": lambda v: v is None or _str(v).strip() == "",
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "abs": lambda x: abs(_num(x)) if _num(x) is not None else None,
    "ceil": lambda x: math.ceil(_num(x)) if _num(x) is not None else None,
    "floor": lambda x: math.floor(_num(x)) if _num(x) is not None else None,
    "greatest": lambda *a: max((_num(x) for x in a if _num(x) is not None), default=None),
    "least": lambda *a: min((_num(x) for x in a if _num(x) is not None), default=None),
    "log": lambda x: math.log(_num(x)) if (_num(x) or 0) > 0 else None,
    "sqrt": lambda x: math.sqrt(_num(x)) if (_num(x) or -1) >= 0 else None,
    "pow": lambda x, y: (_num(x) or 0) ** (_num(y) or 0),
    "bin": lambda period, ts=None: _bin(period, ts),
    "datefloor": lambda ts, period: _bin(period, ts),
    "dateceil": lambda ts, period: (
        Timestamp(math.ceil(_ms(ts) / _num(period)) * _num(period))  # type: ignore[operator]
        if _ms(ts) is not None and _num(period)
        else None
    ),
    "frommillis": lambda x: Timestamp(_num(x)) if _num(x) is not None else None,  # type: ignore[arg-type]
    "tomillis": lambda ts: int(_ms(ts)) if _ms(ts) is not None else None,  # type: ignore[arg-type]
    "isvalidip": lambda v: _ip(v) is not None,
    "isvalidipv4": lambda v: _ip(v) is not None and _ip(v).version == 4,
    "isvalidipv6": lambda v: _ip(v) is not None and _ip(v).version == 6,
    "isipinsubnet": lambda v, net: _in_subnet(v, net),
    "isipv4insubnet": lambda v, net: _in_subnet(v, net, 4),
    "isipv6insubnet": lambda v, net: _in_subnet(v, net, 6),
}
AGGREGATES = {
    "count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev", "earliest", "latest",
}  # fmt: skip


# --------------------------------------------------------------------------- expressions


class _P:
    """A recursive-descent parser over one command's tokens."""

    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.fields: set[str] = set()

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Tok:
        t = self.peek()
        if t is None:
            raise QueryError("unexpected end of query")
        self.i += 1
        return t

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "op" and t.text in ops

    def is_word(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "name" and t.text.lower() in words

    def expect_op(self, op: str) -> None:
        t = self.take()
        if t.kind != "op" or t.text != op:
            raise QueryError(f"expected '{op}', found '{t.text}'")

    def done(self) -> bool:
        return self.i >= len(self.toks)

    # expr := or
    def expr(self) -> Expr:
        left = self.conj()
        while self.is_word("or"):
            self.take()
            right = self.conj()
            left = (lambda a, b: lambda r: bool(a(r)) or bool(b(r)))(left, right)
        return left

    def conj(self) -> Expr:
        left = self.neg()
        while self.is_word("and"):
            self.take()
            right = self.neg()
            left = (lambda a, b: lambda r: bool(a(r)) and bool(b(r)))(left, right)
        return left

    def neg(self) -> Expr:
        if self.is_word("not") and not (
            self.peek(1) and self.peek(1).text.lower() in ("like", "in")
        ):  # type: ignore[union-attr]
            self.take()
            inner = self.neg()
            return lambda r: not inner(r)
        return self.cmp()

    def cmp(self) -> Expr:
        left = self.add()
        negate = False
        if (
            self.is_word("not")
            and self.peek(1) is not None
            and self.peek(1).text.lower() in ("like", "in")
        ):  # type: ignore[union-attr]
            self.take()
            negate = True
        if self.is_word("like"):
            self.take()
            t = self.take()
            if t.kind == "rx":
                rx = t.value
                test: Expr = lambda r: left(r) is not None and rx.search(_str(left(r))) is not None  # noqa: E731
            elif t.kind == "str":
                sub = t.value
                test = lambda r: left(r) is not None and sub in _str(left(r))  # noqa: E731
            else:
                raise QueryError(f"like takes a string or a regular expression, found '{t.text}'")
            return (lambda r: not test(r)) if negate else test
        if self.is_word("in"):
            self.take()
            self.expect_op("[")
            items: list[Any] = []
            while not self.is_op("]"):
                t = self.take()
                if t.kind not in ("num", "str"):
                    raise QueryError(f"in takes a list of literals, found '{t.text}'")
                items.append(t.value)
                if self.is_op(","):
                    self.take()
            self.expect_op("]")
            member: Expr = lambda r: any(_compare(left(r), x) == 0 for x in items)  # noqa: E731
            return (lambda r: not member(r)) if negate else member
        if negate:
            raise QueryError("expected like or in after not")
        if self.is_op("=~"):
            self.take()
            t = self.take()
            if t.kind != "rx":
                raise QueryError("=~ takes a regular expression")
            rx = t.value
            return lambda r: left(r) is not None and rx.search(_str(left(r))) is not None
        if self.is_op("=", "==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right = self.add()
            tests: dict[str, Callable[[int], bool]] = {
                "=": lambda c: c == 0, "==": lambda c: c == 0, "!=": lambda c: c != 0,
                "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0,
                ">=": lambda c: c >= 0,
            }  # fmt: skip
            check = tests[op]

            def compare(r: Record) -> bool:
                c = _compare(_plain(left(r)), _plain(right(r)))
                return c is not None and check(c)

            return compare
        return left

    def add(self) -> Expr:
        left = self.mul()
        while self.is_op("+", "-"):
            op = self.take().text
            right = self.mul()
            left = _arith(op, left, right)
        return left

    def mul(self) -> Expr:
        left = self.unary()
        while self.is_op("*", "/", "%", "^"):
            op = self.take().text
            right = self.unary()
            left = _arith(op, left, right)
        return left

    def unary(self) -> Expr:
        if self.is_op("-"):
            self.take()
            inner = self.unary()
            return lambda r: -_num(inner(r)) if _num(inner(r)) is not None else None  # type: ignore[operator]
        return self.primary()

    def primary(self) -> Expr:
        t = self.take()
        if t.kind in ("num", "str", "dur"):
            v = t.value
            return lambda r: v
        if t.kind == "rx":
            raise QueryError(f"unexpected regular expression '{t.text}'")
        if t.kind == "op" and t.text == "(":
            inner = self.expr()
            self.expect_op(")")
            return inner
        if t.kind == "name":
            if self.is_op("(") and not t.text.startswith("`"):
                return self.call(t.value)
            name = t.value
            self.fields.add(name)
            return lambda r: r.get(name)
        raise QueryError(f"unexpected symbol found '{t.text}'")

    def call(self, name: str) -> Expr:
        if name.lower() == "unmask":
            return self.unmask()
        fn = FUNCTIONS.get(name.lower())
        if fn is None:
            if name.lower() in AGGREGATES:
                raise QueryError(f"aggregate function {name} may be used in stats only")
            raise QueryError(f"unknown function {name}")
        self.expect_op("(")
        args: list[Expr] = []
        while not self.is_op(")"):
            args.append(self.expr())
            if self.is_op(","):
                self.take()
        self.expect_op(")")
        if name.lower() == "bin" and len(args) == 1:
            self.fields.add("@timestamp")
            args.append(lambda r: r.get("@timestamp"))
        return lambda r: fn(*(a(r) for a in args))

    def unmask(self) -> Expr:
        """``unmask(expr)``: `expr` over the record as stored (`RAW`), which
        a read of a masked group keeps beside the masked one."""
        self.expect_op("(")
        inner = self.expr()
        self.expect_op(")")
        return lambda r: inner(r.get(RAW) or r)

    def names(self) -> list[str]:
        out = [self.take_name()]
        while self.is_op(","):
            self.take()
            out.append(self.take_name())
        return out

    def take_name(self) -> str:
        t = self.take()
        if t.kind != "name":
            raise QueryError(f"expected a field name, found '{t.text}'")
        self.fields.add(t.value)
        return t.value


def _plain(v: Any) -> Any:
    return v.ms if isinstance(v, Timestamp) else v


def _arith(op: str, a: Expr, b: Expr) -> Expr:
    ops: dict[str, Callable[[float, float], float]] = {
        "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
        "/": lambda x, y: x / y if y else math.nan, "%": lambda x, y: x % y if y else math.nan,
        "^": lambda x, y: x**y,
    }  # fmt: skip
    f = ops[op]

    def run(r: Record) -> Any:
        x, y = _num(_plain(a(r))), _num(_plain(b(r)))
        if x is None or y is None:
            return None
        out = f(x, y)
        return None if isinstance(out, float) and math.isnan(out) else out

    return run


def _label(p: _P, start: int) -> str:
    return "".join(
        (" " + t.text if t.kind == "name" and p.toks[k - 1].kind == "name" else t.text)
        if k > start
        else t.text
        for k, t in enumerate(p.toks[start : p.i], start=start)
    )


def _alias(p: _P, start: int) -> str:
    if p.is_word("as"):
        p.take()
        t = p.take()
        if t.kind != "name":
            raise QueryError(f"expected an alias, found '{t.text}'")
        return t.value
    return _label(p, start)


# --------------------------------------------------------------------------- stats


@dataclass(slots=True)
class Agg:
    name: str
    label: str
    arg: Expr | None
    extra: float | None = None

    def result(self, values: list[Any], stamps: list[float]) -> Any:
        n = self.name
        if n == "count":
            return len(values) if self.arg is None else sum(1 for v in values if v is not None)
        if n == "count_distinct":
            return len({_str(v) for v in values if v is not None})
        if n in ("earliest", "latest"):
            pairs = [(t, v) for t, v in zip(stamps, values, strict=True) if v is not None]
            if not pairs:
                return None
            return (min if n == "earliest" else max)(pairs, key=lambda p: p[0])[1]
        nums = [x for x in (_num(_plain(v)) for v in values) if x is not None]
        if n in ("min", "max") and not nums:
            dates = [v for v in values if isinstance(v, Timestamp)]
            return (min if n == "min" else max)(dates, key=lambda d: d.ms) if dates else None
        if not nums:
            return None
        if n == "sum":
            return sum(nums)
        if n == "avg":
            return sum(nums) / len(nums)
        if n == "min":
            return min(nums)
        if n == "max":
            return max(nums)
        if n == "stddev":
            return statistics.stdev(nums) if len(nums) > 1 else 0.0
        if n == "pct":
            ordered = sorted(nums)
            k = max(0, min(len(ordered) - 1, math.ceil((self.extra or 0) / 100 * len(ordered)) - 1))
            return ordered[k]
        raise QueryError(f"unknown aggregate {n}")


@dataclass(slots=True)
class Stats:
    aggs: list[Agg]
    by: list[tuple[str, Expr]]
    #: The period of ``by bin(<period>)`` when that is the only grouping.
    bin_period: float | None = None


def _stats(p: _P) -> Stats:
    aggs: list[Agg] = []
    while True:
        start = p.i
        t = p.take()
        if t.kind != "name" or t.text.lower() not in AGGREGATES:
            raise QueryError(f"expected an aggregate function, found '{t.text}'")
        name = t.text.lower()
        p.expect_op("(")
        arg: Expr | None = None
        extra = None
        if p.is_op("*"):
            p.take()
        elif not p.is_op(")"):
            arg = p.expr()
            if name == "pct":
                p.expect_op(",")
                q = p.take()
                if q.kind != "num":
                    raise QueryError("pct takes a percentile")
                extra = float(q.value)
        p.expect_op(")")
        if arg is None and name != "count":
            raise QueryError(f"{name} needs an argument")
        aggs.append(Agg(name, _alias(p, start), arg, extra))
        if p.is_op(","):
            p.take()
            continue
        break
    by: list[tuple[str, Expr]] = []
    period = None
    if p.is_word("by"):
        p.take()
        while True:
            start = p.i
            e = p.expr()
            toks = p.toks[start : p.i]
            if len(toks) == 4 and toks[0].text.lower() == "bin" and toks[2].kind == "dur":
                period = toks[2].value
            by.append((_alias(p, start), e))
            if p.is_op(","):
                p.take()
                continue
            break
    return Stats(aggs, by, period if len(by) == 1 else None)


# --------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class Step:
    kind: str
    run: Any = None
    names: list[str] = field(default_factory=list)
    #: A filter's literal text every event it keeps holds in @message.
    literal: str | None = None


@dataclass(slots=True)
class Query:
    text: str
    steps: list[Step]
    #: Fields the query names (beyond the system ones, they need the JSON
    #: members of each event).
    fields: set[str]
    display: list[str] | None
    limit: int | None
    has_stats: bool


def _parse_command(text: str, p: _P, word: str) -> Step:
    if word in ("fields",):
        items: list[tuple[str, Expr]] = []
        while True:
            start = p.i
            e = p.expr()
            items.append((_alias(p, start), e))
            if p.is_op(","):
                p.take()
                continue
            break
        return Step("fields", items, [n for n, _ in items])
    if word == "display":
        return Step("display", None, p.names())
    if word == "filter":
        return Step("filter", p.expr(), literal=_literal(p.toks))
    if word == "stats":
        return Step("stats", _stats(p))
    if word == "sort":
        keys: list[tuple[Expr, bool]] = []
        while True:
            e = p.expr()
            desc = False
            if p.is_word("asc", "desc"):
                desc = p.take().text.lower() == "desc"
            keys.append((e, desc))
            if p.is_op(","):
                p.take()
                continue
            break
        return Step("sort", keys)
    if word == "limit":
        t = p.take()
        if t.kind != "num" or not isinstance(t.value, int) or not 1 <= t.value <= MAX_LIMIT:
            raise QueryError(f"limit takes a number from 1 to {MAX_LIMIT}")
        return Step("limit", t.value)
    if word == "dedup":
        return Step("dedup", None, p.names())
    if word == "parse":
        return _parse_parse(p)
    if word == "unmask":
        return Step("unmask")
    raise QueryError(f"unexpected symbol found {word!r}: not a command")


def _literal(toks: list[Tok]) -> str | None:
    """``@message like "text"`` or ``@message like /text/``: the text."""
    if len(toks) != 3 or toks[0].value != "@message" or toks[1].text.lower() != "like":
        return None
    if toks[2].kind == "str":
        return toks[2].value or None
    if toks[2].kind == "rx" and not toks[2].value.flags & re.I:
        body = toks[2].value.pattern
        return body if re.fullmatch(r"[A-Za-z0-9 _:-]+", body) else None
    return None


def _parse_parse(p: _P) -> Step:
    source = "@message"
    if p.peek() is not None and p.peek().kind == "name":  # type: ignore[union-attr]
        source = p.take_name()
    t = p.take()
    if t.kind == "rx":
        rx: re.Pattern[str] = t.value
        names = list(rx.groupindex)
        if not names:
            raise QueryError("a parse regular expression needs named groups (?<name>...)")
        if p.is_word("as"):
            raise QueryError("parse with a regular expression takes no 'as'")
    elif t.kind == "str":
        glob = t.value
        if not p.is_word("as"):
            raise QueryError("parse with a pattern needs 'as' and field names")
        p.take()
        names = p.names()
        parts = glob.split("*")
        if len(parts) - 1 != len(names):
            raise QueryError("parse: the number of fields does not match the pattern's '*'s")
        rx = re.compile(
            "".join(
                re.escape(x) + (f"(?P<{_group(i)}>.*?)" if i < len(names) else "")
                for i, x in enumerate(parts)
            )
            + ("$" if not parts[-1] else ""),
            re.S,
        )
        renames = {_group(i): n for i, n in enumerate(names)}
        return Step("parse", (source, rx, renames), names)
    else:
        raise QueryError("parse takes a pattern in quotes or a regular expression")
    return Step("parse", (source, rx, {n: n for n in names}), names)


def _group(i: int) -> str:
    return f"g{i}"


def compile(text: str) -> Query:
    if len(text) > MAX_LENGTH:
        raise QueryError("the query is too long")
    steps: list[Step] = []
    used: set[str] = set()
    display: list[str] | None = None
    limit: int | None = None
    has_stats = False
    commands = split_commands(text)
    if not commands:
        raise QueryError("the query is empty")
    for command in commands:
        toks = _lex(command)
        if not toks or toks[0].kind != "name":
            raise QueryError(f"unexpected symbol found {command[:10]!r}")
        p = _P(toks[1:])
        word = toks[0].text.lower()
        step = _parse_command(command, p, word)
        if not p.done():
            raise QueryError(f"unexpected symbol found '{p.peek().text}'")  # type: ignore[union-attr]
        used |= p.fields
        if step.kind == "stats":
            has_stats = True
        if step.kind == "fields":
            display = (display or []) + [n for n in step.names if n not in (display or [])]
        if step.kind == "display":
            display = step.names
        if step.kind == "limit":
            limit = step.run
        steps.append(step)
    return Query(text, steps, used, display, limit, has_stats)


# --------------------------------------------------------------------------- counting fast


@dataclass(slots=True)
class Counting:
    """A query that only counts events by time bucket, optionally of those
    holding literal text: ``[filter @message like "x" |] stats count(*) by
    bin(5m) [| sort ...] [| limit n]``. Its buckets are counted straight
    from the stored timestamps, without building a record per event."""

    period: float
    literals: list[str]
    stats: Stats
    after: list[Step]


def counting(query: Query) -> Counting | None:
    literals: list[str] = []
    for i, step in enumerate(query.steps):
        if step.kind == "filter" and step.literal is not None:
            literals.append(step.literal)
            continue
        if (
            step.kind == "fields"
            and all(n.startswith("@") for n in step.names)
            and all(n in SYSTEM for n in query.fields if n.startswith("@"))
        ):
            continue
        if step.kind != "stats":
            return None
        stats: Stats = step.run
        if stats.bin_period is None or any(
            a.name != "count" or a.arg is not None for a in stats.aggs
        ):
            return None
        after = query.steps[i + 1 :]
        if any(s.kind not in ("sort", "limit") for s in after):
            return None
        return Counting(stats.bin_period, literals, stats, after)
    return None


def run_counts(query: Query, plan: Counting, counts: dict[int, int], limit: int | None) -> Outcome:
    """The results of a `counting` query from its buckets (bin start ms -> count)."""
    label = plan.stats.by[0][0]
    rows: list[Record] = []
    for start in sorted(counts):
        row: Record = {label: Timestamp(start)}
        for agg in plan.stats.aggs:
            row[agg.label] = counts[start]
        rows.append(row)
    rest = Query(query.text, plan.after, set(), [label, *(a.label for a in plan.stats.aggs)],
                 query.limit, True)  # fmt: skip
    out = run(rest, rows, limit, stats_done=True)
    return Outcome(out.rows, sum(counts.values()))


# --------------------------------------------------------------------------- running


def flatten(doc: Any, prefix: str = "", out: Record | None = None) -> Record:
    """A JSON event's members as Insights discovers them (``a.b``, ``a.0``)."""
    out = {} if out is None else out
    if isinstance(doc, dict):
        for k, v in doc.items():
            flatten(v, f"{prefix}{k}.", out)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            flatten(v, f"{prefix}{i}.", out)
    elif prefix:
        out[prefix[:-1]] = doc
    return out


def needs_json(query: Query) -> bool:
    return any(not f.startswith("@") for f in query.fields)


def record(ts: int, message: str, stream: str, log: str, ingestion: int, parse: bool) -> Record:
    r: Record = {
        "@timestamp": Timestamp(ts), "@message": message, "@logStream": stream, "@log": log,
        "@ingestionTime": Timestamp(ingestion),
    }  # fmt: skip
    if parse and message[:1] == "{":
        try:
            doc = json_value(message)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for k, v in flatten(doc).items():
                r.setdefault(k, v)
    return r


@dataclass(slots=True)
class Outcome:
    rows: list[list[dict[str, str]]]
    matched: int


def _sort_key(v: Any) -> tuple[int, Any]:
    v = _plain(v)
    n = _num(v)
    if v is None:
        return (2, 0)
    if n is not None:
        return (0, n)
    return (1, _str(v))


class _Desc:
    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key


def run(
    query: Query, records: Iterable[Record], limit: int | None = None, *, stats_done: bool = False
) -> Outcome:
    rows: Iterable[Record] = records
    matched: int | None = None
    sorted_ = False
    display = query.display
    for step in query.steps:
        if step.kind == "filter":
            rows = _filter(rows, step.run)
        elif step.kind == "fields":
            rows = _fields(rows, step.run)
        elif step.kind == "parse":
            rows = _parse_rows(rows, *step.run)
        elif step.kind == "stats":
            rows = list(rows)
            if not stats_done:
                matched = len(rows)
            rows = _aggregate(rows, step.run)
            display = [n for n, _ in step.run.by] + [a.label for a in step.run.aggs]
            stats_done = True
        elif step.kind == "sort":
            rows = list(rows)
            for expr, desc in reversed(step.run):
                rows.sort(key=lambda r, e=expr: _sort_key(e(r)), reverse=desc)
            sorted_ = True
        elif step.kind == "dedup":
            rows = _dedup(rows, step.names)
        elif step.kind == "limit":
            rows = list(rows)
            if matched is None:
                matched = len(rows)
            rows = rows[: step.run]
    out = list(rows)
    if matched is None:
        matched = len(out)
    if not sorted_ and not stats_done:
        out.sort(key=lambda r: _plain(r.get("@timestamp")) or 0, reverse=True)
    caps = [x for x in (query.limit, limit) if x is not None]
    cap = min(caps) if caps else DEFAULT_LIMIT
    out = out[:cap]
    if display is None:
        display = ["@timestamp", "@message"]
    result = []
    for r in out:
        row = [
            {
                "field": name,
                "value": _str(r[name]) if not isinstance(r[name], Timestamp) else str(r[name]),
            }
            for name in display
            if r.get(name) is not None
        ]
        if not stats_done and "@ptr" in r:
            row.append({"field": "@ptr", "value": r["@ptr"]})
        result.append(row)
    return Outcome(result, matched)


def _filter(rows: Iterable[Record], pred: Expr) -> Iterable[Record]:
    return (r for r in rows if pred(r))


def _fields(rows: Iterable[Record], items: list[tuple[str, Expr]]) -> Iterable[Record]:
    for r in rows:
        for name, e in items:
            v = e(r)
            if v is not None or name not in r:
                r[name] = v
        yield r


def _parse_rows(
    rows: Iterable[Record], source: str, rx: re.Pattern[str], renames: dict[str, str]
) -> Iterable[Record]:
    for r in rows:
        m = rx.search(_str(r.get(source)))
        if m is not None:
            for group, name in renames.items():
                value = m.group(group)
                if value is not None:
                    r[name] = value
        yield r


def _dedup(rows: Iterable[Record], names: list[str]) -> Iterable[Record]:
    seen: set[tuple[str, ...]] = set()
    for r in rows:
        key = tuple(_str(r.get(n)) for n in names)
        if any(r.get(n) is None for n in names):
            yield r
            continue
        if key in seen:
            continue
        seen.add(key)
        yield r


def _aggregate(rows: list[Record], stats: Stats) -> list[Record]:
    buckets: dict[tuple[Any, ...], tuple[list[Any], list[list[Any]], list[float]]] = {}
    for r in rows:
        key_values = [e(r) for _, e in stats.by]
        if key_values and all(v is None for v in key_values):
            continue  # an event with none of the fields grouped by is in no group
        key = tuple(_str(_plain(v)) if not isinstance(v, Timestamp) else v.ms for v in key_values)
        entry = buckets.get(key)
        if entry is None:
            entry = (key_values, [[] for _ in stats.aggs], [])
            buckets[key] = entry
        for values, agg in zip(entry[1], stats.aggs, strict=True):
            values.append(1 if agg.arg is None else agg.arg(r))
        entry[2].append(_ms(r.get("@timestamp")) or 0.0)
    out: list[Record] = []
    for key_values, per_agg, stamps in buckets.values():
        row: Record = {name: v for (name, _), v in zip(stats.by, key_values, strict=True)}
        for values, agg in zip(per_agg, stats.aggs, strict=True):
            row[agg.label] = agg.result(values, stamps)
        out.append(row)
    if stats.by:
        out.sort(key=lambda r: tuple(_sort_key(r.get(n)) for n, _ in stats.by))
    return out
