"""IAM groups and their members: the domain layer under the group operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.arn import unique_id
from strongroom.framework import Call
from strongroom.services.iam.common import iam_arn, when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    attached_policies,
    group_members,
    groups,
    inline_policies,
    users,
)


@dataclass(slots=True)
class Group:
    account: str
    group_name: str
    group_id: str
    path: str
    arn: str
    created: float

    def to_group(self) -> dict[str, Any]:
        return {
            "Path": self.path,
            "GroupName": self.group_name,
            "GroupId": self.group_id,
            "Arn": self.arn,
            "CreateDate": when(self.created),
        }


def group_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "group", path, name)


def _from_row(row: Any) -> Group:
    return Group(row.account, row.group_name, row.group_id, row.path, row.arn, row.created)


def find_group(conn: Connection, account: str, name: str) -> Group | None:
    row = conn.execute(
        select(groups).where(groups.c.account == account, groups.c.name_key == name.lower())
    ).first()
    return _from_row(row) if row else None


def resolve_group(call: Call, name: str) -> Group:
    group = find_group(call.conn, call.account, name)
    if group is None:
        raise errors.NoSuchEntityException(f"The group with name {name} cannot be found.")
    return group


def arn_of(call: Call, name: str) -> str:
    """The group's ARN for authorization (with its path when it exists)."""
    group = find_group(call.conn, call.account, name)
    return group.arn if group else group_arn(call.account, "/", name)


def create_group(call: Call, name: str, path: str) -> Group:
    if find_group(call.conn, call.account, name) is not None:
        raise errors.EntityAlreadyExistsException(f"Group with name {name} already exists.")
    group = Group(
        account=call.account,
        group_name=name,
        group_id=unique_id("AGPA", 21),
        path=path,
        arn=group_arn(call.account, path, name),
        created=call.clock.timestamp(),
    )
    call.conn.execute(
        insert(groups).values(
            account=group.account,
            name_key=name.lower(),
            group_name=name,
            group_id=group.group_id,
            path=path,
            arn=group.arn,
            created=group.created,
        )
    )
    return group


def list_groups(conn: Connection, account: str, path_prefix: str) -> list[Group]:
    rows = conn.execute(
        select(groups)
        .where(groups.c.account == account, groups.c.path.startswith(path_prefix, autoescape=True))
        .order_by(groups.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def update_group(call: Call, group: Group, new_name: str | None, new_path: str | None) -> None:
    name = new_name or group.group_name
    path = new_path or group.path
    if name.lower() != group.group_name.lower() and find_group(call.conn, call.account, name):
        raise errors.EntityAlreadyExistsException(f"Group with name {name} already exists.")
    call.conn.execute(
        update(groups)
        .where(groups.c.group_id == group.group_id)
        .values(
            name_key=name.lower(),
            group_name=name,
            path=path,
            arn=group_arn(group.account, path, name),
        )
    )


def delete_group(call: Call, group: Group) -> None:
    def count(table: Any, column: Any) -> int:
        return call.conn.execute(
            select(func.count()).select_from(table).where(column == group.group_id)
        ).scalar_one()

    if count(group_members, group_members.c.group_id):
        raise errors.DeleteConflictException(
            "Cannot delete entity, must remove users from group first."
        )
    if count(inline_policies, inline_policies.c.owner_id):
        raise errors.DeleteConflictException("Cannot delete entity, must delete policies first.")
    if count(attached_policies, attached_policies.c.owner_id):
        raise errors.DeleteConflictException(
            "Cannot delete entity, must detach all policies first."
        )
    call.conn.execute(delete(groups).where(groups.c.group_id == group.group_id))


# -- membership -------------------------------------------------------------


def add_member(call: Call, group: Group, user_id: str) -> None:
    present = call.conn.execute(
        select(group_members.c.user_id).where(
            group_members.c.group_id == group.group_id, group_members.c.user_id == user_id
        )
    ).first()
    if present is None:
        call.conn.execute(
            insert(group_members).values(
                group_id=group.group_id,
                user_id=user_id,
                account=group.account,
                added=call.clock.timestamp(),
            )
        )


def remove_member(call: Call, group: Group, user_id: str, user_name: str) -> None:
    done = call.conn.execute(
        delete(group_members).where(
            group_members.c.group_id == group.group_id, group_members.c.user_id == user_id
        )
    )
    if done.rowcount == 0:
        raise errors.NoSuchEntityException(f"User {user_name} is not in group {group.group_name}.")


def member_rows(conn: Connection, group_id: str) -> list[Any]:
    """The group's users (rows of iam_users), by name."""
    return conn.execute(
        select(users)
        .join(group_members, group_members.c.user_id == users.c.user_id)
        .where(group_members.c.group_id == group_id)
        .order_by(users.c.name_key)
    ).all()


def groups_of_user(conn: Connection, user_id: str) -> list[Group]:
    rows = conn.execute(
        select(groups)
        .join(group_members, group_members.c.group_id == groups.c.group_id)
        .where(group_members.c.user_id == user_id)
        .order_by(groups.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def count_groups_of_user(conn: Connection, user_id: str) -> int:
    return conn.execute(
        select(func.count()).select_from(group_members).where(group_members.c.user_id == user_id)
    ).scalar_one()
