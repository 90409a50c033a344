"""Opaque pagination tokens (NextToken, Marker) shared by every service.

A token is the JSON of a small cursor value, URL-safe base64 encoded. Services
see only `encode` and `decode`; a token that does not decode raises
`BadToken`, which each service turns into its own error.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson


class BadToken(ValueError):
    pass


def encode(cursor: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(cursor)).decode().rstrip("=")


def decode(token: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        return orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise BadToken(token) from None
