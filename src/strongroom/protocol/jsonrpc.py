"""The `json` protocol (KMS, Secrets Manager, CloudTrail, Logs, SSM, ...).

Requests are ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>`` and
a JSON body; responses are JSON with ``x-amzn-requestid``; errors are
``{"__type": code, "message": text}`` with the status from the model.
"""

from __future__ import annotations

from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel

from strongroom.protocol.base import BaseCodec, message_member, request_body
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request, Response
from strongroom.protocol.jsonbody import JsonCompiler
from strongroom.protocol.values import Malformed


def decode_json_object(body: bytes) -> dict[str, Any]:
    if not body or body.isspace():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Malformed("Unable to parse request body as JSON") from exc
    if value is None:
        return {}
    if type(value) is not dict:
        raise Malformed("The request body must be a JSON object")
    return value


class JsonCodec(BaseCodec):
    protocol = "json"
    default_validation_code = "ValidationException"
    default_malformed_code = "SerializationException"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        super().__init__(model, validation_error_code, malformed_error_code)
        version = model.metadata.get("jsonVersion", "1.1")
        self.content_type = f"application/x-amz-json-{version}"
        self.target_prefix = model.metadata.get("targetPrefix", "")
        self.query_compatible = "awsQueryCompatible" in model.metadata
        self._json = JsonCompiler("unixtimestamp")

    # ----------------------------------------------------------------- routing helper

    def operation_from_target(self, target: str) -> str | None:
        """The operation an ``X-Amz-Target`` header names, if this service has it."""
        prefix, _, name = target.rpartition(".")
        if prefix == self.target_prefix and name in self._operation_names:
            return name
        return None

    # ----------------------------------------------------------------- parse

    def _compile_parse(self, op: OperationModel) -> Any:
        shape = op.input_shape
        if shape is None:
            return None, None
        return self._json.reader(shape), self.validator(shape)

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        read, check = self._parse_plan(operation)
        try:
            data = decode_json_object(request_body(req))
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
        return self._json.writer(shape)

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        write = self._serialize_plan(operation)
        body = orjson.dumps(write(result or {})) if write is not None else b"{}"
        return Response(
            200,
            body,
            [("content-type", self.content_type), ("x-amzn-requestid", request_id)],
        )

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        return json_error_response(self, err, request_id, self.content_type, rest=False)


def json_error_response(
    codec: BaseCodec, err: AwsError, request_id: str, content_type: str, rest: bool
) -> Response:
    """An error in the JSON protocols: body ``{"__type"|..., "message": ...}``."""
    shape = codec.error_shape(err)
    payload: dict[str, Any] = {}
    if not rest:
        payload["__type"] = err.code
    if shape is not None and rest and "Type" in shape.members and "Type" not in err.fields:
        payload["Type"] = "User" if err.sender_fault and err.status < 500 else "Service"
    headers = [("content-type", content_type), ("x-amzn-requestid", request_id)]
    if err.fields:
        members = shape.members if shape is not None else {}
        for name, value in err.fields.items():
            if value is None:
                continue
            member = members.get(name)
            if member is None:
                payload[name] = value if isinstance(value, str | int | float | bool) else str(value)
                continue
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "header":
                headers.append((wire.lower(), str(value)))
                continue
            write = codec._json.writer(member)  # type: ignore[attr-defined]
            payload[wire] = value if write is None else write(value)
    if err.message:  # AWS leaves the member out of an error that has no message
        payload[message_member(shape)] = err.message
    if rest:
        headers.append(("x-amzn-errortype", err.code))
    elif getattr(codec, "query_compatible", False):
        fault = "Sender" if err.sender_fault and err.status < 500 else "Receiver"
        headers.append(("x-amzn-query-error", f"{err.code};{fault}"))
    try:
        body = orjson.dumps(payload)
    except TypeError:
        body = orjson.dumps({k: v for k, v in payload.items() if isinstance(v, str)})
    return Response(err.status, body, headers)
