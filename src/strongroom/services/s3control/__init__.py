"""Amazon S3 Control (botocore model ``s3control``, rest-xml): the
account-level operations of S3. Served: account-level Block Public Access
(Get/Put/DeletePublicAccessBlock), which S3 combines with each bucket's own
settings (`services/s3/public_access.py`); the state is S3's, reached
through `services/s3/api.py`.

Requests are routed by their path (``/v20180820/...``), since S3 Control
signs as ``s3``; the account comes from ``x-amz-account-id``, which boto3
also puts in front of the host name (``{AccountId}.HOST``)."""

from strongroom.services.s3control import operations  # noqa: F401  (register the operations)
from strongroom.services.s3control.service import errors, service

__all__ = ["errors", "service"]
