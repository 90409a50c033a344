"""Secret lifecycle: create, describe, list, update, delete and restore,
tags, random passwords, and rotation's switches."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, JobRun, tagging
from strongroom.framework.tagging import SECRETS_MANAGER as TAGS
from strongroom.services.secretsmanager import (
    envelope,
    listing,
    managed,
    passwords,
    replication,
    rotation,
    schedule,
    secrets,
    values,
    versions,
)
from strongroom.services.secretsmanager.secrets import DAY, SECRET_TYPE, Secret
from strongroom.services.secretsmanager.service import PAGING, errors, service

LIST_SECRETS = PAGING.listing("SecretList", default=100, maximum=100)

DEFAULT_RECOVERY_DAYS = 30


def _created(secret: Secret, version_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if version_id is not None:
        out["VersionId"] = version_id
    return out


# --------------------------------------------------------------------------- create


@service.operation(authorize=False)
def create_secret(
    call: Call,
    Name: str,
    ClientRequestToken: str | None = None,
    Description: str | None = None,
    KmsKeyId: str | None = None,
    SecretBinary: bytes | None = None,
    SecretString: str | None = None,
    Tags: list[dict[str, str]] | None = None,
    AddReplicaRegions: list[dict[str, str]] | None = None,
    ForceOverwriteReplicaSecret: bool | None = None,
    Type: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    new_tags = secrets.request_tags(Tags)
    regions = [r.get("Region", "") for r in AddReplicaRegions] if AddReplicaRegions else None
    context = secrets.conditions(
        {
            "secretsmanager:Name": Name,
            "secretsmanager:Description": Description,
            "secretsmanager:KmsKeyId": KmsKeyId or None,
            "secretsmanager:AddReplicaRegions": regions,
        }
    )
    context.update(secrets.tag_context(new_tags))
    existing = secrets.find(call, call.account, call.region, Name)
    arn = (
        existing.arn
        if existing is not None
        else secrets.secret_arn(call.account, call.region, Name)
    )
    call.authorize("secretsmanager:CreateSecret", arn, context)
    if new_tags:
        call.authorize("secretsmanager:TagResource", arn, context)
    if AddReplicaRegions:
        call.authorize("secretsmanager:ReplicateSecretToRegions", arn, context)
    owner = secrets.owner_of(call) if Name.startswith(managed.PREFIXES) else None
    if owner not in managed.OWNERS:
        owner = None
        secrets.require_name(Name)
    values.require_one_value(SecretString, SecretBinary)
    # The owning service's own tags (aws:rds:…) are its to set.
    TAGS.require_valid(call, [t for t in new_tags if owner is None or not t.key.startswith("aws:")])
    given = envelope.as_bytes(SecretString, SecretBinary)
    if existing is not None:
        return _create_again(call, existing, ClientRequestToken, given)
    secret = secrets.new_secret(
        call, Name, arn=arn, description=Description, kms_key_id=KmsKeyId, tags=new_tags,
        secret_type=Type,
    )  # fmt: skip
    if owner is not None:
        managed.adopt(call, secret, owner)
    secrets.insert_secret(call.conn, secret)
    call.audit_resource(secret.arn, SECRET_TYPE)
    out = _created(secret)
    if given is not None:
        version, _changed = values.put(call, secret, ClientRequestToken, *given)
        out["VersionId"] = version.version_id
        if owner is not None:
            managed.grant_to_secretsmanager(call, secret, version.key_arn)
    if AddReplicaRegions:
        out["ReplicationStatus"] = replication.add_regions(
            call, secret, AddReplicaRegions, bool(ForceOverwriteReplicaSecret)
        )
    return out


def _create_again(
    call: Call, existing: Secret, token: str | None, given: tuple[bytes, str] | None
) -> dict[str, Any]:
    """CreateSecret for a name already taken: the retry of the very same
    request answers as the first did; anything else is refused."""
    if existing.scheduled_for_deletion:
        raise errors.InvalidRequestException(
            "You can't create this secret because a secret with this name is already "
            "scheduled for deletion."
        )
    if token is not None and given is not None:
        version = versions.find(call, existing.arn, token)
        if version is not None and version.has_value:
            if values.same_value(call, existing, version, *given):
                call.audit_resource(existing.arn, SECRET_TYPE)
                return _created(existing, version.version_id)
            raise errors.ResourceExistsException(values.VERSION_EXISTS)
    raise errors.ResourceExistsException(
        f"The operation failed because the secret {existing.name} already exists."
    )


# --------------------------------------------------------------------------- read


@service.operation(authorize=False)
def describe_secret(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:DescribeSecret")
    out = secret.summary()
    stages = versions.stages(call, secret.arn)
    out["VersionIdsToStages"] = stages
    replicas = replication.status(secret)
    if replicas:
        out["ReplicationStatus"] = replicas
    return out


@service.operation(authorize=False)
def list_secrets(
    call: Call,
    IncludePlannedDeletion: bool | None = None,
    MaxResults: int | None = None,
    NextToken: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    SortOrder: str | None = None,
    SortBy: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("secretsmanager:ListSecrets")
    chosen = listing.select(
        secrets.of_region(call.conn, call.account, call.region),
        Filters,
        include_planned_deletion=bool(IncludePlannedDeletion),
        sort_by=SortBy,
        sort_order=SortOrder,
    )
    scope = (Filters, bool(IncludePlannedDeletion), SortBy, SortOrder)
    page = LIST_SECRETS.slice(call, chosen, NextToken, MaxResults, scope=scope)
    items = []
    for secret in page.items:
        entry = secret.summary()
        entry["SecretVersionsToStages"] = versions.stages(call, secret.arn)
        items.append(entry)
    return LIST_SECRETS.output(page, items)


# --------------------------------------------------------------------------- update


@service.operation(authorize=False)
def update_secret(
    call: Call,
    SecretId: str,
    ClientRequestToken: str | None = None,
    Description: str | None = None,
    KmsKeyId: str | None = None,
    SecretBinary: bytes | None = None,
    SecretString: str | None = None,
    Type: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    context = secrets.conditions(
        {"secretsmanager:Description": Description, "secretsmanager:KmsKeyId": KmsKeyId}
    )
    secret = secrets.resolve(call, SecretId, "secretsmanager:UpdateSecret", context)
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    values.require_one_value(SecretString, SecretBinary)
    given = envelope.as_bytes(SecretString, SecretBinary)
    names = ["last_changed"]
    if Description is not None:
        secret.description = Description
        names.append("description")
    if Type is not None:
        secret.secret_type = Type
        names.append("secret_type")
    if KmsKeyId is not None and (KmsKeyId or None) != secret.kms_key_id:
        values.reencrypt(call, secret, KmsKeyId or envelope.MANAGED_ALIAS)
        secret.kms_key_id = KmsKeyId or None
        names.append("kms_key_id")
    secret.last_changed = call.clock.timestamp()
    secrets.save(call.conn, secret, *names)
    out = _created(secret)
    if given is not None:
        version, _changed = values.put(call, secret, ClientRequestToken, *given)
        out["VersionId"] = version.version_id
    else:
        values.changed(call, secret)
    return out


# --------------------------------------------------------------------------- delete


@service.operation(authorize=False)
def delete_secret(
    call: Call,
    SecretId: str,
    RecoveryWindowInDays: int | None = None,
    ForceDeleteWithoutRecovery: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    context = secrets.conditions(
        {
            "secretsmanager:RecoveryWindowInDays": None
            if RecoveryWindowInDays is None
            else str(RecoveryWindowInDays),
            "secretsmanager:ForceDeleteWithoutRecovery": ForceDeleteWithoutRecovery,
        }
    )
    if ForceDeleteWithoutRecovery and RecoveryWindowInDays is not None:
        raise errors.InvalidParameterException(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
        )
    days = DEFAULT_RECOVERY_DAYS if RecoveryWindowInDays is None else RecoveryWindowInDays
    if not ForceDeleteWithoutRecovery and not 7 <= days <= 30:
        raise errors.InvalidParameterException(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
        )
    ref, secret = secrets.lookup(call, SecretId)
    now = call.clock.timestamp()
    if secret is None and ForceDeleteWithoutRecovery:
        # AWS answers a forced deletion of a secret that is not there as done.
        call.authorize("secretsmanager:DeleteSecret", ref.resource, context,
                       resource_account=ref.account)  # fmt: skip
        return {"ARN": ref.resource, "Name": ref.name, "DeletionDate": secrets.dt(now)}
    secret = secrets.resolve(call, SecretId, "secretsmanager:DeleteSecret", context)
    secret.require_owner(call)
    replication.require_no_replicas(secret)
    if secret.is_replica:
        raise errors.InvalidRequestException(
            f"Operation not permitted on a replica secret. Call RemoveRegionsFromReplication "
            f"in the primary secret's region ({secret.primary_region})."
        )
    if ForceDeleteWithoutRecovery:
        secrets.delete_secret(call.conn, secret)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": secrets.dt(now)}
    secret.require_not_deleted()
    secret.deleted = now
    secret.deletion_date = now + days * DAY
    secrets.save(call.conn, secret, "deleted", "deletion_date")
    return {
        "ARN": secret.arn,
        "Name": secret.name,
        "DeletionDate": secrets.dt(secret.deletion_date),
    }


@service.operation(authorize=False)
def restore_secret(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(call, SecretId, "secretsmanager:RestoreSecret")
    if secret.scheduled_for_deletion:
        secret.deleted = None
        secret.deletion_date = None
        secrets.save(call.conn, secret, "deleted", "deletion_date")
    return _created(secret)


# --------------------------------------------------------------------------- tags


@service.operation(authorize=False)
def tag_resource(call: Call, SecretId: str, Tags: list[dict[str, str]], **_: Any) -> dict[str, Any]:
    new_tags = secrets.request_tags(Tags)
    secret = secrets.resolve(
        call, SecretId, "secretsmanager:TagResource", secrets.tag_context(new_tags)
    )
    secret.require_not_deleted()
    secret.require_writable()
    TAGS.require_valid(call, new_tags)
    secret.set_tags(TAGS.merged(call, secret.tag_list(), new_tags))
    secrets.save(call.conn, secret, "tags")
    values.changed(call, secret)
    return {}


@service.operation(authorize=False)
def untag_resource(call: Call, SecretId: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
    secret = secrets.resolve(
        call, SecretId, "secretsmanager:UntagResource", tagging.request_context(keys=TagKeys)
    )
    secret.require_not_deleted()
    secret.require_writable()
    TAGS.require_removable(call, TagKeys)
    secret.set_tags(TAGS.without(secret.tag_list(), TagKeys))
    secrets.save(call.conn, secret, "tags")
    values.changed(call, secret)
    return {}


# --------------------------------------------------------------------------- passwords


@service.operation
def get_random_password(
    call: Call,
    PasswordLength: int | None = None,
    ExcludeCharacters: str | None = None,
    ExcludeNumbers: bool | None = None,
    ExcludePunctuation: bool | None = None,
    ExcludeUppercase: bool | None = None,
    ExcludeLowercase: bool | None = None,
    IncludeSpace: bool | None = None,
    RequireEachIncludedType: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    password = passwords.generate(
        passwords.DEFAULT_LENGTH if PasswordLength is None else PasswordLength,
        exclude_characters=ExcludeCharacters or "",
        exclude_numbers=bool(ExcludeNumbers),
        exclude_punctuation=bool(ExcludePunctuation),
        exclude_uppercase=bool(ExcludeUppercase),
        exclude_lowercase=bool(ExcludeLowercase),
        include_space=bool(IncludeSpace),
        require_each_included_type=RequireEachIncludedType is not False,
    )
    return {"RandomPassword": password}


# --------------------------------------------------------------------------- rotation


@service.operation(authorize=False)
def rotate_secret(
    call: Call,
    SecretId: str,
    ClientRequestToken: str | None = None,
    RotationLambdaARN: str | None = None,
    RotationRules: dict[str, Any] | None = None,
    RotateImmediately: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Configure rotation and (unless RotateImmediately is false) start one:
    its version is recorded under AWSPENDING without a value, and the steps
    run once this call has committed (`rotation`)."""
    context = secrets.conditions({"secretsmanager:RotationLambdaARN": RotationLambdaARN})
    secret = secrets.resolve(call, SecretId, "secretsmanager:RotateSecret", context)
    secret.require_not_deleted()
    secret.require_writable()
    if versions.rotation_in_progress(call, secret):
        raise errors.InvalidRequestException(rotation.IN_PROGRESS)
    if secret.owning_service:
        # Managed rotation: the owning service rotates, no function.
        if RotationLambdaARN is not None:
            secret.require_owner(call)
            raise errors.InvalidRequestException(
                f"You can't specify a rotation function for a secret managed by "
                f"{secret.owning_service}."
            )
        function = None
    else:
        function = RotationLambdaARN or secret.rotation_lambda_arn
        if not function:
            raise errors.InvalidRequestException(rotation.NO_ROTATION_FUNCTION)
    rules = RotationRules if RotationRules is not None else secret.rotation_rules
    if rules:
        try:
            schedule.parse(rules)
        except schedule.ScheduleError as err:
            raise errors.InvalidParameterException(str(err)) from None
    if function is not None:
        rotation.require_invokable(call, secret, function)
    if ClientRequestToken is not None and versions.find(call, secret.arn, ClientRequestToken):
        raise errors.ResourceExistsException(values.VERSION_EXISTS)
    now = call.clock.timestamp()
    secret.rotation_enabled = True
    secret.rotation_lambda_arn = function
    secret.rotation_rules = dict(rules) if rules else None
    out = _created(secret)
    if RotateImmediately is False:
        secret.next_rotation = rotation.next_start(secret, secret.last_rotated or now)
    else:
        secret.next_rotation = rotation.next_start(secret, now)
        out["VersionId"], _ = rotation.start(call, secret, ClientRequestToken)
    secret.last_changed = now
    secrets.save(
        call.conn,
        secret,
        "rotation_enabled",
        "rotation_lambda_arn",
        "rotation_rules",
        "next_rotation",
        "last_changed",
    )
    return out


@service.operation(authorize=False)
def cancel_rotate_secret(call: Call, SecretId: str, **_: Any) -> dict[str, Any]:
    """Turn automatic rotation off (the function and rules stay, for a later
    RotateSecret to turn it on again). A rotation in progress stops before
    its next step; its AWSPENDING version stays, as AWS leaves it, for the
    caller to remove with UpdateSecretVersionStage."""
    secret = secrets.resolve(call, SecretId, "secretsmanager:CancelRotateSecret")
    secret.require_not_deleted()
    secret.require_writable()
    secret.require_owner(call)
    out = _created(secret)
    if versions.rotation_in_progress(call, secret):
        out["VersionId"] = versions.label_map(call, secret.arn)[versions.PENDING]
    if secret.rotation_enabled:
        secret.rotation_enabled = False
        secret.next_rotation = None
        secrets.save(call.conn, secret, "rotation_enabled", "next_rotation")
    return out


# --------------------------------------------------------------------------- the clock


@service.job
def secretsmanager_clock(run: JobRun) -> float | None:
    """Secrets whose recovery window has passed are deleted for good, each
    recorded as an AwsServiceEvent (``EndSecretDeletion``, named after AWS's
    ``EndSecretVersionDelete``)."""
    now = run.now.timestamp()
    for secret in secrets.due_for_deletion(run.conn, now):
        secrets.delete_secret(run.conn, secret)
        run.service_event(
            "EndSecretDeletion",
            secret.account,
            secret.region,
            resources=[{"accountId": secret.account, "type": SECRET_TYPE, "ARN": secret.arn}],
            details={"secretId": secret.arn, "deletionDate": secrets.dt(now).isoformat()},
        )
    return secrets.next_deletion(run.conn)
