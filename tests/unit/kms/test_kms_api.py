"""The internal KMS API other services use: AWS managed keys created on first
use, and encrypt/decrypt/generate_data_key authorized for the caller with
kms:ViaService."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.auth.principal import Principal
from strongroom.protocol.errors import AwsError
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.base import Call
from strongroom.services.kms import api as kms

ACCOUNT = "000000000000"
VIA = "secretsmanager.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("kms-api")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


@pytest.fixture
def make_call(app: App, internal_call) -> Iterator:
    transaction = app.store.transaction(write=True)
    conn = transaction.__enter__()

    def make(principal: Principal | None = None) -> Call:
        return internal_call(app, conn, principal)

    yield make
    transaction.__exit__(None, None, None)


def code(exc: pytest.ExceptionInfo) -> str:
    assert isinstance(exc.value, AwsError)
    return exc.value.code


def test_aws_managed_key_and_envelope(make_call) -> None:
    call = make_call()
    arn = kms.aws_managed_key(call, "secretsmanager")
    assert arn.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert kms.aws_managed_key(call, "secretsmanager") == arn
    meta = kms.describe_key(call, "alias/aws/secretsmanager", via_service=VIA)
    assert meta["KeyManager"] == "AWS" and meta["Arn"] == arn
    ctx = {"SecretARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:s"}
    dk = kms.generate_data_key(call, arn, encryption_context=ctx, via_service=VIA)
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == arn
    back = kms.decrypt(call, dk["CiphertextBlob"], encryption_context=ctx, via_service=VIA)
    assert back["Plaintext"] == dk["Plaintext"]
    sealed = kms.encrypt(call, "alias/aws/secretsmanager", b"v", via_service=VIA)
    assert kms.decrypt(call, sealed["CiphertextBlob"], via_service=VIA)["Plaintext"] == b"v"


def test_managed_key_only_through_its_service(make_call) -> None:
    call = make_call()
    arn = kms.aws_managed_key(call, "rds")
    with pytest.raises(AwsError) as exc:
        kms.generate_data_key(call, arn, via_service=VIA)  # not through RDS
    assert code(exc) == "AccessDeniedException"
    dk = kms.generate_data_key(call, arn, via_service="rds.us-east-1.amazonaws.com")
    user = Principal(
        type="IAMUser",
        account=ACCOUNT,
        arn=f"arn:aws:iam::{ACCOUNT}:user/app",
        principal_id="AIDAEXAMPLEEXAMPLE01",
        user_name="app",
    )
    as_user = make_call(user)
    back = kms.decrypt(as_user, dk["CiphertextBlob"], via_service="rds.us-east-1.amazonaws.com")
    assert back["Plaintext"] == dk["Plaintext"]
    stranger = Principal(
        type="IAMUser",
        account="111122223333",
        arn="arn:aws:iam::111122223333:user/x",
        principal_id="AIDAEXAMPLEEXAMPLE02",
        user_name="x",
    )
    with pytest.raises(AwsError) as exc:
        kms.decrypt(
            make_call(stranger), dk["CiphertextBlob"], via_service="rds.us-east-1.amazonaws.com"
        )
    assert code(exc) == "AccessDeniedException"


def test_errors_are_kms_errors(make_call) -> None:
    call = make_call()
    with pytest.raises(AwsError) as exc:
        kms.encrypt(call, "alias/does-not-exist", b"v", via_service=VIA)
    assert code(exc) == "NotFoundException"
    with pytest.raises(AwsError) as exc:
        kms.decrypt(call, b"garbage" * 10, via_service=VIA)
    assert code(exc) == "InvalidCiphertextException"


def test_grants_for_aws_resources(make_call, app: App) -> None:
    from strongroom.services.kms import keys

    call = make_call()
    key = keys.create_key(
        call.conn,
        app.sealer,
        app.clock.timestamp(),
        account=ACCOUNT,
        region="us-east-1",
        policy=keys.default_policy(ACCOUNT),
    )
    user = Principal(
        type="IAMUser",
        account=ACCOUNT,
        arn=f"arn:aws:iam::{ACCOUNT}:user/db-service",
        principal_id="AIDAEXAMPLEEXAMPLE03",
        user_name="db-service",
    )
    as_user = make_call(user)
    with pytest.raises(AwsError) as exc:
        kms.generate_data_key(as_user, key.arn, via_service="rds.us-east-1.amazonaws.com")
    assert code(exc) == "AccessDeniedException"
    grant = kms.create_grant(
        call,
        key.arn,
        user.arn,
        ["GenerateDataKey", "Decrypt"],
        constraints={"EncryptionContextSubset": {"db": "orders"}},
        via_service="rds.us-east-1.amazonaws.com",
    )
    dk = kms.generate_data_key(
        as_user,
        key.arn,
        encryption_context={"db": "orders"},
        via_service="rds.us-east-1.amazonaws.com",
    )
    with pytest.raises(AwsError) as exc:  # the constraint is not met
        kms.generate_data_key(as_user, key.arn, via_service="rds.us-east-1.amazonaws.com")
    assert code(exc) == "AccessDeniedException"
    kms.retire_grant(call, key.arn, grant["GrantId"])
    with pytest.raises(AwsError) as exc:
        kms.decrypt(as_user, dk["CiphertextBlob"], encryption_context={"db": "orders"})
    assert code(exc) == "AccessDeniedException"
    with pytest.raises(AwsError) as exc:
        kms.retire_grant(call, key.arn, grant["GrantId"])
    assert code(exc) == "NotFoundException"
