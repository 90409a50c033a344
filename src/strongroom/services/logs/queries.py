"""Logs Insights queries and saved query definitions: the domain layer.

StartQuery stores a query as ``Scheduled`` and hands its run off to
background work (`run_query`: a server thread, never the event loop, once
across worker processes): ``Running`` while it reads the batches
overlapping its time range (the filters' literal text skips batches without
it) in a read transaction, then ``Complete`` with its results and statistics
kept with it, which GetQueryResults reads back; ``Cancelled`` if StopQuery
came first, ``Timeout`` past 15 minutes, ``Failed`` if the read failed (a
KMS key no longer usable). Queries are kept for their account and Region
(seven days), newest first in DescribeQueries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.framework import Call, JobRun
from strongroom.services.logs import crypto, events, insights, protection
from strongroom.services.logs.groups import Group, groups_by_id
from strongroom.services.logs.tables import queries, query_definitions, streams

#: How long a query may run (AWS: 15 minutes), and how long one is kept.
TIMEOUT_S = 15 * 60
KEEP_MS = 7 * 86_400_000


@dataclass(slots=True)
class QueryRow:
    id: str
    account: str
    region: str
    query_string: str
    log_group_names: list[str]
    status: str
    created: int
    duration: float
    plan: dict[str, Any]
    results: list[Any] | None
    statistics: dict[str, Any] | None

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "queryLanguage": "CWLI",
            "queryId": self.id,
            "queryString": self.query_string,
            "status": self.status,
            "createTime": self.created,
            "queryDuration": int(self.duration * 1000),
            "bytesScanned": float((self.statistics or {}).get("bytesScanned", 0.0)),
        }
        if self.log_group_names:
            out["logGroupName"] = self.log_group_names[0]
        return out


_COLUMNS = [queries.c[f] for f in QueryRow.__dataclass_fields__]  # type: ignore[attr-defined]


def _literals(query: insights.Query) -> tuple[bytes, ...]:
    """Literal text every matching event's message holds: the substrings of
    `filter @message like "..."` steps before anything reshapes the rows."""
    out: list[bytes] = []
    for step in query.steps:
        if step.kind != "filter":
            break
        if step.literal:
            out.append(step.literal.encode())
    return tuple(out)


def _records(
    call: Call | JobRun,
    chosen: list[Group],
    start: int,
    end: int,
    query: insights.Query,
    stats: dict,
    unmasked: bool = False,
) -> Iterator[insights.Record]:
    by_id = {g.id: g for g in chosen}
    names: dict[int, str] = {}
    for gid in by_id:
        for sid, name in call.conn.execute(
            select(streams.c.id, streams.c.name).where(streams.c.group_id == gid)
        ):
            names[sid] = name
    parse = insights.needs_json(query)
    opener = crypto.opener(call, by_id)
    masks = _masks(call, chosen, query, unmasked)
    for gid, sid, ingestion, messages, stamps, size in events.each(
        call.conn, group_ids=list(by_id), start=start, end=end, opener=opener,
        # A masked event may not hold the literal text its stored form does.
        needles=() if masks else _literals(query), max_span=max(g.max_span for g in chosen),
    ):  # fmt: skip
        group = by_id[gid]
        log = f"{group.account}:{group.name}"
        stream = names.get(sid, "")
        mask, keep_raw = masks.get(gid, (None, False))
        stats["bytesScanned"] += size
        stats["recordsScanned"] += len(stamps)
        if messages is None:
            continue
        for index, ts in enumerate(stamps):
            if start <= ts <= end:
                message = messages[index]
                if mask is None:
                    yield insights.record(ts, message, stream, log, ingestion, parse)
                    continue
                r = insights.record(ts, mask(message, ingestion), stream, log, ingestion, parse)
                if keep_raw:
                    r[insights.RAW] = insights.record(ts, message, stream, log, ingestion, parse)
                yield r


def _masks(
    ctx: Call | JobRun, chosen: list[Group], query: insights.Query, unmasked: bool
) -> dict[int, tuple[Any, bool]]:
    """Per group with a data protection policy: (its mask, whether the
    record keeps its unmasked self for ``unmask(...)``). `unmasked`: the
    query's caller held logs:Unmask when it asked to unmask (StartQuery)."""
    every, function = insights.unmasking(query)
    if unmasked and every:
        return {}
    out: dict[int, tuple[Any, bool]] = {}
    for group in chosen:
        found = protection.protection_for(ctx, group)
        if found is not None:
            out[group.id] = (found.mask, unmasked and function)
    return out


def _counts(
    call: Call | JobRun,
    chosen: list[Group],
    start: int,
    end: int,
    plan: insights.Counting,
    stats: dict,
) -> dict[int, int]:
    """Events per bucket of `plan`'s period, counted from the timestamps."""
    period = int(plan.period)
    counts: dict[int, int] = {}
    literals = plan.literals
    needles = tuple(x.encode() for x in literals)
    for _gid, _sid, _ingestion, messages, stamps, size in events.each(
        call.conn, group_ids=[g.id for g in chosen], start=start, end=end,
        opener=crypto.opener(call, {g.id: g for g in chosen}), needles=needles,
        messages=bool(literals), max_span=max(g.max_span for g in chosen),
    ):  # fmt: skip
        stats["bytesScanned"] += size
        stats["recordsScanned"] += len(stamps)
        if literals:
            if messages is None:
                continue
            chosen_stamps = [
                ts for ts, m in zip(stamps, messages, strict=True)
                if all(x in m for x in literals)
            ]  # fmt: skip
        else:
            chosen_stamps = list(stamps)
        if chosen_stamps and (chosen_stamps[0] < start or chosen_stamps[-1] > end):
            chosen_stamps = [ts for ts in chosen_stamps if start <= ts <= end]
        for ts in chosen_stamps:
            key = ts - ts % period
            counts[key] = counts.get(key, 0) + 1
    return counts


def schedule(
    call: Call,
    chosen: list[Group],
    query_string: str,
    start: int,
    end: int,
    limit: int | None,
    query_id: str,
    unmask: bool = False,
) -> QueryRow:
    """Store a new query, Scheduled, and hand its run off."""
    row = QueryRow(
        query_id, call.account, call.region, query_string, [g.name for g in chosen],
        "Scheduled", int(call.clock.timestamp() * 1000), 0.0,
        {"groups": [g.id for g in chosen], "start": start, "end": end, "limit": limit,
         "unmask": unmask},
        None, None,
    )  # fmt: skip
    values = {f: getattr(row, f) for f in QueryRow.__dataclass_fields__}  # type: ignore[attr-defined]
    call.conn.execute(insert(queries).values(**values))
    cutoff = row.created - KEEP_MS
    call.conn.execute(
        delete(queries).where(
            queries.c.account == call.account, queries.c.region == call.region,
            queries.c.created < cutoff,
        )
    )  # fmt: skip
    call.hand_off("run_query", {"id": query_id})
    return row


def execute(ctx: Call | JobRun, row: QueryRow) -> tuple[list[Any], dict[str, float], float]:
    """Run a stored query: (results, statistics, seconds taken)."""
    query = insights.compile(row.query_string)
    chosen = groups_by_id(ctx.conn, row.plan["groups"])
    start, end, limit = row.plan["start"], row.plan["end"], row.plan.get("limit")
    began = time.monotonic()
    stats: dict[str, float] = {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
    plan = insights.counting(query)
    if (
        plan is not None
        and plan.literals
        and not row.plan.get("unmask")
        and any(protection.protection_for(ctx, g) is not None for g in chosen)
    ):
        # The counting plan matches the stored text; a masked group's
        # filters must see the masked events (AWS masks at every egress).
        plan = None
    if plan is not None:
        counts = _counts(ctx, chosen, start, end, plan, stats)
        outcome = insights.run_counts(query, plan, counts, limit)
    else:
        records = _records(ctx, chosen, start, end, query, stats, bool(row.plan.get("unmask")))
        outcome = insights.run(query, records, limit)
    stats["recordsMatched"] = float(outcome.matched)
    return outcome.rows, stats, time.monotonic() - began


def finish(
    conn: Connection, query_id: str, status: str, results: list[Any] | None,
    statistics: dict[str, float] | None, duration: float,
) -> None:  # fmt: skip
    """Record a run's end, unless StopQuery ended the query first."""
    conn.execute(
        update(queries)
        .where(queries.c.id == query_id, queries.c.status.in_(("Scheduled", "Running")))
        .values(status=status, results=results, statistics=statistics, duration=duration)
    )


def find_any(conn: Connection, query_id: str) -> QueryRow | None:
    row = conn.execute(select(*_COLUMNS).where(queries.c.id == query_id)).first()
    return QueryRow(*row) if row is not None else None


def find(conn: Connection, account: str, region: str, query_id: str) -> QueryRow | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            queries.c.id == query_id, queries.c.account == account, queries.c.region == region
        )
    ).first()
    return QueryRow(*row) if row is not None else None


def set_status(
    conn: Connection, query: QueryRow, status: str, *, only_from: tuple[str, ...] | None = None
) -> bool:
    """Move a query to `status` (only from one of `only_from`, when given:
    a concurrent StopQuery wins); whether it moved."""
    q = update(queries).where(queries.c.id == query.id)
    if only_from is not None:
        q = q.where(queries.c.status.in_(only_from))
    return conn.execute(q.values(status=status)).rowcount == 1


def of_account(conn: Connection, account: str, region: str) -> list[QueryRow]:
    q = (
        select(*_COLUMNS)
        .where(queries.c.account == account, queries.c.region == region)
        .order_by(queries.c.created.desc(), queries.c.id)
    )
    return [QueryRow(*r) for r in conn.execute(q)]


# --------------------------------------------------------------------------- definitions


@dataclass(slots=True)
class Definition:
    id: str
    account: str
    region: str
    name: str
    query_string: str
    log_group_names: list[str]
    last_modified: int

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "queryLanguage": "CWLI",
            "queryDefinitionId": self.id,
            "name": self.name,
            "queryString": self.query_string,
            "lastModified": self.last_modified,
        }
        if self.log_group_names:
            out["logGroupNames"] = list(self.log_group_names)
        return out


_DEF_COLUMNS = [query_definitions.c[f] for f in Definition.__dataclass_fields__]  # type: ignore[attr-defined]


def find_definition(
    conn: Connection, account: str, region: str, definition_id: str
) -> Definition | None:
    row = conn.execute(
        select(*_DEF_COLUMNS).where(
            query_definitions.c.id == definition_id,
            query_definitions.c.account == account,
            query_definitions.c.region == region,
        )
    ).first()
    return Definition(*row) if row is not None else None


def save_definition(conn: Connection, d: Definition, *, new: bool) -> None:
    values = {f: getattr(d, f) for f in Definition.__dataclass_fields__}  # type: ignore[attr-defined]
    if new:
        conn.execute(insert(query_definitions).values(**values))
    else:
        conn.execute(
            update(query_definitions).where(query_definitions.c.id == d.id).values(**values)
        )


def delete_definition(conn: Connection, d: Definition) -> None:
    conn.execute(delete(query_definitions).where(query_definitions.c.id == d.id))


def definitions(
    conn: Connection, account: str, region: str, prefix: str | None
) -> list[Definition]:
    q = select(*_DEF_COLUMNS).where(
        query_definitions.c.account == account, query_definitions.c.region == region
    )
    if prefix:
        q = q.where(query_definitions.c.name.startswith(prefix, autoescape=True))
    return [
        Definition(*r)
        for r in conn.execute(q.order_by(query_definitions.c.name, query_definitions.c.id))
    ]
