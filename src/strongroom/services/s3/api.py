"""S3 for the other services of this server (CloudTrail, CloudWatch Logs,
Redshift): delivering objects into a customer's bucket as their service
principal, authorized by the bucket policy exactly as AWS authorizes those
deliveries.

    from strongroom.services.s3 import api as s3

    s3.authorize_delivery(call, "cloudtrail.amazonaws.com", "audit-archive",
                          "AWSLogs/000000000000/CloudTrail/...json.gz",
                          source_arn=trail_arn, source_account=account)
    s3.deliver(run, "cloudtrail.amazonaws.com", bucket, key, body,  # a Call or a JobRun
               metadata={"signature": ...}, kms_key_id=key_arn,
               encryption_context={"aws:cloudtrail:arn": trail_arn}, source_arn=trail_arn)

A service principal has no identity policies: the bucket policy alone must
allow it (``Principal: {"Service": ...}``), its conditions
(``aws:SourceArn``, ``aws:SourceAccount``, ``s3:x-amz-acl``) evaluated with
the context the delivering service gives. A refusal raises S3's
AccessDenied.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from strongroom.auth.principal import service_principal
from strongroom.framework import Call, ChildCall, JobRun, acting_as
from strongroom.services.s3 import (
    access,
    buckets,
    crypto,
    names,
    notifications,
    objects,
    public_access,
)
from strongroom.services.s3.objects import Obj
from strongroom.services.s3.service import service


def _as_service(call: Call, principal: str) -> Call:
    return replace(
        call,
        service=service,
        principal=service_principal(principal),
        via=(*call.via, principal),
        audit_resources=[],
        children=[],
        authorized=False,
    )


def _record_put(
    call: Call,
    principal: str,
    row: buckets.Bucket,
    key: str,
    obj: Obj,
    version: str | None,
    content_type: str,
    content_encoding: str | None,
) -> None:
    """The delivery is S3's PutObject by the delivering service: as on AWS,
    a data event (``invokedBy`` the service, the object and bucket as its
    resources), recorded as the caller's child once its transaction commits,
    and only when a logging trail selects it, as any data event. CloudTrail
    suppresses its own (``RecursiveLogging`` false) when it delivers."""
    put = _as_service(call, principal)
    put.operation = "PutObject"
    put.source_ip = put.user_agent = principal
    put.audit_resource(names.bucket_arn(row.name), access.BUCKET_TYPE, row.account)
    put.audit_resource(f"{names.bucket_arn(row.name)}/{key}", access.OBJECT_TYPE, row.account)
    params: dict[str, Any] = {
        "Bucket": row.name,
        "Key": key,
        "ACL": "bucket-owner-full-control",
        "ContentType": content_type,
    }
    if content_encoding:
        params["ContentEncoding"] = content_encoding
    result: dict[str, Any] = {"ETag": obj.etag, **obj.sse_members(), "Size": obj.size}
    if row.versioning:
        result["VersionId"] = version
    call.children.append(ChildCall(put, params, result))


def authorize_delivery(
    call: Call,
    principal: str,
    bucket: str,
    key: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
    acl: str | None = "bucket-owner-full-control",
    action: str = "s3:PutObject",
) -> None:
    """Raise AccessDenied (NoSuchBucket) unless `bucket`'s policy lets the
    service `principal` put `key` (or check the bucket's ACL:
    ``action="s3:GetBucketAcl"``, with no key)."""
    row = buckets.require(call.conn, bucket)
    acting = _as_service(call, principal)
    context: dict[str, Any] = {}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if source_account:
        context["aws:SourceAccount"] = source_account
    if acl and action == "s3:PutObject":
        context["s3:x-amz-acl"] = acl
    access.authorize(acting, action, row, key if action == "s3:PutObject" else None, context)
    call.allowed_by("the bucket policy allowed the delivering service")


def deliver(
    ctx: Call | JobRun,
    principal: str,
    bucket: str,
    key: str,
    body: bytes,
    *,
    content_type: str = "application/octet-stream",
    content_encoding: str | None = None,
    metadata: dict[str, str] | None = None,
    kms_key_id: str | None = None,
    encryption_context: dict[str, str] | None = None,
    source_arn: str | None = None,
    source_account: str | None = None,
    account: str | None = None,
    region: str | None = None,
) -> str:
    """Authorize as `authorize_delivery`, then write the object; returns its
    ETag.

    `ctx` is a request's `Call` or a job's `JobRun` (CloudTrail's delivery):
    a job acts as the service `principal` in `account`/`region` (default: the
    bucket's), with `aws:SourceArn` `source_arn`. `metadata` becomes the
    object's user metadata (``x-amz-meta-*``). With `kms_key_id` the object
    is SSE-KMS under that key (else as the bucket's default says); the data
    key comes from KMS's GenerateDataKey for the delivering service, with the
    encryption context ``aws:s3:arn`` plus `encryption_context`, authorized
    by the key policy for that service and recorded with ``invokedBy`` it."""
    row = buckets.require(ctx.conn, bucket)
    if isinstance(ctx, JobRun):
        call = acting_as(
            ctx,
            ctx.service,
            principal,
            account=account or row.account,
            region=region or row.region,
            operation="PutObject",
            source_arn=source_arn,
            source_account=source_account,
        )
    else:
        call = ctx
    authorize_delivery(
        call, principal, bucket, key, source_arn=source_arn, source_account=source_account
    )
    if kms_key_id:
        enc = crypto.Encryption(crypto.KMS, kms_key_id, False, True)
    else:
        enc = crypto.choose(row, None, None, None)
    dk = crypto.new_key(call, row, f"{bucket}/{key}", enc, encryption_context)
    written = objects.write_body(call, dk.plaintext, body, {}, None)
    now = call.clock.timestamp()
    headers = {"ContentType": content_type}
    if content_encoding:
        headers["ContentEncoding"] = content_encoding
    if encryption_context and dk.kms_key_arn and dk.bucket_key is None:
        headers[crypto.CONTEXT_HEADER] = dict(encryption_context)
    obj = Obj(
        bucket=bucket,
        key=key,
        size=written.size,
        etag=objects.etag_of(written.md5),
        last_modified=now,
        blob=written.blob,
        data_key=dk.wrapped,
        sse=dk.sse,
        kms_key_arn=dk.kms_key_arn,
        bucket_key=dk.bucket_key,
        headers=headers,
        metadata=dict(metadata or {}),
        tags={},
        checksum={},
        storage_class="STANDARD",
        parts=None,
        owner=row.account,
    )
    version = objects.store(call.conn, obj, now, row.versioning)
    _record_put(call, principal, row, key, obj, version, content_type, content_encoding)
    # Queued as S3's background work, on the caller's transaction.
    as_s3 = replace(call, service=service, children=[], audit_resources=[])
    notifications.emit(
        as_s3, row, "s3:ObjectCreated:Put", key, size=obj.size, etag=obj.etag, version_id=version
    )
    call.handed_off = call.handed_off or as_s3.handed_off
    ctx.handed_off = ctx.handed_off or call.handed_off  # the job wakes the runner
    return obj.etag


def account_public_access_block(call: Call, account: str) -> dict[str, bool] | None:
    """The account-level Block Public Access settings (S3 Control's
    GetPublicAccessBlock), or None when the account has none."""
    return public_access.account_block(call.conn, account)


def put_account_public_access_block(call: Call, account: str, config: dict[str, bool]) -> None:
    """Set the account-level settings, combined from now on with every
    bucket's own (a setting on at either level is on)."""
    public_access.put_account_block(call.conn, account, config)


def delete_account_public_access_block(call: Call, account: str) -> None:
    public_access.delete_account_block(call.conn, account)


__all__ = [
    "account_public_access_block",
    "authorize_delivery",
    "delete_account_public_access_block",
    "deliver",
    "names",
    "put_account_public_access_block",
]
