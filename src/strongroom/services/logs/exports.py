"""Export to S3 (CreateExportTask): tasks, the checks CloudWatch Logs makes
before it accepts one, and the export itself.

CreateExportTask checks at once, as AWS does, that CloudWatch Logs' service
principal (``logs.<region>.amazonaws.com``) may read the bucket's ACL and
put objects there (the bucket policy decides, through S3's delivery API),
writing the probe object ``<prefix>/aws-logs-write-test``. The task is then
PENDING; the job (`ops_exports.logs_export_tasks`) starts it (RUNNING) and
hands it to background work that writes the objects, in AWS's layout:

    <destinationPrefix>/<taskId>/<logStreamName>/000000.gz, 000001.gz, ...

each the gzip of lines ``<ISO 8601 timestamp> <message>`` of the stream's
events with ``from <= timestamp <= to``, at most `CHUNK_BYTES` of text an
object. A KMS-encrypted group's batches are opened with its data keys
(KMS must still allow it); an SSE-KMS bucket encrypts the objects under
its key, which must allow the logs principal (`s3.deliver` asks KMS as it).

One active (PENDING, RUNNING or PENDING_CANCEL) task per account and Region.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from strongroom.framework import Call, JobRun, acting_as
from strongroom.ids import uuid4
from strongroom.services.logs import crypto, events, groups
from strongroom.services.logs.groups import Group
from strongroom.services.logs.service import errors, service
from strongroom.services.logs.tables import export_tasks
from strongroom.services.s3 import api as s3

ACTIVE = ("PENDING", "RUNNING", "PENDING_CANCEL")
FINISHED = ("COMPLETED", "CANCELLED", "FAILED")
DEFAULT_PREFIX = "exportedlogs"
WRITE_TEST = "aws-logs-write-test"
WRITE_TEST_BODY = b"Permission Check Successful"
#: Uncompressed text per exported object before the next one starts.
CHUNK_BYTES = 64 * 1024 * 1024
MESSAGES = {
    "PENDING": "Pending",
    "RUNNING": "Started successfully",
    "PENDING_CANCEL": "Cancellation pending",
    "COMPLETED": "Completed successfully",
    "CANCELLED": "Cancelled by user",
}
_NO_BUCKET = "The given bucket does not exist. Please make sure the bucket is valid."
_DENIED = (
    "{action} call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)


@dataclass(slots=True)
class Task:
    id: str
    account: str
    region: str
    name: str | None
    group_name: str
    group_id: int
    from_ms: int
    to_ms: int
    destination: str
    prefix: str
    stream_prefix: str | None
    status: str
    message: str
    created: int
    completed: int | None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taskId": self.id,
            "logGroupName": self.group_name,
            "from": self.from_ms,
            "to": self.to_ms,
            "destination": self.destination,
            "destinationPrefix": self.prefix,
            "status": {"code": self.status, "message": self.message},
            "executionInfo": {"creationTime": self.created},
        }
        if self.name is not None:
            out["taskName"] = self.name
        if self.completed is not None:
            out["executionInfo"]["completionTime"] = self.completed
        return out


_COLUMNS = [export_tasks.c[f] for f in Task.__dataclass_fields__]  # type: ignore[attr-defined]


def _task(row: Any) -> Task:
    return Task(*row)


# --------------------------------------------------------------- statements


def find(conn: Connection, account: str, region: str, task_id: str) -> Task | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            export_tasks.c.id == task_id,
            export_tasks.c.account == account,
            export_tasks.c.region == region,
        )
    ).first()
    return _task(row) if row is not None else None


def of_account(conn: Connection, account: str, region: str) -> list[Task]:
    rows = conn.execute(
        select(*_COLUMNS)
        .where(export_tasks.c.account == account, export_tasks.c.region == region)
        .order_by(export_tasks.c.created.desc(), export_tasks.c.id)
    )
    return [_task(r) for r in rows]


def active(conn: Connection, account: str | None = None) -> list[Task]:
    q = select(*_COLUMNS).where(export_tasks.c.status.in_(ACTIVE))
    if account is not None:
        q = q.where(export_tasks.c.account == account)
    return [_task(r) for r in conn.execute(q.order_by(export_tasks.c.created))]


def set_status(conn: Connection, task: Task, status: str, message: str | None = None,
               completed: int | None = None) -> None:  # fmt: skip
    task.status, task.message = status, message or MESSAGES.get(status, status)
    task.completed = completed
    conn.execute(
        update(export_tasks)
        .where(export_tasks.c.id == task.id)
        .values(status=task.status, message=task.message, completed=completed)
    )


# --------------------------------------------------------------- creating


def as_logs(ctx: Call | JobRun, account: str, region: str) -> Call:
    """A call as CloudWatch Logs' service principal, delivering for `account`."""
    return acting_as(
        ctx,
        service,
        f"logs.{region}.amazonaws.com",
        account=account,
        region=region,
        operation="CreateExportTask",
        source="logs.amazonaws.com",
    )


def object_key(prefix: str, *parts: str) -> str:
    return "/".join([p for p in (prefix.strip("/"),) if p] + list(parts))


def require_bucket_access(call: Call, group: Group, bucket: str, prefix: str) -> None:
    """What AWS checks before it accepts the task: the bucket exists, the
    logs principal may read its ACL and put objects (the probe object is
    written); InvalidParameterException in AWS's words otherwise."""
    svc = as_logs(call, call.account, call.region)
    principal = svc.principal.arn  # logs.<region>.amazonaws.com
    source = {"source_arn": f"{group.arn}:*", "source_account": call.account}
    try:
        s3.authorize_delivery(svc, principal, bucket, "", action="s3:GetBucketAcl",
                              **source)  # fmt: skip
    except Exception as err:
        raise _refusal(err, "GetBucketAcl") from None
    try:
        s3.deliver(svc, principal, bucket, object_key(prefix, WRITE_TEST),
                   WRITE_TEST_BODY, content_type="text/plain", **source)  # fmt: skip
    except Exception as err:
        raise _refusal(err, "PutObject") from None
    finally:
        call.children.extend(svc.children)
        call.handed_off = call.handed_off or svc.handed_off


def _refusal(err: Exception, action: str) -> Exception:
    code = getattr(err, "code", None)
    if not isinstance(code, str):
        return err
    if code == "NoSuchBucket":
        return errors.InvalidParameterException(_NO_BUCKET)
    return errors.InvalidParameterException(_DENIED.format(action=action))


def create(call: Call, group: Group, values: dict[str, Any]) -> Task:
    task = Task(
        id=uuid4(),
        account=call.account,
        region=call.region,
        status="PENDING",
        message=MESSAGES["PENDING"],
        created=int(call.clock.timestamp() * 1000),
        completed=None,
        group_id=group.id,
        group_name=group.name,
        **values,
    )
    call.conn.execute(
        insert(export_tasks).values(
            **{f: getattr(task, f) for f in Task.__dataclass_fields__}  # type: ignore[attr-defined]
        )
    )
    return task


# --------------------------------------------------------------- exporting


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def export(run: JobRun, task: Task) -> int:
    """Write the task's objects; how many. Raises Logs' or S3's error when
    the group's key or the bucket refuses."""
    found = groups.groups_by_id(run.conn, [task.group_id])
    if not found:
        raise errors.ResourceNotFoundException("The specified log group does not exist.")
    group = found[0]
    chosen = groups.streams_of(run.conn, group, prefix=task.stream_prefix)
    names = {s.id: s.name for s in chosen}
    lines: dict[int, list[list[bytes]]] = {}
    sizes: dict[int, int] = {}
    opener = crypto.opener(run, {group.id: group})
    for _gid, stream_id, _ing, messages, stamps, _size in events.each(
        run.conn, group_ids=[group.id], start=task.from_ms, end=task.to_ms, opener=opener
    ):
        if stream_id not in names or messages is None:
            continue
        chunks = lines.setdefault(stream_id, [[]])
        for ts, message in zip(stamps, messages, strict=True):
            if task.from_ms <= ts <= task.to_ms:
                line = f"{iso(ts)} {message}\n".encode("utf-8", "surrogatepass")
                if sizes.get(stream_id, 0) + len(line) > CHUNK_BYTES and chunks[-1]:
                    chunks.append([])
                    sizes[stream_id] = 0
                chunks[-1].append(line)
                sizes[stream_id] = sizes.get(stream_id, 0) + len(line)
    svc = as_logs(run, task.account, task.region)
    written = 0
    source = {"source_arn": f"{group.arn}:*", "source_account": task.account}
    try:
        for stream_id in sorted(lines, key=lambda i: names[i]):
            for n, chunk in enumerate(lines[stream_id]):
                body = gzip.compress(b"".join(chunk), mtime=0)
                key = object_key(task.prefix, task.id, names[stream_id], f"{n:06d}.gz")
                s3.deliver(svc, svc.principal.arn, task.destination, key, body,
                           content_type="application/x-gzip", **source)  # fmt: skip
                written += 1
    finally:
        run.handed_off = run.handed_off or svc.handed_off
    return written
