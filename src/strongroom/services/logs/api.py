"""CloudWatch Logs for the other services of this server and their
background work: publishing log events into log groups, as RDS publishes
an engine's log and Lambda a function's output.

    from strongroom.services.logs import api as logs_api

    logs_api.put_events(run_or_call, "/aws/rds/instance/shop/postgresql", "shop",
                        [(timestamp_ms, "line"), ...], account=..., region=...)

The publisher acts as the AWS service delivering the logs (no caller's
permission is asked, as AWS's own delivery needs none in the customer's
account): the group is created if missing (no retention, as AWS creates
``/aws/rds/...`` and ``/aws/lambda/...`` groups) and so is the stream.
The events go through PutLogEvents' rules (`ingest`): sorted here first,
split into batches of at most 10,000 events and 1 MB, each batch one row
in the caller's transaction; events too old, too new or past the group's
retention are dropped, and counted in the answer. A KMS-encrypted group
seals them under its data key (its KMS key must allow
``logs.<region>.amazonaws.com``; KMS's refusal is raised as Logs' error).

`ctx` is a `Call` or a `JobRun` (its connection, clock and runtime are used;
it must be a write transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from strongroom.framework import Call, JobRun
from strongroom.services.logs import events, groups, ingest
from strongroom.services.logs.groups import Group

__all__ = ["GroupMissing", "Published", "ensure_group", "group_exists", "put_events"]


@dataclass(slots=True)
class Published:
    accepted: int
    rejected: int


class GroupMissing(LookupError):
    """The group a publisher that must not create it names is not there."""


def group_exists(ctx: Call | JobRun, name: str, *, account: str, region: str) -> bool:
    """Whether the log group `name` is in the account and Region."""
    return groups.find(ctx.conn, account, region, name) is not None


def ensure_group(ctx: Call | JobRun, name: str, *, account: str, region: str) -> Group:
    """The group `name` in the account and Region, created if missing."""
    groups.require_group_name(name)
    group = groups.find(ctx.conn, account, region, name)
    if group is None:
        now = int(ctx.clock.timestamp() * 1000)
        group = groups.insert_group(
            ctx.conn,
            Group(0, account, region, name, now, None, "STANDARD", False, None, None, None, [], 0),
        )
    return group


def put_events(
    ctx: Call | JobRun,
    group_name: str,
    stream_name: str,
    log_events: Iterable[tuple[int, str]],
    *,
    account: str | None = None,
    region: str | None = None,
    create_group: bool = True,
) -> Published:
    """Publish `log_events` ((timestamp ms, message) pairs) into the stream;
    without `create_group` a missing group raises `GroupMissing` (CloudTrail
    delivers only into a group its owner made)."""
    if account is None or region is None:
        if not isinstance(ctx, Call):
            raise ValueError("a job names the account and Region it publishes into")
        account, region = account or ctx.account, region or ctx.region
    if not create_group and not group_exists(ctx, group_name, account=account, region=region):
        raise GroupMissing(group_name)
    group = ensure_group(ctx, group_name, account=account, region=region)
    groups.require_stream_name(stream_name)
    now = int(ctx.clock.timestamp() * 1000)
    stream = groups.find_stream(ctx.conn, group, stream_name) or groups.insert_stream(
        ctx.conn, group, stream_name, now
    )
    pending = sorted(((int(t), m) for t, m in log_events if m), key=lambda e: e[0])
    accepted = rejected = 0
    batch: list[tuple[int, str]] = []
    size = 0

    def flush() -> None:
        nonlocal accepted, rejected
        if not batch:
            return
        stamps = [t for t, _ in batch]
        messages = [m for _, m in batch]
        stored = _put_spans(ctx, group, stream, stamps, messages, now)
        accepted += stored
        rejected += len(batch) - stored
        batch.clear()

    for stamp, message in pending:
        cost = events.message_bytes(message) + ingest.EVENT_OVERHEAD
        if cost > ingest.MAX_BATCH_BYTES:
            rejected += 1
            continue
        if batch and (
            len(batch) >= ingest.MAX_EVENTS
            or size + cost > ingest.MAX_BATCH_BYTES
            or stamp - batch[0][0] > ingest.SPAN_MS
        ):
            flush()
            size = 0
        batch.append((stamp, message))
        size += cost
    flush()
    return Published(accepted, rejected)


def _put_spans(
    ctx: Call | JobRun, group: Group, stream: groups.Stream, stamps: list[int],
    messages: list[str], now: int,
) -> int:  # fmt: skip
    """Store one batch, less its rejected events; how many were stored."""
    info = ingest.put(ctx, group, stream, stamps, messages, now)
    first = max(info.get("tooOldLogEventEndIndex", -1), info.get("expiredLogEventEndIndex", -1)) + 1
    last = info.get("tooNewLogEventStartIndex", len(stamps))
    return max(0, last - first)
