"""IAM's Marker/MaxItems pagination over an ordered list."""

from __future__ import annotations

import base64
from typing import Any

from strongroom.services.base import Call


def page(
    call: Call, items: list[Any], marker: str | None, max_items: int
) -> tuple[list[Any], bool, str | None]:
    """(this page, is truncated, marker for the next page)."""
    start = 0
    if marker is not None:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except ValueError:
            raise call.service.errors.ValidationError("Invalid Marker.") from None
        if start < 0:
            raise call.service.errors.ValidationError("Invalid Marker.")
    end = start + max_items
    more = end < len(items)
    next_marker = base64.urlsafe_b64encode(str(end).encode()).decode() if more else None
    return items[start:end], more, next_marker
