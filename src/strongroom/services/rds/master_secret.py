"""The managed master user password (ManageMasterUserPassword): RDS makes
the password, keeps it in a Secrets Manager secret it owns, and rotates it.

The secret (``rds!db-<uuid>``, OwningService ``rds``) is created through
Secrets Manager's api on the caller's behalf (CreateSecret invokedBy
``rds.amazonaws.com``, with the caller's permissions, as on AWS), encrypted
under MasterUserSecretKmsKeyId or ``aws/secretsmanager``, tagged
``aws:rds:primaryDBInstanceArn``, holding ``{"username", "password"}``, and
rotated every 7 days by Secrets Manager's managed rotation (no Lambda):
Secrets Manager stages the new value and calls `rotate_password` here, which
sets it on the running engine. The instance keeps only the secret's ARN and
key (attrs ``MasterUserSecret``): never the password.
"""

from __future__ import annotations

import logging
from typing import Any

from strongroom.engines.driver import EngineError
from strongroom.framework import Background, Call
from strongroom.ids import uuid4
from strongroom.services.rds import model, records
from strongroom.services.rds.service import ENGINES, errors
from strongroom.services.secretsmanager import api as secretsmanager

log = logging.getLogger("strongroom.services.rds")

TAG = "aws:rds:primaryDBInstanceArn"


def new_password() -> str:
    return secretsmanager.new_password()


def create(
    call: Call, rec: records.Record, password: str, kms_key_id: str | None
) -> dict[str, Any]:
    """The instance's secret: MasterUserSecret as DB instance descriptions
    show it (kept in the instance's attrs)."""
    try:
        out = secretsmanager.create_managed_secret(
            call,
            name=f"rds!db-{uuid4()}",
            value={"username": rec["master_username"], "password": password},
            kms_key_id=kms_key_id,
            tags=[{"Key": TAG, "Value": rec["arn"]}],
            description=f"Secret associated with primary RDS DB instance: {rec['arn']}",
        )
    except Exception as err:
        code = getattr(err, "code", None)
        if not isinstance(code, str):
            raise
        if code == "AccessDeniedException":
            raise
        if kms_key_id:
            raise errors.KMSKeyNotAccessibleFault(
                f"The specified KMS key [{kms_key_id}] does not exist, is not enabled or you do "
                "not have permissions to access it."
            ) from None
        raise
    return {"SecretArn": out["ARN"], "SecretStatus": "active", "KmsKeyId": out["KmsKeyId"]}


def of(rec: records.Record) -> dict[str, Any] | None:
    return (rec["attrs"] or {}).get("MasterUserSecret")


def delete(call: Call, rec: records.Record) -> None:
    secret = of(rec)
    if secret:
        secretsmanager.delete_managed_secret(call, secret["SecretArn"])


def rotate(call: Call, rec: records.Record) -> None:
    secret = of(rec)
    if secret:
        secretsmanager.rotate_managed_secret(call, secret["SecretArn"])


def rotate_password(work: Background, secret_arn: str, value: dict[str, Any]) -> None:
    """Secrets Manager's managed rotation: the new password set on the
    instance's engine (raises when it can't be: the rotation fails)."""
    with work.transaction() as run:
        rec = next(
            (
                r
                for r in records.all_instances(run.conn)
                if (of(r) or {}).get("SecretArn") == secret_arn
            ),
            None,
        )
    if rec is None:
        raise LookupError("no DB instance has this secret")
    if model.ENGINES[rec["engine"]].real:
        sup = work.runtime.resource(ENGINES)
        inst = sup.open(rec["resource_id"])
        if inst is None or not sup.running(rec["resource_id"]):
            raise EngineError(f"{rec['identifier']} is not running")
        sup.postgres.set_password(inst, rec["master_username"], value["password"])
    with work.transaction(write=True) as run:
        records.add_event(
            run.conn,
            rec["account"],
            rec["region"],
            rec["identifier"],
            "db-instance",
            rec["arn"],
            "Reset master credentials",
            ["configuration change"],
            run.clock.timestamp(),
        )


secretsmanager.register_rotator("rds", rotate_password)
