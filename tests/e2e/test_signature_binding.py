"""A signature binds everything that decides what a request does.

Each test is an attack that worked before: a presigned STS identity proof
re-routed to KMS by an added header, a signature scoped to one service spent
on another, unsigned headers, ambiguous repeated parameters, and routing
errors told to callers whose signature was never checked.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


def creds(server: StrongroomServer, secret: str | None = None, token: str | None = None):
    return Credentials(server.access_key_id, secret or server.secret_access_key, token)


def send(
    server: StrongroomServer,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these headers (repeats allowed) and return the answer."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        target = parsed.path or "/"
        if parsed.query:
            target += "?" + parsed.query
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def signed(
    server: StrongroomServer,
    service: str,
    body: bytes | str,
    headers: dict[str, str],
    *,
    region: str = "us-east-1",
    credentials: Credentials | None = None,
    path: str = "/",
) -> AWSRequest:
    request = AWSRequest(
        method="POST", url=server.endpoint + path, data=body, headers=dict(headers)
    )
    SigV4Auth(credentials or creds(server), service, region).add_auth(request)
    return request


def send_signed(server: StrongroomServer, request: AWSRequest, **extra: str):
    headers = [(k, v) for k, v in request.headers.items()] + list(extra.items())
    if "host" not in {k.lower() for k, _ in headers}:  # signed from the URL by botocore
        headers.insert(0, ("Host", urllib.parse.urlsplit(request.url).netloc))
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    return send(server, request.method, request.url, headers, body)


def kms_json(server: StrongroomServer, target: str, payload: dict[str, Any], **kw: Any):
    return signed(
        server,
        kw.pop("service", "kms"),
        json.dumps(payload),
        {"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"},
        **kw,
    )


def error_of(status_body: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str]:
    status, _, body = status_body
    text = body.decode()
    if text.startswith("{"):
        doc = json.loads(text)
        return status, doc.get("__type", ""), doc.get("message", doc.get("Message", ""))
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""
    message = text.split("<Message>", 1)[1].split("</Message>", 1)[0] if "<Message>" in text else ""
    return status, code, message


def key_count(server: StrongroomServer) -> int:
    return len(server.client("kms").list_keys(Limit=1000)["Keys"])


def presigned_sts_url(server: StrongroomServer) -> str:
    request = AWSRequest(
        method="GET",
        url=f"{server.endpoint}/?Action=GetCallerIdentity&Version=2011-06-15",
    )
    SigV4QueryAuth(creds(server), "sts", "us-east-1", expires=300).add_auth(request)
    return request.url


def test_a_presigned_identity_proof_still_proves_identity(server: StrongroomServer) -> None:
    url = presigned_sts_url(server)
    status, _, body = send(server, "GET", url, [("Host", f"127.0.0.1:{server.port}")])
    assert status == 200, body
    assert b"GetCallerIdentityResult" in body


@pytest.mark.parametrize(
    "target",
    ["TrentService.CreateKey", "TrentService.ListKeys", "CloudTrail_20131101.LookupEvents"],
)
def test_a_presigned_sts_url_cannot_be_rerouted_by_an_added_target(
    server: StrongroomServer, target: str
) -> None:
    before = key_count(server)
    url = presigned_sts_url(server)
    answer = send(
        server,
        "GET",
        url,
        [
            ("Host", f"127.0.0.1:{server.port}"),
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
    )
    status, code, message = error_of(answer)
    assert status == 400
    assert code == "InvalidSignatureException"
    assert "not signed" in message and "x-amz-target" in message
    assert key_count(server) == before


def test_a_signature_scoped_to_one_service_is_not_spent_on_another(
    server: StrongroomServer,
) -> None:
    before = key_count(server)
    request = kms_json(server, "CreateKey", {}, service="sts")
    status, code, message = error_of(send_signed(server, request))
    assert (status, code) == (400, "InvalidSignatureException")
    assert message == "Credential should be scoped to correct service: 'kms'. "
    assert key_count(server) == before
    # The query protocol answers in its own words.
    request = signed(
        server,
        "kms",
        "Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    status, code, message = error_of(send_signed(server, request))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert message == "Credential should be scoped to correct service: 'iam'. "


@pytest.mark.parametrize("region", ["mars-north-1", "local", "us-east-1x"])
def test_the_scope_must_name_a_real_region(server: StrongroomServer, region: str) -> None:
    status, code, message = error_of(
        send_signed(server, kms_json(server, "ListKeys", {}, region=region))
    )
    assert (status, code) == (400, "InvalidSignatureException")
    assert message == f"Credential should be scoped to a valid region, not '{region}'. "


def test_iam_is_signed_for_us_east_1_only(server: StrongroomServer) -> None:
    request = signed(
        server,
        "iam",
        "Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        region="eu-west-1",
    )
    status, code, message = error_of(send_signed(server, request))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert "valid region" in message
    # A regional service in another Region is fine.
    status, _, _ = send_signed(server, kms_json(server, "ListKeys", {}, region="eu-west-1"))
    assert status == 200


class _HostlessSigner(SigV4Auth):
    """Signs correctly, over every header but Host."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def test_host_must_be_signed(server: StrongroomServer) -> None:
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data="{}",
        headers={
            "X-Amz-Target": "TrentService.ListKeys",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    _HostlessSigner(creds(server), "kms", "us-east-1").add_auth(request)
    assert "host" not in request.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    status, code, message = error_of(send_signed(server, request))
    assert (status, code) == (400, "IncompleteSignatureException")
    assert message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Amz-Target": "TrentService.CreateKey"},
        {"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
        {"X-Amz-Anything": "1"},
    ],
)
def test_every_amz_header_must_be_signed(server: StrongroomServer, extra: dict[str, str]) -> None:
    """Headers added after signing (the target added to a signed request
    without one is how the STS URL was re-routed)."""
    before = key_count(server)
    request = signed(server, "kms", "{}", {"Content-Type": "application/x-amz-json-1.1"})
    if "X-Amz-Target" not in extra:
        request = kms_json(server, "ListKeys", {})
    status, code, message = error_of(send_signed(server, request, **extra))
    assert status == 400
    assert code == "InvalidSignatureException"
    assert "not signed" in message and next(iter(extra)).lower() in message
    assert key_count(server) == before


def test_content_type_must_be_signed(server: StrongroomServer) -> None:
    request = signed(server, "iam", "Action=ListUsers&Version=2010-05-08", {})
    answer = send_signed(
        server, request, **{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    status, code, message = error_of(answer)
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert "not signed: content-type" in message


def test_repeated_authorization_headers_are_refused(server: StrongroomServer) -> None:
    good = kms_json(server, "ListKeys", {})
    other = kms_json(server, "ListKeys", {}, credentials=creds(server, secret="x" * 40))
    headers = [("Host", f"127.0.0.1:{server.port}"), *good.headers.items()]
    headers.append(("Authorization", other.headers["Authorization"]))
    status, code, _ = error_of(send(server, "POST", good.url, headers, good.body))
    assert (status, code) == (400, "IncompleteSignatureException")


def test_repeated_signature_parameters_are_refused(server: StrongroomServer) -> None:
    url = presigned_sts_url(server) + "&X-Amz-Signature=" + "0" * 64
    status, code, message = error_of(
        send(server, "GET", url, [("Host", f"127.0.0.1:{server.port}")])
    )
    assert (status, code) == (400, "IncompleteSignature")
    assert "X-Amz-Signature" in message


def test_a_session_token_with_a_long_term_key_is_refused(server: StrongroomServer) -> None:
    request = kms_json(server, "ListKeys", {}, credentials=creds(server, token="made-up"))
    status, code, message = error_of(send_signed(server, request))
    assert (status, code) == (400, "UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


def iam_form(server: StrongroomServer, form: str) -> tuple[int, str, str]:
    request = signed(
        server,
        "iam",
        form,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    return error_of(send_signed(server, request))


def test_repeated_query_parameters_are_malformed(server: StrongroomServer) -> None:
    status, code, message = iam_form(
        server, "Action=CreateUser&Action=GetUser&UserName=twice&Version=2010-05-08"
    )
    assert (status, code) == (400, "MalformedQueryString")
    assert "Action" in message
    users = server.client("iam").list_users()["Users"]
    assert "twice" not in {u["UserName"] for u in users}


@pytest.mark.parametrize("index", ["-1", "abc", "0", "01", "1x"])
def test_list_indexes_are_whole_numbers_from_one(server: StrongroomServer, index: str) -> None:
    status, code, message = iam_form(
        server,
        f"Action=CreateUser&UserName=tagged-{index}&Version=2010-05-08"
        f"&Tags.member.{index}.Key=k&Tags.member.{index}.Value=v",
    )
    assert (status, code) == (400, "MalformedQueryString")
    assert index in message


def test_a_tampered_request_hears_only_about_its_signature(server: StrongroomServer) -> None:
    """Routing errors are told only to callers whose signature checks out."""
    body = json.dumps({})
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables"}
    headers["Content-Type"] = "application/x-amz-json-1.0"
    tampered = signed(server, "dynamodb", body, headers, credentials=creds(server, "x" * 40))
    status, code, message = error_of(send_signed(server, tampered))
    assert (status, code) == (400, "InvalidSignatureException")
    assert "serve" not in message
    unsigned = send(
        server,
        "POST",
        server.endpoint + "/",
        [("Host", f"127.0.0.1:{server.port}"), *headers.items()],
        body.encode(),
    )
    status, code, message = error_of(unsigned)
    assert (status, code) == (403, "MissingAuthenticationTokenException")
    assert "serve" not in message
    genuine = signed(server, "dynamodb", body, headers)
    status, code, message = error_of(send_signed(server, genuine))
    assert code == "UnknownOperationException"
    assert "does not serve" in message


def test_an_unknown_query_version_is_told_only_after_the_signature(
    server: StrongroomServer,
) -> None:
    form = "Action=DescribeDBInstances&Version=2014-10-31"
    ctype = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    tampered = signed(server, "rds", form, ctype, credentials=creds(server, "y" * 40))
    status, code, message = error_of(send_signed(server, tampered))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert "serve" not in message


# --------------------------------------------------------------------------- Smithy RPC v2 CBOR
# CloudWatch's second protocol: the operation is named by the path, which
# the signature covers, as it covers the host, the scope's service and
# Region, the smithy-protocol header and the body.

CW_PATH = "/service/GraniteServiceVersion20100801/operation/"
CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


def cbor_error(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str]:
    from strongroom.protocol import cbor

    status, headers, body = answer
    assert headers.get("content-type") == "application/cbor", (headers, body)
    doc = cbor.decode(body)
    return status, doc.get("__type", ""), doc.get("message", "")


def cbor_request(server: StrongroomServer, operation: str, payload: dict, **kw: Any) -> AWSRequest:
    from strongroom.protocol import cbor

    return signed(
        server, kw.pop("service", "monitoring"), cbor.encode(payload), dict(CBOR_HEADERS),
        path=CW_PATH + operation, **kw,
    )  # fmt: skip


def test_a_cbor_request_is_answered_in_cbor(server: StrongroomServer) -> None:
    from strongroom.protocol import cbor

    status, headers, body = send_signed(server, cbor_request(server, "ListMetrics", {}))
    assert status == 200 and headers["smithy-protocol"] == "rpc-v2-cbor"
    assert "Metrics" in cbor.decode(body)


def test_a_cbor_operation_cannot_be_swapped_after_signing(server: StrongroomServer) -> None:
    request = cbor_request(server, "ListMetrics", {})
    request.url = request.url.replace("ListMetrics", "DeleteAlarms")
    status, code, _ = cbor_error(send_signed(server, request))
    assert (status, code) == (400, "InvalidSignatureException")


def test_a_cbor_body_cannot_be_swapped_after_signing(server: StrongroomServer) -> None:
    from strongroom.protocol import cbor

    request = cbor_request(server, "PutMetricData", {"Namespace": "A", "MetricData": []})
    request.data = cbor.encode({"Namespace": "B", "MetricData": []})
    status, code, _ = cbor_error(send_signed(server, request))
    assert (status, code) == (400, "InvalidSignatureException")


def test_a_cbor_signature_is_bound_to_its_service_and_region(server: StrongroomServer) -> None:
    status, code, message = cbor_error(
        send_signed(server, cbor_request(server, "ListMetrics", {}, service="kms"))
    )
    assert (status, code) == (400, "InvalidSignatureException")
    assert message == "Credential should be scoped to correct service: 'monitoring'. "
    status, code, _ = cbor_error(
        send_signed(server, cbor_request(server, "ListMetrics", {}, region="mars-north-1"))
    )
    assert status == 400 and code == "InvalidSignatureException"


def test_the_smithy_protocol_header_must_be_signed(server: StrongroomServer) -> None:
    from strongroom.protocol import cbor

    request = AWSRequest(
        method="POST", url=server.endpoint + CW_PATH + "ListMetrics", data=cbor.encode({}),
        headers={"Content-Type": "application/cbor"},
    )  # fmt: skip
    SigV4Auth(creds(server), "monitoring", "us-east-1").add_auth(request)
    status, code, message = cbor_error(
        send_signed(server, request, **{"smithy-protocol": "rpc-v2-cbor"})
    )
    assert (status, code) == (400, "InvalidSignatureException")
    assert "smithy-protocol" in message


def test_an_unknown_cbor_operation_is_told_only_after_the_signature(
    server: StrongroomServer,
) -> None:
    tampered = cbor_request(server, "Nope", {}, credentials=creds(server, "z" * 40))
    status, code, message = cbor_error(send_signed(server, tampered))
    assert (status, code) == (400, "InvalidSignatureException")
    assert "implement" not in message
    status, code, message = cbor_error(send_signed(server, cbor_request(server, "Nope", {})))
    assert code == "UnknownOperationException" and "does not implement" in message
