"""Every Secrets Manager operation with random, shape-typed arguments (real
secret names and ARNs mixed in) answers an AWS-shaped error or a result —
never a 5xx."""

from __future__ import annotations

import random

import botocore.session
import pytest
from test_kms_fuzz import _send, _value

from strongroom.testing import StrongroomServer

MODEL = botocore.session.get_session().get_service_model("secretsmanager")
#: Operations that would take the shared secrets away from the others.
DESTRUCTIVE = {"DeleteSecret", "PutResourcePolicy", "UpdateSecretVersionStage"}


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
        status, payload = _send(
            server, operation, body, target="secretsmanager", signing_name="secretsmanager"
        )
        assert status < 500, (operation, body, payload)
