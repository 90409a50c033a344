"""The filter-pattern language of FilterLogEvents, metric filters,
subscription filters and TestMetricFilter, parsed once into a matcher.

Four forms, as AWS documents them:

- **Terms** (unstructured events): ``ERROR`` (case-sensitive substring),
  several terms all required (``ERROR Exception``), ``?ERROR ?WARN`` (any
  of the ``?`` terms), ``-Exception`` (excluded), ``"quoted phrases"``, and
  the empty pattern or ``""`` matching every event.
- **JSON** (``{ ... }``): selectors ``$.a.b[0].c`` (``[*]`` and ``.*`` for
  any element or member), compared with ``=``/``!=`` to strings (quoted or
  bare, ``*`` a wildcard) or with ``= != < <= > >=`` to numbers (``-1``,
  ``1.5``, ``1e3``, ``1.0E+3``), or to ``%regex%``; ``IS TRUE``,
  ``IS FALSE``, ``IS NULL``, ``EXISTS``, ``NOT EXISTS``; joined by ``&&``
  and ``||`` (``&&`` binding tighter) with parentheses. An event that is
  not a JSON object matches no JSON pattern.
- **Space-delimited** (``[ ... ]``): one name per field of the event
  (fields are separated by spaces; a field in double quotes or in square
  brackets is one field, its delimiters not part of its value), ``...``
  for any number of fields, and conditions on named fields
  (``status = 4*``, ``bytes > 1000``, ``user != root``, ``w = %regex%``,
  joined by ``&&`` and ``||``). Without ``...`` the event must have exactly
  as many fields as the pattern names.
- **Regular expressions** (``%regex%``), searched anywhere in the event.

A bad pattern is InvalidParameterException. `Pattern.needles` is literal
text every matching event contains (a scan skips a batch without it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strongroom.encoding import json_value

MAX_LENGTH = 1024


class PatternError(ValueError):
    """A pattern AWS refuses (InvalidParameterException)."""


Matcher = Callable[[str], bool]


@dataclass(slots=True)
class Pattern:
    text: str
    kind: str  # "all", "terms", "json", "delimited", "regex"
    match: Matcher
    #: Literal UTF-8 text every matching event contains.
    needles: tuple[bytes, ...] = ()
    #: The needles are JSON text: an event writing it with \\u escapes holds
    #: it in another spelling, so a batch holding "\\u" is not skipped.
    json_needles: bool = False
    #: Field names of a space-delimited pattern, in order ("..." included).
    fields: tuple[str, ...] = field(default_factory=tuple)

    def extract(self, message: str) -> dict[str, str]:
        """TestMetricFilter's extractedValues for a matching event: each
        named field of a space-delimited pattern (``$name``)."""
        if self.kind != "delimited":
            return {}
        aligned = _align(self.fields, split_fields(message)) or []
        return {f"${name or position}": value for name, position, value in aligned}


def compile(text: str | None) -> Pattern:
    """The matcher of a filter pattern; PatternError for a bad one."""
    text = text or ""
    if len(text) > MAX_LENGTH:
        raise PatternError("The filter pattern is too long.")
    stripped = text.strip()
    if not stripped or stripped == '""':
        return Pattern(text, "all", lambda m: True)
    if stripped.startswith("{"):
        return _json_pattern(text, stripped)
    if stripped.startswith("["):
        return _delimited_pattern(text, stripped)
    if len(stripped) >= 2 and stripped.startswith("%") and stripped.endswith("%"):
        rx = _regex(stripped[1:-1])
        return Pattern(text, "regex", lambda m: rx.search(m) is not None)
    return _terms_pattern(text, stripped)


# --------------------------------------------------------------------------- values


def _regex(body: str) -> re.Pattern[str]:
    if not body:
        raise PatternError("Empty regular expression.")
    try:
        return re.compile(body)
    except re.error as err:
        raise PatternError(f"Invalid regular expression: {err}") from None


def _glob(value: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in value) + r"\Z", re.S)


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\Z")


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text) else None


@dataclass(slots=True)
class Value:
    """The right-hand side of a comparison."""

    text: str
    quoted: bool = False
    regex: re.Pattern[str] | None = None

    @property
    def number(self) -> float | None:
        return None if self.quoted or self.regex is not None else _number(self.text)

    def string_test(self) -> Callable[[str], bool]:
        if self.regex is not None:
            rx = self.regex
            return lambda s: rx.search(s) is not None
        if "*" in self.text:
            g = _glob(self.text)
            return lambda s: g.match(s) is not None
        t = self.text
        return lambda s: s == t


_NUM_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


# --------------------------------------------------------------------------- terms

_TERM = re.compile(r'\s*([?-]?)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')


def _terms_pattern(text: str, stripped: str) -> Pattern:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    pos = 0
    while pos < len(stripped):
        m = _TERM.match(stripped, pos)
        if m is None or m.end() == pos:
            if stripped[pos:].strip():
                raise PatternError(f"Invalid character(s) in term '{stripped[pos:]}'")
            break
        sign, quoted, bare = m.group(1), m.group(2), m.group(3)
        term = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        pos = m.end()
        if not term:
            if sign:
                raise PatternError("Empty term.")
            continue
        {"?": optional, "-": excluded, "": required}[sign].append(term)

    def match(message: str) -> bool:
        for t in required:
            if t not in message:
                return False
        for t in excluded:
            if t in message:
                return False
        return not optional or any(t in message for t in optional)

    needles = tuple(t.encode() for t in required)
    return Pattern(text, "terms", match, needles)


# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|=!|<=|>=|=|<|>|\(|\)|\{|\}|\[|\]|,)
      | "(?P<str>(?:[^"\\]|\\.)*)"
      | %(?P<rx>(?:[^%\\]|\\.)+)%
      | (?P<word>[^\s&|!=<>(){}\[\],"]+(?:\[[^\]]*\][^\s&|!=<>(){}\[\],"]*)*)
    )""",
    re.X,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternError(f"Invalid character(s) in filter pattern at '{text[pos:]}'")
        pos = m.end()
        for kind in ("op", "str", "rx", "word"):
            value = m.group(kind)
            if value is not None:
                if kind == "str":
                    value = re.sub(r"\\(.)", r"\1", value)
                if kind == "op" and value == "=!":
                    value = "!="
                out.append((kind, value))
                break
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise PatternError("Unexpected end of filter pattern.")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok != ("op", op):
            raise PatternError(f"Expected '{op}' in filter pattern, found '{tok[1]}'.")

    def at(self, op: str) -> bool:
        return self.peek() == ("op", op)

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].upper() in words

    def value(self) -> Value:
        kind, text = self.take()
        if kind == "str":
            return Value(text, quoted=True)
        if kind == "rx":
            return Value(text, regex=_regex(text))
        if kind == "word":
            return Value(text)
        raise PatternError(f"Expected a value in filter pattern, found '{text}'.")

    def boolean(self, atom: Callable[[], Any]) -> Any:
        """``a && b || c`` over `atom`s: a tree of ("and"|"or", [..]) / leaves."""
        parts = [self.conjunction(atom)]
        while self.at("||"):
            self.take()
            parts.append(self.conjunction(atom))
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conjunction(self, atom: Callable[[], Any]) -> Any:
        parts = [self.primary(atom)]
        while self.at("&&"):
            self.take()
            parts.append(self.primary(atom))
        return parts[0] if len(parts) == 1 else ("and", parts)

    def primary(self, atom: Callable[[], Any]) -> Any:
        if self.at("("):
            self.take()
            inner = self.boolean(atom)
            self.expect(")")
            return inner
        return atom()


def _evaluate(tree: Any, leaf: Callable[[Any], bool]) -> bool:
    if isinstance(tree, tuple) and tree and tree[0] in ("and", "or"):
        if tree[0] == "and":
            return all(_evaluate(t, leaf) for t in tree[1])
        return any(_evaluate(t, leaf) for t in tree[1])
    return leaf(tree)


# --------------------------------------------------------------------------- JSON

_MISSING = object()
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def _selector(text: str) -> list[str | int | None]:
    if not text.startswith("$"):
        raise PatternError(f"Invalid selector '{text}': a JSON selector starts with '$.'.")
    steps: list[str | int | None] = []
    pos = 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise PatternError(f"Invalid selector '{text}'.")
        if m.group(1) is not None:
            steps.append(None if m.group(1) == "*" else m.group(1))
        else:
            steps.append(None if m.group(2) == "*" else int(m.group(2)))
        pos = m.end()
    if not steps:
        raise PatternError(f"Invalid selector '{text}'.")
    return steps


def _select(doc: Any, steps: list[str | int | None]) -> list[Any]:
    if len(steps) == 1 and isinstance(steps[0], str):  # the common $.key
        if type(doc) is dict and steps[0] in doc:
            return [doc[steps[0]]]
        return []
    current = [doc]
    for step in steps:
        nxt: list[Any] = []
        for value in current:
            if step is None:
                if isinstance(value, dict):
                    nxt.extend(value.values())
                elif isinstance(value, list):
                    nxt.extend(value)
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    nxt.append(value[step])
            elif isinstance(value, dict) and step in value:
                nxt.append(value[step])
        current = nxt
        if not current:
            break
    return current


def _json_leaf(p: _Parser) -> Callable[[Any], bool]:
    kind, text = p.take()
    if kind != "word" or not text.startswith("$"):
        raise PatternError(f"Expected a selector in filter pattern, found '{text}'.")
    steps = _selector(text)
    if p.keyword("IS"):
        p.take()
        negate = False
        if p.keyword("NOT"):
            p.take()
            negate = True
        kind, word = p.take()
        word = word.upper()
        tests: dict[str, Callable[[Any], bool]] = {
            "TRUE": lambda v: v is True,
            "FALSE": lambda v: v is False,
            "NULL": lambda v: v is None,
        }
        if kind != "word" or word not in tests:
            raise PatternError(f"Expected TRUE, FALSE or NULL after IS, found '{word}'.")
        test = tests[word]
        if negate:
            return lambda doc: any(not test(v) for v in _select(doc, steps))
        return lambda doc: any(test(v) for v in _select(doc, steps))
    if p.keyword("NOT"):
        p.take()
        if not p.keyword("EXISTS"):
            raise PatternError("Expected EXISTS after NOT.")
        p.take()
        return lambda doc: not _select(doc, steps)
    if p.keyword("EXISTS"):
        p.take()
        return lambda doc: bool(_select(doc, steps))
    kind, op = p.take()
    if kind != "op" or op not in _NUM_OPS:
        raise PatternError(f"Expected a comparison after '{text}', found '{op}'.")
    value = p.value()
    number = value.number
    if number is not None:
        compare = _NUM_OPS[op]

        def numeric(doc: Any) -> bool:
            for v in _select(doc, steps):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if compare(float(v), number):
                    return True
            return False

        leaf = _JsonLeaf(numeric)
        last = steps[-1]
        if isinstance(last, str) and _PLAIN.match(last):
            # Every number written after the key in the text: the selected
            # value, if it is a number, is one of them.
            leaf.precheck = _written_numbers(last, compare, number)
        return leaf
    if op not in ("=", "!="):
        raise PatternError(f"Operator '{op}' needs a numeric value, found '{value.text}'.")
    test = value.string_test()
    if op == "=":
        return lambda doc: any((t := _text(v)) is not None and test(t) for v in _select(doc, steps))
    return lambda doc: any((t := _text(v)) is not None and not test(t) for v in _select(doc, steps))


_WRITTEN = re.compile(r"\s*:\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")


def _written_numbers(
    key: str, compare: Callable[[float, float], bool], number: float
) -> Callable[[str], bool]:
    """Whether any number written right after ``"key":`` in the text passes."""
    quoted = f'"{key}"'
    size = len(quoted)
    find = str.find
    match = _WRITTEN.match

    def check(text: str) -> bool:
        i = find(text, quoted)
        while i >= 0:
            m = match(text, i + size)
            if m is not None and compare(float(m.group(1)), number):
                return True
            i = find(text, quoted, i + size)
        return False

    return check


class _JsonLeaf:
    """A JSON condition with, where it has one, a test on the event's text
    that every event it matches passes (`precheck`): cheaper than parsing."""

    __slots__ = ("precheck", "test")

    def __init__(self, test: Callable[[Any], bool]) -> None:
        self.test = test
        self.precheck: Callable[[str], bool] | None = None

    def __call__(self, doc: Any) -> bool:
        return self.test(doc)


def _text(v: Any) -> str | None:
    """A value node as string comparisons see it: strings, and numbers as
    written; objects, arrays, booleans and null are not value nodes."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


_PLAIN = re.compile(r"[A-Za-z0-9 _.:@-]+\Z")


def _json_needles(tree: Any, tokens: list[tuple[str, str]]) -> tuple[bytes, ...]:
    """Keys of the selectors of a pattern with no ``||`` and no negation:
    each appears quoted in every matching event."""
    words = {t for _, t in tokens}
    if any(op in words for op in ("||", "!=", "NOT", "not")):
        return ()
    out: list[bytes] = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "word" and text.startswith("$"):
            for step in _selector(text):
                if isinstance(step, str) and _PLAIN.match(step):
                    out.append(f'"{step}"'.encode())
            # `$.x = "value"`: the value is written as it is in the event.
            if i + 2 < len(tokens) and tokens[i + 1] == ("op", "="):
                vkind, value = tokens[i + 2]
                plain = vkind in ("str", "word") and "*" not in value and _PLAIN.match(value)
                if plain and (vkind == "str" or _number(value) is None):
                    out.append(value.encode())
    return tuple(dict.fromkeys(out))


def _json_pattern(text: str, stripped: str) -> Pattern:
    tokens = _tokens(stripped)
    p = _Parser(tokens)
    p.expect("{")
    tree = p.boolean(lambda: _json_leaf(p))
    p.expect("}")
    if p.peek() is not None:
        raise PatternError("Unexpected text after the closing '}' of the filter pattern.")

    needles = _json_needles(tree, tokens)
    literals = [n.decode() for n in needles]
    single = not (isinstance(tree, tuple) and tree and tree[0] in ("and", "or"))
    precheck = getattr(tree, "precheck", None) if single else None

    def match(message: str) -> bool:
        if message[:1] not in ("{", "[") and message.lstrip()[:1] not in ("{", "["):
            return False
        if "\\u" not in message:
            for literal in literals:
                if literal not in message:
                    return False
            if precheck is not None and not precheck(message):
                return False
        try:
            doc = json_value(message)
        except ValueError:
            return False
        if type(doc) is not dict and type(doc) is not list:
            return False
        if single:
            return bool(tree(doc))
        return _evaluate(tree, lambda leaf: leaf(doc))

    return Pattern(text, "json", match, needles, json_needles=True)


# --------------------------------------------------------------------------- space-delimited

_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')


def split_fields(message: str) -> list[str]:
    """An event's fields: space-separated, a quoted or bracketed field whole."""
    if '"' not in message and "[" not in message:
        return message.split()
    return [
        m.group(1)
        if m.group(1) is not None
        else m.group(2)
        if m.group(2) is not None
        else m.group(3)
        for m in _FIELD.finditer(message)
    ]


def _align(names: tuple[str, ...], values: list[str]) -> list[tuple[str, int, str]] | None:
    """(name, position from 1, value) of each of an event's fields under a
    pattern's names ("" for a field no name covers: under ``...`` or after a
    trailing comma), or None when the event has the wrong number of fields."""
    if "..." not in names:
        if len(names) != len(values):
            return None
        return [(n, i, v) for i, (n, v) in enumerate(zip(names, values, strict=True), start=1)]
    at = names.index("...")
    before = names[:at]
    after = tuple(n for n in names[at + 1 :] if n != "...")
    if len(values) < len(before) + len(after):
        return None
    middle = len(values) - len(before) - len(after)
    labels = [*before, *([""] * middle), *after]
    return [(n, i, v) for i, (n, v) in enumerate(zip(labels, values, strict=True), start=1)]


def _delimited_leaf(p: _Parser) -> Callable[[dict[str, str]], bool]:
    kind, field_name = p.take()
    if kind != "word" or field_name == "...":
        raise PatternError(f"Expected a field name, found '{field_name}'.")
    name = field_name
    kind, op = p.take()
    if kind != "op" or op not in _NUM_OPS:
        raise PatternError(f"Expected a comparison after '{name}', found '{op}'.")
    value = p.value()
    number = value.number
    if number is not None and "*" not in value.text:
        compare = _NUM_OPS[op]

        def numeric(values: dict[str, str]) -> bool:
            got = _number(values.get(name, ""))
            return got is not None and not math.isnan(got) and compare(got, number)

        return numeric
    if op not in ("=", "!="):
        raise PatternError(f"Operator '{op}' needs a numeric value, found '{value.text}'.")
    test = value.string_test()
    if op == "=":
        equal = _Leaf(lambda values: test(values.get(name, "")))
        if value.regex is None and "*" not in value.text and value.text:
            equal.literal = value.text
        return equal
    return lambda values: not test(values.get(name, ""))


class _Leaf:
    """A condition that knows the literal text it needs (for needles)."""

    __slots__ = ("literal", "test")

    def __init__(self, test: Callable[[dict[str, str]], bool]) -> None:
        self.test = test
        self.literal: str | None = None

    def __call__(self, values: dict[str, str]) -> bool:
        return self.test(values)


def _delimited_pattern(text: str, stripped: str) -> Pattern:
    tokens = _tokens(stripped)
    p = _Parser(tokens)
    p.expect("[")
    names: list[str] = []
    conditions: list[Any] = []
    while True:
        tok = p.peek()
        if tok is None:
            raise PatternError("Expected ']' at the end of the filter pattern.")
        if tok == ("op", "]"):
            if not names:
                raise PatternError("A space-delimited filter pattern names at least one field.")
            p.take()
            names.append("")  # after a trailing comma: a field of no name
            break
        kind, name = p.take()
        if kind != "word":
            raise PatternError(f"Expected a field name, found '{name}'.")
        if name != "..." and not re.match(r"[A-Za-z0-9_]+\Z", name):
            raise PatternError(f"Invalid field name '{name}'.")
        if name in names and name != "...":
            raise PatternError(f"Field '{name}' is named twice.")
        names.append(name)
        nxt = p.peek()
        if nxt is not None and nxt[0] == "op" and nxt[1] in _NUM_OPS:
            if name == "...":
                raise PatternError("'...' takes no condition.")
            p.i -= 1  # the leaf reads the field name again
            conditions.append(p.boolean(lambda: _delimited_leaf(p)))
        tok = p.take()
        if tok == ("op", "]"):
            break
        if tok != ("op", ","):
            raise PatternError(f"Expected ',' or ']' in filter pattern, found '{tok[1]}'.")
    if p.peek() is not None:
        raise PatternError("Unexpected text after the closing ']' of the filter pattern.")
    fields = tuple(names)
    needles = _delimited_needles(conditions)
    literals = [n.decode() for n in needles]

    def match(message: str) -> bool:
        for literal in literals:
            if literal not in message:
                return False
        aligned = _align(fields, split_fields(message))
        if aligned is None:
            return False
        values = {n: v for n, _, v in aligned if n}
        return all(_evaluate(c, lambda leaf: leaf(values)) for c in conditions)

    return Pattern(text, "delimited", match, needles, fields=fields)


def _delimited_needles(conditions: list[Any]) -> tuple[bytes, ...]:
    """The values of plain ``field = value`` conditions (no wildcard, no
    ``||``): each appears as written in every matching event."""
    out = []
    for c in conditions:
        literal = getattr(c, "literal", None)
        if literal:
            out.append(literal.encode())
    return tuple(out)
