"""Input validation in AWS's exact wording, and requests no protocol can read."""

from __future__ import annotations

import base64

import orjson
import pytest
from botocore.model import ServiceModel

from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request
from strongroom.protocol.model import load_service_model
from strongroom.protocol.validation import java_to_python_regex, pattern_matcher


def kms():
    return codec_for(load_service_model("kms"))


def json_request(body: object) -> Request:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Request("POST", "/", "", {"content-type": "application/x-amz-json-1.1"}, raw)


def form_request(body: str) -> Request:
    return Request(
        "POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, body.encode()
    )


def error_of(codec, operation: str, req: Request) -> AwsError:
    with pytest.raises(AwsError) as info:
        codec.parse(operation, req)
    return info.value


# --------------------------------------------------------------------------- AWS wording


def test_missing_required_member() -> None:
    err = error_of(kms(), "Encrypt", json_request({"Plaintext": "aGk="}))
    assert err.code == "ValidationException"
    assert err.status == 400
    assert err.message == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_sensitive_value_is_never_echoed() -> None:
    plaintext = base64.b64encode(b"x" * 4097).decode()
    err = error_of(kms(), "Encrypt", json_request({"KeyId": "k", "Plaintext": plaintext}))
    assert err.message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_enum_lists_the_allowed_values() -> None:
    model = load_service_model("kms")
    enum = model.shape_for("KeySpec").enum
    err = error_of(kms(), "CreateKey", json_request({"KeySpec": "abc"}))
    assert err.message == (
        "1 validation error detected: Value 'abc' at 'keySpec' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(enum)}]"
    )


def test_several_errors_are_counted_and_joined() -> None:
    err = error_of(kms(), "GenerateRandom", json_request({"NumberOfBytes": 0}))
    assert err.message == (
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )
    err = error_of(
        kms(),
        "Encrypt",
        json_request({"Plaintext": "aGk=", "GrantTokens": ["", "ok"], "KeyId": ""}),
    )
    assert err.message == (
        "2 validation errors detected: "
        "Value '' at 'keyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'grantTokens.1.member' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_nested_paths_are_lower_camel_with_list_indexes() -> None:
    err = error_of(kms(), "CreateKey", json_request({"Tags": [{"TagKey": "", "TagValue": "v"}]}))
    assert err.message == (
        "1 validation error detected: Value '' at 'tags.1.member.tagKey' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )
    err = error_of(kms(), "CreateKey", json_request({"Tags": [{"TagValue": "v"}]}))
    assert err.message == (
        "1 validation error detected: Value null at 'tags.1.member.tagKey' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_query_services_say_validation_error_and_check_patterns() -> None:
    iam = codec_for(load_service_model("iam"))
    err = error_of(iam, "CreateUser", form_request("Action=CreateUser&UserName=a%20b"))
    assert err.code == "ValidationError"
    assert err.message == (
        "1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )


def test_validation_code_can_be_overridden() -> None:
    rds = codec_for(load_service_model("rds"), "InvalidParameterValue")
    err = error_of(
        rds,
        "DescribeDBInstances",
        form_request("Action=DescribeDBInstances&Filters.Filter.1.Name=x"),
    )
    assert err.code == "InvalidParameterValue"
    assert "'filters.1.member.values'" in err.message


def test_unknown_members_are_ignored() -> None:
    out = kms().parse("Encrypt", json_request({"KeyId": "k", "Plaintext": "aGk=", "Nope": [1]}))
    assert out == {"KeyId": "k", "Plaintext": b"hi"}


def test_json_timestamps_accept_numbers_and_iso_strings() -> None:
    trail = codec_for(load_service_model("cloudtrail"))
    for value in (1700000000, 1700000000.0, "2023-11-14T22:13:20Z", "2023-11-14T22:13:20+00:00"):
        out = trail.parse("LookupEvents", json_request({"StartTime": value}))
        assert out["StartTime"].timestamp() == 1700000000
        assert out["StartTime"].utcoffset().total_seconds() == 0


# --------------------------------------------------------------------------- a model of our own

SPEC = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "probe",
        "jsonVersion": "1.1",
        "protocol": "json",
        "serviceId": "Probe",
        "signatureVersion": "v4",
        "targetPrefix": "Probe_20200101",
        "uid": "probe-2020-01-01",
    },
    "operations": {
        "Check": {
            "name": "Check",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "CheckRequest"},
            "output": {"shape": "CheckRequest"},
        }
    },
    "shapes": {
        "CheckRequest": {
            "type": "structure",
            "required": ["Name"],
            "members": {
                "Name": {"shape": "Name"},
                "Secret": {"shape": "Secret"},
                "Labels": {"shape": "Labels"},
                "Data": {"shape": "Data"},
                "Ratio": {"shape": "Ratio"},
                "Items": {"shape": "Items"},
                "Node": {"shape": "Node"},
            },
        },
        "Name": {"type": "string", "min": 2, "max": 5, "pattern": "^[a-z]+$"},
        "Secret": {"type": "string", "max": 3, "sensitive": True},
        "Labels": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Value"}},
        "Value": {"type": "string", "min": 1, "max": 4},
        "Data": {"type": "blob", "max": 2},
        "Ratio": {"type": "double", "min": 0.5, "max": 1},
        "Items": {"type": "list", "member": {"shape": "Name"}, "max": 1},
        "Node": {
            "type": "structure",
            "members": {"Name": {"shape": "Name"}, "Child": {"shape": "Node"}},
        },
    },
}


def probe():
    return codec_for(ServiceModel(SPEC, service_name="probe"))


def probe_message(body: dict) -> str:
    return error_of(probe(), "Check", json_request(body)).message


def test_map_keys_and_values_are_reported_as_aws_does() -> None:
    assert probe_message({"Name": "ab", "Labels": {"ab": "toolong", "A": "x"}}) == (
        "2 validation errors detected: "
        "Value at 'labels' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 5, Member must have length greater "
        "than or equal to 2, Member must satisfy regular expression pattern: ^[a-z]+$]; "
        "Value at 'labels' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 4, Member must have length greater "
        "than or equal to 1]"
    )


def test_blob_list_number_and_recursive_structure_constraints() -> None:
    message = probe_message(
        {
            "Name": "ab",
            "Data": base64.b64encode(b"abc").decode(),
            "Ratio": 2,
            "Items": ["ab", "cd"],
            "Secret": "long",
            "Node": {"Child": {"Child": {"Name": "X"}}},
        }
    )
    assert message.startswith("6 validation errors detected: ")
    parts = message.split(": ", 1)[1].split("; ")
    # In model order: Secret, Data, Ratio, Items, Node.
    assert parts == [
        "Value at 'secret' failed to satisfy constraint: Member must have length less than "
        "or equal to 3",
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]' at 'data' failed to satisfy "
        "constraint: Member must have length less than or equal to 2",
        "Value '2.0' at 'ratio' failed to satisfy constraint: Member must have value less "
        "than or equal to 1",
        "Value '[ab, cd]' at 'items' failed to satisfy constraint: Member must have length "
        "less than or equal to 1",
        "Value 'X' at 'node.child.child.name' failed to satisfy constraint: Member must have "
        "length greater than or equal to 2",
        "Value 'X' at 'node.child.child.name' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-z]+$",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Name": 5}, "NUMBER_VALUE can not be converted to a String"),
        ({"Name": {}}, "Start of structure or map found where not expected."),
        ({"Name": "ab", "Items": "ab"}, "STRING_VALUE can not be converted to a List"),
        ({"Name": "ab", "Ratio": True}, "TRUE_VALUE can not be converted to a Double"),
        ({"Name": "ab", "Data": "***"}, "Invalid base64 value"),
        (b"{not json", "Unable to parse request body as JSON"),
        (b"[1, 2]", "The request body must be a JSON object"),
    ],
)
def test_wrong_json_types_are_serialization_exceptions(body: object, message: str) -> None:
    err = error_of(probe(), "Check", json_request(body))
    assert err.code == "SerializationException"
    assert err.status == 400
    assert err.message == message


def test_java_patterns_are_translated_for_python() -> None:
    tag = "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"
    assert pattern_matcher(tag)("Hello wörld 42") is not None
    assert pattern_matcher(tag)("semi;colon") is None
    assert pattern_matcher("[\\w-_]*")("a-b_c") is not None
    surrogates = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
    assert "\\U00010000-\\U0010FFFF" in java_to_python_regex(surrogates)
    assert pattern_matcher(surrogates)("emoji \U0001f600") is not None
    # Unanchored patterns match the whole value, as Java's matches() does.
    assert pattern_matcher("[a-z]+")("abc1") is None
