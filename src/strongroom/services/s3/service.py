"""The S3 `Service` every S3 module registers on, its errors, how a host
name names a bucket (virtual-hosted requests) and its process resource, the
blob store."""

from __future__ import annotations

from typing import Any

from strongroom.framework import ResourceContext, Service
from strongroom.services.s3.tables import TABLES

#: PutObject and UploadPart `prepare` a streamed body (`objects.prepare_body`):
#: up to 5 GiB is encrypted, written and fsynced in a thread of the App's
#: pool before their transaction opens, which then only inserts rows; a
#: body small enough to arrive in memory (`objects.INLINE_MAX`) is answered
#: on the event loop and kept in the store. The operations that copy a body
#: from other blobs (CopyObject, UploadPartCopy, CompleteMultipartUpload)
#: are registered ``blocking``.
#: Largest body of one PutObject or UploadPart (AWS: 5 GiB), plus the
#: aws-chunked framing of it.
MAX_OBJECT_BODY = 5 * 1024**3 + 16 * 1024 * 1024


def _make_blobs(ctx: ResourceContext) -> Any:
    from strongroom.services.s3.blobs import BlobStore

    options = ctx.options_for("s3")
    root = options.get("blob_dir")
    # How old an unnamed blob or a dead writer's temporary file must be to
    # be swept (`blobs.ORPHAN_AGE`, `blobs.TMP_AGE`); lowered by tests.
    ages = {
        name: float(options[option])
        for name, option in (("orphan_age", "orphan_age"), ("tmp_age", "tmp_age"))
        if option in options
    }
    return BlobStore(root if root else ctx.data_dir / "s3", **ages)


def bucket_of_host(host: str) -> str | None:
    """The bucket a virtual-hosted request names in its Host, or None for a
    path-style request: ``bucket.s3.localhost:4566``,
    ``bucket.s3.us-east-1.amazonaws.com`` and ``bucket.localhost`` name
    ``bucket``; an IP address, ``localhost`` and ``s3.*`` hosts none."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    if name.startswith("[") or name.replace(".", "").isdigit():
        return None
    marker = name.find(".s3.")
    if marker > 0:
        return name[:marker]
    if name.endswith(".s3"):
        return name[:-3] or None
    for suffix in (".localhost", ".s3-website"):
        if name.endswith(suffix) and len(name) > len(suffix):
            bucket = name[: -len(suffix)]
            return None if bucket == "s3" or bucket.startswith("s3.") else bucket
    return None


service = Service(
    "s3",
    # Any request may come unsigned: the anonymous principal, allowed only
    # what a bucket policy or ACL grants everyone (`access`).
    anonymous=True,
    tables=TABLES,
    resources={"s3_blobs": _make_blobs},
    virtual_host=bucket_of_host,
    xml_root_names={
        "ListBuckets": "ListAllMyBucketsResult",
        "ListObjects": "ListBucketResult",
        "ListObjectsV2": "ListBucketResult",
        "GetBucketLocation": "LocationConstraint",
        "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult",
        "ListParts": "ListPartsResult",
        "ListMultipartUploads": "ListMultipartUploadsResult",
        "DeleteObjects": "DeleteResult",
        "GetBucketTagging": "Tagging",
        "GetObjectTagging": "Tagging",
        "GetBucketAcl": "AccessControlPolicy",
        "GetObjectAcl": "AccessControlPolicy",
        "GetBucketVersioning": "VersioningConfiguration",
        "GetBucketCors": "CORSConfiguration",
        "ListObjectVersions": "ListVersionsResult",
        "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
        "GetBucketNotificationConfiguration": "NotificationConfiguration",
        "GetObjectAttributes": "GetObjectAttributesResponse",
    },
)
errors = service.errors
