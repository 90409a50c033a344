"""Buckets: one global namespace of names, each owned by an account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from strongroom.services.s3 import tables
from strongroom.services.s3.service import errors
from strongroom.store.db import HotTables, Prepared, Store

B = tables.buckets

#: Block Public Access as a new bucket has it.
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass(slots=True)
class Bucket:
    name: str
    account: str
    region: str
    created: float
    tags: dict[str, str]
    encryption: dict[str, Any] | None
    policy: str | None
    public_access_block: dict[str, bool] | None
    cors: list[dict[str, Any]] | None
    versioning: str | None
    object_lock: dict[str, Any] | None
    lifecycle: list[dict[str, Any]] | None
    notifications: dict[str, Any] | None
    bucket_key: bytes | None
    bucket_key_arn: str | None
    bucket_key_until: float | None


_FIELDS = (
    "name", "account", "region", "created", "tags", "encryption", "policy",
    "public_access_block", "cors", "versioning", "object_lock", "lifecycle",
    "notifications", "bucket_key", "bucket_key_arn", "bucket_key_until",
)  # fmt: skip
#: Every object request reads its bucket: compiled once.
_BY_NAME = Prepared(select(*[B.c[f] for f in _FIELDS]).where(B.c.name == bindparam("name")))


#: A bucket's row is cached across commits that leave the buckets alone
#: (a PutObject writes objects only).
_BUCKET_TABLES = HotTables(B)


def get(conn: Connection, name: str, store: Store | None = None) -> Bucket | None:
    """The bucket `name`. Given the `store`, its row comes from the hot
    cache while no commit changed the buckets table (never a stale one);
    a fresh `Bucket` each time, since callers change theirs."""
    key = ("s3-bucket", name)
    row = store.hot_get(key, _BUCKET_TABLES) if store is not None else None
    if row is None:
        row = _BY_NAME.first(conn, name=name)
        if row is None:
            return None
        if store is not None:
            store.hot_put(key, row, _BUCKET_TABLES)
    bucket = Bucket(*row)
    if isinstance(bucket.bucket_key, memoryview):
        bucket.bucket_key = bytes(bucket.bucket_key)
    return bucket


def require(conn: Connection, name: str, store: Store | None = None) -> Bucket:
    bucket = get(conn, name, store)
    if bucket is None:
        raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=name)
    return bucket


def create(conn: Connection, name: str, account: str, region: str, now: float) -> None:
    conn.execute(
        insert(B).values(
            name=name,
            account=account,
            region=region,
            created=now,
            tags={},
            encryption=None,
            public_access_block=dict(ALL_BLOCKED),
        )
    )


def remove(conn: Connection, name: str) -> None:
    conn.execute(delete(B).where(B.c.name == name))


def of_account(conn: Connection, account: str) -> list[Bucket]:
    rows = conn.execute(select(B).where(B.c.account == account).order_by(B.c.name))
    return [Bucket(**r._mapping) for r in rows]


def with_lifecycle(conn: Connection) -> list[Bucket]:
    rows = conn.execute(select(B).where(B.c.lifecycle.is_not(None)).order_by(B.c.name))
    return [Bucket(**r._mapping) for r in rows]


def set_fields(conn: Connection, name: str, **values: Any) -> None:
    conn.execute(update(B).where(B.c.name == name).values(**values))


def is_empty(conn: Connection, name: str) -> bool:
    o, u = tables.objects, tables.uploads
    if conn.execute(select(o.c.key).where(o.c.bucket == name).limit(1)).first():
        return False
    return conn.execute(select(u.c.upload_id).where(u.c.bucket == name).limit(1)).first() is None
