"""IAM's Marker/MaxItems pagination over an ordered list."""

from __future__ import annotations

from typing import Any

from strongroom import tokens
from strongroom.framework import Call


def page(
    call: Call, items: list[Any], marker: str | None, max_items: int
) -> tuple[list[Any], bool, str | None]:
    """(this page, is truncated, marker for the next page)."""
    start = 0
    if marker is not None:
        try:
            start = tokens.decode(marker)
        except tokens.BadToken:
            start = -1
        if not isinstance(start, int) or start < 0:
            raise call.service.errors.ValidationError("Invalid Marker.")
    end = start + max_items
    more = end < len(items)
    return items[start:end], more, tokens.encode(end) if more else None
