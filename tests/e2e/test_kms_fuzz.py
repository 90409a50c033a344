"""Every KMS operation with random, shape-typed arguments (real key ids mixed
in) answers an AWS-shaped error or a result — never a 5xx."""

from __future__ import annotations

import base64
import http.client
import json
import random

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer

MODEL = botocore.session.get_session().get_service_model("kms")


def _value(rng: random.Random, shape, ids: list[str], depth: int = 0):
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _value(rng, member, ids, depth + 1)
            for name, member in shape.members.items()
            if name in shape.required_members or rng.random() < 0.5
        }
    if kind == "list":
        return [_value(rng, shape.member, ids, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {
            f"k{rng.randint(0, 9)}": _value(rng, shape.value, ids, depth + 1)
            for _ in range(rng.randint(0, 3))
        }
    if kind == "blob":
        return base64.b64encode(rng.randbytes(rng.choice([0, 1, 16, 32, 200, 300]))).decode()
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "long"):
        return rng.choice([0, 1, 7, 30, 90, 365, 1024, 5000, -1])
    if kind == "timestamp":
        return rng.choice([0, 1900000000, 4102444800])
    if shape.enum:
        return rng.choice(shape.enum)
    return rng.choice([*ids, "alias/fuzz", "alias/aws/s3", "", "x" * 300, "arn:aws:kms:::key/"])


def _send(
    server: StrongroomServer,
    operation: str,
    body: dict,
    *,
    target: str = "TrentService",
    signing_name: str = "kms",
) -> tuple[int, bytes]:
    """One JSON request, signed for `signing_name`, to `target`.`operation`."""
    data = json.dumps(body).encode()
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{target}.{operation}",
    }
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers=headers)
    SigV4Auth(Credentials(server.access_key_id, server.secret_access_key), signing_name,
              "us-east-1").add_auth(req)  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/", body=data, headers=dict(req.headers))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def key_ids(server: StrongroomServer) -> list[str]:
    kms = server.client("kms")
    ids = []
    for kwargs in (
        {},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
        {"MultiRegion": True},
    ):
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        ids += [meta["KeyId"], meta["Arn"]]
    kms.create_alias(AliasName="alias/fuzz", TargetKeyId=ids[0])
    return ids


@pytest.mark.parametrize("operation", sorted(MODEL.operation_names))
def test_random_arguments_never_fail_internally(
    server: StrongroomServer, key_ids: list[str], operation: str
) -> None:
    if operation in ("ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy", "UpdatePrimaryRegion"):
        ids = ["not-a-key"]  # keep the shared keys usable for the other operations
    else:
        ids = key_ids
    rng = random.Random(operation)
    shape = MODEL.operation_model(operation).input_shape
    for _ in range(12):
        body = _value(rng, shape, ids) if shape is not None else {}
        status, payload = _send(server, operation, body)
        assert status < 500, (operation, body, payload)
