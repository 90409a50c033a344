"""Rotation: what RotateSecret records, the four steps Secrets Manager runs
through the rotation function, and the schedule that starts them.

A rotation is a version recorded without a value under AWSPENDING (`start`)
and background work (`rotate_secret_steps`, handed off in the same
transaction) that invokes the function once per step — createSecret,
setSecret, testSecret, finishSecret — as ``secretsmanager.amazonaws.com``
(the function's resource policy must allow it, with the secret as
``aws:SourceArn``), each from a read transaction of its own in a server
thread: the function calls back into this server (DescribeSecret,
PutSecretValue, UpdateSecretVersionStage) with its role's credentials.

A step that fails (a function error, or Lambda refusing the invocation)
ends the rotation: AWSCURRENT stays where it was and AWSPENDING stays on
the new version, so the next RotateSecret is refused until it is dealt
with, and the next scheduled window retries it. After finishSecret moved
AWSCURRENT, Secrets Manager takes AWSPENDING off the new version and
records LastRotatedDate; the next window follows from it. Each outcome is
an AwsServiceEvent in CloudTrail as AWS records it: RotationStarted,
RotationSucceeded, RotationFailed (``errorMessage`` "Error when executing
lambda <arn> during <step> step"), with the secret's ARN in
``additionalEventData.SecretId`` and the resources.
"""

from __future__ import annotations

import logging
from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.encoding import json_text
from strongroom.framework import Background, Call, JobRun
from strongroom.ids import uuid4
from strongroom.services.lambda_ import api as lambda_api
from strongroom.services.secretsmanager import schedule, secrets, versions
from strongroom.services.secretsmanager.secrets import SECRET_TYPE, Secret
from strongroom.services.secretsmanager.service import errors, service

#: How soon a due rotation that could not start yet is tried again (clock seconds).
RETRY_SECONDS = 5.0

log = logging.getLogger("strongroom.secretsmanager")

PRINCIPAL = "secretsmanager.amazonaws.com"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

IN_PROGRESS = "A previous rotation isn't complete. That rotation will be reattempted."
NO_ROTATION_FUNCTION = "No Lambda rotation function ARN is associated with this secret."
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)


def function_arn(call: Call, function: str) -> str:
    """The rotation function's ARN as IAM sees it (a bare name is in the
    caller's account and Region)."""
    if function.startswith("arn:"):
        return function
    return make_arn("lambda", call.region, call.account, f"function:{function}")


def require_invokable(call: Call, secret: Secret, function: str) -> None:
    """The caller needs lambda:InvokeFunction on the function (as AWS's
    RotateSecret says), and Lambda must let Secrets Manager invoke it for
    this secret (a DryRun as the service principal: nothing runs)."""
    call.authorize("lambda:InvokeFunction", function_arn(call, function))
    try:
        lambda_api.invoke_as_service(
            call,
            function,
            b"{}",
            principal=PRINCIPAL,
            source_arn=secret.arn,
            source_account=secret.account,
            invocation_type="DryRun",
        )
    except Exception as err:
        if not _is_aws_error(err):
            raise
        raise errors.AccessDeniedException(CANNOT_INVOKE) from None


def _is_aws_error(err: Exception) -> bool:
    """An AWS error answer (Lambda's own: not found, access denied…), as
    opposed to a failure of this server."""
    return isinstance(getattr(err, "code", None), str) and hasattr(err, "message")


def start(ctx: Call | JobRun, secret: Secret, token: str | None) -> tuple[str, bool]:
    """Record the rotation's version under AWSPENDING, without a value (a
    retry of an unfinished rotation keeps its version), and hand the steps
    off to run once this transaction commits; the version id, and whether
    the steps were queued (not while the same rotation still runs: its
    last step may have failed, but its work has not yet let go of it)."""
    held = versions.label_map(ctx, secret.arn)  # type: ignore[arg-type]
    pending = held.get(versions.PENDING)
    if pending is not None and pending != held.get(versions.CURRENT) and token is None:
        version_id = pending
    else:
        version_id = token or uuid4()
        if versions.find(ctx, secret.arn, version_id) is None:  # type: ignore[arg-type]
            versions.add(ctx.conn, secret, version_id, ctx.clock.timestamp(), kind=None)
            secrets.save(ctx.conn, secret, "version_seq")
        versions.attach(ctx, secret, versions.PENDING, version_id)  # type: ignore[arg-type]
    # Keyed by the version: a retry is not queued while that rotation still runs.
    # A secret another service manages is rotated by that service, no function.
    queued = ctx.hand_off(
        "rotate_managed_secret"
        if secret.owning_service and not secret.rotation_lambda_arn
        else "rotate_secret_steps",
        {
            "secret": secret.arn,
            "token": version_id,
            "function": secret.rotation_lambda_arn,
            "account": secret.account,
            "region": secret.region,
        },
        key=f"rotation:{secret.arn}:{version_id}",
    )
    return version_id, queued


def next_start(secret: Secret, base: float) -> float | None:
    """When the secret's next rotation window opens, for a rotation at `base`."""
    if not secret.rotation_rules:
        return None
    try:
        return schedule.parse(secret.rotation_rules).next_start(base)
    except schedule.ScheduleError:
        return None


def value_put(call: Call, secret: Secret, version_id: str, now: float) -> None:
    """A value put by hand as AWSCURRENT (PutSecretValue, UpdateSecret): as
    on AWS, an unfinished rotation is abandoned in its favour (AWSPENDING
    comes off the other version; `RotationAbandoned` is recorded), and a
    schedule in days counts it as a rotation: the next window is due that
    many days from now. The caller saves `secret`'s next_rotation."""
    pending = versions.label_map(call, secret.arn).get(versions.PENDING)
    if pending is not None and pending != version_id:
        versions.detach(call.conn, secret, versions.PENDING)
        call.service_event(
            "RotationAbandoned",
            resources=[{"accountId": secret.account, "type": SECRET_TYPE, "ARN": secret.arn}],
            additional={"SecretId": secret.arn},
            invoked_by=PRINCIPAL,
        )
    if secret.rotation_enabled and secret.rotation_rules:
        try:
            days = schedule.parse(secret.rotation_rules).days
        except schedule.ScheduleError:
            days = None
        if days is not None:
            secret.next_rotation = next_start(secret, now)


# --------------------------------------------------------------------------- the steps


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


def _still_ours(run: JobRun, arn: str, token: str) -> Secret | None:
    """The secret, while this rotation is still the one it runs (enabled,
    its AWSPENDING on our version, not scheduled for deletion)."""
    secret = secrets.find_by_arn(run, arn)  # type: ignore[arg-type]
    if secret is None or not secret.rotation_enabled or secret.deletion_date is not None:
        return None
    if versions.label_map(run, arn).get(versions.PENDING) != token:  # type: ignore[arg-type]
        return None
    return secret


@service.background
def rotate_secret_steps(work: Background, payload: dict[str, Any]) -> None:
    arn, token = payload["secret"], payload["token"]
    account, region = payload["account"], payload["region"]
    with work.transaction() as run:
        secret = _still_ours(run, arn, token)
        if secret is None or not secret.rotation_lambda_arn:
            return
        function = secret.rotation_lambda_arn
        _event(run, "RotationStarted", arn, account, region, token)
    for step in STEPS:
        event = json_text(
            {"Step": step, "SecretId": arn, "ClientRequestToken": token, "RotationToken": uuid4()}
        ).encode()
        with work.transaction() as run:
            if _still_ours(run, arn, token) is None:
                return  # cancelled, deleted, or another rotation took over
            failed = False
            try:
                outcome = lambda_api.invoke_as_service(
                    run,
                    function,
                    event,
                    principal=PRINCIPAL,
                    source_arn=arn,
                    source_account=account,
                )
                failed = outcome.function_error is not None
            except Exception as err:
                if not _is_aws_error(err):
                    raise
                log.info("rotation of %s: Lambda refused %s: %s", arn, step, err.code)  # type: ignore[attr-defined]
                failed = True
            if failed:
                _event(
                    run,
                    "RotationFailed",
                    arn,
                    account,
                    region,
                    token,
                    error_message=f"Error when executing lambda {function} during {step} step",
                )
                return
    with work.transaction(write=True) as run:
        secret = secrets.find_by_arn(run, arn)  # type: ignore[arg-type]
        held = versions.label_map(run, arn) if secret is not None else {}  # type: ignore[arg-type]
        if secret is None or held.get(versions.CURRENT) != token:
            _event(
                run,
                "RotationFailed",
                arn,
                account,
                region,
                token,
                error_message=(
                    f"Error when executing lambda {function} during finishSecret step: "
                    "the AWSPENDING version was not staged AWSCURRENT"
                ),
            )
            return
        if held.get(versions.PENDING) == token:
            versions.detach(run.conn, secret, versions.PENDING)
        now = run.clock.timestamp()
        secret.last_rotated = now
        secret.next_rotation = next_start(secret, now) if secret.rotation_enabled else None
        secrets.save(run.conn, secret, "last_rotated", "next_rotation")
        for record in secret.replicas:  # in-sync replicas follow the labels
            replica = secrets.find(run, secret.account, record["Region"], secret.name)  # type: ignore[arg-type]
            if replica is not None and replica.primary_region == secret.region:
                versions.copy_labels(run.conn, secret.arn, replica.arn)
        _event(run, "RotationSucceeded", arn, account, region, token)


# --------------------------------------------------------------------------- the schedule


@service.job
def rotation_schedule(run: JobRun) -> float | None:
    """Start the rotations whose window has opened (a rotation left
    unfinished is retried on its version), and move each secret's next
    window on so it starts once."""
    now = run.now.timestamp()
    for secret in secrets.due_for_rotation(run.conn, now):
        if secret.is_replica or not (secret.rotation_lambda_arn or secret.owning_service):
            secret.next_rotation = None
        else:
            _, queued = start(run, secret, None)
            # A window the rotation could not start in (its previous try
            # is still letting go) is tried again shortly, not skipped.
            secret.next_rotation = next_start(secret, now) if queued else now + RETRY_SECONDS
        secrets.save(run.conn, secret, "next_rotation")
    return secrets.next_rotation(run.conn)
