"""Engine log files: the real files of the instance's PostgreSQL server
(``error/postgresql.log.YYYY-MM-DD-HH``), listed and read in portions as
RDS serves them (at most 1 MB a portion; Marker "0" reads from the start;
with no Marker the newest lines, up to 10,000)."""

from __future__ import annotations

from typing import Any

from strongroom.engines.driver import EngineError
from strongroom.framework import Call
from strongroom.services.rds import instances, model, records
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

LOG_FILES = PAGING.listing("DescribeDBLogFiles", default=100, maximum=1000, minimum=1)
MAX_PORTION = 1024 * 1024
MAX_LINES = 10_000
_NOT_READY = frozenset({"creating", "deleting", "failed"})


def _instance(call: Call, action: str, identifier: str) -> tuple[records.Record, Any]:
    arn = model.instance_arn(call.account, call.region, identifier.lower())
    call.authorize(f"rds:{action}", arn)
    rec = records.resolve_instance(call.conn, call.account, call.region, identifier)
    call.audit_resource(rec["arn"], model.INSTANCE_TYPE)
    if rec["status"] in _NOT_READY:
        raise errors.DBInstanceNotReadyFault(
            f"DB instance {rec['identifier']} is not ready for this operation ({rec['status']})."
        )
    inst = None
    if model.ENGINES[rec["engine"]].real:
        inst = instances.supervisor(call).open(rec["resource_id"])
    return rec, inst


@service.operation(authorize=False, blocking=True)
def describe_DB_log_files(
    call: Call,
    DBInstanceIdentifier: str,
    FilenameContains: str | None = None,
    FileLastWritten: int | None = None,
    FileSize: int | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    _rec, inst = _instance(call, "DescribeDBLogFiles", DBInstanceIdentifier)
    files = instances.supervisor(call).postgres.list_log_files(inst) if inst is not None else []
    items = [
        {"LogFileName": f.name, "LastWritten": int(f.last_written * 1000), "Size": f.size}
        for f in files
        if (FilenameContains is None or FilenameContains in f.name)
        and (FileLastWritten is None or f.last_written * 1000 >= FileLastWritten)
        and (FileSize is None or f.size >= FileSize)
    ]
    scope = [DBInstanceIdentifier.lower(), FilenameContains, FileLastWritten, FileSize]
    return LOG_FILES.over_list(call, items, Marker, MaxRecords, scope=scope)


def _not_found(name: str) -> Exception:
    return errors.DBLogFileNotFoundFault(f"DBLog File: {name}, is not found on the DB instance")


@service.operation(authorize=False, blocking=True)
def download_DB_log_file_portion(
    call: Call,
    DBInstanceIdentifier: str,
    LogFileName: str,
    Marker: str | None = None,
    NumberOfLines: int | None = None,
) -> dict[str, Any]:
    _rec, inst = _instance(call, "DownloadDBLogFilePortion", DBInstanceIdentifier)
    if inst is None:
        raise _not_found(LogFileName)
    engine = instances.supervisor(call).postgres
    known = {f.name: f for f in engine.list_log_files(inst)}
    found = known.get(LogFileName)
    if found is None:
        raise _not_found(LogFileName)
    if NumberOfLines is not None and NumberOfLines < 1:
        raise errors.InvalidParameterValue("NumberOfLines must be greater than 0.")
    if Marker is None:
        # No marker: the newest lines (NumberOfLines, else up to 10,000), at most 1 MB.
        start = max(0, found.size - MAX_PORTION)
        try:
            portion = engine.read_log_file(inst, LogFileName, str(start), MAX_PORTION)
        except EngineError:
            raise _not_found(LogFileName) from None
        data = portion.data
        if start > 0 and b"\n" in data:
            data = data[data.index(b"\n") + 1 :]
        lines = data.splitlines(keepends=True)[-(NumberOfLines or MAX_LINES) :]
        return {
            "LogFileData": b"".join(lines).decode(errors="replace"),
            "Marker": portion.marker,
            "AdditionalDataPending": False,
        }
    try:
        portion = engine.read_log_file(inst, LogFileName, Marker, MAX_PORTION)
    except EngineError:
        raise errors.InvalidParameterValue(f"Invalid marker: {Marker}") from None
    data, marker, pending = portion.data, portion.marker, portion.additional_data_pending
    if NumberOfLines is not None:
        lines = data.splitlines(keepends=True)
        if len(lines) > NumberOfLines:
            data = b"".join(lines[:NumberOfLines])
            marker = str(int(Marker or "0") + len(data))
            pending = True
    return {
        "LogFileData": data.decode(errors="replace"),
        "Marker": marker,
        "AdditionalDataPending": pending,
    }
