"""CloudTrail: the audit trail of every call."""

from strongroom.services.cloudtrail.operations import service

__all__ = ["service"]
