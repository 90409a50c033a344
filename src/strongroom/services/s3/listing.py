"""ListObjects and ListObjectsV2: keys in UTF-8 order after a position,
under a prefix, rolled up at a delimiter into CommonPrefixes, a page of at
most MaxKeys entries (keys and prefixes together)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import Connection, select

from strongroom.services.s3 import tables
from strongroom.services.s3.objects import Obj

OBJ = tables.objects
BATCH = 1000


@dataclass(slots=True)
class Page:
    objects: list[Obj] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    #: The last key or prefix of the page (where the next page starts after).
    last: str | None = None


def _after_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix + "\U0010ffff"


def page(
    conn: Connection, bucket: str, prefix: str, delimiter: str | None, after: str, max_keys: int
) -> Page:
    out = Page()
    position = after
    inclusive = False
    if prefix and position < prefix:
        position, inclusive = prefix, True
    count = 0
    while True:
        q = select(OBJ).where(OBJ.c.bucket == bucket)
        q = q.where(OBJ.c.key >= position) if inclusive else q.where(OBJ.c.key > position)
        if prefix:
            q = q.where(OBJ.c.key.startswith(prefix, autoescape=True))
        rows = conn.execute(q.order_by(OBJ.c.key).limit(BATCH)).all()
        if not rows:
            return out
        jumped = False
        for row in rows:
            key = row.key
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if count >= max_keys:
                        out.truncated = True
                        return out
                    out.prefixes.append(common)
                    out.last = common
                    count += 1
                    position, inclusive, jumped = _after_prefix(common), True, True
                    break
            if count >= max_keys:
                out.truncated = True
                return out
            out.objects.append(Obj(**row._mapping))
            out.last = key
            count += 1
            position, inclusive = key, False
        if not jumped and len(rows) < BATCH:
            return out


def encode(value: str | None, url: bool) -> str | None:
    if value is None or not url:
        return value
    return quote(value, safe="/")
