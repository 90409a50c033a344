"""Text encodings of domain data, for services (which import no json, orjson,
base64 or binascii: the pipeline owns the wire, and the store encodes state).

Only what a service needs as data in its own right goes here: a document
whose text is a member's value (a CloudTrail record in LookupEvents'
``CloudTrailEvent``, a key policy AWS writes for a managed key), or
binary data a service must present as text in a domain value.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson


def json_text(value: Any, *, indent: bool = False) -> str:
    """The JSON text of a document (``indent``: two spaces a level)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def json_value(text: str | bytes) -> Any:
    """The value of a JSON document; ValueError when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None


def b64_text(data: bytes) -> str:
    """Standard base64 (with padding) of `data`."""
    return base64.b64encode(data).decode("ascii")


def b64_bytes(text: str | bytes) -> bytes:
    """The bytes of standard base64 text; ValueError when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
