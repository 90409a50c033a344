"""Every Secrets Manager operation with random, shape-typed arguments (real
secret names and ARNs mixed in) answers an AWS-shaped error or a result —
never a 5xx."""

from __future__ import annotations

import http.client
import json
import random

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from test_kms_fuzz import _value

from strongroom.testing import StrongroomServer

MODEL = botocore.session.get_session().get_service_model("secretsmanager")
#: Operations that would take the shared secrets away from the others.
DESTRUCTIVE = {"DeleteSecret", "PutResourcePolicy", "UpdateSecretVersionStage"}


def _send(server: StrongroomServer, operation: str, body: dict) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"secretsmanager.{operation}",
    }
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers=headers)
    SigV4Auth(
        Credentials(server.access_key_id, server.secret_access_key), "secretsmanager", "us-east-1"
    ).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/", body=data, headers=dict(req.headers))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def secret_ids(server: StrongroomServer) -> list[str]:
    sm = server.client("secretsmanager")
    ids = []
    for i, kwargs in enumerate(({"SecretString": "s"}, {"SecretBinary": b"b"}, {})):
        out = sm.create_secret(Name=f"fuzz/{i}", **kwargs)
        ids += [out["Name"], out["ARN"], out["ARN"][:-7]]
    sm.delete_secret(SecretId=ids[-1], RecoveryWindowInDays=7)
    return ids


@pytest.mark.parametrize("operation", sorted(MODEL.operation_names))
def test_random_arguments_never_fail_internally(
    server: StrongroomServer, secret_ids: list[str], operation: str
) -> None:
    ids = ["fuzz/none"] if operation in DESTRUCTIVE else secret_ids
    rng = random.Random(operation)
    shape = MODEL.operation_model(operation).input_shape
    for _ in range(12):
        body = _value(rng, shape, ids) if shape is not None else {}
        status, payload = _send(server, operation, body)
        assert status < 500, (operation, body, payload)
