"""Process resources: declared by a service, built from the server's config
at start-up, reachable from calls and jobs, closed at shutdown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.framework import JobRun, ResourceContext, Resources
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import config_from_env, config_to_env, prepare


class Engine:
    def __init__(self, ctx: ResourceContext, log: list[str]) -> None:
        self.ctx = ctx
        self.log = log
        log.append("built")

    def close(self) -> None:
        self.log.append("closed")


def test_built_once_closed_in_reverse_order(tmp_path: Path) -> None:
    log: list[str] = []
    ctx = ResourceContext(tmp_path, "http://127.0.0.1:1", {"a.x": "1", "b.y": "2"})

    def first(c: ResourceContext) -> Any:
        log.append("first")
        return Engine(c, log)

    class Second:
        def close(self) -> None:
            log.append("second closed")

    res = Resources({"first": first, "second": lambda c: Second()}, ctx)
    assert log == []  # nothing until start or first use
    engine = res.get("first")
    assert res.get("first") is engine and log == ["first", "built"]
    res.start()
    res.close()
    assert log == ["first", "built", "second closed", "closed"]
    assert engine.ctx.options_for("a") == {"x": "1"}
    with pytest.raises(RuntimeError):
        res.get("first")


def test_a_failing_close_does_not_keep_others_open(tmp_path: Path) -> None:
    log: list[str] = []

    class Bad:
        def close(self) -> None:
            raise OSError("boom")

    ctx = ResourceContext(tmp_path, "http://x", {})
    res = Resources({"good": lambda c: Engine(c, log), "bad": lambda c: Bad()}, ctx)
    res.start()
    res.close()
    assert log == ["built", "closed"]


def test_two_services_may_not_claim_one_name(tmp_path: Path) -> None:
    class Svc:
        def __init__(self) -> None:
            self.resources = {"engine": lambda c: object()}

    with pytest.raises(ValueError):
        Resources.of_services([Svc(), Svc()], ResourceContext(tmp_path, "http://x"))


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, list[str]]]:
    log: list[str] = []
    config = Config(data_dir=tmp_path, port=4599, options={"test.flag": "on"})
    prepare(config)
    from strongroom.services import registry

    real = registry.served_services

    def with_resource() -> list[Any]:
        services = real()
        services[0].resources = {"test_engine": lambda ctx: Engine(ctx, log)}
        return services

    monkeypatch.setattr("strongroom.server.app.served_services", with_resource)
    app = App(config)
    yield app, log
    app.shutdown()


def test_the_app_builds_from_its_config_and_closes_at_shutdown(app: tuple[App, list[str]]) -> None:
    server, log = app
    engine = server.runtime.resource("test_engine")
    assert engine.ctx.endpoint_url == "http://127.0.0.1:4599"
    assert engine.ctx.data_dir == server.config.data_dir
    assert engine.ctx.options_for("test") == {"flag": "on"}
    with server.store.transaction(write=True) as conn:
        run = JobRun(server.services[0], conn, server.clock.now(), server.runtime)
        assert run.resource("test_engine") is engine
    server.shutdown()
    assert log == ["built", "closed"]


def test_options_survive_the_trip_to_worker_processes(tmp_path: Path, monkeypatch: Any) -> None:
    config = Config(data_dir=tmp_path, host="0.0.0.0", port=80, options={"lambda.python3.12": "/p"})
    monkeypatch.setenv("STRONGROOM_SERVE_CONFIG", config_to_env(config))
    again = config_from_env()
    assert again.options == {"lambda.python3.12": "/p"}
    assert again.endpoint_url == "http://127.0.0.1:80"
