"""botocore as the oracle: its serializers write requests, its parsers read responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from protocol_shape_values import BODY, GREEDY, HEADER, QUERY, URI, ValueGen

from strongroom.protocol.http import Request, Response
from strongroom.protocol.model import served_protocols

SERVICES = [
    "sts",
    "iam",
    "kms",
    "cloudtrail",
    "secretsmanager",
    "logs",
    "rds",
    "redshift",
    "s3",
    "lambda",
    "ssm",
    "cloudwatch",
]


def where_for(op: OperationModel, name: str, member: Any) -> str:
    loc = member.serialization.get("location")
    if loc == "uri":
        wire = member.serialization.get("name", name)
        return GREEDY if "{" + wire + "+}" in op.http.get("requestUri", "") else URI
    if loc in ("header", "headers"):
        return HEADER
    if loc == "querystring":
        return QUERY
    return BODY


def generate_input(op: OperationModel, gen: ValueGen) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    required = set(shape.metadata.get("required", ()))
    for name, member in shape.members.items():
        if member.serialization.get("eventstream"):
            continue
        try:
            out[name] = gen.value(member, where_for(op, name, member), 1)
        except Exception:
            if name in required:
                raise
    return out


def generate_output(op: OperationModel, gen: ValueGen) -> dict[str, Any]:
    shape = op.output_shape
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        if loc == "statusCode":
            out[name] = gen.rng.choice([200, 202])
        elif loc in ("header", "headers"):
            out[name] = gen.value(member, HEADER, 1)
        else:
            out[name] = gen.value(member, "output-body", 1)
    return out


def wire_protocol(op: OperationModel) -> str:
    """The protocol botocore sends `op` in (CloudWatch's model lists three)."""
    return served_protocols(op.service_model)[0]


def wire_request(
    op: OperationModel, params: dict[str, Any], protocol: str | None = None
) -> Request:
    protocol = protocol or wire_protocol(op)
    serializer = create_serializer(protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url="https://service.example.com")
    prepared = create_request_object(request_dict).prepare()
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read()
    headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()
    }
    return Request(prepared.method, parts.path or "/", parts.query, headers, body)


def botocore_parse(
    op: OperationModel, resp: Response, shape: Any = "output", protocol: str | None = None
) -> dict[str, Any]:
    parser = create_parser(protocol or wire_protocol(op))
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    target = op.output_shape if shape == "output" else shape
    body: Any = resp.body
    payload = target.serialization.get("payload") if target is not None else None
    if payload and target.members[payload].type_name == "blob":
        # As a stream in real life: botocore hands it over undecoded.
        body = bytearray(body)
    response = {"status_code": resp.status, "headers": headers, "body": body}
    return parser.parse(response, target)


__all__ = ["QUERY", "SERVICES", "botocore_parse", "generate_input", "wire_request"]
