"""Aliases as stored: finding, creating, retargeting and deleting them (the
operations' rules — reserved names, target keys — stay in ops_keys)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from strongroom.framework import Call
from strongroom.services.kms.keys import Key, alias_arn
from strongroom.services.kms.service import errors
from strongroom.services.kms.tables import aliases
from strongroom.store.db import Prepared

#: "You can associate up to 50 aliases with each KMS key" (our limit, named in the error).
MAX_ALIASES_PER_KEY = 50


@dataclass(frozen=True, slots=True)
class Alias:
    account: str
    region: str
    alias_name: str
    key_id: str
    #: Epoch seconds, as stored; the ``*_date`` properties are datetimes.
    created: float
    updated: float

    @property
    def arn(self) -> str:
        return alias_arn(self.account, self.region, self.alias_name)

    @property
    def creation_date(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)

    @property
    def last_updated_date(self) -> datetime:
        return datetime.fromtimestamp(self.updated, UTC)


_COLUMNS = (
    aliases.c.account,
    aliases.c.region,
    aliases.c.alias_name,
    aliases.c.key_id,
    aliases.c.created,
    aliases.c.updated,
)


def _named(account: str, region: str, name: str) -> tuple[object, ...]:
    return (
        aliases.c.account == account,
        aliases.c.region == region,
        aliases.c.alias_name == name,
    )


_NAMES_OF_KEY = Prepared(
    select(aliases.c.alias_name).where(
        aliases.c.account == bindparam("account"),
        aliases.c.region == bindparam("region"),
        aliases.c.key_id == bindparam("key_id"),
    )
)


def names_of_key(call: Call, key: Key) -> list[str]:
    """The names of `key`'s aliases (kms:ResourceAliases), through the
    store's hot cache: every use of a key asks, and they change only with
    a write (which empties that cache)."""
    store = call.store
    cache_key = ("kms-alias-names", key.account, key.region, key.key_id)
    names = store.hot_get(cache_key)
    if names is None:
        rows = _NAMES_OF_KEY.all(
            call.conn, account=key.account, region=key.region, key_id=key.key_id
        )
        names = tuple(row[0] for row in rows)
        store.hot_put(cache_key, names)
    return list(names)


def find(conn: Connection, account: str, region: str, name: str) -> Alias | None:
    row = conn.execute(select(*_COLUMNS).where(*_named(account, region, name))).first()
    return Alias(*row) if row is not None else None


def resolve(conn: Connection, account: str, region: str, name: str) -> Alias:
    """The alias of that name; NotFoundException (AWS's wording) otherwise."""
    found = find(conn, account, region, name)
    if found is None:
        raise errors.NotFoundException(f"Alias {alias_arn(account, region, name)} is not found.")
    return found


def require_absent(conn: Connection, account: str, region: str, name: str) -> None:
    if find(conn, account, region, name) is not None:
        raise errors.AlreadyExistsException(
            f"An alias with the name {alias_arn(account, region, name)} already exists"
        )


def require_room(conn: Connection, key: Key) -> None:
    """LimitExceededException when `key` has as many aliases as it may."""
    count = conn.execute(
        select(func.count()).where(
            aliases.c.account == key.account,
            aliases.c.region == key.region,
            aliases.c.key_id == key.key_id,
        )
    ).scalar_one()
    if count >= MAX_ALIASES_PER_KEY:
        raise errors.LimitExceededException(
            f"Too many aliases for key {key.arn}: the limit is {MAX_ALIASES_PER_KEY}."
        )


def create(conn: Connection, account: str, region: str, name: str, key_id: str, now: float) -> None:
    conn.execute(
        insert(aliases).values(
            account=account,
            region=region,
            alias_name=name,
            key_id=key_id,
            created=now,
            updated=now,
        )
    )


def retarget(
    conn: Connection, account: str, region: str, name: str, key_id: str, now: float
) -> None:
    conn.execute(
        update(aliases).where(*_named(account, region, name)).values(key_id=key_id, updated=now)
    )


def remove(conn: Connection, account: str, region: str, name: str) -> None:
    conn.execute(delete(aliases).where(*_named(account, region, name)))


def of_region(
    conn: Connection, account: str, region: str, key_id: str | None = None
) -> list[Alias]:
    """The account's aliases in the Region (of one key, when named), by name."""
    query = select(*_COLUMNS).where(aliases.c.account == account, aliases.c.region == region)
    if key_id is not None:
        query = query.where(aliases.c.key_id == key_id)
    return [Alias(*row) for row in conn.execute(query.order_by(aliases.c.alias_name))]
