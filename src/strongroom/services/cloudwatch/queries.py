"""Reading metrics: the period and statistic rules of GetMetricStatistics
and GetMetricData, and GetMetricData's queries (MetricStat and simple
metric math), shared with the alarms' evaluation.

Metric math served: numbers, query ids, ``+ - * /`` with parentheses and
unary minus, and ``SUM``/``AVG``/``MIN``/``MAX`` over ``[id, ...]`` or
``METRICS()`` (every MetricStat query of the request). Series align on
their timestamps; an arithmetic result exists where all its series have a
value, a function's where any has (as CloudWatch's functions over arrays
of series work). Anything else is refused with AWS's
``InvalidParameterValue`` rather than answered wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from strongroom.services.cloudwatch import metrics
from strongroom.services.cloudwatch.service import errors

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,2})?|100)\Z")
HIGH_RES_PERIODS = (1, 5, 10, 20, 30)
MAX_DATAPOINTS_STATISTICS = 1440


def is_statistic(stat: str) -> bool:
    return stat in STATISTICS or _PERCENTILE.match(stat) is not None


def require_extended(stat: str) -> None:
    if _PERCENTILE.match(stat) is None:
        raise errors.InvalidParameterValueException(
            f"The value {stat} for parameter ExtendedStatistics is not supported."
        )


def require_period(period: int, start: float, now: float, member: str = "Period") -> None:
    """Period: 1, 5, 10, 20, 30 or a multiple of 60 seconds; at least 60 for
    data older than 3 hours, 300 beyond 15 days, 3600 beyond 63 days (what
    CloudWatch keeps at each resolution)."""
    if period <= 0 or (period not in HIGH_RES_PERIODS and period % 60):
        raise errors.InvalidParameterValueException(
            f"The parameter {member} must be a multiple of 60 or one of 1, 5, 10, 20, 30."
        )
    age = now - start
    for older, minimum in ((63 * 86400, 3600), (15 * 86400, 300), (3 * 3600, 60)):
        if age > older and period < minimum:
            raise errors.InvalidParameterValueException(
                f"The parameter {member} must be at least {minimum} for data more than "
                f"{older // 86400 or 3} {'days' if older >= 86400 else 'hours'} old."
            )


def rounded_start(start: float, period: int, now: float) -> int:
    """StartTime as CloudWatch rounds it: down to the second, the minute
    (period of a minute or more), 5 minutes (over 15 days ago) or the hour
    (over 63 days ago)."""
    age = now - start
    step = 1
    if period >= 60:
        step = 60
    if age > 15 * 86400:
        step = 300
    if age > 63 * 86400:
        step = 3600
    return int(start // step * step)


# --------------------------------------------------------------------------- metric math

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
_FUNCTIONS = {"SUM": sum, "AVG": lambda xs: sum(xs) / len(xs), "MIN": min, "MAX": max}

Series = dict[int, float]


def _bad_expression(expression: str, why: str) -> Exception:
    return errors.InvalidParameterValueException(f"Error in expression '{expression}': {why}")


@dataclass(slots=True)
class _Expr:
    text: str
    tokens: list[tuple[str, str]]
    pos: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _bad_expression(self.text, "Unexpected end of expression")
        self.pos += 1
        return tok

    def expect(self, op: str) -> None:
        kind, value = self.take()
        if kind != "op" or value != op:
            raise _bad_expression(self.text, f"Expected '{op}'")


def _tokenize(text: str) -> list[tuple[str, str]]:
    out = []
    for number, name, op in _TOKEN.findall(text.strip()):
        if number:
            out.append(("num", number))
        elif name:
            out.append(("name", name))
        elif op.strip():
            out.append(("op", op))
    return out


Node = Callable[[dict[str, Series], list[str]], "Series | float | list[Series]"]


def compile_expression(text: str) -> Node:
    """A function of the query ids' series; InvalidParameterValue for what
    this subset of metric math does not read."""
    p = _Expr(text, _tokenize(text))
    if not p.tokens:
        raise _bad_expression(text, "Empty expression")
    node = _sum(p)
    if p.peek() is not None:
        raise _bad_expression(text, f"Unexpected '{p.peek()[1]}'")  # type: ignore[index]
    return node


def _sum(p: _Expr) -> Node:
    left = _product(p)
    while (tok := p.peek()) is not None and tok in (("op", "+"), ("op", "-")):
        p.take()
        right = _product(p)
        left = _binary(left, right, tok[1], p.text)
    return left


def _product(p: _Expr) -> Node:
    left = _unary(p)
    while (tok := p.peek()) is not None and tok in (("op", "*"), ("op", "/")):
        p.take()
        right = _unary(p)
        left = _binary(left, right, tok[1], p.text)
    return left


def _unary(p: _Expr) -> Node:
    if p.peek() == ("op", "-"):
        p.take()
        inner = _unary(p)
        return _binary(lambda s, ids: 0.0, inner, "-", p.text)
    return _atom(p)


def _atom(p: _Expr) -> Node:
    kind, value = p.take()
    if kind == "num":
        number = float(value)
        return lambda s, ids: number
    if kind == "op" and value == "(":
        inner = _sum(p)
        p.expect(")")
        return inner
    if kind == "op" and value == "[":
        names = []
        while True:
            k, v = p.take()
            if k != "name":
                raise _bad_expression(p.text, "Expected a metric id")
            names.append(v)
            k, v = p.take()
            if (k, v) == ("op", "]"):
                break
            if (k, v) != ("op", ","):
                raise _bad_expression(p.text, "Expected ',' or ']'")
        return lambda s, ids: [_lookup(s, n, p.text) for n in names]
    if kind == "name":
        if p.peek() == ("op", "("):
            return _function(p, value)
        return lambda s, ids: _lookup(s, value, p.text)
    raise _bad_expression(p.text, f"Unexpected '{value}'")


def _function(p: _Expr, name: str) -> Node:
    p.expect("(")
    if name == "METRICS":
        p.expect(")")
        return lambda s, ids: [s[i] for i in ids]
    fn = _FUNCTIONS.get(name)
    if fn is None:
        raise _bad_expression(p.text, f"Unsupported function {name}")
    arg = _sum(p)
    p.expect(")")

    def apply(s: dict[str, Series], ids: list[str]) -> Series:
        value = arg(s, ids)
        group = value if isinstance(value, list) else [value]
        if not all(isinstance(g, dict) for g in group):
            raise _bad_expression(p.text, f"{name} takes an array of time series")
        stamps = sorted({t for g in group for t in g})  # type: ignore[union-attr]
        out = {}
        for t in stamps:
            present = [g[t] for g in group if t in g]  # type: ignore[index,operator]
            if present:
                out[t] = float(fn(present))
        return out

    return apply


def _lookup(s: dict[str, Series], name: str, text: str) -> Series:
    if name not in s:
        raise _bad_expression(text, f"Unrecognized metric id {name}")
    return s[name]


_OPS: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else None,
}


def _binary(left: Node, right: Node, op: str, text: str) -> Node:
    fn = _OPS[op]

    def apply(s: dict[str, Series], ids: list[str]) -> Any:
        a, b = left(s, ids), right(s, ids)
        if isinstance(a, list) or isinstance(b, list):
            raise _bad_expression(text, "Arithmetic takes single time series or numbers")
        if isinstance(a, float) and isinstance(b, float):
            return fn(a, b)
        if isinstance(a, float):
            return _drop_none({t: fn(a, v) for t, v in b.items()})
        if isinstance(b, float):
            return _drop_none({t: fn(v, b) for t, v in a.items()})
        return _drop_none({t: fn(a[t], b[t]) for t in a if t in b})

    return apply


def _drop_none(values: dict[int, float | None]) -> Series:
    return {t: v for t, v in values.items() if v is not None}


# --------------------------------------------------------------------------- queries


@dataclass(slots=True)
class Answer:
    id: str
    label: str
    series: Series
    returned: bool


def run(
    conn: Connection,
    account: str,
    region: str,
    queries: list[dict[str, Any]],
    start: int,
    end: int,
    now: float,
) -> list[Answer]:
    """Every query's series (MetricStat ones first, expressions after, in
    the order they name each other)."""
    ids = [q["Id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise errors.InvalidParameterValueException("The values for parameter Id are not unique.")
    series: dict[str, Series] = {}
    stat_ids: list[str] = []
    answers: dict[str, Answer] = {}
    for q in queries:
        stat, expression = q.get("MetricStat"), q.get("Expression")
        if (stat is None) == (expression is None):
            raise errors.InvalidParameterValueException(
                f"Exactly one of MetricStat and Expression must be specified for query {q['Id']}."
            )
        if stat is None:
            continue
        series[q["Id"]] = _metric_stat(conn, account, region, stat, start, end, now)
        stat_ids.append(q["Id"])
        label = q.get("Label") or stat["Metric"]["MetricName"]
        answers[q["Id"]] = Answer(q["Id"], label, series[q["Id"]], q.get("ReturnData", True))
    pending = [q for q in queries if q.get("Expression") is not None]
    compiled = {q["Id"]: compile_expression(q["Expression"]) for q in pending}
    for _ in range(len(pending) + 1):
        waiting = []
        for q in pending:
            try:
                value = compiled[q["Id"]](series, stat_ids)
            except Exception as exc:
                if "Unrecognized metric id" in str(getattr(exc, "message", "")):
                    waiting.append(q)
                    continue
                raise
            if isinstance(value, list):
                raise _bad_expression(q["Expression"], "The expression must return one time series")
            if isinstance(value, float):
                value = {t: value for s in series.values() for t in s}
            series[q["Id"]] = value
            answers[q["Id"]] = Answer(
                q["Id"], q.get("Label") or q["Id"], value, q.get("ReturnData", True)
            )
        if not waiting:
            break
        if len(waiting) == len(pending):
            compiled[waiting[0]["Id"]](series, stat_ids)  # raises its own error
        pending = waiting
    return [answers[i] for i in ids]


def _metric_stat(
    conn: Connection, account: str, region: str, stat: dict[str, Any], start: int, end: int,
    now: float,
) -> Series:  # fmt: skip
    name = stat["Stat"]
    if not is_statistic(name):
        raise errors.InvalidParameterValueException(
            f"The value {name} for parameter MetricStat.Stat is not supported."
        )
    period = stat["Period"]
    require_period(period, start, now, "MetricStat.Period")
    m = stat["Metric"]
    if not m.get("Namespace") or not m.get("MetricName"):
        raise errors.InvalidParameterValueException(
            "The parameters MetricStat.Metric.Namespace and MetricStat.Metric.MetricName are "
            "required."
        )
    metric = metrics.find(
        conn,
        account,
        region,
        m["Namespace"],
        m["MetricName"],
        metrics.canonical(m.get("Dimensions")),
    )
    if metric is None:
        return {}
    begin = rounded_start(start, period, now)
    return metrics.series(conn, metric.id, begin, end, period, stat.get("Unit"), name)
