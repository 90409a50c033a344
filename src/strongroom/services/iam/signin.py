"""MaxSigninSessionDuration of roles and login profiles (members of newer
models): how long an AWS Sign-In session may last, unset unless given.

Kept in a table of its own by the role's or user's unique id, so a store
written before these members existed needs no migration.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.framework import Call
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import signin_durations


def check_update(call: Call, seconds: int | None, reset: bool | None) -> None:
    """The two members of an update exclude each other (as the model says)."""
    if seconds is not None and reset:
        raise errors.InvalidInputException(
            "MaxSigninSessionDuration and ResetMaxSigninSessionDuration cannot both be "
            "specified in the same request."
        )


def duration_of(conn: Connection, owner_id: str) -> int | None:
    return conn.execute(
        select(signin_durations.c.seconds).where(signin_durations.c.owner_id == owner_id)
    ).scalar()


def put(call: Call, owner_id: str, seconds: int) -> None:
    if duration_of(call.conn, owner_id) is None:
        call.conn.execute(
            insert(signin_durations).values(
                owner_id=owner_id, account=call.account, seconds=seconds
            )
        )
    else:
        call.conn.execute(
            update(signin_durations)
            .where(signin_durations.c.owner_id == owner_id)
            .values(seconds=seconds)
        )


def clear(call: Call, owner_id: str) -> None:
    """Unset it; clearing a setting that is unset has no effect."""
    call.conn.execute(delete(signin_durations).where(signin_durations.c.owner_id == owner_id))


def apply_update(call: Call, owner_id: str, seconds: int | None, reset: bool | None) -> None:
    """UpdateRole / UpdateLoginProfile: replace, clear, or (neither) leave it."""
    if seconds is not None:
        put(call, owner_id, seconds)
    elif reset:
        clear(call, owner_id)
