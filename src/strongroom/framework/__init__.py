"""The framework below the services: what a service is (`Service`,
`Operation`), what an operation receives (`Call`) and a job (`JobRun`), and
the kit every service reuses: `paging` (one paginator for AWS's paging
styles), `tagging` (tag rules per service, as data) and `trail` (what CloudTrail
records of each operation, as data).

Services import it; it imports no service. The pipeline (`strongroom.server`)
drives it.
"""

from strongroom.framework import paging, tagging, trail
from strongroom.framework.call import (
    AWS_INTERNAL,
    AuditEvent,
    Background,
    Call,
    ChildCall,
    JobRun,
    Runtime,
    ServiceEvent,
    acting_as,
)
from strongroom.framework.errorspec import ErrorSpec
from strongroom.framework.resources import ResourceContext, Resources
from strongroom.framework.service import (
    READ_ONLY_PREFIXES,
    Operation,
    OperationFn,
    Service,
    SignaturePlan,
    camel,
)
from strongroom.protocol.http import BodyStream  # what a streaming operation's body is

__all__ = [
    "AWS_INTERNAL",
    "READ_ONLY_PREFIXES",
    "AuditEvent",
    "Background",
    "BodyStream",
    "Call",
    "ChildCall",
    "ErrorSpec",
    "JobRun",
    "Operation",
    "OperationFn",
    "ResourceContext",
    "Resources",
    "Runtime",
    "Service",
    "ServiceEvent",
    "SignaturePlan",
    "acting_as",
    "camel",
    "paging",
    "tagging",
    "trail",
]
