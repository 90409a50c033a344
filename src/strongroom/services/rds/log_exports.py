"""Publishing an instance's engine log into CloudWatch Logs, as RDS does for
``EnableCloudwatchLogsExports`` / ``CloudwatchLogsExportConfiguration``.

The ``postgresql`` type is the real engine's log: the files
DescribeDBLogFiles lists (``error/postgresql.log.YYYY-MM-DD-HH``). A job
(`rds_log_exports`) tails them every second into the group
``/aws/rds/instance/<id>/postgresql``, stream ``<id>`` (RDS names an
instance's stream after the instance), through Logs' internal API.

Exactly once across restarts: each file has a cursor (`tables.log_cursors`,
the byte offset of the first line not yet published), moved in the same
transaction that stores the events it covers. A crash before the commit
loses both, so the lines are read again; after it, both are kept.

An entry is a line that starts with the ``log_line_prefix`` timestamp
(``2026-12-07 23:00:00 UTC:...``) and the lines after it that do not (a
statement's continuation lines, a DETAIL written on several lines): one
event, as RDS publishes it, stamped with the line's time. The last entry of
a file is held back until the file has been quiet for `QUIET_S` (its next
lines may be on the way) or a newer file exists.

``upgrade`` is pg_upgrade's output of a major version upgrade (`upgrades`):
the files ``error/pg_upgrade_precheck.log.<ts>``,
``error/pg_upgrade_internal.log.<ts>`` and ``error/pg_upgrade_server.log.<ts>``,
published into ``/aws/rds/instance/<id>/upgrade``, one event per line
(pg_upgrade's lines carry no timestamp: each is stamped with its file's
last write), once the upgrade has finished.

Aurora clusters export for their instances (``EnableCloudwatchLogsExports``
on CreateDBCluster, ``CloudwatchLogsExportConfiguration`` on
ModifyDBCluster): each member instance's ``postgresql`` log goes into the
cluster's group ``/aws/rds/cluster/<cluster-id>/postgresql``, in a stream
named after the instance, as RDS does. ``instance`` (Aurora's own
instance log) is accepted and recorded; this server writes no such log,
so nothing is published there.

``iam-db-auth-error`` is accepted and recorded: there is no IAM database
authentication here, so nothing is published there.
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from strongroom.engines.driver import EngineError
from strongroom.framework import Call, JobRun
from strongroom.services.logs import api as logs_api
from strongroom.services.rds import model, records
from strongroom.services.rds.service import ENGINES, errors, service
from strongroom.services.rds.tables import log_cursors

#: The instance attribute (``attrs``) holding the enabled types, as shown.
ATTR = "EnabledCloudwatchLogsExports"
#: EnableCloudwatchLogsExports' values per engine (the model's list).
LOG_TYPES: dict[str, tuple[str, ...]] = {
    "postgres": ("postgresql", "upgrade", "iam-db-auth-error"),
    "aurora-postgresql": ("instance", "postgresql", "iam-db-auth-error"),
    "aurora-mysql": ("audit", "error", "general", "instance", "slowquery", "iam-db-auth-error"),
    "mysql": ("audit", "error", "general", "slowquery", "iam-db-auth-error"),
    "mariadb": ("audit", "error", "general", "slowquery", "iam-db-auth-error"),
    "oracle": ("alert", "audit", "listener", "trace", "oemagent"),
    "sqlserver": ("agent", "error"),
    "db2": ("diag.log", "notify.log", "iam-db-auth-error"),
}
#: The types whose lines come from the engine log files this server reads,
#: and the files of each (their names in DescribeDBLogFiles).
TAILED = frozenset({"postgresql", "upgrade"})
_FILES = {"postgresql": "error/postgresql.log.", "upgrade": "error/pg_upgrade_"}
POLL_S = 1.0
QUIET_S = 1.0
#: Bytes read from one file in one run (the job runs on the event loop:
#: a large backlog is published over several runs).
READ_BUDGET = 1024 * 1024
_ENTRY = re.compile(rb"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? [A-Z]{1,5}:")


def group_name(identifier: str, log_type: str) -> str:
    return f"/aws/rds/instance/{identifier}/{log_type}"


def cluster_group_name(identifier: str, log_type: str) -> str:
    return f"/aws/rds/cluster/{identifier}/{log_type}"


def files_of(log_type: str, files: list[Any]) -> list[Any]:
    """The log files whose lines a type publishes."""
    prefix = _FILES.get(log_type)
    return [f for f in files if prefix is not None and f.name.startswith(prefix)]


def enabled(rec: records.Record) -> list[str]:
    return list((rec["attrs"] or {}).get(ATTR) or [])


def _allowed(engine: str) -> tuple[str, ...]:
    for prefix, types in LOG_TYPES.items():
        if engine == prefix or engine.startswith(prefix + "-"):
            return types
    return ()


def require_types(engine: str, version: str, types: list[str]) -> None:
    """InvalidParameterCombination for a type the engine does not export,
    worded as RDS words it."""
    allowed = _allowed(engine)
    bad = [t for t in types if t not in allowed]
    if bad:
        shown = ", ".join(f"'{t}'" for t in bad)
        raise errors.InvalidParameterCombination(
            f"You cannot use the log types {shown} with engine version {engine} {version}. "
            "For supported log types, see the documentation."
        )


def on_create(attrs: dict[str, Any], engine: str, version: str, types: list[str] | None) -> None:
    """EnableCloudwatchLogsExports of a new (or restored) instance: its
    files are new, so everything they will hold is published."""
    if not types:
        return
    require_types(engine, version, types)
    attrs[ATTR] = sorted(set(types))


def on_modify(
    call: Call, rec: records.Record, attrs: dict[str, Any], config: dict[str, Any] | None
) -> dict[str, list[str]] | None:
    """CloudwatchLogsExportConfiguration: applied at once whatever
    ApplyImmediately says (as the model documents). A newly enabled type
    publishes from what its files hold now on (their sizes are the
    cursors); a disabled one stops and forgets its cursors (its group and
    streams stay, as on AWS). The PendingCloudwatchLogsExports to show."""
    return _change(call, rec["engine"], rec["engine_version"], [rec], attrs, config)


def on_cluster_modify(
    call: Call,
    cluster: records.Record,
    members: list[records.Record],
    attrs: dict[str, Any],
    config: dict[str, Any] | None,
) -> dict[str, list[str]] | None:
    """ModifyDBCluster's CloudwatchLogsExportConfiguration: as an
    instance's, for every member instance of the cluster."""
    return _change(call, cluster["engine"], cluster["engine_version"], members, attrs, config)


def _change(
    call: Call,
    engine: str,
    version: str,
    instances: list[records.Record],
    attrs: dict[str, Any],
    config: dict[str, Any] | None,
) -> dict[str, list[str]] | None:
    if not config:
        return None
    enable = list(config.get("EnableLogTypes") or [])
    disable = list(config.get("DisableLogTypes") or [])
    both = sorted(set(enable) & set(disable))
    if both:
        raise errors.InvalidParameterCombination(
            f"You cannot enable and disable the same log types: {', '.join(both)}."
        )
    require_types(engine, version, enable + disable)
    current = set(attrs.get(ATTR) or [])
    to_enable = sorted(set(enable) - current)
    to_disable = sorted(set(disable) & current)
    new = (current | set(to_enable)) - set(to_disable)
    if new:
        attrs[ATTR] = sorted(new)
    else:
        attrs.pop(ATTR, None)
    tailed = [t for t in to_enable if t in TAILED]
    sup = call.resource(ENGINES) if tailed and model.ENGINES[engine].real else None
    for rec in instances:
        rid = rec["resource_id"]
        for log_type in to_disable:
            call.conn.execute(
                delete(log_cursors).where(
                    and_(log_cursors.c.resource_id == rid, log_cursors.c.log_type == log_type)
                )
            )
        if sup is None:
            continue
        inst = sup.open(rid)
        files = sup.postgres.list_log_files(inst) if inst is not None else []
        for log_type in tailed:
            for f in files_of(log_type, files):
                _set_cursor(call.conn, rid, log_type, f.name, f.size, new=True)
    pending: dict[str, list[str]] = {}
    if to_enable:
        pending["LogTypesToEnable"] = to_enable
    if to_disable:
        pending["LogTypesToDisable"] = to_disable
    return pending or None


# ----------------------------------------------------------------- cursors


def _cursors(conn: Connection, rid: str, log_type: str) -> dict[str, int]:
    rows = conn.execute(
        select(log_cursors.c.file_name, log_cursors.c.offset).where(
            and_(log_cursors.c.resource_id == rid, log_cursors.c.log_type == log_type)
        )
    )
    return {name: offset for name, offset in rows}


def _set_cursor(
    conn: Connection, rid: str, log_type: str, name: str, offset: int, *, new: bool
) -> None:
    if new:
        conn.execute(
            insert(log_cursors).values(
                resource_id=rid, log_type=log_type, file_name=name, offset=offset
            )
        )
        return
    conn.execute(
        update(log_cursors)
        .where(
            and_(
                log_cursors.c.resource_id == rid,
                log_cursors.c.log_type == log_type,
                log_cursors.c.file_name == name,
            )
        )
        .values(offset=offset)
    )


def _forget(conn: Connection, rid: str, log_type: str, names: list[str]) -> None:
    if names:
        conn.execute(
            delete(log_cursors).where(
                and_(
                    log_cursors.c.resource_id == rid,
                    log_cursors.c.log_type == log_type,
                    log_cursors.c.file_name.in_(names),
                )
            )
        )


def _forget_instances(conn: Connection, live: set[str]) -> None:
    """Cursors of instances that no longer exist."""
    gone = {r for (r,) in conn.execute(select(log_cursors.c.resource_id).distinct())} - live
    if gone:
        conn.execute(delete(log_cursors).where(log_cursors.c.resource_id.in_(sorted(gone))))


# ----------------------------------------------------------------- entries


def _stamp(m: re.Match[bytes]) -> int:
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or b""
    ms = int((frac + b"000")[:3]) if frac else 0
    return timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1000 + ms


def split_entries(data: bytes, fallback_ms: int) -> list[tuple[int, int, str]]:
    """(start offset within `data`, timestamp ms, message) of each entry in
    `data` (whole lines). Lines before the first prefixed one (the middle
    of an entry a read began in) form an entry stamped `fallback_ms`."""
    out: list[tuple[int, int, str]] = []
    start = 0
    stamp = fallback_ms
    lines: list[bytes] = []
    pos = 0
    for line in data.splitlines(keepends=True):
        m = _ENTRY.match(line)
        if m is not None and lines:
            out.append((start, stamp, _text(lines)))
            lines = []
        if m is not None or not lines:
            start = pos
            if m is not None:
                stamp = _stamp(m)
        lines.append(line)
        pos += len(line)
    if lines:
        out.append((start, stamp, _text(lines)))
    return out


def split_lines(data: bytes, stamp_ms: int) -> list[tuple[int, int, str]]:
    """(start offset, timestamp ms, line) of each non-blank line of `data`
    (whole lines of a file whose lines carry no time: pg_upgrade's)."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for line in data.splitlines(keepends=True):
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if text.strip():
            out.append((pos, stamp_ms, text))
        pos += len(line)
    return out


def _text(lines: list[bytes]) -> str:
    return b"".join(lines).rstrip(b"\n").decode("utf-8", "replace")


# ----------------------------------------------------------------- the job


@service.job
def rds_log_exports(run: JobRun) -> float | None:
    """Publish the new lines of every exporting instance's log files (an
    Aurora instance's: as its cluster exports them, into the cluster's group)."""
    from strongroom.services.rds import clusters

    live: set[str] = set()
    exporting = False
    sup = None
    for rec in records.all_instances(run.conn):
        live.add(rec["resource_id"])
        cluster_rid = (rec["attrs"] or {}).get("DbClusterResourceId")
        cluster = clusters.by_resource(run.conn, cluster_rid) if cluster_rid else None
        if cluster is not None:
            types = enabled(cluster)
            group = lambda t, c=cluster: cluster_group_name(c["identifier"], t)  # noqa: E731
        else:
            types = enabled(rec)
            group = lambda t, r=rec: group_name(r["identifier"], t)  # noqa: E731
        tailed = [t for t in types if t in TAILED]
        if not tailed or not model.ENGINES.get(rec["engine"], model.ENGINES["mysql"]).real:
            continue
        exporting = True
        if rec["status"] == "upgrading":
            continue  # (its files move: published once the upgrade is done)
        sup = sup or run.resource(ENGINES)
        inst = sup.open(rec["resource_id"])
        if inst is None:  # not created yet, or sealed at rest while stopped
            continue
        files = sup.postgres.list_log_files(inst)
        for log_type in tailed:
            _publish_files(
                run, rec, sup.postgres, inst, log_type, files_of(log_type, files), group(log_type)
            )
    _forget_instances(run.conn, live)
    return run.clock.timestamp() + POLL_S if exporting else None


def _publish_files(
    run: JobRun,
    rec: records.Record,
    engine: Any,
    inst: Any,
    log_type: str,
    files: list[Any],
    group: str,
) -> None:
    rid = rec["resource_id"]
    cursors = _cursors(run.conn, rid, log_type)
    listed = {f.name for f in files}
    _forget(run.conn, rid, log_type, sorted(set(cursors) - listed))
    now = time.time()
    for i, f in enumerate(files):
        offset = cursors.get(f.name, 0)
        if f.size <= offset:
            continue
        try:
            portion = engine.read_log_file(inst, f.name, str(offset), READ_BUDGET)
        except EngineError:  # (gone since it was listed: retention, a stop)
            continue
        data = portion.data
        if not data.endswith(b"\n"):  # a line being written: not yet
            data = data[: data.rfind(b"\n") + 1]
        if not data and portion.additional_data_pending:
            # One line longer than a whole read: published in pieces (an
            # event holds at most 1 MB anyway) rather than waited for.
            data = portion.data
        if not data:
            continue
        if log_type == "upgrade":
            entries = split_lines(data, int(f.last_written * 1000))
        else:
            entries = split_entries(data, int(f.last_written * 1000))
        settled = (
            portion.additional_data_pending  # more follows this read
            or i < len(files) - 1  # a newer file exists: this one is done
            or now - f.last_written >= QUIET_S
        )
        if not settled:
            held = entries.pop()  # its continuation lines may be on the way
            end = offset + held[0]
        else:
            end = offset + len(data)
        if not entries:
            continue
        logs_api.put_events(
            run,
            group,
            rec["identifier"],
            [(stamp, message) for _, stamp, message in entries],
            account=rec["account"],
            region=rec["region"],
        )
        _set_cursor(run.conn, rid, log_type, f.name, end, new=f.name not in cursors)
        cursors[f.name] = end
