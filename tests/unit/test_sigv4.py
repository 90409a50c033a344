"""SigV4 verification, with botocore's own signers as the oracle."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import botocore.auth
import botocore.config
import botocore.session
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

from strongroom.auth import sigv4
from strongroom.auth.sigv4 import SignatureInfo, SigV4Error, extract, verify
from strongroom.protocol.http import Request

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with+plus="
NOW = datetime(2024, 1, 1, 0, 10, 0, tzinfo=UTC)
HOST = "localhost:4566"


@pytest.fixture(autouse=True)
def frozen_botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def fixed(remove_tzinfo: bool = True) -> datetime:
        return NOW.replace(tzinfo=None) if remove_tzinfo else NOW

    monkeypatch.setattr(botocore.auth, "get_current_datetime", fixed)


def to_request(aws: AWSRequest) -> Request:
    """The signed request as the server sees it: raw path/query, lower-cased headers."""
    prepared = aws.prepare()
    return _from_wire(prepared.method, prepared.url, prepared.headers.items(), prepared.body)


def _from_wire(method: str, url: str, header_items, body) -> Request:
    parts = urlsplit(url)
    headers: dict[str, str] = {}
    for name, value in header_items:
        name = name.lower()
        value = value.decode() if isinstance(value, bytes) else value
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    headers.setdefault("host", botocore.auth._host_from_url(url))
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read()
    return Request(method=method, path=parts.path, query=parts.query, headers=headers, body=body)


def sign(
    signer_cls,
    method: str,
    url: str,
    *,
    service: str,
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
    data=b"",
    params=None,
    token: str | None = TOKEN,
    context: dict | None = None,
    **signer_kw,
) -> Request:
    aws = AWSRequest(method=method, url=url, headers=headers or {}, data=data, params=params)
    if context:
        aws.context.update(context)
    signer_cls(Credentials(AKID, SECRET, token), service, region, **signer_kw).add_auth(aws)
    return to_request(aws)


def check(req: Request, *, now: datetime = NOW, secret: str = SECRET) -> SignatureInfo:
    info = extract(req)
    assert info is not None
    verify(req, info, secret, now)
    return info


def rejected(req: Request, *, now: datetime = NOW, secret: str = SECRET) -> SigV4Error:
    with pytest.raises(SigV4Error) as caught:
        check(req, now=now, secret=secret)
    return caught.value


def kms_request(**kw) -> Request:
    body = json.dumps({"KeyId": "alias/test", "Plaintext": "aGVsbG8="}).encode()
    return sign(
        SigV4Auth,
        "POST",
        f"http://{HOST}/",
        service="kms",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.Encrypt",
            "User-Agent": "Boto3/1.34 md/Botocore#1.34",
            "amz-sdk-invocation-id": "f6c4c1a2-3f0e-4d7c-9d3a-7a0b2c1d9e8f",
            "amz-sdk-request": "attempt=1",
        },
        data=body,
        **kw,
    )


# -- acceptance ----------------------------------------------------------------


def test_json_post_accepted_and_fields_extracted() -> None:
    req = kms_request()
    info = check(req)
    assert info.access_key_id == AKID
    assert info.date == "20240101"
    assert info.region == "us-east-1"
    assert info.service == "kms"
    assert info.amz_date == NOW
    assert info.amz_date.tzinfo is not None
    assert info.session_token == TOKEN
    assert info.presigned is False
    assert info.expires is None
    assert "x-amz-target" in info.signed_headers
    assert "host" in info.signed_headers
    assert "user-agent" not in info.signed_headers
    assert len(info.signature) == 64


def test_no_auth_is_none() -> None:
    req = Request("GET", "/", "a=1&X-Amz-Date=20240101T000000Z", {"host": HOST}, b"")
    assert extract(req) is None
    assert extract(Request("POST", "/", "", {"host": HOST}, b"{}")) is None


def test_without_session_token() -> None:
    assert check(kms_request(token=None)).session_token is None


def test_query_protocol_form_post() -> None:
    req = sign(
        SigV4Auth,
        "POST",
        f"http://{HOST}/",
        service="sts",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={"Action": "AssumeRole", "Version": "2011-06-15", "RoleSessionName": "a b+c~ü"},
    )
    assert req.body.startswith(b"Action=AssumeRole")
    check(req)


TRICKY_PARAMS = [
    ("Action", "ListThings"),
    ("space", "a b"),
    ("plus", "a+b"),
    ("tilde", "~user"),
    ("unicode", "zürich ☃ 日本"),
    ("repeat", "2"),
    ("repeat", "1"),
    ("repeat", ""),
    ("empty", ""),
    ("slash", "a/b?c=d&e"),
    ("key with space", "v"),
    ("reserved", "!*'();:@&=+$,/?#[]%"),
    ("a-b", "x"),
    ("a", "y"),
]


def test_get_tricky_query_encoded_like_botocore_clients() -> None:
    # botocore's REST serializers put an already percent-encoded query on the URL.
    url = f"http://{HOST}/things?{percent_encode_sequence(TRICKY_PARAMS)}&flag"
    req = sign(SigV4Auth, "GET", url, service="execute-api")
    assert "%20" in req.query
    check(req)


def test_get_tricky_query_from_params() -> None:
    # AWSRequest(params=...) puts '+' for spaces on the wire but signs '%20'.
    req = sign(SigV4Auth, "GET", f"http://{HOST}/things", service="sqs", params=TRICKY_PARAMS)
    assert "+" in req.query
    check(req)


def test_lower_case_percent_escapes_in_query() -> None:
    url = f"http://{HOST}/?name=%c3%bc%2fx"
    signed = sign(SigV4Auth, "GET", f"http://{HOST}/?name=%C3%BC%2Fx", service="sqs")
    req = Request("GET", "/", urlsplit(url).query, signed.headers, b"")
    check(req)


def test_raw_non_ascii_query_as_the_server_decodes_it() -> None:
    # The server decodes the wire as latin-1; raw UTF-8 bytes sign as their %-escapes.
    signed = sign(SigV4Auth, "GET", f"http://{HOST}/?name=z%C3%BCrich%E2%98%83", service="sqs")
    raw = "name=" + "zürich☃".encode().decode("latin-1")
    check(Request("GET", "/", raw, signed.headers, b""))


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions/my%20fn/invocations",
        "/a//b/./c/../d",
        "/a/b/",
        "/.well-known/x",
        "/caf%C3%A9/%E2%98%83",
        "/x%2Fy:z@w",
        "/..",
        "",
    ],
)
def test_non_s3_paths_normalized_and_double_encoded(path: str) -> None:
    req = sign(SigV4Auth, "GET", f"http://{HOST}{path}", service="lambda")
    check(req)


S3_KEYS = [
    "plain.txt",
    "with space/and+plus.txt",
    "unicode/zürich/☃.bin",
    "double//slash///x",
    "dots/./../x",
    "tilde~and!*'()$&=;:@,",
    "%25percent",
    "/leading",
]


@pytest.mark.parametrize("key", S3_KEYS)
def test_s3_put_keys(key: str) -> None:
    url = f"http://{HOST}/bucket/{percent_encode(key, safe='/~')}"
    req = sign(
        S3SigV4Auth,
        "PUT",
        url,
        service="s3",
        headers={"Content-Type": "text/plain", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        data=b"hello s3",
    )
    assert req.headers["x-amz-content-sha256"] != "UNSIGNED-PAYLOAD"
    check(req)


def test_s3_virtual_host_get_with_query() -> None:
    url = "http://bucket.s3.us-west-2.amazonaws.com/a%20b?list-type=2&prefix=x%2Fy&acl"
    req = sign(S3SigV4Auth, "GET", url, service="s3", region="us-west-2")
    check(req)


def test_s3_unsigned_payload() -> None:
    req = sign(
        S3SigV4Auth,
        "PUT",
        "https://s3.amazonaws.com/bucket/key",
        service="s3",
        headers={"Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="},
        data=b"hello",
        context={"client_config": SimpleNamespace(s3={"payload_signing_enabled": False})},
    )
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    check(req)
    req.body = b"anything"
    check(req)


def test_s3_streaming_payload_uses_header_value() -> None:
    req = sign(
        S3SigV4Auth,
        "PUT",
        "https://s3.amazonaws.com/bucket/key",
        service="s3",
        headers={"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"},
        data=b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
        context={"checksum": {"request_algorithm": {"in": "trailer", "name": "crc32"}}},
    )
    assert req.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    check(req)


def test_date_header_instead_of_x_amz_date() -> None:
    req = sign(
        SigV4Auth,
        "POST",
        f"http://{HOST}/",
        service="kms",
        headers={"Date": "Mon, 01 Jan 2024 00:10:00 GMT", "X-Amz-Target": "TrentService.Foo"},
        data=b"{}",
    )
    assert "x-amz-date" not in req.headers
    info = check(req)
    assert info.amz_date == NOW
    assert info.timestamp == "20240101T001000Z"


def test_header_values_trimmed_and_collapsed() -> None:
    req = sign(
        SigV4Auth,
        "POST",
        f"http://{HOST}/",
        service="kms",
        headers={"X-Custom": "  a   b \t c  ", "X-Amz-Target": "T.Op"},
        data=b"{}",
    )
    assert req.headers["x-custom"] == "  a   b \t c  "
    check(req)


def test_presigned_s3_get() -> None:
    key = percent_encode("dir/my file ü+.txt", safe="/~")
    url = f"http://{HOST}/bucket/{key}?versionId=abc%2B1&response-content-type=text%2Fplain"
    req = sign(S3SigV4QueryAuth, "GET", url, service="s3", expires=3600)
    assert "Authorization" not in req.headers and "authorization" not in req.headers
    assert "X-Amz-Signature=" in req.query
    info = check(req)
    assert info.presigned is True
    assert info.expires == 3600
    assert info.session_token == TOKEN
    assert info.signed_headers == ("host",)
    check(req, now=NOW + timedelta(seconds=3600))


def test_presigned_non_s3_get() -> None:
    req = sign(
        SigV4QueryAuth,
        "GET",
        f"http://{HOST}/?Action=GetCallerIdentity&Version=2011-06-15",
        service="sts",
        expires=60,
    )
    info = check(req)
    assert info.presigned and info.expires == 60


def test_presigned_url_from_real_client() -> None:
    session = botocore.session.get_session()
    s3 = session.create_client(
        "s3",
        region_name="eu-central-1",
        endpoint_url=f"http://{HOST}",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bucket", "Key": "a b/ü~!.txt", "ResponseContentType": "a b"},
        ExpiresIn=900,
    )
    parts = urlsplit(url)
    req = Request("GET", parts.path, parts.query, {"host": HOST}, b"")
    assert check(req).region == "eu-central-1"


class _Captured(Exception):
    def __init__(self, request) -> None:
        self.request = request


def _capture(client, call, **kwargs) -> Request:
    def grab(request, **_):
        raise _Captured(request)

    client.meta.events.register("before-send", grab)
    with pytest.raises(_Captured) as caught:
        getattr(client, call)(**kwargs)
    r = caught.value.request
    return _from_wire(r.method, r.url, r.headers.items(), r.body)


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("kms", "encrypt", {"KeyId": "alias/x", "Plaintext": b"secret"}),
        ("sts", "get_caller_identity", {}),
        ("sqs", "list_queues", {"QueueNamePrefix": "a b+c"}),
        ("s3", "put_object", {"Bucket": "bucket", "Key": "a b//ü+~.txt", "Body": b"data"}),
        ("s3", "list_objects_v2", {"Bucket": "bucket", "Prefix": "a b/ü", "Delimiter": "/"}),
        ("secretsmanager", "get_secret_value", {"SecretId": "a/b c"}),
        ("lambda", "get_function", {"FunctionName": "my-fn", "Qualifier": "1"}),
    ],
)
def test_real_client_requests(service: str, call: str, kwargs: dict) -> None:
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name="us-east-2",
        endpoint_url=f"http://{HOST}",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )
    req = _capture(client, call, **kwargs)
    info = check(req)
    assert info.region == "us-east-2"


# -- rejection -----------------------------------------------------------------


def _replace_auth(req: Request, old: str, new: str) -> None:
    req.headers["authorization"] = req.headers["authorization"].replace(old, new)


def test_flipped_signature_byte() -> None:
    req = kms_request()
    sig = req.headers["authorization"].rsplit("Signature=", 1)[1]
    for i in (0, 31, 63):
        flipped = sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]
        bad = kms_request()
        _replace_auth(bad, sig, flipped)
        err = rejected(bad)
        assert err.reason == "mismatch"
        assert err.message == sigv4.MISMATCH_MESSAGE


def test_truncated_and_non_ascii_signature() -> None:
    req = kms_request()
    sig = req.headers["authorization"].rsplit("Signature=", 1)[1]
    _replace_auth(req, sig, sig[:-2])
    assert rejected(req).reason == "mismatch"
    req = kms_request()
    _replace_auth(req, sig, sig[:-1] + "é")
    assert rejected(req).reason == "mismatch"


def test_wrong_secret() -> None:
    assert rejected(kms_request(), secret=SECRET + "x").reason == "mismatch"


def test_altered_body() -> None:
    req = kms_request()
    req.body = req.body.replace(b"alias/test", b"alias/evil")
    assert rejected(req).reason == "mismatch"


def test_altered_s3_body_with_signed_digest() -> None:
    req = sign(S3SigV4Auth, "PUT", f"http://{HOST}/b/k", service="s3", data=b"original")
    check(req)
    req.body = b"tampered"
    err = rejected(req)
    assert err.reason == "mismatch"
    assert "x-amz-content-sha256" in err.message


def test_altered_signed_header() -> None:
    req = kms_request()
    req.headers["x-amz-target"] = "TrentService.Decrypt"
    assert rejected(req).reason == "mismatch"


def test_dropped_signed_header() -> None:
    req = kms_request()
    del req.headers["x-amz-target"]
    assert rejected(req).reason == "mismatch"
    req = kms_request()
    _replace_auth(req, ";x-amz-target", "")
    del req.headers["x-amz-target"]
    assert rejected(req).reason == "mismatch"


def test_unsigned_header_may_change() -> None:
    req = kms_request()
    req.headers["user-agent"] = "something else"
    req.headers["x-forwarded-for"] = "10.0.0.1"
    check(req)


def test_altered_path_and_query() -> None:
    req = sign(SigV4Auth, "GET", f"http://{HOST}/a?x=1&y=2", service="sqs")
    check(req)
    req.path = "/b"
    assert rejected(req).reason == "mismatch"
    req = sign(SigV4Auth, "GET", f"http://{HOST}/a?x=1&y=2", service="sqs")
    req.query = "x=1&y=3"
    assert rejected(req).reason == "mismatch"


def test_altered_scope() -> None:
    req = kms_request()
    _replace_auth(req, "/us-east-1/", "/us-west-2/")
    assert rejected(req).reason == "mismatch"


@pytest.mark.parametrize("minutes", [4, -4, 5, -5])
def test_skew_within_window_accepted(minutes: int) -> None:
    check(kms_request(), now=NOW + timedelta(minutes=minutes))


def test_skew_past() -> None:
    err = rejected(kms_request(), now=NOW + timedelta(minutes=6))
    assert err.reason == "expired"
    assert err.message == (
        "Signature expired: 20240101T001000Z is now earlier than 20240101T001100Z "
        "(20240101T001600Z - 5 min.)"
    )


def test_skew_future() -> None:
    err = rejected(kms_request(), now=NOW - timedelta(minutes=6))
    assert err.reason == "expired"
    assert err.message == (
        "Signature not yet current: 20240101T001000Z is still later than 20240101T000900Z "
        "(20240101T000400Z + 5 min.)"
    )


def test_custom_skew_and_naive_now() -> None:
    req = kms_request()
    info = extract(req)
    assert info is not None
    verify(req, info, SECRET, (NOW + timedelta(minutes=14)).replace(tzinfo=None),
           max_skew_seconds=900)  # fmt: skip
    with pytest.raises(SigV4Error, match=r"\+ 15 min\.") as caught:
        verify(req, info, SECRET, NOW - timedelta(minutes=16), max_skew_seconds=900)
    assert caught.value.reason == "expired"


def test_expired_presign() -> None:
    req = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=60)
    check(req, now=NOW + timedelta(seconds=60))
    err = rejected(req, now=NOW + timedelta(seconds=61))
    assert (err.reason, err.message) == ("expired", "Request has expired")
    # A presigned URL is not subject to the 5-minute window while it is valid.
    req = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=86400)
    check(req, now=NOW + timedelta(hours=23))


def test_presign_expiry_limits() -> None:
    req = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=604800)
    check(req)
    req = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=604801)
    err = rejected(req)
    assert err.reason == "incomplete"
    assert "604800" in err.message
    for bad in ("abc", "-5", "\uff11\uff10", "1e3"):
        req = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=60)
        req.query = req.query.replace("X-Amz-Expires=60", f"X-Amz-Expires={bad}")
        assert rejected(req).reason == "incomplete"


def test_presign_tampering() -> None:
    base = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k?x=1", service="s3", expires=60)
    for old, new in [
        ("X-Amz-Expires=60", "X-Amz-Expires=600"),
        ("x=1", "x=2"),
        ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3Bx-evil"),
    ]:
        req = Request("GET", base.path, base.query.replace(old, new), dict(base.headers), b"")
        assert req.query != base.query
        assert rejected(req).reason == "mismatch"
    req = Request("GET", base.path, base.query + "&extra=1", dict(base.headers), b"")
    assert rejected(req).reason == "mismatch"
    req = Request("GET", "/b/other", base.query, dict(base.headers), b"")
    assert rejected(req).reason == "mismatch"


def test_presign_missing_parameter() -> None:
    base = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k", service="s3", expires=60)
    for name in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                 "X-Amz-Expires"):  # fmt: skip
        query = "&".join(p for p in base.query.split("&") if not p.startswith(name + "="))
        err = rejected(Request("GET", base.path, query, dict(base.headers), b""))
        assert err.reason == "incomplete", name
        assert "requires the X-Amz-Algorithm" in err.message


def test_header_and_query_auth_together() -> None:
    req = kms_request()
    req.query = "X-Amz-Signature=abc"
    assert rejected(req).reason == "incomplete"


def test_garbage_authorization_message() -> None:
    req = kms_request()
    req.headers["authorization"] = "Bearer abc.def"
    err = rejected(req)
    assert err.reason == "incomplete"
    assert err.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization=Bearer abc.def"
    )
    del req.headers["x-amz-date"]
    assert "either a 'X-Amz-Date' or a 'Date' header" in rejected(req).message


@pytest.mark.parametrize(
    ("old", "new", "reason", "text"),
    [
        ("Credential=", "Cred=", "incomplete", "requires 'Credential' parameter"),
        ("SignedHeaders=", "Signed=", "incomplete", "requires 'SignedHeaders' parameter"),
        ("Signature=", "Sig=", "incomplete", "requires 'Signature' parameter"),
        ("/aws4_request", "/aws5_request", "incomplete", "valid terminator"),
        ("/us-east-1/kms/", "/kms/", "incomplete", "Credential is mal-formed"),
        ("/20240101/", "/20240102/", "bad_date", "Date in Credential scope does not match"),
        ("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", "incomplete", "Unsupported"),
        (", SignedHeaders", ", Oops, SignedHeaders", "incomplete", "missing equal-sign"),
    ],
)
def test_malformed_authorization(old: str, new: str, reason: str, text: str) -> None:
    req = kms_request()
    _replace_auth(req, old, new)
    err = rejected(req)
    assert err.reason == reason
    assert text in err.message


@pytest.mark.parametrize(
    "value", ["2024-01-01T00:10:00Z", "20241301T001000Z", "20240101T001000", "yesterday", ""]
)
def test_bad_x_amz_date(value: str) -> None:
    req = kms_request()
    req.headers["x-amz-date"] = value
    err = rejected(req)
    assert err.reason == "bad_date"
    assert "ISO-8601" in err.message


def test_bad_http_date() -> None:
    req = sign(
        SigV4Auth,
        "POST",
        f"http://{HOST}/",
        service="kms",
        headers={"Date": "Mon, 01 Jan 2024 00:10:00 GMT"},
    )
    req.headers["date"] = "not a date"
    assert rejected(req).reason == "bad_date"


def test_bad_content_sha256_value() -> None:
    req = sign(S3SigV4Auth, "PUT", f"http://{HOST}/b/k", service="s3", data=b"x")
    req.headers["x-amz-content-sha256"] = "nonsense"
    assert rejected(req).reason == "incomplete"


def _fuzz_outcome(req: Request) -> str:
    try:
        info = extract(req)
        if info is None:
            return "none"
        verify(req, info, SECRET, NOW)
    except SigV4Error as exc:
        assert exc.reason in {"incomplete", "mismatch", "expired", "bad_date", "unsigned"}
        assert isinstance(exc.message, str) and exc.message
        return "rejected"
    return "accepted"


def test_fuzz_random_authorization_headers() -> None:
    rng = random.Random(1234)
    alphabet = "AWS4-HMAC-SHA256 Credential=/;,=aws4_requestSignedHeaders\t\x00é☃%+0123456789abcdef"
    pieces = ["AWS4-HMAC-SHA256", " ", "Credential=", "SignedHeaders=", "Signature=", ",", "/",
              ";", "=", "aws4_request", "20240101", "us-east-1", "kms", "host", "x-amz-date",
              "\udcff", "é", " , "]  # fmt: skip
    base = kms_request()
    for i in range(400):
        if i % 2:
            value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        else:
            value = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 14)))
        req = Request("POST", "/", "", dict(base.headers, authorization=value), base.body)
        assert _fuzz_outcome(req) == "rejected", value


def test_fuzz_mutated_authorization_and_presigned_queries() -> None:
    rng = random.Random(99)
    header_req = kms_request()
    presigned = sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k?x=1", service="s3", expires=60)
    valid_auth = header_req.headers["authorization"]
    junk = "=,;/ %+\t\x00é☃\udc80AZaz09"
    accepted = 0

    def mutate(text: str) -> str:
        chars = list(text)
        for _ in range(rng.randrange(1, 5)):
            op = rng.randrange(4)
            pos = rng.randrange(len(chars) + 1)
            if op == 0 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif op == 1:
                chars.insert(pos, rng.choice(junk))
            elif op == 2 and chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(junk)
            else:
                chars = chars[:pos]
        return "".join(chars)

    for _ in range(300):
        value = mutate(valid_auth)
        req = Request(
            "POST", "/", "", dict(header_req.headers, authorization=value), header_req.body
        )
        outcome = _fuzz_outcome(req)
        assert outcome in {"rejected", "accepted"}
        accepted += outcome == "accepted"
        req = Request("GET", presigned.path, mutate(presigned.query), dict(presigned.headers), b"")
        outcome = _fuzz_outcome(req)
        assert outcome in {"rejected", "accepted", "none"}
        accepted += outcome == "accepted"
    # Only harmless mutations (e.g. whitespace after a comma) can survive.
    assert accepted < 30


def test_signing_key_cached() -> None:
    sigv4._keyed.cache_clear()
    check(kms_request())
    check(kms_request())
    stats = sigv4._keyed.cache_info()
    assert (stats.misses, stats.hits) == (1, 1)


def test_signing_key_and_hmac_match_the_spec() -> None:
    # The example from the AWS SigV4 documentation.
    doc_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    key = sigv4.signing_key(doc_secret, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    message = b"AWS4-HMAC-SHA256\n20150830T123600Z\n..." * 5
    keyed = sigv4._keyed(doc_secret, "20150830", "us-east-1", "iam")
    assert sigv4._hmac_hex(keyed, message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_fuzz_dates_paths_queries_payload_hashes() -> None:
    rng = random.Random(5)
    alphabet = "abcAZ09 -_.~%+/&=;:,\t\x00\x7f\xff\u00fc\u2603\udcff?#GMT"
    bases = [
        kms_request(),
        sign(S3SigV4QueryAuth, "GET", f"http://{HOST}/b/k?x=1", service="s3", expires=60),
        sign(S3SigV4Auth, "PUT", f"http://{HOST}/b/k", service="s3", data=b"x"),
    ]
    for i in range(1500):
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30)))
        base = bases[i % 3]
        req = Request(base.method, base.path, base.query, dict(base.headers), base.body)
        field = rng.randrange(5)
        if field == 0:
            req.headers.pop("x-amz-date", None)
            req.headers["date"] = junk
        elif field == 1:
            req.headers["x-amz-date"] = junk
        elif field == 2:
            req.path = "/x" + junk
        elif field == 3:
            req.query += "&x" + junk
        else:
            req.headers["x-amz-content-sha256"] = junk
        outcome = _fuzz_outcome(req)
        assert outcome == "rejected" or (base is bases[1] and field in (0, 1)), (field, junk)


def test_now_may_be_epoch_seconds() -> None:
    req = kms_request()
    info = extract(req)
    assert info is not None
    verify(req, info, SECRET, NOW.timestamp())
    with pytest.raises(SigV4Error) as exc:
        verify(req, info, SECRET, (NOW + timedelta(minutes=16)).timestamp())
    assert exc.value.reason == "expired" and "Signature expired" in str(exc.value)
