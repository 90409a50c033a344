"""The RDS `Service` every RDS module registers on, its errors, its paging
and its process resource (the engines and data files: `supervisor`)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import ResourceContext, Service, paging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.services.rds.tables import TABLES

#: The service principal RDS acts as (its grants on instance keys name it).
RDS_PRINCIPAL = "rds.amazonaws.com"
#: The process resource's name.
ENGINES = "rds_engines"


def _make_supervisor(ctx: ResourceContext) -> Any:
    from strongroom.services.rds.supervisor import make_supervisor

    return make_supervisor(ctx)


service = Service(
    "rds",
    tables=TABLES,
    # A read: no write lock, and CloudTrail records no responseElements
    # (the log's text stays out of the trail).
    read_only=frozenset({"DownloadDBLogFilePortion"}),
    resources={ENGINES: _make_supervisor},
)
errors = service.errors

#: RDS pages with Marker/MaxRecords (20 to 100, default 100).
PAGING = paging.Paging(
    paging.MARKER_RECORDS,
    ErrorSpec("InvalidParameterValue", "The parameter Marker is not a valid marker."),
    bad_size=ErrorSpec(
        "InvalidParameterValue", "Invalid value {size} for MaxRecords. Must be between 20 and 100"
    ),
)
