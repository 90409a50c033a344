"""KMS for the other services of this server (Secrets Manager, RDS, S3, SSM…).

Each function takes the *calling* service's `Call`: its principal is the one
authorized (with ``kms:ViaService`` set to ``<service>.<region>.amazonaws.com``),
its store connection is used, and the key is looked up in its account and
Region. Errors are KMS's own (``DisabledException``, ``NotFoundException``,
``AccessDeniedException``, ``InvalidCiphertextException``…, each with its
``.code`` and ``.message``): a calling service either lets them through or maps
them by ``.code`` to its own error (e.g. RDS's ``KMSKeyNotAccessibleFault``).

    from strongroom.services.kms import api as kms

    arn = kms.aws_managed_key(call, "secretsmanager")
    dk = kms.generate_data_key(call, arn, encryption_context={"SecretARN": secret_arn})
    ... encrypt with dk["Plaintext"], keep dk["CiphertextBlob"] ...
    plain = kms.decrypt(call, blob, encryption_context={...})["Plaintext"]
"""

from __future__ import annotations

from typing import Any

from strongroom.services.base import Call
from strongroom.services.kms import access, data, grant_store, keys, managed
from strongroom.services.kms.keys import Key


def _via(call: Call, via_service: str | None) -> str:
    return via_service or f"{call.service.name}.{call.region}.amazonaws.com"


def aws_managed_key(
    call: Call,
    service_name: str,
    *,
    account: str | None = None,
    region: str | None = None,
) -> str:
    """The ARN of ``alias/aws/<service_name>`` in the account and Region, created
    (KeyManager AWS, yearly rotation) on first use."""
    key = managed.ensure(call, account or call.account, region or call.region, service_name)
    return key.arn


def _use(
    call: Call,
    key_id: str,
    operation: str,
    context: dict[str, str] | None,
    via_service: str | None,
) -> Key:
    key = keys.resolve(call, key_id, create_managed=True)
    access.authorize(
        call,
        key,
        f"kms:{operation}",
        encryption_context=context,
        via_service=_via(call, via_service),
    )
    key.require_state(operation)
    key.require_usage("ENCRYPT_DECRYPT", operation)
    return key


def describe_key(call: Call, key_id: str, *, via_service: str | None = None) -> dict[str, Any]:
    key = keys.resolve(call, key_id, create_managed=True)
    access.authorize(call, key, "kms:DescribeKey", via_service=_via(call, via_service))
    return key.to_key_metadata(call.conn)


def encrypt(
    call: Call,
    key_id: str,
    plaintext: bytes,
    *,
    encryption_context: dict[str, str] | None = None,
    via_service: str | None = None,
) -> dict[str, Any]:
    """Encrypt's output: CiphertextBlob, KeyId (the key ARN), EncryptionAlgorithm."""
    key = _use(call, key_id, "Encrypt", encryption_context, via_service)
    key.require_algorithm(data.SYMMETRIC)
    blob, _ = data.encrypt(call, key, plaintext, encryption_context, data.SYMMETRIC)
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": data.SYMMETRIC}


def generate_data_key(
    call: Call,
    key_id: str,
    *,
    key_spec: str | None = "AES_256",
    number_of_bytes: int | None = None,
    encryption_context: dict[str, str] | None = None,
    via_service: str | None = None,
) -> dict[str, Any]:
    """GenerateDataKey's output: Plaintext, CiphertextBlob, KeyId, KeyMaterialId."""
    size = data.data_key_size(None if number_of_bytes else key_spec, number_of_bytes)
    key = _use(call, key_id, "GenerateDataKey", encryption_context, via_service)
    key.require_algorithm(data.SYMMETRIC)
    plaintext = data.random(size)
    blob, mid = data.encrypt(call, key, plaintext, encryption_context, data.SYMMETRIC)
    return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": key.arn, "KeyMaterialId": mid}


def decrypt(
    call: Call,
    ciphertext: bytes,
    *,
    encryption_context: dict[str, str] | None = None,
    key_id: str | None = None,
    via_service: str | None = None,
) -> dict[str, Any]:
    """Decrypt's output: Plaintext, KeyId (the key ARN), EncryptionAlgorithm."""
    key, header = data.resolve_for_decrypt(call, ciphertext, key_id, data.SYMMETRIC)
    access.authorize(
        call,
        key,
        "kms:Decrypt",
        encryption_context=encryption_context,
        via_service=_via(call, via_service),
    )
    key.require_state("Decrypt")
    key.require_usage("ENCRYPT_DECRYPT", "Decrypt")
    plaintext, _ = data.open_blob(call, key, header, ciphertext, encryption_context, data.SYMMETRIC)
    return {"Plaintext": plaintext, "KeyId": key.arn, "EncryptionAlgorithm": data.SYMMETRIC}


def create_grant(
    call: Call,
    key_id: str,
    grantee_principal: str,
    operations: list[str],
    *,
    retiring_principal: str | None = None,
    constraints: dict[str, Any] | None = None,
    name: str | None = None,
    via_service: str | None = None,
) -> dict[str, Any]:
    """CreateGrant for an AWS resource (``kms:GrantIsForAWSResource`` true), as
    RDS or Secrets Manager make them for the keys of their resources."""
    key = keys.resolve(call, key_id, create_managed=True)
    extra: dict[str, Any] = {
        "kms:GranteePrincipal": grantee_principal,
        "kms:GrantOperations": list(operations),
    }
    if retiring_principal:
        extra["kms:RetiringPrincipal"] = retiring_principal
    access.authorize(call, key, "kms:CreateGrant", via_service=_via(call, via_service), extra=extra)
    key.require_state("CreateGrant")
    grant_id, token = grant_store.create(
        call,
        key,
        grantee=grantee_principal,
        operations=operations,
        retiring=retiring_principal,
        constraints=constraints,
        name=name,
    )
    return {"GrantId": grant_id, "GrantToken": token, "KeyId": key.arn}


def retire_grant(call: Call, key_id: str, grant_id: str) -> None:
    """Retire a grant the calling service made (when its resource goes away)."""
    key = keys.resolve(call, key_id, create_managed=True)
    grant_store.delete(call, key, grant_id)
