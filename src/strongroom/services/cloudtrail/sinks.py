"""Where delivery really goes: a trail's bucket through S3's internal
delivery API and its CloudWatch Logs group through Logs' API, as
``cloudtrail.amazonaws.com`` in the delivery job's transaction (so a file
and the cursor that passes it commit together).

- S3: the bucket policy must still allow the write (``aws:SourceArn`` the
  trail, ``s3:x-amz-acl`` bucket-owner-full-control); the object is SSE-KMS
  under the trail's key (its data key from KMS's GenerateDataKey for
  CloudTrail, with CloudTrail's encryption context ``aws:cloudtrail:arn``
  and ``aws:s3:arn``, recorded ``invokedBy`` cloudtrail.amazonaws.com), else
  encrypted as the bucket's default says; ``Content-Type: application/json``
  and ``Content-Encoding: gzip``, as CloudTrail writes them; a digest's
  signature as its ``x-amz-meta-signature`` metadata.
- CloudWatch Logs: the role must still trust CloudTrail and allow
  logs:CreateLogStream and logs:PutLogEvents on the stream; the group must
  exist (CloudTrail never creates it).

A refusal is a `DeliveryError` whose text GetTrailStatus shows.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import JobRun
from strongroom.services.cloudtrail import destinations
from strongroom.services.cloudtrail.delivery import DeliveryError
from strongroom.services.cloudtrail.trails import Trail
from strongroom.services.logs import api as logs
from strongroom.services.s3 import api as s3

PRINCIPAL = destinations.CLOUDTRAIL_PRINCIPAL


class ServiceSink:
    """The sink of one delivery run (`ops_delivery`'s default)."""

    def __init__(self, run: JobRun) -> None:
        self.run = run

    def put_object(self, trail: Trail, key: str, body: bytes, metadata: dict[str, str]) -> None:
        try:
            s3.deliver(
                self.run,
                PRINCIPAL,
                trail.s3_bucket,
                key,
                body,
                content_type="application/json",
                content_encoding="gzip",
                metadata=metadata,
                kms_key_id=trail.kms_key_arn,
                encryption_context={"aws:cloudtrail:arn": trail.arn} if trail.kms_key_arn else None,
                source_arn=trail.arn,
                source_account=trail.account,
                account=trail.account,
                region=trail.region,
            )
        except Exception as err:
            code = getattr(err, "code", None)
            if not isinstance(code, str):
                raise
            raise DeliveryError(code) from None

    def put_log_events(self, trail: Trail, stream: str, events: list[dict[str, Any]]) -> None:
        group_arn, role_arn = trail.logs_group_arn, trail.logs_role_arn
        assert group_arn is not None
        if role_arn is None:
            raise DeliveryError("InvalidCloudWatchLogsRoleArnException")
        refusal = destinations.logs_refusal(self.run, group_arn, role_arn, stream)
        if refusal is not None:
            raise DeliveryError(refusal)
        account, region, name = destinations.log_group_parts(group_arn)
        try:
            logs.put_events(
                self.run,
                name,
                stream,
                [(e["timestamp"], e["message"]) for e in events],
                account=account,
                region=region,
                create_group=False,
            )
        except logs.GroupMissing:
            raise DeliveryError(
                f"ResourceNotFoundException: log group {name} does not exist"
            ) from None
        except Exception as err:
            code = getattr(err, "code", None)
            if not isinstance(code, str):
                raise
            raise DeliveryError(f"{code}: {getattr(err, 'message', '')}") from None
