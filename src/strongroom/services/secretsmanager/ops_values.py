"""Secret values and their versions: GetSecretValue (the hot path),
BatchGetSecretValue, PutSecretValue, UpdateSecretVersionStage,
ListSecretVersionIds."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.secretsmanager import envelope, listing, secrets, values, versions
from strongroom.services.secretsmanager.secrets import Secret
from strongroom.services.secretsmanager.service import PAGING, errors, service
from strongroom.services.secretsmanager.versions import CURRENT

LIST_VERSIONS = PAGING.listing("Versions", default=100, maximum=100)
BATCH = PAGING.listing("SecretValues", default=20, maximum=20)


def _value_of(
    call: Call, secret: Secret, version_id: str | None, stage: str | None
) -> dict[str, Any]:
    """GetSecretValue's output for a secret the caller may read."""
    secret.require_not_deleted()
    version = versions.select_version(call, secret, version_id, stage)
    if not version.has_value or version.kind is None:
        label = (
            f"staging label: {stage}"
            if stage and not version_id
            else f"VersionId: {version.version_id}"
        )
        raise errors.ResourceNotFoundException(
            f"Secrets Manager can't find the specified secret value for {label}"
        )
    value = envelope.open_value(call, secret.arn, version)
    out = _version_output(call, secret, version.version_id)
    out.update(envelope.value_members(value, version.kind))
    out["CreatedDate"] = version.created_date
    return out


def _version_output(call: Call, secret: Secret, version_id: str) -> dict[str, Any]:
    """ARN, Name, VersionId and (when it has any) the version's VersionStages."""
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name, "VersionId": version_id}
    labels = versions.stages(call, secret.arn).get(version_id)
    if labels:
        out["VersionStages"] = labels
    return out


@service.operation(authorize=False)
def get_secret_value(
    call: Call,
    SecretId: str,
    VersionId: str | None = None,
    VersionStage: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    context = secrets.conditions(
        {"secretsmanager:VersionId": VersionId, "secretsmanager:VersionStage": VersionStage}
    )
    secret = secrets.resolve(call, SecretId, "secretsmanager:GetSecretValue", context)
    return _value_of(call, secret, VersionId, VersionStage)


@service.operation(authorize=False)
def batch_get_secret_value(
    call: Call,
    SecretIdList: list[str] | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxResults: int | None = None,
    NextToken: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Each secret is GetSecretValue's answer (and its CloudTrail event, as
    AWS records one per secret), or an entry in Errors."""
    call.authorize("secretsmanager:BatchGetSecretValue")
    if (SecretIdList is None) == (Filters is None):
        raise errors.InvalidParameterException(
            "Either SecretIdList or Filters must be specified, but not both."
        )
    if SecretIdList is not None and (MaxResults is not None or NextToken is not None):
        raise errors.InvalidParameterException(
            "MaxResults and NextToken can only be used with Filters."
        )
    out: dict[str, Any] = {}
    if Filters is not None:
        call.authorize("secretsmanager:ListSecrets")
        chosen = listing.select(secrets.of_region(call.conn, call.account, call.region), Filters)
        page = BATCH.slice(call, chosen, NextToken, MaxResults, scope=(Filters,))
        ids = [s.arn for s in page.items]
        if page.next_token is not None:
            out["NextToken"] = page.next_token
    else:
        ids = list(dict.fromkeys(SecretIdList or ()))
    found: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for secret_id in ids:
        try:
            secret = secrets.resolve(call, secret_id, "secretsmanager:GetSecretValue")
            found.append(_value_of(call, secret, None, None))
        except Exception as err:
            code = getattr(err, "code", None)
            if not isinstance(code, str):
                raise
            failed.append(
                {"SecretId": secret_id, "ErrorCode": code, "Message": getattr(err, "message", "")}
            )
            continue
        call.audit_also("GetSecretValue", call.region, params={"SecretId": secret_id})
    out["SecretValues"] = found
    out["Errors"] = failed
    return out


@service.operation(authorize=False)
def put_secret_value(
    call: Call,
    SecretId: str,
    ClientRequestToken: str | None = None,
    SecretBinary: bytes | None = None,
    SecretString: str | None = None,
    VersionStages: list[str] | None = None,
    RotationToken: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:PutSecretValue")
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    values.require_one_value(SecretString, SecretBinary)
    given = envelope.as_bytes(SecretString, SecretBinary)
    if given is None:
        raise errors.InvalidRequestException(
            "You must provide either SecretString or SecretBinary."
        )
    version, _changed = values.put(call, secret, ClientRequestToken, *given, VersionStages)
    return _version_output(call, secret, version.version_id)


@service.operation(authorize=False)
def update_secret_version_stage(
    call: Call,
    SecretId: str,
    VersionStage: str,
    RemoveFromVersionId: str | None = None,
    MoveToVersionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    secret = secrets.resolve(
        call,
        SecretId,
        "secretsmanager:UpdateSecretVersionStage",
        {"secretsmanager:VersionStage": VersionStage},
    )
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    held = versions.label_map(call, secret.arn).get(VersionStage)
    for vid in (MoveToVersionId, RemoveFromVersionId):
        if vid is not None and versions.find(call, secret.arn, vid) is None:
            raise errors.InvalidParameterException(
                f"The version {vid} doesn't exist for this secret."
            )
    if held is not None and held != MoveToVersionId:
        if RemoveFromVersionId is None:
            raise errors.InvalidParameterException(
                f"The parameter RemoveFromVersionId can't be empty. Staging label "
                f"{VersionStage} is currently attached to version {held}, so you must "
                "explicitly reference that version in RemoveFromVersionId."
            )
        if RemoveFromVersionId != held:
            raise errors.InvalidParameterException(
                f"The parameter RemoveFromVersionId doesn't match. Staging label {VersionStage} "
                f"is currently attached to version {held}, so you must explicitly reference "
                "that version in RemoveFromVersionId."
            )
    elif held is None and RemoveFromVersionId is not None:
        raise errors.InvalidParameterException(
            f"The staging label {VersionStage} is not attached to version {RemoveFromVersionId}."
        )
    if MoveToVersionId is not None:
        versions.attach(call, secret, VersionStage, MoveToVersionId)
    elif held is not None:
        if VersionStage == CURRENT:
            raise errors.InvalidParameterException(
                "You can't remove the staging label AWSCURRENT from a version without moving "
                "it to another version: specify MoveToVersionId."
            )
        versions.detach(call.conn, secret, VersionStage)
    secret.last_changed = call.clock.timestamp()
    secrets.save(call.conn, secret, "last_changed")
    values.changed(call, secret)
    return {"ARN": secret.arn, "Name": secret.name}


@service.operation(authorize=False)
def list_secret_version_ids(
    call: Call,
    SecretId: str,
    MaxResults: int | None = None,
    NextToken: str | None = None,
    IncludeDeprecated: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:ListSecretVersionIds")
    stages = versions.stages(call, secret.arn)
    rows = [
        v
        for v in versions.all_versions(call.conn, secret.arn)
        if IncludeDeprecated or v.version_id in stages
    ]
    page = LIST_VERSIONS.slice(
        call, rows, NextToken, MaxResults, scope=(secret.arn, bool(IncludeDeprecated))
    )
    items = []
    for v in page.items:
        entry: dict[str, Any] = {"VersionId": v.version_id, "CreatedDate": v.created_date}
        if v.version_id in stages:
            entry["VersionStages"] = stages[v.version_id]
        if v.key_arn:
            entry["KmsKeyIds"] = [v.key_arn]
        items.append(entry)
    out = LIST_VERSIONS.output(page, items)
    out["ARN"] = secret.arn
    out["Name"] = secret.name
    return out
