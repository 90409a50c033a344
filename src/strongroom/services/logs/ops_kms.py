"""AssociateKmsKey / DisassociateKmsKey, and the retention clock."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, JobRun
from strongroom.services.logs import crypto, events, groups
from strongroom.services.logs.groups import GROUP_TYPE, Group
from strongroom.services.logs.ingest import DAY_MS
from strongroom.services.logs.service import errors, service


def _target(call: Call, action: str, name: str | None, resource: str | None) -> Group:
    if name is not None and resource is not None:
        raise errors.InvalidParameterException(
            "LogGroupName and ResourceIdentifier are mutually exclusive parameters."
        )
    if resource is not None:
        if ":query-result:" in resource:
            raise errors.InvalidParameterException(
                "Associating a KMS key with query results is not supported."
            )
        return groups.resolve(call, action, identifier=resource)
    if name is None:
        raise errors.InvalidParameterException(
            "Either LogGroupName or ResourceIdentifier must be provided."
        )
    return groups.resolve(call, action, name)


@service.operation(authorize=False)
def associate_kms_key(
    call: Call,
    kmsKeyId: str,
    logGroupName: str | None = None,
    resourceIdentifier: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = _target(call, "logs:AssociateKmsKey", logGroupName, resourceIdentifier)
    crypto.associate(call, group, kmsKeyId)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.operation(authorize=False)
def disassociate_kms_key(
    call: Call,
    logGroupName: str | None = None,
    resourceIdentifier: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    group = _target(call, "logs:DisassociateKmsKey", logGroupName, resourceIdentifier)
    crypto.disassociate(call, group)
    call.audit_resource(group.arn, GROUP_TYPE)
    return {}


@service.job
def logs_retention(run: JobRun) -> float | None:
    """Delete the batches of every group with a retention policy whose
    events have all passed it, by the server's clock (moved by
    time travel too); the next time a stored batch will have."""
    now = int(run.now.timestamp() * 1000)
    due: float | None = None
    for group in groups.due_for_expiry(run.conn):
        assert group.retention_days is not None
        keep = group.retention_days * DAY_MS
        events.expire(run.conn, group.id, now - keep)
        oldest = events.oldest_batch_end(run.conn, group.id)
        if oldest is not None:
            at = (oldest + keep) / 1000 + 1
            due = at if due is None else min(due, at)
    return due
