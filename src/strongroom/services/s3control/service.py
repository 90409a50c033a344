"""The S3 Control `Service`."""

from __future__ import annotations

from strongroom.framework import Service

service = Service("s3control")
#: CloudTrail records S3 Control's calls as S3's (eventSource s3.amazonaws.com).
service.event_source = "s3.amazonaws.com"
errors = service.errors
