"""Secrets: the domain layer under the operations.

Finding a secret (`resolve`) is on the hot path of every call: its row is
read with a `Prepared` statement through the store's hot cache (dropped by
any committed write), so a deleted or changed secret is seen at once in
every process.

A SecretId names a secret by its name (in the caller's account and Region),
by its full ARN (the name, a hyphen and six random characters), or by a
partial ARN (the ARN without the six characters): as AWS does, a full ARN
is tried first, and an ARN that names no secret is then read as a partial
one, whose last part is the name.
"""

from __future__ import annotations

import re
import secrets as random
import string
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from strongroom.arn import arn as make_arn
from strongroom.framework import Call, tagging
from strongroom.framework.tagging import SECRETS_MANAGER as TAGS
from strongroom.framework.tagging import Tag
from strongroom.services.secretsmanager import schedule
from strongroom.services.secretsmanager.service import MARKED_FOR_DELETION, NOT_FOUND, errors
from strongroom.services.secretsmanager.tables import labels, secrets, versions
from strongroom.store.db import Prepared

SECRET_TYPE = "AWS::SecretsManager::Secret"
DAY = 86400.0
_SUFFIX_ALPHABET = string.ascii_letters + string.digits
_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]+\Z")
BAD_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, "
    "or any of the following: -/_+=.@!"
)


@dataclass(slots=True)
class Secret:
    account: str
    region: str
    name: str
    arn: str
    description: str | None
    kms_key_id: str | None
    #: Times are epoch seconds, as stored.
    created: float
    last_changed: float
    deletion_date: float | None
    deleted: float | None
    tags: list[list[str]]
    policy: str | None
    owning_service: str | None
    secret_type: str | None
    primary_region: str | None
    replicas: list[dict[str, Any]]
    rotation_enabled: bool
    rotation_lambda_arn: str | None
    rotation_rules: dict[str, Any] | None
    last_rotated: float | None
    next_rotation: float | None
    version_seq: int

    def __post_init__(self) -> None:
        # Rows may be cached: each Secret has lists of its own.
        self.tags = [list(t) for t in self.tags] if self.tags else []
        self.replicas = [dict(r) for r in self.replicas] if self.replicas else []
        self.rotation_enabled = bool(self.rotation_enabled)

    # -- rules ---------------------------------------------------------

    @property
    def scheduled_for_deletion(self) -> bool:
        return self.deletion_date is not None

    @property
    def is_replica(self) -> bool:
        return self.primary_region is not None and self.primary_region != self.region

    def require_not_deleted(self) -> None:
        """InvalidRequestException for a secret scheduled for deletion."""
        if self.deletion_date is not None:
            raise errors.InvalidRequestException(MARKED_FOR_DELETION)

    def require_writable(self) -> None:
        """A replica takes changes only from its primary."""
        if self.is_replica:
            raise errors.InvalidRequestException(
                "Operation not permitted on a replica secret. Call must be made in primary "
                "secret's region."
            )

    def require_owner(self, call: Call) -> None:
        """A secret another service manages (OwningService) changes only
        through that service: InvalidRequestException for anyone else."""
        if self.owning_service and owner_of(call) != self.owning_service:
            raise errors.InvalidRequestException(
                f"You can't perform this operation on the secret because it's managed by "
                f"{self.owning_service}. Use that service to update it."
            )

    def tag_list(self) -> list[Tag]:
        return TAGS.from_rows(self.tags)

    def set_tags(self, tags: list[Tag]) -> None:
        self.tags = TAGS.to_rows(tags)

    def context(self) -> dict[str, Any]:
        """The condition keys of a request on this secret."""
        ctx: dict[str, Any] = {"secretsmanager:SecretId": self.arn}
        if self.tags:
            for key, value in self.tags:
                ctx[f"aws:ResourceTag/{key}"] = value
                ctx[f"secretsmanager:ResourceTag/{key}"] = value
        if self.primary_region:
            ctx["secretsmanager:SecretPrimaryRegion"] = self.primary_region
        return ctx

    def authorize(self, call: Call, action: str, extra: dict[str, Any] | None = None) -> None:
        """IAM policies and the secret's resource policy, as AWS combines them
        (another account needs both)."""
        ctx = self.context()
        if extra:
            ctx.update(extra)
        call.authorize(
            action, self.arn, ctx, resource_policy=self.policy, resource_account=self.account
        )

    # -- projections ---------------------------------------------------

    def next_rotation_date(self) -> float:
        """NextRotationDate: the last second of the window opening at
        `next_rotation` (the stored time the scheduler starts it)."""
        assert self.next_rotation is not None
        try:
            return schedule.parse(self.rotation_rules).reported(self.next_rotation)
        except schedule.ScheduleError:
            return self.next_rotation

    @property
    def shown_kms_key_id(self) -> str | None:
        """KmsKeyId as AWS reports it: absent for aws/secretsmanager."""
        if self.kms_key_id in (None, "", "alias/aws/secretsmanager"):
            return None
        return self.kms_key_id

    def summary(self) -> dict[str, Any]:
        """What DescribeSecret and ListSecrets share."""
        out: dict[str, Any] = {"ARN": self.arn, "Name": self.name}
        if self.secret_type:
            out["Type"] = self.secret_type
        if self.description:
            out["Description"] = self.description
        key = self.shown_kms_key_id
        if key is not None:
            out["KmsKeyId"] = key
        out["RotationEnabled"] = self.rotation_enabled
        if self.rotation_lambda_arn:
            out["RotationLambdaARN"] = self.rotation_lambda_arn
        if self.rotation_rules:
            out["RotationRules"] = schedule.shown(self.rotation_rules)
        if self.last_rotated is not None:
            out["LastRotatedDate"] = dt(self.last_rotated)
        out["LastChangedDate"] = dt(self.last_changed)
        if self.deleted is not None and self.deletion_date is not None:
            out["DeletedDate"] = dt(self.deleted)
        if self.rotation_enabled and self.next_rotation is not None:
            out["NextRotationDate"] = dt(self.next_rotation_date())
        if self.tags:
            out["Tags"] = TAGS.to_wire(self.tag_list())
        if self.owning_service:
            out["OwningService"] = self.owning_service
        out["CreatedDate"] = dt(self.created)
        if self.primary_region:
            out["PrimaryRegion"] = self.primary_region
        return out


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


_FIELDS = [f.name for f in fields(Secret)]
_COLUMNS = [secrets.c[name] for name in _FIELDS]

_BY_NAME = Prepared(
    select(*_COLUMNS).where(
        secrets.c.account == bindparam("account"),
        secrets.c.region == bindparam("region"),
        secrets.c.name == bindparam("name"),
    )
)
_BY_ARN = Prepared(select(*_COLUMNS).where(secrets.c.arn == bindparam("arn")))


def secret_arn(account: str, region: str, name: str) -> str:
    """A new secret's ARN: its name, a hyphen and six random characters."""
    suffix = "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(6))
    return make_arn("secretsmanager", region, account, f"secret:{name}-{suffix}")


def partial_arn(account: str, region: str, name: str) -> str:
    return make_arn("secretsmanager", region, account, f"secret:{name}")


def owner_of(call: Call) -> str | None:
    """The service a call came through (``rds`` for one RDS made on its
    caller's behalf), or None for a request sent directly."""
    return call.via[-1].split(".", 1)[0] if call.via else None


def require_name(name: str) -> None:
    if not _NAME.match(name):
        raise errors.InvalidParameterException(BAD_NAME)


def cached(call: Call, kind: str, statement: Prepared, **params: str) -> Any:
    """One row of `statement`, through the store's hot cache under (kind, params)."""
    store = call.store
    key = (kind, *params.values())
    row = store.hot_get(key)
    if row is None:
        row = statement.first(call.conn, **params)
        if row is not None:
            store.hot_put(key, row)
    return row


def find(call: Call, account: str, region: str, name: str) -> Secret | None:
    row = cached(call, "sm-name", _BY_NAME, account=account, region=region, name=name)
    return Secret(*row) if row is not None else None


def find_by_arn(call: Call, arn: str) -> Secret | None:
    row = cached(call, "sm-arn", _BY_ARN, arn=arn)
    return Secret(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class SecretRef:
    """What a SecretId names, before looking it up."""

    account: str
    region: str
    name: str
    arn: str | None
    #: The ARN a refusal names for a secret that is not there.
    resource: str


def parse_ref(call: Call, secret_id: str) -> SecretRef:
    if secret_id.startswith("arn:"):
        parts = secret_id.split(":", 6)
        if len(parts) == 7 and parts[2] == "secretsmanager" and parts[5] == "secret":
            return SecretRef(parts[4], parts[3], parts[6], secret_id, secret_id)
        raise errors.ResourceNotFoundException(NOT_FOUND)
    return SecretRef(
        call.account,
        call.region,
        secret_id,
        None,
        partial_arn(call.account, call.region, secret_id),
    )


def lookup(call: Call, secret_id: str) -> tuple[SecretRef, Secret | None]:
    """The secret `secret_id` names in the caller's Region, or None."""
    ref = parse_ref(call, secret_id)
    if ref.region != call.region:
        return ref, None
    found = find_by_arn(call, ref.arn) if ref.arn is not None else None
    if found is None:
        found = find(call, ref.account, ref.region, ref.name)
    return ref, found


def resolve(call: Call, secret_id: str, action: str, extra: dict[str, Any] | None = None) -> Secret:
    """The secret `secret_id` names, once the caller may do `action` on it:
    ResourceNotFoundException for one that is not there, after the same
    authorization against the ARN the caller named (so a caller who may not
    act learns nothing of what exists)."""
    ref, secret = lookup(call, secret_id)
    if secret is None:
        ctx = {"secretsmanager:SecretId": ref.resource, **(extra or {})}
        call.authorize(action, ref.resource, ctx, resource_account=ref.account)
        raise errors.ResourceNotFoundException(NOT_FOUND)
    secret.authorize(call, action, extra)
    call.audit_resource(secret.arn, SECRET_TYPE, secret.account)
    return secret


# --------------------------------------------------------------------------- writes


def insert_secret(conn: Connection, secret: Secret) -> None:
    conn.execute(insert(secrets).values(**{name: getattr(secret, name) for name in _FIELDS}))


def save(conn: Connection, secret: Secret, *names: str) -> None:
    """Write the named fields of `secret` back to its row."""
    conn.execute(
        update(secrets)
        .where(secrets.c.arn == secret.arn)
        .values(**{name: getattr(secret, name) for name in names})
    )


def delete_secret(conn: Connection, secret: Secret) -> None:
    """Remove a secret for good: its versions (values and data keys) and labels."""
    for table in (labels, versions):
        conn.execute(delete(table).where(table.c.secret_arn == secret.arn))
    conn.execute(delete(secrets).where(secrets.c.arn == secret.arn))


def new_secret(
    call: Call,
    name: str,
    *,
    region: str | None = None,
    arn: str | None = None,
    description: str | None = None,
    kms_key_id: str | None = None,
    tags: list[Tag] | None = None,
    secret_type: str | None = None,
    primary_region: str | None = None,
) -> Secret:
    region = region or call.region
    now = call.clock.timestamp()
    return Secret(
        account=call.account,
        region=region,
        name=name,
        arn=arn or secret_arn(call.account, region, name),
        description=description,
        kms_key_id=kms_key_id or None,
        created=now,
        last_changed=now,
        deletion_date=None,
        deleted=None,
        tags=TAGS.to_rows(tags or []),
        policy=None,
        owning_service=None,
        secret_type=secret_type,
        primary_region=primary_region,
        replicas=[],
        rotation_enabled=False,
        rotation_lambda_arn=None,
        rotation_rules=None,
        last_rotated=None,
        next_rotation=None,
        version_seq=0,
    )


# --------------------------------------------------------------------------- listings


def of_region(conn: Connection, account: str, region: str) -> list[Secret]:
    rows = conn.execute(
        select(*_COLUMNS).where(secrets.c.account == account, secrets.c.region == region)
    )
    return [Secret(*row) for row in rows]


def due_for_deletion(conn: Connection, now: float) -> list[Secret]:
    rows = conn.execute(
        select(*_COLUMNS).where(
            secrets.c.deletion_date.is_not(None), secrets.c.deletion_date <= now
        )
    )
    return [Secret(*row) for row in rows]


def next_deletion(conn: Connection) -> float | None:
    return conn.execute(select(func.min(secrets.c.deletion_date))).scalar()


_ROTATING = (secrets.c.rotation_enabled.is_(True)) & (secrets.c.deletion_date.is_(None))


def due_for_rotation(conn: Connection, now: float) -> list[Secret]:
    """Secrets whose next rotation window has opened."""
    rows = conn.execute(
        select(*_COLUMNS).where(
            _ROTATING, secrets.c.next_rotation.is_not(None), secrets.c.next_rotation <= now
        )
    )
    return [Secret(*row) for row in rows]


def next_rotation(conn: Connection) -> float | None:
    return conn.execute(select(func.min(secrets.c.next_rotation)).where(_ROTATING)).scalar()


def request_tags(tags: list[dict[str, str]] | None) -> list[Tag]:
    """The tags of a request (the model lets a tag's Key be left out: such a
    tag is a bad key, as AWS answers it)."""
    for tag in tags or ():
        if tag.get("Key") is None:
            raise errors.InvalidParameterException(TAGS.bad_key.message.format(key=""))
    return TAGS.from_wire(tags)


def conditions(values: dict[str, Any]) -> dict[str, Any]:
    """The request's condition keys: those it gave a value (booleans as AWS
    writes them, "true"/"false")."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def tag_context(tags: list[Tag]) -> dict[str, Any]:
    return tagging.request_context(tags)
