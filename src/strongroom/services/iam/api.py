"""IAM for the other services of this server: the one module they may use.

STS reads roles (and their trust policies), managed policy documents and the
identity providers a federated caller proves an identity with. Everything
else in this package is IAM's own.
"""

from __future__ import annotations

from strongroom.services.iam.providers import (
    OidcProvider,
    SamlProvider,
    oidc_by_url,
    saml_by_arn,
)
from strongroom.services.iam.roles import Role, role_by_arn
from strongroom.services.iam.source import managed_policy_document

__all__ = [
    "OidcProvider",
    "Role",
    "SamlProvider",
    "managed_policy_document",
    "oidc_by_url",
    "role_by_arn",
    "saml_by_arn",
]
