"""ACLs and Object Ownership (`acls`): Put/Get/DeleteBucketOwnershipControls,
Get/PutBucketAcl, Get/PutObjectAcl. A new bucket is BucketOwnerEnforced
(ACLs disabled): reading an ACL answers the owner's FULL_CONTROL and setting
one is accepted only when it grants nothing more, else
AccessControlListNotSupported, as AWS answers then. With ACLs enabled the
ACLs set are stored and answered."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, acls, buckets, objects
from strongroom.services.s3.service import errors, service


@service.operation(authorize=False)
def get_bucket_acl(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketAcl", bucket)
    ownership = acls.ownership(call.conn, Bucket)
    grants = acls.bucket_grants(call.conn, Bucket) if acls.enabled(ownership) else None
    return acls.to_acl(bucket.account, grants)


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
    grants = acls.requested(
        ACL, AccessControlPolicy, params, bucket.account, bucket.account, for_object=False
    )
    if grants is None:
        raise errors.MissingSecurityHeader(
            "Your request was missing a required header", MissingHeaderName="x-amz-acl"
        )
    acls.require_allowed(call.conn, bucket, ACL, grants)
    if acls.enabled(acls.ownership(call.conn, Bucket)):
        acls.set_bucket_grants(call.conn, Bucket, grants)
    return {}


@service.operation(authorize=False, data_event=True)
def get_object_acl(
    call: Call, Bucket: str, Key: str, VersionId: str | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    action = "s3:GetObjectAcl" if VersionId is None else "s3:GetObjectVersionAcl"
    access.authorize(call, action, bucket, Key, version_id=VersionId)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    if not acls.enabled(acls.ownership(call.conn, Bucket)):
        return acls.to_acl(bucket.account, None)
    return acls.to_acl(obj.owner or bucket.account, obj.headers.get(acls.OBJECT_ACL))


@service.operation(authorize=False, data_event=True)
def put_object_acl(
    call: Call,
    Bucket: str,
    Key: str,
    ACL: str | None = None,
    AccessControlPolicy: dict[str, Any] | None = None,
    VersionId: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    action = "s3:PutObjectAcl" if VersionId is None else "s3:PutObjectVersionAcl"
    access.authorize(
        call, action, bucket, Key, access.put_context(None, None, ACL), version_id=VersionId
    )
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    owner = obj.owner or bucket.account
    grants = acls.requested(
        ACL, AccessControlPolicy, params, owner, bucket.account, for_object=True
    )
    if grants is None:
        raise errors.MissingSecurityHeader(
            "Your request was missing a required header", MissingHeaderName="x-amz-acl"
        )
    acls.require_allowed(call.conn, bucket, ACL, grants)
    if acls.enabled(acls.ownership(call.conn, Bucket)):
        objects.set_fields(call.conn, obj, headers={**obj.headers, acls.OBJECT_ACL: grants})
    out: dict[str, Any] = {}
    if obj.version_id != "null" and bucket.versioning:
        out["VersionId"] = obj.version_id
    return out


@service.operation(authorize=False)
def get_bucket_ownership_controls(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketOwnershipControls", bucket)
    ownership = acls.ownership(call.conn, Bucket)
    if ownership is None:
        raise errors.OwnershipControlsNotFoundError(
            "The bucket ownership controls were not found", BucketName=Bucket
        )
    return {"OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]}}


@service.operation(authorize=False)
def put_bucket_ownership_controls(
    call: Call, Bucket: str, OwnershipControls: dict[str, Any], **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketOwnershipControls", bucket)
    rules = OwnershipControls.get("Rules") or []
    if len(rules) != 1 or not rules[0].get("ObjectOwnership"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    value = rules[0]["ObjectOwnership"]
    if value not in (acls.ENFORCED, acls.PREFERRED, acls.WRITER):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    if value == acls.ENFORCED and not acls.owner_only(
        acls.bucket_grants(call.conn, Bucket), bucket.account
    ):
        raise errors.InvalidBucketAclWithObjectOwnership(
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        )
    acls.set_ownership(call.conn, Bucket, value)
    return {}


@service.operation(authorize=False)
def delete_bucket_ownership_controls(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    # AWS checks s3:PutBucketOwnershipControls for the delete too.
    access.authorize(call, "s3:PutBucketOwnershipControls", bucket)
    acls.set_ownership(call.conn, Bucket, None)
    return {}
