"""CloudTrail: the audit trail of every call (LookupEvents), trails and
their selectors, and delivery of log and digest files through a sink."""

from strongroom.services.cloudtrail import (  # noqa: F401  (operations and trail register on import)
    operations,
    ops_delivery,
    ops_trails,
    trail,
)
from strongroom.services.cloudtrail.service import service

__all__ = ["service"]
