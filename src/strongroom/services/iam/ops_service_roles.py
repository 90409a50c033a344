"""IAM operations: service-linked roles."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import roles
from strongroom.services.iam import service_roles as model
from strongroom.services.iam.service import errors, service


@service.operation(authorize=False)
def create_service_linked_role(
    call: Call,
    AWSServiceName: str,
    Description: str | None = None,
    CustomSuffix: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    name = model.role_name_for(call, AWSServiceName, CustomSuffix)
    call.authorize(
        "iam:CreateServiceLinkedRole",
        roles.role_arn(call.account, model.path_for(AWSServiceName), name),
        {"iam:AWSServiceName": AWSServiceName},
    )
    role = model.create(call, AWSServiceName, CustomSuffix, Description)
    call.audit_resource(role.arn, "AWS::IAM::Role")
    out = role.to_role()
    out.pop("RoleLastUsed", None)
    out.pop("MaxSessionDuration", None)
    return {"Role": out}


@service.operation(authorize=False)
def delete_service_linked_role(call: Call, RoleName: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:DeleteServiceLinkedRole", roles.arn_of(call, RoleName))
    task_id = model.delete_linked(call, RoleName)
    return {"DeletionTaskId": task_id}


@service.operation(authorize=False)
def get_service_linked_role_deletion_status(
    call: Call, DeletionTaskId: str, **_: Any
) -> dict[str, Any]:
    # The task id names the role: task/aws-service-role/SERVICE/ROLE/UUID.
    parts = DeletionTaskId.split("/")
    well_formed = len(parts) == 5 and parts[0] == "task" and parts[1] == "aws-service-role"
    resource = (
        roles.role_arn(call.account, f"/{parts[1]}/{parts[2]}/", parts[3]) if well_formed else "*"
    )
    call.authorize("iam:GetServiceLinkedRoleDeletionStatus", resource)
    if not well_formed:
        raise errors.InvalidInputException(f"Invalid deletion task id: {DeletionTaskId}")
    return {"Status": model.deletion_status(call, DeletionTaskId)}
