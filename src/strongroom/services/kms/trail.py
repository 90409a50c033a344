"""What KMS's CloudTrail events record of each request and response, as data
(see `strongroom.framework.trail` for the form).

As the KMS Developer Guide's "Logging with CloudTrail" examples show: the
cryptographic operations record the key, the encryption context and the
algorithm (the default one when the caller named none), never a plaintext,
ciphertext, message or signature; management operations that return nothing
record the key ARN in ``responseElements.keyId``. Operations not named here
record their redacted request and (when not read-only) response.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework.trail import RESOURCE
from strongroom.services.kms.keys import DEFAULT_ROTATION_DAYS
from strongroom.services.kms.service import service

_SYMMETRIC = "SYMMETRIC_DEFAULT"
#: The response of an operation with no output: the key it acted on.
_KEY_ARN = {"response": {"keyId": RESOURCE}}
_KEY_ONLY = {"request": ["keyId"]}


def _encrypting(*more: str) -> dict[str, Any]:
    return {"request": ["keyId", "encryptionContext", *more]}


TRAIL: dict[str, dict[str, Any]] = {
    # -- cryptography (read-only: no responseElements) -----------------------------
    "Encrypt": {
        **_encrypting("encryptionAlgorithm"),
        "defaults": {"encryptionAlgorithm": _SYMMETRIC},
    },
    "Decrypt": {
        **_encrypting("encryptionAlgorithm"),
        "defaults": {"encryptionAlgorithm": _SYMMETRIC},
    },
    "ReEncrypt": {
        "request": [
            "sourceKeyId",
            "destinationKeyId",
            "sourceEncryptionContext",
            "destinationEncryptionContext",
            "sourceEncryptionAlgorithm",
            "destinationEncryptionAlgorithm",
        ],
        "defaults": {
            "sourceEncryptionAlgorithm": _SYMMETRIC,
            "destinationEncryptionAlgorithm": _SYMMETRIC,
        },
    },
    "GenerateDataKey": _encrypting("numberOfBytes", "keySpec"),
    "GenerateDataKeyWithoutPlaintext": _encrypting("numberOfBytes", "keySpec"),
    "GenerateDataKeyPair": _encrypting("keyPairSpec"),
    "GenerateDataKeyPairWithoutPlaintext": _encrypting("keyPairSpec"),
    "Sign": {
        "request": ["keyId", "messageType", "signingAlgorithm"],
        "defaults": {"messageType": "RAW"},
    },
    "Verify": {
        "request": ["keyId", "messageType", "signingAlgorithm"],
        "defaults": {"messageType": "RAW"},
    },
    "GenerateMac": {"request": ["keyId", "macAlgorithm"]},
    "VerifyMac": {"request": ["keyId", "macAlgorithm"]},
    "DeriveSharedSecret": {"request": ["keyId", "keyAgreementAlgorithm"]},
    "GetPublicKey": _KEY_ONLY,
    "DescribeKey": _KEY_ONLY,
    # -- grants --------------------------------------------------------------------
    "CreateGrant": {
        "request": [
            "keyId",
            "granteePrincipal",
            "granteeServicePrincipal",
            "retiringPrincipal",
            "retiringServicePrincipal",
            "operations",
            "constraints",
            "name",
        ],
        # As recorded so far (AWS writes encryptionContextSubset, lowerCamel).
        "verbatim": ["constraints"],
        "newer": ["granteeServicePrincipal", "retiringServicePrincipal"],
        "response": ["grantId"],
    },
    "RetireGrant": {"request": ["keyId", "grantId"]},
    # -- management operations that return nothing ---------------------------------
    "EnableKey": _KEY_ARN,
    "DisableKey": _KEY_ARN,
    "UpdateKeyDescription": _KEY_ARN,
    "TagResource": _KEY_ARN,
    "UntagResource": _KEY_ARN,
    "PutKeyPolicy": _KEY_ARN,
    "EnableKeyRotation": {
        "request": ["keyId", "rotationPeriodInDays"],
        "defaults": {"rotationPeriodInDays": DEFAULT_ROTATION_DAYS},
        **_KEY_ARN,
    },
    "DisableKeyRotation": _KEY_ARN,
}

service.trail.update(TRAIL)
