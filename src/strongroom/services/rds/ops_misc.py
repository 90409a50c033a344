"""Engine versions (what is really installed), tags and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strongroom.framework import Call
from strongroom.services.rds import instances, model, records, tagging
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

ENGINE_VERSIONS = PAGING.listing("DBEngineVersions", default=100, maximum=100, minimum=20)
EVENTS = PAGING.listing("Events", default=100, maximum=100, minimum=20)

_LOG_TYPES = {"postgres": ["postgresql", "upgrade", "iam-db-auth-error"]}


def _version_wire(engine: str, version: str, family: str, description: str) -> dict[str, Any]:
    major = (
        version.split(".")[0]
        if engine in ("postgres", "aurora-postgresql")
        else ".".join(version.split(".")[:2])
    )
    return {
        "Engine": engine,
        "MajorEngineVersion": major,
        "EngineVersion": version,
        "DBParameterGroupFamily": family,
        "DBEngineDescription": description,
        "DBEngineVersionDescription": f"{description} {version}-R1"
        if engine == "postgres"
        else f"{description} {version}",
        "ValidUpgradeTarget": [],
        "ExportableLogTypes": _LOG_TYPES.get(engine, ["error"]),
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": True,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": [],
        "Status": "available",
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": False,
        "SupportsBabelfish": False,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportedCACertificateIdentifiers": ["rds-ca-rsa2048-g1"],
        "SupportsLocalWriteForwarding": False,
        "SupportsIntegrations": False,
    }


@service.operation(blocking=True)
def describe_DB_engine_versions(
    call: Call,
    Engine: str | None = None,
    EngineVersion: str | None = None,
    DBParameterGroupFamily: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
    DefaultOnly: bool | None = None,
    ListSupportedCharacterSets: bool | None = None,
    ListSupportedTimezones: bool | None = None,
    IncludeAll: bool | None = None,
) -> dict[str, Any]:
    filters = parse_filters(Filters, {"engine", "engine-version", "status", "engine-mode"})
    found: list[dict[str, Any]] = []
    for name, info in model.ENGINES.items():
        if info.real:
            sup = instances.supervisor(call)
            versions = [(v.version, model.family_of(name, v.version)) for v in sup.versions()]
            versions.sort(key=lambda v: [int(p) if p.isdigit() else 0 for p in v[0].split(".")])
        else:
            versions = list(info.versions)
        for i, (version, family) in enumerate(versions):
            item = _version_wire(name, version, family, info.description)
            item["_default"] = i == len(versions) - 1
            found.append(item)

    def keep(item: dict[str, Any]) -> bool:
        if Engine is not None and item["Engine"] != Engine:
            return False
        if EngineVersion is not None and not (
            item["EngineVersion"] == EngineVersion
            or item["EngineVersion"].startswith(EngineVersion + ".")
            or item["MajorEngineVersion"] == EngineVersion
        ):
            return False
        if (
            DBParameterGroupFamily is not None
            and item["DBParameterGroupFamily"] != DBParameterGroupFamily
        ):
            return False
        if "engine" in filters and item["Engine"] not in filters["engine"]:
            return False
        if "engine-version" in filters and item["EngineVersion"] not in filters["engine-version"]:
            return False
        if "status" in filters and "available" not in filters["status"]:
            return False
        return not (DefaultOnly and not item["_default"])

    items = [{k: v for k, v in i.items() if k != "_default"} for i in found if keep(i)]
    scope = [Engine, EngineVersion, DBParameterGroupFamily, DefaultOnly, sorted(filters.items())]
    return ENGINE_VERSIONS.over_list(call, items, Marker, MaxRecords, scope=scope)


# --------------------------------------------------------------------- tags


@service.operation(authorize=False)
def add_tags_to_resource(
    call: Call, ResourceName: str, Tags: list[dict[str, str]]
) -> dict[str, Any]:
    kind, rec = tagging.resolve(call, "AddTagsToResource", ResourceName)
    new = instances.request_tags(Tags)
    tagging.save(call, kind, rec, instances.merge_tags(rec["tags"], new))
    return {}


@service.operation(authorize=False)
def remove_tags_from_resource(call: Call, ResourceName: str, TagKeys: list[str]) -> dict[str, Any]:
    kind, rec = tagging.resolve(call, "RemoveTagsFromResource", ResourceName)
    drop = set(TagKeys)
    tagging.save(call, kind, rec, [[k, v] for k, v in rec["tags"] if k not in drop])
    return {}


@service.operation(authorize=False)
def list_tags_for_resource(
    call: Call, ResourceName: str, Filters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    _kind, rec = tagging.resolve(call, "ListTagsForResource", ResourceName)
    return {"TagList": model.tags_wire(rec["tags"])}


# --------------------------------------------------------------------- events

_SOURCE_TYPES = {
    "db-instance",
    "db-parameter-group",
    "db-security-group",
    "db-snapshot",
    "db-cluster",
    "db-cluster-snapshot",
    "custom-engine-version",
    "db-proxy",
    "blue-green-deployment",
    "db-shard-group",
    "zero-etl",
}


@service.operation
def describe_events(
    call: Call,
    SourceIdentifier: str | None = None,
    SourceType: str | None = None,
    StartTime: datetime | None = None,
    EndTime: datetime | None = None,
    Duration: int | None = None,
    EventCategories: list[str] | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    if SourceType is not None and SourceType not in _SOURCE_TYPES:
        raise errors.InvalidParameterValue(f"Invalid source type: {SourceType}")
    if SourceIdentifier is not None and SourceType is None:
        raise errors.InvalidParameterCombination(
            "Cannot specify source identifier without source type"
        )
    now = call.clock.timestamp()
    end = EndTime.timestamp() if EndTime is not None else now
    if StartTime is not None:
        start = StartTime.timestamp()
    else:
        start = end - (Duration if Duration is not None else 60) * 60.0
    start = max(start, now - 14 * 86400.0)
    items = records.list_events(call.conn, call.account, call.region, start, end)
    if SourceType is not None:
        items = [e for e in items if e["source_type"] == SourceType]
    if SourceIdentifier is not None:
        items = [e for e in items if e["source_id"] == SourceIdentifier.lower()]
    if EventCategories:
        wanted = set(EventCategories)
        items = [e for e in items if wanted & set(e["categories"] or [])]
    # The listing's own members (not the window they work out to, which moves
    # with the clock between pages).
    scope = [
        SourceIdentifier,
        SourceType,
        StartTime.timestamp() if StartTime else None,
        EndTime.timestamp() if EndTime else None,
        Duration,
        sorted(EventCategories or []),
    ]
    page = EVENTS.slice(call, items, Marker, MaxRecords, scope=scope)
    return EVENTS.output(page, [model.event_wire(e) for e in page.items])
