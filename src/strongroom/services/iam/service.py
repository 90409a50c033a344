"""The IAM `Service` object every IAM operation module registers on."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, update

from strongroom.framework import Call, Service
from strongroom.services.iam.tables import TABLES, generations
from strongroom.store.db import Prepared

service = Service("iam", global_service=True, tables=TABLES)
errors = service.errors

_BUMP = Prepared(
    update(generations)
    .where(generations.c.account == bindparam("account"))
    .values(generation=generations.c.generation + 1)
)


@service.after_write
def bump_generation(call: Call) -> None:
    """Every successful IAM write invalidates cached policy snapshots of the account."""
    if _BUMP.rowcount(call.conn, account=call.account) == 0:
        call.conn.execute(insert(generations).values(account=call.account, generation=1))
