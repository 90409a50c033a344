"""The internal KMS API other services use: AWS managed keys created on first
use, and encrypt/decrypt/generate_data_key run as KMS's own operations for
the caller, with kms:ViaService the calling service and KMS's CloudTrail
event carrying invokedBy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.auth.principal import Principal
from strongroom.framework import Call
from strongroom.protocol.errors import AwsError
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.kms import api as kms

ACCOUNT = "000000000000"


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

    def make(principal: Principal | None = None, service: str = "secretsmanager") -> Call:
        return internal_call(app, conn, principal, service)

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
    meta = kms.describe_key(call, "alias/aws/secretsmanager")
    assert meta["KeyManager"] == "AWS" and meta["Arn"] == arn
    ctx = {"SecretARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:s"}
    dk = kms.generate_data_key(call, arn, encryption_context=ctx)
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == arn
    back = kms.decrypt(call, dk["CiphertextBlob"], encryption_context=ctx)
    assert back["Plaintext"] == dk["Plaintext"]
    sealed = kms.encrypt(call, "alias/aws/secretsmanager", b"v")
    assert kms.decrypt(call, sealed["CiphertextBlob"])["Plaintext"] == b"v"
    # Each was KMS's own operation, as a child of the caller's call.
    assert [c.call.operation for c in call.children] == [
        "DescribeKey", "GenerateDataKey", "Decrypt", "Encrypt", "Decrypt",
    ]  # fmt: skip
    assert all(c.call.via == ("secretsmanager.amazonaws.com",) for c in call.children)


def test_managed_key_only_through_its_service(make_call) -> None:
    call = make_call()
    arn = kms.aws_managed_key(call, "rds")
    with pytest.raises(AwsError) as exc:
        kms.generate_data_key(call, arn)  # through Secrets Manager, not RDS
    assert code(exc) == "AccessDeniedException"
    assert call.children[-1].error is exc.value  # the refusal is KMS's to record
    dk = kms.generate_data_key(make_call(service="rds"), arn)
    user = Principal(
        type="IAMUser",
        account=ACCOUNT,
        arn=f"arn:aws:iam::{ACCOUNT}:user/app",
        principal_id="AIDAEXAMPLEEXAMPLE01",
        user_name="app",
    )
    as_user = make_call(user, "rds")
    back = kms.decrypt(as_user, dk["CiphertextBlob"])
    assert back["Plaintext"] == dk["Plaintext"]
    stranger = Principal(
        type="IAMUser",
        account="111122223333",
        arn="arn:aws:iam::111122223333:user/x",
        principal_id="AIDAEXAMPLEEXAMPLE02",
        user_name="x",
    )
    with pytest.raises(AwsError) as exc:
        kms.decrypt(make_call(stranger, "rds"), dk["CiphertextBlob"])
    assert code(exc) == "AccessDeniedException"


def test_errors_are_kms_errors(make_call) -> None:
    call = make_call()
    with pytest.raises(AwsError) as exc:
        kms.encrypt(call, "alias/does-not-exist", b"v")
    assert code(exc) == "NotFoundException"
    with pytest.raises(AwsError) as exc:
        kms.decrypt(call, b"garbage" * 10)
    assert code(exc) == "InvalidCiphertextException"
    with pytest.raises(AwsError) as exc:  # the callee validates as it would the wire
        kms.encrypt(call, "alias/x", b"")
    assert code(exc) == "ValidationException"


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
    as_user = make_call(user, "rds")
    with pytest.raises(AwsError) as exc:
        kms.generate_data_key(as_user, key.arn)
    assert code(exc) == "AccessDeniedException"
    grant = kms.create_grant(
        make_call(service="rds"),
        key.arn,
        user.arn,
        ["GenerateDataKey", "Decrypt"],
        constraints={"EncryptionContextSubset": {"db": "orders"}},
    )
    dk = kms.generate_data_key(as_user, key.arn, encryption_context={"db": "orders"})
    with pytest.raises(AwsError) as exc:  # the constraint is not met
        kms.generate_data_key(as_user, key.arn)
    assert code(exc) == "AccessDeniedException"
    kms.retire_grant(call, key.arn, grant["GrantId"])
    with pytest.raises(AwsError) as exc:
        kms.decrypt(as_user, dk["CiphertextBlob"], encryption_context={"db": "orders"})
    assert code(exc) == "AccessDeniedException"
    with pytest.raises(AwsError) as exc:
        kms.retire_grant(call, key.arn, grant["GrantId"])
    assert code(exc) == "NotFoundException"


def test_the_callee_records_its_event_with_invoked_by(app: App, internal_call) -> None:
    """KMS's CloudTrail event for a call Secrets Manager made for a user:
    the user's identity with invokedBy, the service as source, the
    encryption context recorded and the plaintext never."""
    import orjson

    from strongroom.audit import records

    user = Principal(  # of another account: the managed key's policy is for this one
        type="IAMUser",
        account="111122223333",
        arn="arn:aws:iam::111122223333:user/reader",
        principal_id="AIDAEXAMPLEEXAMPLE09",
        user_name="reader",
    )
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, None, "secretsmanager")
        arn = kms.aws_managed_key(call, "secretsmanager")
        ctx = {"SecretARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:audited"}
        dk = kms.generate_data_key(call, arn, encryption_context=ctx)
        refused = internal_call(app, conn, user, "secretsmanager")
        with pytest.raises(AwsError):
            kms.decrypt(refused, dk["CiphertextBlob"], encryption_context=ctx)
    app._record_children(call, app.clock.timestamp())
    app._record_children(refused, app.clock.timestamp())
    app.audit.flush(wait=True)
    with app.store.transaction(write=False) as conn:
        stored = [e for _, _, e in records.scan(conn) if e.event_source == "kms.amazonaws.com"]
        rendered = records.render_events(conn, stored)
    by_name = {r["eventName"]: r for r in rendered}
    made = by_name["GenerateDataKey"]
    assert made["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert made["userIdentity"]["type"] == "Root"
    assert made["sourceIPAddress"] == made["userAgent"] == "secretsmanager.amazonaws.com"
    assert made["requestParameters"]["encryptionContext"] == ctx
    denied = by_name["Decrypt"]
    assert denied["errorCode"] == "AccessDeniedException"
    assert denied["userIdentity"]["arn"] == user.arn
    assert denied["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    text = orjson.dumps(rendered)
    assert dk["Plaintext"] not in text and bytes(dk["Plaintext"]).hex().encode() not in text
