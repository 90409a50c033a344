"""Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries,
and saved query definitions."""

from __future__ import annotations

import logging
from typing import Any

from strongroom.framework import Background, Call
from strongroom.ids import uuid4
from strongroom.services.logs import groups, insights, protection, queries
from strongroom.services.logs.service import PAGING_MAX, errors, service

log = logging.getLogger("strongroom.services.logs")

DESCRIBE_QUERIES = PAGING_MAX.listing("queries", default=1000, maximum=1000)
DESCRIBE_DEFINITIONS = PAGING_MAX.listing("queryDefinitions", default=1000, maximum=1000)
MAX_GROUPS = 50
QUERY_NOT_FOUND = "The specified query does not exist."


def _account_arn(call: Call) -> str:
    return groups.account_resource(call)


@service.operation(authorize=False)
def start_query(
    call: Call,
    startTime: int,
    endTime: int,
    queryString: str,
    queryLanguage: str | None = None,
    logGroupName: str | None = None,
    logGroupNames: list[str] | None = None,
    logGroupIdentifiers: list[str] | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    given = [x for x in (logGroupName, logGroupNames, logGroupIdentifiers) if x is not None]
    if len(given) > 1:
        raise errors.InvalidParameterException(
            "LogGroupName, LogGroupNames and LogGroupIdentifiers are mutually exclusive."
        )
    idents: list[str] = (
        [logGroupName]
        if logGroupName is not None
        else list(logGroupNames or logGroupIdentifiers or [])
    )
    if not idents:
        call.authorize("logs:StartQuery", _account_arn(call))
        raise errors.InvalidParameterException(
            "A query needs at least one log group (logGroupName, logGroupNames or "
            "logGroupIdentifiers)."
        )
    if len(idents) > MAX_GROUPS:
        raise errors.InvalidParameterException(f"A query can name at most {MAX_GROUPS} log groups.")
    chosen = []
    for ident in idents:
        name = ident if logGroupIdentifiers is None else None
        chosen.append(
            groups.resolve(
                call, "logs:StartQuery", name, ident if logGroupIdentifiers is not None else None
            )
        )
    if queryLanguage not in (None, "CWLI"):
        raise errors.InvalidParameterException(
            f"Query language {queryLanguage} is not supported; use CWLI."
        )
    if endTime < startTime:
        raise errors.InvalidParameterException("endTime must be greater than startTime.")
    try:
        compiled_query = insights.compile(queryString)  # refused now; the run compiles it again
    except insights.QueryError as err:
        raise errors.MalformedQueryException(str(err)) from None
    unmask = any(insights.unmasking(compiled_query))
    if unmask:  # the run, in the background, has no caller to ask
        for group in chosen:
            protection.require_unmask(call, group)
    query_id = uuid4()
    queries.schedule(
        call, chosen, queryString, startTime * 1000, endTime * 1000 + 999, limit, query_id,
        unmask=unmask,
    )  # fmt: skip
    return {"queryId": query_id}


@service.background
def run_query(work: Background, payload: dict[str, Any]) -> None:
    """Run a scheduled query (see `queries`): Running, then its results."""
    query_id = payload["id"]
    with work.transaction(write=True) as run:
        row = queries.find_any(run.conn, query_id)
        if row is None or not queries.set_status(
            run.conn, row, "Running", only_from=("Scheduled",)
        ):
            return  # stopped, or already run by a worker that died after it
    try:
        with work.transaction() as run:
            results, statistics, duration = queries.execute(run, row)
        status = "Complete" if duration < queries.TIMEOUT_S else "Timeout"
    except Exception as err:
        if not isinstance(getattr(err, "code", None), str):
            raise
        log.info("query %s failed: %s", query_id, err)
        results, statistics, duration, status = None, None, 0.0, "Failed"
    with work.transaction(write=True) as run:
        queries.finish(run.conn, query_id, status, results if status == "Complete" else None,
                       statistics, duration)  # fmt: skip


def _query(call: Call, query_id: str, action: str) -> queries.QueryRow:
    call.authorize(action, _account_arn(call))
    found = queries.find(call.conn, call.account, call.region, query_id)
    if found is None:
        raise errors.ResourceNotFoundException(QUERY_NOT_FOUND)
    return found


@service.operation(authorize=False)
def get_query_results(
    call: Call, queryId: str, nextToken: str | None = None, maxItems: int | None = None, **_: Any
) -> dict[str, Any]:
    found = _query(call, queryId, "logs:GetQueryResults")
    stats = found.statistics or {}
    return {
        "queryLanguage": "CWLI",
        "results": found.results or [],
        "statistics": {k: float(v) for k, v in stats.items()},
        "status": found.status,
    }


@service.operation(authorize=False)
def stop_query(call: Call, queryId: str, **_: Any) -> dict[str, Any]:
    found = _query(call, queryId, "logs:StopQuery")
    if queries.set_status(call.conn, found, "Cancelled", only_from=("Scheduled", "Running")):
        return {"success": True}
    raise errors.InvalidParameterException(f"Query {queryId} is not running: {found.status}.")


@service.operation(authorize=False)
def describe_queries(
    call: Call,
    logGroupName: str | None = None,
    status: str | None = None,
    maxResults: int | None = None,
    nextToken: str | None = None,
    queryLanguage: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:DescribeQueries", _account_arn(call))
    chosen = [
        q.info()
        for q in queries.of_account(call.conn, call.account, call.region)
        if (logGroupName is None or logGroupName in q.log_group_names)
        and (status is None or q.status == status)
        and queryLanguage in (None, "CWLI")
    ]
    return DESCRIBE_QUERIES.over_list(
        call, chosen, nextToken, maxResults, scope=(logGroupName, status, queryLanguage)
    )


# --------------------------------------------------------------------------- definitions


@service.operation(authorize=False)
def put_query_definition(
    call: Call,
    name: str,
    queryString: str,
    queryLanguage: str | None = None,
    queryDefinitionId: str | None = None,
    logGroupNames: list[str] | None = None,
    clientToken: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:PutQueryDefinition", _account_arn(call))
    now = int(call.clock.timestamp() * 1000)
    if queryDefinitionId is not None:
        existing = queries.find_definition(call.conn, call.account, call.region, queryDefinitionId)
        if existing is None:
            raise errors.ResourceNotFoundException("The specified query definition does not exist.")
        existing.name, existing.query_string = name, queryString
        existing.log_group_names = list(logGroupNames or [])
        existing.last_modified = now
        queries.save_definition(call.conn, existing, new=False)
        return {"queryDefinitionId": existing.id}
    definition = queries.Definition(
        uuid4(), call.account, call.region, name, queryString, list(logGroupNames or []), now
    )
    queries.save_definition(call.conn, definition, new=True)
    return {"queryDefinitionId": definition.id}


@service.operation(authorize=False)
def describe_query_definitions(
    call: Call,
    queryLanguage: str | None = None,
    queryDefinitionNamePrefix: str | None = None,
    maxResults: int | None = None,
    nextToken: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("logs:DescribeQueryDefinitions", _account_arn(call))
    found = [
        d.describe()
        for d in queries.definitions(
            call.conn, call.account, call.region, queryDefinitionNamePrefix
        )
    ]
    return DESCRIBE_DEFINITIONS.over_list(
        call, found, nextToken, maxResults, scope=(queryDefinitionNamePrefix,)
    )


@service.operation(authorize=False)
def delete_query_definition(call: Call, queryDefinitionId: str, **_: Any) -> dict[str, Any]:
    call.authorize("logs:DeleteQueryDefinition", _account_arn(call))
    found = queries.find_definition(call.conn, call.account, call.region, queryDefinitionId)
    if found is None:
        raise errors.ResourceNotFoundException("The specified query definition does not exist.")
    queries.delete_definition(call.conn, found)
    return {"success": True}
