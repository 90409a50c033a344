"""Process resources: long-lived things a service needs besides the store
(Lambda's execution engine, RDS's PostgreSQL supervisor), built once per
server process from the server's configuration and closed when it stops.

A service declares them by name with a factory::

    service = Service("lambda", resources={"lambda_engine": make_engine})

    def make_engine(ctx: ResourceContext) -> LambdaEngine:
        return LambdaEngine(ctx.data_dir / "lambda", endpoint_url=ctx.endpoint_url)

and reaches them from a call or a job: ``call.resource("lambda_engine")``.
The server names no service: it builds whatever the served services declare
at start-up (`Resources.start`) and closes them in reverse order at shutdown
(`Resources.close`: the resource's ``close()`` method, if it has one). A
resource asked for before start-up (a unit test driving an `App` without
its lifespan) is built on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("strongroom.resources")


@dataclass(frozen=True, slots=True)
class ResourceContext:
    """What a resource factory is built from: the server's configuration."""

    #: The server's data directory; a resource keeps its files under a
    #: directory of its own there.
    data_dir: Path
    #: The URL this server answers on (what a child process calls back:
    #: ``AWS_ENDPOINT_URL``).
    endpoint_url: str
    #: ``--option name=value`` settings of the server, for resources to read
    #: their own (``lambda.python3.12=/usr/bin/python3.12``).
    options: Mapping[str, str] = field(default_factory=dict)

    def options_for(self, prefix: str) -> dict[str, str]:
        """The options named ``<prefix>.<name>``, as {name: value}."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self.options.items() if k.startswith(start)}


ResourceFactory = Callable[[ResourceContext], Any]


class UnknownResource(KeyError):
    pass


class Resources:
    """The process resources of the served services, by name."""

    def __init__(self, factories: Mapping[str, ResourceFactory], context: ResourceContext) -> None:
        self.factories = dict(factories)
        self.context = context
        self._built: dict[str, Any] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def of_services(cls, services: list[Any], context: ResourceContext) -> Resources:
        factories: dict[str, ResourceFactory] = {}
        for svc in services:
            for name, factory in svc.resources.items():
                if name in factories and factories[name] is not factory:
                    raise ValueError(f"two services declare the process resource {name!r}")
                factories[name] = factory
        return cls(factories, context)

    def start(self) -> None:
        """Build every declared resource (server start-up)."""
        for name in self.factories:
            self.get(name)

    def get(self, name: str) -> Any:
        found = self._built.get(name)
        if found is not None:
            return found
        factory = self.factories.get(name)
        if factory is None:
            raise UnknownResource(name)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"process resource {name!r} asked for after shutdown")
            found = self._built.get(name)
            if found is None:
                found = factory(self.context)
                self._built[name] = found
                self._order.append(name)
        return found

    def built(self, name: str) -> bool:
        return name in self._built

    def close(self) -> None:
        """Close what was built, last built first; one failing close does
        not keep the others open."""
        with self._lock:
            self._closed = True
            order, self._order = self._order[::-1], []
            built, self._built = self._built, {}
        for name in order:
            closer = getattr(built[name], "close", None)
            if closer is None:
                continue
            try:
                closer()
            except Exception:
                log.exception("closing process resource %s failed", name)
