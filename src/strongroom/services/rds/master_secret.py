"""The managed master user password (ManageMasterUserPassword): RDS makes
the password, keeps it in a Secrets Manager secret it owns, and rotates it,
for DB instances and for Aurora DB clusters alike.

The secret (``rds!db-<uuid>`` for an instance, ``rds!cluster-<uuid>`` for a
cluster; OwningService ``rds``) is created through Secrets Manager's api on
the caller's behalf (CreateSecret invokedBy ``rds.amazonaws.com``, with the
caller's permissions, as on AWS), encrypted under MasterUserSecretKmsKeyId
or ``aws/secretsmanager``, tagged ``aws:rds:primaryDBInstanceArn`` /
``aws:rds:primaryDBClusterArn``, holding ``{"username", "password"}``, and
rotated every 7 days by Secrets Manager's managed rotation (no Lambda):
Secrets Manager stages the new value and calls `rotate_password` here, which
sets it on the running engine (a cluster's: its writer; readers follow by
replication). The instance or cluster keeps only the secret's ARN and key
(attrs ``MasterUserSecret``): never the password (a cluster keeps its SCRAM
verifier, as for a password of the caller's).
"""

from __future__ import annotations

import logging
from typing import Any

from strongroom.engines.driver import EngineError
from strongroom.engines.postgres import scram
from strongroom.engines.postgres.credentials import set_verifier
from strongroom.framework import Background, Call
from strongroom.ids import uuid4
from strongroom.services.rds import clusters, model, records
from strongroom.services.rds.service import ENGINES, errors
from strongroom.services.secretsmanager import api as secretsmanager

log = logging.getLogger("strongroom.services.rds")

TAG = "aws:rds:primaryDBInstanceArn"
#: What the secret of each kind of owner is called, tagged and described with.
_KINDS = {
    "db": ("rds!db-", TAG, "primary RDS DB instance"),
    "cluster": ("rds!cluster-", "aws:rds:primaryDBClusterArn", "primary RDS DB cluster"),
}


def new_password() -> str:
    return secretsmanager.new_password()


def create(
    call: Call, rec: records.Record, password: str, kms_key_id: str | None, kind: str = "db"
) -> dict[str, Any]:
    """The instance's (`kind` "db") or cluster's ("cluster") secret:
    MasterUserSecret as its descriptions show it (kept in its attrs)."""
    prefix, tag, words = _KINDS[kind]
    try:
        out = secretsmanager.create_managed_secret(
            call,
            name=f"{prefix}{uuid4()}",
            value={"username": rec["master_username"], "password": password},
            kms_key_id=kms_key_id,
            tags=[{"Key": tag, "Value": rec["arn"]}],
            description=f"Secret associated with {words}: {rec['arn']}",
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
    instance's engine, or on its cluster's writer (raises when it can't be:
    the rotation fails)."""
    with work.transaction() as run:
        rec = next(
            (
                r
                for r in records.all_instances(run.conn)
                if (of(r) or {}).get("SecretArn") == secret_arn
            ),
            None,
        )
        parts = secret_arn.split(":")
        cluster = (
            next(
                (
                    c
                    for c in clusters.list_all(run.conn, parts[4], parts[3])
                    if (of(c) or {}).get("SecretArn") == secret_arn
                ),
                None,
            )
            if rec is None and len(parts) >= 7
            else None
        )
    if cluster is not None:
        _rotate_cluster(work, cluster, value["password"])
        return
    if rec is None:
        raise LookupError("no DB instance or cluster has this secret")
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


def _rotate_cluster(work: Background, cluster: records.Record, password: str) -> None:
    """The cluster's new password: on its running writer first (readers get
    it by replication), then its verifier, which instances added later take."""
    verifier = scram.verifier(password)
    if cluster["writer"] is not None:
        sup = work.runtime.resource(ENGINES)
        inst = sup.open(cluster["writer"])
        if inst is None or not sup.running(cluster["writer"]):
            raise EngineError(f"the writer of {cluster['identifier']} is not running")
        set_verifier(sup.postgres, inst, cluster["master_username"], verifier)
    with work.transaction(write=True) as run:
        current = clusters.by_resource(run.conn, cluster["resource_id"])
        if current is None:
            return
        clusters.update_cluster(run.conn, current["resource_id"], master_verifier=verifier)
        clusters.add_event(run, current, "Reset master credentials", ["configuration change"])


secretsmanager.register_rotator("rds", rotate_password)
