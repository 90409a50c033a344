"""Stored audit events and the CloudTrail records they render to.

A CloudTrail record is about 900 bytes of JSON, and most of it repeats: the
caller's userIdentity, the constants (eventVersion, eventType...) and the
fields that already have columns (eventTime, eventName, eventID...). Every
request writes one, so a row holds only what is its own:

* the columns `recorder._COLUMNS` names (LookupEvents filters on them);
* ``resources``: the record's ``resources`` list, as CloudTrail writes it;
* ``record``: a slim JSON object of the rest — ``"i"`` (the reference of the
  userIdentity, stored once in ``audit_identities``), sourceIPAddress,
  userAgent, errorCode/errorMessage, requestParameters, responseElements,
  additionalEventData, requestID.

`render` puts the full record back together, in CloudTrail's field order.
Rows written before schema version 2 hold the full record in ``record`` and
the LookupEvents form of the resources; both are read as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from strongroom.audit.tables import identities

EVENT_VERSION = "1.09"

_last_iso: tuple[int, str] = (-1, "")


def iso_seconds(ts: float) -> str:
    """ISO 8601 to the second, as CloudTrail writes eventTime (cached per second)."""
    global _last_iso
    second = int(ts)
    if _last_iso[0] != second:
        _last_iso = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_iso[1]


def identity_ref(identity_json: bytes) -> str:
    """The key a userIdentity is stored under: a digest of its JSON."""
    return hashlib.blake2b(identity_json, digest_size=16).hexdigest()


def load_identities(conn: Connection, refs: Iterable[str]) -> dict[str, Any]:
    """ref -> userIdentity for the references `refs`."""
    wanted = sorted(set(refs))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):  # bound the IN list
        chunk = wanted[start : start + 500]
        for ref, text in conn.execute(
            select(identities.c.ref, identities.c.identity).where(identities.c.ref.in_(chunk))
        ):
            found[ref] = orjson.loads(text)
    return found


def render(row: Any, fields: dict[str, Any], identity_of: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record of a stored event.

    `row` has the event's columns; `fields` is its parsed ``record``."""
    if "eventVersion" in fields:  # written before schema version 2: already whole
        return fields
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity_of.get(fields.get("i", ""), {"type": "Unknown"}),
        "eventTime": iso_seconds(row.event_time),
        "eventSource": row.event_source,
        "eventName": row.event_name,
        "awsRegion": row.region,
        "sourceIPAddress": fields.get("sourceIPAddress"),
        "userAgent": fields.get("userAgent"),
    }
    if "errorCode" in fields:
        record["errorCode"] = fields["errorCode"]
        record["errorMessage"] = fields.get("errorMessage", "")
    record["requestParameters"] = fields.get("requestParameters")
    record["responseElements"] = fields.get("responseElements")
    if "additionalEventData" in fields:
        record["additionalEventData"] = fields["additionalEventData"]
    record["requestID"] = fields.get("requestID")
    record["eventID"] = row.event_id
    record["readOnly"] = bool(row.read_only)
    if row.resources:
        record["resources"] = orjson.loads(row.resources)
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = bool(row.management)
    record["recipientAccountId"] = row.account
    record["eventCategory"] = "Management" if row.management else "Data"
    return record


def render_rows(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """The CloudTrail records of stored event rows (see `render`), in order."""
    parsed = [orjson.loads(row.record) for row in rows]
    identity_of = load_identities(conn, (f["i"] for f in parsed if "i" in f))
    return [render(row, f, identity_of) for row, f in zip(rows, parsed, strict=True)]


def lookup_resources(resources_text: str | None) -> list[dict[str, Any]]:
    """A stored event's resources as LookupEvents lists them."""
    if not resources_text:
        return []
    out = []
    for r in orjson.loads(resources_text):
        if "ResourceName" in r or "ResourceType" in r:  # written before schema version 2
            out.append(r)
        else:
            out.append({"ResourceType": r.get("type"), "ResourceName": r.get("ARN")})
    return out
