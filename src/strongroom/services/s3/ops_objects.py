"""Object operations: Put, Get, Head, Delete, DeleteObjects, Copy, the two
listings and object tags."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from strongroom.framework import Call
from strongroom.services.s3 import (
    access,
    acls,
    buckets,
    checksums,
    conditions,
    crypto,
    listing,
    locks,
    names,
    notifications,
    objects,
)
from strongroom.services.s3.objects import HEADER_MEMBERS, Obj
from strongroom.services.s3.service import MAX_OBJECT_BODY, errors, service
from strongroom.tokens import BadToken
from strongroom.tokens import decode as decode_token
from strongroom.tokens import encode as encode_token

#: The result key that answers with another HTTP status (206), read by the
#: REST codec (`protocol.rest.STATUS_OVERRIDE`).
STATUS = "__status__"
STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "GLACIER_IR",
        "OUTPOSTS",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)


def parse_tagging(text: str | None) -> dict[str, str]:
    """The ``x-amz-tagging`` header (URL query form)."""
    tags: dict[str, str] = {}
    if not text:
        return tags
    for pair in text.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        tags[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    if len(tags) > 10:
        raise errors.InvalidTag("Object tags cannot be greater than 10")
    return tags


def _headers_of(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for m in HEADER_MEMBERS:
        value = params.get(m)
        if value is not None:
            out[m] = value.timestamp() if hasattr(value, "timestamp") else value
    if "ContentEncoding" in out:
        # aws-chunked is how the body travelled, not what it is.
        kept = [e for e in out["ContentEncoding"].split(",") if e.strip() != "aws-chunked"]
        if kept:
            out["ContentEncoding"] = ",".join(kept)
        else:
            del out["ContentEncoding"]
    return out


def _storage_class(value: str | None) -> str:
    if value is None:
        return "STANDARD"
    if value not in STORAGE_CLASSES:
        raise errors.InvalidStorageClass("The storage class you specified is not valid")
    return value


@service.operation(
    authorize=False,
    data_event=True,
    max_body=MAX_OBJECT_BODY,
    streaming=True,
    prepare=objects.prepare_body,
)
def put_object(
    call: Call,
    Bucket: str,
    Key: str,
    Body: bytes | None = None,
    ServerSideEncryption: str | None = None,
    SSEKMSKeyId: str | None = None,
    BucketKeyEnabled: bool | None = None,
    Metadata: dict[str, str] | None = None,
    Tagging: str | None = None,
    StorageClass: str | None = None,
    ChecksumAlgorithm: str | None = None,
    IfMatch: str | None = None,
    IfNoneMatch: str | None = None,
    ACL: str | None = None,
    SSECustomerAlgorithm: str | None = None,
    ObjectLockMode: str | None = None,
    ObjectLockRetainUntilDate: Any = None,
    ObjectLockLegalHoldStatus: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket, call.store)
    names.validate_key(Key)
    enc = crypto.choose(bucket, ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled)
    access.authorize(
        call,
        "s3:PutObject",
        bucket,
        Key,
        access.put_context(ServerSideEncryption, SSEKMSKeyId, ACL),
    )
    if Tagging:
        access.authorize(call, "s3:PutObjectTagging", bucket, Key)
    customer = crypto.customer_key(
        SSECustomerAlgorithm, params.get("SSECustomerKey"), params.get("SSECustomerKeyMD5")
    )
    if customer is not None and (ServerSideEncryption or SSEKMSKeyId):
        raise errors.InvalidArgument(
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified"
        )
    grants, owner = acls.for_new_object(call.conn, bucket, call.account, ACL, params)
    tags = parse_tagging(Tagging)
    storage = _storage_class(StorageClass)
    if ObjectLockMode or ObjectLockRetainUntilDate:
        access.authorize(call, "s3:PutObjectRetention", bucket, Key)
    if ObjectLockLegalHoldStatus:
        access.authorize(call, "s3:PutObjectLegalHold", bucket, Key)
    lock = locks.for_new_version(
        bucket,
        ObjectLockMode,
        ObjectLockRetainUntilDate,
        ObjectLockLegalHoldStatus,
        call.clock.timestamp(),
    )
    current = objects.latest(call.conn, Bucket, Key)
    existing = None if current is None or current.delete_marker else current
    conditions.check_write(existing, Key, IfMatch, IfNoneMatch)
    if bucket.versioning != "Enabled" and existing is not None:
        locks.check_removal(call, bucket, existing, None)  # the null version is replaced
    dk = (
        crypto.customer_data_key(f"{Bucket}/{Key}", customer)
        if customer is not None
        else crypto.new_key(call, bucket, f"{Bucket}/{Key}", enc)
    )
    written = objects.write_body(call, dk.plaintext, Body, params, ChecksumAlgorithm)
    now = call.clock.timestamp()
    obj = Obj(
        bucket=Bucket,
        key=Key,
        size=written.size,
        etag=objects.etag_of(written.md5),
        last_modified=now,
        blob=written.blob,
        data_key=dk.wrapped,
        sse=dk.sse,
        kms_key_arn=dk.kms_key_arn,
        bucket_key=dk.bucket_key,
        headers=with_grants(_headers_of(params), grants),
        metadata=dict(Metadata or {}),
        tags=tags,
        checksum=written.checksum,
        storage_class=storage,
        parts=None,
        owner=owner,
        **lock,
        customer_key_md5=params.get("SSECustomerKeyMD5") if customer else None,
    )
    version = objects.store(call.conn, obj, now, bucket.versioning, current)
    notifications.emit(
        call, bucket, "s3:ObjectCreated:Put", Key, size=obj.size, etag=obj.etag, version_id=version
    )
    out = {
        "ETag": obj.etag,
        **checksums.members(written.checksum),
        **obj.sse_members(),
        "Size": written.size,
    }
    if bucket.versioning:
        out["VersionId"] = version
    return out


def with_grants(headers: dict[str, Any], grants: list[dict[str, Any]] | None) -> dict[str, Any]:
    """An object's stored headers with the ACL it was written with (`acls`)."""
    if grants is not None:
        headers[acls.OBJECT_ACL] = grants
    return headers


def _described(
    obj: Obj, checksum_mode: str | None, partial: bool, versioned: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": obj.last_modified,
        "ContentLength": obj.size,
        "ETag": obj.etag,
        **obj.headers,
        **obj.sse_members(),
    }
    if obj.metadata:
        out["Metadata"] = obj.metadata
    if obj.storage_class != "STANDARD":
        out["StorageClass"] = obj.storage_class
    if obj.parts:
        out["PartsCount"] = obj.parts
    if obj.tags:
        out["TagCount"] = len(obj.tags)
    if checksum_mode == "ENABLED" and not partial:
        out.update(checksums.members(obj.checksum))
    if "ContentType" not in out:
        out["ContentType"] = "binary/octet-stream"
    if versioned:
        out["VersionId"] = obj.version_id
    out.update(locks.members(obj))
    return out


def _read(
    call: Call,
    Bucket: str,
    Key: str,
    action: str,
    params: dict[str, Any],
) -> tuple[Any, Obj, bytes | None]:
    """The bucket, the version read and the SSE-C key the request carries."""
    bucket = buckets.require(call.conn, Bucket, call.store)
    version = params.get("VersionId")
    access.authorize(
        call, action if version is None else f"{action}Version", bucket, Key, version_id=version
    )
    obj = objects.require(call.conn, Bucket, Key, version, call.store)
    customer = crypto.customer_key(
        params.get("SSECustomerAlgorithm"),
        params.get("SSECustomerKey"),
        params.get("SSECustomerKeyMD5"),
    )
    if obj.sse == crypto.SSE_C:
        if customer is None:
            raise errors.InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct "
                "parameters must be provided to retrieve the object."
            )
        if params.get("SSECustomerKeyMD5") != obj.customer_key_md5:
            raise errors.AccessDenied("Access Denied")
    elif customer is not None:
        raise errors.InvalidRequest("The encryption parameters are not applicable to this object.")
    conditions.check_read(
        obj,
        params.get("IfMatch"),
        params.get("IfNoneMatch"),
        params.get("IfModifiedSince"),
        params.get("IfUnmodifiedSince"),
    )
    return bucket, obj, customer


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name in HEADER_MEMBERS:
        value = params.get(f"Response{name}")
        if value is not None:
            out[name] = value
    return out


@service.operation(authorize=False, data_event=True)
def get_object(call: Call, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
    bucket, obj, customer = _read(call, Bucket, Key, "s3:GetObject", params)
    span = conditions.byte_range(params.get("Range"), obj.size)
    part = params.get("PartNumber")
    if part is not None and span is None and (part != 1 or obj.parts):
        raise errors.InvalidPartNumber("The requested partnumber is not satisfiable")
    start, end = span if span is not None else (0, obj.size)
    body = objects.read_body(call, bucket, obj, start, end, customer)
    out = _described(obj, params.get("ChecksumMode"), span is not None, bool(bucket.versioning))
    out.update(_overrides(params))
    # Streamed to the client from the blob store, a chunk at a time.
    out["Body"] = body
    out["ContentLength"] = end - start
    if span is not None:
        out["ContentRange"] = f"bytes {start}-{end - 1}/{obj.size}"
        out[STATUS] = 206
    return out


@service.operation(authorize=False, data_event=True)
def head_object(call: Call, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
    bucket, obj, _customer = _read(call, Bucket, Key, "s3:GetObject", params)
    span = conditions.byte_range(params.get("Range"), obj.size)
    # Metadata only: no key is opened (an SSE-KMS object's disabled key fails GET, not HEAD).
    out = _described(obj, params.get("ChecksumMode"), span is not None, bool(bucket.versioning))
    out.update(_overrides(params))
    if span is not None:
        out["ContentLength"] = span[1] - span[0]
        out["ContentRange"] = f"bytes {span[0]}-{span[1] - 1}/{obj.size}"
        out[STATUS] = 206
    return out


@service.operation(authorize=False, data_event=True)
def delete_object(call: Call, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    version = params.get("VersionId")
    access.authorize(
        call, "s3:DeleteObject" if version is None else "s3:DeleteObjectVersion", bucket, Key
    )
    if params.get("IfMatch") is not None:
        conditions.check_write(objects.get(call.conn, Bucket, Key), Key, params["IfMatch"], None)
    if version is not None or bucket.versioning != "Enabled":
        target = (
            objects.get_version(call.conn, Bucket, Key, version)
            if version is not None
            else objects.get(call.conn, Bucket, Key)
        )
        locks.check_removal(call, bucket, target, params.get("BypassGovernanceRetention"))
    done = objects.remove(
        call.conn, Bucket, Key, call.clock.timestamp(), bucket.versioning, version
    )
    _notify_removed(call, bucket, Key, done)
    return done


def _notify_removed(call: Call, bucket: Any, key: str, done: dict[str, Any]) -> None:
    marker = done.get("DeleteMarker") and "VersionId" in done
    event = "s3:ObjectRemoved:DeleteMarkerCreated" if marker else "s3:ObjectRemoved:Delete"
    notifications.emit(call, bucket, event, key, version_id=done.get("VersionId"))


@service.operation(authorize=False, data_event=True)
def delete_objects(
    call: Call,
    Bucket: str,
    Delete: dict[str, Any],
    BypassGovernanceRetention: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    listed = Delete.get("Objects") or []
    if len(listed) > 1000:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    quiet = bool(Delete.get("Quiet"))
    deleted, failed = [], []
    now = call.clock.timestamp()
    for item in listed:
        key = item.get("Key", "")
        version = item.get("VersionId")
        action = "s3:DeleteObject" if version is None else "s3:DeleteObjectVersion"
        try:
            access.authorize(call, action, bucket, key)
            if version is not None or bucket.versioning != "Enabled":
                target = (
                    objects.get_version(call.conn, Bucket, key, version)
                    if version is not None
                    else objects.get(call.conn, Bucket, key)
                )
                locks.check_removal(call, bucket, target, BypassGovernanceRetention)
        except Exception as err:
            failed.append(
                {"Key": key, "Code": getattr(err, "code", "AccessDenied"), "Message": str(err)}
            )
            continue
        done = objects.remove(call.conn, Bucket, key, now, bucket.versioning, version)
        _notify_removed(call, bucket, key, done)
        if not quiet:
            entry: dict[str, Any] = {"Key": key}
            if version is not None:
                entry["VersionId"] = version
            if done.get("DeleteMarker"):
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = done["VersionId"]
            deleted.append(entry)
    if not listed:
        call.allowed_by("an empty delete list touches nothing")
    out: dict[str, Any] = {}
    if deleted:
        out["Deleted"] = deleted
    if failed:
        out["Errors"] = failed
    return out


def _copy_source(text: str) -> tuple[str, str, str | None]:
    source = unquote(text)
    source = source[1:] if source.startswith("/") else source
    source, _, query = source.partition("?versionId=")
    bucket, slash, key = source.partition("/")
    if not slash or not key:
        raise errors.InvalidArgument(
            "Invalid copy source object key", ArgumentName="x-amz-copy-source"
        )
    return bucket, key, query or None


@service.operation(authorize=False, data_event=True, blocking=True)
def copy_object(
    call: Call,
    Bucket: str,
    Key: str,
    CopySource: str,
    MetadataDirective: str | None = None,
    TaggingDirective: str | None = None,
    Metadata: dict[str, str] | None = None,
    Tagging: str | None = None,
    ServerSideEncryption: str | None = None,
    SSEKMSKeyId: str | None = None,
    BucketKeyEnabled: bool | None = None,
    StorageClass: str | None = None,
    ChecksumAlgorithm: str | None = None,
    ACL: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    source_bucket_name, source_key, version = _copy_source(CopySource)
    source_bucket = buckets.require(call.conn, source_bucket_name)
    access.authorize(
        call,
        "s3:GetObject" if version is None else "s3:GetObjectVersion",
        source_bucket,
        source_key,
        version_id=version,
    )
    bucket = buckets.require(call.conn, Bucket)
    names.validate_key(Key)
    enc = crypto.choose(bucket, ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled)
    access.authorize(
        call,
        "s3:PutObject",
        bucket,
        Key,
        access.put_context(ServerSideEncryption, SSEKMSKeyId, ACL),
    )
    grants, owner = acls.for_new_object(call.conn, bucket, call.account, ACL, params)
    source = objects.require(call.conn, source_bucket_name, source_key, version)
    conditions.check_read(
        source,
        params.get("CopySourceIfMatch"),
        params.get("CopySourceIfNoneMatch"),
        params.get("CopySourceIfModifiedSince"),
        params.get("CopySourceIfUnmodifiedSince"),
    )
    directive = MetadataDirective or "COPY"
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            f"Unknown metadata directive: {directive}", ArgumentName="x-amz-metadata-directive"
        )
    same = source_bucket_name == Bucket and source_key == Key
    if (
        same
        and directive == "COPY"
        and ServerSideEncryption is None
        and StorageClass is None
        and TaggingDirective is None
    ):
        raise errors.InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes."
        )
    if directive == "REPLACE":
        headers, metadata = _headers_of(params), dict(Metadata or {})
    else:
        headers, metadata = dict(source.headers), dict(source.metadata)
        headers.pop(crypto.CONTEXT_HEADER, None)  # the copy's data key has its own
    headers.pop(acls.OBJECT_ACL, None)  # a copy gets its own ACL, never the source's
    headers = with_grants(headers, grants)
    tags = parse_tagging(Tagging) if TaggingDirective == "REPLACE" else dict(source.tags)
    body = objects.read_body(call, source_bucket, source)
    dk = crypto.new_key(call, bucket, f"{Bucket}/{Key}", enc)
    algorithm = ChecksumAlgorithm or (source.checksum or {}).get("algorithm")
    if algorithm and source.checksum.get("type") == "COMPOSITE" and not ChecksumAlgorithm:
        algorithm = None
    written = objects.write_body(call, dk.plaintext, body, {}, algorithm)
    now = call.clock.timestamp()
    obj = Obj(
        bucket=Bucket,
        key=Key,
        size=written.size,
        etag=source.etag if source.parts is None else objects.etag_of(written.md5),
        last_modified=now,
        blob=written.blob,
        data_key=dk.wrapped,
        sse=dk.sse,
        kms_key_arn=dk.kms_key_arn,
        bucket_key=dk.bucket_key,
        headers=headers,
        metadata=metadata,
        tags=tags,
        checksum=written.checksum,
        storage_class=_storage_class(StorageClass) if StorageClass else source.storage_class,
        parts=None,
        owner=owner,
        **locks.for_new_version(
            bucket,
            params.get("ObjectLockMode"),
            params.get("ObjectLockRetainUntilDate"),
            params.get("ObjectLockLegalHoldStatus"),
            now,
        ),
    )
    new_version = objects.store(call.conn, obj, now, bucket.versioning)
    notifications.emit(
        call, bucket, "s3:ObjectCreated:Copy", Key, size=obj.size, etag=obj.etag,
        version_id=new_version,
    )  # fmt: skip
    result: dict[str, Any] = {"ETag": obj.etag, "LastModified": now}
    result.update(
        {k: v for k, v in checksums.members(written.checksum).items() if k != "ChecksumType"}
    )
    out: dict[str, Any] = {"CopyObjectResult": result, **dk.members()}
    if bucket.versioning:
        out["VersionId"] = new_version
    if source_bucket.versioning:
        out["CopySourceVersionId"] = source.version_id
    return out


# -- listings ---------------------------------------------------------------------


def _max_keys(value: int | None) -> int:
    if value is None:
        return 1000
    if value < 0:
        raise errors.InvalidArgument("Provided max-keys not an integer or within integer range")
    return min(value, 1000)


def _encoding(value: str | None) -> bool:
    if value is None:
        return False
    if value != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request", ArgumentName="encoding-type"
        )
    return True


def _entry(obj: Obj, url: bool, owner: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Key": listing.encode(obj.key, url),
        "LastModified": obj.last_modified,
        "ETag": obj.etag,
        "Size": obj.size,
        "StorageClass": obj.storage_class,
    }
    if obj.checksum:
        out["ChecksumAlgorithm"] = [obj.checksum["algorithm"]]
        out["ChecksumType"] = obj.checksum.get("type", "FULL_OBJECT")
    if owner:
        out["Owner"] = names.owner(obj.owner)
    return out


def _list_context(prefix: str | None, delimiter: str | None, max_keys: int | None) -> dict:
    ctx: dict[str, Any] = {"s3:prefix": prefix or ""}
    if delimiter is not None:
        ctx["s3:delimiter"] = delimiter
    if max_keys is not None:
        ctx["s3:max-keys"] = str(max_keys)
    return ctx


@service.operation(authorize=False)
def list_objects_v2(
    call: Call,
    Bucket: str,
    Prefix: str | None = None,
    Delimiter: str | None = None,
    MaxKeys: int | None = None,
    ContinuationToken: str | None = None,
    StartAfter: str | None = None,
    EncodingType: str | None = None,
    FetchOwner: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(
        call, "s3:ListBucket", bucket, context=_list_context(Prefix, Delimiter, MaxKeys)
    )
    url = _encoding(EncodingType)
    limit = _max_keys(MaxKeys)
    after = StartAfter or ""
    skip = None
    if ContinuationToken is not None:
        try:
            cursor = decode_token(ContinuationToken)
            if not isinstance(cursor, list) or cursor[0] != Bucket:
                raise BadToken(ContinuationToken)
            if str(cursor[1]) >= after:
                after = str(cursor[1])
                skip = after if len(cursor) > 2 and cursor[2] else None
        except (BadToken, IndexError):
            raise errors.InvalidArgument(
                "The continuation token provided is incorrect",
                ArgumentName="continuation-token",
            ) from None
    page = listing.page(call.conn, Bucket, Prefix or "", Delimiter or None, after, limit, skip)
    out: dict[str, Any] = {
        "Name": Bucket,
        "Prefix": listing.encode(Prefix or "", url),
        "MaxKeys": limit if MaxKeys is not None else 1000,
        "KeyCount": len(page.objects) + len(page.prefixes),
        "IsTruncated": page.truncated,
    }
    if page.objects:
        out["Contents"] = [_entry(o, url, bool(FetchOwner)) for o in page.objects]
    if page.prefixes:
        out["CommonPrefixes"] = [{"Prefix": listing.encode(p, url)} for p in page.prefixes]
    if Delimiter:
        out["Delimiter"] = listing.encode(Delimiter, url)
    if url:
        out["EncodingType"] = "url"
    if ContinuationToken is not None:
        out["ContinuationToken"] = ContinuationToken
    if StartAfter is not None:
        out["StartAfter"] = listing.encode(StartAfter, url)
    if page.truncated and page.last is not None:
        out["NextContinuationToken"] = encode_token([Bucket, page.last, page.last_is_prefix])
    return out


@service.operation(authorize=False)
def list_objects(
    call: Call,
    Bucket: str,
    Prefix: str | None = None,
    Delimiter: str | None = None,
    MaxKeys: int | None = None,
    Marker: str | None = None,
    EncodingType: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(
        call, "s3:ListBucket", bucket, context=_list_context(Prefix, Delimiter, MaxKeys)
    )
    url = _encoding(EncodingType)
    limit = _max_keys(MaxKeys)
    # A marker that is a common prefix (a NextMarker) skips what it rolls up.
    marker = Marker or ""
    skip = marker if Delimiter and marker.endswith(Delimiter) else None
    page = listing.page(call.conn, Bucket, Prefix or "", Delimiter or None, marker, limit, skip)
    out: dict[str, Any] = {
        "Name": Bucket,
        "Prefix": listing.encode(Prefix or "", url),
        "Marker": listing.encode(Marker or "", url),
        "MaxKeys": limit if MaxKeys is not None else 1000,
        "IsTruncated": page.truncated,
    }
    if page.objects:
        out["Contents"] = [_entry(o, url, True) for o in page.objects]
    if page.prefixes:
        out["CommonPrefixes"] = [{"Prefix": listing.encode(p, url)} for p in page.prefixes]
    if Delimiter:
        out["Delimiter"] = listing.encode(Delimiter, url)
        if page.truncated and page.last is not None:
            out["NextMarker"] = listing.encode(page.last, url)
    if url:
        out["EncodingType"] = "url"
    return out


# -- object tags ------------------------------------------------------------------


@service.operation(authorize=False, data_event=True)
def put_object_tagging(
    call: Call,
    Bucket: str,
    Key: str,
    Tagging: dict[str, Any],
    VersionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutObjectTagging", bucket, Key)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    tags: dict[str, str] = {}
    for tag in Tagging.get("TagSet") or []:
        key = tag.get("Key", "")
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
        if not key or len(key) > 128 or len(tag.get("Value", "")) > 256:
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        tags[key] = tag.get("Value", "")
    if len(tags) > 10:
        raise errors.InvalidTag("Object tags cannot be greater than 10")
    objects.set_tags(call.conn, obj, tags)
    return {"VersionId": obj.version_id} if bucket.versioning else {}


@service.operation(authorize=False, data_event=True)
def get_object_tagging(
    call: Call, Bucket: str, Key: str, VersionId: str | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetObjectTagging", bucket, Key)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    out: dict[str, Any] = {"TagSet": [{"Key": k, "Value": v} for k, v in obj.tags.items()]}
    if bucket.versioning:
        out["VersionId"] = obj.version_id
    return out


@service.operation(authorize=False, data_event=True)
def delete_object_tagging(
    call: Call, Bucket: str, Key: str, VersionId: str | None = None, **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:DeleteObjectTagging", bucket, Key)
    obj = objects.require(call.conn, Bucket, Key, VersionId)
    objects.set_tags(call.conn, obj, {})
    return {"VersionId": obj.version_id} if bucket.versioning else {}
