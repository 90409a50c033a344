"""Which service and operation a request is for.

Tables are built once at start-up from the served services' models:
JSON services by X-Amz-Target prefix, query services by (Version, Action),
REST services by their signing name and URI templates. Services that share
one API (rds, docdb, neptune) are served by the first registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.framework import Service
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request
from strongroom.protocol.model import load_service_model, signing_name
from strongroom.protocol.query import form_params
from strongroom.protocol.values import Malformed


@dataclass(slots=True)
class Route:
    service: Service
    operation: str
    #: The wire protocol, where it is not the service's first (`Service.protocols`).
    protocol: str | None = None


def _path_prefix(model: object) -> str:
    """The literal start every operation's path shares, up to a ``/``."""
    uris = [
        model.operation_model(name).http.get("requestUri", "/")  # type: ignore[attr-defined]
        for name in model.operation_names  # type: ignore[attr-defined]
    ]
    if not uris:
        return "/"
    common = uris[0].split("{", 1)[0].split("?", 1)[0]
    for uri in uris[1:]:
        literal = uri.split("{", 1)[0].split("?", 1)[0]
        while not literal.startswith(common):
            common = common[:-1]
    return common[: common.rfind("/") + 1] or "/"


class RouteError(Exception):
    """No served operation matches; `protocol` says how to format `error`."""

    def __init__(self, error: AwsError, protocol: str, service_name: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.protocol = protocol
        self.service_name = service_name


class Router:
    def __init__(self, services: list[Service], codecs: dict[str, object]) -> None:
        self.services = {s.name: s for s in services}
        self.codecs = codecs
        self.by_target: dict[str, Service] = {}
        self.by_version: dict[str, Service] = {}
        self.rest_by_signing: dict[str, Service] = {}
        #: REST services that share a signing name with another and whose
        #: paths all start with a literal prefix (S3 Control's
        #: ``/v20180820/``, signed as ``s3``): by signing name, (prefix, service).
        self.rest_by_prefix: dict[str, list[tuple[str, Service]]] = {}
        #: Smithy RPC v2 services by the service shape name their paths carry.
        self.by_rpc_v2: dict[str, Service] = {}
        for svc in services:
            md = svc.model.metadata
            for protocol in svc.protocols:
                if protocol == "json":
                    self.by_target.setdefault(md["targetPrefix"], svc)
                elif protocol == "query":
                    self.by_version.setdefault(md["apiVersion"], svc)
                elif protocol == "smithy-rpc-v2-cbor":
                    self.by_rpc_v2.setdefault(md["targetPrefix"], svc)
                else:
                    name = signing_name(svc.model)
                    prefix = _path_prefix(svc.model)
                    if prefix != "/":
                        self.rest_by_prefix.setdefault(name, []).append((prefix, svc))
                        if name in self.rest_by_signing:
                            continue
                    self.rest_by_signing.setdefault(name, svc)
        self.served_names = ", ".join(sorted(self.services))

    def route(self, req: Request, scope_service: str | None) -> Route:
        target = req.headers.get("x-amz-target")
        if target is not None:
            return self._route_json(target)
        if self.by_rpc_v2 and req.path.startswith("/service/") and "smithy-protocol" in req.headers:
            return self._route_rpc_v2(req.path)
        form = self._form(req)
        if form is not None and "Action" in form:
            return self._route_query(form, scope_service)
        return self._route_rest(req, scope_service)

    def _route_json(self, target: str) -> Route:
        prefix, _, op = target.rpartition(".")
        svc = self.by_target.get(prefix)
        if svc is None:
            raise RouteError(
                AwsError(
                    f"strongroom does not serve the API {prefix or target!r}; "
                    f"served: {self.served_names}",
                    code="UnknownOperationException",
                ),
                "json",
                None,
            )
        if op not in svc.operations:
            raise RouteError(
                svc.errors.UnknownOperationException(
                    f"strongroom's {svc.name} does not implement {op or target!r}"
                ),
                "json",
                svc.name,
            )
        return Route(svc, op)

    def _route_rpc_v2(self, path: str) -> Route:
        """``/service/<ServiceShapeName>/operation/<Op>`` (Smithy RPC v2)."""
        parts = path.split("/")
        if len(parts) != 5 or parts[3] != "operation":
            raise RouteError(
                AwsError(f"strongroom does not serve {path!r}", code="UnknownOperationException"),
                "smithy-rpc-v2-cbor",
                None,
            )
        svc = self.by_rpc_v2.get(parts[2])
        if svc is None:
            raise RouteError(
                AwsError(
                    f"strongroom does not serve the API {parts[2]!r}; served: {self.served_names}",
                    code="UnknownOperationException",
                ),
                "smithy-rpc-v2-cbor",
                None,
            )
        op = parts[4]
        if op not in svc.operations:
            raise RouteError(
                svc.errors.UnknownOperationException(
                    f"strongroom's {svc.name} does not implement {op!r}"
                ),
                "smithy-rpc-v2-cbor",
                svc.name,
            )
        return Route(
            svc, op, None if svc.protocol == "smithy-rpc-v2-cbor" else "smithy-rpc-v2-cbor"
        )

    def _route_query(self, form: dict[str, str], scope_service: str | None) -> Route:
        version = form.get("Version", "")
        action = form["Action"]
        svc = self.by_version.get(version)
        if svc is None:
            raise RouteError(
                AwsError(
                    f"strongroom does not serve API version {version!r} "
                    f"({scope_service or 'unknown service'}); served: {self.served_names}",
                    code="InvalidAction",
                ),
                "query",
                None,
            )
        if action not in svc.operations:
            raise RouteError(
                svc.errors.InvalidAction(
                    f"The action {action} is not valid for this web service "
                    f"(strongroom's {svc.name} does not implement it)."
                ),
                "query",
                svc.name,
            )
        return Route(svc, action, None if svc.protocol == "query" else "query")

    def _route_rest(self, req: Request, scope_service: str | None) -> Route:
        svc = None
        for prefix, candidate in self.rest_by_prefix.get(scope_service or "s3", ()):
            if req.path.startswith(prefix):
                svc = candidate
                break
        if svc is None:
            svc = self.rest_by_signing.get(scope_service or "s3")
        if svc is None:
            protocol = "rest-xml"
            if scope_service:
                try:
                    protocol = load_service_model(scope_service).metadata["protocol"]
                except Exception:
                    protocol = "rest-xml"
            raise RouteError(
                AwsError(
                    f"strongroom does not serve {scope_service or 'this request'}; "
                    f"served: {self.served_names}",
                    code="InvalidRequest"
                    if protocol == "rest-xml"
                    else "UnknownOperationException",
                    status=400,
                ),
                protocol,
                None,
            )
        if svc.virtual_host is not None and req.virtual_bucket is None:
            req.virtual_bucket = svc.virtual_host(req.host)
        op = self.codecs[svc.name].match(req)
        if op is None or op not in svc.operations:
            raise RouteError(
                AwsError(
                    f"strongroom's {svc.name} does not implement {req.method} {req.path}",
                    code="NotImplemented",
                    status=501,
                ),
                svc.protocol,
                svc.name,
            )
        return Route(svc, op)

    @staticmethod
    def _form(req: Request) -> dict[str, str] | None:
        """The request's query-protocol parameters, parsed once and kept on
        it: the very parse the codec reads its input from, so what routes a
        request and what it carries cannot disagree."""
        if req._form is not None:
            return req._form
        ctype = req.headers.get("content-type", "")
        is_form = req.method == "POST" and ctype.startswith("application/x-www-form-urlencoded")
        if not is_form and not (req.method == "GET" and "Action=" in req.query):
            return None
        try:
            return form_params(req)
        except Malformed as exc:
            raise RouteError(
                AwsError(str(exc), code="MalformedQueryString", status=400),
                "query",
                None,
            ) from None
