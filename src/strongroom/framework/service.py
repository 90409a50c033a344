"""A `Service`: one AWS service's model, operations, errors and what the
pipeline must know of it.

An operation is a plain function ``def op(call: Call, **params) -> dict``
registered with ``@service.operation``. Its name in the model is the
CamelCase of the function name. It receives validated values named as in the
model and returns a dict shaped like the output shape; the pipeline owns
HTTP, transactions, authentication and the audit record.

A service also declares what the framework below it must not have to know by
name: its tables, whether its resources are global (IAM), whether it takes
unsigned requests, and whether it is the source of identity policies.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strongroom.protocol.errors import AwsError, ErrorNamespace, errors_for
from strongroom.protocol.model import load_service_model, served_protocols, signing_name

if TYPE_CHECKING:
    from sqlalchemy import Table

    from strongroom.auth.authorizer import PolicySource
    from strongroom.framework.call import Call
    from strongroom.framework.resources import ResourceFactory

log = logging.getLogger("strongroom.services")

READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "Simulate")

OperationFn = Callable[..., dict[str, Any]]


@dataclass(slots=True)
class Operation:
    name: str
    fn: OperationFn
    #: The IAM action checked by the pipeline before the operation runs, or
    #: None when the operation authorizes itself (it needs resource ARNs it
    #: must first resolve) or needs no authorization at all.
    action: str | None
    read_only: bool
    #: The operation blocks (starts a database engine, copies a snapshot,
    #: invokes a function): the HTTP layer answers it in a thread of the
    #: App's bounded pool (`Config.blocking_threads`) instead of on the event
    #: loop, so the fast requests of the same loop pass never wait for it. It
    #: still runs inside one store transaction committed before its response,
    #: on a connection of that thread's own and without the hot cache; its
    #: audit event is recorded from the thread. On SQLite a blocking
    #: operation that writes holds the write lock for as long as it runs
    #: (its transaction takes it up front); other writes wait for it, off
    #: the loop too. Read by the App at start-up. See docs/architecture.md,
    #: "Slow work off the event loop".
    blocking: bool = False
    #: Write queued audit records first (LookupEvents sees the calls before it).
    flush_audit: bool = False
    #: The request may come unsigned (S3 anonymous reads, STS
    #: AssumeRoleWithWebIdentity / AssumeRoleWithSAML): the caller is then
    #: the anonymous principal.
    anonymous: bool = False
    #: Why this operation answers without an authorization decision, or None
    #: when it must make one: the pipeline refuses to answer (and rolls
    #: back) an operation that returns without having authorized anything.
    no_authorization: str | None = None
    #: How the function's signature meets the input shape (`SignaturePlan`),
    #: worked out once at registration.
    plan: SignaturePlan | None = None
    #: Body bytes this operation accepts, replacing the bound the HTTP layer
    #: derives from the input shape (and possibly above the global cap).
    max_body: int | None = None
    #: The body reaches the operation as chunks, never buffered whole (S3
    #: objects, Lambda zips): the seam in strongroom.server.limits.
    streaming: bool = False
    #: Whether its store transaction takes the write lock: as `read_only`
    #: says, unless the operation declares otherwise (Lambda's Invoke, which
    #: changes nothing of the request's own but must not hold the lock
    #: while the function runs and calls back into this server).
    writes: bool = True
    #: CloudTrail's managementEvent: False for a data event (Lambda's
    #: Invoke), which LookupEvents does not return.
    management: bool = True
    #: Work on a streamed body done before the operation's transaction
    #: opens (S3: the body written as a durable blob), so the write lock is
    #: never held while it runs: ``prepare(runtime, body, headers) -> body``
    #: (a `BodyStream` in, a `BodyStream` out) is
    #: called once the request is authenticated, in a thread of the pool
    #: (a request with a streamed body goes off the loop; one whose body
    #: was small enough to arrive in memory stays on it and is not
    #: prepared), and what it returns replaces the request's body. When the
    #: transaction is over the pipeline calls ``body.settle(committed)``,
    #: committed or not, so the body's owner can drop what no row names.
    prepare: Callable[..., Any] | None = None
    #: The request's signature travels in its body, not its headers (S3's
    #: browser-based POST uploads sign their form): the HTTP layer holds
    #: its body to `max_body` (spooled, when `streaming`), not to the
    #: smaller limit of a request with no signature in sight.
    signed_in_body: bool = False


@dataclass(frozen=True, slots=True)
class SignaturePlan:
    """Where an operation's Python signature and its model's input shape differ.

    botocore's models move on under us: a newer one adds members, or makes a
    required member optional. Both used to reach the function as a TypeError
    (HTTP 500). Registration works out once how the two differ, and the
    pipeline then passes only the members the function takes (`accepted`,
    None when it takes all of them) and answers a member the function needs
    but the model lets the caller omit (`needed`) as the validation error AWS
    gives for a missing required member. Both stay empty for a function that
    matches its model, and cost the request nothing then."""

    accepted: frozenset[str] | None
    needed: tuple[str, ...]
    #: Model members the function neither names nor takes with ``**_``.
    ignored: tuple[str, ...]

    @classmethod
    def of(cls, fn: OperationFn, input_shape: Any, where: str) -> SignaturePlan:
        params = list(inspect.signature(fn).parameters.values())[1:]  # after `call`
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
        named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        members = set(input_shape.members) if input_shape is not None else set()
        required = set(input_shape.required_members) if input_shape is not None else set()
        # Members an older model lacks are fine while the function defaults them.
        unknown = {n for n, p in named.items() if n not in members and p.default is p.empty}
        if unknown:
            raise TypeError(f"{where} requires {sorted(unknown)}, which its input shape lacks")
        ignored = () if takes_any else tuple(sorted(members - set(named)))
        needed = tuple(
            sorted(n for n, p in named.items() if p.default is p.empty and n not in required)
        )
        for what, names in (("ignores new members", ignored), ("requires optional", needed)):
            if names:
                log.warning("%s %s %s: the installed botocore model is newer", where, what, names)
        return cls(frozenset(named) if ignored else None, needed, ignored)

    def adapt(self, params: dict[str, Any], missing: Callable[[str], Exception]) -> dict[str, Any]:
        """`params` as the function takes them; `missing(name)` is raised for
        a needed member the request left out."""
        for name in self.needed:
            if name not in params:
                raise missing(name)
        if self.accepted is not None:
            params = {k: v for k, v in params.items() if k in self.accepted}
        return params


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class Service:
    """One AWS service: its botocore model, its operations and error classes."""

    def __init__(
        self,
        name: str,
        *,
        action_prefix: str | None = None,
        read_only: frozenset[str] = frozenset(),
        validation_error_code: str | None = None,
        global_service: bool = False,
        anonymous: bool = False,
        tables: tuple[Table, ...] = (),
        policy_source: PolicySource | None = None,
        resources: dict[str, ResourceFactory] | None = None,
        download: Callable[..., tuple[int, bytes, str]] | None = None,
        virtual_host: Callable[[str], str | None] | None = None,
        xml_root_names: dict[str, str] | None = None,
        data_events: Callable[..., bool] | None = None,
        cors: Any = None,
    ) -> None:
        self.name = name
        #: Cross-origin requests from browsers (S3's bucket CORS), or None:
        #: ``cors.preflight(runtime, host, path, headers) -> headers`` answers
        #: an OPTIONS request (raising the service's error to refuse it), and
        #: ``cors.headers(runtime, params, method, headers) -> headers`` gives
        #: the Access-Control-* headers of a response to a request that
        #: carries an Origin. Neither is signed nor audited, as on AWS.
        self.cors = cors
        #: ``virtual_host(host header) -> bucket or None``: the label a REST
        #: service's virtual-hosted requests carry in their host name (S3's
        #: ``bucket.s3.localhost``); the router hands it to the codec.
        self.virtual_host = virtual_host
        #: rest-xml: the root element of an operation's response where the
        #: model names none (S3's ``ListObjectsV2`` -> ``ListBucketResult``).
        self.xml_root_names = dict(xml_root_names or {})
        #: Its resources live in no Region (IAM): its calls are us-east-1's.
        self.global_service = global_service
        #: Every operation may be called unsigned (S3's public objects); for
        #: a few operations only, see `Operation.anonymous`.
        self.anonymous = anonymous
        #: The tables it keeps its state in (created with the store's schema).
        self.tables = tables
        #: Where the authorizer reads identity policies from (IAM's), if here.
        self.policy_source = policy_source
        #: Process resources (name -> factory), built at server start from
        #: its configuration and closed at shutdown: `framework.resources`.
        self.resources: dict[str, ResourceFactory] = dict(resources or {})
        #: ``download(runtime, path, query) -> (status, body, content type)``:
        #: answers GET ``/_strongroom/download/<service>/<path>?<query>``, for
        #: the pre-signed URLs a service hands out (Lambda's Code.Location).
        #: It checks the URL's own signature: the request carries no SigV4.
        self.download = download
        #: ``data_events(store, event) -> bool``: whether a data event (an
        #: operation registered with ``data_event=True``; `event` a
        #: `strongroom.audit.records.StoredEvent` with no ``own`` fields yet)
        #: is to be recorded at all. CloudTrail's: only while some logging
        #: trail selects it, as AWS records data events. With no service
        #: declaring one, data events are not recorded.
        self.data_events = data_events
        self.model = load_service_model(name)
        #: The wire protocols served, first the one clients pick (`served_protocols`).
        self.protocols = served_protocols(self.model)
        self.protocol = self.protocols[0]
        self.action_prefix = action_prefix or self.model.metadata.get("signingName") or name
        self.errors: ErrorNamespace = errors_for(name)
        if self.protocol == "rest-json" and not any(
            shape.name == "AccessDeniedException" for shape in self.model.error_shapes
        ):
            # The REST JSON services (Lambda) answer a denial 403; the
            # JSON-RPC ones 400.
            self.errors.define("AccessDeniedException", 403)
        self.operations: dict[str, Operation] = {}
        self.extra_read_only = read_only
        self.validation_error_code = validation_error_code
        self.event_source = f"{self.model.metadata['endpointPrefix']}.amazonaws.com"
        #: The service a request's credential scope must name.
        self.signing_name = signing_name(self.model)
        #: Scheduled jobs: fn(run: JobRun) -> next_due, under a lease once per tick.
        self.jobs: list[Callable[..., float | None]] = []
        #: Background work by name: fn(work: Background, payload: dict),
        #: queued by `Call.hand_off` / `JobRun.hand_off`.
        self.background_work: dict[str, Callable[..., None]] = {}
        #: Run inside the transaction after every successful non-read-only operation.
        self.after_write_hooks: list[Callable[[Call], None]] = []
        #: What each operation's CloudTrail event records of its request and
        #: response, as data (`strongroom.framework.trail`), by operation name:
        #: filled by the service's trail module, compiled by the App at start-up.
        self.trail: dict[str, dict[str, Any]] = {}

    def operation(
        self,
        fn: OperationFn | None = None,
        *,
        authorize: str | bool = True,
        blocking: bool = False,
        flush_audit: bool = False,
        anonymous: bool = False,
        no_authorization: str | None = None,
        writes: bool | None = None,
        data_event: bool = False,
        max_body: int | None = None,
        streaming: bool = False,
        prepare: Callable[..., Any] | None = None,
        signed_in_body: bool = False,
    ) -> Any:
        """Register an operation. ``authorize=True`` checks ``<prefix>:<Op>`` on
        ``*`` before it runs; ``authorize=False`` means the operation calls
        ``call.authorize`` itself. An operation that needs no decision at all
        (GetCallerIdentity) says why in `no_authorization`; every other one
        that returns without a decision is refused by the pipeline.

        `writes=False` runs a non-read-only operation in a read transaction
        (it writes, if at all, through a transaction of its own); a
        `data_event` is recorded as CloudTrail's data events are."""

        def register(f: OperationFn) -> OperationFn:
            name = camel(f.__name__)
            if name not in self.model.operation_names:
                raise ValueError(f"{self.name} has no operation {name}")
            if authorize is True:
                action: str | None = f"{self.action_prefix}:{name}"
            elif authorize is False:
                action = None
            else:
                action = authorize
            read_only = name.startswith(READ_ONLY_PREFIXES) or name in self.extra_read_only
            plan = SignaturePlan.of(
                f, self.model.operation_model(name).input_shape, f"{self.name}.{name}"
            )
            self.operations[name] = Operation(
                name,
                f,
                action,
                read_only,
                blocking,
                flush_audit,
                anonymous,
                no_authorization,
                plan if plan.accepted is not None or plan.needed else None,
                writes=(not read_only) if writes is None else writes,
                management=not data_event,
                max_body=max_body,
                streaming=streaming,
                prepare=prepare,
                signed_in_body=signed_in_body,
            )
            return f

        return register(fn) if fn is not None else register

    def access_denied(self, message: str) -> AwsError:
        """This service's access-denied error (its model's shape, or the code
        its protocol family uses) with `message`."""
        for shape in self.model.error_shapes:
            if shape.name in ("AccessDeniedException", "AccessDenied"):
                return self.errors.by_code(shape.error_code)(message)
        code = "AccessDeniedException" if self.protocol in ("json", "rest-json") else "AccessDenied"
        return getattr(self.errors, code)(message)

    def after_write(self, fn: Callable[[Call], None]) -> Callable[[Call], None]:
        self.after_write_hooks.append(fn)
        return fn

    def job(self, fn: Callable[..., float | None]) -> Callable[..., float | None]:
        """A scheduled job: ``fn(run: JobRun) -> next_due``. It acts as the
        service itself, not as any caller: what it does that AWS records
        (a deletion at the end of its waiting period, an automatic rotation)
        it reports with `JobRun.service_event`, recorded as `AwsServiceEvent`.

        `next_due` is the clock timestamp at which the stored state next gives
        the job something to do, or None when nothing stored schedules it. The
        scheduler does not run the job again before then unless stored state
        changes (see `App.run_due_work`); a job that cannot tell returns 0."""
        self.jobs.append(fn)
        return fn

    def background(self, fn: Callable[..., None]) -> Callable[..., None]:
        """Background work named after `fn`: ``fn(work: Background, payload)``,
        run for each `Call.hand_off(fn.__name__, payload)` (or a job's) after
        the handing transaction commits, in a server thread, once across
        worker processes. It opens its own transactions
        (`Background.transaction`) and reports what it did as service events.
        A worker that dies mid-way leaves its claim to run out: the work is
        then run again, so it must be safe to repeat."""
        self.background_work[fn.__name__] = fn
        return fn
