"""The policy of a browser-based upload's form (S3 API Reference, "Creating
a POST policy"): a base64 JSON document with an ``expiration`` and a list
of ``conditions`` every field of the form must meet.

Conditions: ``{"field": "value"}`` and ``["eq", "$field", "value"]``
(exact match), ``["starts-with", "$field", "prefix"]`` (a Content-Type
holding several comma-separated types must have each start so), and
``["content-length-range", min, max]`` on the file's size. Field names
match case-insensitively; ``bucket`` is the request's bucket, ``key`` the
key after ``${filename}`` is put in. Each field of the form except
``x-amz-signature``, ``file``, ``policy`` and ``x-ignore-*`` ones must be
named by some condition, else the form is refused ("Extra input fields").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from strongroom.encoding import b64_bytes, json_text, json_value
from strongroom.services.s3.service import errors

_EXEMPT = frozenset({"x-amz-signature", "file", "policy", "awsaccesskeyid", "signature"})
_EXPIRATION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _invalid(message: str) -> Exception:
    return errors.InvalidPolicyDocument(f"Invalid Policy: {message}")


def _denied(message: str) -> Exception:
    return errors.AccessDenied(f"Invalid according to Policy: {message}")


def decode(text: str) -> dict[str, Any]:
    """The policy document of the form's ``policy`` field."""
    try:
        raw = b64_bytes(text.strip())
    except ValueError:
        raise _invalid("Invalid Base64 encoding.") from None
    try:
        doc = json_value(raw)
    except ValueError:
        raise _invalid("Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in doc:
        raise _invalid("Policy missing expiration.")
    if "conditions" not in doc:
        raise _invalid("Policy missing conditions.")
    if not isinstance(doc["conditions"], list):
        raise _invalid("Invalid conditions: must be an array.")
    return doc


def _expiration(value: Any) -> float:
    if not isinstance(value, str) or not _EXPIRATION.match(value):
        raise _invalid(f"Invalid 'expiration' value: '{value}'")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid(f"Invalid 'expiration' value: '{value}'") from None


def _shown(items: list[Any]) -> str:
    """A condition as S3 quotes it: ``["eq", "$key", "a"]``."""
    return "[" + ", ".join(json_text(item) for item in items) + "]"


def _size(value: Any, condition: list[Any]) -> int:
    if isinstance(value, bool):
        raise _invalid(f"Invalid content-length-range: {_shown(condition)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _invalid(f"Invalid content-length-range: {_shown(condition)}")


def check(
    doc: dict[str, Any],
    form_fields: dict[str, str],
    bucket: str,
    key: str,
    size: int,
    now: float,
) -> None:
    """Raise S3's error unless the form (`form_fields`, the file of `size`
    bytes) meets the policy `doc` at `now`."""
    if now > _expiration(doc["expiration"]):
        raise _denied("Policy expired.")
    values: dict[str, str] = {}
    for name, value in form_fields.items():
        values.setdefault(name.lower(), value)
    values["bucket"] = bucket
    values["key"] = key
    covered: set[str] = set()
    length_range: tuple[int, int] | None = None
    for condition in doc["conditions"]:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one "
                    "property specified."
                )
            ((name, expected),) = condition.items()
            if not isinstance(expected, str):
                raise _invalid("Invalid Simple-Condition: value must be a string.")
            field = name.lower()
            covered.add(field)
            if values.get(field) != expected:
                raise _denied(f"Policy Condition failed: {_shown(['eq', '$' + name, expected])}")
            continue
        if not isinstance(condition, list) or not condition:
            raise _invalid("Invalid Condition: conditions must be objects or arrays.")
        op = condition[0]
        if isinstance(op, str) and op.lower() == "content-length-range":
            if len(condition) != 3:
                raise _invalid(f"Invalid content-length-range: {_shown(condition)}")
            length_range = (_size(condition[1], condition), _size(condition[2], condition))
            continue
        if (
            len(condition) != 3
            or not isinstance(op, str)
            or op.lower() not in ("eq", "starts-with")
            or not isinstance(condition[1], str)
            or not isinstance(condition[2], str)
        ):
            raise _denied(f"Policy Condition failed: {_shown(condition)}")
        target = condition[1]
        if not target.startswith("$"):
            raise _denied(f"Policy Condition failed: {_shown(condition)}")
        field = target[1:].lower()
        covered.add(field)
        value = values.get(field)
        expected = condition[2]
        if op.lower() == "eq":
            ok = value == expected
        elif value is None:
            ok = False
        elif field == "content-type":
            ok = all(part.strip().startswith(expected) for part in value.split(","))
        else:
            ok = value.startswith(expected)
        if not ok:
            raise _denied(f"Policy Condition failed: {_shown(condition)}")
    extra = [
        name
        for name in form_fields
        if name.lower() not in _EXEMPT
        and not name.lower().startswith("x-ignore-")
        and name.lower() not in covered
    ]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    if length_range is not None:
        low, high = length_range
        if size > high:
            raise errors.EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=str(size),
                MaxSizeAllowed=str(high),
            )
        if size < low:
            raise errors.EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(size),
                MinSizeAllowed=str(low),
            )


def tags_of_xml(text: str) -> dict[str, str]:
    """The tags of a ``tagging`` form field (``<Tagging><TagSet><Tag>``)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        ) from None
    tags: dict[str, str] = {}
    for tag in root.iter():
        if tag.tag.rsplit("}", 1)[-1] != "Tag":
            continue
        key = value = None
        for child in tag:
            name = child.tag.rsplit("}", 1)[-1]
            if name == "Key":
                key = child.text or ""
            elif name == "Value":
                value = child.text or ""
        if key is not None:
            tags[key] = value or ""
    return tags
