"""Scalar conversions shared by every protocol: timestamps, blobs, XML text.

Inputs are read leniently (a timestamp may arrive as epoch seconds, ISO 8601
or RFC 822 whatever the model says); outputs are written exactly in the
format the model and protocol call for.
"""

from __future__ import annotations

import binascii
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus

# SIMD base64: blobs (plaintexts, ciphertexts) cross the wire as base64, and
# the standard library's codec took ~9 us per KiB, a tenth of a KMS request.
import pybase64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Malformed(ValueError):
    """A value that cannot be read as the type the model declares.

    `expected` names the type in words ("an integer"); each codec turns it
    into its protocol's error (SerializationException, MalformedXML, ...).
    """

    def __init__(self, message: str, expected: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected


# --------------------------------------------------------------------------- timestamps


def timestamp_from_epoch(value: float) -> datetime:
    try:
        if not math.isfinite(value):
            raise ValueError(value)
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Malformed(f"Invalid timestamp {value!r}", "a timestamp") from exc


def parse_timestamp(value: Any) -> datetime:
    """A tz-aware UTC datetime from epoch seconds, ISO 8601 or RFC 822 text."""
    if isinstance(value, bool):
        raise Malformed("Invalid timestamp", "a timestamp")
    if isinstance(value, int | float):
        return timestamp_from_epoch(value)
    if not isinstance(value, str):
        raise Malformed("Invalid timestamp", "a timestamp")
    text = value.strip()
    if not text:
        raise Malformed("Invalid timestamp ''", "a timestamp")
    first = text[0]
    if first.isdigit() or first in "+-.":
        try:
            return timestamp_from_epoch(float(text))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = None
        if dt is not None:
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise Malformed(f"Invalid timestamp {value!r}", "a timestamp") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def as_utc(value: Any) -> datetime:
    """A service's timestamp as aware UTC (naive datetimes are taken as UTC)."""
    if type(value) is datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if value.tzinfo is UTC:
            return value
        return value.astimezone(UTC)
    if isinstance(value, datetime):
        return as_utc(datetime.fromtimestamp(value.timestamp(), UTC))
    return parse_timestamp(value)


def iso8601(value: Any) -> str:
    """``2024-01-02T03:04:05Z``, or ``2024-01-02T03:04:05.123Z`` with milliseconds."""
    d = as_utc(value)
    base = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    if d.microsecond:
        return f"{base}.{d.microsecond // 1000:03d}Z"
    return base + "Z"


def epoch_seconds(value: Any) -> int | float:
    """Seconds since the epoch: an int when whole, else rounded to milliseconds."""
    d = as_utc(value)
    delta = d - _EPOCH
    if not delta.microseconds:
        return delta.days * 86400 + delta.seconds
    return round(delta.total_seconds(), 3)


_RFC822_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RFC822_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def rfc822(value: Any) -> str:
    """``Wed, 12 Oct 2009 17:50:00 GMT`` (what `email.utils.format_datetime`
    writes, formatted directly: it is on every S3 GET and HEAD, and the
    email module's path costs several microseconds)."""
    d = as_utc(value)
    return (
        f"{_RFC822_DAYS[d.weekday()]}, {d.day:02d} {_RFC822_MONTHS[d.month - 1]} "
        f"{d.year:04d} {d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT"
    )


TIMESTAMP_WRITERS = {"iso8601": iso8601, "unixtimestamp": epoch_seconds, "rfc822": rfc822}


def timestamp_writer(fmt: str | None, default: str) -> Any:
    return TIMESTAMP_WRITERS.get((fmt or default).lower(), TIMESTAMP_WRITERS[default])


# --------------------------------------------------------------------------- blobs


def b64decode(value: str) -> bytes:
    try:
        return pybase64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Malformed("Invalid base64 value", "base64-encoded binary data") from exc


def b64encode(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return pybase64.b64encode_as_string(value)


# --------------------------------------------------------------------------- numbers


def float_out(value: Any) -> Any:
    """A float for JSON: AWS writes the non-finite ones as strings."""
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def float_text(value: Any) -> str:
    out = float_out(value)
    return out if isinstance(out, str) else repr(out)


_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def parse_float_text(text: str) -> float:
    special = _FLOAT_WORDS.get(text)
    if special is not None:
        return special
    try:
        return float(text)
    except ValueError as exc:
        raise Malformed(f"Invalid number {text!r}", "a number") from exc


def parse_int_text(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise Malformed(f"Invalid integer {text!r}", "an integer") from exc


def parse_bool_text(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise Malformed(f"Invalid boolean {text!r}", "a boolean")


def text_of(value: Any) -> str:
    """A service's string-ish value as text (enums give their value)."""
    if type(value) is str:
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- XML text

_XML_SPECIAL = re.compile(r"[&<>\"\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_REPLACE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#xD;"}


def _xml_sub(match: re.Match[str]) -> str:
    # Characters XML 1.0 cannot carry at all become U+FFFD.
    return _XML_REPLACE.get(match.group(), "\ufffd")


def xml_escape(text: str) -> str:
    if _XML_SPECIAL.search(text) is None:
        return text
    return _XML_SPECIAL.sub(_xml_sub, text)


# --------------------------------------------------------------------------- forms


def decode_form(text: str, strict: bool = True) -> list[tuple[str, str]]:
    """``a=1&b=x%20y`` -> pairs, percent- and plus-decoded as UTF-8.

    Only parts that need decoding are decoded (most do not). With `strict`,
    bytes that are not UTF-8 raise `Malformed`; otherwise they become U+FFFD.
    """
    errors = "strict" if strict else "replace"
    out: list[tuple[str, str]] = []
    try:
        for part in text.split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            if "%" in key or "+" in key:
                key = unquote_plus(key, errors=errors)
            if "%" in value or "+" in value:
                value = unquote_plus(value, errors=errors)
            out.append((key, value))
    except UnicodeDecodeError as exc:
        raise Malformed("The query string is malformed") from exc
    return out
