"""KMS and the clock (a --time-travel server): key deletion when the waiting
period ends, automatic rotation, imported material that expires."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from strongroom.testing import StrongroomServer


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def wait_until_created(client, key_id: str, timeout: float = 15.0) -> dict:
    """A replica is ``Creating`` for a moment after ReplicateKey, as in AWS."""
    deadline = time.monotonic() + timeout
    while True:
        meta = client.describe_key(KeyId=key_id)["KeyMetadata"]
        if meta["KeyState"] != "Creating" or time.monotonic() > deadline:
            return meta
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tt_server(request: pytest.FixtureRequest) -> StrongroomServer:
    """A time-travel server per module, once on each state store."""
    store_url = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        store_url = pg.create_database("t" + uuid.uuid4().hex[:12])
    server = StrongroomServer(time_travel=True, store_url=store_url).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def kms(tt_server: StrongroomServer):
    return tt_server.client("kms")


def server_now(tt_server: StrongroomServer) -> datetime:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{tt_server.endpoint}/_strongroom/clock") as resp:
        return datetime.fromisoformat(json.loads(resp.read())["now"])


def service_events(server: StrongroomServer, name: str, arn: str) -> list[dict]:
    """The AwsServiceEvent records named `name` about the resource `arn`."""
    import json

    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == name]
    return [r for r in records if r["eventType"] == "AwsServiceEvent"]


def test_key_disappears_when_the_waiting_period_ends(tt_server: StrongroomServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["DeletionDate"] - server_now(tt_server) > timedelta(days=6, hours=23)
    tt_server.advance_clock("6d")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    tt_server.advance_clock("2d")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.describe_key(KeyId=key["KeyId"])
    assert code_of(exc) == "NotFoundException"
    names = {a["AliasName"] for a in kms.list_aliases(Limit=1000)["Aliases"]}
    assert "alias/doomed" not in names
    # KMS recorded the deletion itself, as an AwsServiceEvent.
    (event,) = service_events(tt_server, "DeleteKey", key["Arn"])
    assert event["userIdentity"] == {"accountId": key["AWSAccountId"], "invokedBy": "AWS Internal"}
    assert event["sourceIPAddress"] == event["userAgent"] == "AWS Internal"
    assert event["responseElements"] == {"keyId": key["Arn"]}
    assert event["resources"] == [
        {"accountId": key["AWSAccountId"], "type": "AWS::KMS::Key", "ARN": key["Arn"]}
    ]
    assert event["recipientAccountId"] == key["AWSAccountId"] and "requestID" not in event
    assert key["KeyId"] not in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert code_of(exc) == "NotFoundException"


def test_automatic_rotation(tt_server: StrongroomServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    first_due = status["NextRotationDate"]
    assert timedelta(days=89) < first_due - server_now(tt_server) <= timedelta(days=90)
    old = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"old", EncryptionContext={"v": "1"})
    tt_server.advance_clock("91d")
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert rotations[0]["KeyMaterialState"] == "CURRENT"
    new = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=16)
    assert new["KeyMaterialId"] == rotations[0]["KeyMaterialId"] != key["CurrentKeyMaterialId"]
    back = kms.decrypt(CiphertextBlob=old["CiphertextBlob"], EncryptionContext={"v": "1"})
    assert back["Plaintext"] == b"old" and back["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["NextRotationDate"] > first_due
    (event,) = service_events(tt_server, "RotateKey", key["Arn"])
    assert event["userIdentity"]["invokedBy"] == "AWS Internal"
    assert event["serviceEventDetails"] == {
        "rotationType": "AUTOMATIC",
        "keyOrigin": "AWS_KMS",
        "keyId": key["KeyId"],
        "previousKeyMaterialId": key["CurrentKeyMaterialId"],
        "currentKeyMaterialId": rotations[0]["KeyMaterialId"],
    }
    everything = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [r["KeyMaterialState"] for r in everything["Rotations"]] == ["NON_CURRENT", "CURRENT"]
    # A disabled key is not rotated; once enabled again, overdue rotation happens.
    kms.disable_key(KeyId=key["KeyId"])
    tt_server.advance_clock("100d")
    assert len(kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]) == 1
    kms.enable_key(KeyId=key["KeyId"])
    tt_server.advance_clock("1s")
    assert len(kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]) == 2
    # Pending deletion shows rotation off; cancelling brings it back.
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.disable_key_rotation(KeyId=key["KeyId"])  # CancelKeyDeletion leaves it Disabled
    assert code_of(exc) == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_rotate_on_demand(tt_server: StrongroomServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    blobs = []
    for i in range(25):
        blobs.append(kms.encrypt(KeyId=key["KeyId"], Plaintext=bytes([i]))["CiphertextBlob"])
        assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert code_of(exc) == "LimitExceededException"
    rotations = kms.get_paginator("list_key_rotations").paginate(KeyId=key["KeyId"])
    entries = [r for page in rotations for r in page["Rotations"]]
    assert len(entries) == 25 and {r["RotationType"] for r in entries} == {"ON_DEMAND"}
    for i, blob in enumerate(blobs):  # every material version still decrypts
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == bytes([i])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    asym = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    for call in (
        lambda: kms.enable_key_rotation(KeyId=asym["KeyId"]),
        lambda: kms.rotate_key_on_demand(KeyId=asym["KeyId"]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) == "UnsupportedOperationException"


def wrap(public_der: bytes, material: bytes) -> bytes:
    public = serialization.load_der_public_key(public_der)
    return public.encrypt(
        material, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    )


def test_imported_material_expires(tt_server: StrongroomServer, kms) -> None:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    material = bytes(range(32))
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    valid_to = server_now(tt_server) + timedelta(days=2)
    out = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], material),
        ValidTo=valid_to,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
    )
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    tt_server.advance_clock("3d")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert code_of(exc) == "KMSInvalidStateException"
    assert exc.value.response["Error"]["Message"] == f"{key['Arn']} is pending import."
    # The same material comes back (without expiry) and old ciphertexts open again.
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072"
    )
    again = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert again["KeyMaterialId"] == out["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    tt_server.advance_clock("400d")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    # Import tokens expire after 24 hours.
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    tt_server.advance_clock("25h")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap(params["PublicKey"], material),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code_of(exc) == "ExpiredImportTokenException"


def test_multi_region_primary_waits_for_its_replicas(
    strongroom_factory: Callable[..., StrongroomServer],
) -> None:
    server = strongroom_factory(time_travel=True)
    us = server.client("kms")
    eu = server.client("kms", region="eu-west-1")
    key = us.create_key(MultiRegion=True)["KeyMetadata"]
    us.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    assert wait_until_created(eu, key["KeyId"])["KeyState"] == "Enabled"
    out = us.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in out
    eu.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    server.advance_clock("8d")
    with pytest.raises(botocore.exceptions.ClientError):
        eu.describe_key(KeyId=key["KeyId"])
    meta = us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    server.advance_clock("8d")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        us.describe_key(KeyId=key["KeyId"])
    assert code_of(exc) == "NotFoundException"
    assert datetime.now(UTC) < server_now(server)


def _cli(server: StrongroomServer, *args: str) -> dict:
    import json
    import os
    import subprocess

    done = subprocess.run(
        ["aws", "kms", *args, "--output", "json"],
        env={**os.environ, **server.aws_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_rotation_and_deletion(tt_server: StrongroomServer, kms) -> None:
    key_id = _cli(tt_server, "create-key", "--description", "cli")["KeyMetadata"]["KeyId"]
    _cli(tt_server, "enable-key-rotation", "--key-id", key_id, "--rotation-period-in-days", "180")
    status = _cli(tt_server, "get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    tt_server.advance_clock("181d")
    rotations = _cli(tt_server, "list-key-rotations", "--key-id", key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    _cli(tt_server, "rotate-key-on-demand", "--key-id", key_id)
    out = _cli(
        tt_server, "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7"
    )
    assert out["KeyState"] == "PendingDeletion"
    tt_server.advance_clock("8d")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.describe_key(KeyId=key_id)
    assert code_of(exc) == "NotFoundException"


def test_aws_managed_keys_rotate_yearly(tt_server: StrongroomServer, kms) -> None:
    meta = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    assert kms.list_key_rotations(KeyId=meta["KeyId"])["Rotations"] == []
    tt_server.advance_clock("366d")
    rotations = kms.list_key_rotations(KeyId=meta["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.disable_key_rotation(KeyId=meta["KeyId"])
    assert code_of(exc) == "AccessDeniedException"
