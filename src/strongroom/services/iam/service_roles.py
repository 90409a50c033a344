"""Service-linked roles: roles an AWS service owns, created by
CreateServiceLinkedRole with the service's documented name, path, trust
policy and managed policy, and changed only by the service.

`LINKED_SERVICES` is the one table of what each service principal gets
(the role names and policies of each service's "Using service-linked roles"
page). A service that accepts CustomSuffix appends it as ``NAME_SUFFIX``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.services.iam import policies, roles
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    attached_policies,
    inline_policies,
    service_linked_roles,
    service_role_deletions,
)

_SLR_POLICY = "arn:aws:iam::aws:policy/aws-service-role/"


@dataclass(frozen=True, slots=True)
class LinkedService:
    role_name: str
    policy_arn: str
    suffix_allowed: bool = False


#: AWSServiceName -> what CreateServiceLinkedRole makes for it.
LINKED_SERVICES: dict[str, LinkedService] = {
    "rds.amazonaws.com": LinkedService(
        "AWSServiceRoleForRDS", _SLR_POLICY + "AmazonRDSServiceRolePolicy"
    ),
    "autoscaling.amazonaws.com": LinkedService(
        "AWSServiceRoleForAutoScaling", _SLR_POLICY + "AutoScalingServiceRolePolicy", True
    ),
    "replicator.lambda.amazonaws.com": LinkedService(
        "AWSServiceRoleForLambdaReplicator", _SLR_POLICY + "AWSLambdaReplicator"
    ),
    "replication.dynamodb.amazonaws.com": LinkedService(
        "AWSServiceRoleForDynamoDBReplication", _SLR_POLICY + "DynamoDBReplicationServiceRolePolicy"
    ),
    "cloudtrail.amazonaws.com": LinkedService(
        "AWSServiceRoleForCloudTrail", _SLR_POLICY + "CloudTrailServiceRolePolicy"
    ),
    "redshift.amazonaws.com": LinkedService(
        "AWSServiceRoleForRedshift", _SLR_POLICY + "AmazonRedshiftServiceLinkedRolePolicy"
    ),
    "delivery.logs.amazonaws.com": LinkedService(
        "AWSServiceRoleForLogDelivery", _SLR_POLICY + "AWSServiceRoleForLogDeliveryPolicy"
    ),
    "ds.amazonaws.com": LinkedService(
        "AWSServiceRoleForDirectoryService", _SLR_POLICY + "AWSDirectoryServiceServiceRolePolicy"
    ),
    "dms.amazonaws.com": LinkedService(
        "AWSServiceRoleForDMSServerless", _SLR_POLICY + "AWSDMSServerlessServiceRolePolicy"
    ),
}

#: GetServiceLinkedRoleDeletionStatus's states (DeletionTaskStatusType).
SUCCEEDED = "SUCCEEDED"


def trust_policy(service_name: str) -> str:
    return json_text(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": [service_name]},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        }
    )


def resolve_service(call: Call, service_name: str) -> LinkedService:
    found = LINKED_SERVICES.get(service_name)
    if found is None:
        raise errors.InvalidInputException(
            f"Service principal {service_name} is not supported by this server's "
            "CreateServiceLinkedRole."
        )
    return found


def role_name_for(call: Call, service_name: str, suffix: str | None) -> str:
    """The role's name: the service's, with ``_SUFFIX`` where the service allows one."""
    linked = resolve_service(call, service_name)
    if suffix is None:
        return linked.role_name
    if not linked.suffix_allowed:
        raise errors.InvalidInputException(f"Custom suffix is not allowed for {service_name}")
    return f"{linked.role_name}_{suffix}"


def path_for(service_name: str) -> str:
    return f"/aws-service-role/{service_name}/"


def create(
    call: Call, service_name: str, suffix: str | None, description: str | None
) -> roles.Role:
    """Create the role, attach the service's policy and mark it service-linked."""
    name = role_name_for(call, service_name, suffix)
    if roles.find_role(call.conn, call.account, name) is not None:
        raise errors.InvalidInputException(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    linked = LINKED_SERVICES[service_name]
    role = roles.create_role(
        call, name, path_for(service_name), trust_policy(service_name), description, 3600, None, []
    )
    policies.attach(call, role.role_id, policies.resolve_attachable(call, linked.policy_arn))
    call.conn.execute(
        insert(service_linked_roles).values(
            role_id=role.role_id, account=call.account, service_name=service_name
        )
    )
    return role


def is_service_linked(conn: Connection, role_id: str) -> bool:
    return (
        conn.execute(
            select(service_linked_roles.c.role_id).where(service_linked_roles.c.role_id == role_id)
        ).first()
        is not None
    )


def require_modifiable(call: Call, role: roles.Role) -> None:
    """UnmodifiableEntity for a service-linked role: only its service changes it."""
    if is_service_linked(call.conn, role.role_id):
        raise errors.UnmodifiableEntityException(
            f"Cannot perform the operation on the protected role '{role.role_name}' "
            "- this role is only modifiable by AWS"
        )


def resolve_linked(call: Call, name: str) -> tuple[roles.Role, str]:
    """The service-linked role named `name` and its service principal."""
    role = roles.resolve_role(call, name)
    service_name = call.conn.execute(
        select(service_linked_roles.c.service_name).where(
            service_linked_roles.c.role_id == role.role_id
        )
    ).scalar()
    if service_name is None:
        raise errors.NoSuchEntityException(
            f"The service-linked role with name {name} cannot be found."
        )
    return role, service_name


def delete_linked(call: Call, name: str) -> str:
    """Delete a service-linked role (no service resource here depends on one)
    and record the finished task; returns its DeletionTaskId."""
    role, service_name = resolve_linked(call, name)
    for table in (attached_policies, inline_policies):
        call.conn.execute(delete(table).where(table.c.owner_id == role.role_id))
    call.conn.execute(
        delete(service_linked_roles).where(service_linked_roles.c.role_id == role.role_id)
    )
    roles.delete_role(call, role)
    task_id = f"task/aws-service-role/{service_name}/{role.role_name}/{uuid.uuid4()}"
    call.conn.execute(
        insert(service_role_deletions).values(
            task_id=task_id,
            account=call.account,
            status=SUCCEEDED,
            created=call.clock.timestamp(),
        )
    )
    return task_id


def deletion_status(call: Call, task_id: str) -> str:
    status = call.conn.execute(
        select(service_role_deletions.c.status).where(
            service_role_deletions.c.task_id == task_id,
            service_role_deletions.c.account == call.account,
        )
    ).scalar()
    if status is None:
        raise errors.NoSuchEntityException(f"Deletion task {task_id} does not exist.")
    return status
