"""CreateExportTask / DescribeExportTasks / CancelExportTask, and the job
that runs the tasks (`exports`)."""

from __future__ import annotations

import logging
from typing import Any

from strongroom.framework import Background, Call, JobRun
from strongroom.services.logs import exports, groups
from strongroom.services.logs.groups import GROUP_TYPE
from strongroom.services.logs.service import PAGING, errors, service

log = logging.getLogger(__name__)
DESCRIBE = PAGING.listing("exportTasks", default=50, maximum=50)
LIMIT_EXCEEDED = "Resource limit exceeded."


@service.operation(authorize=False)
def create_export_task(
    call: Call,
    logGroupName: str,
    to: int,
    destination: str,
    taskName: str | None = None,
    logStreamNamePrefix: str | None = None,
    destinationPrefix: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    start: int = params["from"]  # a Python keyword: not a parameter name
    group = groups.resolve(call, "logs:CreateExportTask", logGroupName)
    call.audit_resource(group.arn, GROUP_TYPE)
    if start > to:
        raise errors.InvalidParameterException(
            f"Specified time range of '{start}' and '{to}' is not valid. Please make sure the "
            "values are within the retention period of the log group and from value is less "
            "than the to values"
        )
    if any(t.region == call.region for t in exports.active(call.conn, call.account)):
        raise errors.LimitExceededException(LIMIT_EXCEEDED)
    prefix = exports.DEFAULT_PREFIX if destinationPrefix is None else destinationPrefix
    exports.require_bucket_access(call, group, destination, prefix)
    task = exports.create(
        call,
        group,
        {
            "name": taskName,
            "from_ms": start,
            "to_ms": to,
            "destination": destination,
            "prefix": prefix,
            "stream_prefix": logStreamNamePrefix,
        },
    )
    return {"taskId": task.id}


@service.operation(authorize=False)
def describe_export_tasks(
    call: Call,
    taskId: str | None = None,
    statusCode: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:DescribeExportTasks", groups.account_resource(call))
    chosen = [
        t.describe()
        for t in exports.of_account(call.conn, call.account, call.region)
        if (taskId is None or t.id == taskId) and (statusCode is None or t.status == statusCode)
    ]
    return DESCRIBE.over_list(call, chosen, nextToken, limit, scope=(taskId, statusCode))


@service.operation(authorize=False)
def cancel_export_task(call: Call, taskId: str, **_: Any) -> dict[str, Any]:
    call.authorize("logs:CancelExportTask", groups.account_resource(call))
    task = exports.find(call.conn, call.account, call.region, taskId)
    if task is None:
        raise errors.ResourceNotFoundException("The specified export task does not exist.")
    if task.status in exports.FINISHED or task.status == "PENDING_CANCEL":
        raise errors.InvalidOperationException("The specified export task has already finished.")
    now = int(call.clock.timestamp() * 1000)
    if task.status == "PENDING":
        exports.set_status(call.conn, task, "CANCELLED", completed=now)
    else:  # its objects are being written: it stops once they are
        exports.set_status(call.conn, task, "PENDING_CANCEL")
    return {}


@service.job
def logs_export_tasks(run: JobRun) -> float | None:
    """Start each PENDING task (RUNNING) and hand its export to background
    work; a task whose work is already queued is left to it."""
    for task in exports.active(run.conn):
        if task.status == "PENDING":
            exports.set_status(run.conn, task, "RUNNING")
        run.hand_off("export_logs", {"task": task.id}, key=f"export:{task.id}")
    return None


@service.background
def export_logs(work: Background, payload: dict[str, Any]) -> None:
    """Write one task's objects and finish it, in one transaction: a crash
    midway leaves it RUNNING and this work queued again (objects written
    twice have the same keys and contents)."""
    with work.transaction(write=True) as run:
        found = [t for t in exports.active(run.conn) if t.id == payload["task"]]
        if not found:
            return
        task = found[0]
        now = int(run.clock.timestamp() * 1000)
        if task.status == "PENDING_CANCEL":
            exports.set_status(run.conn, task, "CANCELLED", completed=now)
            return
        try:
            written = exports.export(run, task)
        except Exception as err:
            if not isinstance(getattr(err, "code", None), str):
                raise
            message = getattr(err, "message", None) or str(err)
            log.info("export task %s failed: %s", task.id, getattr(err, "code", ""))
            exports.set_status(run.conn, task, "FAILED", message, completed=now)
            return
        cancelled = task.status == "PENDING_CANCEL"
        exports.set_status(run.conn, task, "CANCELLED" if cancelled else "COMPLETED",
                           completed=int(run.clock.timestamp() * 1000))  # fmt: skip
        log.debug("export task %s: %d objects", task.id, written)
