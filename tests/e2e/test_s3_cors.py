"""CORS as S3 applies it: an OPTIONS preflight answered from the bucket's
CORS configuration (unsigned), and Access-Control-* headers on the
responses to requests that carry an Origin."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.testing import StrongroomServer

BUCKET = "cors-bucket"
RULES = [
    {
        "AllowedOrigins": ["https://app.example.com", "https://*.example.org"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["content-type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(tmp_path_factory.mktemp("cors")).start()
    s3 = srv.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="no-cors")
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=BUCKET, Key="page.txt", Body=b"hello")
    yield srv
    srv.close()


def _request(
    srv: StrongroomServer, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, path, headers={"Host": f"127.0.0.1:{srv.port}", **headers})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def _preflight(srv: StrongroomServer, path: str, **headers: str) -> Any:
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return _request(srv, "OPTIONS", path, named)


def test_a_matching_preflight_is_answered_from_the_rule(server: StrongroomServer) -> None:
    status, headers, body = _preflight(
        server,
        f"/{BUCKET}/page.txt",
        Origin="https://app.example.com",
        Access_Control_Request_Method="PUT",
        Access_Control_Request_Headers="Content-Type, X-Amz-Date",
    )
    assert status == 200, body
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert "Origin" in headers["vary"]


def test_wildcards_in_origins(server: StrongroomServer) -> None:
    status, headers, _ = _preflight(
        server,
        f"/{BUCKET}/page.txt",
        Origin="https://shop.example.org",
        Access_Control_Request_Method="GET",
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://shop.example.org"
    # The "*" rule answers "*", with no credentials.
    status, headers, _ = _preflight(
        server,
        f"/{BUCKET}/page.txt",
        Origin="https://else.test",
        Access_Control_Request_Method="HEAD",
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize(
    "origin, method, request_headers",
    [
        ("https://evil.example.net", "GET", ""),  # origin not allowed
        ("https://app.example.com", "DELETE", ""),  # method not allowed
        ("https://app.example.com", "PUT", "authorization-extra"),  # header not allowed
    ],
)
def test_a_preflight_no_rule_matches_is_forbidden(
    server: StrongroomServer, origin: str, method: str, request_headers: str
) -> None:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    status, got, body = _request(server, "OPTIONS", f"/{BUCKET}/page.txt", headers)
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body
    assert b"CORSResponse: This CORS request is not allowed." in body
    assert "access-control-allow-origin" not in got


def test_a_bucket_without_cors_and_a_bad_preflight(server: StrongroomServer) -> None:
    status, _, body = _preflight(
        server, "/no-cors/x", Origin="https://app.example.com", Access_Control_Request_Method="GET"
    )
    assert status == 403
    assert b"CORSResponse: CORS is not enabled for this bucket." in body
    status, _, body = _preflight(server, f"/{BUCKET}/x", Access_Control_Request_Method="GET")
    assert status == 400 and b"<Code>BadRequest</Code>" in body
    status, _, body = _preflight(server, f"/{BUCKET}/x", Origin="https://app.example.com")
    assert status == 400 and b"Invalid Access-Control-Request-Method" in body
    status, _, body = _preflight(
        server,
        "/no-such-bucket-here/x",
        Origin="https://app.example.com",
        Access_Control_Request_Method="GET",
    )
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


def test_virtual_hosted_preflight(server: StrongroomServer) -> None:
    status, headers, _ = _request(
        server,
        "OPTIONS",
        "/page.txt",
        {
            "Host": f"{BUCKET}.s3.localhost:{server.port}",
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"


def test_responses_to_requests_with_an_origin_carry_the_headers(server: StrongroomServer) -> None:
    s3 = server.client("s3")
    seen: dict[str, dict[str, str]] = {}

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        seen["last"] = {k.lower(): v for k, v in response_dict["headers"].items()}

    s3.meta.events.register("before-parse.s3.GetObject", keep)

    def with_origin(request: Any, **_: Any) -> None:
        request.headers["Origin"] = origin

    s3.meta.events.register("before-sign.s3.GetObject", with_origin)
    origin = "https://app.example.com"
    assert s3.get_object(Bucket=BUCKET, Key="page.txt")["Body"].read() == b"hello"
    assert seen["last"]["access-control-allow-origin"] == origin
    assert seen["last"]["access-control-expose-headers"] == "ETag, x-amz-request-id"
    origin = "https://evil.example.net"  # no rule: no headers, the answer stands
    assert s3.get_object(Bucket=BUCKET, Key="page.txt")["Body"].read() == b"hello"
    assert "access-control-allow-origin" not in seen["last"]
    plain = server.client("s3")
    plain.meta.events.register("before-parse.s3.GetObject", keep)
    plain.get_object(Bucket=BUCKET, Key="page.txt")
    assert "access-control-allow-origin" not in seen["last"]
