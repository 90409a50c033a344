"""Details of each protocol's wire format that the oracle tests do not pin down."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import AwsError, errors_for
from strongroom.protocol.http import Request
from strongroom.protocol.model import load_service_model


def codec(name: str, **kwargs):
    return codec_for(load_service_model(name), **kwargs)


def headers_of(resp) -> dict[str, str]:
    return dict(resp.headers)


def test_json_error_body_and_headers() -> None:
    kms = codec("kms")
    resp = kms.serialize_error(errors_for("kms").NotFoundException("Key 'x' does not exist"), "r1")
    assert resp.status == 400
    assert orjson.loads(resp.body) == {
        "__type": "NotFoundException",
        "message": "Key 'x' does not exist",
    }
    assert headers_of(resp) == {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": "r1",
    }
    # Secrets Manager's shapes spell it "Message".
    sm = codec("secretsmanager")
    body = orjson.loads(
        sm.serialize_error(errors_for("secretsmanager").ResourceNotFoundException("gone"), "r").body
    )
    assert body == {"__type": "ResourceNotFoundException", "Message": "gone"}


def test_json_error_without_a_message_has_no_message_member() -> None:
    """KMSInvalidSignatureException and the like carry no text: AWS's body is
    ``{"__type": ...}`` alone, not ``"message": ""``."""
    kms = codec("kms")
    resp = kms.serialize_error(errors_for("kms").KMSInvalidSignatureException(""), "r1")
    assert orjson.loads(resp.body) == {"__type": "KMSInvalidSignatureException"}
    lam = codec("lambda")
    resp = lam.serialize_error(
        errors_for("lambda").ResourceNotFoundException(""), "r2", "GetFunction"
    )
    assert orjson.loads(resp.body) == {"Type": "User"}


def test_rest_json_error_carries_the_type_header() -> None:
    lam = codec("lambda")
    err = errors_for("lambda").ResourceNotFoundException("Function not found: fn")
    resp = lam.serialize_error(err, "r2", "GetFunction")
    assert resp.status == 404
    assert headers_of(resp)["x-amzn-errortype"] == "ResourceNotFoundException"
    assert orjson.loads(resp.body) == {"Type": "User", "Message": "Function not found: fn"}


def test_query_error_says_who_is_at_fault() -> None:
    iam = codec("iam")
    resp = iam.serialize_error(AwsError("boom", code="ServiceFailure", status=500), "r3")
    assert resp.status == 500
    assert b"<Type>Receiver</Type><Code>ServiceFailure</Code>" in resp.body
    assert resp.body.startswith(
        b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    )


def test_s3_errors_have_no_body_for_head_requests() -> None:
    s3 = codec("s3")
    err = errors_for("s3").NoSuchKey("The specified key does not exist.", Key="k")
    head = s3.serialize_error(err, "r4", "HeadObject")
    assert (head.status, head.body) == (404, b"")
    get = s3.serialize_error(err, "r4", "GetObject")
    assert b"<Code>NoSuchKey</Code>" in get.body and b"<Key>k</Key>" in get.body
    assert headers_of(get)["x-amz-request-id"] == "r4"


def test_query_response_wraps_the_result() -> None:
    sts = codec("sts")
    resp = sts.serialize("GetCallerIdentity", {"Account": "000000000000", "Nope": 1}, "r5")
    assert resp.body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult>"
        b"<ResponseMetadata><RequestId>r5</RequestId></ResponseMetadata>"
        b"</GetCallerIdentityResponse>"
    )


def test_s3_root_names_and_scalar_roots() -> None:
    s3 = codec(
        "s3",
        xml_root_names={"GetBucketLocation": "LocationConstraint", "ListBuckets": "Buckets"},
    )
    resp = s3.serialize("GetBucketLocation", {"LocationConstraint": "eu-west-1"}, "r")
    assert resp.body.endswith(
        b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"eu-west-1</LocationConstraint>"
    )
    resp = s3.serialize("CreateMultipartUpload", {"Bucket": "b", "Key": "k", "UploadId": "u"}, "r")
    assert b"<CreateMultipartUploadResult xmlns=" in resp.body


def test_rest_output_headers_status_and_timestamps() -> None:
    s3 = codec("s3")
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    resp = s3.serialize(
        "HeadObject",
        {"ContentLength": 5, "LastModified": when, "Metadata": {"Owner": "me"}},
        "r",
    )
    h = headers_of(resp)
    assert h["last-modified"] == "Tue, 02 Jan 2024 03:04:05 GMT"
    assert h["content-length"] == "5"
    assert h["x-amz-meta-owner"] == "me"
    lam = codec("lambda")
    resp = lam.serialize("Invoke", {"StatusCode": 202, "Payload": b""}, "r")
    assert resp.status == 202
    deleted = lam.serialize("DeleteAlias", {}, "r")
    assert (deleted.status, deleted.body) == (204, b"")


def test_s3_routing_prefers_the_most_specific_template() -> None:
    s3 = codec("s3")
    cases = [
        ("GET", "/b", "list-type=2&prefix=a", {}, "ListObjectsV2"),
        ("GET", "/b", "prefix=a", {}, "ListObjects"),
        ("GET", "/b/", "", {}, "ListObjects"),
        ("GET", "/b", "acl", {}, "GetBucketAcl"),
        ("GET", "/b", "analytics&id=x", {}, "GetBucketAnalyticsConfiguration"),
        ("GET", "/b", "analytics", {}, "ListBucketAnalyticsConfigurations"),
        ("GET", "/b/a/b.txt", "", {}, "GetObject"),
        ("GET", "/b/a/b.txt", "uploadId=1", {}, "ListParts"),
        ("PUT", "/b/k", "", {}, "PutObject"),
        ("PUT", "/b/k", "", {"x-amz-copy-source": "s/k"}, "CopyObject"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {"x-amz-copy-source": "s/k"}, "UploadPartCopy"),
        ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload"),
        ("POST", "/b/k", "uploadId=u", {}, "CompleteMultipartUpload"),
        ("DELETE", "/b/k", "uploadId=u", {}, "AbortMultipartUpload"),
        ("DELETE", "/b/k", "", {}, "DeleteObject"),
        ("GET", "/", "", {}, "ListBuckets"),
        ("GET", "/b", "lifecycle", {}, "GetBucketLifecycleConfiguration"),
    ]
    for method, path, query, headers, expected in cases:
        assert s3.match(Request(method, path, query, headers, b"")) == expected, (path, query)
    virtual = Request("GET", "/", "location", {}, b"", virtual_bucket="bkt")
    assert s3.match(virtual) == "GetBucketLocation"
    assert s3.parse("GetBucketLocation", virtual) == {"Bucket": "bkt"}
    key = Request("GET", "/dir/a%20b%2Bc", "", {}, b"", virtual_bucket="bkt")
    assert s3.parse(s3.match(key), key) == {"Bucket": "bkt", "Key": "dir/a b+c"}


def test_lambda_routes_and_labels() -> None:
    lam = codec("lambda")
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn"
    req = Request("GET", f"/2015-03-31/functions/{arn}/configuration", "Qualifier=1", {}, b"")
    assert lam.match(req) == "GetFunctionConfiguration"
    assert lam.parse("GetFunctionConfiguration", req) == {
        "FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "Qualifier": "1",
    }
    assert lam.match(Request("GET", "/2015-03-31/functions/", "", {}, b"")) == "ListFunctions"
    assert lam.match(Request("GET", "/nowhere", "", {}, b"")) is None


def test_plans_are_built_once_and_requests_are_cheap() -> None:
    kms = codec("kms")
    req = Request(
        "POST",
        "/",
        "",
        {},
        b'{"KeyId":"alias/app","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}',
    )
    result = {"CiphertextBlob": b"x" * 64, "KeyId": "k", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    kms.parse("Encrypt", req)
    kms.serialize("Encrypt", result, "r")
    plan = kms._parse_plans["Encrypt"]
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        kms.parse("Encrypt", req)
        kms.serialize("Encrypt", result, "r")
    per_call = (time.perf_counter() - start) / n
    assert kms._parse_plans["Encrypt"] is plan
    # ~10 µs on a quiet machine; the bound only catches a plan rebuilt per request.
    assert per_call < 250e-6, per_call
