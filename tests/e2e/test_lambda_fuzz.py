"""Lambda under mutated signed requests: bodies, paths, query strings and
headers bent at random get AWS-shaped 4xx answers, never a 500 or a hang."""

from __future__ import annotations

import http.client
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from lambda_helpers import create, handler_zip, role

from strongroom.testing import StrongroomServer

NOISE = ['"', "{", "}", "[", "]", ":", ",", "%ZZ", "null", "1e999", "-1", "é", "\\u0000", "$"]


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def fn(server: StrongroomServer) -> dict[str, Any]:
    lam = server.client("lambda")
    made = create(lam, role(server.client("iam")))
    lam.publish_version(FunctionName=made["FunctionName"])
    return made


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        pos = rng.randrange(len(chars) + 1)
        if rng.random() < 0.4 and chars:
            del chars[min(pos, len(chars) - 1)]
        else:
            chars[pos:pos] = list(rng.choice(NOISE))
    return "".join(chars)


def _send(
    server: StrongroomServer, method: str, path: str, body: bytes, headers: dict[str, str]
) -> int:
    headers = {"Host": f"127.0.0.1:{server.port}", **headers}
    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(server.access_key_id, server.secret_access_key), "lambda", "us-east-1")\
        .add_auth(req)  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=dict(req.headers))
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _requests(fn: dict[str, Any]) -> list[tuple[str, str, str, dict[str, str]]]:
    name = fn["FunctionName"]
    create_body = json.dumps(
        {
            "FunctionName": "fz-" + uuid.uuid4().hex[:6],
            "Runtime": "python3.11",
            "Role": fn["Role"],
            "Handler": "lambda_function.lambda_handler",
            "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
            "Timeout": 3,
            "Environment": {"Variables": {"AB": "1"}},
        }
    )
    return [
        ("POST", "/2015-03-31/functions", create_body, {}),
        ("PUT", f"/2015-03-31/functions/{name}/configuration", '{"Timeout": 5}', {}),
        ("POST", f"/2015-03-31/functions/{name}/invocations", '{"a": 1}', {}),
        (
            "POST",
            f"/2015-03-31/functions/{name}/invocations?Qualifier=1",
            "{}",
            {"X-Amz-Invocation-Type": "DryRun", "X-Amz-Log-Type": "Tail"},
        ),
        (
            "POST",
            f"/2015-03-31/functions/{name}/policy",
            '{"StatementId": "s1", "Action": "lambda:InvokeFunction", "Principal": "*"}',
            {},
        ),
        ("GET", "/2015-03-31/functions?MaxItems=2&Marker=abc", "", {}),
        ("GET", f"/2015-03-31/functions/{name}?Qualifier=%24LATEST", "", {}),
        (
            "POST",
            f"/2015-03-31/functions/{name}/aliases",
            '{"Name": "a", "FunctionVersion": "1"}',
            {},
        ),
    ]


def test_mutated_requests_never_fail_internally(server: StrongroomServer, fn: dict) -> None:
    rng = random.Random(16)
    statuses = []
    for method, path, body, headers in _requests(fn):
        for _ in range(12):
            which = rng.random()
            p, b, h = path, body, dict(headers)
            if which < 0.5:
                b = _mutate(rng, body or "{}")
            elif which < 0.8:
                p = _mutate(rng, path).replace(" ", "%20").replace("#", "%23") or "/"
                if not p.startswith("/"):
                    p = "/" + p
            else:
                h["X-Amz-Invocation-Type"] = rng.choice(["Event", "Bogus", "", "DryRun"])
                h["X-Amz-Client-Context"] = rng.choice(["!!", "e30=", "bm90IGpzb24="])
            try:
                status = _send(server, method, p, b.encode("utf-8", "surrogatepass"), h)
            except (http.client.InvalidURL, ValueError, UnicodeEncodeError):
                continue  # not a request http.client will send
            statuses.append((status, method, p))
    # 501 is the router's answer to a path no served operation has (NotImplemented).
    failed = [x for x in statuses if x[0] >= 500 and x[0] != 501]
    assert statuses and not failed, failed
    assert "internal failure" not in server.read_log()


def test_an_invalid_zip_in_every_shape(server: StrongroomServer, fn: dict) -> None:
    lam = server.client("lambda")
    # An update an earlier test of the module started must finish first:
    # one in progress is refused before the zip is looked at.
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=fn["FunctionName"], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    for data in (b"", b"PK", b"PK\x03\x04" + b"\x00" * 40, handler_zip("x")[:-10]):
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_code(FunctionName=fn["FunctionName"], ZipFile=data or b"\x00")
