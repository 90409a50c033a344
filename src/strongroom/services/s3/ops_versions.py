"""Versioning: PutBucketVersioning / GetBucketVersioning and
ListObjectVersions. While versioning is enabled every write keeps the
earlier versions and a delete adds a delete marker; suspended, writes and
deletes replace the "null" version. GET, HEAD, DELETE, CopyObject's source
and the object tag operations take a VersionId (`objects`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, buckets, listing, names, objects
from strongroom.services.s3.service import errors, service


@service.operation(authorize=False)
def put_bucket_versioning(
    call: Call,
    Bucket: str,
    VersioningConfiguration: dict[str, Any],
    MFA: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketVersioning", bucket)
    status = VersioningConfiguration.get("Status")
    if VersioningConfiguration.get("MFADelete") == "Enabled" or MFA is not None:
        raise errors.NotImplemented("MFA Delete is not implemented by strongroom")
    if status not in ("Enabled", "Suspended"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    if status == "Suspended" and bucket.object_lock is not None:
        raise errors.InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state "
            "cannot be changed."
        )
    if status == "Suspended" and bucket.versioning is None:
        return {}  # never enabled: stays unversioned
    buckets.set_fields(call.conn, Bucket, versioning=status)
    return {}


@service.operation(authorize=False)
def get_bucket_versioning(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketVersioning", bucket)
    return {"Status": bucket.versioning} if bucket.versioning else {}


@service.operation(authorize=False)
def list_object_versions(
    call: Call,
    Bucket: str,
    Prefix: str | None = None,
    Delimiter: str | None = None,
    KeyMarker: str | None = None,
    VersionIdMarker: str | None = None,
    MaxKeys: int | None = None,
    EncodingType: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:ListBucketVersions", bucket, context={"s3:prefix": Prefix or ""})
    if EncodingType not in (None, "url"):
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request")
    url = EncodingType == "url"
    limit = 1000 if MaxKeys is None else max(0, min(MaxKeys, 1000))
    found = objects.versions(
        call.conn, Bucket, Prefix or "", KeyMarker or "", VersionIdMarker, limit
    )
    page, more = found[:limit], len(found) > limit
    versions, markers, prefixes = [], [], []
    for obj in page:
        if Delimiter:
            cut = obj.key.find(Delimiter, len(Prefix or ""))
            if cut >= 0:
                common = obj.key[: cut + len(Delimiter)]
                if common not in prefixes:
                    prefixes.append(common)
                continue
        entry: dict[str, Any] = {
            "Key": listing.encode(obj.key, url),
            "VersionId": obj.version_id,
            "IsLatest": obj.latest,
            "LastModified": obj.last_modified,
            "Owner": names.owner(bucket.account),
        }
        if obj.delete_marker:
            markers.append(entry)
        else:
            entry.update({"ETag": obj.etag, "Size": obj.size, "StorageClass": obj.storage_class})
            versions.append(entry)
    out: dict[str, Any] = {
        "Name": Bucket,
        "Prefix": listing.encode(Prefix or "", url),
        "KeyMarker": KeyMarker or "",
        "VersionIdMarker": VersionIdMarker or "",
        "MaxKeys": limit,
        "IsTruncated": more,
    }
    if versions:
        out["Versions"] = versions
    if markers:
        out["DeleteMarkers"] = markers
    if prefixes:
        out["CommonPrefixes"] = [{"Prefix": listing.encode(p, url)} for p in prefixes]
    if Delimiter:
        out["Delimiter"] = Delimiter
    if url:
        out["EncodingType"] = "url"
    if more and page:
        out["NextKeyMarker"] = page[-1].key
        out["NextVersionIdMarker"] = page[-1].version_id
    return out
