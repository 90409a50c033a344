"""GetObjectAttributes: what HeadObject and ListParts would tell of one
object version, the attributes asked for in ``x-amz-object-attributes``
only (ETag, Checksum, ObjectParts, StorageClass, ObjectSize)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.s3 import access, checksums, objects
from strongroom.services.s3.ops_objects import _read
from strongroom.services.s3.service import errors, service

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


@service.operation(authorize=False, data_event=True)
def get_object_attributes(
    call: Call,
    Bucket: str,
    Key: str,
    ObjectAttributes: list[str],
    MaxParts: int | None = None,
    PartNumberMarker: int | None = None,
    **params: Any,
) -> dict[str, Any]:
    wanted = {a.strip() for item in ObjectAttributes for a in item.split(",") if a.strip()}
    unknown = sorted(wanted - set(ATTRIBUTES))
    if unknown or not wanted:
        raise errors.InvalidArgument(
            "Invalid attribute name specified.",
            ArgumentName="x-amz-object-attributes",
            ArgumentValue=",".join(unknown),
        )
    # AWS wants both: the object's read permission and the attributes one.
    bucket, obj, _ = _read(call, Bucket, Key, "s3:GetObject", params)
    action = "s3:GetObjectAttributes" if "VersionId" not in params else (
        "s3:GetObjectVersionAttributes"
    )  # fmt: skip
    access.authorize(call, action, bucket, Key)
    out: dict[str, Any] = {"LastModified": obj.last_modified}
    if bucket.versioning:
        out["VersionId"] = obj.version_id
    if "ETag" in wanted:
        out["ETag"] = obj.etag.strip('"')
    if "StorageClass" in wanted:
        out["StorageClass"] = obj.storage_class
    if "ObjectSize" in wanted:
        out["ObjectSize"] = obj.size
    if "Checksum" in wanted and obj.checksum:
        out["Checksum"] = checksums.members(obj.checksum)
    if "ObjectParts" in wanted and obj.parts is not None:
        out["ObjectParts"] = _parts(call, obj, MaxParts, PartNumberMarker)
    return out


def _parts(call: Call, obj: Any, max_parts: int | None, marker: int | None) -> dict[str, Any]:
    most = 1000 if max_parts is None else max(0, min(max_parts, 1000))
    start = marker or 0
    sizes = objects.part_sizes(call.conn, obj) or []
    numbered = [(n, size) for n, size in enumerate(sizes, 1) if n > start]
    page = numbered[:most]
    out: dict[str, Any] = {
        "TotalPartsCount": obj.parts,
        "PartNumberMarker": start,
        "MaxParts": most,
        "IsTruncated": len(numbered) > most,
        "Parts": [{"PartNumber": n, "Size": size} for n, size in page],
    }
    if page:
        out["NextPartNumberMarker"] = page[-1][0]
    return out
