"""Block Public Access at both levels, as AWS combines them: the bucket's
own settings (PutPublicAccessBlock on the bucket) and its owner account's
(S3 Control's PutPublicAccessBlock, `api.put_account_public_access_block`);
a setting on at either level is on.

- BlockPublicPolicy: a public PutBucketPolicy is refused;
- RestrictPublicBuckets: a public bucket policy lets in only the owner's
  account and AWS services;
- BlockPublicAcls: a public ACL (AllUsers, AuthenticatedUsers) is refused;
- IgnorePublicAcls: AllUsers and AuthenticatedUsers grants are left out of
  authorization (`acls.statements`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.services.s3 import tables
from strongroom.services.s3.buckets import Bucket
from strongroom.store.db import Store

T = tables.account_public_access
SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def account_block(
    conn: Connection, account: str, store: Store | None = None
) -> dict[str, bool] | None:
    """The account's settings, or None when it has none. From the hot
    cache while the state generation is unchanged (a commit moves it)."""
    key = ("s3-account-bpa", account)
    if store is not None:
        cached = store.hot_get(key)
        if cached is not None:
            return cached[0]
    row = conn.execute(select(T.c.config).where(T.c.account == account)).first()
    value = None if row is None else dict(row.config)
    if store is not None:
        store.hot_put(key, (value,))
    return value


def put_account_block(conn: Connection, account: str, config: dict[str, bool]) -> None:
    value = {name: bool(config.get(name, False)) for name in SETTINGS}
    if conn.execute(select(T.c.account).where(T.c.account == account)).first() is None:
        conn.execute(insert(T).values(account=account, config=value))
    else:
        conn.execute(update(T).where(T.c.account == account).values(config=value))


def delete_account_block(conn: Connection, account: str) -> bool:
    """Whether there was one to delete."""
    return bool(conn.execute(delete(T).where(T.c.account == account)).rowcount)


def blocks(conn: Connection, bucket: Bucket, setting: str, store: Store | None = None) -> bool:
    """Whether `setting` is on for `bucket`, at its level or its account's."""
    if (bucket.public_access_block or {}).get(setting):
        return True
    account = account_block(conn, bucket.account, store)
    return bool((account or {}).get(setting))


def effective(conn: Connection, bucket: Bucket) -> dict[str, Any]:
    return {name: blocks(conn, bucket, name) for name in SETTINGS}
