"""The REST protocols: `rest-xml` (S3) and `rest-json` (Lambda).

An operation is found from the method and the path against each operation's
``requestUri`` template (``/{Bucket}/{Key+}?uploads``). Input members live in
the URI, the query string, headers, header maps (``x-amz-meta-*``) or the
body, which is either the `payload` member (raw bytes, or one structure as
XML/JSON) or the remaining members as one XML/JSON document.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from strongroom.protocol.base import BaseCodec, message_member
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import BodyStream, Request, Response
from strongroom.protocol.jsonbody import JsonCompiler
from strongroom.protocol.jsonrpc import decode_json_object, json_error_response
from strongroom.protocol.query import error_fields
from strongroom.protocol.validation import lower_camel
from strongroom.protocol.values import (
    Malformed,
    b64decode,
    b64encode,
    decode_form,
    float_text,
    parse_bool_text,
    parse_float_text,
    parse_int_text,
    parse_timestamp,
    text_of,
    timestamp_writer,
    xml_escape,
)
from strongroom.protocol.xmlbody import MALFORMED_XML, XmlCompiler, ns_attribute, parse_xml

_LABEL = re.compile(r"\{([^}]+)\}")
#: A result key (never a model member) an operation sets to answer with
#: another HTTP status than its model's (S3's 206 for a range GET).
STATUS_OVERRIDE = "__status__"
#: The label a virtual-hosted request supplies from its host name.
VIRTUAL_LABEL = "Bucket"


# =========================================================================== routing


def _path_regex(path: str) -> tuple[re.Pattern[str], list[tuple[str, str, bool]], int, bool]:
    """Regex for a template path, its labels (group, name, greedy), literal length, greedy."""
    out = ["^"]
    labels: list[tuple[str, str, bool]] = []
    pos = 0
    literal = 0
    greedy_any = False
    for i, m in enumerate(_LABEL.finditer(path)):
        text = path[pos : m.start()]
        literal += len(text)
        out.append(re.escape(text))
        name = m.group(1)
        greedy = name.endswith("+")
        greedy_any = greedy_any or greedy
        group = f"g{i}"
        out.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        labels.append((group, name.rstrip("+"), greedy))
        pos = m.end()
    tail = path[pos:]
    literal += len(tail)
    out.append(re.escape(tail.rstrip("/")))
    out.append("/?$")
    return re.compile("".join(out), re.DOTALL), labels, literal, greedy_any


def _split_uri(uri: str) -> tuple[str, list[tuple[str, str | None]]]:
    path, _, query = uri.partition("?")
    static: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        static.append((key, value if eq else None))
    return path or "/", static


@dataclass(slots=True)
class Route:
    operation: str
    template: str
    vtemplate: str | None
    regex: re.Pattern[str]
    labels: list[tuple[str, str, bool]]
    #: Same, for a virtual-hosted request (the template without its /{Bucket}).
    vregex: re.Pattern[str] | None
    vlabels: list[tuple[str, str, bool]]
    static: list[tuple[str, str | None]]
    literal: int
    greedy: bool
    deprecated: bool
    index: int
    required_headers: list[str] = field(default_factory=list)
    required_query: list[str] = field(default_factory=list)

    def score(self, headers: dict[str, str], query: dict[str, list[str]]) -> tuple[Any, ...]:
        present = 0
        if self.required_headers or self.required_query:
            for h in self.required_headers:
                present += 1 if h in headers else -1
            for q in self.required_query:
                present += 1 if q in query else -1
        return (
            len(self.static),
            self.literal,
            present,
            not self.greedy,
            not self.deprecated,
            -self.index,
        )

    def static_ok(self, query: dict[str, list[str]]) -> bool:
        for key, value in self.static:
            found = query.get(key)
            if found is None or (value is not None and value not in found):
                return False
        return True


@dataclass(slots=True)
class _MethodRoutes:
    """The routes of one HTTP method, indexed by their first static query key."""

    plain: list[Route] = field(default_factory=list)
    by_key: dict[str, list[Route]] = field(default_factory=dict)

    def add(self, route: Route) -> None:
        if route.static:
            self.by_key.setdefault(route.static[0][0], []).append(route)
        else:
            self.plain.append(route)


def _build_route(op: OperationModel, index: int) -> Route:
    path, static = _split_uri(op.http.get("requestUri", "/"))
    regex, labels, literal, greedy = _path_regex(path)
    vregex = None
    vtemplate = None
    vlabels: list[tuple[str, str, bool]] = []
    head = "/{" + VIRTUAL_LABEL + "}"
    if path == head or path.startswith(head + "/"):
        vtemplate = path[len(head) :] or "/"
        vregex, vlabels, _, _ = _path_regex(vtemplate)
    route = Route(
        op.name,
        path,
        vtemplate,
        regex,
        labels,
        vregex,
        vlabels,
        static,
        literal,
        greedy,
        op.deprecated,
        index,
    )
    shape = op.input_shape
    if shape is not None:
        required = set(shape.metadata.get("required", ()))
        for name, member in shape.members.items():
            if name not in required:
                continue
            loc = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if loc == "header":
                route.required_headers.append(wire.lower())
            elif loc == "querystring":
                route.required_query.append(wire)
    return route


def _query_multi(query: str, strict: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not query:
        return out
    for k, v in decode_form(query, strict):
        out.setdefault(k, []).append(v)
    return out


# =========================================================================== text values


def _split_header_list(text: str) -> list[str]:
    """``a, "b,c", d`` -> ``["a", "b,c", "d"]`` (quoted items may hold commas)."""
    items: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            buf = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            items.append("".join(buf))
            i = text.find(",", i)
            if i == -1:
                break
            i += 1
        else:
            j = text.find(",", i)
            if j == -1:
                items.append(text[i:].strip())
                break
            items.append(text[i:j].strip())
            i = j + 1
    return items


def _text_reader(shape: Shape) -> Callable[[str], Any]:
    kind = shape.type_name
    if kind == "boolean":
        return parse_bool_text
    if kind == "timestamp":
        return parse_timestamp
    if kind in ("float", "double", "bigdecimal"):
        return parse_float_text
    if kind in ("integer", "long", "short", "byte", "biginteger"):
        return parse_int_text
    if kind == "blob":
        return b64decode
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return _json_value_in
    return _same


def _json_value_in(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise Malformed("Invalid JSON value header", "a base64-encoded JSON value") from exc


def _same(text: str) -> str:
    return text


def _text_writer(shape: Shape, default_ts: str) -> Callable[[Any], str]:
    kind = shape.type_name
    if kind == "boolean":
        return lambda v: "true" if v else "false"
    if kind == "timestamp":
        fmt = timestamp_writer(shape.serialization.get("timestampFormat"), default_ts)
        return lambda v: str(fmt(v))
    if kind in ("float", "double", "bigdecimal"):
        return float_text
    if kind in ("integer", "long", "short", "byte", "biginteger"):
        return lambda v: str(int(v))
    if kind == "blob":
        return b64encode
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return lambda v: base64.b64encode(orjson.dumps(v)).decode()
    if kind == "list":
        item = _text_writer(shape.member, default_ts)

        def write_list(v: Any) -> str:
            out = []
            for x in v:
                s = item(x)
                if '"' in s or "," in s:
                    s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                out.append(s)
            return ",".join(out)

        return write_list
    return text_of


# =========================================================================== plans


@dataclass(slots=True)
class ParsePlan:
    route: Route
    #: label name -> (member name, camel path, convert)
    labels: dict[str, tuple[str, str, Callable[[str], Any]]]
    #: (query key, member, camel, kind, convert, sensitive) kind: "scalar" | "list" | "map"
    query: list[tuple[str, str, str, str, Callable[[str], Any], bool]]
    #: (header, member, camel, convert, is_list, sensitive)
    headers: list[tuple[str, str, str, Callable[[str], Any], bool, bool]]
    #: (prefix, member)
    prefixes: list[tuple[str, str]]
    #: (member, "blob" | "string" | "structure", reader)
    payload: tuple[str, str, Any] | None
    body: Any
    check: Any
    sensitive: frozenset[str]


@dataclass(slots=True)
class SerializePlan:
    status: int
    #: (member, header, to_text)
    headers: list[tuple[str, str, Callable[[Any], str]]]
    prefixes: list[tuple[str, str]]
    status_member: str | None
    #: (member, "blob" | "string" | "structure", writer, root name)
    payload: tuple[str, str, Any, str] | None
    body: Any
    root: str
    #: A root whose single scalar member is its text (S3's LocationConstraint).
    scalar_root: tuple[str, Callable[[Any], str]] | None
    has_body_members: bool
    head: bool


class RestCodec(BaseCodec):
    """The REST machinery; subclasses say how bodies and errors look."""

    body_timestamp = "unixtimestamp"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        super().__init__(model, validation_error_code, malformed_error_code)
        #: (method, virtual, first literal path segment or None) -> routes
        self._route_index: dict[tuple[str, bool, str | None], _MethodRoutes] = {}
        self._routes: dict[str, Route] = {}
        for index, name in enumerate(model.operation_names):
            op = model.operation_model(name)
            route = _build_route(op, index)
            self._routes[name] = route
            method = op.http.get("method", "POST").upper()
            for virtual, template in ((False, route.template), (True, route.vtemplate)):
                if template is None:
                    continue
                first = template.split("/", 2)[1] if template.count("/") >= 1 else ""
                seg = None if "{" in first else first
                key = (method, virtual, seg)
                self._route_index.setdefault(key, _MethodRoutes()).add(route)

    # ----------------------------------------------------------------- match

    def match(self, req: Request) -> str | None:
        method = req.method.upper()
        virtual = req.virtual_bucket is not None
        path = req.path or "/"
        first = path.split("/", 2)[1] if path.startswith("/") else path
        query = _query_multi(req.query, strict=False) if req.query else {}
        candidates: list[Route] = []
        for seg in (first, None):
            routes = self._route_index.get((method, virtual, seg))
            if routes is None:
                continue
            candidates.extend(routes.plain)
            if query and routes.by_key:
                for key in query:
                    keyed = routes.by_key.get(key)
                    if keyed:
                        candidates.extend(r for r in keyed if r.static_ok(query))
        tried: dict[int, bool] = {}
        best: tuple[Any, ...] | None = None
        best_op = None
        for route in candidates:
            rx = route.vregex if virtual else route.regex
            if rx is None:
                continue
            hit = tried.get(id(rx))
            if hit is None:
                hit = tried[id(rx)] = rx.match(path) is not None
            if not hit:
                continue
            score = route.score(req.headers, query)
            if best is None or score > best:
                best, best_op = score, route.operation
        return best_op

    # ----------------------------------------------------------------- parse

    def _body_reader(self, shape: Shape, members: list[tuple[str, Shape]]) -> Any:
        raise NotImplementedError

    def _payload_reader(self, member: Shape) -> Any:
        raise NotImplementedError

    def _decode_body(self, body: bytes, reader: Any) -> Any:
        raise NotImplementedError

    def _compile_parse(self, op: OperationModel) -> ParsePlan:
        route = self._routes[op.name]
        shape = op.input_shape
        plan = ParsePlan(route, {}, [], [], [], None, None, None, frozenset())
        if shape is None:
            return plan
        body_members: list[tuple[str, Shape]] = []
        payload_name = shape.serialization.get("payload")
        sensitive: set[str] = set()
        for name, member in shape.members.items():
            ser = member.serialization
            loc = ser.get("location")
            wire = ser.get("name", name)
            camel = lower_camel(name)
            secret = bool(member.metadata.get("sensitive"))
            if secret:
                sensitive.add(name)
            if loc == "uri":
                plan.labels[wire] = (name, camel, _text_reader(member))
            elif loc == "querystring":
                if member.type_name == "list":
                    plan.query.append(
                        (wire, name, camel, "list", _text_reader(member.member), secret)
                    )
                elif member.type_name == "map":
                    plan.query.append(
                        (wire, name, camel, "map", _text_reader(member.value), secret)
                    )
                else:
                    plan.query.append((wire, name, camel, "scalar", _text_reader(member), secret))
            elif loc == "header":
                if member.type_name == "list":
                    plan.headers.append(
                        (wire.lower(), name, camel, _text_reader(member.member), True, secret)
                    )
                else:
                    plan.headers.append(
                        (wire.lower(), name, camel, _text_reader(member), False, secret)
                    )
            elif loc == "headers":
                plan.prefixes.append((wire.lower(), name))
            elif loc in ("statusCode",):
                continue
            elif name == payload_name:
                kind = member.type_name
                if kind in ("blob", "string"):
                    plan.payload = (name, kind, None)
                else:
                    plan.payload = (name, "structure", self._payload_reader(member))
            else:
                body_members.append((name, member))
        if body_members and payload_name is None:
            plan.body = self._body_reader(shape, body_members)
        plan.check = self.validator(shape)
        plan.sensitive = frozenset(sensitive)
        return plan

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        plan: ParsePlan = self._parse_plan(operation)
        errors: list[str] = []
        try:
            out = self._parse_located(plan, req, errors)
            body = req.body
            if isinstance(body, BodyStream) and (plan.payload is None or plan.payload[1] != "blob"):
                body = body.read_all()
            if plan.payload is not None:
                name, kind, reader = plan.payload
                if body:
                    if kind == "blob":
                        # A streamed body reaches the operation as it is.
                        out[name] = body if isinstance(body, BodyStream) else bytes(body)
                    elif kind == "string":
                        out[name] = body.decode("utf-8")
                    else:
                        out[name] = self._decode_body(body, reader)
            elif plan.body is not None and body:
                for k, v in self._decode_body(body, plan.body).items():
                    out.setdefault(k, v)
        except AwsError:
            raise
        except Exception as exc:
            raise self.unparseable(operation, exc) from None
        if plan.check is not None:
            plan.check(out, "", errors)
        if errors:
            self.raise_validation(errors)
        return out

    def _parse_located(self, plan: ParsePlan, req: Request, errors: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if plan.labels:
            route = plan.route
            virtual = req.virtual_bucket is not None and route.vregex is not None
            rx, labels = (route.vregex, route.vlabels) if virtual else (route.regex, route.labels)
            if virtual and VIRTUAL_LABEL in plan.labels:
                member = plan.labels[VIRTUAL_LABEL][0]
                out[member] = req.virtual_bucket
            m = rx.match(req.path or "/") if rx is not None else None
            if m is not None:
                for group, label, _greedy in labels:
                    entry = plan.labels.get(label)
                    if entry is None:
                        continue
                    raw = m.group(group)
                    try:
                        text = unquote(raw, errors="strict")
                    except UnicodeDecodeError as exc:
                        raise Malformed("The request path is malformed") from exc
                    self._convert(entry[0], entry[1], entry[2], text, out, errors, False)
        if plan.query:
            query = _query_multi(req.query, strict=True)
            consumed = {q[0] for q in plan.query if q[3] != "map"}
            consumed.update(k for k, _ in plan.route.static)
            for key, name, camel, kind, convert, secret in plan.query:
                if kind == "scalar":
                    values = query.get(key)
                    if values:
                        self._convert(name, camel, convert, values[0], out, errors, secret)
                elif kind == "list":
                    values = query.get(key)
                    if values:
                        items: list[Any] = []
                        for i, text in enumerate(values, 1):
                            self._convert(
                                i, f"{camel}.{i}.member", convert, text, items, errors, secret
                            )
                        out[name] = [x for x in items if x is not _MISSING]
                else:
                    rest = {k: v for k, v in query.items() if k not in consumed}
                    if rest:
                        out[name] = {k: v[0] for k, v in rest.items()}
        if plan.headers:
            headers = req.headers
            for header, name, camel, convert, is_list, secret in plan.headers:
                text = headers.get(header)
                if text is None:
                    continue
                if is_list:
                    items = []
                    for i, part in enumerate(_split_header_list(text), 1):
                        self._convert(
                            i, f"{camel}.{i}.member", convert, part, items, errors, secret
                        )
                    out[name] = [x for x in items if x is not _MISSING]
                else:
                    self._convert(name, camel, convert, text, out, errors, secret)
        for prefix, name in plan.prefixes:
            n = len(prefix)
            found = {k[n:]: v for k, v in req.headers.items() if k.startswith(prefix)}
            if found:
                out[name] = found
        return out

    def _convert(
        self,
        name: Any,
        path: str,
        convert: Callable[[str], Any],
        text: str,
        out: Any,
        errors: list[str],
        secret: bool,
    ) -> None:
        try:
            value = convert(text)
        except Malformed as exc:
            errors.append(self.type_failure(text, path, exc, secret))
            value = _MISSING
        if isinstance(out, list):
            out.append(value)
        elif value is not _MISSING:
            out[name] = value

    # ----------------------------------------------------------------- serialize

    def _body_writer(self, members: list[tuple[str, Shape]]) -> Any:
        raise NotImplementedError

    def _payload_writer(self, member: Shape) -> Any:
        raise NotImplementedError

    def _root_name(self, op: OperationModel) -> str:
        return op.name + "Result"

    def _compile_serialize(self, op: OperationModel) -> SerializePlan:
        status = int(op.http.get("responseCode", 200))
        plan = SerializePlan(
            status, [], [], None, None, None, "", None, False, op.http.get("method") == "HEAD"
        )
        shape = op.output_shape
        if shape is None:
            return plan
        payload_name = shape.serialization.get("payload")
        body_members: list[tuple[str, Shape]] = []
        for name, member in shape.members.items():
            ser = member.serialization
            loc = ser.get("location")
            wire = ser.get("name", name)
            if loc == "header":
                plan.headers.append((name, wire.lower(), _text_writer(member, "rfc822")))
            elif loc == "headers":
                plan.prefixes.append((name, wire.lower()))
            elif loc == "statusCode":
                plan.status_member = name
            elif name == payload_name:
                kind = member.type_name
                if kind in ("blob", "string"):
                    plan.payload = (name, kind, None, "")
                else:
                    root = ser.get("name", member.name)
                    plan.payload = (name, "structure", self._payload_writer(member), root)
            elif not loc:
                body_members.append((name, member))
        if body_members and payload_name is None:
            plan.has_body_members = True
            plan.body = self._body_writer(body_members)
            plan.root = shape.serialization.get("name") or self._root_name(op)
            if len(body_members) == 1:
                only_name, only = body_members[0]
                xml_name = only.serialization.get("name", only_name)
                if only.type_name not in ("structure", "list", "map") and xml_name == plan.root:
                    plan.scalar_root = (only_name, _text_writer(only, "iso8601"))
        return plan

    def _render_body(self, plan: SerializePlan, result: dict[str, Any]) -> tuple[bytes, str]:
        raise NotImplementedError

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        plan: SerializePlan = self._serialize_plan(operation)
        result = result or {}
        headers = self._id_headers(request_id)
        status = plan.status
        for name, header, to_text in plan.headers:
            v = result.get(name)
            if v is not None:
                if isinstance(v, list) and not v:
                    continue
                headers.append((header, to_text(v)))
        for name, prefix in plan.prefixes:
            values = result.get(name)
            if values:
                for k, v in values.items():
                    if v is not None:
                        headers.append((prefix + str(k).lower(), text_of(v)))
        if plan.status_member is not None:
            code = result.get(plan.status_member)
            if code is not None:
                status = int(code)
        override = result.get(STATUS_OVERRIDE)
        if override is not None:  # S3's 206 Partial Content for a range GET
            status = int(override)
        body, content_type = self._render_body(plan, result)
        if plan.head:
            body = b""
        if content_type and not any(h == "content-type" for h, _ in headers):
            headers.append(("content-type", content_type))
        return Response(status, body, headers)

    def _id_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-amzn-requestid", request_id)]


_MISSING = object()


# =========================================================================== rest-json


class RestJsonCodec(RestCodec):
    protocol = "rest-json"
    default_validation_code = "ValidationException"
    default_malformed_code = "SerializationException"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        self._json = JsonCompiler("unixtimestamp")
        super().__init__(model, validation_error_code, malformed_error_code)

    def _body_reader(self, shape: Shape, members: list[tuple[str, Shape]]) -> Any:
        return self._json.struct_reader(shape, members)

    def _payload_reader(self, member: Shape) -> Any:
        return self._json.reader(member)

    def _decode_body(self, body: bytes, reader: Any) -> Any:
        return reader(decode_json_object(body))

    def _body_writer(self, members: list[tuple[str, Shape]]) -> Any:
        return self._json.struct_writer(members)

    def _payload_writer(self, member: Shape) -> Any:
        return self._json.writer(member)

    def _render_body(self, plan: SerializePlan, result: dict[str, Any]) -> tuple[bytes, str]:
        if plan.payload is not None:
            name, kind, write, _ = plan.payload
            value = result.get(name)
            if kind == "structure":
                if value is None:
                    return b"{}", "application/json"
                return orjson.dumps(write(value) if write else value), "application/json"
            if value is None:
                return b"", ""
            if isinstance(value, str):
                value = value.encode()
            return bytes(value), "application/json"
        if plan.body is not None:
            return orjson.dumps(plan.body(result)), "application/json"
        if plan.status in (204, 304):
            return b"", ""
        return b"{}", "application/json"

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        return json_error_response(self, err, request_id, "application/json", rest=True)


# =========================================================================== rest-xml


class RestXmlCodec(RestCodec):
    protocol = "rest-xml"
    body_timestamp = "iso8601"
    default_validation_code = "InvalidArgument"
    default_malformed_code = "MalformedXML"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
        xml_root_names: dict[str, str] | None = None,
    ) -> None:
        self._xml = XmlCompiler("iso8601")
        self._root_names = dict(xml_root_names or {})
        super().__init__(model, validation_error_code, malformed_error_code)
        self.namespace = model.metadata.get("xmlNamespace") or self._find_namespace(model)
        self._ns = f' xmlns="{xml_escape(self.namespace)}"' if self.namespace else ""

    @staticmethod
    def _find_namespace(model: ServiceModel) -> str:
        """The namespace the model's own XML payloads declare (S3 has no service-wide one)."""
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            if shape is None:
                continue
            for member in shape.members.values():
                ns = member.serialization.get("xmlNamespace")
                if isinstance(ns, dict) and ns.get("uri") and not ns.get("prefix"):
                    return ns["uri"]
                if isinstance(ns, str):
                    return ns
        return ""

    def _root_name(self, op: OperationModel) -> str:
        return self._root_names.get(op.name, op.name + "Result")

    def _body_reader(self, shape: Shape, members: list[tuple[str, Shape]]) -> Any:
        return self._xml.struct_reader(members)

    def _payload_reader(self, member: Shape) -> Any:
        return self._xml.reader(member)

    def _decode_body(self, body: bytes, reader: Any) -> Any:
        try:
            return reader(parse_xml(body))
        except Malformed as exc:
            raise Malformed(MALFORMED_XML) from exc

    def _body_writer(self, members: list[tuple[str, Shape]]) -> Any:
        return self._xml.struct_writer(members, self._ns)

    def _payload_writer(self, member: Shape) -> Any:
        return self._xml.struct_writer(member.members.items(), ns_attribute(member) or self._ns)

    def _render_body(self, plan: SerializePlan, result: dict[str, Any]) -> tuple[bytes, str]:
        decl = '<?xml version="1.0" encoding="UTF-8"?>\n'
        if plan.payload is not None:
            name, kind, write, root = plan.payload
            value = result.get(name)
            if value is None:
                return b"", ""
            if kind == "structure":
                parts = [decl]
                write(value, root, parts)
                return "".join(parts).encode(), "application/xml"
            if isinstance(value, str):
                value = value.encode()
            if not isinstance(value, bytes | bytearray | memoryview):
                return value, "binary/octet-stream"  # an iterator of chunks: streamed
            return bytes(value), "binary/octet-stream"
        if not plan.has_body_members:
            return b"", ""
        if plan.scalar_root is not None:
            name, to_text = plan.scalar_root
            value = result.get(name)
            text = "" if value is None else xml_escape(to_text(value))
            body = f"{decl}<{plan.root}{self._ns}>{text}</{plan.root}>"
            return body.encode(), "application/xml"
        parts = [decl]
        plan.body(result, plan.root, parts)
        return "".join(parts).encode(), "application/xml"

    def _id_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-amz-request-id", request_id), ("x-amz-id-2", _host_id(request_id))]

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        headers = self._id_headers(request_id)
        head = operation is not None and self._is_head(operation)
        if head or err.status == 304:  # no body, as HTTP has it
            return Response(err.status, b"", headers)
        shape = self.error_shape(err)
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{xml_escape(err.code)}</Code>"
            f"<Message>{xml_escape(err.message)}</Message>"
        ]
        error_fields(self._xml, shape, err, parts)
        parts.append(
            f"<RequestId>{xml_escape(request_id)}</RequestId>"
            f"<HostId>{_host_id(request_id)}</HostId></Error>"
        )
        headers.append(("content-type", "application/xml"))
        return Response(err.status, "".join(parts).encode(), headers)

    def _is_head(self, operation: str) -> bool:
        try:
            return self.operation_model(operation).http.get("method") == "HEAD"
        except AwsError:
            return False


def _host_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode()).decode()


__all__ = ["RestCodec", "RestJsonCodec", "RestXmlCodec", "message_member"]
