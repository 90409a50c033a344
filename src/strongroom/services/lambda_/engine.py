"""The execution engine as Lambda's process resource ``lambda_engine``: the
runtime engine (`strongroom.engines.lambda_runtime`), built from the server's
config (its directory under the data dir, ``AWS_ENDPOINT_URL`` the server's
own URL, ``--option lambda.python3.12=/path/to/python3.12`` interpreters),
and the execution roles' credentials, cached per role until near expiry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from strongroom.engines.lambda_runtime import LambdaEngine
from strongroom.framework import ResourceContext
from strongroom.services.lambda_.log_delivery import LogDelivery
from strongroom.services.lambda_.service import service
from strongroom.services.sts.api import ServiceCredentials
from strongroom.store.files import private_dir

#: A cached session is not handed to a new environment with less than this
#: left (the engine retires environments 120 s before their credentials end).
CREDENTIALS_MARGIN = 600.0


#: A move of the server clock (time travel) by more than this, against the
#: wall clock, ends every environment's session.
CLOCK_JUMP = 60.0


class Runner:
    def __init__(self, engine: LambdaEngine, delivery: LogDelivery | None = None) -> None:
        self.engine = engine
        #: Where the functions' output goes (CloudWatch Logs).
        self.delivery = delivery
        self._credentials: dict[str, ServiceCredentials] = {}
        self._lock = threading.Lock()
        #: The server clock's lead on the wall clock when the environments
        #: running now were given their credentials.
        self._offset: float | None = None

    def follow_clock(self, offset: float) -> None:
        """Retire every environment, and forget every cached session, once
        the server clock has moved against the wall clock: the sessions
        environments hold expire by the server clock, which the engine
        (comparing with the wall clock) cannot see move."""
        with self._lock:
            if self._offset is not None and abs(offset - self._offset) <= CLOCK_JUMP:
                return
            moved = self._offset is not None
            self._offset = offset
            if moved:
                self._credentials.clear()
        if moved:
            self.engine.retire("")

    def credentials(
        self, role_arn: str, now: float, mint: Callable[[], ServiceCredentials | None]
    ) -> ServiceCredentials | None:
        """The role's cached session, or a new one from `mint`."""
        with self._lock:
            found = self._credentials.get(role_arn)
        if found is not None and found.expiration - now > CREDENTIALS_MARGIN:
            return found
        made = mint()
        if made is not None:
            with self._lock:
                self._credentials[role_arn] = made
        return made

    def forget_role(self, role_arn: str) -> None:
        with self._lock:
            self._credentials.pop(role_arn, None)

    def retire(self, key_prefix: str) -> None:
        self.engine.retire(key_prefix)

    def close(self) -> None:
        self.engine.close()
        if self.delivery is not None:
            self.delivery.wait_idle(5.0)
            self.delivery.close()


def make_engine(ctx: ResourceContext) -> Runner:
    options = ctx.options_for("lambda")
    interpreters = {k: v for k, v in options.items() if k.startswith("python")}
    settings: dict[str, Any] = {}
    for name in ("freeze_after_s", "retire_after_s", "default_max_concurrency"):
        if name in options:
            settings[name] = (int if name == "default_max_concurrency" else float)(options[name])
    # The engine's directory holds the functions' code and logs: private,
    # like everything in the data dir.
    base = private_dir(ctx.data_dir / "lambda")
    # The functions' output goes to CloudWatch Logs (`log_delivery`), not to
    # files: it is customer data, kept only where Logs keeps it.
    delivery = LogDelivery(service)
    engine = LambdaEngine(
        base, ctx.endpoint_url, interpreters=interpreters, image_log_sink=delivery, **settings
    )
    return Runner(engine, delivery)
