"""Aurora DB cluster endpoints: DescribeDBClusterEndpoints (the cluster's
WRITER and READER endpoints, and custom ones), Create/Modify/Delete of
custom endpoints (`cluster_endpoints`; their listeners: `endpoint_proxy`,
started and stopped by the `sync_cluster_endpoints` work)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.rds import cluster_endpoints as endpoints
from strongroom.services.rds import clusters, instances, model
from strongroom.services.rds.service import PAGING, errors, service

DESCRIBE = PAGING.listing("DBClusterEndpoints", default=100, maximum=100, minimum=20)
_FILTERS = {
    "db-cluster-endpoint-type",
    "db-cluster-endpoint-custom-type",
    "db-cluster-endpoint-id",
    "db-cluster-endpoint-status",
}


def _matches(item: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    checks = {
        "db-cluster-endpoint-type": item["EndpointType"],
        "db-cluster-endpoint-custom-type": item.get("CustomEndpointType", ""),
        "db-cluster-endpoint-id": item.get("DBClusterEndpointIdentifier", ""),
        "db-cluster-endpoint-status": item["Status"],
    }
    for name, values in filters.items():
        if checks[name].lower() not in {v.lower() for v in values}:
            return False
    return True


@service.operation
def describe_DB_cluster_endpoints(
    call: Call,
    DBClusterIdentifier: str | None = None,
    DBClusterEndpointIdentifier: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    from strongroom.services.rds.ops_instances import parse_filters

    filters = parse_filters(Filters, _FILTERS)
    if DBClusterIdentifier is not None:
        owners = [clusters.resolve(call.conn, call.account, call.region, DBClusterIdentifier)]
    else:
        owners = clusters.list_all(call.conn, call.account, call.region)
    items: list[dict[str, Any]] = []
    for cluster in owners:
        if DBClusterEndpointIdentifier is None:
            items += endpoints.builtin_wire(cluster)
        items += [
            endpoints.to_wire(ep)
            for ep in endpoints.of_cluster(call.conn, cluster["resource_id"])
            if DBClusterEndpointIdentifier is None
            or ep["identifier"] == DBClusterEndpointIdentifier.lower()
        ]
    items = [i for i in items if _matches(i, filters)]
    scope = [DBClusterIdentifier, DBClusterEndpointIdentifier, sorted(filters.items())]
    page = DESCRIBE.slice(call, items, Marker, MaxRecords, scope=scope)
    return DESCRIBE.output(page, page.items)


def _authorized_endpoint(call: Call, action: str, identifier: str) -> dict[str, Any]:
    ident = identifier.split(":")[-1] if identifier.startswith("arn:") else identifier
    call.authorize(
        f"rds:{action}", endpoints.endpoint_arn(call.account, call.region, ident.lower())
    )
    ep = endpoints.resolve(call.conn, call.account, call.region, identifier)
    call.audit_resource(ep["arn"], endpoints.ENDPOINT_TYPE)
    return ep


def _require_available(cluster: dict[str, Any]) -> None:
    if cluster["status"] != "available":
        raise errors.InvalidDBClusterStateFault(
            f"DbCluster {cluster['identifier']} is in {cluster['status']} state but expected it "
            "to be one of available."
        )


def _sync(call: Call, cluster_rid: str) -> None:
    call.hand_off("sync_cluster_endpoints", {"cluster": cluster_rid})


@service.operation(authorize=False)
def create_DB_cluster_endpoint(
    call: Call,
    DBClusterIdentifier: str,
    DBClusterEndpointIdentifier: str,
    EndpointType: str,
    StaticMembers: list[str] | None = None,
    ExcludedMembers: list[str] | None = None,
    Tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    ident = model.require_identifier("DBClusterEndpointIdentifier", DBClusterEndpointIdentifier)
    call.authorize(
        "rds:CreateDBClusterEndpoint", endpoints.endpoint_arn(call.account, call.region, ident)
    )
    call.authorize(
        "rds:CreateDBClusterEndpoint",
        clusters.cluster_arn(call.account, call.region, DBClusterIdentifier.lower()),
    )
    cluster = clusters.resolve(call.conn, call.account, call.region, DBClusterIdentifier)
    call.audit_resource(cluster["arn"], clusters.CLUSTER_TYPE)
    kind = endpoints.require_type(EndpointType)
    tags = instances.request_tags(Tags)
    _require_available(cluster)
    if endpoints.find(call.conn, call.account, call.region, ident) is not None:
        raise errors.DBClusterEndpointAlreadyExistsFault(
            f"DBClusterEndpoint {ident} already exists."
        )
    if ident == cluster["identifier"]:
        raise errors.DBClusterEndpointAlreadyExistsFault(
            f"DBClusterEndpoint {ident} already exists."
        )
    if len(endpoints.of_cluster(call.conn, cluster["resource_id"])) >= endpoints.PER_CLUSTER:
        raise errors.DBClusterEndpointQuotaExceededFault(
            f"Cannot create more than {endpoints.PER_CLUSTER} custom endpoints for DB cluster "
            f"{cluster['identifier']}."
        )
    static, excluded = endpoints.require_members(
        cluster, clusters.members(call.conn, cluster), StaticMembers, ExcludedMembers
    )
    rec = {
        "account": call.account,
        "region": call.region,
        "identifier": ident,
        "resource_id": model.new_resource_id("cluster-endpoint-"),
        "arn": endpoints.endpoint_arn(call.account, call.region, ident),
        "cluster_resource_id": cluster["resource_id"],
        "cluster_identifier": cluster["identifier"],
        "endpoint_type": kind,
        "static_members": static,
        "excluded_members": excluded,
        "status": "creating",
        "address": endpoints.new_address(call.conn),
        "tags": tags,
        "created": call.clock.timestamp(),
    }
    endpoints.insert(call.conn, rec)
    call.audit_resource(rec["arn"], endpoints.ENDPOINT_TYPE)
    _sync(call, cluster["resource_id"])
    return endpoints.to_wire(rec)


@service.operation(authorize=False)
def modify_DB_cluster_endpoint(
    call: Call,
    DBClusterEndpointIdentifier: str,
    EndpointType: str | None = None,
    StaticMembers: list[str] | None = None,
    ExcludedMembers: list[str] | None = None,
) -> dict[str, Any]:
    ep = _authorized_endpoint(call, "ModifyDBClusterEndpoint", DBClusterEndpointIdentifier)
    if ep["status"] != "available":
        raise errors.InvalidDBClusterEndpointStateFault(
            f"DBClusterEndpoint {ep['identifier']} is not in available state."
        )
    cluster = clusters.by_resource(call.conn, ep["cluster_resource_id"])
    if cluster is None:
        raise errors.DBClusterEndpointNotFoundFault(
            f"DBClusterEndpoint {DBClusterEndpointIdentifier} not found."
        )
    _require_available(cluster)
    changes: dict[str, Any] = {"status": "modifying"}
    if EndpointType is not None:
        changes["endpoint_type"] = endpoints.require_type(EndpointType)
    if StaticMembers is not None or ExcludedMembers is not None:
        static, excluded = endpoints.require_members(
            cluster, clusters.members(call.conn, cluster), StaticMembers, ExcludedMembers
        )
        if StaticMembers is not None:
            changes["static_members"] = static
        if ExcludedMembers is not None:
            changes["excluded_members"] = excluded
    endpoints.update_endpoint(call.conn, ep["resource_id"], **changes)
    ep.update(changes)
    _sync(call, cluster["resource_id"])
    return endpoints.to_wire(ep)


@service.operation(authorize=False)
def delete_DB_cluster_endpoint(call: Call, DBClusterEndpointIdentifier: str) -> dict[str, Any]:
    ep = _authorized_endpoint(call, "DeleteDBClusterEndpoint", DBClusterEndpointIdentifier)
    if ep["status"] not in ("available", "inactive"):
        raise errors.InvalidDBClusterEndpointStateFault(
            f"DBClusterEndpoint {ep['identifier']} is not in available state."
        )
    endpoints.update_endpoint(call.conn, ep["resource_id"], status="deleting")
    ep["status"] = "deleting"
    _sync(call, ep["cluster_resource_id"])
    return endpoints.to_wire(ep)
