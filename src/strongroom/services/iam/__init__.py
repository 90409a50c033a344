"""IAM: identities and their credentials."""

from strongroom.services.iam.operations import service

__all__ = ["service"]
