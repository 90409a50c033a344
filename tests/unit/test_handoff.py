"""Background work handed off by a call (`Call.hand_off`): it exists only if
the handing transaction commits, runs off the handing thread in
transactions of its own, once across processes sharing a store, and its
service events are recorded after each of its transactions commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from strongroom.framework import Background
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.handoff import handoffs
from strongroom.server.serve import prepare

ran: list[tuple[str, dict[str, Any], str]] = []
gate = threading.Event()


def probe(work: Background, payload: dict[str, Any]) -> None:
    gate.wait(10)
    with work.transaction() as run:
        assert run.writes is False
        run.service_event("ProbeRan", "000000000000", "us-east-1", additional=payload)
    ran.append((work.work_id, payload, threading.current_thread().name))


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[App, App]]:
    config = Config(data_dir=tmp_path)
    prepare(config)
    one, two = App(config), App(config)
    svc = one.services_by_name["secretsmanager"]
    svc.background(probe)
    ran.clear()
    gate.clear()
    yield one, two
    svc.background_work.pop("probe", None)
    for app in (one, two):
        app.handoff.close()
        app.shutdown()


def hand_off(app: App, internal_call: Any, payload: dict[str, Any], fail: bool = False) -> None:
    try:
        with app.store.transaction(write=True) as conn:
            call = internal_call(app, conn, None, "secretsmanager")
            call.hand_off("probe", payload)
            assert call.handed_off
            if fail:
                raise RuntimeError("rolled back")
    except RuntimeError:
        assert fail


def queued(app: App) -> int:
    with app.store.transaction(write=False) as conn:
        return conn.execute(select(func.count()).select_from(handoffs)).scalar_one()


def test_work_runs_once_across_processes_after_commit(apps, internal_call) -> None:
    one, two = apps
    hand_off(one, internal_call, {"n": 1}, fail=True)
    assert queued(one) == 0  # the handing transaction failed: no work
    hand_off(one, internal_call, {"n": 2})
    assert queued(one) == 1
    claims: list[int] = []
    threads = [threading.Thread(target=lambda a=a: claims.append(a.handoff.poll())) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == [0, 1]  # one process claimed it, the other found it taken
    assert two.handoff.poll() == 0 and one.handoff.poll() == 0  # claimed: not again
    gate.set()
    deadline = time.monotonic() + 10
    while queued(one) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queued(one) == 0  # done: its row went
    assert [(p, name.startswith("strongroom-work")) for _, p, name in ran] == [({"n": 2}, True)]
    pending = [*one.audit._pending.events, *two.audit._pending.events]
    assert any(
        b"ProbeRan" in body and b'"additionalEventData":{"n":2}' in body for _, body in pending
    )


def test_an_unknown_work_name_is_refused(apps, internal_call) -> None:
    one, _ = apps
    with pytest.raises(LookupError), one.store.transaction(write=True) as conn:
        internal_call(one, conn, None, "secretsmanager").hand_off("nothing-here", {})


def test_a_key_queues_one_item_at_a_time(apps, internal_call) -> None:
    one, _ = apps
    with one.store.transaction(write=True) as conn:
        call = internal_call(one, conn, None, "secretsmanager")
        assert call.hand_off("probe", {"n": 3}, key="k") is True
        assert call.hand_off("probe", {"n": 4}, key="k") is False  # queued already
        assert call.hand_off("probe", {"n": 5}, key="other") is True
    assert queued(one) == 2
    assert one.handoff.poll() == 2
    with one.store.transaction(write=True) as conn:  # still running: still taken
        assert (
            internal_call(one, conn, None, "secretsmanager").hand_off("probe", {"n": 6}, key="k")
            is False
        )
    gate.set()
    deadline = time.monotonic() + 10
    while queued(one) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p["n"] for _, p, _ in ran) == [3, 5]
    with one.store.transaction(write=True) as conn:  # done: free again
        assert (
            internal_call(one, conn, None, "secretsmanager").hand_off("probe", {"n": 7}, key="k")
            is True
        )
