"""KMS keys: the domain layer under the operations.

Finding a key (`resolve`) and its material (`material_of`) is the hot path of
every cryptographic call. The key row — state, policy, current material
version — is read from the store on every request with a `Prepared`
statement, so a disabled or deleted key fails at once in every process.
Unsealed material is cached per (key, material version): the material of a
version never changes, so that cache can never be stale.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from strongroom.arn import arn as make_arn
from strongroom.framework import Call, tagging
from strongroom.framework.tagging import Tag
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms import states
from strongroom.services.kms.service import errors
from strongroom.services.kms.specs import ALGORITHM_MEMBER, SPECS
from strongroom.services.kms.states import (
    EXPIRATION_MODELS,
    IMPORT_STATES,
    KEY_MANAGERS,
    KEY_STATES,
    KEY_USAGES,
    MATERIAL_STATES,
    ORIGINS,
    ROTATION_TYPES,
    ExpirationModel,
    ImportState,
    KeyManager,
    KeyState,
    KeyUsage,
    MaterialState,
    MultiRegionKeyType,
    Origin,
    RotationType,
)
from strongroom.services.kms.tables import aliases, grants, import_tokens, keys, material
from strongroom.store.db import Prepared
from strongroom.store.sealing import Sealer

DAY = 86400.0
DEFAULT_ROTATION_DAYS = 365
MRK_PREFIX = "mrk-"


@dataclass(slots=True)
class Key:
    account: str
    region: str
    key_id: str
    arn: str
    description: str
    key_usage: KeyUsage
    key_spec: str
    origin: Origin
    key_manager: KeyManager
    state: KeyState
    #: Times are epoch seconds, as stored; the ``*_date`` properties are datetimes.
    created: float
    deletion_date: float | None
    pending_window: int | None
    valid_to: float | None
    expiration_model: ExpirationModel | None
    policy: str
    primary_region: str | None
    multi_region: bool
    rotation_enabled: bool
    rotation_period: int | None
    next_rotation: float | None
    on_demand_rotations: int
    current_version: int
    public_key: bytes | None
    #: [{"TagKey", "TagValue"}], a copy of its own (rows may be cached).
    tags: list[dict[str, str]]

    def __post_init__(self) -> None:
        # Stored text becomes members with one lookup each (Key(*row) is on
        # the hot path); members passed in are found the same way.
        self.state = KEY_STATES[self.state]
        self.key_usage = KEY_USAGES[self.key_usage]
        self.origin = ORIGINS[self.origin]
        self.key_manager = KEY_MANAGERS[self.key_manager]
        if self.expiration_model is not None:
            self.expiration_model = EXPIRATION_MODELS[self.expiration_model]
        self.multi_region = bool(self.multi_region)
        self.rotation_enabled = bool(self.rotation_enabled)
        if self.public_key is not None:
            self.public_key = bytes(self.public_key)
        self.tags = list(self.tags) if self.tags else []

    # -- rules ---------------------------------------------------------

    @property
    def spec(self) -> Any:
        return SPECS[self.key_spec]

    @property
    def is_symmetric(self) -> bool:
        return self.key_spec == "SYMMETRIC_DEFAULT"

    @property
    def aws_managed(self) -> bool:
        return self.key_manager == KeyManager.AWS

    @property
    def imported(self) -> bool:
        """Its material is imported (Origin EXTERNAL)."""
        return self.origin == Origin.EXTERNAL

    @property
    def creation_date(self) -> datetime:
        return _dt(self.created)

    @property
    def scheduled_deletion_date(self) -> datetime | None:
        """DeletionDate, when the key is scheduled for deletion."""
        return _dt(self.deletion_date) if self.deletion_date is not None else None

    @property
    def next_rotation_date(self) -> datetime | None:
        return _dt(self.next_rotation) if self.next_rotation is not None else None

    @property
    def valid_to_date(self) -> datetime | None:
        return _dt(self.valid_to) if self.valid_to is not None else None

    @property
    def is_primary(self) -> bool:
        return self.multi_region and self.primary_region == self.region

    @property
    def multi_region_type(self) -> MultiRegionKeyType:
        """PRIMARY or REPLICA (of a multi-Region key)."""
        return MultiRegionKeyType.PRIMARY if self.is_primary else MultiRegionKeyType.REPLICA

    def require_state(self, operation: str) -> None:
        """DisabledException, KMSInvalidStateException… as the key-state table says."""
        states.check(operation, self.state, self.arn)

    def require_usage(self, usage: KeyUsage, operation: str) -> None:
        if self.key_usage != usage:
            raise errors.InvalidKeyUsageException(
                f"{self.arn} key usage is {self.key_usage} which is not valid for {operation}."
            )

    def require_algorithm(self, algorithm: str) -> None:
        allowed = self.spec.usages.get(self.key_usage, ())
        if algorithm not in allowed:
            raise errors.InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {self.key_spec}."
            )

    def require_customer_managed(self, call: Call, action: str) -> None:
        """AWS managed keys cannot be changed: their key policy allows no one."""
        if self.aws_managed:
            from strongroom.services.kms.access import deny

            raise deny(call, action, self.arn)

    # -- projections ---------------------------------------------------

    def tag_list(self) -> list[Tag]:
        return tagging.KMS.from_wire(self.tags) if self.tags else []

    def set_tags(self, tags: list[Tag]) -> None:
        self.tags = stored_tags(tags)

    def to_key_metadata(self, conn: Connection) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AWSAccountId": self.account,
            "KeyId": self.key_id,
            "Arn": self.arn,
            "CreationDate": self.creation_date,
            "Enabled": self.state == KeyState.ENABLED,
            "Description": self.description,
            "KeyUsage": self.key_usage,
            "KeyState": self.state,
            "Origin": self.origin,
            "KeyManager": self.key_manager,
            "CustomerMasterKeySpec": self.key_spec,
            "KeySpec": self.key_spec,
            "MultiRegion": self.multi_region,
        }
        member = ALGORITHM_MEMBER[self.key_usage]
        out[member] = list(self.spec.usages[self.key_usage])
        if self.state == KeyState.PENDING_DELETION and self.deletion_date is not None:
            out["DeletionDate"] = self.scheduled_deletion_date
        if self.state in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION):
            out["PendingDeletionWindowInDays"] = self.pending_window
        if self.imported:
            if self.expiration_model:
                out["ExpirationModel"] = self.expiration_model
            if self.valid_to is not None:
                out["ValidTo"] = self.valid_to_date
        if self.multi_region:
            out["MultiRegionConfiguration"] = multi_region_configuration(conn, self)
        if self.is_symmetric and self.current_version:
            mid = current_material_id(conn, self)
            if mid:
                out["CurrentKeyMaterialId"] = mid
        return out


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


_KEY_FIELDS = [f.name for f in fields(Key)]
_KEY_COLUMNS = [keys.c[name] for name in _KEY_FIELDS]

_BY_ID = Prepared(
    select(*_KEY_COLUMNS).where(
        keys.c.account == bindparam("account"),
        keys.c.region == bindparam("region"),
        keys.c.key_id == bindparam("key_id"),
    )
)
_BY_ALIAS = Prepared(
    select(*_KEY_COLUMNS)
    .select_from(
        aliases.join(
            keys,
            and_(
                keys.c.account == aliases.c.account,
                keys.c.region == aliases.c.region,
                keys.c.key_id == aliases.c.key_id,
            ),
        )
    )
    .where(
        aliases.c.account == bindparam("account"),
        aliases.c.region == bindparam("region"),
        aliases.c.alias_name == bindparam("alias"),
    )
)
_MATERIAL = Prepared(
    select(material.c.sealed, material.c.material_id).where(
        material.c.account == bindparam("account"),
        material.c.region == bindparam("region"),
        material.c.key_id == bindparam("key_id"),
        material.c.version == bindparam("version"),
    )
)


class _TypedKey(Key):
    """A `Key` made from members that are typed already (the hot cache's):
    only the tag list is copied, so the cached members are never shared
    with a writer."""

    __slots__ = ()

    def __post_init__(self) -> None:
        if self.tags:
            self.tags = list(self.tags)


def key_arn(account: str, region: str, key_id: str) -> str:
    return make_arn("kms", region, account, f"key/{key_id}")


def alias_arn(account: str, region: str, alias_name: str) -> str:
    return make_arn("kms", region, account, alias_name)


def find(conn: Connection, account: str, region: str, key_id: str) -> Key | None:
    row = _BY_ID.first(conn, account=account, region=region, key_id=key_id)
    return Key(*row) if row is not None else None


def find_by_alias(conn: Connection, account: str, region: str, alias_name: str) -> Key | None:
    row = _BY_ALIAS.first(conn, account=account, region=region, alias=alias_name)
    return Key(*row) if row is not None else None


def _hot_key(
    call: Call, statement: Prepared, kind: str, account: str, region: str, name: str
) -> Key | None:
    """A key through the store's hot cache.

    The cache holds the key's members already typed (enums, bools, bytes),
    not a `Key`: writers mutate the Key they are handed, so each caller gets
    a fresh one, built without typing the stored text again (`_TypedKey`)."""
    store = call.store
    cache_key = (kind, account, region, name)
    members = store.hot_get(cache_key)
    if members is None:
        if kind == "kms-key":
            row = statement.first(call.conn, account=account, region=region, key_id=name)
        else:
            row = statement.first(call.conn, account=account, region=region, alias=name)
        if row is None:
            return None
        typed = Key(*row)
        members = tuple(getattr(typed, member) for member in _KEY_FIELDS)
        store.hot_put(cache_key, members)
    return _TypedKey(*members)


def find_cached(call: Call, account: str, region: str, key_id: str) -> Key | None:
    return _hot_key(call, _BY_ID, "kms-key", account, region, key_id)


def find_by_alias_cached(call: Call, account: str, region: str, alias_name: str) -> Key | None:
    return _hot_key(call, _BY_ALIAS, "kms-alias", account, region, alias_name)


@dataclass(slots=True)
class KeyRef:
    """What a KeyId parameter names, before looking it up."""

    account: str
    region: str
    key_id: str | None = None
    alias_name: str | None = None


_KEY_ID = re.compile(
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})\Z",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_key_id(value: str) -> bool:
    """A key id's shape: a UUID, or ``mrk-`` and 32 hex digits (cached: the
    same few ids arrive on every request)."""
    return _KEY_ID.match(value) is not None


def parse_key_ref(call: Call, value: str) -> KeyRef:
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[4]:
            raise errors.NotFoundException(f"Invalid arn {value}")
        _, _, _, region, account, resource = parts
        if resource.startswith("key/"):
            return KeyRef(account, region, key_id=resource[4:])
        if resource.startswith("alias/"):
            return KeyRef(account, region, alias_name=resource)
        raise errors.NotFoundException(f"Invalid arn {value}")
    if value.startswith("alias/"):
        return KeyRef(call.account, call.region, alias_name=value)
    if not is_key_id(value):
        raise errors.NotFoundException(f"Invalid keyId '{value}'")
    return KeyRef(call.account, call.region, key_id=value)


def resolve(
    call: Call, value: str, *, aliases_ok: bool = True, create_managed: bool = False
) -> Key:
    """The key a KeyId parameter names (id, ARN, alias name or alias ARN), in
    the caller's Region; NotFoundException otherwise."""
    ref = parse_key_ref(call, value)
    if ref.region != call.region:
        raise errors.NotFoundException(f"Invalid arn {ref.region}")
    conn = call.conn
    if ref.alias_name is not None:
        if not aliases_ok:
            raise errors.NotFoundException(
                f"Key '{alias_arn(ref.account, ref.region, ref.alias_name)}' does not exist"
            )
        key = None
        if ref.region == call.region:
            key = find_by_alias_cached(call, ref.account, ref.region, ref.alias_name)
        if key is None and create_managed and ref.region == call.region:
            from strongroom.services.kms import managed

            service_name = managed.service_of_alias(ref.alias_name)
            if service_name is not None and ref.account == call.account:
                managed.ensure(call, ref.account, ref.region, service_name)
                key = find_by_alias(conn, ref.account, ref.region, ref.alias_name)
        if key is None:
            raise errors.NotFoundException(
                f"Alias {alias_arn(ref.account, ref.region, ref.alias_name)} is not found."
            )
        return key
    assert ref.key_id is not None
    key = (
        find_cached(call, ref.account, ref.region, ref.key_id)
        if ref.region == call.region
        else None
    )
    if key is None:
        raise errors.NotFoundException(
            f"Key '{key_arn(ref.account, ref.region, ref.key_id)}' does not exist"
        )
    return key


# --------------------------------------------------------------------------- material

_cache: dict[tuple[str, str, str, int], tuple[Any, str]] = {}
_CACHE_LIMIT = 65536


@dataclass(slots=True)
class Material:
    """One version of a key's material as stored (``sealed`` is None once
    imported material is deleted; times are epoch seconds)."""

    account: str
    region: str
    key_id: str
    version: int
    material_id: str
    sealed: bytes | None
    created: float
    rotation_type: RotationType
    state: MaterialState
    import_state: ImportState | None
    valid_to: float | None
    expiration_model: ExpirationModel | None
    description: str | None

    def __post_init__(self) -> None:
        self.rotation_type = ROTATION_TYPES[self.rotation_type]
        self.state = MATERIAL_STATES[self.state]
        if self.import_state is not None:
            self.import_state = IMPORT_STATES[self.import_state]
        if self.expiration_model is not None:
            self.expiration_model = EXPIRATION_MODELS[self.expiration_model]
        if self.sealed is not None:
            self.sealed = bytes(self.sealed)

    @property
    def pending_rotation(self) -> bool:
        """Imported as new material, waiting for RotateKeyOnDemand."""
        return self.state == MaterialState.PENDING_ROTATION

    @property
    def is_rotation(self) -> bool:
        """A rotation ListKeyRotations lists by default: neither the key's
        first material nor material still waiting to become current."""
        return self.rotation_type != RotationType.INITIAL and not self.pending_rotation

    @property
    def rotation_date(self) -> datetime:
        return _dt(self.created)

    @property
    def valid_to_date(self) -> datetime | None:
        return _dt(self.valid_to) if self.valid_to is not None else None


_MATERIAL_FIELDS = [f.name for f in fields(Material)]


def material_aad(account: str, region: str, key_id: str, version: int) -> bytes:
    return f"kms-key-material:{account}:{region}:{key_id}:{version}".encode()


def material_entry(
    conn: Connection, sealer: Sealer, key: Key, version: int | None = None
) -> tuple[Any, str] | None:
    """(loaded material, KeyMaterialId) of a version (default: the current one)."""
    v = version if version is not None else key.current_version
    cache_key = (key.account, key.region, key.key_id, v)
    found = _cache.get(cache_key)
    if found is not None:
        return found
    row = _MATERIAL.first(
        conn, account=key.account, region=key.region, key_id=key.key_id, version=v
    )
    if row is None or row[0] is None:
        return None
    raw = sealer.unseal(bytes(row[0]), material_aad(key.account, key.region, key.key_id, v))
    entry = (crypto.load_material(key.key_spec, raw), row[1])
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[cache_key] = entry
    return entry


def material_of(conn: Connection, sealer: Sealer, key: Key, version: int | None = None) -> Any:
    entry = material_entry(conn, sealer, key, version)
    return entry[0] if entry is not None else None


def forget_material(key: Key, version: int) -> None:
    _cache.pop((key.account, key.region, key.key_id, version), None)


def raw_material(conn: Connection, sealer: Sealer, key: Key, version: int) -> bytes | None:
    row = _MATERIAL.first(
        conn, account=key.account, region=key.region, key_id=key.key_id, version=version
    )
    if row is None or row[0] is None:
        return None
    return sealer.unseal(bytes(row[0]), material_aad(key.account, key.region, key.key_id, version))


def add_material(
    conn: Connection,
    sealer: Sealer,
    key: Key,
    version: int,
    raw: bytes,
    now: float,
    *,
    rotation_type: RotationType,
    material_id: str,
    state: MaterialState = MaterialState.CURRENT,
    import_state: ImportState | None = None,
    valid_to: float | None = None,
    expiration_model: ExpirationModel | None = None,
    description: str | None = None,
) -> None:
    conn.execute(
        insert(material).values(
            account=key.account,
            region=key.region,
            key_id=key.key_id,
            version=version,
            material_id=material_id,
            sealed=sealer.seal(raw, material_aad(key.account, key.region, key.key_id, version)),
            created=now,
            rotation_type=rotation_type,
            state=state,
            import_state=import_state,
            valid_to=valid_to,
            expiration_model=expiration_model,
            description=description,
        )
    )


def new_material_id() -> str:
    return crypto.material_id(crypto.random_bytes(32))


def material_rows(conn: Connection, key: Key) -> list[Material]:
    """Every material version of `key`, oldest first."""
    return [
        Material(*row)
        for row in conn.execute(
            select(*(material.c[name] for name in _MATERIAL_FIELDS))
            .where(
                material.c.account == key.account,
                material.c.region == key.region,
                material.c.key_id == key.key_id,
            )
            .order_by(material.c.version)
        )
    ]


def current_material_id(conn: Connection, key: Key) -> str | None:
    row = conn.execute(
        select(material.c.material_id).where(
            material.c.account == key.account,
            material.c.region == key.region,
            material.c.key_id == key.key_id,
            material.c.version == key.current_version,
        )
    ).first()
    return row[0] if row else None


# --------------------------------------------------------------------------- create


def default_policy(account: str) -> str:
    """The key policy AWS gives a key created without one (pretty-printed as AWS does)."""
    return (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        f'      "AWS" : "arn:aws:iam::{account}:root"\n'
        "    },\n"
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        "  } ]\n"
        "}"
    )


def stored_tags(tags: list[Tag]) -> list[dict[str, str]]:
    """A key's tags as its ``tags`` column holds them (``[{"TagKey", "TagValue"}]``,
    the form the column has always had; the column encodes them)."""
    return tagging.KMS.to_wire(tags)


def create_key(
    conn: Connection,
    sealer: Sealer,
    now: float,
    *,
    account: str,
    region: str,
    policy: str,
    description: str = "",
    key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT,
    key_spec: str = "SYMMETRIC_DEFAULT",
    origin: Origin = Origin.AWS_KMS,
    key_manager: KeyManager = KeyManager.CUSTOMER,
    multi_region: bool = False,
    tags: list[Tag] | None = None,
    rotation_days: int | None = None,
) -> Key:
    """Create a key (and, unless its material is to be imported, its material)."""
    key_id = (MRK_PREFIX + uuid.uuid4().hex) if multi_region else str(uuid.uuid4())
    raw: bytes | None = None
    public: bytes | None = None
    if origin == Origin.AWS_KMS:
        if key_spec == "SYMMETRIC_DEFAULT":
            raw = crypto.new_symmetric_material()
        elif key_spec.startswith("HMAC_"):
            raw = crypto.new_hmac_material(key_spec)
        else:
            raw = crypto.new_private_key(key_spec)
            public = crypto.public_key_of(key_spec, raw)
    key = Key(
        account=account,
        region=region,
        key_id=key_id,
        arn=key_arn(account, region, key_id),
        description=description,
        key_usage=key_usage,
        key_spec=key_spec,
        origin=origin,
        key_manager=key_manager,
        state=KeyState.ENABLED if raw is not None else KeyState.PENDING_IMPORT,
        created=now,
        deletion_date=None,
        pending_window=None,
        valid_to=None,
        expiration_model=None,
        policy=policy,
        primary_region=region if multi_region else None,
        multi_region=multi_region,
        rotation_enabled=rotation_days is not None,
        rotation_period=rotation_days,
        next_rotation=now + rotation_days * DAY if rotation_days else None,
        on_demand_rotations=0,
        current_version=1 if raw is not None else 0,
        public_key=public,
        tags=stored_tags(tags or []),
    )
    insert_key(conn, key)
    if raw is not None:
        add_material(
            conn,
            sealer,
            key,
            1,
            raw,
            now,
            rotation_type=RotationType.INITIAL,
            material_id=new_material_id(),
        )
    return key


def insert_key(conn: Connection, key: Key) -> None:
    conn.execute(insert(keys).values(**{name: getattr(key, name) for name in _KEY_FIELDS}))


def save(conn: Connection, key: Key, *names: str) -> None:
    """Write the named fields of `key` back to its row."""
    conn.execute(
        update(keys)
        .where(
            keys.c.account == key.account,
            keys.c.region == key.region,
            keys.c.key_id == key.key_id,
        )
        .values(**{name: getattr(key, name) for name in names})
    )


def save_everywhere(conn: Connection, key: Key, *names: str) -> None:
    """Write shared fields to every Region's copy of a multi-Region key."""
    if not key.multi_region:
        save(conn, key, *names)
        return
    conn.execute(
        update(keys)
        .where(keys.c.account == key.account, keys.c.key_id == key.key_id)
        .values(**{name: getattr(key, name) for name in names})
    )


def related(conn: Connection, key: Key) -> list[Key]:
    """Every Region's copy of a multi-Region key (just `key` otherwise)."""
    if not key.multi_region:
        return [key]
    rows = conn.execute(
        select(*_KEY_COLUMNS)
        .where(keys.c.account == key.account, keys.c.key_id == key.key_id)
        .order_by(keys.c.region)
    )
    return [Key(*row) for row in rows]


def multi_region_configuration(conn: Connection, key: Key) -> dict[str, Any]:
    copies = related(conn, key)
    primary = next((k for k in copies if k.region == key.primary_region), None)
    out: dict[str, Any] = {
        "MultiRegionKeyType": key.multi_region_type,
        "ReplicaKeys": [
            {"Arn": k.arn, "Region": k.region} for k in copies if k.region != key.primary_region
        ],
    }
    if primary is not None:
        out["PrimaryKey"] = {"Arn": primary.arn, "Region": primary.region}
    else:
        region = key.primary_region or key.region
        out["PrimaryKey"] = {"Arn": key_arn(key.account, region, key.key_id), "Region": region}
    return out


def delete_key(conn: Connection, key: Key) -> None:
    """Remove a key for good: its row, material, aliases, grants, import tokens."""
    where = {"account": key.account, "region": key.region, "key_id": key.key_id}
    for table in (material, aliases, grants, import_tokens, keys):
        conn.execute(
            delete(table).where(*(table.c[name] == value for name, value in where.items()))
        )
    for cache_key in [k for k in _cache if k[:3] == (key.account, key.region, key.key_id)]:
        _cache.pop(cache_key, None)


def count_keys(conn: Connection, account: str, region: str) -> int:
    return conn.execute(
        select(func.count()).where(keys.c.account == account, keys.c.region == region)
    ).scalar_one()


def list_keys(conn: Connection, account: str, region: str) -> list[tuple[str, str]]:
    return [
        (row[0], row[1])
        for row in conn.execute(
            select(keys.c.key_id, keys.c.arn)
            .where(keys.c.account == account, keys.c.region == region)
            .order_by(keys.c.key_id)
        )
    ]
