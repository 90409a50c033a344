"""ListSecrets' (and BatchGetSecretValue's) filters and sort orders, as AWS
documents them: each filter's values are prefixes (``!`` negates one),
description case-insensitive, the others case-sensitive; a secret matches a
filter when any of its values matches (a negated value: when none of the
secret's values has that prefix), and all the filters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strongroom.services.secretsmanager.secrets import Secret
from strongroom.services.secretsmanager.service import errors

SORT_KEYS: dict[str, Callable[[Secret], Any]] = {
    "created-date": lambda s: (s.created, s.name),
    "last-changed-date": lambda s: (s.last_changed, s.name),
    # LastAccessedDate is not kept: secrets sort as never accessed, by creation.
    "last-accessed-date": lambda s: (0.0, s.created, s.name),
    "name": lambda s: (s.name,),
}


def _fields(secret: Secret, key: str) -> list[str]:
    if key == "name":
        return [secret.name]
    if key == "description":
        return [secret.description] if secret.description else []
    if key == "tag-key":
        return [k for k, _ in secret.tags]
    if key == "tag-value":
        return [v for _, v in secret.tags]
    if key == "primary-region":
        return [secret.primary_region or secret.region]
    if key == "owning-service":
        return [secret.owning_service] if secret.owning_service else []
    out: list[str] = []
    for each in ("name", "description", "tag-key", "tag-value", "primary-region", "owning-service"):
        out += _fields(secret, each)
    return out


def _value_matches(secret: Secret, key: str, value: str) -> bool:
    negate = value.startswith("!")
    prefix = value[1:] if negate else value
    fold = key in ("description", "all")
    if fold:
        prefix = prefix.lower()
    found = any((f.lower() if fold else f).startswith(prefix) for f in _fields(secret, key))
    return not found if negate else found


def matches(secret: Secret, filters: Iterable[dict[str, Any]]) -> bool:
    for f in filters:
        values = f.get("Values") or []
        if not any(_value_matches(secret, f["Key"], v) for v in values):
            return False
    return True


def select(
    found: list[Secret],
    filters: list[dict[str, Any]] | None,
    *,
    include_planned_deletion: bool = False,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> list[Secret]:
    for f in filters or ():
        if f.get("Key") is None or not f.get("Values"):
            raise errors.InvalidParameterException(
                "Invalid filter: a filter needs a Key and at least one value."
            )
    chosen = [
        s
        for s in found
        if (include_planned_deletion or not s.scheduled_for_deletion) and matches(s, filters or ())
    ]
    chosen.sort(key=SORT_KEYS[sort_by or "created-date"], reverse=sort_order == "desc")
    return chosen
