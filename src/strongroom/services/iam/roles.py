"""IAM roles: the domain layer under the role operations, and what STS needs
to assume one (`find_role`, `role_by_arn`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.arn import parse_arn, unique_id
from strongroom.framework import Call
from strongroom.services.iam import signin
from strongroom.services.iam.common import (
    TRUST_POLICY_SIZE,
    iam_arn,
    require_size,
    to_document,
    validate_document,
    when,
)
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    attached_policies,
    inline_policies,
    instance_profile_roles,
    roles,
    signin_durations,
)

#: A role with its MaxSigninSessionDuration (kept aside: `signin`).
_ROLES = select(roles, signin_durations.c.seconds.label("max_signin")).select_from(
    roles.outerjoin(signin_durations, signin_durations.c.owner_id == roles.c.role_id)
)


@dataclass(slots=True)
class Role:
    account: str
    role_name: str
    role_id: str
    path: str
    arn: str
    created: float
    #: The trust policy (AssumeRolePolicyDocument) text, as it was given.
    trust_policy: str
    description: str | None
    max_session_duration: int
    permissions_boundary: str | None
    tags: list[dict[str, str]]
    last_used: float | None = None
    last_used_region: str | None = None
    #: MaxSigninSessionDuration; None while unset (then absent from answers).
    max_signin_session_duration: int | None = None

    def to_role(self, *, full: bool = True) -> dict[str, Any]:
        """The Role shape; ListRoles leaves out tags, boundary and last use."""
        out: dict[str, Any] = {
            "Path": self.path,
            "RoleName": self.role_name,
            "RoleId": self.role_id,
            "Arn": self.arn,
            "CreateDate": when(self.created),
            "AssumeRolePolicyDocument": to_document(self.trust_policy),
            "MaxSessionDuration": self.max_session_duration,
        }
        if self.description is not None:
            out["Description"] = self.description
        if self.max_signin_session_duration is not None:
            out["MaxSigninSessionDuration"] = self.max_signin_session_duration
        if full:
            if self.permissions_boundary:
                out["PermissionsBoundary"] = {
                    "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                    "PermissionsBoundaryArn": self.permissions_boundary,
                }
            if self.tags:
                out["Tags"] = self.tags
            last: dict[str, Any] = {}
            if self.last_used is not None:
                last["LastUsedDate"] = when(self.last_used)
                if self.last_used_region:
                    last["Region"] = self.last_used_region
            out["RoleLastUsed"] = last
        return out


def role_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "role", path, name)


def _from_row(row: Any) -> Role:
    return Role(
        account=row.account,
        role_name=row.role_name,
        role_id=row.role_id,
        path=row.path,
        arn=row.arn,
        created=row.created,
        trust_policy=row.trust_policy,
        description=row.description,
        max_session_duration=row.max_session_duration,
        permissions_boundary=row.permissions_boundary,
        tags=row.tags or [],
        last_used=row.last_used,
        last_used_region=row.last_used_region,
        max_signin_session_duration=row.max_signin,
    )


def find_role(conn: Connection, account: str, role_name: str) -> Role | None:
    """The role named `role_name` in `account` (names ignore case), or None."""
    row = conn.execute(
        _ROLES.where(roles.c.account == account, roles.c.name_key == role_name.lower())
    ).first()
    return _from_row(row) if row else None


def role_by_arn(conn: Connection, arn: str) -> Role | None:
    """The role an ARN (``arn:aws:iam::ACCT:role/PATH/NAME``) names, or None.

    The role is found by its account and name; the path in the ARN must be
    the role's own path when it names one.
    """
    parts = parse_arn(arn)
    if parts is None or parts["service"] != "iam" or not parts["resource"].startswith("role/"):
        return None
    name = parts["resource"].rsplit("/", 1)[-1]
    role = find_role(conn, parts["account"], name)
    if role is None:
        return None
    given_path = parts["resource"][len("role") : -len(name)]
    if given_path not in ("/", role.path):
        return None
    return role


def roles_by_id(conn: Connection, role_ids: set[str]) -> list[Role]:
    """The roles with these unique ids, by name."""
    if not role_ids:
        return []
    rows = conn.execute(
        _ROLES.where(roles.c.role_id.in_(sorted(role_ids))).order_by(roles.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def resolve_role(call: Call, name: str) -> Role:
    role = find_role(call.conn, call.account, name)
    if role is None:
        raise errors.NoSuchEntityException(f"The role with name {name} cannot be found.")
    return role


def arn_of(call: Call, name: str) -> str:
    """The role's ARN for authorization (with its path when it exists)."""
    role = find_role(call.conn, call.account, name)
    return role.arn if role else role_arn(call.account, "/", name)


def validate_trust_policy(call: Call, text: str) -> None:
    """A trust policy: valid, within its quota, and naming only STS actions."""
    from strongroom.auth.policy import policy_size

    require_size(
        call,
        policy_size(text),
        TRUST_POLICY_SIZE,
        f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}",
    )
    compiled = validate_document(call, text, "trust")
    for st in compiled.statements:
        if st.not_action or any(not a.lower().startswith("sts:") for a in st.actions):
            raise errors.MalformedPolicyDocumentException(
                "AssumeRole policy may only specify STS AssumeRole actions."
            )


def create_role(
    call: Call,
    name: str,
    path: str,
    trust_policy: str,
    description: str | None,
    max_session_duration: int,
    boundary: str | None,
    tags: list[dict[str, str]],
    max_signin_session_duration: int | None = None,
) -> Role:
    if find_role(call.conn, call.account, name) is not None:
        raise errors.EntityAlreadyExistsException(f"Role with name {name} already exists.")
    role = Role(
        account=call.account,
        role_name=name,
        role_id=unique_id("AROA", 21),
        path=path,
        arn=role_arn(call.account, path, name),
        created=call.clock.timestamp(),
        trust_policy=trust_policy,
        description=description,
        max_session_duration=max_session_duration,
        permissions_boundary=boundary,
        tags=tags,
        max_signin_session_duration=max_signin_session_duration,
    )
    call.conn.execute(
        insert(roles).values(
            account=role.account,
            name_key=name.lower(),
            role_name=name,
            role_id=role.role_id,
            path=path,
            arn=role.arn,
            created=role.created,
            trust_policy=trust_policy,
            description=description,
            max_session_duration=max_session_duration,
            permissions_boundary=boundary,
            tags=tags,
        )
    )
    if max_signin_session_duration is not None:
        signin.put(call, role.role_id, max_signin_session_duration)
    return role


def list_roles(conn: Connection, account: str, path_prefix: str) -> list[Role]:
    rows = conn.execute(
        _ROLES.where(
            roles.c.account == account, roles.c.path.startswith(path_prefix, autoescape=True)
        ).order_by(roles.c.name_key)
    ).all()
    return [_from_row(r) for r in rows]


def update_role(call: Call, role: Role, **values: Any) -> None:
    call.conn.execute(update(roles).where(roles.c.role_id == role.role_id).values(**values))


def delete_role(call: Call, role: Role) -> None:
    def count(table: Any) -> int:
        return call.conn.execute(
            select(func.count()).select_from(table).where(table.c.owner_id == role.role_id)
        ).scalar_one()

    if count(inline_policies):
        raise errors.DeleteConflictException("Cannot delete entity, must delete policies first.")
    if count(attached_policies):
        raise errors.DeleteConflictException(
            "Cannot delete entity, must detach all policies first."
        )
    if _in_instance_profiles(call.conn, role.role_id):
        raise errors.DeleteConflictException(
            "Cannot delete entity, must remove roles from instance profile first."
        )
    call.conn.execute(delete(roles).where(roles.c.role_id == role.role_id))
    signin.clear(call, role.role_id)


def _in_instance_profiles(conn: Connection, role_id: str) -> bool:
    row = conn.execute(
        select(instance_profile_roles.c.profile_id).where(
            instance_profile_roles.c.role_id == role_id
        )
    ).first()
    return row is not None
