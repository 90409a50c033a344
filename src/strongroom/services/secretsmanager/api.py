"""Secrets Manager for the other services of this server: the secrets a
service manages for its resources (RDS's master user secrets).

    from strongroom.services.secretsmanager import api as secretsmanager

    out = secretsmanager.create_managed_secret(
        call, "rds", name="rds!db-<uuid>", value={"username": u, "password": p},
        kms_key_id=None, tags=[{"Key": "aws:rds:primaryDBInstanceArn", "Value": arn}],
        description="…",
    )
    out["ARN"], out["KmsKeyId"]                      # the secret, its key's ARN
    secretsmanager.rotate_managed_secret(call, arn)   # RotateSecret, now
    secretsmanager.delete_managed_secret(call, arn)   # DeleteSecret, for good
    secretsmanager.register_rotator("rds", fn)        # fn(work, arn, value)

Each call is the Secrets Manager operation of that name, made through
`Call.invoke` on the caller's behalf (its own permissions, recorded in
CloudTrail with ``invokedBy`` the calling service); the secret it creates is
owned by the calling service (`managed`). Errors are Secrets Manager's own.
The rotator is called from Secrets Manager's background work with the
secret's new value (a dict) when a rotation must set it (on the schedule,
or RotateSecret): it sets the password where it is used, or raises.
"""

from __future__ import annotations

from typing import Any

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.services.secretsmanager import managed, secrets, versions
from strongroom.services.secretsmanager.managed import Rotator

__all__ = [
    "Rotator",
    "create_managed_secret",
    "delete_managed_secret",
    "new_password",
    "register_rotator",
    "rotate_managed_secret",
]


def register_rotator(owner: str, rotator: Rotator) -> None:
    managed.ROTATORS[owner] = rotator


def new_password() -> str:
    """A password as Secrets Manager generates one for a managed secret."""
    return managed.new_password()


def create_managed_secret(
    call: Call,
    *,
    name: str,
    value: dict[str, Any],
    kms_key_id: str | None,
    tags: list[dict[str, str]],
    description: str,
) -> dict[str, Any]:
    """CreateSecret of a secret the calling service owns: ARN, KmsKeyId (the
    ARN of the key its value is encrypted under)."""
    params: dict[str, Any] = {
        "Name": name,
        "SecretString": json_text(value),
        "Tags": tags,
        "Description": description,
    }
    if kms_key_id:
        params["KmsKeyId"] = kms_key_id
    out = call.invoke("secretsmanager", "CreateSecret", **params)
    version = versions.find_by_label(call, out["ARN"], versions.CURRENT)
    return {"ARN": out["ARN"], "KmsKeyId": version.key_arn if version else None}


def rotate_managed_secret(call: Call, arn: str) -> None:
    """RotateSecret (now) of a managed secret."""
    call.invoke("secretsmanager", "RotateSecret", SecretId=arn)


def delete_managed_secret(call: Call, arn: str) -> None:
    """DeleteSecret, without a recovery window, of a managed secret (one
    already gone is not an error)."""
    if secrets.find_by_arn(call, arn) is None:
        return
    call.invoke("secretsmanager", "DeleteSecret", SecretId=arn, ForceDeleteWithoutRecovery=True)
