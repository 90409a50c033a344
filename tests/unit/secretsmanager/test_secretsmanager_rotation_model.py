"""The version and label model rotation will drive (RotateSecret is not
served yet): a version recorded without a value under AWSPENDING, as
RotateSecret records it, then the steps the rotation templates take —
PutSecretValue with the token (createSecret) and UpdateSecretVersionStage
(finishSecret) — run as the operations themselves, in process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.framework import Call
from strongroom.protocol.errors import AwsError
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.secretsmanager import ops_secrets, ops_values, secrets, versions


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("sm-rotation")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


@pytest.fixture
def call(app: App, internal_call) -> Iterator[Call]:
    transaction = app.store.transaction(write=True)
    conn = transaction.__enter__()
    yield internal_call(app, conn, None, "secretsmanager")
    transaction.__exit__(None, None, None)


def test_a_rotation_through_the_version_model(call: Call) -> None:
    name = f"rot/{uuid.uuid4().hex[:8]}"
    first, token = str(uuid.uuid4()), str(uuid.uuid4())
    ops_secrets.create_secret(call, Name=name, SecretString="old", ClientRequestToken=first)
    secret = secrets.find(call, call.account, call.region, name)
    assert secret is not None
    # What RotateSecret records before it invokes the function.
    versions.add(call.conn, secret, token, call.clock.timestamp(), kind=None)
    versions.attach(call, secret, versions.PENDING, token)
    secrets.save(call.conn, secret, "version_seq")
    with pytest.raises(AwsError) as exc:
        ops_values.get_secret_value(call, SecretId=name, VersionStage="AWSPENDING")
    assert (exc.value.code, exc.value.message) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    )
    # A second rotation meanwhile is refused.
    with pytest.raises(AwsError) as exc:
        ops_secrets.rotate_secret(call, SecretId=name)
    assert exc.value.code == "InvalidRequestException"
    assert "previous rotation" in exc.value.message
    assert ops_secrets.cancel_rotate_secret(call, SecretId=name)["VersionId"] == token
    # createSecret: the function puts the new value with the token.
    out = ops_values.put_secret_value(
        call, SecretId=name, ClientRequestToken=token, SecretString="new",
        VersionStages=["AWSPENDING"],
    )  # fmt: skip
    assert (out["VersionId"], out["VersionStages"]) == (token, ["AWSPENDING"])
    assert ops_values.get_secret_value(call, SecretId=name)["SecretString"] == "old"
    got = ops_values.get_secret_value(call, SecretId=name, VersionStage="AWSPENDING")
    assert got["SecretString"] == "new"
    # finishSecret: AWSCURRENT moves, AWSPREVIOUS follows.
    ops_values.update_secret_version_stage(
        call, SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=token,
        RemoveFromVersionId=first,
    )  # fmt: skip
    assert ops_values.get_secret_value(call, SecretId=name)["SecretString"] == "new"
    stages = ops_secrets.describe_secret(call, SecretId=name)["VersionIdsToStages"]
    assert stages == {token: ["AWSCURRENT", "AWSPENDING"], first: ["AWSPREVIOUS"]}
    assert not versions.rotation_in_progress(call, secret)
    assert "VersionId" not in ops_secrets.cancel_rotate_secret(call, SecretId=name)
