"""ListObjects and ListObjectsV2: keys in UTF-8 order after a position,
under a prefix, rolled up at a delimiter into CommonPrefixes, a page of at
most MaxKeys entries (keys and prefixes together)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import Connection, not_, select

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
    #: Whether `last` is a common prefix (the next page skips what it rolls up).
    last_is_prefix: bool = False


def page(
    conn: Connection,
    bucket: str,
    prefix: str,
    delimiter: str | None,
    after: str,
    max_keys: int,
    skip: str | None = None,
) -> Page:
    """A page of keys after `after` (and not under the common prefix `skip`,
    the one a previous page ended with)."""
    out = Page()
    position = after
    inclusive = False
    if prefix and position < prefix:
        position, inclusive = prefix, True
    count = 0
    while True:
        q = select(OBJ).where(
            OBJ.c.bucket == bucket, OBJ.c.latest.is_(True), OBJ.c.delete_marker.is_(False)
        )
        q = q.where(OBJ.c.key >= position) if inclusive else q.where(OBJ.c.key > position)
        if prefix:
            q = q.where(OBJ.c.key.startswith(prefix, autoescape=True))
        if skip:
            q = q.where(not_(OBJ.c.key.startswith(skip, autoescape=True)))
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
                    out.last, out.last_is_prefix = common, True
                    count += 1
                    # Past every key the prefix rolls up, whatever follows it.
                    position, inclusive, skip, jumped = common, False, common, True
                    break
            if count >= max_keys:
                out.truncated = True
                return out
            out.objects.append(Obj(**row._mapping))
            out.last, out.last_is_prefix = key, False
            count += 1
            position, inclusive = key, False
        if not jumped and len(rows) < BATCH:
            return out


def encode(value: str | None, url: bool) -> str | None:
    if value is None or not url:
        return value
    return quote(value, safe="/")
