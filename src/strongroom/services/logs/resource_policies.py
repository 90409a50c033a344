"""CloudWatch Logs resource policies: the domain layer, and the document
the authorizer applies to a log group.

AWS's rules: at most 10 account-scoped policies an account and Region
(LimitExceededException "Resource limit exceeded."), a document at most
5,120 characters of JSON with a Statement; a policy is replaced by a Put
of its name. A policy scoped to one log group (``resourceArn``, policyScope
RESOURCE) is the group's own, one a group. Every request on a log group
(`groups.resolve`) is decided with the statements of the owner's
account-scoped policies and of the group's own together, as one resource
policy: so a service principal (which has no identity policy: only a
resource policy can let it in) or another account (whose principals need
their own account's identity policy too, as across accounts anywhere) may
act on a group a policy names, and an explicit Deny there refuses anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from strongroom.auth.policy import MalformedPolicy, parse_policy
from strongroom.encoding import json_text, json_value
from strongroom.framework import Call
from strongroom.ids import uuid4
from strongroom.services.logs.service import errors
from strongroom.services.logs.tables import resource_policies
from strongroom.store.db import HotTables, Prepared

MAX_POLICIES = 10
MAX_DOCUMENT = 5120
#: A group's own policy is stored under its ARN, behind this mark (no
#: account-scoped policy's name starts with it: a name that does is refused).
_RESOURCE_MARK = "@resource@"


@dataclass(slots=True)
class ResourcePolicy:
    account: str
    region: str
    name: str
    document: str
    updated: int
    revision: str

    @property
    def resource_arn(self) -> str | None:
        return (
            self.name.removeprefix(_RESOURCE_MARK) if self.name.startswith(_RESOURCE_MARK) else None
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policyDocument": self.document,
            "lastUpdatedTime": self.updated,
            "revisionId": self.revision,
        }
        if self.resource_arn is not None:
            out["policyScope"] = "RESOURCE"
            out["resourceArn"] = self.resource_arn
        else:
            out["policyName"] = self.name
            out["policyScope"] = "ACCOUNT"
        return out


_FIELDS = tuple(ResourcePolicy.__dataclass_fields__)  # type: ignore[attr-defined]
_COLUMNS = [resource_policies.c[f] for f in _FIELDS]


def key_of(name: str | None, resource_arn: str | None) -> str:
    """The stored name of a policy: its name, or its group's ARN, marked."""
    if resource_arn is not None:
        return _RESOURCE_MARK + resource_arn.removesuffix(":*")
    if not name:
        raise errors.InvalidParameterException("policyName is required.")
    if name.startswith(_RESOURCE_MARK):
        raise errors.InvalidParameterException(f"Invalid policy name: {name!r}")
    return name


def require_document(text: str) -> None:
    if len(text) > MAX_DOCUMENT:
        raise errors.InvalidParameterException(
            f"Policy document exceeds the maximum length of {MAX_DOCUMENT} characters."
        )
    try:
        doc = json_value(text)
    except ValueError:
        raise errors.InvalidParameterException("The policy document is not valid JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise errors.InvalidParameterException("The policy document must contain a Statement.")
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise errors.InvalidParameterException(
                "Each statement of the policy document needs an Effect of Allow or Deny."
            )
        if "Principal" not in st and "NotPrincipal" not in st:
            raise errors.InvalidParameterException(
                "Each statement of a resource policy needs a Principal."
            )
        if "Action" not in st and "NotAction" not in st:
            raise errors.InvalidParameterException("Each statement needs an Action.")
    _require_parses(text)


def _require_parses(text: str) -> None:
    """What the authorizer will read of it must parse (a document it
    cannot read would fail every request on the account's groups)."""
    try:
        parse_policy(text, "resource")
    except MalformedPolicy as err:
        raise errors.InvalidParameterException(f"Invalid policy document: {err.message}") from None


def find(conn: Connection, account: str, region: str, key: str) -> ResourcePolicy | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            resource_policies.c.account == account,
            resource_policies.c.region == region,
            resource_policies.c.name == key,
        )
    ).first()
    return ResourcePolicy(*row) if row is not None else None


def account_count(conn: Connection, account: str, region: str) -> int:
    return conn.execute(
        select(func.count()).where(
            resource_policies.c.account == account,
            resource_policies.c.region == region,
            ~resource_policies.c.name.startswith(_RESOURCE_MARK),
        )
    ).scalar_one()


def listed(
    conn: Connection, account: str, region: str, *, resource_arn: str | None, scope: str | None
) -> list[ResourcePolicy]:
    q = select(*_COLUMNS).where(
        resource_policies.c.account == account, resource_policies.c.region == region
    )
    if resource_arn is not None:
        q = q.where(resource_policies.c.name == key_of(None, resource_arn))
    elif scope == "RESOURCE":
        q = q.where(resource_policies.c.name.startswith(_RESOURCE_MARK))
    else:
        q = q.where(~resource_policies.c.name.startswith(_RESOURCE_MARK))
    return [ResourcePolicy(*r) for r in conn.execute(q.order_by(resource_policies.c.name))]


def put(call: Call, key: str, document: str, existing: ResourcePolicy | None) -> ResourcePolicy:
    now = int(call.clock.timestamp() * 1000)
    policy = ResourcePolicy(call.account, call.region, key, document, now, uuid4())
    values = {f: getattr(policy, f) for f in _FIELDS}
    if existing is None:
        call.conn.execute(insert(resource_policies).values(**values))
    else:
        call.conn.execute(
            update(resource_policies)
            .where(
                resource_policies.c.account == policy.account,
                resource_policies.c.region == policy.region,
                resource_policies.c.name == key,
            )
            .values(document=document, updated=now, revision=policy.revision)
        )
    return policy


def remove(conn: Connection, policy: ResourcePolicy) -> None:
    conn.execute(
        delete(resource_policies).where(
            resource_policies.c.account == policy.account,
            resource_policies.c.region == policy.region,
            resource_policies.c.name == policy.name,
        )
    )


# --------------------------------------------------------------------------- authorization

#: The documents that apply to one group: the account's and the group's own.
_APPLYING = Prepared(
    select(resource_policies.c.document).where(
        resource_policies.c.account == bindparam("account"),
        resource_policies.c.region == bindparam("region"),
        (~resource_policies.c.name.startswith(_RESOURCE_MARK))
        | (resource_policies.c.name == bindparam("own")),
    )
)


#: The look-up below is kept across commits that leave the policies alone.
_POLICY_TABLES = HotTables(resource_policies)


def effective(call: Call, account: str, region: str, group_arn: str) -> str | None:
    """The one resource policy a request on the group is decided with (the
    statements of every policy that applies), or None when there is none.
    Kept in the store's hot cache: every request on a group asks."""
    cache_key = ("logs-resource-policy", account, region, group_arn)
    store = call.store
    cached = store.hot_get(cache_key, _POLICY_TABLES)
    if cached is not None:
        return cached or None
    docs = [row[0] for row in _APPLYING.all(call.conn, account=account, region=region,
                                             own=_RESOURCE_MARK + group_arn)]  # fmt: skip
    text = ""
    if docs:
        statements: list[Any] = []
        for doc in docs:
            found = json_value(doc).get("Statement")
            statements.extend(found if isinstance(found, list) else [found])
        text = json_text({"Version": "2012-10-17", "Statement": statements})
    store.hot_put(cache_key, text, _POLICY_TABLES)
    return text or None


def remove_for_group(conn: Connection, account: str, region: str, group_arn: str) -> None:
    """A deleted group's own policy goes with it."""
    conn.execute(
        delete(resource_policies).where(
            resource_policies.c.account == account,
            resource_policies.c.region == region,
            resource_policies.c.name == key_of(None, group_arn),
        )
    )
