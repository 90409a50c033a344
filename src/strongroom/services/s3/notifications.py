"""Event notifications to Lambda: ``s3:ObjectCreated:*`` and
``s3:ObjectRemoved:*`` invoke the configured functions with AWS's event
shape (``Records[].s3.bucket/object``, eventVersion 2.1), asynchronously
(InvocationType Event) and only after the change has committed, as the
service principal ``s3.amazonaws.com``: the function's resource policy must
let it in (``aws:SourceArn`` the bucket, ``aws:SourceAccount`` its owner),
as Lambda checks for AWS's S3.

A change queues the invocation as background work in its own transaction
(`Call.hand_off`): an object that is not committed notifies no one."""

from __future__ import annotations

import fnmatch
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from strongroom.encoding import json_text
from strongroom.framework import Background, Call
from strongroom.services.lambda_ import api as lambda_api
from strongroom.services.s3 import names
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors, service

EVENTS = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
)
S3_PRINCIPAL = "s3.amazonaws.com"

log = logging.getLogger("strongroom.s3")


def validate(config: dict[str, Any]) -> None:
    for conf in config.get("LambdaFunctionConfigurations") or []:
        arn = conf.get("LambdaFunctionArn") or ""
        if not arn.startswith("arn:aws:lambda:"):
            raise errors.InvalidArgument(
                "Unable to validate the following destination configurations"
            )
        for event in conf.get("Events") or []:
            if event not in EVENTS:
                raise errors.InvalidArgument(
                    f"The event is not supported for notifications: {event}"
                )
        rules = ((conf.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
        for rule in rules:
            if str(rule.get("Name", "")).lower() not in ("prefix", "suffix"):
                raise errors.InvalidArgument("filter rule name must be either prefix or suffix")


def _matches(conf: dict[str, Any], event: str, key: str) -> bool:
    if not any(fnmatch.fnmatchcase(event, pattern) for pattern in conf.get("Events") or []):
        return False
    for rule in ((conf.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name, value = str(rule.get("Name", "")).lower(), rule.get("Value", "")
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def emit(
    call: Call,
    bucket: Bucket,
    event: str,
    key: str,
    *,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
) -> None:
    """Queue the notifications `event` (``s3:ObjectCreated:Put``) on `key` causes."""
    config = bucket.notifications or {}
    targets = [
        c for c in config.get("LambdaFunctionConfigurations") or [] if _matches(c, event, key)
    ]
    if not targets:
        return
    now = call.clock.timestamp()
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": f"{int(now * 1e6):016X}"}
    if size is not None:
        obj["size"] = size
    if etag:
        obj["eTag"] = etag.strip('"')
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    for conf in targets:
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            + "Z",
            "eventName": event.removeprefix("s3:"),
            "userIdentity": {"principalId": f"AWS:{call.principal.principal_id}"},
            "requestParameters": {"sourceIPAddress": call.source_ip},
            "responseElements": {
                "x-amz-request-id": call.request_id,
                "x-amz-id-2": call.request_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": conf.get("Id") or "",
                "bucket": {
                    "name": bucket.name,
                    "ownerIdentity": {"principalId": names.canonical_id(bucket.account)},
                    "arn": names.bucket_arn(bucket.name),
                },
                "object": obj,
            },
        }
        call.hand_off(
            "notify",
            {
                "function": conf["LambdaFunctionArn"],
                "event": json_text({"Records": [record]}),
                "bucket": bucket.name,
                "owner": bucket.account,
            },
        )


@service.background
def notify(work: Background, payload: dict[str, Any]) -> None:
    """Invoke the function as S3 (Event: Lambda queues and retries it)."""
    with work.transaction(write=False) as run:
        try:
            lambda_api.invoke_as_service(
                run,
                payload["function"],
                payload["event"].encode(),
                principal=S3_PRINCIPAL,
                source_arn=names.bucket_arn(payload["bucket"]),
                source_account=payload["owner"],
                invocation_type="Event",
            )
        except Exception as err:  # a refused or missing function: AWS drops the event
            code = getattr(err, "code", type(err).__name__)
            log.warning("notification to %s not delivered: %s", payload["function"], code)
