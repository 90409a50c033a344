"""IAM: identities and their credentials, and the identity policies every
service's authorization reads (`IamPolicySource`)."""

from strongroom.services.iam.operations import service
from strongroom.services.iam.source import IamPolicySource

service.policy_source = IamPolicySource()

__all__ = ["service"]
