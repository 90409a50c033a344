"""CloudWatch Logs: log groups and streams, events stored in batches, the
filter-pattern language, retention by the clock, KMS-encrypted groups,
and Logs Insights queries."""

from strongroom.services.logs import (  # noqa: F401  (operations and trail register on import)
    metric_publish,
    ops_destinations,
    ops_events,
    ops_exports,
    ops_groups,
    ops_kms,
    ops_metric_filters,
    ops_protection,
    ops_queries,
    ops_resource_policies,
    ops_subscriptions,
    subscriptions,
    trail,
)
from strongroom.services.logs.service import service

__all__ = ["service"]
