"""Aurora DB cluster endpoints: the cluster's own (WRITER: the cluster
endpoint; READER: the reader endpoint), described from the cluster, and
custom ones (EndpointType READER or ANY, StaticMembers or ExcludedMembers),
stored here and served for real by `endpoint_proxy`: each has a loopback
address of its own (``127.1.x.y``, its ``Endpoint``), listening on the
cluster's Port, and forwards each connection to one of its eligible
instances.

Eligible: a member whose engine serves (`clusters.SERVING`), among
StaticMembers when they are given, else every member not in
ExcludedMembers (so instances added later too, as AWS); for READER, never
the writer.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, delete, select, update

from strongroom.arn import arn as make_arn
from strongroom.services.rds import clusters
from strongroom.services.rds.cluster_tables import cluster_endpoints as table
from strongroom.services.rds.records import Record
from strongroom.services.rds.service import errors

#: AWS's quota of custom endpoints per cluster.
PER_CLUSTER = 5
TYPES = ("READER", "ANY")
#: Where the custom endpoints' addresses come from (all loopback on Linux).
_FIRST = int(ipaddress.IPv4Address("127.1.0.1"))
_LAST = int(ipaddress.IPv4Address("127.1.255.254"))
ENDPOINT_TYPE = "AWS::RDS::DBClusterEndpoint"


def endpoint_arn(account: str, region: str, identifier: str) -> str:
    return make_arn("rds", region, account, f"cluster-endpoint:{identifier}")


def _rows(conn: Connection, stmt: Any) -> list[Record]:
    return [dict(r._mapping) for r in conn.execute(stmt)]


def find(conn: Connection, account: str, region: str, identifier: str) -> Record | None:
    found = _rows(
        conn,
        select(table).where(
            table.c.account == account,
            table.c.region == region,
            table.c.identifier == identifier.lower(),
        ),
    )
    return found[0] if found else None


def resolve(conn: Connection, account: str, region: str, identifier: str) -> Record:
    ident = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        ok = len(parts) == 7 and parts[5] == "cluster-endpoint"
        ident = parts[6] if ok and parts[4] == account and parts[3] == region else ""
    found = find(conn, account, region, ident) if ident else None
    if found is None:
        raise errors.DBClusterEndpointNotFoundFault(f"DBClusterEndpoint {identifier} not found.")
    return found


def of_account(conn: Connection, account: str, region: str) -> list[Record]:
    return _rows(
        conn,
        select(table)
        .where(table.c.account == account, table.c.region == region)
        .order_by(table.c.identifier),
    )


def of_cluster(conn: Connection, cluster_rid: str) -> list[Record]:
    return _rows(
        conn,
        select(table)
        .where(table.c.cluster_resource_id == cluster_rid)
        .order_by(table.c.identifier),
    )


def every(conn: Connection) -> list[Record]:
    return _rows(conn, select(table))


def new_address(conn: Connection) -> str:
    taken = {int(ipaddress.IPv4Address(a)) for (a,) in conn.execute(select(table.c.address))}
    for n in range(_FIRST, _LAST + 1):
        if n not in taken:
            return str(ipaddress.IPv4Address(n))
    raise errors.DBClusterEndpointQuotaExceededFault("No more DB cluster endpoints on this server.")


def insert(conn: Connection, record: Record) -> None:
    conn.execute(table.insert().values(**record))


def update_endpoint(conn: Connection, resource_id: str, **values: Any) -> None:
    conn.execute(update(table).where(table.c.resource_id == resource_id).values(**values))


def delete_endpoint(conn: Connection, resource_id: str) -> None:
    conn.execute(delete(table).where(table.c.resource_id == resource_id))


def delete_of_cluster(conn: Connection, cluster_rid: str) -> None:
    conn.execute(delete(table).where(table.c.cluster_resource_id == cluster_rid))


# --------------------------------------------------------------------- rules


def require_type(value: str) -> str:
    upper = value.upper()
    if upper not in TYPES:
        raise errors.InvalidParameterValue(
            f"Invalid endpoint type: {value}. Valid values are: READER, ANY."
        )
    return upper


def require_members(
    cluster: Record, member_recs: list[Record], static: list[str] | None, excluded: list[str] | None
) -> tuple[list[str], list[str]]:
    """StaticMembers / ExcludedMembers, lower-cased; each a member of the
    cluster (ExcludedMembers counts only while StaticMembers is empty)."""
    names = {m["identifier"] for m in member_recs}
    out = []
    for given in (static or [], excluded or []):
        lowered = []
        for name in given:
            if name.lower() not in names:
                raise errors.DBInstanceNotFoundFault(
                    f"DB instance {name} is not a member of DB cluster {cluster['identifier']}."
                )
            if name.lower() not in lowered:
                lowered.append(name.lower())
        out.append(lowered)
    return out[0], out[1]


# --------------------------------------------------------------------- routing


def targets(endpoint: Record, cluster: Record, member_recs: list[Record]) -> list[int]:
    """The ports of the instances the endpoint routes to now."""
    static = endpoint["static_members"] or []
    excluded = endpoint["excluded_members"] or []
    out = []
    for m in member_recs:
        if m["status"] not in clusters.SERVING or not m["port"]:
            continue
        if static and m["identifier"] not in static:
            continue
        if not static and m["identifier"] in excluded:
            continue
        if endpoint["endpoint_type"] == "READER" and m["resource_id"] == cluster["writer"]:
            continue
        out.append(int(m["port"]))
    return out


def wanted(conn: Connection) -> dict[str, tuple[str, int, list[int]]]:
    """What `EndpointProxies.sync` should listen on, from the store."""
    out: dict[str, tuple[str, int, list[int]]] = {}
    for ep in every(conn):
        if ep["status"] == "deleting":
            continue
        cluster = clusters.by_resource(conn, ep["cluster_resource_id"])
        if cluster is None:
            continue
        member_recs = clusters.members(conn, cluster)
        port = clusters.writer_port(cluster, member_recs)
        out[ep["resource_id"]] = (ep["address"], port, targets(ep, cluster, member_recs))
    return out


# --------------------------------------------------------------------- wire


def builtin_wire(cluster: Record) -> list[dict[str, Any]]:
    """The cluster's WRITER and READER endpoints, as DescribeDBClusterEndpoints
    lists them (the addresses DescribeDBClusters gives)."""
    status = "available" if cluster["status"] != "creating" else "creating"
    return [
        {
            "DBClusterIdentifier": cluster["identifier"],
            "Endpoint": "127.0.0.1",
            "Status": status,
            "EndpointType": kind,
        }
        for kind in ("WRITER", "READER")
    ]


def to_wire(ep: Record) -> dict[str, Any]:
    return {
        "DBClusterEndpointIdentifier": ep["identifier"],
        "DBClusterIdentifier": ep["cluster_identifier"],
        "DBClusterEndpointResourceIdentifier": ep["resource_id"],
        "Endpoint": ep["address"],
        "Status": ep["status"],
        "EndpointType": "CUSTOM",
        "CustomEndpointType": ep["endpoint_type"],
        "StaticMembers": list(ep["static_members"] or []),
        "ExcludedMembers": list(ep["excluded_members"] or []),
        "DBClusterEndpointArn": ep["arn"],
    }
