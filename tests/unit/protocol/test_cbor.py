"""CBOR (RFC 8949) against the RFC's own examples (Appendix A), botocore's
encoder and decoder, and crafted input that must be refused, never crash."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from strongroom.protocol import cbor
from strongroom.protocol.values import Malformed

#: RFC 8949 Appendix A: (diagnostic value, encoding) pairs both ways.
EXAMPLES = [
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (18446744073709551616, "c249010000000000000000"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-18446744073709551617, "c349010000000000000000"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ('"\\', "62225c"),
    ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (
        {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
        "a56161614161626142616361436164614461656145",
    ),
]

#: Decode-only examples (floats in their shortest forms, indefinite lengths).
DECODE_ONLY = [
    (0.0, "f90000"),
    (-0.0, "f98000"),
    (1.0, "f93c00"),
    (1.1, "fb3ff199999999999a"),
    (1.5, "f93e00"),
    (65504.0, "f97bff"),
    (100000.0, "fa47c35000"),
    (3.4028234663852886e38, "fa7f7fffff"),
    (1.0e300, "fb7e37e43c8800759c"),
    (5.960464477539063e-8, "f90001"),
    (-4.0, "f9c400"),
    (-4.1, "fbc010666666666666"),
    (math.inf, "f97c00"),
    (-math.inf, "f9fc00"),
    (None, "f7"),
    (b"\x01\x02\x03\x04\x05", "5f42010243030405ff"),
    ("streaming", "7f657374726561646d696e67ff"),
    ([], "9fff"),
    ([1, [2, 3], [4, 5]], "9f018202039f0405ffff"),
    ([1, [2, 3], [4, 5]], "83018202039f0405ff"),
    (list(range(1, 26)), "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff"),
    ({"a": 1, "b": [2, 3]}, "bf61610161629f0203ffff"),
    (["a", {"b": "c"}], "826161bf61626163ff"),
    ({"Fun": True, "Amt": -2}, "bf6346756ef563416d7421ff"),
]


@pytest.mark.parametrize(("value", "hex_text"), EXAMPLES)
def test_rfc_examples_encode_and_decode(value: object, hex_text: str) -> None:
    assert cbor.encode(value).hex() == hex_text
    assert cbor.decode(bytes.fromhex(hex_text)) == value


@pytest.mark.parametrize(("value", "hex_text"), DECODE_ONLY)
def test_rfc_examples_decode(value: object, hex_text: str) -> None:
    got = cbor.decode(bytes.fromhex(hex_text))
    assert got == value
    if isinstance(value, float) and value == 0:
        assert math.copysign(1, got) == math.copysign(1, value)


def test_nan_decodes() -> None:
    assert math.isnan(cbor.decode(bytes.fromhex("f97e00")))
    assert math.isnan(cbor.decode(cbor.encode(math.nan)))


def test_tag_1_is_a_timestamp_both_ways() -> None:
    # RFC 8949 A: 1(1363896240) and 1(1363896240.5)
    assert cbor.decode(bytes.fromhex("c11a514b67b0")) == datetime(2013, 3, 21, 20, 4, tzinfo=UTC)
    half = cbor.decode(bytes.fromhex("c1fb41d452d9ec200000"))
    assert half == datetime(2013, 3, 21, 20, 4, 0, 500000, tzinfo=UTC)
    assert cbor.encode(datetime(2013, 3, 21, 20, 4, tzinfo=UTC)).hex() == "c11a514b67b0"
    assert cbor.encode(half).hex() == "c1fb41d452d9ec200000"


@pytest.mark.parametrize(
    "hex_text",
    [
        "",  # nothing
        "18",  # argument missing
        "1c",  # reserved additional information
        "62c3",  # string shorter than its length
        "5b" + "ff" * 8,  # a length far beyond the input
        "9f01",  # indefinite array never broken
        "a1016161",  # map key not text
        "c06161",  # tag 0 (date text) is not Smithy's
        "c16161",  # tag 1 over text
        "f8ff",  # simple value 255
        "62fffe",  # invalid UTF-8
        "0101",  # trailing data
        "5f6161ff",  # text chunk inside a byte string
        "81" * 100 + "00",  # nesting past MAX_DEPTH
    ],
)
def test_malformed_input_is_refused(hex_text: str) -> None:
    with pytest.raises(Malformed):
        cbor.decode(bytes.fromhex(hex_text))


def test_botocore_parser_reads_what_we_encode() -> None:
    from botocore.parsers import RpcV2CBORParser

    value = {"s": "x\u00e9", "n": -7, "big": 2**40, "f": 1.25, "b": b"\x00\xff", "l": [True, None]}
    parser = RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(cbor.encode(value))
    decoded = parser.parse_data_item(stream)
    assert decoded == {k: v for k, v in value.items() if k != "l"} | {"l": [True, None]}


def test_crafted_cbor_requests_only_raise_aws_errors() -> None:
    """Every CloudWatch operation's botocore-made CBOR request, cut, spliced
    and bit-flipped: the codec answers an AwsError or a value, never a crash."""
    import random

    from protocol_oracle import generate_input, wire_request
    from protocol_shape_values import Unsatisfiable, ValueGen

    from strongroom.protocol.codecs import codec_for
    from strongroom.protocol.errors import AwsError
    from strongroom.protocol.model import load_service_model

    model = load_service_model("cloudwatch")
    codec = codec_for(model, protocol="smithy-rpc-v2-cbor")
    rng = random.Random(8949)
    rejected = 0
    for i in range(600):
        name = rng.choice(list(model.operation_names))
        op = model.operation_model(name)
        try:
            req = wire_request(op, generate_input(op, ValueGen(i)), "smithy-rpc-v2-cbor")
        except Unsatisfiable:
            continue
        body = bytearray(req.body)
        choice = rng.random()
        if body and choice < 0.4:
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        elif body and choice < 0.7:
            del body[rng.randrange(len(body)) :]
        else:
            body[rng.randrange(len(body) + 1) : 0] = bytes([rng.randrange(256)])
        req.body = bytes(body)
        try:
            codec.parse(name, req)
        except AwsError:
            rejected += 1
    assert rejected > 100
