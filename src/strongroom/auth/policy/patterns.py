"""Wildcard patterns and policy-variable templates, compiled once.

Policy strings come in three matching flavours:

* plain globs (``StringLike``): ``*`` is any run of characters, ``?`` any one;
* ARN globs (``Resource``, ``ArnLike``): the same wildcards, but each of the
  first five colon-delimited ARN components is matched on its own, so a
  wildcard there never crosses a ``:``; the sixth component (the resource
  part) is free to hold colons;
* case-insensitive globs (``Action``).

In a ``2012-10-17`` policy a string may also hold policy variables:
``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}`` and the escapes
``${*}``, ``${?}``, ``${$}`` that stand for the literal characters. A
`Template` keeps the parsed pieces; its static form is compiled when the
policy is, and a form with variables is compiled per distinct substitution
through a bounded cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Final

#: (text, literal): literal text matches itself; non-literal text has wildcards.
Piece = tuple[str, bool]
Pieces = tuple[Piece, ...]

_VAR_RE: Final = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY_RE: Final = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES: Final = frozenset("*?$")


class Unresolved(Exception):
    """A policy variable has no value in the request (and no default).

    AWS documents that a variable it cannot resolve makes the statement that
    holds it invalid: the statement then applies to nothing.
    """


class Var:
    __slots__ = ("default", "key", "key_lower")

    def __init__(self, key: str, default: str | None) -> None:
        self.key = key
        self.key_lower = key.lower()
        self.default = default

    def __repr__(self) -> str:
        return f"Var({self.key!r}, {self.default!r})"


class Template:
    """A policy string, split into wildcard text, literal text and variables."""

    __slots__ = ("has_vars", "parts", "raw", "static")

    def __init__(self, raw: str, *, variables: bool) -> None:
        self.raw = raw
        parts: list[Piece | Var] = []
        if variables and "${" in raw:
            pos = 0
            for m in _VAR_RE.finditer(raw):
                if m.start() > pos:
                    parts.append((raw[pos : m.start()], False))
                body = m.group(1)
                if body in _ESCAPES:
                    parts.append((body, True))
                else:
                    vm = _VAR_BODY_RE.match(body)
                    if vm is None:  # not a variable: keep the text as written
                        parts.append((m.group(0), False))
                    else:
                        parts.append(Var(vm.group(1), vm.group(2)))
                pos = m.end()
            if pos < len(raw):
                parts.append((raw[pos:], False))
        else:
            parts.append((raw, False))
        self.parts: tuple[Piece | Var, ...] = tuple(parts)
        self.has_vars = any(isinstance(p, Var) for p in self.parts)
        self.static: Pieces | None = None if self.has_vars else tuple(self.parts)  # type: ignore[arg-type]

    def resolve(self, lookup: Callable[[str], str | None]) -> Pieces:
        """The pieces with each variable replaced by its (literal) value."""
        if self.static is not None:
            return self.static
        out: list[Piece] = []
        for p in self.parts:
            if isinstance(p, Var):
                value = lookup(p.key_lower)
                if value is None:
                    if p.default is None:
                        raise Unresolved(p.key)
                    value = p.default
                out.append((value, True))
            else:
                out.append(p)
        return tuple(out)

    def __repr__(self) -> str:
        return f"Template({self.raw!r})"


def text_of(pieces: Pieces) -> str:
    """The string a resolved template stands for (wildcards taken literally)."""
    if len(pieces) == 1:
        return pieces[0][0]
    return "".join(t for t, _ in pieces)


def _glob_source(pieces: Pieces) -> str:
    out: list[str] = []
    for text, literal in pieces:
        if literal:
            out.append(re.escape(text))
            continue
        for ch in text:
            if ch == "*":
                out.append(".*")
            elif ch == "?":
                out.append(".")
            else:
                out.append(re.escape(ch))
    return "".join(out)


def _arn_source(pieces: Pieces) -> str:
    """Regex source for an ARN glob, wildcards confined to their component.

    The first five ``:``-delimited components keep their wildcards inside the
    component; the resource part (sixth and later) does not. A pattern with
    fewer components than an ARN (``*``, ``arn:aws:*``) lets its last
    component's wildcards run to the end of the value.
    """
    last = sum(t.count(":") for t, _ in pieces)
    segment = 0
    out: list[str] = []
    for text, literal in pieces:
        for ch in text:
            if ch == ":":
                segment += 1
                out.append(":")
            elif literal:
                out.append(re.escape(ch))
            elif ch == "*":
                out.append(".*" if segment >= 5 or segment == last else "[^:]*")
            elif ch == "?":
                out.append("." if segment >= 5 or segment == last else "[^:]")
            else:
                out.append(re.escape(ch))
    return "".join(out)


def _alternation(sources: Iterable[str]) -> str:
    srcs = list(dict.fromkeys(sources))
    if len(srcs) == 1:
        return srcs[0]
    return "|".join(f"(?:{s})" for s in srcs)


@lru_cache(maxsize=8192)
def glob_regex(patterns: tuple[Pieces, ...], ignore_case: bool = False) -> re.Pattern[str]:
    """One regex (use ``fullmatch``) matching any of the plain globs."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_alternation(_glob_source(p) for p in patterns), flags)


@lru_cache(maxsize=8192)
def arn_regex(patterns: tuple[Pieces, ...]) -> re.Pattern[str]:
    """One regex (use ``fullmatch``) matching any of the ARN globs."""
    return re.compile(_alternation(_arn_source(p) for p in patterns), re.DOTALL)


def has_wildcard(pieces: Pieces) -> bool:
    return any(not literal and ("*" in t or "?" in t) for t, literal in pieces)
