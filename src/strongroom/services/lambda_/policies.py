"""Function resource policies (AddPermission / RemovePermission / GetPolicy):
one document per function and qualifier, statements as AWS writes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from strongroom.arn import is_account_id
from strongroom.ids import uuid4
from strongroom.services.lambda_.names import Ref
from strongroom.services.lambda_.tables import policies

#: AWS's quota on a function's resource policy.
MAX_POLICY = 20 * 1024


def _key(ref: Ref) -> Any:
    return (
        (policies.c.account == ref.account)
        & (policies.c.region == ref.region)
        & (policies.c.name == ref.name)
        & (policies.c.qualifier == (ref.qualifier or ""))
    )


def row(conn: Any, ref: Ref) -> tuple[dict[str, Any], str] | None:
    found = conn.execute(
        select(policies.c.document, policies.c.revision_id).where(_key(ref))
    ).first()
    return None if found is None else (found[0], found[1])


def document(conn: Any, ref: Ref) -> dict[str, Any] | None:
    found = row(conn, ref)
    return None if found is None else found[0]


def principal_element(principal: str) -> Any:
    """How AWS writes AddPermission's Principal in the statement."""
    if principal == "*":
        return "*"
    if is_account_id(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def statement(
    sid: str,
    action: str,
    principal: str,
    resource: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
    org_id: str | None = None,
    event_source_token: str | None = None,
) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal_element(principal),
        "Action": action,
        "Resource": resource,
    }
    condition: dict[str, dict[str, str]] = {}
    if source_account is not None:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = source_account
    if org_id is not None:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = org_id
    if event_source_token is not None:
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = event_source_token
    if source_arn is not None:
        condition["ArnLike"] = {"AWS:SourceArn": source_arn}
    if condition:
        st["Condition"] = condition
    return st


def put(conn: Any, ref: Ref, doc: dict[str, Any], existed: bool) -> str:
    revision = uuid4()
    if existed:
        conn.execute(update(policies).where(_key(ref)).values(document=doc, revision_id=revision))
    else:
        conn.execute(
            insert(policies).values(
                account=ref.account,
                region=ref.region,
                name=ref.name,
                qualifier=ref.qualifier or "",
                document=doc,
                revision_id=revision,
            )
        )
    return revision


def drop(conn: Any, ref: Ref) -> None:
    conn.execute(delete(policies).where(_key(ref)))


def new_document() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": []}
