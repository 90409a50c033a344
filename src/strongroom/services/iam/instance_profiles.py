"""Instance profiles: containers for (at most) one role that EC2 passes to an instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.arn import unique_id
from strongroom.framework import Call
from strongroom.services.iam import roles
from strongroom.services.iam.common import iam_arn, when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import instance_profile_roles, instance_profiles

#: Roles per instance profile (IAM quota InstanceSessionsPerInstanceProfile).
MAX_ROLES = 1


@dataclass(slots=True)
class InstanceProfile:
    account: str
    profile_name: str
    profile_id: str
    path: str
    arn: str
    created: float
    tags: list[dict[str, str]]

    def to_profile(self, members: list[roles.Role], *, with_tags: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Path": self.path,
            "InstanceProfileName": self.profile_name,
            "InstanceProfileId": self.profile_id,
            "Arn": self.arn,
            "CreateDate": when(self.created),
            "Roles": [_role_in_profile(r) for r in members],
        }
        if with_tags and self.tags:
            out["Tags"] = self.tags
        return out


def _role_in_profile(role: roles.Role) -> dict[str, Any]:
    out = role.to_role(full=False)
    out.pop("MaxSessionDuration", None)
    out.pop("Description", None)
    return out


def profile_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "instance-profile", path, name)


def _from_row(row: Any) -> InstanceProfile:
    return InstanceProfile(
        account=row.account,
        profile_name=row.profile_name,
        profile_id=row.profile_id,
        path=row.path,
        arn=row.arn,
        created=row.created,
        tags=row.tags or [],
    )


def find_profile(conn: Connection, account: str, name: str) -> InstanceProfile | None:
    row = conn.execute(
        select(instance_profiles).where(
            instance_profiles.c.account == account, instance_profiles.c.name_key == name.lower()
        )
    ).first()
    return _from_row(row) if row else None


def arn_of(call: Call, name: str) -> str:
    found = find_profile(call.conn, call.account, name)
    return found.arn if found else profile_arn(call.account, "/", name)


def resolve_profile(call: Call, name: str) -> InstanceProfile:
    found = find_profile(call.conn, call.account, name)
    if found is None:
        raise errors.NoSuchEntityException(f"Instance Profile {name} cannot be found.")
    return found


def create_profile(call: Call, name: str, path: str, tags: list[dict[str, str]]) -> InstanceProfile:
    if find_profile(call.conn, call.account, name) is not None:
        raise errors.EntityAlreadyExistsException(f"Instance Profile {name} already exists.")
    profile = InstanceProfile(
        account=call.account,
        profile_name=name,
        profile_id=unique_id("AIPA", 21),
        path=path,
        arn=profile_arn(call.account, path, name),
        created=call.clock.timestamp(),
        tags=tags,
    )
    call.conn.execute(
        insert(instance_profiles).values(
            account=profile.account,
            name_key=name.lower(),
            profile_name=name,
            profile_id=profile.profile_id,
            path=path,
            arn=profile.arn,
            created=profile.created,
            tags=tags,
        )
    )
    return profile


def list_profiles(conn: Connection, account: str, path_prefix: str) -> list[InstanceProfile]:
    rows = conn.execute(
        select(instance_profiles)
        .where(
            instance_profiles.c.account == account,
            instance_profiles.c.path.startswith(path_prefix, autoescape=True),
        )
        .order_by(instance_profiles.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def _role_ids(conn: Connection, profile_id: str) -> list[str]:
    return list(
        conn.execute(
            select(instance_profile_roles.c.role_id).where(
                instance_profile_roles.c.profile_id == profile_id
            )
        ).scalars()
    )


def roles_of(conn: Connection, account: str, profile: InstanceProfile) -> list[roles.Role]:
    return roles.roles_by_id(conn, set(_role_ids(conn, profile.profile_id)))


def profiles_of_role(conn: Connection, account: str, role: roles.Role) -> list[InstanceProfile]:
    ids = select(instance_profile_roles.c.profile_id).where(
        instance_profile_roles.c.role_id == role.role_id
    )
    rows = conn.execute(
        select(instance_profiles)
        .where(instance_profiles.c.account == account, instance_profiles.c.profile_id.in_(ids))
        .order_by(instance_profiles.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def add_role(call: Call, profile: InstanceProfile, role: roles.Role) -> None:
    present = _role_ids(call.conn, profile.profile_id)
    if len(present) >= MAX_ROLES:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES}"
        )
    call.conn.execute(
        insert(instance_profile_roles).values(
            profile_id=profile.profile_id, role_id=role.role_id, account=call.account
        )
    )


def remove_role(call: Call, profile: InstanceProfile, role: roles.Role) -> None:
    done = call.conn.execute(
        delete(instance_profile_roles).where(
            instance_profile_roles.c.profile_id == profile.profile_id,
            instance_profile_roles.c.role_id == role.role_id,
        )
    )
    if done.rowcount == 0:
        raise errors.NoSuchEntityException(f"The role with name {role.role_name} cannot be found.")


def delete_profile(call: Call, profile: InstanceProfile) -> None:
    if _role_ids(call.conn, profile.profile_id):
        raise errors.DeleteConflictException(
            "Cannot delete entity, must remove roles from instance profile first."
        )
    call.conn.execute(
        delete(instance_profiles).where(instance_profiles.c.profile_id == profile.profile_id)
    )


def set_tags(call: Call, profile: InstanceProfile, tags: list[dict[str, str]]) -> None:
    call.conn.execute(
        update(instance_profiles)
        .where(instance_profiles.c.profile_id == profile.profile_id)
        .values(tags=tags)
    )
