"""Generate valid Python values for botocore shapes (input for the oracle tests).

Strings satisfy enums, lengths and patterns (a small generator walks the
pattern's parse tree), numbers sit in range, lists and maps hold one or two
items. `where` says where a value travels, so header, URI and query-string
values stay printable ASCII and their timestamps whole seconds.
"""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.model import Shape

from strongroom.protocol.validation import java_to_python_regex, pattern_matcher

try:  # Python 3.11+
    import re._constants as sre_c
    import re._parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

SAFE = string.ascii_letters + string.digits + "-_.:/"
BODY = "body"
HEADER = "header"
URI = "uri"
GREEDY = "uri+"
QUERY = "query"
TEXT_CONTEXTS = (HEADER, URI, GREEDY, QUERY)


class Unsatisfiable(Exception):
    pass


# --------------------------------------------------------------------------- regex strings


def _in_set(items: list[tuple[Any, Any]], ch: str) -> bool:
    negate = False
    hit = False
    o = ord(ch)
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            hit = hit or o == av
        elif op is sre_c.RANGE:
            hit = hit or av[0] <= o <= av[1]
        elif op is sre_c.CATEGORY:
            hit = hit or _category(av, ch)
        elif op is sre_c.RANGE_UNI_IGNORE:
            hit = hit or av[0] <= o <= av[1]
    return hit != negate


def _category(cat: Any, ch: str) -> bool:
    name = str(cat)
    if "NOT_DIGIT" in name:
        return not ch.isdigit()
    if "DIGIT" in name:
        return ch.isdigit()
    if "NOT_WORD" in name:
        return not (ch.isalnum() or ch == "_")
    if "WORD" in name:
        return ch.isalnum() or ch == "_"
    if "NOT_SPACE" in name:
        return not ch.isspace()
    if "SPACE" in name:
        return ch.isspace()
    return False


_POOL = SAFE + " _=+@,#*()$!~"


class _RegexGen:
    def __init__(self, rng: random.Random, extra: int, longest: bool = False) -> None:
        self.rng = rng
        self.extra = extra
        self.longest = longest
        self.groups: dict[int, str] = {}

    def gen(self, items: Any) -> str:
        out: list[str] = []
        for op, av in items:
            out.append(self.one(op, av))
        return "".join(out)

    def one(self, op: Any, av: Any) -> str:
        rng = self.rng
        if op is sre_c.LITERAL:
            return chr(av)
        if op is sre_c.NOT_LITERAL:
            return rng.choice([c for c in SAFE if ord(c) != av])
        if op is sre_c.ANY:
            return rng.choice(string.ascii_letters)
        if op is sre_c.IN:
            pool = [c for c in _POOL if _in_set(av, c)]
            if not pool:
                for sub_op, sub_av in av:
                    if sub_op is sre_c.LITERAL:
                        pool.append(chr(sub_av))
                    elif sub_op is sre_c.RANGE:
                        pool.append(chr(sub_av[0]))
            if not pool:
                raise Unsatisfiable("empty set")
            return rng.choice(pool)
        if op is sre_c.BRANCH:
            return self.gen(rng.choice(av[1]))
        if op is sre_c.SUBPATTERN:
            group, _add, _del, sub = av
            text = self.gen(sub)
            if group:
                self.groups[group] = text
            return text
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            hi = min(hi, lo + self.extra)
            count = hi if self.longest else rng.randint(lo, max(lo, hi))
            return "".join(self.gen(sub) for _ in range(count))
        if op is sre_c.GROUPREF:
            return self.groups.get(av, "")
        if op is sre_c.CATEGORY:
            for c in _POOL:
                if _category(av, c):
                    return c
            raise Unsatisfiable("category")
        if op is getattr(sre_c, "ATOMIC_GROUP", None):
            return self.gen(av)
        # AT (anchors), ASSERT, ASSERT_NOT: no text
        return ""


def string_for_pattern(
    pattern: str, rng: random.Random, lo: int, hi: int, accept: Any
) -> str | None:
    matcher = pattern_matcher(pattern)
    try:
        parsed = sre_parse.parse(java_to_python_regex(pattern))
    except Exception:
        return None
    plans = [(e, False) for e in range(0, 12)]
    plans += [(max(e, 0), True) for e in (lo - 1, lo, (lo + hi) // 2 - 1, lo // 2, 4)]
    for attempt in range(64):
        extra, longest = plans[attempt % len(plans)]
        try:
            text = _RegexGen(rng, extra, longest).gen(parsed)
        except (Unsatisfiable, RecursionError):
            continue
        if not lo <= len(text) <= hi:
            continue
        if matcher is not None and matcher(text) is None:
            continue
        if not accept(text):
            continue
        return text
    return None


# --------------------------------------------------------------------------- values


def _text_ok(where: str) -> Any:
    if where in TEXT_CONTEXTS:

        def ok(s: str) -> bool:
            if not s or s != s.strip() or not s.isascii() or not s.isprintable():
                return False
            return not (where == HEADER and ('"' in s or "," in s))

        return ok
    return lambda s: "\r" not in s


class ValueGen:
    def __init__(self, seed: int = 7, max_depth: int = 5) -> None:
        self.rng = random.Random(seed)
        self.max_depth = max_depth

    def string(self, shape: Shape, where: str = BODY) -> str:
        md = shape.metadata
        enum = md.get("enum")
        if enum:
            choices = [e for e in enum if _text_ok(where)(e)] or list(enum)
            return self.rng.choice(choices)
        lo = md.get("min", 0) or 0
        hi = md.get("max", lo + 12) or lo + 12
        if where in TEXT_CONTEXTS:
            lo = max(lo, 1)
        pattern = md.get("pattern")
        if pattern:
            text = string_for_pattern(pattern, self.rng, lo, md.get("max", 2048), _text_ok(where))
            if text is None:
                raise Unsatisfiable(f"{shape.name}: {pattern}")
            return text
        n = self.rng.randint(lo, min(hi, max(lo, 1) + 8))
        text = "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))
        if where == GREEDY and n >= 3:
            text = text[:1] + "/" + text[2:]
        return text

    def timestamp(self, where: str) -> datetime:
        base = datetime(2021, 1, 1, tzinfo=UTC)
        seconds = self.rng.randint(0, 300_000_000)
        value = base + timedelta(seconds=seconds)
        if where == "output-body":
            value += timedelta(milliseconds=self.rng.randint(0, 999))
        return value

    def number(self, shape: Shape) -> Any:
        md = shape.metadata
        lo = md.get("min", 1)
        hi = md.get("max", max(lo, 1) + 100)
        if shape.type_name in ("float", "double"):
            return float(self.rng.randint(int(lo) * 4, int(hi) * 4)) / 4
        return self.rng.randint(int(lo), int(hi))

    def value(self, shape: Shape, where: str = BODY, depth: int = 0) -> Any:
        kind = shape.type_name
        if kind == "string":
            return self.string(shape, where)
        if kind in ("integer", "long"):
            return self.number(shape)
        if kind in ("float", "double"):
            return self.number(shape)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "blob":
            md = shape.metadata
            lo = max(md.get("min", 1), 1)
            hi = min(md.get("max", lo + 16), lo + 16)
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(lo, hi)))
        if kind == "timestamp":
            return self.timestamp(where)
        if kind == "list":
            md = shape.metadata
            lo = max(md.get("min", 1), 1)
            hi = max(lo, min(md.get("max", 2), 2))
            n = self.rng.randint(lo, hi)
            if where == HEADER and shape.member.type_name == "string" and not shape.member.enum:
                n = 1
            items = [self.value(shape.member, where, depth + 1) for _ in range(n)]
            # An empty structure does not survive every protocol: leave it out.
            return [x for x in items if x != {}]
        if kind == "map":
            md = shape.metadata
            n = max(md.get("min", 1), 1)
            out = {}
            for _ in range(n * 3):
                k = self.value(shape.key, where, depth + 1)
                if where in (HEADER, QUERY):
                    k = k.lower()
                out[k] = self.value(shape.value, where, depth + 1)
                if len(out) >= n:
                    break
            return out
        if kind == "structure":
            return self.structure(shape, where, depth)
        raise Unsatisfiable(kind)

    def structure(self, shape: Shape, where: str = BODY, depth: int = 0) -> dict[str, Any]:
        if shape.metadata.get("document"):
            return {"doc": [1, "two", True]}
        members = shape.members
        required = set(shape.metadata.get("required", ()))
        if shape.metadata.get("union"):
            name = self.rng.choice(list(members))
            return {name: self.value(members[name], where, depth + 1)}
        out: dict[str, Any] = {}
        for name, member in members.items():
            if depth >= self.max_depth and name not in required:
                continue
            if member.serialization.get("eventstream"):
                continue
            try:
                value = self.value(member, where, depth + 1)
            except Unsatisfiable:
                if name in required:
                    raise
                continue
            if name in required or (value != {} and value != []):
                out[name] = value
        return out
