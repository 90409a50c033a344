"""Managed policies (customer and AWS), their versions, attachments and the
inline policies of users, groups and roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from strongroom.arn import parse_arn, unique_id
from strongroom.auth.policy import policy_size
from strongroom.framework import Call
from strongroom.services.iam.common import (
    INLINE_POLICY_SIZE,
    MANAGED_POLICY_SIZE,
    MAX_ATTACHED_POLICIES,
    MAX_POLICY_VERSIONS,
    QUOTA_NOUN,
    iam_arn,
    require_size,
    to_document,
    validate_document,
    when,
)
from strongroom.services.iam.managed import (
    AwsManagedPolicy,
    aws_managed_policies,
    find_aws_policy,
    is_aws_policy_arn,
)
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    attached_policies,
    groups,
    inline_policies,
    policies,
    policy_versions,
    roles,
    users,
)

#: Unique-id prefix -> entity kind ("user", "group", "role").
OWNER_KIND = {"AIDA": "user", "AGPA": "group", "AROA": "role"}


@dataclass(slots=True)
class ManagedPolicy:
    arn: str
    policy_name: str
    policy_id: str
    path: str
    description: str | None
    default_version: str
    created: float
    updated: float
    tags: list[dict[str, str]] = field(default_factory=list)
    is_aws: bool = False

    def to_policy(
        self,
        attachments: int,
        boundary_uses: int,
        *,
        with_tags: bool = False,
        with_description: bool = True,
    ) -> dict[str, Any]:
        """The Policy shape; listings (ListPolicies, the account details) leave
        out the description, as IAM does."""
        out: dict[str, Any] = {
            "PolicyName": self.policy_name,
            "PolicyId": self.policy_id,
            "Arn": self.arn,
            "Path": self.path,
            "DefaultVersionId": self.default_version,
            "AttachmentCount": attachments,
            "PermissionsBoundaryUsageCount": boundary_uses,
            "IsAttachable": True,
            "CreateDate": when(self.created),
            "UpdateDate": when(self.updated),
        }
        if self.description and with_description:
            out["Description"] = self.description
        if with_tags and self.tags:
            out["Tags"] = self.tags
        return out


def policy_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "policy", path, name)


def _from_aws(p: AwsManagedPolicy) -> ManagedPolicy:
    return ManagedPolicy(
        arn=p.arn,
        policy_name=p.policy_name,
        policy_id=p.policy_id,
        path=p.path,
        description=p.description,
        default_version=p.default_version,
        created=p.created,
        updated=p.updated,
        is_aws=True,
    )


def _from_row(row: Any) -> ManagedPolicy:
    return ManagedPolicy(
        arn=row.arn,
        policy_name=row.policy_name,
        policy_id=row.policy_id,
        path=row.path,
        description=row.description,
        default_version=row.default_version,
        created=row.created,
        updated=row.updated,
        tags=row.tags or [],
    )


def require_policy_arn(call: Call, arn: str) -> None:
    """ValidationError for text that is no ARN at all, InvalidInput for an ARN
    that names no IAM policy (IAM's two answers)."""
    parts = parse_arn(arn)
    if parts is None:
        raise errors.ValidationError("Invalid ARN: Could not be parsed!")
    if (
        parts["service"] != "iam"
        or not parts["resource"].startswith("policy/")
        or not (parts["account"] == "aws" or parts["account"].isdigit())
    ):
        raise errors.InvalidInputException(f"ARN {arn} is not valid.")


def find_policy(conn: Connection, account: str, arn: str) -> ManagedPolicy | None:
    """The managed policy `arn` as seen from `account` (AWS's or the account's own)."""
    if is_aws_policy_arn(arn):
        aws = find_aws_policy(arn)
        return _from_aws(aws) if aws else None
    row = conn.execute(
        select(policies).where(policies.c.arn == arn, policies.c.account == account)
    ).first()
    return _from_row(row) if row else None


def resolve_policy(call: Call, arn: str) -> ManagedPolicy:
    require_policy_arn(call, arn)
    policy = find_policy(call.conn, call.account, arn)
    if policy is None:
        raise errors.NoSuchEntityException(f"Policy {arn} was not found.")
    return policy


def resolve_attachable(call: Call, arn: str) -> ManagedPolicy:
    require_policy_arn(call, arn)
    policy = find_policy(call.conn, call.account, arn)
    if policy is None:
        raise errors.NoSuchEntityException(f"Policy {arn} does not exist or is not attachable.")
    return policy


def resolve_boundary(call: Call, arn: str) -> ManagedPolicy:
    """The managed policy a permissions boundary names."""
    parts = parse_arn(arn)
    policy = None
    if parts is not None and parts["service"] == "iam" and parts["resource"].startswith("policy/"):
        policy = find_policy(call.conn, call.account, arn)
    if policy is None:
        raise errors.NoSuchEntityException(f"Scope ARN: {arn} does not exist or is not attachable.")
    return policy


def require_customer(call: Call, policy: ManagedPolicy) -> None:
    """AWS managed policies cannot be changed."""
    if policy.is_aws:
        raise errors.InvalidInputException(
            f"Policy {policy.arn} is an AWS managed policy and cannot be modified."
        )


def validate_managed_document(call: Call, text: str) -> None:
    require_size(
        call,
        policy_size(text),
        MANAGED_POLICY_SIZE,
        f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}",
    )
    validate_document(call, text, "identity")


# -- customer managed policies ------------------------------------------------


def create_policy(
    call: Call,
    name: str,
    path: str,
    document: str,
    description: str | None,
    tags: list[dict[str, str]],
) -> ManagedPolicy:
    validate_managed_document(call, document)
    exists = call.conn.execute(
        select(policies.c.arn).where(
            policies.c.account == call.account, policies.c.name_key == name.lower()
        )
    ).first()
    if exists is not None:
        raise errors.EntityAlreadyExistsException(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        )
    now = call.clock.timestamp()
    policy = ManagedPolicy(
        arn=policy_arn(call.account, path, name),
        policy_name=name,
        policy_id=unique_id("ANPA", 21),
        path=path,
        description=description,
        default_version="v1",
        created=now,
        updated=now,
        tags=tags,
    )
    call.conn.execute(
        insert(policies).values(
            arn=policy.arn,
            account=call.account,
            name_key=name.lower(),
            policy_name=name,
            policy_id=policy.policy_id,
            path=path,
            description=description,
            default_version="v1",
            next_version=2,
            created=now,
            updated=now,
            tags=tags,
        )
    )
    call.conn.execute(
        insert(policy_versions).values(
            policy_arn=policy.arn, version_id="v1", number=1, document=document, created=now
        )
    )
    return policy


def list_customer_policies(conn: Connection, account: str) -> list[ManagedPolicy]:
    rows = conn.execute(select(policies).where(policies.c.account == account)).all()
    return [_from_row(r) for r in rows]


def list_aws_policies() -> list[ManagedPolicy]:
    return [_from_aws(p) for p in aws_managed_policies().values()]


def set_policy_tags(call: Call, policy: ManagedPolicy, tags: list[dict[str, str]]) -> None:
    call.conn.execute(update(policies).where(policies.c.arn == policy.arn).values(tags=tags))


def attachment_counts(conn: Connection, account: str) -> dict[str, int]:
    rows = conn.execute(
        select(attached_policies.c.policy_arn, func.count())
        .where(attached_policies.c.account == account)
        .group_by(attached_policies.c.policy_arn)
    ).all()
    return {arn: n for arn, n in rows}


def boundary_counts(conn: Connection, account: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for table in (users, roles):
        rows = conn.execute(
            select(table.c.permissions_boundary, func.count())
            .where(table.c.account == account, table.c.permissions_boundary.is_not(None))
            .group_by(table.c.permissions_boundary)
        ).all()
        for arn, n in rows:
            out[arn] = out.get(arn, 0) + n
    return out


def usage(conn: Connection, account: str, arn: str) -> tuple[int, int]:
    """(attachments, uses as a permissions boundary) of one policy in `account`."""
    attached = conn.execute(
        select(func.count())
        .select_from(attached_policies)
        .where(attached_policies.c.account == account, attached_policies.c.policy_arn == arn)
    ).scalar_one()
    bounded = 0
    for table in (users, roles):
        bounded += conn.execute(
            select(func.count())
            .select_from(table)
            .where(table.c.account == account, table.c.permissions_boundary == arn)
        ).scalar_one()
    return attached, bounded


def delete_policy(call: Call, policy: ManagedPolicy) -> None:
    require_customer(call, policy)
    attached, bounded = usage(call.conn, call.account, policy.arn)
    if attached or bounded:
        raise errors.DeleteConflictException("Cannot delete a policy attached to entities.")
    versions = call.conn.execute(
        select(func.count())
        .select_from(policy_versions)
        .where(policy_versions.c.policy_arn == policy.arn)
    ).scalar_one()
    if versions > 1:
        raise errors.DeleteConflictException(
            "This policy has more than one version. Before you delete a policy, you must "
            "delete the policy's versions. The default version is deleted with the policy."
        )
    call.conn.execute(delete(policy_versions).where(policy_versions.c.policy_arn == policy.arn))
    call.conn.execute(delete(policies).where(policies.c.arn == policy.arn))


# -- versions -----------------------------------------------------------------


@dataclass(slots=True)
class PolicyVersion:
    version_id: str
    document: str
    is_default: bool
    created: float

    def to_version(self, *, with_document: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "VersionId": self.version_id,
            "IsDefaultVersion": self.is_default,
            "CreateDate": when(self.created),
        }
        if with_document:
            out["Document"] = to_document(self.document)
        return out


def versions_of(conn: Connection, policy: ManagedPolicy) -> list[PolicyVersion]:
    """Newest first, as IAM lists them."""
    if policy.is_aws:
        aws = find_aws_policy(policy.arn)
        assert aws is not None
        return [PolicyVersion(aws.default_version, aws.document, True, aws.updated)]
    rows = conn.execute(
        select(policy_versions)
        .where(policy_versions.c.policy_arn == policy.arn)
        .order_by(policy_versions.c.number.desc())
    ).all()
    return [
        PolicyVersion(r.version_id, r.document, r.version_id == policy.default_version, r.created)
        for r in rows
    ]


def resolve_version(call: Call, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    for v in versions_of(call.conn, policy):
        if v.version_id == version_id:
            return v
    raise errors.NoSuchEntityException(
        f"Policy {policy.arn} version {version_id} does not exist or is not attachable."
    )


def create_version(
    call: Call, policy: ManagedPolicy, document: str, set_default: bool
) -> PolicyVersion:
    require_customer(call, policy)
    validate_managed_document(call, document)
    existing = versions_of(call.conn, policy)
    if len(existing) >= MAX_POLICY_VERSIONS:
        raise errors.LimitExceededException(
            f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you "
            "create a new version, you must delete an existing version."
        )
    number = call.conn.execute(
        select(policies.c.next_version).where(policies.c.arn == policy.arn)
    ).scalar_one()
    version_id = f"v{number}"
    now = call.clock.timestamp()
    call.conn.execute(
        insert(policy_versions).values(
            policy_arn=policy.arn,
            version_id=version_id,
            number=number,
            document=document,
            created=now,
        )
    )
    values: dict[str, Any] = {"next_version": number + 1}
    if set_default:
        values.update(default_version=version_id, updated=now)
    call.conn.execute(update(policies).where(policies.c.arn == policy.arn).values(**values))
    return PolicyVersion(version_id, document, set_default, now)


def set_default_version(call: Call, policy: ManagedPolicy, version_id: str) -> None:
    require_customer(call, policy)
    resolve_version(call, policy, version_id)
    call.conn.execute(
        update(policies)
        .where(policies.c.arn == policy.arn)
        .values(default_version=version_id, updated=call.clock.timestamp())
    )


def delete_version(call: Call, policy: ManagedPolicy, version_id: str) -> None:
    require_customer(call, policy)
    resolve_version(call, policy, version_id)
    if version_id == policy.default_version:
        raise errors.DeleteConflictException("Cannot delete the default version of a policy.")
    call.conn.execute(
        delete(policy_versions).where(
            policy_versions.c.policy_arn == policy.arn, policy_versions.c.version_id == version_id
        )
    )


def default_document(conn: Connection, account: str, arn: str) -> str | None:
    """The default version's document of a managed policy, or None."""
    if is_aws_policy_arn(arn):
        aws = find_aws_policy(arn)
        return aws.document if aws else None
    row = conn.execute(
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
        .where(policies.c.arn == arn, policies.c.account == account)
    ).first()
    return row[0] if row else None


# -- attachments --------------------------------------------------------------


def attach(call: Call, owner_id: str, policy: ManagedPolicy) -> None:
    present = call.conn.execute(
        select(attached_policies.c.policy_arn).where(
            attached_policies.c.owner_id == owner_id, attached_policies.c.policy_arn == policy.arn
        )
    ).first()
    if present is not None:
        return
    count = call.conn.execute(
        select(func.count())
        .select_from(attached_policies)
        .where(attached_policies.c.owner_id == owner_id)
    ).scalar_one()
    if count >= MAX_ATTACHED_POLICIES:
        noun = QUOTA_NOUN[OWNER_KIND[owner_id[:4]]]
        raise errors.LimitExceededException(
            f"Cannot exceed quota for PoliciesPer{noun}: {MAX_ATTACHED_POLICIES}"
        )
    call.conn.execute(
        insert(attached_policies).values(
            owner_id=owner_id,
            policy_arn=policy.arn,
            account=call.account,
            attached=call.clock.timestamp(),
        )
    )


def detach(call: Call, owner_id: str, arn: str) -> None:
    require_policy_arn(call, arn)
    done = call.conn.execute(
        delete(attached_policies).where(
            attached_policies.c.owner_id == owner_id, attached_policies.c.policy_arn == arn
        )
    )
    if done.rowcount == 0:
        raise errors.NoSuchEntityException(f"Policy {arn} was not found.")


def attached_to(conn: Connection, account: str, owner_id: str) -> list[tuple[str, str, str]]:
    """(policy name, ARN, path) of the managed policies attached to one entity, by name."""
    arns = conn.execute(
        select(attached_policies.c.policy_arn).where(attached_policies.c.owner_id == owner_id)
    ).scalars()
    out = []
    for arn in arns:
        policy = find_policy(conn, account, arn)
        if policy is not None:
            out.append((policy.policy_name, arn, policy.path))
    out.sort(key=lambda p: p[0].lower())
    return out


def attached_owner_ids(conn: Connection, account: str, arn: str) -> set[str]:
    return set(
        conn.execute(
            select(attached_policies.c.owner_id).where(
                attached_policies.c.account == account, attached_policies.c.policy_arn == arn
            )
        ).scalars()
    )


def count_attached(conn: Connection, owner_id: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(attached_policies)
        .where(attached_policies.c.owner_id == owner_id)
    ).scalar_one()


# -- inline policies ----------------------------------------------------------


def put_inline(
    call: Call, kind: str, owner_id: str, owner_name: str, name: str, document: str
) -> None:
    validate_document(call, document, "identity")
    others = call.conn.execute(
        select(inline_policies.c.document).where(
            inline_policies.c.owner_id == owner_id, inline_policies.c.policy_name != name
        )
    ).scalars()
    limit = INLINE_POLICY_SIZE[kind]
    total = policy_size(document) + sum(policy_size(d) for d in others)
    require_size(
        call, total, limit, f"Maximum policy size of {limit} bytes exceeded for {kind} {owner_name}"
    )
    done = call.conn.execute(
        update(inline_policies)
        .where(inline_policies.c.owner_id == owner_id, inline_policies.c.policy_name == name)
        .values(document=document)
    )
    if done.rowcount == 0:
        call.conn.execute(
            insert(inline_policies).values(
                owner_id=owner_id, policy_name=name, account=call.account, document=document
            )
        )


def get_inline(call: Call, kind: str, owner_id: str, name: str) -> str:
    doc = call.conn.execute(
        select(inline_policies.c.document).where(
            inline_policies.c.owner_id == owner_id, inline_policies.c.policy_name == name
        )
    ).scalar()
    if doc is None:
        raise errors.NoSuchEntityException(f"The {kind} policy with name {name} cannot be found.")
    return doc


def delete_inline(call: Call, kind: str, owner_id: str, name: str) -> None:
    done = call.conn.execute(
        delete(inline_policies).where(
            inline_policies.c.owner_id == owner_id, inline_policies.c.policy_name == name
        )
    )
    if done.rowcount == 0:
        raise errors.NoSuchEntityException(f"The {kind} policy with name {name} cannot be found.")


def inline_of(conn: Connection, owner_id: str) -> list[tuple[str, str]]:
    """(policy name, document) of one entity's inline policies, by name."""
    rows = conn.execute(
        select(inline_policies.c.policy_name, inline_policies.c.document)
        .where(inline_policies.c.owner_id == owner_id)
        .order_by(inline_policies.c.policy_name)
    ).all()
    return [(r[0], r[1]) for r in rows]


def count_inline(conn: Connection, owner_id: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(inline_policies)
        .where(inline_policies.c.owner_id == owner_id)
    ).scalar_one()


def group_names_by_id(conn: Connection, account: str) -> dict[str, str]:
    return dict(
        conn.execute(
            select(groups.c.group_id, groups.c.group_name).where(groups.c.account == account)
        ).all()
    )
