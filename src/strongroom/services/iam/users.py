"""IAM users and their access keys: the domain layer under the operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from strongroom.arn import arn, unique_id
from strongroom.auth import credentials
from strongroom.auth.tables import access_keys
from strongroom.framework import Call
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    attached_policies,
    group_members,
    inline_policies,
    login_profiles,
    mfa_devices,
    service_credentials,
    signing_certificates,
    ssh_public_keys,
    users,
)
from strongroom.store.db import Prepared

#: AWS allows two access keys per user (and per root).
MAX_ACCESS_KEYS = 2


@dataclass(slots=True)
class User:
    account: str
    user_name: str
    user_id: str
    path: str
    arn: str
    created: float
    permissions_boundary: str | None
    tags: list[dict[str, str]]

    def to_user(self, *, full: bool = True) -> dict[str, Any]:
        """The User shape; listings leave out the boundary and tags, as IAM's do."""
        out: dict[str, Any] = {
            "Path": self.path,
            "UserName": self.user_name,
            "UserId": self.user_id,
            "Arn": self.arn,
            "CreateDate": datetime.fromtimestamp(self.created, UTC),
        }
        if not full:
            return out
        if self.permissions_boundary:
            out["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": self.permissions_boundary,
            }
        if self.tags:
            out["Tags"] = self.tags
        return out


def user_arn(account: str, path: str, name: str) -> str:
    return arn("iam", "", account, f"user{path}{name}")


def from_row(row: Any) -> User:
    return User(
        account=row.account,
        user_name=row.user_name,
        user_id=row.user_id,
        path=row.path,
        arn=row.arn,
        created=row.created,
        permissions_boundary=row.permissions_boundary,
        tags=row.tags or [],
    )


_FIND_USER = Prepared(
    select(users).where(
        users.c.account == bindparam("account"), users.c.name_key == bindparam("name_key")
    )
)


def find_user(conn: Connection, account: str, name: str) -> User | None:
    row = _FIND_USER.first(conn, account=account, name_key=name.lower())
    return from_row(row) if row else None


def arn_of(call: Call, name: str) -> str:
    """The user's ARN for authorization (with its path when it exists)."""
    user = find_user(call.conn, call.account, name)
    return user.arn if user else user_arn(call.account, "/", name)


def resolve_user(call: Call, name: str) -> User:
    user = find_user(call.conn, call.account, name)
    if user is None:
        raise errors.NoSuchEntityException(f"The user with name {name} cannot be found.")
    return user


def create_user(
    call: Call, name: str, path: str, boundary: str | None, tags: list[dict[str, str]]
) -> User:
    if find_user(call.conn, call.account, name) is not None:
        raise errors.EntityAlreadyExistsException(f"User with name {name} already exists.")
    user = User(
        account=call.account,
        user_name=name,
        user_id=unique_id("AIDA", 21),
        path=path,
        arn=user_arn(call.account, path, name),
        created=call.clock.timestamp(),
        permissions_boundary=boundary,
        tags=tags,
    )
    call.conn.execute(
        insert(users).values(
            account=user.account,
            name_key=name.lower(),
            user_name=name,
            user_id=user.user_id,
            path=path,
            arn=user.arn,
            created=user.created,
            permissions_boundary=boundary,
            tags=tags,
        )
    )
    return user


def list_users(conn: Connection, account: str, path_prefix: str) -> list[User]:
    rows = conn.execute(
        select(users)
        .where(users.c.account == account, users.c.path.startswith(path_prefix, autoescape=True))
        .order_by(users.c.name_key)
    ).all()
    return [from_row(r) for r in rows]


def delete_user(call: Call, user: User) -> None:
    """Refuse while anything still hangs off the user, in IAM's order."""

    def count(table: Any, column: Any, value: Any, *extra: Any) -> int:
        return call.conn.execute(
            select(func.count()).select_from(table).where(column == value, *extra)
        ).scalar_one()

    conflicts = (
        (
            count(signing_certificates, signing_certificates.c.user_id, user.user_id),
            "Cannot delete entity, must delete signing certificates first.",
        ),
        (
            count(ssh_public_keys, ssh_public_keys.c.user_id, user.user_id),
            "Cannot delete entity, must delete SSH public keys first.",
        ),
        (
            count(service_credentials, service_credentials.c.user_id, user.user_id),
            "Cannot delete entity, must delete service specific credentials first.",
        ),
        (
            count(mfa_devices, mfa_devices.c.user_id, user.user_id),
            "Cannot delete entity, must delete MFA device first.",
        ),
        (
            count(login_profiles, login_profiles.c.user_id, user.user_id),
            "Cannot delete entity, must delete login profile first.",
        ),
        (
            count(
                access_keys,
                access_keys.c.user_name,
                user.user_name,
                access_keys.c.account == user.account,
            ),
            "Cannot delete entity, must delete access keys first.",
        ),
        (
            count(inline_policies, inline_policies.c.owner_id, user.user_id),
            "Cannot delete entity, must delete policies first.",
        ),
        (
            count(attached_policies, attached_policies.c.owner_id, user.user_id),
            "Cannot delete entity, must detach all policies first.",
        ),
        (
            count(group_members, group_members.c.user_id, user.user_id),
            "Cannot delete entity, must remove user from all groups first.",
        ),
    )
    for n, message in conflicts:
        if n:
            raise errors.DeleteConflictException(message)
    call.conn.execute(
        delete(users).where(
            users.c.account == user.account, users.c.name_key == user.user_name.lower()
        )
    )


def update_user(call: Call, user: User, **values: Any) -> None:
    call.conn.execute(update(users).where(users.c.user_id == user.user_id).values(**values))


def rename_user(call: Call, user: User, new_name: str | None, new_path: str | None) -> None:
    """UpdateUser: a new name or path; the user's access keys follow it."""
    name = new_name or user.user_name
    path = new_path or user.path
    if name.lower() != user.user_name.lower() and find_user(call.conn, call.account, name):
        raise errors.EntityAlreadyExistsException(f"User with name {name} already exists.")
    new_arn = user_arn(user.account, path, name)
    update_user(call, user, name_key=name.lower(), user_name=name, path=path, arn=new_arn)
    call.conn.execute(
        update(access_keys)
        .where(access_keys.c.account == user.account, access_keys.c.user_name == user.user_name)
        .values(user_name=name, user_arn=new_arn)
    )


# -- access keys ----------------------------------------------------------


def _owner_filter(account: str, user_name: str | None) -> Any:
    if user_name is None:
        return (access_keys.c.account == account) & access_keys.c.user_name.is_(None)
    return (access_keys.c.account == account) & (access_keys.c.user_name == user_name)


def key_rows(conn: Connection, account: str, user_name: str | None) -> list[Any]:
    return conn.execute(
        select(access_keys.c.access_key_id, access_keys.c.active, access_keys.c.created)
        .where(_owner_filter(account, user_name))
        .order_by(access_keys.c.created, access_keys.c.access_key_id)
    ).all()


def create_key(call: Call, user: User | None) -> tuple[str, str, float]:
    name = user.user_name if user else None
    if len(key_rows(call.conn, call.account, name)) >= MAX_ACCESS_KEYS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
        )
    now = call.clock.timestamp()
    akid, secret = credentials.create_access_key(
        call.conn,
        call.sealer,
        account=call.account,
        now=now,
        user_name=name,
        user_id=user.user_id if user else None,
        user_arn=user.arn if user else None,
    )
    return akid, secret, now


def _require_key(call: Call, user_name: str | None, access_key_id: str) -> None:
    found = call.conn.execute(
        select(access_keys.c.access_key_id).where(
            _owner_filter(call.account, user_name),
            access_keys.c.access_key_id == access_key_id,
        )
    ).first()
    if found is None:
        raise errors.NoSuchEntityException(
            f"The Access Key with id {access_key_id} cannot be found."
        )


def set_key_status(call: Call, user_name: str | None, access_key_id: str, active: bool) -> None:
    _require_key(call, user_name, access_key_id)
    call.conn.execute(
        update(access_keys)
        .where(access_keys.c.access_key_id == access_key_id)
        .values(active=active)
    )


def delete_key(call: Call, user_name: str | None, access_key_id: str) -> None:
    _require_key(call, user_name, access_key_id)
    call.conn.execute(delete(access_keys).where(access_keys.c.access_key_id == access_key_id))
