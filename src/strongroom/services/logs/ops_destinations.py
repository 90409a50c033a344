"""Destinations: PutDestination, PutDestinationPolicy, DescribeDestinations,
DeleteDestination (control plane: see `destinations`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.framework.tagging import Tag
from strongroom.services.logs import destinations
from strongroom.services.logs.destinations import Destination, destination_arn
from strongroom.services.logs.service import PAGING, TAGS, errors, service

DESCRIBE = PAGING.listing("destinations", default=50, maximum=50)


def _resolve(call: Call, action: str, name: str) -> Destination:
    call.authorize(action, destination_arn(call.account, call.region, name))
    found = destinations.find(call.conn, call.account, call.region, name)
    if found is None:
        raise errors.ResourceNotFoundException(destinations.NOT_FOUND)
    return found


@service.operation(authorize=False)
def put_destination(
    call: Call,
    destinationName: str,
    targetArn: str,
    roleArn: str,
    tags: dict[str, str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize(
        "logs:PutDestination", destination_arn(call.account, call.region, destinationName)
    )
    destinations.require_target(targetArn, roleArn)
    tag_list = [Tag(k, v) for k, v in (tags or {}).items()]
    TAGS.require_valid(call, tag_list)
    found = destinations.find(call.conn, call.account, call.region, destinationName)
    d = Destination(
        call.account, call.region, destinationName, targetArn, roleArn,
        found.access_policy if found else None,
        found.created if found else int(call.clock.timestamp() * 1000),
        found.tags if found else TAGS.to_rows(tag_list),
    )  # fmt: skip
    destinations.save(call.conn, d, new=found is None)
    return {"destination": d.describe()}


@service.operation(authorize=False)
def put_destination_policy(
    call: Call, destinationName: str, accessPolicy: str, forceUpdate: bool | None = None, **_: Any
) -> dict[str, Any]:
    d = _resolve(call, "logs:PutDestinationPolicy", destinationName)
    destinations.require_policy(accessPolicy)
    d.access_policy = accessPolicy
    destinations.save(call.conn, d, new=False)
    return {}


@service.operation(authorize=False)
def delete_destination(call: Call, destinationName: str, **_: Any) -> dict[str, Any]:
    d = _resolve(call, "logs:DeleteDestination", destinationName)
    destinations.remove(call.conn, d)
    return {}


@service.operation(authorize=False)
def describe_destinations(
    call: Call,
    DestinationNamePrefix: str | None = None,
    nextToken: str | None = None,
    limit: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize(
        "logs:DescribeDestinations", f"arn:aws:logs:{call.region}:{call.account}:destination:*"
    )
    found = [
        d.describe()
        for d in destinations.listed(call.conn, call.account, call.region, DestinationNamePrefix)
    ]
    return DESCRIBE.over_list(call, found, nextToken, limit, scope=(DestinationNamePrefix,))
