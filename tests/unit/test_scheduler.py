"""The scheduler's tick: a job runs when stored state changed or the time it
named has come, never on a tick with nothing due; the lease is renewed only
when it runs low."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.kms import api as kms
from strongroom.services.kms import material
from strongroom.services.kms.tables import keys as key_rows
from strongroom.store.db import Store


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = Config(data_dir=tmp_path, time_travel=True)
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


class CountingJob:
    """A job that says its work is next due at `next_due`."""

    def __init__(self, next_due: float | None) -> None:
        self.next_due = next_due
        self.runs = 0

    def __call__(self, run: Any) -> float | None:
        self.runs += 1
        return self.next_due


@pytest.fixture
def job(app: App, monkeypatch: pytest.MonkeyPatch) -> CountingJob:
    counting = CountingJob(None)
    for svc in app.services:
        monkeypatch.setattr(svc, "jobs", [])
    monkeypatch.setattr(app.services[0], "jobs", [counting])
    return counting


def change_state(app: App) -> None:
    with app.store.transaction(write=True) as conn:
        Store.put_setting(conn, "test.touch", str(time.time()))


def test_a_job_with_nothing_scheduled_waits_for_a_state_change(app: App, job: CountingJob) -> None:
    assert app.run_due_work() == 1
    assert app.run_due_work() == 0
    assert app.run_due_work() == 0
    assert job.runs == 1
    change_state(app)
    assert app.run_due_work() == 1
    assert job.runs == 2


def test_a_job_runs_again_when_its_time_comes(app: App, job: CountingJob) -> None:
    job.next_due = app.clock.timestamp() + 0.2
    app.run_due_work()
    app.run_due_work()
    assert job.runs == 1
    time.sleep(0.25)
    app.run_due_work()
    assert job.runs == 2


def test_moving_the_clock_reruns_jobs(app: App, job: CountingJob) -> None:
    job.next_due = app.clock.timestamp() + 86400
    app.run_due_work()
    app.run_due_work()
    assert job.runs == 1
    with app.store.transaction(write=True) as conn:
        app.clock.advance(conn, 2 * 86400)
    app.run_due_work(wait=True)
    assert job.runs == 2


def test_the_lease_is_renewed_only_when_it_runs_low(
    app: App, job: CountingJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = []
    real = app.store.try_lease

    def counted(*args: Any, **kwargs: Any) -> bool:
        writes.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(app.store, "try_lease", counted)
    job.next_due = 0.0  # always due
    for _ in range(3):
        app.run_due_work()
    assert job.runs == 3 and len(writes) == 1
    app._lease_until = time.time() + app.config.tick_seconds  # less than two ticks left
    app.run_due_work()
    assert len(writes) == 2 and job.runs == 4


def test_another_holder_keeps_the_jobs_from_running(app: App, job: CountingJob) -> None:
    assert app.store.try_lease("scheduler", "someone-else", 60)
    assert app.run_due_work() == 0
    assert job.runs == 0


def test_kms_reports_when_its_keys_next_need_the_clock(app: App, internal_call) -> None:
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn)
        now = time.time()
        assert material.run_due(conn, app.sealer, now) is None  # no keys: nothing scheduled
        kms.aws_managed_key(call, "rds")  # rotates yearly
        next_due = material.run_due(conn, app.sealer, now)
        assert next_due is not None and 364 * 86400 < next_due - now <= 366 * 86400
        # Once the year has passed, the rotation happens and the next is a year on.
        later = next_due + 1
        reported: list[tuple[str, Any, Any, Any]] = []

        def report(*event: Any) -> None:
            reported.append(event)

        after = material.run_due(conn, app.sealer, later, report)
        assert after is not None and 364 * 86400 < after - later <= 366 * 86400
        ((name, key, details, _),) = reported
        assert name == "RotateKey" and details["rotationType"] == "AUTOMATIC"
        assert details["previousKeyMaterialId"] != details["currentKeyMaterialId"]
        # A key pending deletion runs on its deletion date only, and is gone after it.
        conn.execute(
            update(key_rows).values(state="PendingDeletion", deletion_date=later + 7 * 86400)
        )
        assert material.run_due(conn, app.sealer, later) == later + 7 * 86400
        assert material.run_due(conn, app.sealer, later + 8 * 86400, report) is None
        assert reported[-1][0] == "DeleteKey" and reported[-1][3] == {"keyId": key.arn}
        assert conn.execute(select(func.count()).select_from(key_rows)).scalar() == 0
