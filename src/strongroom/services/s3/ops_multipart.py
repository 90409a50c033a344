"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort,
ListParts, ListMultipartUploads."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.ids import uuid4
from strongroom.services.s3 import (
    access,
    acls,
    buckets,
    checksums,
    conditions,
    crypto,
    locks,
    multipart,
    names,
    notifications,
    objects,
)
from strongroom.services.s3.multipart import Part, Upload
from strongroom.services.s3.objects import Obj
from strongroom.services.s3.ops_objects import (
    _copy_source,
    _headers_of,
    _storage_class,
    parse_tagging,
    with_grants,
)
from strongroom.services.s3.service import MAX_OBJECT_BODY, errors, service


def _upload(call: Call, Bucket: str, Key: str, UploadId: str, action: str) -> tuple[Any, Upload]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, action, bucket, Key)
    upload = multipart.get(call.conn, UploadId)
    if upload is None or upload.bucket != Bucket or upload.key != Key:
        raise errors.NoSuchUpload(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            UploadId=UploadId,
        )
    return bucket, upload


def _part_key(call: Call, bucket: Any, upload: Upload) -> bytes:
    return crypto.open_key(
        call,
        bucket,
        f"{upload.bucket}/{upload.key}",
        upload.attrs["sse"],
        upload.data_key,
        upload.bucket_key,
    )


@service.operation(authorize=False, data_event=True)
def create_multipart_upload(
    call: Call,
    Bucket: str,
    Key: str,
    ServerSideEncryption: str | None = None,
    SSEKMSKeyId: str | None = None,
    BucketKeyEnabled: bool | None = None,
    Metadata: dict[str, str] | None = None,
    Tagging: str | None = None,
    StorageClass: str | None = None,
    ChecksumAlgorithm: str | None = None,
    ChecksumType: str | None = None,
    ACL: str | None = None,
    SSECustomerAlgorithm: str | None = None,
    **params: Any,
) -> dict[str, Any]:
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
    if SSECustomerAlgorithm is not None:
        raise errors.NotImplemented(
            "SSE-C (customer-provided keys) is not implemented by strongroom"
        )
    grants, owner = acls.for_new_object(call.conn, bucket, call.account, ACL, params)
    if ChecksumAlgorithm is not None and ChecksumAlgorithm not in checksums.ALGORITHMS:
        raise errors.InvalidRequest(f"Checksum algorithm {ChecksumAlgorithm} is not supported")
    kind = ChecksumType or ("FULL_OBJECT" if ChecksumAlgorithm == "CRC64NVME" else "COMPOSITE")
    if ChecksumType is not None and ChecksumAlgorithm is None:
        raise errors.InvalidRequest(
            "The x-amz-checksum-type header requires x-amz-checksum-algorithm"
        )
    if kind == "FULL_OBJECT" and ChecksumAlgorithm in ("SHA1", "SHA256"):
        raise errors.InvalidRequest(
            f"The FULL_OBJECT checksum type cannot be used with the {ChecksumAlgorithm.lower()} "
            "checksum algorithm."
        )
    dk = crypto.new_key(call, bucket, f"{Bucket}/{Key}", enc)
    upload = Upload(
        upload_id=uuid4().replace("-", "") + uuid4().replace("-", ""),
        bucket=Bucket,
        key=Key,
        initiated=call.clock.timestamp(),
        initiator=call.principal.arn,
        owner=owner,
        attrs={
            "headers": with_grants(_headers_of(params), grants),
            "metadata": dict(Metadata or {}),
            "tags": parse_tagging(Tagging),
            "storage_class": _storage_class(StorageClass),
            "sse": dk.sse,
            "kms_key_arn": dk.kms_key_arn,
            "enc": [enc.sse, enc.kms_key_id, enc.bucket_key_enabled],
            "checksum_algorithm": ChecksumAlgorithm,
            "checksum_type": kind if ChecksumAlgorithm else None,
            "lock": locks.for_new_version(
                bucket,
                params.get("ObjectLockMode"),
                params.get("ObjectLockRetainUntilDate"),
                params.get("ObjectLockLegalHoldStatus"),
                call.clock.timestamp(),
            ),
        },
        data_key=dk.wrapped,
        bucket_key=dk.bucket_key,
    )
    multipart.create(call.conn, upload)
    out: dict[str, Any] = {
        "Bucket": Bucket,
        "Key": Key,
        "UploadId": upload.upload_id,
        **dk.members(),
    }
    if ChecksumAlgorithm:
        out["ChecksumAlgorithm"] = ChecksumAlgorithm
        out["ChecksumType"] = kind
    return out


def _check_part_number(number: int) -> None:
    if not 1 <= number <= multipart.MAX_PARTS:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=str(number),
        )


def _store_part(call: Call, upload: Upload, number: int, written: Any) -> Part:
    part = Part(
        upload.upload_id,
        number,
        written.size,
        objects.etag_of(written.md5),
        written.blob,
        call.clock.timestamp(),
        written.checksum,
    )
    replaced = multipart.put_part(call.conn, part)
    if replaced is not None:
        objects.discard(call.conn, replaced, call.clock.timestamp())
    return part


@service.operation(
    authorize=False,
    data_event=True,
    max_body=MAX_OBJECT_BODY,
    streaming=True,
    prepare=objects.prepare_body,
)
def upload_part(
    call: Call,
    Bucket: str,
    Key: str,
    PartNumber: int,
    UploadId: str,
    Body: bytes | None = None,
    ChecksumAlgorithm: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket, upload = _upload(call, Bucket, Key, UploadId, "s3:PutObject")
    _check_part_number(PartNumber)
    algorithm = upload.attrs.get("checksum_algorithm")
    if ChecksumAlgorithm and algorithm and ChecksumAlgorithm != algorithm:
        raise errors.InvalidRequest(
            f"Checksum Type mismatch occurred, expected checksum Type: {algorithm.lower()}, "
            f"actual checksum Type: {ChecksumAlgorithm.lower()}"
        )
    key = _part_key(call, bucket, upload)
    written = objects.write_body(call, key, Body, params, algorithm)
    part = _store_part(call, upload, PartNumber, written)
    out: dict[str, Any] = {"ETag": part.etag, "ServerSideEncryption": upload.attrs["sse"]}
    if upload.attrs.get("kms_key_arn"):
        out["SSEKMSKeyId"] = upload.attrs["kms_key_arn"]
    if written.checksum:
        out[f"Checksum{written.checksum['algorithm']}"] = written.checksum["value"]
    return out


@service.operation(authorize=False, data_event=True, blocking=True)
def upload_part_copy(
    call: Call,
    Bucket: str,
    Key: str,
    CopySource: str,
    PartNumber: int,
    UploadId: str,
    CopySourceRange: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    source_bucket_name, source_key, source_version = _copy_source(CopySource)
    source_bucket = buckets.require(call.conn, source_bucket_name)
    access.authorize(
        call,
        "s3:GetObject" if source_version is None else "s3:GetObjectVersion",
        source_bucket,
        source_key,
        version_id=source_version,
    )
    bucket, upload = _upload(call, Bucket, Key, UploadId, "s3:PutObject")
    _check_part_number(PartNumber)
    source = objects.require(call.conn, source_bucket_name, source_key, source_version)
    conditions.check_read(
        source,
        params.get("CopySourceIfMatch"),
        params.get("CopySourceIfNoneMatch"),
        params.get("CopySourceIfModifiedSince"),
        params.get("CopySourceIfUnmodifiedSince"),
    )
    span = conditions.byte_range(CopySourceRange, source.size) if CopySourceRange else None
    start, end = span if span is not None else (0, source.size)
    body = objects.read_body(call, source_bucket, source, start, end)
    key = _part_key(call, bucket, upload)
    written = objects.write_body(call, key, body, {}, upload.attrs.get("checksum_algorithm"))
    part = _store_part(call, upload, PartNumber, written)
    result: dict[str, Any] = {"ETag": part.etag, "LastModified": part.last_modified}
    if written.checksum:
        result[f"Checksum{written.checksum['algorithm']}"] = written.checksum["value"]
    return {"CopyPartResult": result, "ServerSideEncryption": upload.attrs["sse"]}


def _invalid_part(message: str = "") -> Exception:
    return errors.InvalidPart(
        message
        or "One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag."
    )


@service.operation(authorize=False, data_event=True, blocking=True)
def complete_multipart_upload(
    call: Call,
    Bucket: str,
    Key: str,
    UploadId: str,
    MultipartUpload: dict[str, Any] | None = None,
    IfMatch: str | None = None,
    IfNoneMatch: str | None = None,
    MpuObjectSize: int | None = None,
    **params: Any,
) -> dict[str, Any]:
    bucket, upload = _upload(call, Bucket, Key, UploadId, "s3:PutObject")
    conditions.check_write(objects.get(call.conn, Bucket, Key), Key, IfMatch, IfNoneMatch)
    listed = (MultipartUpload or {}).get("Parts") or []
    if not listed:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    stored = {p.number: p for p in multipart.parts(call.conn, UploadId)}
    chosen: list[Part] = []
    previous = 0
    algorithm = upload.attrs.get("checksum_algorithm")
    for item in listed:
        number = item.get("PartNumber", 0)
        if number <= previous:
            raise errors.InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number."
            )
        previous = number
        part = stored.get(number)
        if part is None or item.get("ETag", "").strip('"') != part.etag.strip('"'):
            raise _invalid_part()
        if algorithm and upload.attrs.get("checksum_type") == "COMPOSITE":
            given = item.get(f"Checksum{algorithm}")
            if given is not None and given != part.checksum.get("value"):
                raise _invalid_part()
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < multipart.MIN_PART:
            raise errors.EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(part.size),
                MinSizeAllowed=str(multipart.MIN_PART),
            )
    total = sum(p.size for p in chosen)
    if MpuObjectSize is not None and MpuObjectSize != total:
        raise errors.InvalidRequest(
            "The provided 'x-amz-mp-object-size' header value does not match"
        )
    # The object is its parts, in order, under the upload's data key (made
    # for this bucket and key, as the object's own would be): rows, no bytes.
    full = None
    if algorithm and upload.attrs.get("checksum_type") == "FULL_OBJECT":
        part_key = _part_key(call, bucket, upload)
        full = checksums.hasher(algorithm)
        for part in chosen:
            for chunk in objects.open_blob(call, part.blob, part_key, part.size):
                full.update(chunk)
    blob = objects.compose(call.conn, [(p.blob, p.size) for p in chosen])
    dk = crypto.DataKey(
        b"", upload.data_key, upload.attrs["sse"], upload.attrs.get("kms_key_arn"),
        upload.bucket_key,
    )  # fmt: skip
    checksum: dict[str, Any] = {}
    if algorithm:
        if upload.attrs.get("checksum_type") == "FULL_OBJECT":
            value = b64_text(full.digest())
            given_full = params.get(f"Checksum{algorithm}")
            if given_full is not None and given_full != value:
                raise errors.BadDigest(
                    f"The {algorithm} you specified did not match the calculated checksum."
                )
            checksum = {"algorithm": algorithm, "value": value, "type": "FULL_OBJECT"}
        else:
            values = [p.checksum.get("value", "") for p in chosen]
            checksum = {
                "algorithm": algorithm,
                "value": checksums.composite(algorithm, values),
                "type": "COMPOSITE",
            }
    now = call.clock.timestamp()
    etag = multipart.composite_etag([bytes.fromhex(p.etag.strip('"')) for p in chosen])
    attrs = upload.attrs
    obj = Obj(
        bucket=Bucket,
        key=Key,
        size=total,
        etag=etag,
        last_modified=now,
        blob=blob,
        data_key=dk.wrapped,
        sse=dk.sse,
        kms_key_arn=dk.kms_key_arn,
        bucket_key=dk.bucket_key,
        headers=attrs["headers"],
        metadata=attrs["metadata"],
        tags=attrs["tags"],
        checksum=checksum,
        storage_class=attrs["storage_class"],
        parts=len(chosen),
        owner=upload.owner,
        **attrs.get("lock", {}),
    )
    version = objects.store(call.conn, obj, now, bucket.versioning)
    notifications.emit(
        call, bucket, "s3:ObjectCreated:CompleteMultipartUpload", Key, size=total, etag=etag,
        version_id=version,
    )  # fmt: skip
    kept = {p.blob for p in chosen}
    for blob_id in multipart.remove(call.conn, UploadId):
        if blob_id not in kept:  # uploaded but not listed
            objects.discard(call.conn, blob_id, now)
    out: dict[str, Any] = {
        "Location": f"/{Bucket}/{Key}",
        "Bucket": Bucket,
        "Key": Key,
        "ETag": etag,
        **dk.members(),
    }
    out.update(checksums.members(checksum))
    if bucket.versioning:
        out["VersionId"] = version
    return out


@service.operation(authorize=False, data_event=True)
def abort_multipart_upload(
    call: Call, Bucket: str, Key: str, UploadId: str, **_: Any
) -> dict[str, Any]:
    _bucket, _upload_row = _upload(call, Bucket, Key, UploadId, "s3:AbortMultipartUpload")
    now = call.clock.timestamp()
    for blob_id in multipart.remove(call.conn, UploadId):
        objects.discard(call.conn, blob_id, now)
    return {}


@service.operation(authorize=False, data_event=True)
def list_parts(
    call: Call,
    Bucket: str,
    Key: str,
    UploadId: str,
    MaxParts: int | None = None,
    PartNumberMarker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    _bucket, upload = _upload(call, Bucket, Key, UploadId, "s3:ListMultipartUploadParts")
    limit = min(MaxParts if MaxParts is not None else 1000, 1000)
    marker = int(PartNumberMarker) if PartNumberMarker and PartNumberMarker.isdigit() else 0
    found = [p for p in multipart.parts(call.conn, UploadId) if p.number > marker]
    page = found[:limit]
    out: dict[str, Any] = {
        "Bucket": Bucket,
        "Key": Key,
        "UploadId": UploadId,
        "PartNumberMarker": str(marker),
        "MaxParts": limit,
        "IsTruncated": len(found) > limit,
        "Initiator": {"ID": upload.initiator, "DisplayName": upload.initiator},
        "Owner": names.owner(upload.owner),
        "StorageClass": upload.attrs["storage_class"],
    }
    if page:
        out["NextPartNumberMarker"] = str(page[-1].number)
    parts_out = []
    for p in page:
        entry: dict[str, Any] = {
            "PartNumber": p.number,
            "LastModified": p.last_modified,
            "ETag": p.etag,
            "Size": p.size,
        }
        if p.checksum:
            entry[f"Checksum{p.checksum['algorithm']}"] = p.checksum["value"]
        parts_out.append(entry)
    if parts_out:
        out["Parts"] = parts_out
    if upload.attrs.get("checksum_algorithm"):
        out["ChecksumAlgorithm"] = upload.attrs["checksum_algorithm"]
        out["ChecksumType"] = upload.attrs["checksum_type"]
    return out


@service.operation(authorize=False)
def list_multipart_uploads(
    call: Call,
    Bucket: str,
    Prefix: str | None = None,
    MaxUploads: int | None = None,
    KeyMarker: str | None = None,
    UploadIdMarker: str | None = None,
    Delimiter: str | None = None,
    EncodingType: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:ListBucketMultipartUploads", bucket)
    limit = min(MaxUploads if MaxUploads is not None else 1000, 1000)
    found = [
        u
        for u in multipart.of_bucket(call.conn, Bucket)
        if u.key.startswith(Prefix or "")
        and (
            not KeyMarker
            or u.key > KeyMarker
            or (u.key == KeyMarker and UploadIdMarker and u.upload_id > UploadIdMarker)
        )
    ]
    page = found[:limit]
    out: dict[str, Any] = {
        "Bucket": Bucket,
        "KeyMarker": KeyMarker or "",
        "UploadIdMarker": UploadIdMarker or "",
        "MaxUploads": limit,
        "IsTruncated": len(found) > limit,
        "Prefix": Prefix or "",
    }
    if len(found) > limit and page:
        out["NextKeyMarker"] = page[-1].key
        out["NextUploadIdMarker"] = page[-1].upload_id
    if page:
        out["Uploads"] = [
            {
                "UploadId": u.upload_id,
                "Key": u.key,
                "Initiated": u.initiated,
                "StorageClass": u.attrs["storage_class"],
                "Owner": names.owner(u.owner),
                "Initiator": {"ID": u.initiator, "DisplayName": u.initiator},
            }
            for u in page
        ]
    return out
