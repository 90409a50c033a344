"""Crafted and garbage requests get AWS-shaped 4xx answers, never a 500 or a hang."""

from __future__ import annotations

import http.client
import random

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer

TARGETS = [
    ("sts", "query", "Action=GetCallerIdentity&Version=2011-06-15"),
    ("iam", "query", "Action=CreateUser&Version=2010-05-08&UserName=fuzz"),
    ("iam", "query", "Action=ListUsers&Version=2010-05-08&MaxItems=5"),
    ("cloudtrail", "json", '{"MaxResults": 5}'),
]


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.4 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op < 0.8:
            chars.insert(pos, rng.choice('&=%.{}[]":,\\x00é0123456789AZaz-+ '))
        else:
            chars[pos:pos] = list(rng.choice(["MaxItems=-1", "&UserName=", "%ZZ", "null", "1e999"]))
    return "".join(chars)


def _send(server: StrongroomServer, service: str, protocol: str, body: str) -> int:
    headers = {"Host": f"127.0.0.1:{server.port}"}
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["X-Amz-Target"] = (
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
        )
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body.encode(), headers=headers)
    SigV4Auth(Credentials(server.access_key_id, server.secret_access_key), service, "us-east-1")\
        .add_auth(req)  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", "/", body=body.encode(), headers=dict(req.headers))
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@pytest.mark.parametrize(("service", "protocol", "body"), TARGETS)
def test_mutated_signed_requests_never_fail_internally(
    server: StrongroomServer, service: str, protocol: str, body: str
) -> None:
    rng = random.Random(f"{service}{body}")
    statuses = [_send(server, service, protocol, _mutate(rng, body)) for _ in range(60)]
    assert all(s < 500 for s in statuses), statuses


def test_garbage_requests(server: StrongroomServer) -> None:
    rng = random.Random(7)
    for _ in range(60):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {
            rng.choice(["Authorization", "X-Amz-Target", "Content-Type", "X-Amz-Date"]): "".join(
                rng.choice("AWS4-HMAC-SHA256 Credential=/,;=abc") for _ in range(rng.randint(0, 60))
            )
        }
        path = rng.choice(["/", "/bucket/key", "/?Action=ListUsers", "/%ff%fe", "/a/../b"])
        conn.request(rng.choice(["GET", "POST", "PUT", "DELETE"]), path, body=bytes(
            rng.randrange(256) for _ in range(rng.randint(0, 200))
        ), headers=headers)  # fmt: skip
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status < 500, (path, headers)
