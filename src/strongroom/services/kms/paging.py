"""KMS's Limit/Marker pagination: ``Truncated`` and ``NextMarker``."""

from __future__ import annotations

from typing import Any

from strongroom import tokens
from strongroom.services.kms.service import errors


def page(
    items: list[Any], marker: str | None, limit: int | None, default: int, member: str
) -> dict[str, Any]:
    """The output members of one page of `items` under `member`."""
    start = 0
    if marker is not None:
        try:
            start = tokens.decode(marker)
        except tokens.BadToken:
            start = None
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise errors.InvalidMarkerException("Invalid marker.")
    end = start + (limit or default)
    out: dict[str, Any] = {member: items[start:end], "Truncated": end < len(items)}
    if end < len(items):
        out["NextMarker"] = tokens.encode(end)
    return out
