"""KMS cryptographic operations: encrypt, decrypt, data keys, signatures, MACs,
key agreement, random bytes."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.kms import access, data, keys
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms.keys import Key
from strongroom.services.kms.service import errors, service
from strongroom.services.kms.specs import ALGORITHM_MEMBER, DATA_KEY_PAIR_SPECS
from strongroom.services.kms.states import KeyUsage

#: Key usages as module constants (a global is cheaper than an enum attribute
#: on the hot path).
_ENCRYPT_DECRYPT = KeyUsage.ENCRYPT_DECRYPT
_SIGN_VERIFY = KeyUsage.SIGN_VERIFY
_GENERATE_VERIFY_MAC = KeyUsage.GENERATE_VERIFY_MAC
_KEY_AGREEMENT = KeyUsage.KEY_AGREEMENT

KEY_TYPE = "AWS::KMS::Key"


def _use(
    call: Call,
    key_id: str,
    operation: str,
    usage: KeyUsage,
    *,
    context: dict[str, str] | None = None,
    grant_tokens: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Key:
    key = keys.resolve(call, key_id)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(
        call,
        key,
        f"kms:{operation}",
        encryption_context=context,
        grant_tokens=grant_tokens,
        extra=_request_alias(key_id, extra),
    )
    key.require_state(operation)
    key.require_usage(usage, operation)
    return key


def _request_alias(key_id: str, extra: dict[str, Any] | None) -> dict[str, Any] | None:
    if "alias/" not in key_id:
        return extra
    alias = key_id[key_id.index("alias/") :]
    return {**(extra or {}), "kms:RequestAlias": alias}


@service.operation(authorize=False)
def encrypt(
    call: Call,
    KeyId: str,
    Plaintext: bytes,
    EncryptionContext: dict[str, str] | None = None,
    GrantTokens: list[str] | None = None,
    EncryptionAlgorithm: str = "SYMMETRIC_DEFAULT",
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _use(
        call,
        KeyId,
        "Encrypt",
        _ENCRYPT_DECRYPT,
        context=EncryptionContext,
        grant_tokens=GrantTokens,
        extra={"kms:EncryptionAlgorithm": EncryptionAlgorithm},
    )
    key.require_algorithm(EncryptionAlgorithm)
    data.require_symmetric_context(key, EncryptionContext)
    data.dry_run(DryRun)
    blob, _material_id = data.encrypt(call, key, Plaintext, EncryptionContext, EncryptionAlgorithm)
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": EncryptionAlgorithm}


@service.operation(authorize=False)
def decrypt(
    call: Call,
    CiphertextBlob: bytes | None = None,
    EncryptionContext: dict[str, str] | None = None,
    GrantTokens: list[str] | None = None,
    KeyId: str | None = None,
    EncryptionAlgorithm: str = "SYMMETRIC_DEFAULT",
    Recipient: dict[str, Any] | None = None,
    DryRun: bool | None = None,
    DryRunModifiers: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    data.recipient_unsupported(Recipient)
    ignore = bool(DryRun) and "IGNORE_CIPHERTEXT" in (DryRunModifiers or ())
    key, header = data.resolve_for_decrypt(
        call, data.require_blob(CiphertextBlob, KeyId, ignore), KeyId, EncryptionAlgorithm, ignore
    )
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(
        call,
        key,
        "kms:Decrypt",
        encryption_context=EncryptionContext,
        grant_tokens=GrantTokens,
        extra=_request_alias(KeyId or "", {"kms:EncryptionAlgorithm": EncryptionAlgorithm}),
        from_ciphertext=KeyId is None,
    )
    key.require_state("Decrypt")
    key.require_usage(_ENCRYPT_DECRYPT, "Decrypt")
    key.require_algorithm(EncryptionAlgorithm)
    data.require_symmetric_context(key, EncryptionContext)
    if ignore:
        data.dry_run(DryRun)
    plaintext, material_id = data.open_blob(
        call, key, header, CiphertextBlob or b"", EncryptionContext, EncryptionAlgorithm
    )
    data.dry_run(DryRun)
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": EncryptionAlgorithm,
    }
    if material_id:
        out["KeyMaterialId"] = material_id
    return out


@service.operation(authorize=False)
def re_encrypt(
    call: Call,
    DestinationKeyId: str,
    CiphertextBlob: bytes | None = None,
    SourceEncryptionContext: dict[str, str] | None = None,
    SourceKeyId: str | None = None,
    DestinationEncryptionContext: dict[str, str] | None = None,
    SourceEncryptionAlgorithm: str = "SYMMETRIC_DEFAULT",
    DestinationEncryptionAlgorithm: str = "SYMMETRIC_DEFAULT",
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    DryRunModifiers: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    ignore = bool(DryRun) and "IGNORE_CIPHERTEXT" in (DryRunModifiers or ())
    source, header = data.resolve_for_decrypt(
        call,
        data.require_blob(CiphertextBlob, SourceKeyId, ignore),
        SourceKeyId,
        SourceEncryptionAlgorithm,
        ignore,
    )
    dest = keys.resolve(call, DestinationKeyId)
    call.audit_resource(source.arn, KEY_TYPE, source.account)
    if dest.arn != source.arn:
        call.audit_resource(dest.arn, KEY_TYPE, dest.account)
    same = "true" if (source.account, source.key_id) == (dest.account, dest.key_id) else "false"
    access.authorize(
        call,
        source,
        "kms:ReEncryptFrom",
        encryption_context=SourceEncryptionContext,
        grant_tokens=GrantTokens,
        grant_operation="ReEncryptFrom",
        extra={"kms:ReEncryptOnSameKey": same},
    )
    source.require_state("ReEncrypt")
    source.require_usage(_ENCRYPT_DECRYPT, "ReEncrypt")
    source.require_algorithm(SourceEncryptionAlgorithm)
    access.authorize(
        call,
        dest,
        "kms:ReEncryptTo",
        encryption_context=DestinationEncryptionContext,
        grant_tokens=GrantTokens,
        grant_operation="ReEncryptTo",
        extra={"kms:ReEncryptOnSameKey": same},
    )
    dest.require_state("ReEncrypt")
    dest.require_usage(_ENCRYPT_DECRYPT, "ReEncrypt")
    dest.require_algorithm(DestinationEncryptionAlgorithm)
    data.require_symmetric_context(dest, DestinationEncryptionContext)
    if ignore:
        data.dry_run(DryRun)
    plaintext, source_mid = data.open_blob(
        call,
        source,
        header,
        CiphertextBlob or b"",
        SourceEncryptionContext,
        SourceEncryptionAlgorithm,
    )
    data.dry_run(DryRun)
    blob, dest_mid = data.encrypt(
        call, dest, plaintext, DestinationEncryptionContext, DestinationEncryptionAlgorithm
    )
    out: dict[str, Any] = {
        "CiphertextBlob": blob,
        "SourceKeyId": source.arn,
        "KeyId": dest.arn,
        "SourceEncryptionAlgorithm": SourceEncryptionAlgorithm,
        "DestinationEncryptionAlgorithm": DestinationEncryptionAlgorithm,
    }
    if source_mid:
        out["SourceKeyMaterialId"] = source_mid
    if dest_mid:
        out["DestinationKeyMaterialId"] = dest_mid
    return out


def _generate_data_key(
    call: Call,
    operation: str,
    KeyId: str,
    EncryptionContext: dict[str, str] | None,
    NumberOfBytes: int | None,
    KeySpec: str | None,
    GrantTokens: list[str] | None,
    DryRun: bool | None,
) -> tuple[Key, bytes, bytes, str | None]:
    size = data.data_key_size(KeySpec, NumberOfBytes)
    key = _use(
        call,
        KeyId,
        operation,
        _ENCRYPT_DECRYPT,
        context=EncryptionContext,
        grant_tokens=GrantTokens,
    )
    if not key.is_symmetric:
        raise errors.InvalidKeyUsageException(
            f"{key.arn} key usage is ENCRYPT_DECRYPT but key spec {key.key_spec} "
            f"is not valid for {operation}."
        )
    data.dry_run(DryRun)
    plaintext = data.random(size)
    blob, material_id = data.encrypt(call, key, plaintext, EncryptionContext, data.SYMMETRIC)
    return key, plaintext, blob, material_id


@service.operation(authorize=False)
def generate_data_key(
    call: Call,
    KeyId: str,
    EncryptionContext: dict[str, str] | None = None,
    NumberOfBytes: int | None = None,
    KeySpec: str | None = None,
    GrantTokens: list[str] | None = None,
    Recipient: dict[str, Any] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    data.recipient_unsupported(Recipient)
    key, plaintext, blob, material_id = _generate_data_key(
        call,
        "GenerateDataKey",
        KeyId,
        EncryptionContext,
        NumberOfBytes,
        KeySpec,
        GrantTokens,
        DryRun,
    )
    out = {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}
    if material_id:
        out["KeyMaterialId"] = material_id
    return out


@service.operation(authorize=False)
def generate_data_key_without_plaintext(
    call: Call,
    KeyId: str,
    EncryptionContext: dict[str, str] | None = None,
    KeySpec: str | None = None,
    NumberOfBytes: int | None = None,
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key, _plaintext, blob, material_id = _generate_data_key(
        call,
        "GenerateDataKeyWithoutPlaintext",
        KeyId,
        EncryptionContext,
        NumberOfBytes,
        KeySpec,
        GrantTokens,
        DryRun,
    )
    out: dict[str, Any] = {"CiphertextBlob": blob, "KeyId": key.arn}
    if material_id:
        out["KeyMaterialId"] = material_id
    return out


def _generate_pair(
    call: Call,
    operation: str,
    KeyId: str,
    KeyPairSpec: str,
    EncryptionContext: dict[str, str] | None,
    GrantTokens: list[str] | None,
    DryRun: bool | None,
) -> tuple[dict[str, Any], bytes]:
    """The response both pair operations share, and the private key's plaintext."""
    key = _use(
        call,
        KeyId,
        operation,
        _ENCRYPT_DECRYPT,
        context=EncryptionContext,
        grant_tokens=GrantTokens,
        extra={"kms:DataKeyPairSpec": KeyPairSpec},
    )
    if not key.is_symmetric:
        raise errors.InvalidKeyUsageException(
            f"{key.arn} key spec {key.key_spec} is not valid for {operation}."
        )
    if KeyPairSpec not in DATA_KEY_PAIR_SPECS:
        raise errors.UnsupportedOperationException(
            f"{KeyPairSpec} key pairs are not supported in this Region."
        )
    data.dry_run(DryRun)
    private, public = crypto.new_data_key_pair(KeyPairSpec)
    blob, material_id = data.encrypt(call, key, private, EncryptionContext, data.SYMMETRIC)
    out = {
        "PrivateKeyCiphertextBlob": blob,
        "PublicKey": public,
        "KeyId": key.arn,
        "KeyPairSpec": KeyPairSpec,
    }
    if material_id:
        out["KeyMaterialId"] = material_id
    return out, private


@service.operation(authorize=False)
def generate_data_key_pair(
    call: Call,
    KeyId: str,
    KeyPairSpec: str,
    EncryptionContext: dict[str, str] | None = None,
    GrantTokens: list[str] | None = None,
    Recipient: dict[str, Any] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    data.recipient_unsupported(Recipient)
    out, private = _generate_pair(
        call, "GenerateDataKeyPair", KeyId, KeyPairSpec, EncryptionContext, GrantTokens, DryRun
    )
    out["PrivateKeyPlaintext"] = private
    return out


@service.operation(authorize=False)
def generate_data_key_pair_without_plaintext(
    call: Call,
    KeyId: str,
    KeyPairSpec: str,
    EncryptionContext: dict[str, str] | None = None,
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    out, _private = _generate_pair(
        call,
        "GenerateDataKeyPairWithoutPlaintext",
        KeyId,
        KeyPairSpec,
        EncryptionContext,
        GrantTokens,
        DryRun,
    )
    return out


@service.operation(authorize=False)
def generate_random(
    call: Call,
    NumberOfBytes: int | None = None,
    CustomKeyStoreId: str | None = None,
    Recipient: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    access.authorize_account(call, "kms:GenerateRandom")
    if CustomKeyStoreId is not None:
        raise errors.CustomKeyStoreNotFoundException(
            f"Custom key store {CustomKeyStoreId} does not exist."
        )
    data.recipient_unsupported(Recipient)
    if NumberOfBytes is None:
        raise errors.ValidationException(
            "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy "
            "constraint: Member must not be null"
        )
    return {"Plaintext": data.random(NumberOfBytes)}


# --------------------------------------------------------------------------- signatures


def _crypto_input(exc: crypto.CryptoInputError) -> Exception:
    return errors.ValidationException(str(exc))


@service.operation(authorize=False)
def sign(
    call: Call,
    KeyId: str,
    Message: bytes,
    SigningAlgorithm: str,
    MessageType: str = "RAW",
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key, material = _signing_key(
        call, KeyId, "Sign", SigningAlgorithm, MessageType, GrantTokens, DryRun
    )
    try:
        signature = material.sign(SigningAlgorithm, Message, MessageType)
    except crypto.CryptoInputError as exc:
        raise _crypto_input(exc) from None
    return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": SigningAlgorithm}


def _signing_key(
    call: Call,
    key_id: str,
    operation: str,
    algorithm: str,
    message_type: str,
    grant_tokens: list[str] | None,
    dry_run: bool | None,
) -> tuple[Key, Any]:
    """What Sign and Verify share: audit, authorize, check, then the material."""
    key = _use(
        call,
        key_id,
        operation,
        _SIGN_VERIFY,
        grant_tokens=grant_tokens,
        extra={"kms:SigningAlgorithm": algorithm, "kms:MessageType": message_type},
    )
    key.require_algorithm(algorithm)
    _require_message_type(algorithm, message_type)
    data.dry_run(dry_run)
    return key, keys.material_of(call.conn, call.sealer, key)


def _require_message_type(algorithm: str, message_type: str) -> None:
    if message_type == "EXTERNAL_MU" or (algorithm.startswith("ED25519") and message_type != "RAW"):
        raise errors.ValidationException(
            f"MessageType {message_type} is not supported with {algorithm}."
        )


@service.operation(authorize=False)
def verify(
    call: Call,
    KeyId: str,
    Message: bytes,
    Signature: bytes,
    SigningAlgorithm: str,
    MessageType: str = "RAW",
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key, material = _signing_key(
        call, KeyId, "Verify", SigningAlgorithm, MessageType, GrantTokens, DryRun
    )
    try:
        valid = material.verify(SigningAlgorithm, Message, MessageType, Signature)
    except crypto.CryptoInputError as exc:
        raise _crypto_input(exc) from None
    if not valid:
        raise errors.KMSInvalidSignatureException("")
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": SigningAlgorithm}


def _mac_key(
    call: Call,
    key_id: str,
    operation: str,
    algorithm: str,
    grant_tokens: list[str] | None,
    dry_run: bool | None,
) -> tuple[Key, Any]:
    """What GenerateMac and VerifyMac share: audit, authorize, check, then the material."""
    key = _use(
        call,
        key_id,
        operation,
        _GENERATE_VERIFY_MAC,
        grant_tokens=grant_tokens,
        extra={"kms:MacAlgorithm": algorithm},
    )
    key.require_algorithm(algorithm)
    data.dry_run(dry_run)
    return key, keys.material_of(call.conn, call.sealer, key)


@service.operation(authorize=False)
def generate_mac(
    call: Call,
    Message: bytes,
    KeyId: str,
    MacAlgorithm: str,
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key, material = _mac_key(call, KeyId, "GenerateMac", MacAlgorithm, GrantTokens, DryRun)
    return {
        "Mac": material.mac(MacAlgorithm, Message),
        "MacAlgorithm": MacAlgorithm,
        "KeyId": key.arn,
    }


@service.operation(authorize=False)
def verify_mac(
    call: Call,
    Message: bytes,
    KeyId: str,
    MacAlgorithm: str,
    Mac: bytes,
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key, material = _mac_key(call, KeyId, "VerifyMac", MacAlgorithm, GrantTokens, DryRun)
    if not material.verify(MacAlgorithm, Message, Mac):
        raise errors.KMSInvalidMacException("")
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": MacAlgorithm}


@service.operation(authorize=False)
def derive_shared_secret(
    call: Call,
    KeyId: str,
    KeyAgreementAlgorithm: str,
    PublicKey: bytes,
    GrantTokens: list[str] | None = None,
    DryRun: bool | None = None,
    Recipient: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    data.recipient_unsupported(Recipient)
    key = _use(
        call,
        KeyId,
        "DeriveSharedSecret",
        _KEY_AGREEMENT,
        grant_tokens=GrantTokens,
        extra={"kms:KeyAgreementAlgorithm": KeyAgreementAlgorithm},
    )
    key.require_algorithm(KeyAgreementAlgorithm)
    data.dry_run(DryRun)
    material = keys.material_of(call.conn, call.sealer, key)
    try:
        secret = material.derive_shared_secret(PublicKey)
    except crypto.CryptoInputError as exc:
        raise _crypto_input(exc) from None
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "KeyAgreementAlgorithm": KeyAgreementAlgorithm,
        "KeyOrigin": key.origin,
    }


@service.operation(authorize=False)
def get_public_key(
    call: Call, KeyId: str, GrantTokens: list[str] | None = None, **_: Any
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:GetPublicKey", grant_tokens=GrantTokens)
    key.require_state("GetPublicKey")
    if not key.spec.asymmetric or key.public_key is None:
        raise errors.UnsupportedOperationException(
            f"{key.arn} key spec {key.key_spec} does not have a public key."
        )
    return {
        "KeyId": key.arn,
        "PublicKey": key.public_key,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
        ALGORITHM_MEMBER[key.key_usage]: list(key.spec.usages[key.key_usage]),
    }
