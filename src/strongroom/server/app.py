"""The ASGI application: the request pipeline every call goes through.

    HTTP -> router -> authenticate -> parse+validate -> authorize -> operation
         -> serialize -> HTTP, and one audit record for every request.

Everything a request needs that can be prepared once (models, codecs,
redaction plans, routing tables) is prepared in `App.__init__`. Operations run
synchronously inside one store transaction that commits before the response
is sent: on the event loop, or, for blocking operations (`Operation.blocking`),
in a thread of `App.pool` (see `Deferred` and docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from strongroom import __version__
from strongroom.admin_client import ADMIN_SIGNING_NAME
from strongroom.arn import DEFAULT_REGION, is_known_region, partition_regions
from strongroom.audit.recorder import FLUSH_INTERVAL, AuditRecorder
from strongroom.audit.records import StoredEvent
from strongroom.auth import sigv4
from strongroom.auth.authenticate import Authenticator, AuthFailure, auth_error
from strongroom.auth.authorizer import Authorizer
from strongroom.auth.principal import Principal
from strongroom.framework import (
    Call,
    ChildCall,
    JobRun,
    Operation,
    Runtime,
    Service,
    ServiceEvent,
)
from strongroom.framework.resources import ResourceContext, Resources
from strongroom.framework.trail import EventPlan, compile_plans
from strongroom.ids import uuid4
from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import AwsError, InternalFailure
from strongroom.protocol.http import BodyStream, Request, Response
from strongroom.protocol.model import load_service_model
from strongroom.server.config import Config
from strongroom.server.handoff import Runner
from strongroom.server.router import Route, RouteError, Router
from strongroom.services.registry import served_services
from strongroom.store.clock import Clock, parse_duration
from strongroom.store.db import Store, StoreBusy, default_url
from strongroom.store.files import prepare_data_dir
from strongroom.store.sealing import Sealer, load_root_key

log = logging.getLogger("strongroom.server")

ADMIN_PREFIX = "/_strongroom/"
GIL_SWITCH_INTERVAL = 0.0005


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        prepare_data_dir(config.data_dir)
        self.sealer = Sealer(load_root_key(config.data_dir))
        self.store = Store(config.store_url or default_url(config.data_dir))
        self.clock = Clock(config.time_travel)
        self.authenticator = Authenticator(config.auth, self.sealer, self.store)
        self.services: list[Service] = served_services()
        self.services_by_name = {s.name: s for s in self.services}
        #: Who decides whether a data event is recorded (CloudTrail's trails).
        self._data_event_filters = [s.data_events for s in self.services if s.data_events]
        #: Per service, the Regions a credential scope may name without the
        #: slower check (`_require_scope`, which also answers a new Region's
        #: name botocore's pattern admits): a global service's is us-east-1.
        regions = frozenset(partition_regions())
        self._scope_regions = {
            s.name: frozenset({DEFAULT_REGION}) if s.global_service else regions
            for s in self.services
        }
        sources = [s.policy_source for s in self.services if s.policy_source is not None]
        self.authorizer = Authorizer(
            sources[0] if sources else None, enforce=config.auth == "sigv4"
        )
        self.audit = AuditRecorder(self.store)
        #: The services' process resources (engines, supervisors): built at
        #: start-up, closed at shutdown; the App names none of them.
        self.resources = Resources.of_services(
            self.services,
            ResourceContext(config.data_dir, config.endpoint_url, dict(config.options)),
        )
        #: Runs the work calls and jobs hand off (`Call.hand_off`).
        self.handoff = Runner(self)
        #: What every call and job is lent (never the App itself).
        self.runtime = Runtime(
            self.clock,
            self.sealer,
            self.authorizer,
            self.store,
            self.invoke,
            self.resources,
            self.handoff.hand_off,
            self.record_job_children,
            self._authenticate_form,
        )
        self.codecs = {
            s.name: codec_for(
                s.model, s.validation_error_code, xml_root_names=s.xml_root_names or None
            )
            for s in self.services
        }
        #: Codecs of the protocols a service is served in besides its first,
        #: by (service, protocol): CloudWatch's Smithy RPC v2 CBOR.
        self.other_codecs = {
            (s.name, p): codec_for(s.model, s.validation_error_code, protocol=p)
            for s in self.services
            for p in s.protocols[1:]
        }
        self.router = Router(self.services, self.codecs)
        self._error_codecs: dict[str, Any] = {}
        #: Per operation, what its events record: the service's declarations
        #: (`framework.trail`) over the redaction plans of its shapes.
        self._plans: dict[tuple[str, str], EventPlan] = {}
        for svc in self.services:
            for name, plan in compile_plans(svc).items():
                self._plans[(svc.name, name)] = plan
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: When this process's scheduler lease runs out (its own last write).
        self._lease_until = 0.0
        #: Per scheduled job: (state generation, when it next has work).
        self._job_next_due: dict[Any, tuple[int, float | None]] = {}
        self.internal_failures = 0
        self._tasks: list[asyncio.Task[None]] = []
        #: The threads that answer requests for blocking operations; they
        #: start with the first such request.
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, config.blocking_threads), thread_name_prefix="strongroom-blocking"
        )
        #: Whether any served operation is blocking: while none is, the HTTP
        #: layer answers every request on the loop and never looks for a
        #: `Deferred` answer.
        self.blocking = self._any_blocking()
        #: The services that answer browsers' cross-origin requests (S3).
        self._cors_services = [s for s in self.services if s.cors is not None]
        #: Guards `Store.writes_off_loop`, moved from worker threads too.
        self._writes_lock = threading.Lock()

    def _any_blocking(self) -> bool:
        return any(
            op.blocking or op.prepare is not None
            for svc in self.services
            for op in svc.operations.values()
        )

    # -- ASGI -------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The WAL checkpointer thread wants the GIL back after each
                # checkpoint; by default the loop would only yield it after
                # 5 ms, stalling every request in flight (p99). 0.5 ms bounds
                # that; the check costs nothing while no other thread waits.
                sys.setswitchinterval(GIL_SWITCH_INTERVAL)
                # Everything loaded so far (service models, codecs, policies)
                # lives as long as the process: out of the collector's sight,
                # a full collection takes microseconds instead of ~70 ms
                # with every request in flight waiting (p99).
                gc.collect()
                gc.freeze()
                self.store.start_checkpointer()
                await asyncio.to_thread(self.resources.start)
                self.handoff.start()
                self.blocking = self._any_blocking()  # operations registered since __init__
                self._tasks = [
                    asyncio.create_task(self._audit_loop()),
                    asyncio.create_task(self._scheduler_loop()),
                ]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                # uvicorn waited for the connections; a request whose client
                # left is still running off the loop: let it finish and commit.
                await asyncio.to_thread(self.pool.shutdown, wait=True)
                self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def shutdown(self) -> None:
        """Wait for the requests running off the loop, close the process
        resources, write the audit queue, close the store."""
        try:
            self.pool.shutdown(wait=True)
            self.handoff.close()
            self.resources.close()
            self.audit.flush(wait=True)
        finally:
            self.store.close()

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw_path = scope.get("raw_path")
        client = scope.get("client")
        req = Request(
            scope["method"],
            raw_path.decode("latin-1") if raw_path else scope["path"],
            scope["query_string"].decode("latin-1"),
            headers,
            body,
            client_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        resp = self.handle(req)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
        body = resp.body
        if not isinstance(body, bytes):  # streamed: its Content-Length is given
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.after_response()
            return
        if not any(k == b"content-length" for k, _ in headers):
            # AWS always sends Content-Length; without it uvicorn would chunk.
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.after_response()

    def handle(
        self, req: Request, pre: Prelude | None = None, may_defer: bool = False
    ) -> Response | Deferred:
        """Answer one complete request (the HTTP layer calls this). With
        `may_defer`, a request that must not run on the event loop is not
        answered but handed back as `Deferred`, routed once: the caller runs
        `answer_off_loop(req, deferred.pre)` in the pool."""
        if req.path.startswith(ADMIN_PREFIX):
            return self.admin(req)
        if req.method == "OPTIONS" and self._cors_services:
            return self._preflight(req)
        return self.dispatch(req, pre, may_defer)

    def _preflight(self, req: Request) -> Response:
        """A browser's CORS preflight (OPTIONS), answered by the service that
        serves cross-origin requests (S3, from the bucket's configuration):
        unsigned and not audited, as on AWS."""
        svc = self._cors_services[0]
        request_id = uuid4()
        codec = self.codecs[svc.name]
        try:
            headers = svc.cors.preflight(self.runtime, req.host, req.path, req.headers)
        except AwsError as err:
            return codec.serialize_error(err, request_id)
        except Exception:
            self.internal_failures += 1
            log.exception("internal failure answering a CORS preflight (request %s)", request_id)
            error = InternalFailure("We encountered an internal error. Please try again.")
            return codec.serialize_error(error, request_id)
        return Response(200, b"", [*headers, ("x-amz-request-id", request_id)])

    # -- off the event loop -------------------------------------------------

    def answer_off_loop(self, req: Request, pre: Prelude | None) -> Response:
        """`handle` in a thread of the pool: the store gives the thread its
        own connection, and none of the loop's transaction state."""
        with self.store.off_loop():
            return self.handle(req, pre)

    def submit(
        self, loop: asyncio.AbstractEventLoop, pre: Prelude | None, fn: Any, *args: Any
    ) -> asyncio.Future[Any]:
        """Run `fn(*args)` (which answers the deferred request `pre`
        describes) in the pool; on the loop, as its result arrives, the count
        of writes off the loop (which `dispatch` reads) is brought back down."""
        future = loop.run_in_executor(self.pool, fn, *args)
        routed = pre[2] if pre is not None else None
        if self.store.is_sqlite and isinstance(routed, Route):
            op = routed.service.operations[routed.operation]
            if op.writes and op.prepare is None:  # a prepared one counts itself
                with self._writes_lock:
                    self.store.writes_off_loop += 1
                future.add_done_callback(self._write_done)
        return future

    def _write_done(self, _future: Any) -> None:
        with self._writes_lock:
            self.store.writes_off_loop -= 1

    def after_response(self) -> None:
        """Once the response is on its way: flush the audit batch if it is full."""
        if self.audit.should_flush():
            self.audit.flush()

    # -- the pipeline -----------------------------------------------------

    def dispatch(
        self, req: Request, pre: Prelude | None = None, may_defer: bool = False
    ) -> Response | Deferred:
        """Answer one AWS API request.

        Routing is pure (no store), so it goes first; but nothing it found is
        told to a caller whose signature has not been verified: a request that
        routes nowhere is authenticated before its routing error is answered
        (`_unroutable`), and one that routes is authenticated before its input
        is even parsed. A verified signature must then also be scoped to the
        routed service and a Region of this partition (`_require_scope`)."""
        request_id = uuid4()
        started = time.time()
        if pre is None:  # the hot path
            sig_error: sigv4.SigV4Error | None = None
            try:
                info = sigv4.extract(req)
            except sigv4.SigV4Error as err:
                info, sig_error = None, err
            scope_service = info.service if info else _scope_service_hint(req)
            try:
                route = self.router.route(req, scope_service)
            except RouteError as err:
                return self._unroutable(req, err, request_id, info, sig_error, started)
        else:
            info, sig_error, routed = pre
            if isinstance(routed, RouteError):
                return self._unroutable(req, routed, request_id, info, sig_error, started)
            route = routed
        svc = route.service
        op = svc.operations[route.operation]
        if may_defer and (
            op.blocking
            or (op.prepare is not None and type(req.body) is not bytes)
            or (self.store.writes_off_loop and (op.writes or op.flush_audit))
        ):
            # Off the loop go the blocking operations and, on SQLite while
            # such a request writes, every other write (and LookupEvents,
            # which waits to write the audit queue): the running one holds
            # the write lock until it is done, and waiting for it on the
            # loop would stop every request.
            return Deferred((info, sig_error, route))
        codec = (
            self.codecs[svc.name]
            if route.protocol is None
            else self.other_codecs[(svc.name, route.protocol)]
        )
        region = info.region if info else self.config.default_region
        if svc.global_service:
            region = DEFAULT_REGION
        principal: Principal | None = None
        call: Call | None = None
        params: dict[str, Any] | None = None
        error: AwsError | None = None
        result: dict[str, Any] | None = None
        prepared: Any = None
        try:
            if op.flush_audit:  # LookupEvents sees every event answered before it
                self.audit.flush(wait=True)
            transaction = None
            if op.prepare is not None and isinstance(req.body, BodyStream):
                # The body's work before the transaction (`Operation.prepare`),
                # once the caller is known: no lock is held meanwhile.
                with self.store.transaction(write=False) as conn:
                    self.clock.refresh(conn, self.store)
                    principal = self._authenticate(conn, req, info, sig_error, started, svc, op)
                prepared = req.body = op.prepare(self.runtime, req.body, req.headers)
                if op.writes and self.store.is_sqlite:
                    transaction = self._counted_write()
            with transaction or self.store.transaction(write=op.writes) as conn:
                self.clock.refresh(conn, self.store)
                if prepared is None:
                    principal = self._authenticate(conn, req, info, sig_error, started, svc, op)
                params = codec.parse(op.name, req)
                if op.plan is not None:  # the installed model is newer than the function
                    params = op.plan.adapt(params, codec.missing_member)
                call = Call(
                    runtime=self.runtime,
                    service=svc,
                    operation=op.name,
                    request_id=request_id,
                    account=principal.account or self.config.default_account,
                    region=region,
                    principal=principal,
                    source_ip=req.client_ip,
                    user_agent=req.headers.get("user-agent", ""),
                    secure=req.secure,
                    conn=conn,
                )
                # `_run_guarded`, written out on the hot path.
                if op.action is not None:
                    call.authorize(op.action)
                result = op.fn(call, **params)
                if not call.authorized and op.no_authorization is None:
                    raise MissingAuthorization(f"{svc.name}.{op.name}")
                if not op.read_only:
                    for hook in svc.after_write_hooks:
                        hook(call)
            if call.handed_off:  # committed: the work may start
                self.handoff.wake()
            resp = codec.serialize(op.name, result or {}, request_id)
        except AuthFailure as failure:
            if prepared is not None:
                prepared.settle(False)
            error = auth_error(codec.protocol, failure)
            principal = failure.principal
            resp = codec.serialize_error(error, request_id, op.name)
            self._record(
                svc,
                op,
                region,
                request_id,
                req,
                info,
                principal,
                error,
                account=failure.account,
            )
            return resp
        except AwsError as err:
            error = err
            resp = codec.serialize_error(err, request_id, op.name)
        except MissingAuthorization:
            self.internal_failures += 1
            log.error(
                "refused to answer %s.%s (request %s): it made no authorization decision",
                svc.name,
                op.name,
                request_id,
            )
            error = InternalFailure("We encountered an internal error. Please try again.")
            resp = codec.serialize_error(error, request_id, op.name)
        except Exception:
            self.internal_failures += 1
            log.exception("internal failure in %s.%s (request %s)", svc.name, op.name, request_id)
            error = InternalFailure("We encountered an internal error. Please try again.")
            resp = codec.serialize_error(error, request_id, op.name)
        if prepared is not None:
            prepared.settle(error is None)
        if svc.cors is not None and params and "origin" in req.headers:
            try:
                resp.headers.extend(svc.cors.headers(self.runtime, params, req.method, req.headers))
            except Exception:  # the answer stands; only its CORS headers are missing
                log.exception("CORS headers for request %s failed", request_id)
        self._record(
            svc,
            op,
            region,
            request_id,
            req,
            info,
            principal,
            error,
            call=call,
            params=params,
            result=result,
        )
        return resp

    def _authenticate(
        self,
        conn: Any,
        req: Request,
        info: sigv4.SignatureInfo | None,
        sig_error: sigv4.SigV4Error | None,
        started: float,
        svc: Service,
        op: Operation,
    ) -> Principal:
        """The request's principal, its signature scoped to the routed
        service and a Region of this partition; AuthFailure when not."""
        if sig_error is not None:
            raise AuthFailure("incomplete", sig_error.message)
        principal = self.authenticator.authenticate(
            conn,
            req,
            info,
            started,  # the wall clock the signature is checked against
            clock_now=self.clock.timestamp(),
            anonymous_ok=svc.anonymous or op.anonymous,
            s3=svc.signing_name == "s3",
        )
        if (
            info is not None
            and self.authenticator.verifies
            and (
                info.service != svc.signing_name or info.region not in self._scope_regions[svc.name]
            )
        ):
            _require_scope(svc, info, principal)  # raises
        return principal

    def _authenticate_form(
        self, conn: Any, credential: str, policy: str, signature: str, token: str | None
    ) -> Principal:
        """`Runtime.authenticate_form`: the signer of an upload form."""
        return self.authenticator.authenticate_form(
            conn, credential, policy, signature, token, self.clock.timestamp()
        )

    @contextlib.contextmanager
    def _counted_write(self) -> Any:
        """A write transaction of a prepared request off the loop, counted in
        `writes_off_loop` only while it runs (its body's work held no lock,
        so the loop's writes need not leave the loop for it meanwhile)."""
        with self._writes_lock:
            self.store.writes_off_loop += 1
        try:
            with self.store.transaction(write=True) as conn:
                yield conn
        finally:
            with self._writes_lock:
                self.store.writes_off_loop -= 1

    def _record(
        self,
        svc: Service,
        op: Operation,
        region: str,
        request_id: str,
        req: Request,
        info: sigv4.SignatureInfo | None,
        principal: Principal | None,
        error: AwsError | None,
        *,
        call: Call | None = None,
        params: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> None:
        plan = self._plans[(svc.name, op.name)]
        response_elements = None
        resources = extra = None
        if call is not None:
            # Unsigned federation calls are recorded as the identity they
            # proved (WebIdentityUser, SAMLUser), in the role's account.
            principal = call.principal
            resources, extra = call.audit_resources or None, call.audit_extra
            request_parameters = plan.request_parameters(params, resources, call.audit_request)
            if error is None:
                response_elements = plan.response_elements(result, resources, call.audit_response)
        else:
            request_parameters = plan.request_parameters(params) if params else None
        event_time = self.clock.timestamp()
        event_account = (
            (principal.account if principal and principal.account else None)
            # An unsigned call's is the account the service named (S3: the
            # bucket owner's).
            or (call.account if call is not None else None)
            or account
            or self.config.default_account
        )
        # A data event no trail selects is not recorded; what the call did
        # besides (the management events of the calls it made to other
        # services, its service events) still is.
        if op.management or self._data_event_selected(
            event_time, event_account, region, svc, op, resources
        ):
            self.audit.record(
                event_time=event_time,
                account=event_account,
                region=region,
                event_source=svc.event_source,
                event_name=op.name,
                principal=principal,
                access_key_id=info.access_key_id if info else None,
                source_ip=req.client_ip,
                user_agent=req.headers.get("user-agent", ""),
                request_id=request_id,
                read_only=op.read_only,
                request_parameters=request_parameters,
                response_elements=response_elements,
                error_code=error.code if error is not None else None,
                error_message=error.message if error is not None else None,
                resources=resources,
                additional=extra,
                management=op.management,
            )
        if call is not None and call.children:
            self._record_children(call, event_time)
        if call is not None and error is None and call.service_events:
            for event in call.service_events:
                self.record_service_event(svc, event)
        if call is not None and error is None and call.audit_events:
            for more in call.audit_events:
                more_op = svc.operations[more.event_name]
                if not more_op.management and not self._data_event_selected(
                    event_time, event_account, more.region, svc, more_op, more.resources
                ):
                    continue
                more_plan = self._plans[(svc.name, more.event_name)]
                self.audit.record(
                    event_time=event_time,
                    account=event_account,
                    region=more.region,
                    event_source=svc.event_source,
                    event_name=more.event_name,
                    principal=principal,
                    access_key_id=info.access_key_id if info else None,
                    source_ip=req.client_ip,
                    user_agent=req.headers.get("user-agent", ""),
                    request_id=request_id,
                    read_only=svc.operations[more.event_name].read_only,
                    request_parameters=more_plan.request_parameters(more.params, more.resources)
                    if more.params
                    else None,
                    response_elements=more_plan.response_elements(more.result, more.resources)
                    if more.result
                    else None,
                    resources=more.resources,
                )

    def invoke(
        self, parent: Call, service_name: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run `service_name`'s `operation` as a child of `parent` (see
        `Call.invoke`): the same guard sequence as a request from the wire,
        in the parent's transaction, recorded after the parent's event."""
        svc = self.services_by_name[service_name]
        op = svc.operations[operation]
        codec = self.codecs[svc.name]
        caller = parent.service.event_source
        child = Call(
            runtime=self.runtime,
            service=svc,
            operation=operation,
            request_id=uuid4(),
            account=parent.account,
            region=parent.region,
            principal=parent.principal,
            source_ip=caller,
            user_agent=caller,
            secure=True,
            conn=parent.conn,
            via=(*parent.via, caller),
            source_arn=parent.source_arn,
            source_account=parent.source_account,
        )
        record = ChildCall(child, params)
        parent.children.append(record)
        try:
            codec.validate_input(operation, params)
            if op.plan is not None:
                params = op.plan.adapt(params, codec.missing_member)
            result = _run_guarded(svc, op, child, params)
        except Exception as err:
            record.error = err
            raise
        if child.handed_off:
            parent.handed_off = True
        record.result = result
        return result

    def _data_event_selected(
        self,
        event_time: float,
        account: str,
        region: str,
        svc: Service,
        op: Operation,
        resources: list[dict[str, str]] | None,
    ) -> bool:
        """Whether some service's filter (CloudTrail's logging trails) wants
        this data event recorded; none does when no trail selects it."""
        event = StoredEvent(
            "", account, region, event_time, op.name, svc.event_source,
            op.read_only, False, None, None, resources or None, {},
        )  # fmt: skip
        for wants in self._data_event_filters:
            try:
                if wants(self.store, event):
                    return True
            except Exception:
                log.exception("deciding whether to record a data event failed; recording it")
                return True
        return False

    def record_job_children(self, children: list[ChildCall]) -> None:
        """The callee's event of each call a job (or other work outside a
        request) made to another service, acting as its own service
        (`framework.acting_as`), once the job's transaction committed."""
        self._record_child_list(children, self.clock.timestamp())

    def _record_children(self, call: Call, event_time: float) -> None:
        """The callee's event of each call `call` made to another service."""
        self._record_child_list(call.children, event_time)

    def _record_child_list(self, children: list[ChildCall], event_time: float) -> None:
        for child in children:
            c = child.call
            op = c.service.operations[c.operation]
            resources = c.audit_resources or None
            account = c.principal.account or c.account
            if not op.management and not self._data_event_selected(
                event_time, account, c.region, c.service, op, resources
            ):  # a data event (Lambda reading its code with S3 GetObject) no trail selects
                self._record_children(c, event_time)
                continue
            plan = self._plans[(c.service.name, c.operation)]
            request = plan.request_parameters(child.params, resources, c.audit_request)
            response = None
            error = child.error if isinstance(child.error, AwsError) else None
            if child.error is None:
                response = plan.response_elements(child.result, resources, c.audit_response)
            elif error is None:
                error = InternalFailure("We encountered an internal error. Please try again.")
            self.audit.record(
                event_time=event_time,
                account=account,
                region=c.region,
                event_source=c.service.event_source,
                event_name=c.operation,
                principal=c.principal,
                invoked_by=c.via[-1],
                access_key_id=c.principal.access_key_id,
                source_ip=c.source_ip,
                user_agent=c.user_agent,
                request_id=c.request_id,
                read_only=op.read_only,
                management=op.management,
                request_parameters=request,
                response_elements=response,
                error_code=error.code if error is not None else None,
                error_message=error.message if error is not None else None,
                resources=resources,
                additional=c.audit_extra,
            )
            self._record_children(c, event_time)

    def _unroutable(
        self,
        req: Request,
        err: RouteError,
        request_id: str,
        info: sigv4.SignatureInfo | None,
        sig_error: sigv4.SigV4Error | None,
        started: float,
    ) -> Response:
        """Answer a request no served operation matches, once its signature
        is known good: until then the caller hears only what AWS's own
        authentication errors say, never what this server serves."""
        error = err.error
        principal: Principal | None = None
        account: str | None = None
        if self.authenticator.verifies:
            failure = self._authenticate_alone(req, info, sig_error, started)
            if isinstance(failure, AuthFailure):
                error = auth_error(err.protocol, failure)
                principal, account = failure.principal, failure.account
            else:
                principal = failure
        codec = self._error_codec(err.service_name, err.protocol, info)
        resp = codec.serialize_error(error, request_id)
        source = f"{err.service_name or (info.service if info else 'unknown')}.amazonaws.com"
        name = _guess_operation(req)
        self.audit.record(
            event_time=self.clock.timestamp(),
            account=(principal.account if principal and principal.account else None)
            or account
            or self.config.default_account,
            region=info.region if info else self.config.default_region,
            event_source=source,
            event_name=name,
            principal=principal,
            access_key_id=info.access_key_id if info else None,
            source_ip=req.client_ip,
            user_agent=req.headers.get("user-agent", ""),
            request_id=request_id,
            read_only=name.startswith(("Get", "List", "Describe")),
            error_code=error.code,
            error_message=error.message,
        )
        return resp

    def _authenticate_alone(
        self,
        req: Request,
        info: sigv4.SignatureInfo | None,
        sig_error: sigv4.SigV4Error | None,
        started: float,
    ) -> Principal | AuthFailure:
        """Authenticate a request outside any operation: its principal, or why not."""
        if sig_error is not None:
            return AuthFailure("incomplete", sig_error.message)
        if info is None:
            return AuthFailure("missing", "Missing Authentication Token")
        try:
            with self.store.transaction(write=False) as conn:
                self.clock.refresh(conn, self.store)
                principal = self.authenticator.authenticate(
                    conn, req, info, started, clock_now=self.clock.timestamp()
                )
        except AuthFailure as failure:
            return failure
        if not is_known_region(info.region):
            return AuthFailure("scope", _invalid_region_message(info.region), principal=principal)
        return principal

    def _error_codec(
        self, service_name: str | None, protocol: str, info: sigv4.SignatureInfo | None
    ) -> Any:
        if service_name and (service_name, protocol) in self.other_codecs:
            return self.other_codecs[(service_name, protocol)]
        if service_name and service_name in self.codecs:
            return self.codecs[service_name]
        name = service_name or {
            "json": "cloudtrail",
            "query": "sts",
            "rest-xml": "s3",
            "rest-json": "lambda",
            "smithy-rpc-v2-cbor": "cloudwatch",
        }.get(protocol, "sts")
        codec = self._error_codecs.get(name)
        if codec is None:
            codec = self._error_codecs[name] = codec_for(load_service_model(name))
        return codec

    # -- background work --------------------------------------------------

    async def _audit_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self.audit.flush()
            except Exception:
                pass  # logged by the recorder; records kept for the next try
            self.store.checkpoint_if_starved()

    async def _scheduler_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                self.run_due_work()
            except Exception:
                log.exception("scheduled work failed")

    def run_due_work(self, wait: bool = False) -> int:
        """Run every service's scheduled jobs that may have work, if this
        process holds the scheduler lease; returns how many ran.

        The ticker does not `wait` for a write lock held elsewhere (a job
        skipped now runs next tick); moving the clock does.

        A tick with nothing due touches no store: each job reports when it
        next has work (`Service.job`), and on SQLite that answer holds while
        the shared state generation is unchanged. Asking every second cost a
        lease write and a write transaction per job, about 2 ms of event loop
        each time, which requests arriving meanwhile waited out (p99)."""
        now = self.clock.timestamp()
        generation = self.store.generation.read() if self.store.is_sqlite else None
        due = [
            (svc, job) for svc in self.services for job in svc.jobs if self._may_be_due(job, now)
        ]
        if not due or not self._hold_scheduler_lease(wait):
            return 0
        ran = 0
        for svc, job in due:
            try:
                with self.store.transaction(write=True, wait=wait) as conn:
                    self.clock.refresh(conn)
                    run = JobRun(svc, conn, self.clock.now(), self.runtime)
                    next_due = job(run)
            except StoreBusy:
                continue  # the write lock is held elsewhere: next tick
            if run.children:  # committed: the calls it made are recorded
                self.record_job_children(run.children)
            for event in run.events:  # committed: now it happened
                self.record_service_event(svc, event)
            if run.handed_off:
                self.handoff.wake()
            if generation is not None and not generation & 1:
                # Labelled with the generation read before the job read
                # anything: a commit since (its own included) re-runs it.
                self._job_next_due[job] = (generation, next_due)
            ran += 1
        return ran

    def record_service_event(self, svc: Service, event: ServiceEvent) -> None:
        """An `AwsServiceEvent`: the service acted by itself, for the account."""
        self.audit.record(
            event_time=self.clock.timestamp(),
            account=event.account,
            region=event.region,
            event_source=svc.event_source,
            event_name=event.event_name,
            principal=None,
            identity={"accountId": event.account, "invokedBy": event.invoked_by},
            access_key_id=None,
            source_ip=event.invoked_by,
            user_agent=event.invoked_by,
            request_id=event.request_id,
            read_only=False,
            response_elements=event.response,
            error_code=event.error_code,
            error_message=event.error_message,
            additional=event.additional,
            resources=event.resources,
            event_type="AwsServiceEvent",
            service_event_details=event.details,
        )

    def _may_be_due(self, job: Any, now: float) -> bool:
        known = self._job_next_due.get(job)
        if known is None or known[0] != self.store.generation.read():
            return True
        next_due = known[1]
        return next_due is not None and next_due <= now

    def _hold_scheduler_lease(self, wait: bool) -> bool:
        """Hold the scheduler lease, renewing it in the store only when less
        than two ticks of it remain: until it expires no other process can
        take it, so what this process wrote last is still true."""
        tick = self.config.tick_seconds
        now = time.time()
        if now < self._lease_until - 2 * tick:
            return True
        if not self.store.try_lease("scheduler", self.holder, tick * 5, wait=wait):
            self._lease_until = 0.0
            return False
        self._lease_until = now + tick * 5
        return True

    # -- admin endpoints --------------------------------------------------

    def admin(self, req: Request) -> Response:
        path = req.path[len(ADMIN_PREFIX) :].rstrip("/")
        if path == "health" and req.method in ("GET", "HEAD"):
            # Unsigned: that the server runs. What it serves is told only to
            # the default account's root (an unauthenticated caller learns
            # no more than AWS's own errors would tell it).
            if "authorization" not in req.headers and "X-Amz-Signature=" not in req.query:
                return _json(200, {"status": "running", "version": __version__})
            refused = self._admin_refusal(req)
            return refused if refused is not None else _json(200, self.health())
        if path == "clock" and self.config.time_travel:
            return self._admin_clock(req)
        if path.startswith("download/") and req.method in ("GET", "HEAD"):
            return self._download(req, path[len("download/") :])
        return _json(404, {"error": f"no admin endpoint {req.method} {req.path}"})

    def health(self) -> dict[str, Any]:
        return {
            "status": "running",
            "version": __version__,
            "auth": self.config.auth,
            "time_travel": self.config.time_travel,
            "services": {s.name: {"operations": sorted(s.operations)} for s in self.services},
        }

    def _download(self, req: Request, path: str) -> Response:
        """A pre-signed download a service handed out (`Service.download`)."""
        name, _, rest = path.partition("/")
        svc = self.services_by_name.get(name)
        if svc is None or svc.download is None:
            return _json(404, {"error": f"no download endpoint {req.path}"})
        try:
            status, body, content_type = svc.download(self.runtime, rest, req.query)
        except Exception:
            log.exception("download %s failed", req.path)
            return _json(500, {"error": "internal error"})
        if req.method == "HEAD":
            return Response(
                status, b"", [("content-type", content_type), ("content-length", str(len(body)))]
            )
        return Response(status, body, [("content-type", content_type)])

    def _admin_clock(self, req: Request) -> Response:
        if req.method == "POST":
            refused = self._admin_refusal(req)
            if refused is not None:
                return refused
            try:
                body = orjson.loads(req.body or b"{}")
                if "advance" in body:
                    seconds = parse_duration(str(body["advance"]))
                else:
                    seconds = float(body.get("seconds", 0))
                if seconds < 0:
                    raise ValueError("the clock only moves forward")
            except (ValueError, TypeError, orjson.JSONDecodeError) as err:
                return _json(400, {"error": str(err)})
            with self.store.transaction(write=True) as conn:
                self.clock.advance(conn, seconds)
            self.run_due_work(wait=True)
        elif req.method != "GET":
            return _json(405, {"error": "use GET or POST"})
        with self.store.transaction(write=False) as conn:
            self.clock.refresh(conn)
        return _json(
            200,
            {"now": self.clock.now().isoformat(), "offset_seconds": self.clock.offset},
        )

    def _admin_refusal(self, req: Request) -> Response | None:
        """None when `req` is signed by the default account's root for the
        admin endpoints (scope service `strongroom`); else the 403 to answer.
        Whoever moves the clock can finish any pending deletion."""
        try:
            info = sigv4.extract(req)
        except sigv4.SigV4Error as err:
            return _json(403, {"error": err.message})
        if info is None:
            return _json(403, {"error": "Missing Authentication Token"})
        if info.service != ADMIN_SIGNING_NAME:
            return _json(
                403,
                {
                    "error": f"Credential should be scoped to correct service: '{ADMIN_SIGNING_NAME}'. "
                },
            )
        outcome = self._authenticate_alone(req, info, None, time.time())
        if isinstance(outcome, AuthFailure):
            return _json(403, {"error": outcome.message})
        if not (outcome.is_root and outcome.account == self.config.default_account):
            return _json(
                403,
                {
                    "error": f"{outcome.arn} may not use the admin endpoints: sign as the root "
                    f"of account {self.config.default_account}"
                },
            )
        return None


def _run_guarded(svc: Service, op: Operation, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """An operation under its guards, the same for a request from the wire
    and a call from another service: its action checked first (when it
    declares one), then the operation, then the fail-closed check and the
    service's after-write hooks, all inside the caller's transaction."""
    if op.action is not None:
        call.authorize(op.action)
    result = op.fn(call, **params)
    if not call.authorized and op.no_authorization is None:
        # Fail closed: raised inside the transaction, so nothing the
        # operation wrote is committed.
        raise MissingAuthorization(f"{svc.name}.{op.name}")
    if not op.read_only:
        for hook in svc.after_write_hooks:
            hook(call)
    return result


def _require_scope(svc: Service, info: sigv4.SignatureInfo, principal: Principal) -> None:
    """The credential scope must name the routed service and a Region this
    partition has (IAM's requests are all signed for us-east-1): a signature
    made for one service is never spent on another."""
    if info.service != svc.signing_name:
        raise AuthFailure(
            "scope",
            f"Credential should be scoped to correct service: '{svc.signing_name}'. ",
            principal=principal,
        )
    region = info.region
    if (region != DEFAULT_REGION and svc.name == "iam") or not is_known_region(region):
        raise AuthFailure("scope", _invalid_region_message(region), principal=principal)


def _invalid_region_message(region: str) -> str:
    return f"Credential should be scoped to a valid region, not '{region}'. "


#: What `dispatch` found out about a request before it deferred it: the
#: signature's outline (or why it could not be read) and its route (or why none).
Prelude = tuple[sigv4.SignatureInfo | None, sigv4.SigV4Error | None, Route | RouteError]


@dataclass(frozen=True, slots=True)
class Deferred:
    """The answer to a request that must run off the event loop: not yet an
    answer, but what routing it found, so it is not routed twice."""

    pre: Prelude


class MissingAuthorization(Exception):
    """An operation returned without an authorization decision (a bug)."""


def _json(status: int, body: Any) -> Response:
    return Response(status, orjson.dumps(body), [("content-type", "application/json")])


def _scope_service_hint(req: Request) -> str | None:
    """The signing service of a request whose signature could not be parsed."""
    auth = req.headers.get("authorization", "")
    if "Credential=" in auth:
        parts = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(parts) >= 4:
            return parts[3]
    return None


def _guess_operation(req: Request) -> str:
    target = req.headers.get("x-amz-target")
    if target:
        return target.rpartition(".")[2] or target
    if req._form and "Action" in req._form:
        return req._form["Action"]
    if req.path.startswith("/service/") and "/operation/" in req.path:
        return req.path.rpartition("/")[2]
    return f"{req.method} {req.path}"


def create_app() -> App:
    """uvicorn's factory for worker processes: the config comes from the parent."""
    from strongroom.server.serve import config_from_env

    return App(config_from_env())
