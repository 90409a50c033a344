"""Envelope encryption of secret values, through KMS's internal API only.

Each version's value is sealed (AES-256-GCM, `strongroom.store.sealing`)
under a fresh data key that KMS's GenerateDataKey makes from the secret's
key (its KmsKeyId, or the account's ``aws/secretsmanager``, created on first
use) with the encryption context AWS uses::

    {"SecretARN": <secret ARN>, "SecretVersionId": <version id>}

Only the wrapped data key and the sealed value are stored. Reading a value
asks KMS's Decrypt for the data key, every time: KMS's own checks (the key
policy with ``kms:ViaService``, grants, the key's state) run for the caller
on each read, and each call is KMS's CloudTrail event with ``invokedBy``
``secretsmanager.amazonaws.com``. A disabled key or one pending deletion
makes the value unreadable until the key is usable again.

The sealed value's associated data names the secret, the version and the
kind of value, so a sealed value moved to another row does not open there.

KMS's errors become Secrets Manager's as AWS answers them: a KMS refusal is
``AccessDeniedException`` "Access to KMS is not allowed"; a key that cannot
be used (disabled, pending deletion, missing) fails a write with
``EncryptionFailure`` and a read with ``InvalidRequestException`` naming the
key's state in KMS's words; a data key or value that does not open is
``DecryptionFailure``.
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.kms import api as kms
from strongroom.services.secretsmanager.secrets import Secret
from strongroom.services.secretsmanager.service import errors
from strongroom.store.sealing import Sealer, SealError

MANAGED_ALIAS = "alias/aws/secretsmanager"
STRING = "string"
BINARY = "binary"

KMS_DENIED = "Access to KMS is not allowed"
ENCRYPTION_FAILURE = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)
DECRYPTION_FAILURE = (
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)
#: KMS errors that mean the key cannot be used now.
_UNUSABLE = frozenset(
    {
        "DisabledException",
        "KMSInvalidStateException",
        "NotFoundException",
        "InvalidKeyUsageException",
        "KeyUnavailableException",
    }
)


def context(secret_arn: str, version_id: str) -> dict[str, str]:
    return {"SecretARN": secret_arn, "SecretVersionId": version_id}


def _aad(secret_arn: str, version_id: str, kind: str) -> bytes:
    return f"secretsmanager-value:{secret_arn}:{version_id}:{kind}".encode()


def key_for(call: Call, secret: Secret, kms_key_id: str | None = None) -> str:
    """The KeyId new versions of `secret` are encrypted under."""
    key_id = kms_key_id if kms_key_id is not None else secret.kms_key_id
    if key_id and key_id != MANAGED_ALIAS:
        if secret.account != call.account and not key_id.startswith("arn:"):
            # The owner named a key of its own account: so must another caller.
            resource = key_id if key_id.startswith("alias/") else f"key/{key_id}"
            return f"arn:aws:kms:{secret.region}:{secret.account}:{resource}"
        return key_id
    if secret.account == call.account:
        return kms.aws_managed_key(call, "secretsmanager", region=secret.region)
    # Another account's managed key: KMS itself refuses the caller.
    return f"arn:aws:kms:{secret.region}:{secret.account}:{MANAGED_ALIAS}"


def _kms_code(err: Exception) -> str | None:
    code = getattr(err, "code", None)
    return code if isinstance(code, str) else None


def seal(
    call: Call, secret: Secret, version_id: str, value: bytes, kind: str, key_id: str | None = None
) -> tuple[bytes, str, bytes]:
    """(wrapped data key, the key's ARN, sealed value) for a new version."""
    try:
        dk = kms.generate_data_key(
            call, key_for(call, secret, key_id), encryption_context=context(secret.arn, version_id)
        )
    except Exception as err:
        raise _error(err, writing=True) from None
    plain = dk["Plaintext"]
    sealed = Sealer(plain).seal(value, _aad(secret.arn, version_id, kind))
    return dk["CiphertextBlob"], dk["KeyId"], sealed


def open_value(call: Call, secret_arn: str, version: Any) -> bytes:
    """The value of a version, its data key unwrapped by KMS for the caller."""
    try:
        out = kms.decrypt(
            call, version.data_key, encryption_context=context(secret_arn, version.version_id)
        )
    except Exception as err:
        raise _error(err, writing=False) from None
    try:
        return Sealer(out["Plaintext"]).unseal(
            version.sealed, _aad(secret_arn, version.version_id, version.kind)
        )
    except (SealError, ValueError):
        raise errors.DecryptionFailure(DECRYPTION_FAILURE) from None


def _error(err: Exception, *, writing: bool) -> Exception:
    """Secrets Manager's error for a KMS error (`err` itself for any other)."""
    code = _kms_code(err)
    if code is None:
        return err
    if code == "AccessDeniedException":
        return errors.AccessDeniedException(KMS_DENIED)
    if writing:
        return errors.EncryptionFailure(ENCRYPTION_FAILURE) if code in _UNUSABLE else err
    if code in _UNUSABLE:
        return errors.InvalidRequestException(getattr(err, "message", DECRYPTION_FAILURE))
    return errors.DecryptionFailure(DECRYPTION_FAILURE)


def as_bytes(secret_string: str | None, secret_binary: bytes | None) -> tuple[bytes, str] | None:
    """The value a request carries, as stored: (bytes, kind), or None."""
    if secret_string is not None:
        return secret_string.encode(), STRING
    if secret_binary is not None:
        return bytes(secret_binary), BINARY
    return None


def value_members(value: bytes, kind: str) -> dict[str, Any]:
    """SecretString or SecretBinary, as the value was given."""
    if kind == STRING:
        return {"SecretString": value.decode()}
    return {"SecretBinary": value}
