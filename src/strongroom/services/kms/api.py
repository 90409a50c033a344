"""KMS for the other services of this server (Secrets Manager, RDS, S3, SSM…).

Each function is the KMS operation of the same name, called through
`Call.invoke` on the *calling* service's `Call`: the very guard sequence a
request from the wire gets (validation, key policy, grants and grant tokens,
the key's state and usage, the symmetric-context rules), authorized for the
caller's principal with ``kms:ViaService`` set to ``<service>.<region>.amazonaws.com``
and ``aws:ViaAWSService`` true, in the caller's account and Region, inside
its transaction — and recorded as KMS's own CloudTrail event with
``invokedBy`` the calling service. Errors are KMS's own (``DisabledException``,
``NotFoundException``, ``AccessDeniedException``, ``InvalidCiphertextException``…,
each with its ``.code`` and ``.message``): a calling service either lets them
through or maps them by ``.code`` to its own error (e.g. RDS's
``KMSKeyNotAccessibleFault``).

    from strongroom.services.kms import api as kms

    arn = kms.aws_managed_key(call, "secretsmanager")
    dk = kms.generate_data_key(call, arn, encryption_context={"SecretARN": secret_arn})
    ... encrypt with dk["Plaintext"], keep dk["CiphertextBlob"] ...
    plain = kms.decrypt(call, blob, encryption_context={...})["Plaintext"]
"""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.kms import grant_store, keys, managed


def _members(**values: Any) -> dict[str, Any]:
    """The members given a value: an absent member is left out, as on the wire."""
    return {name: value for name, value in values.items() if value is not None}


def aws_managed_key(
    call: Call,
    service_name: str,
    *,
    account: str | None = None,
    region: str | None = None,
) -> str:
    """The ARN of ``alias/aws/<service_name>`` in the account and Region, created
    (KeyManager AWS, yearly rotation) on first use, as AWS creates it when a
    service first needs it."""
    key = managed.ensure(call, account or call.account, region or call.region, service_name)
    return key.arn


def describe_key(call: Call, key_id: str) -> dict[str, Any]:
    """DescribeKey's KeyMetadata."""
    return call.invoke("kms", "DescribeKey", KeyId=key_id)["KeyMetadata"]


def encrypt(
    call: Call,
    key_id: str,
    plaintext: bytes,
    *,
    encryption_context: dict[str, str] | None = None,
    grant_tokens: list[str] | None = None,
) -> dict[str, Any]:
    """Encrypt's output: CiphertextBlob, KeyId (the key ARN), EncryptionAlgorithm."""
    return call.invoke(
        "kms",
        "Encrypt",
        **_members(
            KeyId=key_id,
            Plaintext=plaintext,
            EncryptionContext=encryption_context,
            GrantTokens=grant_tokens,
        ),
    )


def generate_data_key(
    call: Call,
    key_id: str,
    *,
    key_spec: str | None = "AES_256",
    number_of_bytes: int | None = None,
    encryption_context: dict[str, str] | None = None,
    grant_tokens: list[str] | None = None,
) -> dict[str, Any]:
    """GenerateDataKey's output: Plaintext, CiphertextBlob, KeyId, KeyMaterialId."""
    return call.invoke(
        "kms",
        "GenerateDataKey",
        **_members(
            KeyId=key_id,
            KeySpec=None if number_of_bytes else key_spec,
            NumberOfBytes=number_of_bytes,
            EncryptionContext=encryption_context,
            GrantTokens=grant_tokens,
        ),
    )


def decrypt(
    call: Call,
    ciphertext: bytes,
    *,
    encryption_context: dict[str, str] | None = None,
    key_id: str | None = None,
    grant_tokens: list[str] | None = None,
) -> dict[str, Any]:
    """Decrypt's output: Plaintext, KeyId (the key ARN), EncryptionAlgorithm."""
    return call.invoke(
        "kms",
        "Decrypt",
        **_members(
            CiphertextBlob=ciphertext,
            EncryptionContext=encryption_context,
            KeyId=key_id,
            GrantTokens=grant_tokens,
        ),
    )


def create_grant(
    call: Call,
    key_id: str,
    grantee_principal: str,
    operations: list[str],
    *,
    retiring_principal: str | None = None,
    constraints: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """CreateGrant for an AWS resource (``kms:GrantIsForAWSResource`` true, as
    it is for any grant a service makes), as RDS or Secrets Manager make them
    for the keys of their resources: GrantId, GrantToken."""
    return call.invoke(
        "kms",
        "CreateGrant",
        **_members(
            KeyId=key_id,
            GranteePrincipal=grantee_principal,
            Operations=list(operations),
            RetiringPrincipal=retiring_principal,
            Constraints=constraints,
            Name=name,
        ),
    )


def retire_grant(call: Call, key_id: str, grant_id: str) -> None:
    """Retire a grant the calling service made, when its resource goes away:
    the service acts as itself here (it is the grant's retiring principal in
    AWS), so no caller's permission is asked."""
    key = keys.resolve(call, key_id, create_managed=True)
    grant_store.delete(call, key, grant_id)


def key_for_service(call: Call, key_id: str) -> dict[str, str]:
    """What a service checks of a key it is configured with, as the service
    itself (CloudTrail reading the key policy it needs): the key's ARN, its
    state and its key policy, with no authorization of the caller.
    NotFoundException (KMS's) when `key_id` names no key of the caller's
    account and Region."""
    key = keys.resolve(call, key_id)
    return {"arn": key.arn, "state": str(key.state.value), "policy": key.policy}
