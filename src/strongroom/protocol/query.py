"""The `query` protocol (STS, IAM, RDS, Redshift, ...).

Requests carry ``Action=<Op>&Version=<api>&...`` form-encoded in a POST body
or in the query string. Nested members are dotted: ``Tags.member.1.Key``,
flattened lists ``Foo.1``, maps ``Attrs.entry.1.key``/``.value``, each part
named by ``locationName`` where the model gives one. Responses are XML::

    <OpResponse xmlns="..."><OpResult>...</OpResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from strongroom.protocol.base import BaseCodec, message_member, request_body
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request, Response
from strongroom.protocol.validation import lower_camel
from strongroom.protocol.values import (
    Malformed,
    b64decode,
    decode_form,
    parse_bool_text,
    parse_float_text,
    parse_int_text,
    parse_timestamp,
    text_of,
    xml_escape,
)
from strongroom.protocol.xmlbody import XmlCompiler

#: Key of a tree node's own value (``Foo=x`` next to ``Foo.member.1=y``).
_LEAF = None
_ABSENT = object()

QueryReader = Callable[[Any, str, list[str]], Any]


def form_params(req: Request) -> dict[str, str]:
    """The request's query parameters: the query string, then a form body over it.

    Cached on the request, so the router and the codec decode it once.
    """
    form = req._form
    if form is not None:
        return form
    pairs = decode_form(req.query) if req.query else []
    body = request_body(req)  # botocore gzips PutMetricData's form over 10 KB
    if body:
        ctype = req.headers.get("content-type", "")
        if not ctype or "x-www-form-urlencoded" in ctype:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Malformed("The request body is not valid UTF-8") from exc
            pairs += decode_form(text)
    form = dict(pairs)
    if len(form) != len(pairs):
        # `Action=CreateUser&Action=GetUser`: which one runs must never be a
        # guess (nor may the query string override a signed body).
        repeated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise Malformed(f"The parameter {repeated} is given more than once.")
    req._form = form
    return form


def build_tree(form: dict[str, str]) -> dict[Any, Any]:
    """``{"A.member.1.B": "x"}`` -> ``{"A": {"member": {"1": {"B": {None: "x"}}}}}``."""
    root: dict[Any, Any] = {}
    for key, value in form.items():
        node = root
        for part in key.split("."):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node[_LEAF] = value
    return root


def _indexed(node: Any) -> list[tuple[int, Any]]:
    """The numbered entries of a list or map node, in order. An index that is
    not a positive decimal number (``member.0``, ``member.-1``, ``member.abc``)
    is malformed input, never silently dropped."""
    if type(node) is not dict:
        return []
    items = []
    for k, child in node.items():
        if k is None:
            continue
        if not (k.isascii() and k.isdigit() and len(k) < 10 and k[0] != "0"):
            raise Malformed(f"'{k}' is not a valid list index: indexes are whole numbers from 1")
        items.append((int(k), child))
    items.sort(key=lambda kv: kv[0])
    return items


class QueryCompiler:
    """Readers of a query-string tree, per shape."""

    def __init__(self, codec: QueryCodec) -> None:
        self._codec = codec
        self._memo: dict[tuple[str, str, bool], QueryReader] = {}
        self._pending: dict[tuple[str, str, bool], list[Any]] = {}

    def reader(self, shape: Shape, sensitive: bool = False) -> QueryReader:
        sensitive = sensitive or bool(shape.metadata.get("sensitive"))
        key = (shape.name, repr(sorted(shape.serialization.items())), sensitive)
        found = self._memo.get(key)
        if found is not None:
            return found
        cell = self._pending.get(key)
        if cell is not None:

            def recurse(node: Any, path: str, errors: list[str], cell: list[Any] = cell) -> Any:
                return cell[0](node, path, errors)

            return recurse
        cell = [None]
        self._pending[key] = cell
        try:
            built = self._build(shape, sensitive)
        finally:
            del self._pending[key]
        cell[0] = built
        self._memo[key] = built
        return built

    def _build(self, shape: Shape, sensitive: bool) -> QueryReader:
        kind = shape.type_name
        if kind == "structure":
            return self._struct(shape, sensitive)
        if kind == "list":
            return self._list(shape, sensitive)
        if kind == "map":
            return self._map(shape, sensitive)
        return self._scalar(shape, sensitive)

    def _scalar(self, shape: Shape, sensitive: bool) -> QueryReader:
        kind = shape.type_name
        if kind in ("string", "character"):

            def read_text(node: Any, path: str, errors: list[str]) -> Any:
                text = node.get(_LEAF)
                return _ABSENT if text is None else text

            return read_text
        convert: Callable[[str], Any]
        if kind == "boolean":
            convert = parse_bool_text
        elif kind == "blob":
            convert = b64decode
        elif kind == "timestamp":
            convert = parse_timestamp
        elif kind in ("float", "double", "bigdecimal"):
            convert = parse_float_text
        else:
            convert = parse_int_text
        codec = self._codec

        def read_scalar(node: Any, path: str, errors: list[str]) -> Any:
            text = node.get(_LEAF)
            if text is None:
                return _ABSENT
            try:
                return convert(text)
            except Malformed as exc:
                errors.append(codec.type_failure(text, path, exc, sensitive))
                return _ABSENT

        return read_scalar

    def _struct(self, shape: Shape, sensitive: bool) -> QueryReader:
        table: dict[str, tuple[str, str, QueryReader]] = {}
        for name, member in shape.members.items():
            ser = member.serialization
            wire = ser.get("name", name)
            if member.type_name == "list" and ser.get("flattened"):
                wire = member.member.serialization.get("name", wire)
            table[wire] = (name, lower_camel(name), self.reader(member, sensitive))

        def read_struct(node: Any, path: str, errors: list[str]) -> Any:
            out: dict[str, Any] = {}
            get = table.get
            prefix = path + "." if path else ""
            for key, child in node.items():
                if key is None:
                    continue
                entry = get(key)
                if entry is None:
                    continue
                value = entry[2](child, prefix + entry[1], errors)
                if value is not _ABSENT:
                    out[entry[0]] = value
            return out

        return read_struct

    def _list(self, shape: Shape, sensitive: bool) -> QueryReader:
        member = shape.member
        inner = self.reader(member, sensitive)
        flattened = bool(shape.serialization.get("flattened"))
        item_key = member.serialization.get("name", "member")

        def read_list(node: Any, path: str, errors: list[str]) -> Any:
            items_node = node if flattened else node.get(item_key)
            if items_node is None:
                # ``Foo=`` is how an empty list is sent.
                return [] if node.get(_LEAF) is not None else _ABSENT
            out = []
            for i, child in _indexed(items_node):
                value = inner(child, f"{path}.{i}.member", errors)
                if value is not _ABSENT:
                    out.append(value)
            return out

        return read_list

    def _map(self, shape: Shape, sensitive: bool) -> QueryReader:
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        read_key = self.reader(shape.key, sensitive)
        read_value = self.reader(shape.value, sensitive)
        flattened = bool(shape.serialization.get("flattened"))

        def read_map(node: Any, path: str, errors: list[str]) -> Any:
            entries = node if flattened else node.get("entry")
            if entries is None:
                return {} if node.get(_LEAF) is not None else _ABSENT
            out = {}
            for _, child in _indexed(entries):
                key_node = child.get(key_name)
                value_node = child.get(value_name)
                if key_node is None or value_node is None:
                    continue
                k = read_key(key_node, path, errors)
                v = read_value(value_node, f"{path}.{k}", errors)
                if k is not _ABSENT and v is not _ABSENT:
                    out[k] = v
            return out

        return read_map


class QueryCodec(BaseCodec):
    protocol = "query"
    default_validation_code = "ValidationError"
    default_malformed_code = "MalformedQueryString"
    content_type = "text/xml"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        super().__init__(model, validation_error_code, malformed_error_code)
        self.namespace = model.metadata.get("xmlNamespace", "")
        self._ns = f' xmlns="{xml_escape(self.namespace)}"' if self.namespace else ""
        self._readers = QueryCompiler(self)
        self._xml = XmlCompiler("iso8601")

    def operation_from_action(self, action: str) -> str | None:
        """The operation an ``Action`` parameter names, if this service has it."""
        return action if action in self._operation_names else None

    # ----------------------------------------------------------------- parse

    def _compile_parse(self, op: OperationModel) -> Any:
        shape = op.input_shape
        if shape is None:
            return None, None
        return self._readers.reader(shape), self.validator(shape)

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        read, check = self._parse_plan(operation)
        errors: list[str] = []
        try:
            form = form_params(req)
            value = read(build_tree(form), "", errors) if read is not None else {}
        except AwsError:
            raise
        except Exception as exc:
            raise self.unparseable(operation, exc) from None
        if check is not None:
            check(value, "", errors)
        if errors:
            self.raise_validation(errors)
        return value

    # ----------------------------------------------------------------- serialize

    def _compile_serialize(self, op: OperationModel) -> Any:
        shape = op.output_shape
        name = op.name
        if shape is None:
            return name, None, None
        wrapper = shape.serialization.get("resultWrapper")
        return name, wrapper, self._xml.struct_writer(shape.members.items())

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        name, wrapper, write = self._serialize_plan(operation)
        parts = [f"<{name}Response{self._ns}>"]
        if write is not None:
            if wrapper:
                write(result or {}, wrapper, parts)
            else:
                # No wrapper: the members sit directly in the response element.
                inner: list[str] = []
                write(result or {}, "x", inner)
                parts.extend(inner[1:-1])
        parts.append(
            f"<ResponseMetadata><RequestId>{xml_escape(request_id)}</RequestId>"
            f"</ResponseMetadata></{name}Response>"
        )
        return Response(
            200,
            "".join(parts).encode(),
            [("content-type", self.content_type), ("x-amzn-requestid", request_id)],
        )

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        fault = "Sender" if err.sender_fault and err.status < 500 else "Receiver"
        parts = [
            f"<ErrorResponse{self._ns}><Error><Type>{fault}</Type>"
            f"<Code>{xml_escape(err.code)}</Code>"
            f"<Message>{xml_escape(err.message)}</Message>"
        ]
        error_fields(self._xml, self.error_shape(err), err, parts)
        parts.append(f"</Error><RequestId>{xml_escape(request_id)}</RequestId></ErrorResponse>")
        return Response(
            err.status,
            "".join(parts).encode(),
            [("content-type", self.content_type), ("x-amzn-requestid", request_id)],
        )


def error_fields(
    compiler: XmlCompiler, shape: Shape | None, err: AwsError, parts: list[str]
) -> None:
    """Append an error's extra members as XML elements (model names when unmodelled)."""
    if not err.fields:
        return
    members = shape.members if shape is not None else {}
    skip = message_member(shape).lower()
    for name, value in err.fields.items():
        if value is None or name.lower() in (skip, "code"):
            continue
        member = members.get(name)
        if member is None:
            parts.append(f"<{name}>{xml_escape(text_of(value))}</{name}>")
        elif not member.serialization.get("location"):
            compiler.writer(member)(value, member.serialization.get("name", name), parts)
