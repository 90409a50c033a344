"""Identity policies for the authorizer: what applies to an IAM principal.

`IamPolicySource.identity_policies` runs on every request that is not the
account root's, so it is one prepared statement (`store.db.Prepared`) per
kind of principal: the inline and attached policies of the user and of each
of its groups (or of the role behind a role session), with the documents of
customer managed policies joined in. AWS managed documents come from the
package data. The caller caches compiled policies by document text.

Policy ids, for reporting: the managed policy's ARN, or
``user/NAME/POLICY``, ``group/NAME/POLICY``, ``role/NAME/POLICY`` for an
inline policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, literal_column, or_, select, union_all

from strongroom.services.iam.managed import find_aws_policy
from strongroom.services.iam.roles import Role, find_role, role_by_arn
from strongroom.services.iam.tables import (
    attached_policies,
    generations,
    group_members,
    groups,
    inline_policies,
    policies,
    policy_versions,
    roles,
    users,
)
from strongroom.store.db import Prepared

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from strongroom.auth.principal import Principal

__all__ = [
    "IamPolicySource",
    "Role",
    "find_role",
    "managed_policy_document",
    "role_by_arn",
    "role_name_of",
]


def _policies_of(owner_filter: Callable[[Any], Any]) -> Any:
    """Inline and attached policies of the owners `owner_filter` selects:
    (0 inline | 1 attached, owner id, policy name | ARN, document, group name)."""
    inline_q = (
        select(
            literal_column("0").label("attached"),
            inline_policies.c.owner_id,
            inline_policies.c.policy_name.label("ref"),
            inline_policies.c.document,
            groups.c.group_name,
        )
        .select_from(
            inline_policies.outerjoin(groups, groups.c.group_id == inline_policies.c.owner_id)
        )
        .where(owner_filter(inline_policies.c.owner_id))
    )
    attached_q = (
        select(
            literal_column("1").label("attached"),
            attached_policies.c.owner_id,
            attached_policies.c.policy_arn.label("ref"),
            policy_versions.c.document,
            groups.c.group_name,
        )
        .select_from(
            attached_policies.outerjoin(policies, policies.c.arn == attached_policies.c.policy_arn)
            .outerjoin(
                policy_versions,
                and_(
                    policy_versions.c.policy_arn == policies.c.arn,
                    policy_versions.c.version_id == policies.c.default_version,
                ),
            )
            .outerjoin(groups, groups.c.group_id == attached_policies.c.owner_id)
        )
        .where(owner_filter(attached_policies.c.owner_id))
    )
    return union_all(inline_q, attached_q)


def _user_owners(column: Any) -> Any:
    return or_(
        column == bindparam("uid"),
        column.in_(
            select(group_members.c.group_id).where(group_members.c.user_id == bindparam("uid"))
        ),
    )


def _role_owner(column: Any) -> Any:
    role_id = (
        select(roles.c.role_id)
        .where(roles.c.account == bindparam("acct"), roles.c.name_key == bindparam("rkey"))
        .scalar_subquery()
    )
    return column == role_id


_USER_POLICIES = Prepared(_policies_of(_user_owners))
_ROLE_POLICIES = Prepared(_policies_of(_role_owner))


def _entity_query(t: Any, where: Any) -> Prepared:
    """(boundary ARN, boundary's customer-managed document, tags) of one entity."""
    return Prepared(
        select(t.c.permissions_boundary, policy_versions.c.document, t.c.tags)
        .select_from(
            t.outerjoin(policies, policies.c.arn == t.c.permissions_boundary).outerjoin(
                policy_versions,
                and_(
                    policy_versions.c.policy_arn == policies.c.arn,
                    policy_versions.c.version_id == policies.c.default_version,
                ),
            )
        )
        .where(where)
    )


_USER_ENTITY = _entity_query(users, users.c.user_id == bindparam("uid"))
_ROLE_ENTITY = _entity_query(
    roles, and_(roles.c.account == bindparam("acct"), roles.c.name_key == bindparam("rkey"))
)


_MANAGED_DOCUMENT = Prepared(
    select(policy_versions.c.document)
    .select_from(
        policies.join(
            policy_versions,
            and_(
                policy_versions.c.policy_arn == policies.c.arn,
                policy_versions.c.version_id == policies.c.default_version,
            ),
        )
    )
    .where(policies.c.arn == bindparam("arn"))
)


_GENERATION = Prepared(
    select(generations.c.generation).where(generations.c.account == bindparam("account"))
)


def managed_policy_document(conn: Connection, arn: str) -> str | None:
    """The default version's document of a managed policy (AWS's or a
    customer's, by ARN), or None when there is no such policy."""
    aws = find_aws_policy(arn)
    if aws is not None:
        return aws.document
    row = _MANAGED_DOCUMENT.first(conn, arn=arn)
    return row[0] if row else None


def role_name_of(principal: Principal) -> str | None:
    """The role behind an assumed-role session (``…:assumed-role/ROLE/SESSION``)."""
    if principal.type != "AssumedRole":
        return None
    parts = principal.arn.split("/")
    if len(parts) >= 3:
        return parts[-2]
    issuer = principal.session_issuer or {}
    role_arn = issuer.get("arn")
    return role_arn.rsplit("/", 1)[-1] if role_arn else None


class IamPolicySource:
    """The `PolicySource` of the authorizer, backed by the IAM tables."""

    def identity_policies(self, conn: Connection, principal: Principal) -> list[tuple[str, str]]:
        """(policy id, document text) of every identity policy that applies."""
        if principal.type == "IAMUser" and principal.user_name:
            rows = _USER_POLICIES.all(conn, uid=principal.principal_id)
            kind, name = "user", principal.user_name
        else:
            role = role_name_of(principal)
            if role is None:
                return []
            rows = _ROLE_POLICIES.all(conn, acct=principal.account, rkey=role.lower())
            kind, name = "role", role
        out: list[tuple[str, str]] = []
        for attached, _owner, ref, document, group_name in rows:
            if attached:
                if document is None:
                    aws = find_aws_policy(ref)
                    if aws is None:
                        continue
                    document = aws.document
                out.append((ref, document))
            elif group_name is not None:
                out.append((f"group/{group_name}/{ref}", document))
            else:
                out.append((f"{kind}/{name}/{ref}", document))
        return out

    def _entity(self, conn: Connection, principal: Principal) -> tuple[Any, ...] | None:
        if principal.type == "IAMUser" and principal.user_name:
            return _USER_ENTITY.first(conn, uid=principal.principal_id)
        role = role_name_of(principal)
        if role is None:
            return None
        return _ROLE_ENTITY.first(conn, acct=principal.account, rkey=role.lower())

    def generation(self, conn: Connection, account: str) -> int:
        """The account's IAM generation: it changes with every IAM write."""
        row = _GENERATION.first(conn, account=account)
        return row[0] if row else 0

    def permissions_boundary(
        self, conn: Connection, principal: Principal
    ) -> tuple[str, str] | None:
        """(boundary policy ARN, document) of the user or role, or None."""
        row = self._entity(conn, principal)
        if row is None or row[0] is None:
            return None
        arn, document = row[0], row[1]
        if document is None:
            aws = find_aws_policy(arn)
            if aws is None:
                return None
            document = aws.document
        return arn, document

    def principal_tags(self, conn: Connection, principal: Principal) -> dict[str, str]:
        """aws:PrincipalTag values: the user's or role's tags, then session tags."""
        row = self._entity(conn, principal)
        tags: dict[str, str] = {}
        if row is not None and row[2]:
            for tag in row[2]:
                tags[tag["Key"]] = tag["Value"]
        tags.update(principal.tags or {})
        return tags
