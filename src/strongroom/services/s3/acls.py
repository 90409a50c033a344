"""Object Ownership and ACLs, as AWS has them.

A new bucket is BucketOwnerEnforced: ACLs disabled, every object the bucket
owner's; an ACL that grants more than the owner's FULL_CONTROL is refused
(AccessControlListNotSupported) and reading one answers the owner's
FULL_CONTROL. With ObjectWriter or BucketOwnerPreferred (or no ownership
controls at all) ACLs are enabled: canned ACLs (``x-amz-acl``), grant
headers (``x-amz-grant-*``) and AccessControlPolicy documents are stored
and answered by GetBucketAcl / GetObjectAcl; an object another account
writes is that account's (ObjectWriter), or the bucket owner's when it
comes with bucket-owner-full-control (BucketOwnerPreferred). Block Public
Access's BlockPublicAcls refuses a public ACL (AllUsers,
AuthenticatedUsers) with AccessDenied.

ACL grants are evaluated for access (`statements`) as AWS does: a grant
is a resource-side allow beside the bucket policy, for the permission's
actions (`BUCKET_ACTIONS`, `OBJECT_ACTIONS`), to an account's canonical
user ID (a delegation to that account, whose IAM policies still decide for
its users), to AllUsers (anyone, unsigned requests too) or to
AuthenticatedUsers (any signed caller). IgnorePublicAcls leaves the
AllUsers and AuthenticatedUsers grants out; BucketOwnerEnforced all of them.

A bucket's settings live in ``s3_bucket_acls`` (no row: a new bucket's),
an object's grants among its stored headers (`OBJECT_ACL`, never answered
as a header), so they live and die with the version they belong to."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.services.s3 import names, public_access, tables
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors
from strongroom.store.db import Store

T = tables.bucket_acls
ENFORCED = "BucketOwnerEnforced"
PREFERRED = "BucketOwnerPreferred"
WRITER = "ObjectWriter"
#: Where an object's grants are kept among its stored headers.
OBJECT_ACL = "AccessControlList"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
_PUBLIC = (ALL_USERS, AUTHENTICATED_USERS)
_OWNER_ONLY = (None, "private", "bucket-owner-full-control")
_GRANT_HEADERS = {
    "GrantFullControl": "FULL_CONTROL",
    "GrantRead": "READ",
    "GrantReadACP": "READ_ACP",
    "GrantWrite": "WRITE",
    "GrantWriteACP": "WRITE_ACP",
}
_CANNED_BUCKET = {
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "log-delivery-write",
}
_CANNED_OBJECT = {
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)
_HEX64 = re.compile(r"[0-9a-f]{64}")


# -- stored settings --------------------------------------------------------------


def _row(conn: Connection, bucket: str) -> Any:
    return conn.execute(select(T.c.ownership, T.c.grants).where(T.c.bucket == bucket)).first()


def ownership(conn: Connection, bucket: str) -> str | None:
    """The bucket's ObjectOwnership; None when its controls were deleted."""
    row = _row(conn, bucket)
    return ENFORCED if row is None else row.ownership


def bucket_grants(conn: Connection, bucket: str) -> list[dict[str, Any]] | None:
    row = _row(conn, bucket)
    return None if row is None else row.grants


def _save(conn: Connection, bucket: str, **values: Any) -> None:
    if _row(conn, bucket) is None:
        conn.execute(insert(T).values(bucket=bucket, **{"ownership": ENFORCED, **values}))
    else:
        conn.execute(update(T).where(T.c.bucket == bucket).values(**values))


def set_ownership(conn: Connection, bucket: str, value: str | None) -> None:
    _save(conn, bucket, ownership=value)


def set_bucket_grants(conn: Connection, bucket: str, grants: list[dict[str, Any]] | None) -> None:
    _save(conn, bucket, grants=grants)


def remove(conn: Connection, bucket: str) -> None:
    """A deleted bucket's settings (its name may be taken again)."""
    conn.execute(delete(T).where(T.c.bucket == bucket))


def enabled(value: str | None) -> bool:
    return value != ENFORCED


# -- evaluation -------------------------------------------------------------------

#: The actions a bucket ACL's permission allows (S3 User Guide, "Access
#: control list (ACL) overview": mapping of ACL permissions to access policy
#: permissions). WRITE on the bucket covers creating and deleting its objects.
BUCKET_ACTIONS: dict[str, frozenset[str]] = {
    "READ": frozenset({"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}),
    "WRITE": frozenset({"s3:PutObject", "s3:DeleteObject"}),
    "READ_ACP": frozenset({"s3:GetBucketAcl"}),
    "WRITE_ACP": frozenset({"s3:PutBucketAcl"}),
}
#: The actions an object ACL's permission allows (WRITE means nothing on an object).
OBJECT_ACTIONS: dict[str, frozenset[str]] = {
    "READ": frozenset({"s3:GetObject", "s3:GetObjectVersion"}),
    "READ_ACP": frozenset({"s3:GetObjectAcl", "s3:GetObjectVersionAcl"}),
    "WRITE_ACP": frozenset({"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}),
}
for _table in (BUCKET_ACTIONS, OBJECT_ACTIONS):
    _table["FULL_CONTROL"] = frozenset().union(*_table.values())
_BY_BUCKET_ACL = frozenset().union(*BUCKET_ACTIONS.values())
_BY_OBJECT_ACL = frozenset().union(*OBJECT_ACTIONS.values())
#: aws:PrincipalType of an unsigned request: AuthenticatedUsers excludes it.
_SIGNED = {"StringNotEquals": {"aws:PrincipalType": "Anonymous"}}


def governs(action: str) -> bool:
    """Whether an ACL grant can allow `action` at all."""
    return action in _BY_BUCKET_ACL or action in _BY_OBJECT_ACL


def by_object_acl(action: str) -> bool:
    """Whether the object's ACL (not the bucket's) governs `action`."""
    return action in _BY_OBJECT_ACL


def statements(
    conn: Connection,
    bucket: Bucket,
    action: str,
    caller_account: str,
    obj_grants: tuple[str, list[dict[str, Any]] | None] | None = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """The policy statements the ACL that governs `action` amounts to for a
    caller of `caller_account` ("" when unsigned): Allow `action` on the
    requested resource (``"*"``: they are built for this one request) to
    the caller's account when a grant names its canonical ID, to ``"*"``
    for AllUsers, to any signed caller for AuthenticatedUsers.

    `obj_grants` is ``(owner, grants)`` of the object version an object
    action acts on (grants None: its owner's FULL_CONTROL), or None when
    there is none. Nothing when ACLs are disabled (BucketOwnerEnforced);
    no public grant under IgnorePublicAcls (the bucket's or its account's)."""
    if action in _BY_BUCKET_ACL:
        table = BUCKET_ACTIONS
    elif action in _BY_OBJECT_ACL and obj_grants is not None:
        table = OBJECT_ACTIONS
    else:
        return []
    row = _row(conn, bucket.name)
    if row is None or not enabled(row.ownership):
        return []
    if table is BUCKET_ACTIONS:
        grants = row.grants if row.grants is not None else [_user(bucket.account, "FULL_CONTROL")]
    else:
        owner, stored = obj_grants
        grants = stored if stored is not None else [_user(owner, "FULL_CONTROL")]
    grants = [g for g in grants if action in table.get(g.get("Permission"), ())]
    if is_public(grants) and public_access.blocks(conn, bucket, "IgnorePublicAcls", store):
        grants = [g for g in grants if (g.get("Grantee") or {}).get("URI") not in _PUBLIC]
    caller_id = names.canonical_id(caller_account) if caller_account else None
    ids = {(g.get("Grantee") or {}).get("ID") for g in grants}
    uris = {(g.get("Grantee") or {}).get("URI") for g in grants}
    out: list[dict[str, Any]] = []
    if caller_id is not None and caller_id in ids:
        out.append(_allow({"AWS": f"arn:aws:iam::{caller_account}:root"}, action))
    if ALL_USERS in uris:
        out.append(_allow("*", action))
    elif AUTHENTICATED_USERS in uris:
        out.append({**_allow("*", action), "Condition": _SIGNED})
    return out


def _allow(principal: Any, action: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": "*",
    }


# -- grants -----------------------------------------------------------------------


def _user(account: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "CanonicalUser", **names.owner(account)}, "Permission": permission}


def _group(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


def canned(acl: str, owner: str, bucket_owner: str) -> list[dict[str, Any]]:
    """The grants of a canned ACL set by `owner` (of the bucket or object)."""
    grants = [_user(owner, "FULL_CONTROL")]
    if acl in ("public-read", "public-read-write"):
        grants.append(_group(ALL_USERS, "READ"))
    if acl == "public-read-write":
        grants.append(_group(ALL_USERS, "WRITE"))
    if acl == "authenticated-read":
        grants.append(_group(AUTHENTICATED_USERS, "READ"))
    if acl == "log-delivery-write":
        grants += [_group(LOG_DELIVERY, "WRITE"), _group(LOG_DELIVERY, "READ_ACP")]
    if acl == "bucket-owner-read" and bucket_owner != owner:
        grants.append(_user(bucket_owner, "READ"))
    if acl == "bucket-owner-full-control" and bucket_owner != owner:
        grants.append(_user(bucket_owner, "FULL_CONTROL"))
    return grants


def _header_grants(params: dict[str, Any]) -> list[dict[str, Any]]:
    grants = []
    for member, permission in _GRANT_HEADERS.items():
        value = params.get(member)
        if not value:
            continue
        pos = 0
        while pos < len(value):
            m = _GRANTEE.match(value, pos)
            if m is None:
                raise errors.InvalidArgument(
                    "Argument format not recognized", ArgumentName=member, ArgumentValue=value
                )
            pos = m.end()
            kind, text = m.group(1).lower(), m.group(2)
            grants.append(_grantee(kind, text, permission, member))
    return grants


def _grantee(kind: str, text: str, permission: str, where: str) -> dict[str, Any]:
    if kind == "id":
        if not _HEX64.fullmatch(text):
            raise errors.InvalidArgument("Invalid id", ArgumentName="CanonicalUser/ID",
                                         ArgumentValue=text)  # fmt: skip
        return {"Grantee": {"Type": "CanonicalUser", "ID": text}, "Permission": permission}
    if kind == "uri":
        if text not in (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY):
            raise errors.InvalidArgument("Invalid group uri", ArgumentName="Group/URI",
                                         ArgumentValue=text)  # fmt: skip
        return _group(text, permission)
    raise errors.InvalidArgument(
        "Email address grantees are not supported", ArgumentName=where, ArgumentValue=text
    )


def _policy_grants(policy: dict[str, Any]) -> list[dict[str, Any]]:
    grants = []
    for grant in policy.get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        permission = grant.get("Permission")
        if permission is None:
            raise errors.MalformedACLError(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        kind = grantee.get("Type")
        if kind == "CanonicalUser" and grantee.get("ID"):
            grants.append(_grantee("id", grantee["ID"], permission, "AccessControlPolicy"))
        elif kind == "Group" and grantee.get("URI"):
            grants.append(_grantee("uri", grantee["URI"], permission, "AccessControlPolicy"))
        elif kind == "AmazonCustomerByEmail":
            _grantee("emailaddress", grantee.get("EmailAddress", ""), permission, "Grantee")
        else:
            raise errors.MalformedACLError(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
    return grants


def requested(
    acl: str | None,
    policy: dict[str, Any] | None,
    params: dict[str, Any],
    owner: str,
    bucket_owner: str,
    *,
    for_object: bool,
) -> list[dict[str, Any]] | None:
    """The grants a request asks for (canned ACL, grant headers or an
    AccessControlPolicy), or None when it asks for none."""
    headers = _header_grants(params)
    given = [x for x in (acl is not None, bool(headers), policy is not None) if x]
    if len(given) > 1:
        raise errors.InvalidRequest(
            "Specifying both Canned ACLs and Header Grants is not allowed"
            if policy is None
            else "This request does not support content"
        )
    if acl is not None:
        allowed = _CANNED_OBJECT if for_object else _CANNED_BUCKET
        if acl not in allowed:
            raise errors.InvalidArgument("", ArgumentName="x-amz-acl", ArgumentValue=acl)
        return canned(acl, owner, bucket_owner)
    if headers:
        return headers
    if policy is not None:
        return _policy_grants(policy)
    return None


def is_public(grants: list[dict[str, Any]] | None) -> bool:
    return any((g.get("Grantee") or {}).get("URI") in _PUBLIC for g in grants or [])


def owner_only(grants: list[dict[str, Any]] | None, owner: str) -> bool:
    """Whether `grants` give nothing beyond `owner`'s FULL_CONTROL."""
    own = names.canonical_id(owner)
    return all(
        (g.get("Grantee") or {}).get("ID") == own and g.get("Permission") == "FULL_CONTROL"
        for g in grants or []
    )


def require_allowed(
    conn: Connection,
    bucket: Bucket,
    acl: str | None,
    grants: list[dict[str, Any]] | None,
    value: str | None = None,
) -> None:
    """Refuse an ACL the bucket does not take: any but the owner's with
    ACLs disabled (AccessControlListNotSupported), a public one under
    BlockPublicAcls (AccessDenied)."""
    if grants is None:
        return
    ownership_value = ownership(conn, bucket.name) if value is None else value
    if not enabled(ownership_value):
        if acl not in _OWNER_ONLY or not owner_only(
            [g for g in grants if acl != "bucket-owner-full-control"], bucket.account
        ):
            raise errors.AccessControlListNotSupported("The bucket does not allow ACLs")
        return
    if is_public(grants) and public_access.blocks(conn, bucket, "BlockPublicAcls"):
        raise errors.AccessDenied("Access Denied")


def to_acl(owner: str, grants: list[dict[str, Any]] | None) -> dict[str, Any]:
    """GetBucketAcl / GetObjectAcl's answer: `grants`, or the owner's FULL_CONTROL."""
    shown = grants if grants is not None else [_user(owner, "FULL_CONTROL")]
    return {"Owner": names.owner(owner), "Grants": [dict(g) for g in shown]}


# -- new objects ----------------------------------------------------------------


def for_new_object(
    conn: Connection,
    bucket: Bucket,
    writer: str,
    acl: str | None,
    params: dict[str, Any],
) -> tuple[list[dict[str, Any]] | None, str]:
    """(the grants to keep with a new object, or None; its owner) for a
    write by account `writer` with the request's canned `acl` and grant
    headers in `params`."""
    if writer == bucket.account and acl in _OWNER_ONLY and not _header_grants(params):
        return None, bucket.account  # the common case: nothing to read
    value = ownership(conn, bucket.name)
    if not enabled(value):
        grants = requested(acl, None, params, bucket.account, bucket.account, for_object=True)
        require_allowed(conn, bucket, acl, grants, value)
        return None, bucket.account
    owner = writer
    if value == PREFERRED and acl == "bucket-owner-full-control":
        owner = bucket.account
    grants = requested(acl, None, params, owner, bucket.account, for_object=True)
    require_allowed(conn, bucket, acl, grants, value)
    return grants, owner
