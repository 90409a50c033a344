"""services/logs/api.py: other services (RDS, Lambda) and their background
work publish events into log groups, created on first use, within
PutLogEvents' rules, in the caller's transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.framework import JobRun
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.logs import api as logs_api
from strongroom.services.logs import service as logs_service

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("logs-api")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


def messages(call: Any, group: str, stream: str) -> list[str]:
    out = call.invoke(
        "logs", "GetLogEvents", logGroupName=group, logStreamName=stream, startFromHead=True
    )
    return [e["message"] for e in out["events"]]


def test_a_service_call_publishes_into_a_new_group(app: App, internal_call) -> None:
    now = int(time.time() * 1000)
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="rds")
        out = logs_api.put_events(
            call,
            "/aws/rds/instance/shop/postgresql",
            "shop.0",
            # Out of order, one too old and one too new: sorted, two dropped.
            [
                (now, "b"),
                (now - 1000, "a"),
                (now - 15 * 86_400_000, "old"),
                (now + 3 * 3600_000, "new"),
            ],
        )
        assert (out.accepted, out.rejected) == (2, 2)
        assert messages(call, "/aws/rds/instance/shop/postgresql", "shop.0") == ["a", "b"]
        group = call.invoke(
            "logs", "DescribeLogGroups", logGroupNamePrefix="/aws/rds/instance/shop/"
        )["logGroups"][0]
        assert "retentionInDays" not in group and group["storedBytes"] == 2


def test_a_job_publishes_in_batches_within_the_limits(app: App, internal_call) -> None:
    now = int(time.time() * 1000)
    lines = [(now - 25_000 + i, f"line {i:05d} " + "x" * 200) for i in range(25_000)]
    with app.store.transaction(write=True) as conn:
        run = JobRun(logs_service, conn, app.runtime.clock.now(), app.runtime)
        out = logs_api.put_events(
            run, "/aws/lambda/fn", "2024/01/01/[$LATEST]abc", lines, account=ACCOUNT,
            region="us-east-1",
        )  # fmt: skip
        assert (out.accepted, out.rejected) == (25_000, 0)
    with app.store.transaction(write=False) as conn:
        call = internal_call(app, conn, service="lambda")
        found = call.invoke(
            "logs", "FilterLogEvents", logGroupName="/aws/lambda/fn", filterPattern='"line 24999"'
        )["events"]
        assert [e["message"][:10] for e in found] == ["line 24999"]


def test_a_job_must_name_the_account(app: App) -> None:
    with app.store.transaction(write=True) as conn:
        run = JobRun(logs_service, conn, app.runtime.clock.now(), app.runtime)
        with pytest.raises(ValueError):
            logs_api.put_events(run, "/aws/x", "s", [(0, "m")])


def test_a_scan_out_of_time_resumes_without_gaps_or_duplicates(app: App, internal_call) -> None:
    from strongroom.services.logs import events, groups

    now = int(time.time() * 1000)
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="rds")
        # Overlapping batches: two streams written in turns.
        for i in range(20):
            logs_api.put_events(
                call, "/budget", "a" if i % 2 else "b",
                [(now - 100_000 + i * 1000 + j * 10, f"e{i:02d}-{j:02d}") for j in range(50)],
            )  # fmt: skip
        group = groups.find(conn, "000000000000", "us-east-1", "/budget")
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            page = events.scan(conn, group_ids=[group.id], after=after, limit=10_000, budget=0.0)
            pages += 1
            seen += [e.message for e in page.events]
            if page.resume is not None:
                after = page.resume
            elif page.more:
                after = page.events[-1].position
            else:
                break
        assert pages > 2
        assert sorted(seen) == sorted(f"e{i:02d}-{j:02d}" for i in range(20) for j in range(50))
        assert len(seen) == len(set(seen))


def test_a_scan_from_a_time_finds_a_long_batchs_later_events(app: App, internal_call) -> None:
    from strongroom.services.logs import events, groups

    now = int(time.time() * 1000)
    hour = 3_600_000
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="rds")
        logs_api.put_events(call, "/span", "s", [(now - 23 * hour, "early"), (now - hour, "late")])
        logs_api.put_events(call, "/span", "s", [(now - 30 * 60_000, "short")])
        group = groups.find(conn, "000000000000", "us-east-1", "/span")
        assert group.max_span == 22 * hour
        found = events.scan(
            conn, group_ids=[group.id], start=now - 2 * hour, max_span=group.max_span
        )
        assert [e.message for e in found.events] == ["late", "short"]
