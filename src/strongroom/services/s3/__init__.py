"""Amazon S3 (botocore model ``s3``, rest-xml): buckets in one global
namespace, objects on an encrypted blob store (SSE-S3 at least, SSE-KMS
through KMS's internal API), multipart uploads, bucket policies.

Other services reach it through `api` only."""

from strongroom.services.s3 import (  # noqa: F401  (register the operations)
    cors,
    jobs,
    ops_acl,
    ops_attributes,
    ops_buckets,
    ops_lifecycle,
    ops_locks,
    ops_multipart,
    ops_objects,
    ops_post,
    ops_versions,
    trail,
)
from strongroom.services.s3.service import errors, service

__all__ = ["errors", "service"]
