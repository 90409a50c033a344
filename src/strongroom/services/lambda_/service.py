"""The Lambda `Service` every Lambda module registers on, its errors and
its process resources (the code store, the execution engine)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import ResourceContext, Service
from strongroom.services.lambda_.code import make_code_store
from strongroom.services.lambda_.tables import TABLES

#: The service principal Lambda acts as (trust policies name it).
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def _make_engine(ctx: ResourceContext) -> Any:
    from strongroom.services.lambda_.engine import make_engine

    return make_engine(ctx)


def _make_async_worker(ctx: ResourceContext) -> Any:
    from strongroom.services.lambda_.events import Worker

    return Worker()


def _download(runtime: Any, path: str, query: str) -> tuple[int, bytes, str]:
    from strongroom.services.lambda_.locations import download

    return download(runtime, path, query)


service = Service(
    "lambda",
    tables=TABLES,
    # Built in this order at start-up, closed in reverse: the engine closes
    # before the event worker, so an event still running ends at once
    # (EngineClosed, retried later) instead of holding the shutdown.
    resources={
        "lambda_code": make_code_store,
        "lambda_async": _make_async_worker,
        "lambda_engine": _make_engine,
    },
    download=_download,
)
errors = service.errors
