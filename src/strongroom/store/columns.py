"""Column types services declare their tables with.

`JsonText` keeps a JSON document (a list of tags, a grant's operations) in a
TEXT column: the service reads and writes Python lists and dicts, the store
does the encoding. The DDL is plain TEXT, so a table that already held JSON
text (written before this type existed) reads back unchanged, on SQLite and
PostgreSQL alike, with no migration.

`Prepared` statements (store.db), which skip SQLAlchemy's per-row type
processing for speed, decode and encode `JsonText` columns themselves with
`load` and `dump`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator


def dump(value: Any) -> str | None:
    """The JSON text of `value` (None stays NULL)."""
    return None if value is None else orjson.dumps(value).decode()


def load(text: str | bytes | None) -> Any:
    """The value of stored JSON text (NULL and an empty string read as None)."""
    return orjson.loads(text) if text else None


class JsonText(TypeDecorator[Any]):
    """A JSON-serialisable value stored as TEXT."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return dump(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return load(value)
