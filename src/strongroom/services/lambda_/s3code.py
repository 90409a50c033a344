"""Deployment packages from S3 (Code.S3Bucket / S3Key / S3ObjectVersion).

Lambda fetches the object with the caller's own permissions, as AWS does: a
GetObject called on the caller's behalf (``aws:ViaAWSService``; its
CloudTrail data event names ``lambda.amazonaws.com`` as invokedBy). S3's
refusals come back as Lambda's InvalidParameterValueException in AWS's
words, naming S3's error code.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.lambda_.code import MAX_UNZIPPED
from strongroom.services.lambda_.service import errors


def _is_aws_error(err: Exception) -> bool:
    return isinstance(getattr(err, "code", None), str) and hasattr(err, "message")


def fetch(call: Call, bucket: str | None, key: str | None, version: str | None) -> bytes:
    """The package's bytes: the object `bucket`/`key` (at `version`), read as the caller."""
    if not bucket or not key:
        raise errors.InvalidParameterValueException(
            "Please provide a source for function code: both S3Bucket and S3Key."
        )
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        params["VersionId"] = version
    try:
        out = call.invoke("s3", "GetObject", **params)
    except Exception as err:
        if not _is_aws_error(err):
            raise
        code, message = err.code, err.message  # type: ignore[attr-defined]
        if code == "AccessDenied":
            raise errors.InvalidParameterValueException(
                "Your access has been denied by S3, please make sure your request credentials "
                f"have permission to GetObject for {bucket}/{key}. S3 Error Code: AccessDenied. "
                "S3 Error Message: Access Denied"
            ) from None
        raise errors.InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
        ) from None
    if int(out.get("ContentLength") or 0) > MAX_UNZIPPED:
        # A zip is never smaller than what it holds uncompressed by much; AWS's limit is on that.
        raise errors.InvalidParameterValueException(
            f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
        )
    body = out.get("Body", b"")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return b"".join(bytes(piece) for piece in body)
