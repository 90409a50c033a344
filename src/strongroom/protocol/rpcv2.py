"""The Smithy RPC v2 CBOR protocol (`smithy-rpc-v2-cbor`: CloudWatch).

Requests are ``POST /service/<ServiceName>/operation/<Operation>`` with the
header ``smithy-protocol: rpc-v2-cbor`` and a CBOR body (absent for an input
with no members). ``<ServiceName>`` is the service shape's name, which
botocore carries as the model's ``targetPrefix``. Responses are CBOR with
``smithy-protocol: rpc-v2-cbor``; blobs travel as CBOR byte strings and
timestamps as tag 1 (epoch seconds), so nothing is base64- or text-encoded.
Errors are ``{"__type": code, "message": text, <members>}`` with the
model's status; an ``awsQueryCompatible`` service (CloudWatch) also names
its query-protocol code in ``x-amzn-query-error: <code>;<Sender|Receiver>``.
The signature binds the path (the operation), the host, the credential
scope's service and Region and the body's hash, as for every protocol.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from strongroom.protocol import cbor
from strongroom.protocol.base import BaseCodec, message_member, request_body
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request, Response
from strongroom.protocol.jsonbody import JsonCompiler, Reader, Writer, wrong_type
from strongroom.protocol.values import Malformed, as_utc, timestamp_from_epoch

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")


def _read_blob(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    raise wrong_type(value, "blob")


def _read_timestamp(value: Any) -> datetime:
    if type(value) is datetime:
        return value
    # Smithy asks for tag 1; a bare number of seconds is read as one too.
    if type(value) is int or type(value) is float:
        return timestamp_from_epoch(value)
    raise wrong_type(value, "timestamp")


def _write_blob(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _write_float(value: Any) -> float:
    return float(value)


class CborCompiler(JsonCompiler):
    """`JsonCompiler`'s readers and writers over decoded CBOR: the same
    structure, list and map plans, with blobs as bytes and timestamps as
    datetimes both ways (the encoder writes a datetime as tag 1)."""

    def scalar_type(self, shape: Shape) -> type | None:
        kind = shape.type_name
        if kind == "blob":
            return bytes
        if kind == "timestamp":
            return datetime
        return super().scalar_type(shape)

    def _build_reader(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if kind == "blob":
            return _read_blob
        if kind == "timestamp":
            return _read_timestamp
        return super()._build_reader(shape)

    def _build_writer(self, shape: Shape) -> Writer | None:
        kind = shape.type_name
        if kind == "blob":
            return _write_blob
        if kind == "timestamp":
            return as_utc
        if kind in ("float", "double", "bigdecimal"):
            return _write_float
        return super()._build_writer(shape)


class RpcV2CborCodec(BaseCodec):
    protocol = "smithy-rpc-v2-cbor"
    default_validation_code = "ValidationException"
    default_malformed_code = "SerializationException"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        super().__init__(model, validation_error_code, malformed_error_code)
        self.service_shape_name = model.metadata.get("targetPrefix", "")
        self.path_prefix = f"/service/{self.service_shape_name}/operation/"
        self.query_compatible = "awsQueryCompatible" in model.metadata
        self._cbor = CborCompiler("unixtimestamp")

    # ----------------------------------------------------------------- routing helper

    def operation_from_path(self, path: str) -> str | None:
        """The operation ``/service/<name>/operation/<Op>`` names, if served here."""
        if not path.startswith(self.path_prefix):
            return None
        name = path[len(self.path_prefix) :]
        return name if name in self._operation_names else None

    # ----------------------------------------------------------------- parse

    def _compile_parse(self, op: OperationModel) -> Any:
        shape = op.input_shape
        if shape is None:
            return None, None
        return self._cbor.reader(shape), self.validator(shape)

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        read, check = self._parse_plan(operation)
        try:
            body = request_body(req)
            data = cbor.decode(body) if body else {}
            if data is None:
                data = {}
            if type(data) is not dict:
                raise Malformed("The request body must be a CBOR map")
            value = read(data) if read is not None else {}
        except AwsError:
            raise
        except Exception as exc:
            raise self.unparseable(operation, exc) from None
        if check is not None:
            errors: list[str] = []
            check(value, "", errors)
            if errors:
                self.raise_validation(errors)
        return value

    # ----------------------------------------------------------------- serialize

    def _compile_serialize(self, op: OperationModel) -> Any:
        shape = op.output_shape
        if shape is None:
            return None
        return self._cbor.writer(shape)

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        write = self._serialize_plan(operation)
        body = cbor.encode(write(result or {}) if write is not None else {})
        return Response(
            200,
            body,
            [("content-type", CONTENT_TYPE), PROTOCOL_HEADER, ("x-amzn-requestid", request_id)],
        )

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        shape = self.error_shape(err)
        payload: dict[str, Any] = {"__type": err.code}
        members = shape.members if shape is not None else {}
        for name, value in err.fields.items():
            if value is None:
                continue
            member = members.get(name)
            if member is None:
                if isinstance(value, str | int | float | bool):
                    payload[name] = value
                continue
            write = self._cbor.writer(member)
            payload[member.serialization.get("name", name)] = (
                value if write is None else write(value)
            )
        if err.message:
            payload[message_member(shape)] = err.message
        headers = [
            ("content-type", CONTENT_TYPE),
            PROTOCOL_HEADER,
            ("x-amzn-requestid", request_id),
        ]
        if self.query_compatible:
            fault = "Sender" if err.sender_fault and err.status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{err.code};{fault}"))
        try:
            body = cbor.encode(payload)
        except TypeError:
            body = cbor.encode({k: v for k, v in payload.items() if isinstance(v, str)})
        return Response(err.status, body, headers)


__all__ = ["CONTENT_TYPE", "RpcV2CborCodec"]
