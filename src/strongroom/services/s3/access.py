"""Who may do what to a bucket or an object: the caller's identity policies
and the bucket's policy, through the authorizer, with S3's resources
(bucket ARN for bucket operations, object ARN for object ones) and its
condition keys. A bucket of another account is reachable only where its
policy lets the caller in and the caller's own policies allow it."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import json_value
from strongroom.framework import Call
from strongroom.services.s3 import names, public_access
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.policies import is_public

BUCKET_TYPE = "AWS::S3::Bucket"
OBJECT_TYPE = "AWS::S3::Object"


def authorize(
    call: Call,
    action: str,
    bucket: Bucket,
    key: str | None = None,
    context: dict[str, Any] | None = None,
) -> None:
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
    call.authorize(action, arn, ctx, resource_policy=policy, resource_account=bucket.account)
    call.audit_resource(names.bucket_arn(bucket.name), BUCKET_TYPE, bucket.account)
    if key is not None:
        call.audit_resource(arn, OBJECT_TYPE, bucket.account)


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
