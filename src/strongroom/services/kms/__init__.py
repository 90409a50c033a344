"""KMS: keys, their material and policies, grants, and the cryptography."""

from strongroom.services.kms import (  # noqa: F401  (operations and trail register on import)
    ops_crypto,
    ops_grants,
    ops_keys,
    ops_material,
    trail,
)
from strongroom.services.kms.service import service

__all__ = ["service"]
