"""The CloudTrail `Service` object every module registers on, and its errors."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Service, paging
from strongroom.services.cloudtrail.tables import TABLES


def _wants_data_event(store: Any, event: Any) -> bool:
    from strongroom.services.cloudtrail import delivery

    return delivery.wants_data_event(store, event)


service = Service("cloudtrail", tables=TABLES, data_events=_wants_data_event)
errors = service.errors

#: ListTrails: NextToken pages (AWS has no page size member; 50 a page).
LIST_TRAILS = paging.CLOUDTRAIL.listing("Trails", default=50, maximum=50)
LIST_TAGS = paging.CLOUDTRAIL.listing("ResourceTagList", default=20, maximum=20)
LIST_KEYS = paging.CLOUDTRAIL.listing("PublicKeyList", default=50, maximum=50)
