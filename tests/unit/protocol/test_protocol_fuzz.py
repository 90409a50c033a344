"""Crafted requests: a codec answers with an AwsError (4xx), never anything else."""

from __future__ import annotations

import random
import zlib
from typing import Any

import orjson
import pytest
from protocol_oracle import generate_input, wire_request
from protocol_shape_values import Unsatisfiable, ValueGen

from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request
from strongroom.protocol.model import load_service_model

JUNK_TEXT = [
    "",
    " ",
    "%",
    "%ZZ",
    "%ff%fe",
    "\x00",
    "a" * 5000,
    "..",
    "member",
    "entry.1",
    "-1",
    "1e400",
    "NaN",
    "true",
    "<x/>",
    '{"a":',
    "\ud7ff",
    "🔥",
]


def junk_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(10 if depth < 4 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 2**31, 2**63 - 1, -(2**63), 1.5, 1e308, -1e-308])
    if choice == 3:
        return rng.choice(JUNK_TEXT)
    if choice == 4:
        return rng.choice(["2024-01-01T00:00:00Z", "yesterday", "1e20", "aGk="])
    if choice == 5:
        return ""
    if choice in (6, 7):
        return [junk_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["a", "Key", "Value", "Name"]): junk_json(rng, depth + 1)}


def mutate_json(rng: random.Random, body: bytes) -> bytes:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {}
    if isinstance(data, dict) and data and rng.random() < 0.8:
        key = rng.choice(list(data))
        data[key] = junk_json(rng)
        return orjson.dumps(data)
    return rng.choice(
        [b"", b"null", b"[]", b"{", b'{"a":1}' * 3, b"\xff\xfe", b"[" * 2000 + b"]" * 2000]
    )


def mutate_form(rng: random.Random, body: bytes) -> bytes:
    pairs = [p for p in body.split(b"&") if p]
    for _ in range(rng.randrange(1, 4)):
        key = rng.choice(
            [b"Tags.member.x.Key", b"Tags..", b"Tags.member.99999999999.Key", b"A.entry.1.key"]
            + [p.split(b"=")[0] for p in pairs]
        )
        value = rng.choice([b"", b"%ff", b"%ZZ", b"abc", b"-1", b"1e999", b"true"])
        pairs.append(key + b"=" + value)
    if rng.random() < 0.2:
        pairs.append(b"\xff\xfe=1")
    return b"&".join(pairs)


def mutate_xml(rng: random.Random, body: bytes) -> bytes:
    return rng.choice(
        [
            body[: len(body) // 2],
            b"<a>" * 500,
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
            body.replace(b">", b">junk", 1),
            b"<Tagging><TagSet><Tag><Key>k</Key><Value><x/></Value></Tag></TagSet></Tagging>",
            b"\xff\xfe<\x00",
            body + b"<trailing/>",
        ]
    )


SERVICES = ["kms", "secretsmanager", "logs", "iam", "sts", "rds", "s3", "lambda", "cloudwatch"]


@pytest.mark.parametrize("service", SERVICES)
def test_crafted_requests_only_raise_aws_errors(service: str) -> None:
    model = load_service_model(service)
    codec = codec_for(model)
    protocol = codec.protocol
    rng = random.Random(zlib.crc32(service.encode()))
    operations = list(model.operation_names)
    outcomes = {"parsed": 0, "rejected": 0}
    for i in range(400):
        name = rng.choice(operations)
        op = model.operation_model(name)
        try:
            params = generate_input(op, ValueGen(i))
        except Unsatisfiable:
            continue
        req = wire_request(op, params)
        if protocol == "json" or (protocol == "rest-json" and req.body[:1] == b"{"):
            req.body = mutate_json(rng, req.body)
        elif protocol == "query":
            req.body = mutate_form(rng, req.body)
        elif protocol == "rest-xml" and req.body[:1] == b"<":
            req.body = mutate_xml(rng, req.body)
        if protocol.startswith("rest") and rng.random() < 0.5:
            req.path = req.path + rng.choice(["%ff", "%", "/%2F..", "//x"])
            req.query = req.query + rng.choice(["&%ZZ=1", "&max-keys=abc", "&partNumber=x", ""])
            for header in list(req.headers)[:2]:
                req.headers[header] = rng.choice(["", "abc", "%ff", "Wed, 99 Foo 2020", "-1"])
        req._form = None
        try:
            found = codec.match(req)
            codec.parse(found if found else name, req)
            outcomes["parsed"] += 1
        except AwsError as exc:
            assert 400 <= exc.status < 500, (name, exc)
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0


@pytest.mark.parametrize("service", ["kms", "iam", "s3", "lambda"])
def test_unknown_operation_is_an_aws_error(service: str) -> None:
    codec = codec_for(load_service_model(service))
    with pytest.raises(AwsError) as info:
        codec.parse("NoSuchOperation", Request("POST", "/", "", {}, b""))
    assert info.value.status == 400
