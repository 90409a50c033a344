"""``rds.log_retention_period``: an instance's engine log files are deleted
once they are older than its parameter group says (minutes, 1440 to 10080,
default 4320: three days), by the server's clock, as RDS does. The newest
file (the one the engine writes) always stays.

Age is the server clock's now minus the file's last write: moving the clock
forward (``--time-travel``) ages every file at once, as days passing would."""

from __future__ import annotations

import logging
import time

from sqlalchemy import Connection

from strongroom.engines.driver import EngineError
from strongroom.framework import JobRun
from strongroom.services.rds import model, records
from strongroom.services.rds.service import ENGINES, service
from strongroom.services.rds.supervisor import Supervisor

log = logging.getLogger("strongroom.services.rds")

PARAMETER = "rds.log_retention_period"
DEFAULT_MINUTES = 4320
MIN_MINUTES, MAX_MINUTES = 1440, 10080
#: Seconds of the server's clock between two passes.
EVERY_S = 3600.0


def retention_minutes(conn: Connection, rec: records.Record) -> int:
    """The instance's retention: its parameter group's value (a default group
    holds none), bounded as RDS bounds it."""
    name = ((rec["attrs"] or {}).get("DBParameterGroupName") or "").lower()
    group = (
        records.find_parameter_group(conn, rec["account"], rec["region"], name)
        if name and not name.startswith("default.")
        else None
    )
    raw = ((group or {}).get("parameters") or {}).get(PARAMETER)
    try:
        minutes = int(raw) if raw is not None else DEFAULT_MINUTES
    except (TypeError, ValueError):
        minutes = DEFAULT_MINUTES
    return min(max(minutes, MIN_MINUTES), MAX_MINUTES)


@service.job
def rds_log_retention(run: JobRun) -> float | None:
    """Delete each running instance's log files past its retention."""
    now = run.clock.timestamp()
    sup: Supervisor = run.resource(ENGINES)
    any_running = False
    for rec in records.all_instances(run.conn):
        if (
            rec["status"] not in model.RUNNING
            or not model.ENGINES.get(rec["engine"], model.ENGINES["mysql"]).real
        ):
            continue
        any_running = True
        inst = sup.open(rec["resource_id"]) if sup.attached(rec["resource_id"]) else None
        if inst is None:
            continue
        # The driver ages files by the wall clock; the server's may be ahead.
        older_than = retention_minutes(run.conn, rec) * 60.0 - (now - time.time())
        try:
            removed = sup.postgres.purge_log_files(inst, older_than)
        except (EngineError, OSError) as err:
            log.warning("RDS instance %s: old log files not deleted: %s", rec["identifier"], err)
            continue
        if removed:
            log.info(
                "RDS instance %s: %d log file(s) past retention deleted",
                rec["identifier"],
                len(removed),
            )
    return now + EVERY_S if any_running else None
