"""The KMS `Service` object every KMS module registers on, and its errors."""

from __future__ import annotations

from strongroom.framework import Service
from strongroom.services.kms.tables import TABLES

#: CloudTrail records KMS's cryptographic operations as read-only events.
CRYPTO_OPERATIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GenerateRandom",
        "DeriveSharedSecret",
    }
)

service = Service("kms", read_only=CRYPTO_OPERATIONS, tables=TABLES)
errors = service.errors
