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


def pem_text(der: bytes, label: str) -> str:
    """PEM armour of DER bytes (RFC 7468): the BEGIN and END lines of `label`
    around the base64 body in lines of 64 characters, with a final newline."""
    body = b64_text(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def pem_bytes(text: str, label: str | None = None) -> bytes:
    """The DER bytes of the first PEM block of `text` (the first of `label`
    when given): ValueError when there is none, it has no END line, or its
    body is not base64. Lines are stripped; text around the block is ignored."""
    lines = [line.strip() for line in text.splitlines()]
    begin = f"-----BEGIN {label}-----" if label else "-----BEGIN "
    start = next((i for i, line in enumerate(lines) if line.startswith(begin)), None)
    if start is None:
        raise ValueError("no PEM block")
    end_line = "-----END " + lines[start][len("-----BEGIN ") :]
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == end_line), None)
    if end is None:
        raise ValueError("PEM block without its END line")
    return b64_bytes("".join(lines[start + 1 : end]))
