"""Writing a secret's value: a new version (or the idempotent repeat of one),
its staging labels, the version limit, and the replicas kept in step."""

from __future__ import annotations

from collections.abc import Callable

from strongroom.framework import Call
from strongroom.ids import uuid4
from strongroom.services.secretsmanager import envelope, rotation, secrets, versions
from strongroom.services.secretsmanager.secrets import Secret
from strongroom.services.secretsmanager.service import errors
from strongroom.services.secretsmanager.versions import CURRENT, Version

VALUE_LIMIT = 65536
BOTH_VALUES = (
    "You can't specify both a binary secret value and a string secret value in the same secret."
)
VERSION_EXISTS = "You can't modify an existing version, you can only create new versions."

#: Called after a primary's versions or labels changed, to bring its
#: replicas in step (set by the replication module).
after_change: list[Callable[[Call, Secret], None]] = []


def require_one_value(secret_string: str | None, secret_binary: bytes | None) -> None:
    if secret_string is not None and secret_binary is not None:
        raise errors.InvalidParameterException(BOTH_VALUES)
    value = secret_string.encode() if secret_string is not None else secret_binary
    if value is not None and len(value) > VALUE_LIMIT:
        raise errors.InvalidParameterException(
            f"The secret value exceeds the maximum size of {VALUE_LIMIT} bytes."
        )


def same_value(call: Call, secret: Secret, version: Version, value: bytes, kind: str) -> bool:
    """Whether an existing version holds exactly this value (decrypted for the caller)."""
    if version.kind != kind:
        return False
    return envelope.open_value(call, secret.arn, version) == value


def put(
    call: Call,
    secret: Secret,
    token: str | None,
    value: bytes,
    kind: str,
    stages: list[str] | None = None,
) -> tuple[Version, bool]:
    """A new version of `secret` holding `value` under the labels `stages`
    (default AWSCURRENT; a secret's first value is always AWSCURRENT):
    (the version, whether anything changed). The same token with the same
    value again is a no-op; with another value, ResourceExistsException. A
    version recorded without a value (AWSPENDING of a rotation) takes it."""
    version_id = token or uuid4()
    now = call.clock.timestamp()
    existing = versions.find(call, secret.arn, version_id)
    if existing is not None and existing.has_value:
        if same_value(call, secret, existing, value, kind):
            return existing, False
        raise errors.ResourceExistsException(VERSION_EXISTS)
    data_key, key_arn, sealed = envelope.seal(call, secret, version_id, value, kind)
    if existing is not None:
        existing.kind, existing.data_key, existing.key_arn = kind, data_key, key_arn
        existing.sealed = sealed
        versions.replace_value(call.conn, existing, data_key, key_arn, sealed, kind)
        version = existing
    else:
        version = versions.add(
            call.conn,
            secret,
            version_id,
            now,
            kind=kind,
            data_key=data_key,
            key_arn=key_arn,
            sealed=sealed,
        )
    labels = list(stages) if stages else [CURRENT]
    if CURRENT not in labels and CURRENT not in versions.label_map(call, secret.arn):
        labels.append(CURRENT)
    for label in labels:
        versions.attach(call, secret, label, version_id)
    if CURRENT in labels:
        rotation.value_put(call, secret, version_id, now)
    versions.prune(call.conn, secret, now)
    secret.last_changed = now
    secrets.save(call.conn, secret, "last_changed", "version_seq", "next_rotation")
    changed(call, secret)
    return version, True


def changed(call: Call, secret: Secret) -> None:
    for hook in after_change:
        hook(call, secret)


def reencrypt(call: Call, secret: Secret, key_id: str) -> None:
    """UpdateSecret with a new KmsKeyId: the AWSCURRENT, AWSPENDING and
    AWSPREVIOUS versions are sealed again under a data key of the new key."""
    held = versions.label_map(call, secret.arn)
    done: set[str] = set()
    for label in (versions.CURRENT, versions.PENDING, versions.PREVIOUS):
        vid = held.get(label)
        if vid is None or vid in done:
            continue
        done.add(vid)
        version = versions.find(call, secret.arn, vid)
        if version is None or not version.has_value or version.kind is None:
            continue
        value = envelope.open_value(call, secret.arn, version)
        data_key, key_arn, sealed = envelope.seal(call, secret, vid, value, version.kind, key_id)
        versions.replace_value(call.conn, version, data_key, key_arn, sealed, version.kind)
