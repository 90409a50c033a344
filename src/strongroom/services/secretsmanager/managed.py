"""Secrets managed by another service (OwningService), and their managed
rotation: the owning service rotates, with no Lambda function.

A secret is managed when another service creates it on its caller's
behalf (`Call.invoke` from that service: the call came *via* it) under the
name that service uses (RDS: ``rds!db-<uuid>``). It then:

* shows ``OwningService`` (DescribeSecret, ListSecrets' owning-service filter);
* refuses, to anyone but that service, what would change it: PutSecretValue,
  UpdateSecret, UpdateSecretVersionStage, DeleteSecret, CancelRotateSecret,
  Put/DeleteResourcePolicy, and RotateSecret with a function
  (InvalidRequestException); reading it, RotateSecret without a function
  (rotate now, or a new schedule) and tagging stay the caller's;
* rotates on its schedule (7 days unless RotateSecret changes it) and on
  demand: this module's background work stages a new password under
  AWSPENDING, asks the owning service's rotator (`register_rotator`) to set
  it on the database, then moves AWSCURRENT (the old value AWSPREVIOUS), each
  recorded as RotationStarted / RotationSucceeded / RotationFailed.

With no caller there, Secrets Manager acts as itself
(``secretsmanager.amazonaws.com``): at creation it takes a grant on the
secret's KMS key (GenerateDataKey and Decrypt, constrained to the secret's
ARN in the encryption context), made for the caller as for any secret
value, and the rotation uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from strongroom.encoding import json_text, json_value
from strongroom.framework import Background, Call, JobRun, acting_as
from strongroom.services.kms import api as kms
from strongroom.services.secretsmanager import (
    envelope,
    passwords,
    rotation,
    secrets,
    values,
    versions,
)
from strongroom.services.secretsmanager.secrets import SECRET_TYPE, Secret
from strongroom.services.secretsmanager.service import service

log = logging.getLogger("strongroom.secretsmanager")

PRINCIPAL = rotation.PRINCIPAL
#: The services that manage secrets, and the name prefixes theirs carry.
OWNERS = {"rds": "rds!"}
PREFIXES = tuple(OWNERS.values())
#: Default rotation of a managed secret, as RDS sets it.
DEFAULT_RULES = {"AutomaticallyAfterDays": 7}

#: The owning service's rotator: (work, secret ARN, its new value) -> None;
#: raises to fail the rotation. It sets the new password where it is used.
Rotator = Callable[[Background, str, dict[str, Any]], None]
ROTATORS: dict[str, Rotator] = {}
#: Characters a generated password leaves out (the ones RDS refuses).
EXCLUDED = "/@\"' \\`"


def adopt(call: Call, secret: Secret, owner: str) -> None:
    """Make a new secret `owner`'s: OwningService, and rotation on by default."""
    now = call.clock.timestamp()
    secret.owning_service = owner
    secret.rotation_enabled = True
    secret.rotation_rules = dict(DEFAULT_RULES)
    secret.next_rotation = rotation.next_start(secret, now)


def grant_to_secretsmanager(call: Call, secret: Secret, key_arn: str | None) -> None:
    """The grant managed rotation uses on the secret's key (see the module)."""
    if key_arn is None:
        return
    kms.create_grant(
        call,
        key_arn,
        PRINCIPAL,
        ["Decrypt", "GenerateDataKey"],
        retiring_principal=PRINCIPAL,
        constraints={"EncryptionContextSubset": {"SecretARN": secret.arn}},
        name=secret.arn.rsplit(":", 1)[-1].replace("!", "-"),
    )


def as_secretsmanager(run: JobRun, account: str, region: str, operation: str) -> Call:
    """A `Call` of Secrets Manager acting as itself, in `run`'s transaction."""
    return acting_as(run, service, PRINCIPAL, account=account, region=region, operation=operation)


def new_password() -> str:
    return passwords.generate(32, exclude_characters=EXCLUDED)


def _event(
    run: JobRun, name: str, arn: str, account: str, region: str, token: str, **more: Any
) -> None:
    run.service_event(
        name,
        account,
        region,
        resources=[{"accountId": account, "type": SECRET_TYPE, "ARN": arn}],
        additional={"SecretId": arn},
        invoked_by=PRINCIPAL,
        request_id=f"Rotation-{arn}-{token}",
        **more,
    )


def _stage(run: JobRun, secret: Secret, token: str) -> dict[str, Any]:
    """The rotation's new value under AWSPENDING (kept if a retry finds one)."""
    ctx = as_secretsmanager(run, secret.account, secret.region, "RotateSecret")
    pending = versions.find(ctx, secret.arn, token)
    if pending is not None and pending.has_value:
        return json_value(envelope.open_value(ctx, secret.arn, pending))
    current = versions.find_by_label(ctx, secret.arn, versions.CURRENT)
    value = json_value(envelope.open_value(ctx, secret.arn, current)) if current else {}
    value = {**value, "password": new_password()}
    values.put(ctx, secret, token, json_text(value).encode(), envelope.STRING, [versions.PENDING])
    return value


@service.background
def rotate_managed_secret(work: Background, payload: dict[str, Any]) -> None:
    arn, token = payload["secret"], payload["token"]
    account, region = payload["account"], payload["region"]
    with work.transaction(write=True) as run:
        secret = rotation._still_ours(run, arn, token)
        if secret is None or secret.owning_service not in ROTATORS:
            return
        owner = secret.owning_service
        _event(run, "RotationStarted", arn, account, region, token)
        try:
            value = _stage(run, secret, token)
        except Exception as err:
            code = getattr(err, "code", None)
            if not isinstance(code, str):
                raise
            failure = f"Error when rotating the secret during createSecret step: {code}"
            value = None
    if value is None:
        with work.transaction(write=True) as run:
            _event(run, "RotationFailed", arn, account, region, token, error_message=failure)
        return
    try:
        ROTATORS[owner](work, arn, value)
    except Exception as err:  # the password was not set: AWSCURRENT stays
        log.info("managed rotation of %s: %s", arn, type(err).__name__)
        with work.transaction(write=True) as run:
            _event(
                run, "RotationFailed", arn, account, region, token,
                error_message=f"Error when {owner} set the new password during setSecret step",
            )  # fmt: skip
        return
    with work.transaction(write=True) as run:
        secret = secrets.find_by_arn(run, arn)  # type: ignore[arg-type]
        if secret is None:
            return
        ctx = as_secretsmanager(run, account, region, "RotateSecret")
        versions.attach(ctx, secret, versions.CURRENT, token)
        versions.detach(run.conn, secret, versions.PENDING)
        now = run.clock.timestamp()
        secret.last_rotated = secret.last_changed = now
        secret.next_rotation = rotation.next_start(secret, now) if secret.rotation_enabled else None
        secrets.save(run.conn, secret, "last_rotated", "last_changed", "next_rotation")
        _event(run, "RotationSucceeded", arn, account, region, token)
