"""The data plane's shared logic: encrypt and decrypt under a key, find the key
a ciphertext names. Used by the operations and by `api` (other services)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms import keys
from strongroom.services.kms.keys import Key
from strongroom.services.kms.service import errors
from strongroom.services.kms.states import KeyUsage

SYMMETRIC = "SYMMETRIC_DEFAULT"


def invalid_ciphertext() -> Exception:
    return errors.InvalidCiphertextException("")


def require_symmetric_context(key: Key, context: dict[str, str] | None) -> None:
    if context and not key.is_symmetric:
        raise errors.ValidationException(
            "EncryptionContext is not supported for asymmetric KMS keys."
        )


def encrypt(
    call: Call, key: Key, plaintext: bytes, context: dict[str, str] | None, algorithm: str
) -> tuple[bytes, str | None]:
    """(ciphertext, KeyMaterialId or None) of `plaintext` under `key`'s current material."""
    entry = keys.material_entry(call.conn, call.sealer, key)
    if entry is None:  # no material (pending import): the state check said so already
        raise errors.KMSInvalidStateException(f"{key.arn} is pending import.")
    material, material_id = entry
    if algorithm == SYMMETRIC:
        blob = crypto.seal(
            material,
            key.account,
            key.region,
            key.key_id,
            key.current_version,
            plaintext,
            context,
        )
        return blob, material_id
    limit = crypto.rsa_max_plaintext(key.key_spec, algorithm)
    if len(plaintext) > limit:
        raise errors.ValidationException(
            f"Algorithm {algorithm} and key spec {key.key_spec} cannot encrypt data larger "
            f"than {limit} bytes."
        )
    return material.encrypt(algorithm, plaintext), None


def key_of_blob(call: Call, blob: bytes) -> tuple[Key, crypto.BlobHeader]:
    """The key a symmetric ciphertext names, as seen from the caller's Region.

    A multi-Region key's ciphertext opens under any of its replicas; any
    other key's only in its own Region."""
    try:
        header = crypto.parse_header(blob)
    except crypto.CiphertextError:
        raise invalid_ciphertext() from None
    if header.region != call.region and not header.key_id.startswith(keys.MRK_PREFIX):
        raise invalid_ciphertext()
    key = keys.find_cached(call, header.account, call.region, header.key_id)
    if key is None:
        if header.region != call.region:
            raise invalid_ciphertext()
        raise errors.NotFoundException(
            f"Key '{keys.key_arn(header.account, call.region, header.key_id)}' does not exist"
        )
    return key, header


def decrypt_symmetric(
    call: Call, key: Key, blob: bytes, header: crypto.BlobHeader, context: dict[str, str] | None
) -> tuple[bytes, str]:
    """(plaintext, KeyMaterialId) of a symmetric ciphertext."""
    entry = keys.material_entry(call.conn, call.sealer, key, header.version)
    if entry is None:
        raise invalid_ciphertext()
    material, material_id = entry
    try:
        return material.open(blob, header, context), material_id
    except crypto.CiphertextError:
        raise invalid_ciphertext() from None


def decrypt_asymmetric(call: Call, key: Key, blob: bytes, algorithm: str) -> bytes:
    material = keys.material_of(call.conn, call.sealer, key)
    if material is None:
        raise invalid_ciphertext()
    try:
        return material.decrypt(algorithm, blob)
    except crypto.CiphertextError:
        raise invalid_ciphertext() from None


def require_blob(blob: bytes | None, key_id: str | None, ignore_ciphertext: bool) -> bytes:
    """CiphertextBlob may be left out only by a DryRun that ignores it and names the key."""
    if blob is not None:
        return blob
    if ignore_ciphertext and key_id is not None:
        return b""
    raise errors.ValidationException(
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
        "constraint: Member must not be null"
    )


def resolve_for_decrypt(
    call: Call,
    blob: bytes,
    key_id: str | None,
    algorithm: str,
    ignore_ciphertext: bool = False,
) -> tuple[Key, crypto.BlobHeader | None]:
    """The key to decrypt `blob` with, checking a KeyId the caller named. A
    DryRun that ignores the ciphertext checks the named key only."""
    named = keys.resolve(call, key_id) if key_id is not None else None
    if (
        named is not None
        and named.key_usage == KeyUsage.GENERATE_VERIFY_MAC
        and not ignore_ciphertext
    ):
        # An HMAC key never made a ciphertext: not the key that can decrypt it.
        raise incorrect_key()
    if named is not None and (not named.is_symmetric or ignore_ciphertext):
        return named, None
    if algorithm != SYMMETRIC:
        if named is None:
            raise invalid_ciphertext()
        return named, None
    key, header = key_of_blob(call, blob)
    if named is not None and (named.account, named.key_id) != (key.account, key.key_id):
        raise incorrect_key()
    return key, header


def incorrect_key() -> Exception:
    return errors.IncorrectKeyException(
        "The key ID in the request does not identify a CMK that can perform this operation."
    )


def open_blob(
    call: Call,
    key: Key,
    header: crypto.BlobHeader | None,
    blob: bytes,
    context: dict[str, str] | None,
    algorithm: str,
) -> tuple[bytes, str | None]:
    if header is not None:
        return decrypt_symmetric(call, key, blob, header, context)
    return decrypt_asymmetric(call, key, blob, algorithm), None


def data_key_size(key_spec: str | None, number_of_bytes: int | None) -> int:
    if (key_spec is None) == (number_of_bytes is None):
        raise errors.ValidationException("Please specify either number of bytes or key spec.")
    if number_of_bytes is not None:
        return number_of_bytes
    return 16 if key_spec == "AES_128" else 32


def random(n: int) -> bytes:
    return crypto.random_bytes(n)


def dry_run(dry: bool | None) -> None:
    if dry:
        raise errors.DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set."
        )


def recipient_unsupported(recipient: Any) -> None:
    if recipient:
        raise errors.ValidationException(
            "Recipient (Nitro Enclaves attestation) is not supported by this server."
        )
