"""DB instances: the checks RDS makes before it accepts one, and the new
record. Statements are in `records`; the engine work in `work`."""

from __future__ import annotations

from typing import Any

from strongroom.encoding import b64_text
from strongroom.engines.driver import VersionNotAvailable
from strongroom.framework import Call
from strongroom.services.rds import keys, model, records
from strongroom.services.rds.service import ENGINES, errors
from strongroom.services.rds.supervisor import Supervisor

#: Statuses from which an instance may be deleted (not while its engine is
#: being created, modified or backed up: that work would race the deletion).
DELETABLE = frozenset(
    {
        "available",
        "stopped",
        "failed",
        "inaccessible-encryption-credentials",
        "storage-full",
        "incompatible-restore",
        "incompatible-parameters",
    }
)
_RESERVED_USERS = {"postgres": {"rdsadmin", "rds_superuser", "postgres", "rds_replication"}}


def supervisor(call: Call) -> Supervisor:
    return call.resource(ENGINES)


def resolve_version(call: Call, info: model.EngineInfo, requested: str | None) -> str:
    """The engine version that will really run (postgres: the installed
    major's own minor)."""
    if not info.real:
        return model.control_plane_version(info, requested)[0]
    sup = supervisor(call)
    try:
        return sup.postgres.resolve_version(requested or None).version
    except VersionNotAvailable as err:
        shown = ", ".join(err.available) or "none"
        raise errors.InvalidParameterCombination(
            f"Cannot find version {requested} for {info.name} (available on this server: {shown})"
        ) from None


def require_master(info: model.EngineInfo, user: str | None, password: str | None) -> None:
    if not user:
        raise errors.InvalidParameterValue(
            "The parameter MasterUsername must be provided and must not be blank."
        )
    if not user[0].isalpha() or not all(c.isalnum() or c == "_" for c in user) or len(user) > 63:
        raise errors.InvalidParameterValue(
            "The parameter MasterUsername is not a valid identifier. Identifiers must begin "
            "with a letter; must contain only ASCII letters, digits, and underscores."
        )
    if user.lower() in _RESERVED_USERS.get(info.name, set()):
        raise errors.InvalidParameterValue(
            f"MasterUsername {user} cannot be used as it is a reserved word used by the engine"
        )
    require_password(password)


def require_password(password: str | None, *, required: bool = True) -> None:
    if password is None or password == "":
        if required:
            raise errors.InvalidParameterValue(
                "The parameter MasterUserPassword must be provided and must not be blank."
            )
        return
    if len(password) < 8:
        raise errors.InvalidParameterValue(
            "The parameter MasterUserPassword is not a valid password because it is shorter "
            "than 8 characters."
        )
    if len(password) > 128:
        raise errors.InvalidParameterValue(
            "The parameter MasterUserPassword is not a valid password because it is longer "
            "than 128 characters."
        )
    if any(c in '/"@' or not c.isprintable() or c == " " for c in password):
        raise errors.InvalidParameterValue(
            "The parameter MasterUserPassword is not a valid password. Only printable ASCII "
            "characters besides '/', '@', '\"', ' ' may be used."
        )


def require_managed_choice(
    manage: bool | None, password: str | None, kms_key_id: str | None
) -> bool:
    """Whether a new instance's master password is managed (RDS's rules)."""
    if manage:
        if password is not None:
            raise errors.InvalidParameterCombination(
                "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on."
            )
        return True
    if kms_key_id is not None:
        raise errors.InvalidParameterCombination(
            "You can specify MasterUserSecretKmsKeyId only when ManageMasterUserPassword is "
            "turned on."
        )
    return False


def require_managed_change(
    managed: bool,
    manage: bool | None,
    password: str | None,
    kms_key_id: str | None,
    rotate: bool | None,
    apply_immediately: bool,
    what: str = "DB instance",
) -> tuple[bool, bool]:
    """ModifyDBInstance's (and ModifyDBCluster's, `what` "DB cluster") rules
    for the managed master password: (turn it on, turn it off)."""
    turn_on = bool(manage) and not managed
    turn_off = manage is False and managed
    if manage and password is not None:
        raise errors.InvalidParameterCombination(
            "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on."
        )
    if turn_off and not password:
        raise errors.InvalidParameterCombination(
            "You must specify MasterUserPassword when you turn off ManageMasterUserPassword."
        )
    if managed and not turn_off and password is not None:
        raise errors.InvalidParameterCombination(
            f"You can't specify MasterUserPassword for a {what} whose master user "
            "password is managed by RDS in AWS Secrets Manager."
        )
    if kms_key_id is not None and not turn_on:
        raise errors.InvalidParameterCombination(
            "You can specify MasterUserSecretKmsKeyId only when you turn on "
            "ManageMasterUserPassword."
        )
    if rotate:
        if not managed or manage is not None:
            raise errors.InvalidParameterCombination(
                f"You can rotate the master user password only for a {what} whose master "
                "user password is managed by RDS in AWS Secrets Manager."
            )
        if not apply_immediately:
            raise errors.InvalidParameterCombination(
                "You must specify ApplyImmediately when rotating the master user password."
            )
    return turn_on, turn_off


def require_storage(info: model.EngineInfo, storage: int | None, storage_type: str) -> int:
    if storage is None:
        raise errors.InvalidParameterValue(
            f"Invalid storage size for engine name {info.name} and storage type {storage_type}: 0"
        )
    low = 20
    if not low <= storage <= 65536:
        raise errors.InvalidParameterValue(
            f"Invalid storage size for engine name {info.name} and storage type "
            f"{storage_type}: {storage}"
        )
    return storage


def require_port(port: int | None) -> None:
    if port is not None and not 1150 <= port <= 65535:
        raise errors.InvalidParameterValue(
            f"Invalid port {port}. The port must be between 1150 and 65535."
        )


def require_new(call: Call, identifier: str) -> None:
    if records.find_instance(call.conn, call.account, call.region, identifier) is not None:
        raise errors.DBInstanceAlreadyExistsFault("DB instance already exists")


def encryption(call: Call, resource_id: str, kms_key_id: str | None) -> tuple[bytes, str, str]:
    """(wrapped data key, key ARN, payload text of the plaintext key) of a new
    encrypted instance, and RDS's grant on its key."""
    key_id = keys.key_for(call, kms_key_id)
    wrapped, key_arn, plain = keys.new_data_key(call, key_id, keys.instance_context(resource_id))
    keys.grant_to_rds(call, key_arn, resource_id)
    return wrapped, key_arn, b64_text(plain)


def new_record(
    call: Call,
    identifier: str,
    *,
    resource_id: str,
    engine: str,
    version: str,
    instance_class: str,
    master_username: str | None,
    db_name: str | None,
    port: int | None,
    storage: int,
    storage_type: str,
    encrypted: bool,
    kms_key_arn: str | None,
    data_key: bytes | None,
    deletion_protection: bool,
    backup_retention: int,
    tags: list[list[str]],
    attrs: dict[str, Any],
    restored_from: str | None = None,
) -> records.Record:
    return {
        "account": call.account,
        "region": call.region,
        "identifier": identifier,
        "resource_id": resource_id,
        "arn": model.instance_arn(call.account, call.region, identifier),
        "engine": engine,
        "engine_version": version,
        "instance_class": instance_class,
        "status": "creating",
        "master_username": master_username,
        "db_name": db_name,
        "port": port,
        "allocated_storage": storage,
        "storage_type": storage_type,
        "encrypted": encrypted,
        "kms_key_arn": kms_key_arn,
        "data_key": data_key,
        "deletion_protection": deletion_protection,
        "backup_retention": backup_retention,
        "created": call.clock.timestamp(),
        "auto_start_at": None,
        "tags": tags,
        "pending": {},
        "attrs": attrs,
        "restored_from": restored_from,
    }


def request_tags(tags: list[dict[str, str]] | None) -> list[list[str]]:
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key")
        if not key:
            raise errors.InvalidParameterValue("Tag key must not be empty.")
        if len(key) > 128 or len(tag.get("Value", "")) > 256:
            raise errors.InvalidParameterValue("Tag keys may hold 128 characters, values 256.")
        if key.lower().startswith(("aws:", "rds:")):
            raise errors.InvalidParameterValue(f"Tag key {key} may not begin with aws: or rds:")
        out[key] = tag.get("Value", "")
    if len(out) > 50:
        raise errors.InvalidParameterValue("Cannot add more than 50 tags to a resource.")
    return [[k, v] for k, v in out.items()]


def merge_tags(existing: list[Any], new: list[list[str]]) -> list[list[str]]:
    merged = {k: v for k, v in existing}
    merged.update({k: v for k, v in new})
    if len(merged) > 50:
        raise errors.InvalidParameterValue("Cannot add more than 50 tags to a resource.")
    return [[k, v] for k, v in merged.items()]
