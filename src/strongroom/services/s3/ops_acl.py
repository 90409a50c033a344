"""ACLs and ownership controls as on a new AWS bucket: ObjectOwnership
BucketOwnerEnforced, ACLs disabled. Reading an ACL answers the owner's
FULL_CONTROL; setting one is accepted only when it grants nothing more
(``private``, ``bucket-owner-full-control``), else
AccessControlListNotSupported, as AWS answers then."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, buckets, names, objects
from strongroom.services.s3.service import errors, service

_ALLOWED_CANNED = (None, "private", "bucket-owner-full-control")
_GRANTS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP")


def _owner_acl(account: str) -> dict[str, Any]:
    owner = names.owner(account)
    return {
        "Owner": owner,
        "Grants": [
            {
                "Grantee": {"Type": "CanonicalUser", **owner},
                "Permission": "FULL_CONTROL",
            }
        ],
    }


def _require_owner_only(account: str, acl: str | None, policy: Any, params: dict) -> None:
    grants = [g for g in _GRANTS if params.get(g)]
    extra = []
    for grant in (policy or {}).get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        if grantee.get("ID") != names.canonical_id(account) or grant.get("Permission") != (
            "FULL_CONTROL"
        ):
            extra.append(grant)
    if acl not in _ALLOWED_CANNED or grants or extra:
        raise errors.AccessControlListNotSupported("The bucket does not allow ACLs")


@service.operation(authorize=False)
def get_bucket_acl(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketAcl", bucket)
    return _owner_acl(bucket.account)


@service.operation(authorize=False)
def put_bucket_acl(
    call: Call,
    Bucket: str,
    ACL: str | None = None,
    AccessControlPolicy: dict[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketAcl", bucket)
    _require_owner_only(bucket.account, ACL, AccessControlPolicy, params)
    return {}


@service.operation(authorize=False, data_event=True)
def get_object_acl(call: Call, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetObjectAcl", bucket, Key)
    objects.require(call.conn, Bucket, Key)
    return _owner_acl(bucket.account)


@service.operation(authorize=False, data_event=True)
def put_object_acl(
    call: Call,
    Bucket: str,
    Key: str,
    ACL: str | None = None,
    AccessControlPolicy: dict[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutObjectAcl", bucket, Key)
    objects.require(call.conn, Bucket, Key)
    _require_owner_only(bucket.account, ACL, AccessControlPolicy, params)
    return {}


@service.operation(authorize=False)
def get_bucket_ownership_controls(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketOwnershipControls", bucket)
    return {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}
