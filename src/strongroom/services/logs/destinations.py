"""Destinations (PutDestination): the receiving end of cross-account
subscriptions, a Kinesis Data Streams or Firehose stream behind a role
CloudWatch Logs assumes, with an access policy naming the accounts that may
subscribe to it. The control plane only: Kinesis and Firehose are not
served here, so a destination's target is checked for its form, never
written to, and a subscription filter cannot name a destination
(`subscriptions.require_lambda_destination`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.auth.policy import MalformedPolicy, parse_policy
from strongroom.encoding import json_value
from strongroom.services.logs.service import errors
from strongroom.services.logs.tables import destinations

_TARGET = re.compile(
    r"arn:aws:(kinesis:[^:]+:\d{12}:stream/.+|firehose:[^:]+:\d{12}:deliverystream/.+)\Z"
)
_ROLE = re.compile(r"arn:aws:iam::\d{12}:role/.+\Z")
NOT_FOUND = "The specified destination does not exist."


def destination_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:destination:{name}"


@dataclass(slots=True)
class Destination:
    account: str
    region: str
    name: str
    target_arn: str
    role_arn: str
    access_policy: str | None
    created: int
    tags: list[list[str]]

    @property
    def arn(self) -> str:
        return destination_arn(self.account, self.region, self.name)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "destinationName": self.name,
            "targetArn": self.target_arn,
            "roleArn": self.role_arn,
            "arn": self.arn,
            "creationTime": self.created,
        }
        if self.access_policy is not None:
            out["accessPolicy"] = self.access_policy
        return out


_FIELDS = tuple(Destination.__dataclass_fields__)  # type: ignore[attr-defined]
_COLUMNS = [destinations.c[f] for f in _FIELDS]


def require_target(target_arn: str, role_arn: str) -> None:
    if not _TARGET.match(target_arn):
        raise errors.InvalidParameterException(
            f"Invalid targetArn: {target_arn}. A destination delivers to a Kinesis Data "
            "Streams or Firehose stream."
        )
    if not _ROLE.match(role_arn):
        raise errors.InvalidParameterException(f"Invalid roleArn: {role_arn}")


#: An access policy is at most 5,120 bytes (AWS's quota).
MAX_POLICY_BYTES = 5120


def require_policy(text: str) -> None:
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.InvalidParameterException(
            f"The access policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )
    try:
        doc = json_value(text)
    except ValueError:
        raise errors.InvalidParameterException("The access policy is not valid JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if (
        not isinstance(statements, list)
        or not statements
        or not all(
            isinstance(st, dict) and st.get("Effect") in ("Allow", "Deny") for st in statements
        )
    ):
        raise errors.InvalidParameterException(
            "The access policy needs a Statement whose every entry has an Effect."
        )
    try:
        parse_policy(text, "resource")
    except MalformedPolicy as err:
        raise errors.InvalidParameterException(f"Invalid access policy: {err.message}") from None


def _where(account: str, region: str, name: str) -> tuple[Any, ...]:
    return (
        destinations.c.account == account,
        destinations.c.region == region,
        destinations.c.name == name,
    )


def find(conn: Connection, account: str, region: str, name: str) -> Destination | None:
    row = conn.execute(select(*_COLUMNS).where(*_where(account, region, name))).first()
    return Destination(*row) if row is not None else None


def save(conn: Connection, d: Destination, *, new: bool) -> None:
    values = {f: getattr(d, f) for f in _FIELDS}
    if new:
        conn.execute(insert(destinations).values(**values))
    else:
        conn.execute(
            update(destinations).where(*_where(d.account, d.region, d.name)).values(**values)
        )


def remove(conn: Connection, d: Destination) -> None:
    conn.execute(delete(destinations).where(*_where(d.account, d.region, d.name)))


def listed(conn: Connection, account: str, region: str, prefix: str | None) -> list[Destination]:
    q = select(*_COLUMNS).where(destinations.c.account == account, destinations.c.region == region)
    if prefix:
        q = q.where(destinations.c.name.startswith(prefix, autoescape=True))
    return [Destination(*r) for r in conn.execute(q.order_by(destinations.c.name))]
