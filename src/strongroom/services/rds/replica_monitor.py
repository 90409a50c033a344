"""How each read replica running in this process replicates, measured once a
second (`PostgresEngine.replication_status`: the source's
``pg_stat_replication`` and the replica's replay position), and kept in
memory for DescribeDBInstances (its StatusInfos) and the housekeeping job
(the replication events).

A thread of the RDS supervisor does the measuring, so no request ever waits
for an engine to answer: a description reads the latest measurement. It
touches no state in the store (the job turns what it measured into events),
and it runs only while some replica is attached.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from strongroom.engines.driver import EngineError, ReplicationStatus

if TYPE_CHECKING:
    from strongroom.services.rds.supervisor import Supervisor

log = logging.getLogger("strongroom.services.rds")

#: Seconds between two measurements of a replica.
EVERY_S = 1.0
_STOPPED = ReplicationStatus("stopped", False, None, None, None, None)


class ReplicationMonitor:
    def __init__(self, sup: Supervisor, every_s: float = EVERY_S) -> None:
        self._sup = sup
        self._every_s = every_s
        self._lock = threading.Lock()
        self._watched: set[str] = set()
        self._latest: dict[str, ReplicationStatus] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, resource_id: str) -> None:
        """Measure this instance while it is attached, if it is a replica."""
        with self._lock:
            self._watched.add(resource_id)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="strongroom-rds-replication", daemon=True
                )
                self._thread.start()

    def latest(self, resource_id: str) -> ReplicationStatus | None:
        return self._latest.get(resource_id)

    def measure(self, resource_id: str) -> ReplicationStatus | None:
        """Measure one instance now: None when it is no replica (any more)."""
        sup = self._sup
        inst = sup.open(resource_id)
        if inst is None or inst.role != "replica":
            with self._lock:
                self._watched.discard(resource_id)
            self._latest.pop(resource_id, None)
            return None
        if not sup.running(resource_id):
            found = _STOPPED
        else:
            try:
                found = sup.postgres.replication_status(inst)
            except EngineError as err:
                log.debug("replica %s not measured: %s", resource_id, err)
                found = _STOPPED
        self._latest[resource_id] = found
        return found

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            with self._lock:
                watched = sorted(self._watched)
            for rid in watched:
                if self._stop.is_set():
                    return
                if not self._sup.attached(rid):
                    continue
                with contextlib.suppress(Exception):  # a measurement never kills the thread
                    self.measure(rid)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
