"""Every operation of real models, with botocore as the oracle on both sides.

Requests: values generated from the input shape are serialized by botocore's
own serializer into the exact wire request, then must parse back to the same
values in our codec (and, for REST, `match` must name the operation).
Responses and errors: what our codec writes must parse in botocore to what
we meant, with the error code, message and HTTP status from the model.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from protocol_oracle import SERVICES, botocore_parse, generate_input, generate_output, wire_request
from protocol_shape_values import HEADER, Unsatisfiable, ValueGen

from strongroom.protocol.base import message_member
from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import errors_for
from strongroom.protocol.model import load_service_model

_CODECS: dict[str, Any] = {}


def codec(service: str) -> Any:
    if service not in _CODECS:
        _CODECS[service] = codec_for(load_service_model(service))
    return _CODECS[service]


#: Operations whose wire form is ambiguous in the model itself: S3's deprecated
#: notification configuration names both ``Event`` and the flattened ``Events``
#: list ``<Event>``.
AMBIGUOUS = {("s3", "PutBucketNotification"), ("s3", "GetBucketNotification")}


def _cases() -> list[tuple[str, str]]:
    return [(s, op) for s in SERVICES for op in load_service_model(s).operation_names]


def _seed(service: str, operation: str) -> int:
    return zlib.crc32(f"{service}.{operation}".encode())


def _same_route(model: Any, a: str, b: str) -> bool:
    """Two operations no request can tell apart (S3's deprecated twins)."""
    oa, ob = model.operation_model(a), model.operation_model(b)
    if (oa.http.get("method"), oa.http.get("requestUri")) != (
        ob.http.get("method"),
        ob.http.get("requestUri"),
    ):
        return False

    def located_required(op: Any) -> set[str]:
        shape = op.input_shape
        if shape is None:
            return set()
        return {
            shape.members[n].serialization.get("name", n).lower()
            for n in shape.metadata.get("required", ())
            if shape.members[n].serialization.get("location") in ("header", "querystring")
        }

    return located_required(oa) == located_required(ob)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


@pytest.mark.parametrize(("service", "operation"), _cases())
def test_request_from_botocore_parses_back(service: str, operation: str) -> None:
    if (service, operation) in AMBIGUOUS:
        pytest.skip("the model gives two members one XML name")
    model = load_service_model(service)
    op = model.operation_model(operation)
    gen = ValueGen(_seed(service, operation))
    try:
        params = generate_input(op, gen)
    except Unsatisfiable as exc:
        pytest.skip(f"cannot generate input: {exc}")
    req = wire_request(op, params)
    c = codec(service)
    if model.metadata["protocol"].startswith("rest"):
        found = c.match(req)
        assert found == operation or _same_route(model, operation, found), found
    parsed = c.parse(operation, req)
    assert normalise(parsed) == normalise(params)


def _virtual_cases() -> list[str]:
    model = load_service_model("s3")
    return [
        op
        for op in model.operation_names
        if model.operation_model(op).http["requestUri"].startswith("/{Bucket}")
    ]


@pytest.mark.parametrize("operation", _virtual_cases())
def test_s3_virtual_hosted_request_matches_and_parses(operation: str) -> None:
    if ("s3", operation) in AMBIGUOUS:
        pytest.skip("the model gives two members one XML name")
    model = load_service_model("s3")
    op = model.operation_model(operation)
    gen = ValueGen(_seed("s3-virtual", operation))
    params = generate_input(op, gen)
    req = wire_request(op, params)
    bucket = params["Bucket"]
    assert req.path.startswith("/" + bucket)
    req.path = req.path[len(bucket) + 1 :] or "/"
    req.virtual_bucket = bucket
    c = codec("s3")
    found = c.match(req)
    assert found == operation or _same_route(model, operation, found), found
    assert c.parse(operation, req) == params


def _comparable_output(op: Any, expected: dict[str, Any], parsed: dict[str, Any]) -> Any:
    parsed = dict(parsed)
    parsed.pop("ResponseMetadata", None)
    shape = op.output_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    if payload and isinstance(expected.get(payload), bytes):
        got = parsed.get(payload)
        if isinstance(got, str):
            parsed[payload] = got.encode()
    return parsed


@pytest.mark.parametrize(("service", "operation"), _cases())
def test_response_parses_in_botocore(service: str, operation: str) -> None:
    if (service, operation) in AMBIGUOUS:
        pytest.skip("the model gives two members one XML name")
    model = load_service_model(service)
    op = model.operation_model(operation)
    if op.has_event_stream_output:
        pytest.skip("event-stream output is not served")
    gen = ValueGen(_seed(service, operation) + 1)
    try:
        result = generate_output(op, gen)
    except Unsatisfiable as exc:
        pytest.skip(f"cannot generate output: {exc}")
    resp = codec(service).serialize(operation, result, "req-0001")
    parsed = botocore_parse(op, resp)
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == resp.status
    if op.http.get("method") == "HEAD":
        result = {
            k: v
            for k, v in result.items()
            if op.output_shape.members[k].serialization.get("location")
        }
    assert normalise(_comparable_output(op, result, parsed)) == normalise(result)


def _error_cases() -> list[tuple[str, str]]:
    return [(s, shape.name) for s in SERVICES for shape in load_service_model(s).error_shapes]


@pytest.mark.parametrize(("service", "shape_name"), _error_cases())
def test_error_parses_in_botocore(service: str, shape_name: str) -> None:
    model = load_service_model(service)
    shape = model.shape_for(shape_name)
    error_info = shape.metadata.get("error", {})
    code = error_info.get("code", shape_name)
    status = int(error_info.get("httpStatusCode", 400))
    gen = ValueGen(_seed(service, shape_name))
    msg_key = message_member(shape).lower()
    fields = {}
    for name, member in shape.members.items():
        if name.lower() == msg_key:
            continue
        where = HEADER if member.serialization.get("location") == "header" else "output-body"
        fields[name] = gen.value(member, where, 1)
    err = getattr(errors_for(service), shape_name)("Something <went> & wrong", **fields)
    operation = model.operation_names[0]
    op = model.operation_model(operation)
    resp = codec(service).serialize_error(err, "req-0002", operation)
    assert resp.status == status
    parsed = botocore_parse(op, resp)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "Something <went> & wrong"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    assert parsed["ResponseMetadata"]["RequestId"] == "req-0002"
    if fields:
        modeled = botocore_parse(op, resp, shape)
        modeled.pop("ResponseMetadata", None)
        for name, value in fields.items():
            assert modeled.get(name) == value, name


# --------------------------------------------------------------------------- further protocols
# CloudWatch is served in the protocol botocore picks (json, above) and in
# the others its model lists: Smithy RPC v2 CBOR and query. botocore's
# serializers and parsers for each are the oracle for those codecs, every
# operation and error.

CBOR = "smithy-rpc-v2-cbor"
FURTHER = [("cloudwatch", CBOR), ("cloudwatch", "query")]


def further_codec(service: str, protocol: str) -> Any:
    key = f"{service}/{protocol}"
    if key not in _CODECS:
        _CODECS[key] = codec_for(load_service_model(service), protocol=protocol)
    return _CODECS[key]


def _further_cases() -> list[tuple[str, str, str]]:
    return [(s, p, op) for s, p in FURTHER for op in load_service_model(s).operation_names]


def _has_empty_structure(value: Any) -> bool:
    if isinstance(value, dict):
        return not value or any(_has_empty_structure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_empty_structure(v) for v in value)
    return False


@pytest.mark.parametrize(("service", "protocol", "operation"), _further_cases())
def test_further_protocol_request_from_botocore_parses_back(
    service: str, protocol: str, operation: str
) -> None:
    model = load_service_model(service)
    op = model.operation_model(operation)
    try:
        params = generate_input(op, ValueGen(_seed(service, operation)))
    except Unsatisfiable as exc:
        pytest.skip(f"cannot generate input: {exc}")
    if protocol == "query" and any(_has_empty_structure(v) for v in params.values()):
        pytest.skip("an empty structure is no parameter at all in the query protocol")
    req = wire_request(op, params, protocol)
    c = further_codec(service, protocol)
    if protocol == CBOR:
        assert req.headers["smithy-protocol"] == "rpc-v2-cbor"
        assert c.operation_from_path(req.path) == operation
    assert normalise(c.parse(operation, req)) == normalise(params)


@pytest.mark.parametrize(("service", "protocol", "operation"), _further_cases())
def test_further_protocol_response_parses_in_botocore(
    service: str, protocol: str, operation: str
) -> None:
    model = load_service_model(service)
    op = model.operation_model(operation)
    try:
        result = generate_output(op, ValueGen(_seed(service, operation) + 1))
    except Unsatisfiable as exc:
        pytest.skip(f"cannot generate output: {exc}")
    resp = further_codec(service, protocol).serialize(operation, result, "req-0001")
    parsed = botocore_parse(op, resp, protocol=protocol)
    if protocol == CBOR:
        assert ("smithy-protocol", "rpc-v2-cbor") in resp.headers
    assert normalise(_comparable_output(op, result, parsed)) == normalise(result)


@pytest.mark.parametrize(
    ("service", "protocol", "shape_name"),
    [(s, p, shape.name) for s, p in FURTHER for shape in load_service_model(s).error_shapes],
)
def test_further_protocol_error_parses_in_botocore(
    service: str, protocol: str, shape_name: str
) -> None:
    model = load_service_model(service)
    code = model.shape_for(shape_name).metadata.get("error", {}).get("code", shape_name)
    err = getattr(errors_for(service), shape_name)("Something <went> & wrong")
    op = model.operation_model(model.operation_names[0])
    resp = further_codec(service, protocol).serialize_error(err, "req-0002", op.name)
    parsed = botocore_parse(op, resp, protocol=protocol)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "Something <went> & wrong"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-0002"
