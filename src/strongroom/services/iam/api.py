"""IAM for the other services of this server: the one module they may use.

STS reads roles (and their trust policies), managed policy documents, the
identity providers a federated caller proves an identity with, and the MFA
devices whose codes GetSessionToken and AssumeRole take. Everything
else in this package is IAM's own.
"""

from __future__ import annotations

from strongroom.services.iam.mfa import Device as MfaDevice
from strongroom.services.iam.mfa import accept_code as accept_totp
from strongroom.services.iam.mfa import device_of as mfa_device_of
from strongroom.services.iam.providers import (
    OidcProvider,
    SamlProvider,
    oidc_by_url,
    saml_by_arn,
)
from strongroom.services.iam.roles import Role, role_by_arn
from strongroom.services.iam.source import managed_policy_document

__all__ = [
    "MfaDevice",
    "OidcProvider",
    "Role",
    "SamlProvider",
    "accept_totp",
    "managed_policy_document",
    "mfa_device_of",
    "oidc_by_url",
    "role_by_arn",
    "saml_by_arn",
]
