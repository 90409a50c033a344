"""The `Call`: everything an operation may use about the request it serves,
and the records of what it did besides (children, extra events); `JobRun`:
the same for a scheduled job, which acts as its service.

A call never sees the `App`: the pipeline lends it a `Runtime` (the clock,
the sealer, the authorizer, the store's hot cache and a way to call another
service), built once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from strongroom.auth.authorizer import AccessDenied
from strongroom.auth.principal import service_principal
from strongroom.ids import uuid4

if TYPE_CHECKING:
    from strongroom.auth.authorizer import Authorizer
    from strongroom.auth.principal import Principal
    from strongroom.framework.resources import Resources
    from strongroom.framework.service import Service
    from strongroom.protocol.errors import AwsError
    from strongroom.store.clock import Clock
    from strongroom.store.db import Store
    from strongroom.store.sealing import Sealer


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the pipeline lends every call and job, built once per process."""

    clock: Clock
    sealer: Sealer
    authorizer: Authorizer
    #: For its hot cache of values derived from stored state.
    store: Store
    #: ``invoke(parent, service, operation, params)``: see `Call.invoke`.
    invoke: Callable[[Call, str, str, dict[str, Any]], dict[str, Any]]
    #: The process resources the served services declare (`framework.resources`).
    resources: Resources | None = None
    #: ``hand_off(conn, service, name, payload, key) -> queued``: see `Call.hand_off`.
    hand_off: Callable[[Connection, str, str, dict[str, Any], str | None], bool] | None = None
    #: ``record_children(children)``: records the calls a job (or work outside
    #: any request) made to other services, once its transaction committed.
    record_children: Callable[[list[ChildCall]], None] | None = None
    #: ``authenticate_form(conn, credential, policy, signature, token) ->
    #: Principal``: who signed a browser-based upload's form (S3's POST
    #: Object, whose signature travels in its body, not its headers).
    authenticate_form: Callable[..., Principal] | None = None

    def resource(self, name: str) -> Any:
        """The process resource `name` (built on first use if the server has
        not started it yet)."""
        if self.resources is None:
            raise LookupError(f"no process resources in this runtime (asked for {name!r})")
        return self.resources.get(name)


@dataclass(slots=True)
class AuditEvent:
    event_name: str
    region: str
    params: dict[str, Any] | None
    result: dict[str, Any] | None
    resources: list[dict[str, str]] | None


@dataclass(slots=True)
class ChildCall:
    """One call a request made to another service, for the audit record."""

    call: Call
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    error: Exception | None = None


#: The identity AWS names in service events it raises on its own (KMS
#: rotations and deletions: "invokedBy": "AWS Internal").
AWS_INTERNAL = "AWS Internal"


@dataclass(slots=True)
class ServiceEvent:
    """An `AwsServiceEvent` a job reports: what the service did by itself."""

    event_name: str
    account: str
    region: str
    resources: list[dict[str, str]] | None = None
    details: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    invoked_by: str = AWS_INTERNAL
    #: additionalEventData, and the failure the event reports (errorMessage
    #: alone, as Secrets Manager's RotationFailed has it), and its requestID.
    additional: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None


def _hand_off(
    runtime: Runtime, conn: Connection, service: str, name: str, payload: Any, key: str | None
) -> bool:
    if runtime.hand_off is None:
        raise LookupError("this runtime runs no background work")
    return runtime.hand_off(conn, service, name, payload, key)


@dataclass(slots=True)
class JobRun:
    """What a scheduled job runs with: the store transaction, the clock's
    time, the runtime, and where it reports its service events (recorded
    once its transaction has committed).

    Background work (`Service.background`) gets one per transaction it
    opens, with `writes` saying whether that transaction is a write one."""

    service: Service
    conn: Connection
    now: datetime
    runtime: Runtime
    events: list[ServiceEvent] = field(default_factory=list)
    writes: bool = True
    #: Whether `hand_off` was used (the scheduler then wakes the runner).
    handed_off: bool = False
    #: The calls made to other services through `acting_as` calls: each is
    #: recorded as the callee's CloudTrail event once the run commits.
    children: list[ChildCall] = field(default_factory=list)

    @property
    def sealer(self) -> Sealer:
        return self.runtime.sealer

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def hand_off(self, name: str, payload: dict[str, Any], *, key: str | None = None) -> bool:
        """Queue the service's background work `name` (see `Call.hand_off`)."""
        queued = _hand_off(self.runtime, self.conn, self.service.name, name, payload, key)
        self.handed_off = self.handed_off or queued
        return queued

    def resource(self, name: str) -> Any:
        """A process resource of the server (`Runtime.resource`)."""
        return self.runtime.resource(name)

    def service_event(
        self,
        event_name: str,
        account: str,
        region: str,
        *,
        resources: list[dict[str, str]] | None = None,
        details: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        invoked_by: str = AWS_INTERNAL,
        additional: dict[str, Any] | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.events.append(
            ServiceEvent(
                event_name,
                account,
                region,
                resources,
                details,
                response,
                invoked_by,
                additional,
                error_code,
                error_message,
                request_id,
            )
        )


def acting_as(
    ctx: Call | JobRun,
    service: Service,
    principal: str,
    *,
    account: str,
    region: str,
    operation: str,
    source: str | None = None,
    source_arn: str | None = None,
    source_account: str | None = None,
) -> Call:
    """A `Call` of `service` acting as its own service principal (``principal``,
    e.g. ``rds.amazonaws.com``) in `ctx`'s transaction, for the account and
    Region it acts in: what it asks of another service (`Call.invoke`: KMS for
    a data key its grant allows, S3 for a delivery its bucket policy allows)
    is authorized for that principal and recorded as the callee's CloudTrail
    event with ``invokedBy`` the service.

    The calls it makes are `ctx`'s children: a request's are recorded after
    the request's own event; a job's once its run commits. Each service
    acting by itself builds its `Call` here, so none is ever left out of the
    audit trail. `source` is the event's sourceIPAddress and userAgent (the
    principal unless AWS records another name, ``logs.amazonaws.com`` for the
    regional ``logs.<region>.amazonaws.com``); `source_arn` / `source_account`
    the resource the work is for (``aws:SourceArn`` / ``aws:SourceAccount``
    where the callee authorizes the principal: a trail, a log group)."""
    shown = source or principal
    return Call(
        runtime=ctx.runtime,
        service=service,
        operation=operation,
        request_id=uuid4(),
        account=account,
        region=region,
        principal=service_principal(principal),
        source_ip=shown,
        user_agent=shown,
        secure=True,
        conn=ctx.conn,
        children=ctx.children,
        source_arn=source_arn,
        source_account=source_account,
    )


@dataclass(slots=True)
class Call:
    """Everything an operation may use about the request it serves."""

    runtime: Runtime
    service: Service
    operation: str
    request_id: str
    account: str
    region: str
    principal: Principal
    source_ip: str
    user_agent: str
    secure: bool
    conn: Connection = None  # type: ignore[assignment]  # set inside the transaction
    #: Resources the audit record names: [{"ARN": ..., "type": ..., "accountId": ...}]
    audit_resources: list[dict[str, str]] = field(default_factory=list)
    #: Run-time overrides for the audit record's requestParameters /
    #: responseElements, for a record that depends on what the operation
    #: decided (the usual selection is declared as data: `framework.trail`),
    #: and its additionalEventData.
    audit_request: dict[str, Any] | None = None
    audit_response: dict[str, Any] | None = None
    audit_extra: dict[str, Any] | None = None
    #: Further events the request causes, recorded after its own when it
    #: succeeds (ReplicateKey's CreateKey in the replica's Region).
    audit_events: list[AuditEvent] = field(default_factory=list)
    #: `AwsServiceEvent`s the call's service raised by itself while serving
    #: it (RotationAbandoned), recorded after the call's own when it succeeds.
    service_events: list[ServiceEvent] = field(default_factory=list)
    #: Set once an authorization check ran and allowed (or was not enforced):
    #: the pipeline answers no operation that returns without one.
    authorized: bool = False
    #: The services this call came through on the principal's behalf, first
    #: to last (``("secretsmanager.amazonaws.com",)``); empty for a request
    #: the principal sent itself.
    via: tuple[str, ...] = ()
    #: Calls this one made to other services (`invoke`), in order: each is
    #: recorded as the callee's own CloudTrail event, after this call's.
    children: list[ChildCall] = field(default_factory=list)
    #: Whether `hand_off` was used: the pipeline wakes the background
    #: runner once the call's transaction has committed.
    handed_off: bool = False
    #: ``aws:SourceArn`` / ``aws:SourceAccount`` of a call a service makes as
    #: its own principal for a resource (CloudTrail writing a trail's logs):
    #: the callee's policies may condition on them.
    source_arn: str | None = None
    source_account: str | None = None

    def hand_off(self, name: str, payload: dict[str, Any], *, key: str | None = None) -> bool:
        """Queue the service's background work `name` (`Service.background`)
        with `payload` (JSON-able; sealed at rest), in this call's
        transaction: it exists once the call commits, and not if it fails.
        It runs after the commit, in a thread of the server (never on the
        event loop), once across worker processes, in transactions of its
        own: the place for work that must not hold the request, the loop or
        the write lock (invoking a function that calls back into the server).

        With a `key`, nothing is queued while work of this service under the
        same key is queued or running (False is returned then)."""
        queued = _hand_off(self.runtime, self.conn, self.service.name, name, payload, key)
        self.handed_off = self.handed_off or queued
        return queued

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def sealer(self) -> Sealer:
        return self.runtime.sealer

    @property
    def authorizer(self) -> Authorizer:
        return self.runtime.authorizer

    @property
    def store(self) -> Store:
        return self.runtime.store

    def resource(self, name: str) -> Any:
        """A process resource of the server (`Runtime.resource`):
        ``call.resource("lambda_engine")``."""
        return self.runtime.resource(name)

    @property
    def via_service(self) -> str | None:
        """``kms:ViaService``'s form of the service this call came through
        (``secretsmanager.us-east-1.amazonaws.com``), or None."""
        if not self.via:
            return None
        return f"{self.via[-1].split('.', 1)[0]}.{self.region}.amazonaws.com"

    def invoke(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call another service's operation on this call's principal's behalf,
        as AWS services do (a forward access session): the callee's own
        validation and authorization run, with ``aws:ViaAWSService`` (and, for
        the services that set it, ``aws:CalledVia``) in the request context;
        the callee's CloudTrail event is recorded with ``invokedBy`` this
        service. `params` are the callee's model members; its output dict is
        returned, its errors raised."""
        return self.runtime.invoke(self, service, operation, params)

    def authorize(
        self,
        action: str,
        resource: str | list[str] = "*",
        context: dict[str, Any] | None = None,
        *,
        resource_policy: str | None = None,
        resource_account: str | None = None,
        resource_policy_required: bool = False,
        resource_policy_kind: str = "resource",
    ) -> None:
        """Raise the service's access-denied error unless the principal may act.

        `resource_policy` is the resource's policy document (key policy, bucket
        policy, trust policy); `resource_policy_required` makes an allow from
        it necessary, as KMS key policies are."""
        try:
            self.runtime.authorizer.require(
                self,
                action,
                resource,
                context or {},
                resource_policy=resource_policy,
                resource_account=resource_account,
                resource_policy_required=resource_policy_required,
                resource_policy_kind=resource_policy_kind,
            )
        except AccessDenied as denied:
            raise self.service.access_denied(denied.message) from None

    def access_denied(self, action: str, resource: str) -> AwsError:
        """The service's access-denied error for a refusal the operation
        decides itself, in AWS's words for no identity policy allowing it."""
        return self.service.access_denied(
            f"User: {self.principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )

    def allowed_by(self, rule: str) -> None:
        """Record an allow the service decided itself by a rule of the resource
        that AWS applies before any policy (a grant's retiring principal may
        retire it). `rule` names it, for the reader of the call site."""
        self.authorized = True

    def service_event(
        self,
        event_name: str,
        *,
        resources: list[dict[str, str]] | None = None,
        additional: dict[str, Any] | None = None,
        invoked_by: str = AWS_INTERNAL,
        request_id: str | None = None,
    ) -> None:
        """Record an `AwsServiceEvent` of this call's service, in its account
        and Region, once the call has succeeded (see `JobRun.service_event`)."""
        self.service_events.append(
            ServiceEvent(
                event_name,
                self.account,
                self.region,
                resources,
                invoked_by=invoked_by,
                additional=additional,
                request_id=request_id,
            )
        )

    def audit_also(
        self,
        event_name: str,
        region: str,
        *,
        params: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        resources: list[dict[str, str]] | None = None,
    ) -> None:
        """Record one more event of this service for this request, as AWS does
        where one call acts in two places. `params`/`result` are shaped like
        `event_name`'s input/output and redacted by its plan."""
        self.audit_events.append(AuditEvent(event_name, region, params, result, resources))

    def audit_resource(self, arn: str, resource_type: str, account: str | None = None) -> None:
        self.audit_resources.append(
            {"ARN": arn, "type": resource_type, "accountId": account or self.account}
        )


class Background:
    """What background work (`Service.background`) runs with: the runtime,
    and transactions of its own, each lent as a `JobRun` whose service
    events are recorded once it commits. It runs in a thread of the server,
    never on the event loop and never inside another transaction."""

    def __init__(
        self,
        service: Service,
        runtime: Runtime,
        report: Callable[[ServiceEvent], None],
        work_id: str,
    ) -> None:
        self.service = service
        self.runtime = runtime
        self._report = report
        #: The queued item's id (stable across a retry after a crash).
        self.work_id = work_id

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[JobRun]:
        """One transaction (a read one unless `write`), committed on leaving."""
        store, clock = self.runtime.store, self.runtime.clock
        with store.transaction(write=write) as conn:
            clock.refresh(conn)
            run = JobRun(self.service, conn, clock.now(), self.runtime, writes=write)
            yield run
        if run.children and self.runtime.record_children is not None:
            self.runtime.record_children(run.children)
        for event in run.events:  # committed: now it happened
            self._report(event)
