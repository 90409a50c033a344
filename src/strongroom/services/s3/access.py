"""Who may do what to a bucket or an object: the caller's identity policies,
the bucket's policy and the ACL that governs the action (the bucket's, or
the object version's), through the authorizer, with S3's resources (bucket
ARN for bucket operations, object ARN for object ones) and its condition
keys. A bucket of another account is reachable only where its policy or an
ACL grant lets the caller in and the caller's own policies allow it; an
explicit Deny anywhere wins. An unsigned request (the anonymous principal)
is allowed only by what the resource side grants everyone.

ACL grants become policy statements of the resource side (`acls.statements`)
and are read only when the policies alone deny, so a request they allow
reads no ACL."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import json_text, json_value
from strongroom.framework import Call
from strongroom.services.s3 import acls, names, objects, public_access
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.policies import is_public
from strongroom.services.s3.service import errors

BUCKET_TYPE = "AWS::S3::Bucket"
OBJECT_TYPE = "AWS::S3::Object"


def authorize(
    call: Call,
    action: str,
    bucket: Bucket,
    key: str | None = None,
    context: dict[str, Any] | None = None,
    version_id: str | None = None,
) -> None:
    """`version_id`: the object version an object action acts on (its ACL
    governs), None for the current one."""
    if call.principal.type == "Anonymous":
        # An unsigned request is the bucket owner's to see (its trail's).
        call.account = bucket.account
    arn = names.bucket_arn(bucket.name) if key is None else names.object_arn(bucket.name, key)
    ctx = {"s3:ResourceAccount": bucket.account, **(context or {})}
    policy = bucket.policy
    if (
        policy is not None
        and call.principal.account != bucket.account
        and not call.principal.is_service
        and public_access.blocks(call.conn, bucket, "RestrictPublicBuckets", call.store)
        and is_public(json_value(policy))
    ):
        # RestrictPublicBuckets (the bucket's or its account's): a public
        # policy lets in only the owner's account and AWS services.
        policy = None
    try:
        call.authorize(action, arn, ctx, resource_policy=policy, resource_account=bucket.account)
    except errors.AccessDenied:
        if call.principal.is_service or not acls.governs(action):
            raise  # a service's delivery is the bucket policy's alone
        granted = acls.statements(
            call.conn,
            bucket,
            action,
            call.principal.account,
            _object_grants(call, bucket, key, version_id) if acls.by_object_acl(action) else None,
            call.store,
        )
        if not granted:
            raise
        call.authorize(
            action,
            arn,
            ctx,
            resource_policy=_with(policy, granted),
            resource_account=bucket.account,
        )
    call.audit_resource(names.bucket_arn(bucket.name), BUCKET_TYPE, bucket.account)
    if key is not None:
        call.audit_resource(arn, OBJECT_TYPE, bucket.account)


def _object_grants(
    call: Call, bucket: Bucket, key: str | None, version_id: str | None
) -> tuple[str, list[dict[str, Any]] | None] | None:
    """(owner, stored grants) of the object version `key` names, or None."""
    if key is None:
        return None
    obj = (
        objects.get(call.conn, bucket.name, key)
        if version_id is None
        else objects.get_version(call.conn, bucket.name, key, version_id)
    )
    if obj is None or obj.delete_marker:
        return None
    return obj.owner or bucket.account, obj.headers.get(acls.OBJECT_ACL)


def _with(policy: str | None, granted: list[dict[str, Any]]) -> str:
    """The bucket policy with the ACL's statements beside its own."""
    document = json_value(policy) if policy is not None else {"Version": "2012-10-17"}
    own = document.get("Statement") or []
    own = own if isinstance(own, list) else [own]
    return json_text({**document, "Statement": [*own, *granted]})


def put_context(sse: str | None, kms_key: str | None, acl: str | None = None) -> dict[str, Any]:
    """s3:x-amz-server-side-encryption[-aws-kms-key-id] and s3:x-amz-acl."""
    ctx: dict[str, Any] = {}
    if sse:
        ctx["s3:x-amz-server-side-encryption"] = sse
    if kms_key:
        ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = kms_key
    if acl:
        ctx["s3:x-amz-acl"] = acl
    return ctx
