"""What S3's CloudTrail events record, as data (`strongroom.framework.trail`).

Bucket operations are management events; object-level operations are data
events (not returned by LookupEvents), as on AWS. Object bodies are never
recorded (Body is a blob, dropped by the redaction plans), nor are the
policy documents' or tags' values beyond what the model lets through."""

from __future__ import annotations

from typing import Any

from strongroom.services.s3.service import service

_OBJECT = {"bucketName": "bucket", "key": "key"}
_BUCKET = {"bucketName": "bucket"}

TRAIL: dict[str, dict[str, Any]] = {
    "GetObject": {"request": {**_OBJECT, "range": "range"}, "response": []},
    "HeadObject": {"request": _OBJECT, "response": []},
    "PutObject": {"request": _OBJECT},
    # The form's fields (its policy and signature among them) are not
    # recorded; the bucket is, and the key as the object ARN in resources.
    "PostObject": {"request": _BUCKET, "response": []},
    "GetBucketPolicy": {"request": _BUCKET, "response": []},
}

service.trail.update(TRAIL)
