"""KMS: keys, their material and policies, grants, and the cryptography."""

from strongroom.services.kms import (  # noqa: F401  (operations register on import)
    ops_crypto,
    ops_grants,
    ops_keys,
    ops_material,
)
from strongroom.services.kms.service import service

__all__ = ["service"]
