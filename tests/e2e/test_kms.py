"""KMS end to end: symmetric data plane and key lifecycle, with boto3 and the
aws CLI against a real server (SQLite and PostgreSQL stores)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def message_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def kms(server: StrongroomServer):
    return server.client("kms")


@pytest.fixture
def key(kms) -> dict:
    return kms.create_key(Description="test key")["KeyMetadata"]


def cli(server: StrongroomServer, *args: str) -> dict:
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "kms", *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


# --------------------------------------------------------------------------- data plane


def test_encrypt_decrypt_round_trip(kms, key) -> None:
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn")
    assert out["KeyId"] == key["Arn"]
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert b"attack at dawn" not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"])  # no KeyId needed
    assert back["Plaintext"] == b"attack at dawn"
    assert back["KeyId"] == key["Arn"]
    assert back["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    # The key may be named by id, ARN, alias or alias ARN.
    alias = f"alias/rt-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for name in (key["Arn"], alias, f"arn:aws:kms:us-east-1:{ACCOUNT}:{alias}"):
        blob = kms.encrypt(KeyId=name, Plaintext=b"x")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, KeyId=name)["Plaintext"] == b"x"


def test_plaintext_limits(kms, key) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"\x00" * 4096)["CiphertextBlob"]
    assert len(blob) <= 6144
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"\x00" * 4097)
    assert code_of(exc) == "ValidationException"


def test_encryption_context_is_authenticated(kms, key) -> None:
    ctx = {"purpose": "test", "tenant": "42"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext=ctx)["CiphertextBlob"]
    reordered = {"tenant": "42", "purpose": "test"}
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"p"
    for wrong in ({}, {"purpose": "test"}, {**ctx, "extra": "1"}, {**ctx, "tenant": "43"}):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert code_of(exc) == "InvalidCiphertextException"


def test_tampered_ciphertext(kms, key) -> None:
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"])
    blob[-3] ^= 0x40
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert code_of(exc) == "InvalidCiphertextException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"not a kms ciphertext at all, no")
    assert code_of(exc) == "InvalidCiphertextException"


def test_decrypt_with_another_key_id(kms, key) -> None:
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"])
    assert code_of(exc) == "IncorrectKeyException"


def test_re_encrypt(kms, key) -> None:
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["SourceKeyId"] == key["Arn"] and out["KeyId"] == dest["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert back["Plaintext"] == b"move me" and back["KeyId"] == dest["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dest["KeyId"])
    assert code_of(exc) == "InvalidCiphertextException"


def test_generate_data_key(kms, key) -> None:
    out = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"x": "y"})
    assert len(out["Plaintext"]) == 32 and out["KeyId"] == key["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"x": "y"})
    assert back["Plaintext"] == out["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=7)["Plaintext"]) == 7
    for kwargs in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            kms.generate_data_key(KeyId=key["KeyId"], **kwargs)
        assert code_of(exc) == "ValidationException"
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=64)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 64


def test_generate_data_key_pair(kms, key) -> None:
    from cryptography.hazmat.primitives import serialization

    for spec in ("RSA_2048", "ECC_NIST_P256"):
        out = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=spec)
        assert out["KeyPairSpec"] == spec and out["KeyId"] == key["Arn"]
        private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], None)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert public == out["PublicKey"]
        plain = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
        assert plain == out["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(
        KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P384"
    )
    assert "PrivateKeyPlaintext" not in bare and bare["PublicKey"]


def test_generate_random(kms) -> None:
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == 32 and a != b
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.generate_random(NumberOfBytes=16, CustomKeyStoreId="cks-1234567890abcdef0")
    assert code_of(exc) == "CustomKeyStoreNotFoundException"


def test_disabled_key_fails_at_once(kms, key) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    for call in (
        lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) == "DisabledException"
        assert message_of(exc) == f"{key['Arn']} is disabled."
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"


def test_keys_live_in_one_region(server: StrongroomServer, kms, key) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    eu = server.client("kms", region="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.decrypt(CiphertextBlob=blob)
    assert code_of(exc) == "InvalidCiphertextException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.describe_key(KeyId=key["KeyId"])
    assert code_of(exc) == "NotFoundException"
    assert key["KeyId"] not in {k["KeyId"] for k in eu.list_keys(Limit=1000)["Keys"]}


def test_not_found_messages(kms) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=missing, Plaintext=b"p")
    assert code_of(exc) == "NotFoundException"
    assert message_of(exc) == f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}' does not exist"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId="alias/nope-nothing", Plaintext=b"p")
    assert (
        message_of(exc) == f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nope-nothing is not found."
    )


def test_aws_cli_encrypt_decrypt(server: StrongroomServer, kms, key, tmp_path) -> None:
    src = tmp_path / "plain.txt"
    src.write_bytes(b"from the cli")
    out = cli(
        server,
        "encrypt",
        "--key-id",
        key["KeyId"],
        "--plaintext",
        f"fileb://{src}",
        "--encryption-context",
        "purpose=cli",
    )
    assert out["KeyId"] == key["Arn"]
    blob = tmp_path / "blob"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    back = cli(
        server,
        "decrypt",
        "--ciphertext-blob",
        f"fileb://{blob}",
        "--encryption-context",
        "purpose=cli",
    )
    assert base64.b64decode(back["Plaintext"]) == b"from the cli"
    listed = cli(server, "list-keys")
    assert key["KeyId"] in {k["KeyId"] for k in listed["Keys"]}


def test_crypto_calls_are_read_only_audit_events(server: StrongroomServer, kms, key) -> None:
    ctx = {"audit": "me"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"never-in-the-trail", EncryptionContext=ctx)[
        "CiphertextBlob"
    ]
    kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    found: dict[str, dict] = {}
    while time.time() < deadline and len(found) < 2:
        for e in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}]
        )["Events"]:
            found.setdefault(e["EventName"], json.loads(e["CloudTrailEvent"]))
        time.sleep(0.2)
    enc, dec = found["Encrypt"], found["Decrypt"]
    assert enc["readOnly"] is True and dec["readOnly"] is True
    assert enc["eventSource"] == "kms.amazonaws.com"
    assert enc["requestParameters"] == {
        "keyId": key["KeyId"],
        "encryptionContext": ctx,
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert dec["requestParameters"] == {
        "encryptionContext": ctx,
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert enc["resources"] == [{"ARN": key["Arn"], "type": "AWS::KMS::Key", "accountId": ACCOUNT}]
    assert "never-in-the-trail" not in json.dumps(found)
    assert not enc.get("responseElements")


# --------------------------------------------------------------------------- lifecycle


def test_create_key_defaults(kms) -> None:
    meta = kms.create_key()["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["Origin"] == "AWS_KMS" and meta["KeyManager"] == "CUSTOMER"
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["MultiRegion"] is False
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"])["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    assert kms.list_key_policies(KeyId=meta["KeyId"])["PolicyNames"] == ["default"]


def test_create_key_validation(kms) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_key(KeySpec="HMAC_256")  # HMAC keys need KeyUsage GENERATE_VERIFY_MAC
    assert code_of(exc) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_key(CustomKeyStoreId="cks-1234567890abcdef0")
    assert code_of(exc) == "CustomKeyStoreNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_key(Policy="{not json")
    assert code_of(exc) == "MalformedPolicyDocumentException"


def test_list_keys_pages(kms) -> None:
    for _ in range(3):
        kms.create_key()
    first = kms.list_keys(Limit=2)
    assert len(first["Keys"]) == 2 and first["Truncated"] is True
    second = kms.list_keys(Limit=2, Marker=first["NextMarker"])
    assert {k["KeyId"] for k in second["Keys"]}.isdisjoint({k["KeyId"] for k in first["Keys"]})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.list_keys(Marker="garbage!")
    assert code_of(exc) == "InvalidMarkerException"
    everything = kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
    assert len([k for p in everything for k in p["Keys"]]) >= 3


def test_aliases(kms, key) -> None:
    name = f"alias/a-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key["Arn"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert code_of(exc) == "AlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key["KeyId"])
    assert code_of(exc) == "ValidationException"
    assert 'Alias must start with the prefix "alias/"' in message_of(exc)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    assert code_of(exc) == "InvalidAliasNameException"
    listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    assert listed[0]["AliasArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}"
    assert listed[0]["TargetKeyId"] == key["KeyId"]
    other = kms.create_key()["KeyMetadata"]
    kms.update_alias(AliasName=name, TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    kms.delete_alias(AliasName=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.delete_alias(AliasName=name)
    assert code_of(exc) == "NotFoundException"
    predefined = {a["AliasName"] for a in kms.list_aliases(Limit=1000)["Aliases"]}
    assert "alias/aws/rds" in predefined


def test_tags_and_description(kms, key) -> None:
    kms.tag_resource(
        KeyId=key["KeyId"],
        Tags=[{"TagKey": "team", "TagValue": "a"}, {"TagKey": "env", "TagValue": "dev"}],
    )
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "b"}])
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "b"}
    ]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
    assert code_of(exc) == "TagException"
    kms.update_key_description(KeyId=key["KeyId"], Description="new words")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "new words"


def test_schedule_and_cancel_deletion(kms, key) -> None:
    for days in (6, 31):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
        assert code_of(exc) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    assert out["KeyId"] == key["Arn"]
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["DeletionDate"] == out["DeletionDate"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    assert code_of(exc) == "KMSInvalidStateException"
    assert message_of(exc) == f"{key['Arn']} is pending deletion."
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "a", "TagValue": "b"}])
    assert code_of(exc) == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert message_of(exc) == f"{key['Arn']} is not pending deletion."


def test_aws_managed_key(kms) -> None:
    meta = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    again = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert again["KeyId"] == meta["KeyId"]
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
    for call in (
        lambda: kms.schedule_key_deletion(KeyId=meta["KeyId"]),
        lambda: kms.disable_key(KeyId=meta["KeyId"]),
        lambda: kms.put_key_policy(KeyId=meta["KeyId"], Policy="{}", PolicyName="default"),
        lambda: kms.update_key_description(KeyId=meta["KeyId"], Description="x"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) in ("AccessDeniedException", "MalformedPolicyDocumentException")
    # Direct use is not allowed: only through the owning service (kms:ViaService).
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId="alias/aws/secretsmanager", Plaintext=b"p")
    assert code_of(exc) == "AccessDeniedException"


def test_custom_key_stores_are_unavailable(kms) -> None:
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.connect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0")
    assert code_of(exc) == "CustomKeyStoreNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_custom_key_store(
            CustomKeyStoreName="hsm",
            CloudHsmClusterId="cluster-234567abcde",
            TrustAnchorCertificate="cert",
            KeyStorePassword="password123",
        )
    assert code_of(exc) == "CloudHsmClusterNotFoundException"


def test_several_workers_see_state_at_once(strongroom_factory) -> None:
    server = strongroom_factory(workers=2)
    key = server.client("kms").create_key()["KeyMetadata"]
    blob = server.client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    for _ in range(6):  # fresh connections land on either worker; both cache the material
        assert server.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    server.client("kms").disable_key(KeyId=key["KeyId"])
    for _ in range(6):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            server.client("kms").decrypt(CiphertextBlob=blob)
        assert code_of(exc) == "DisabledException"
    server.client("kms").enable_key(KeyId=key["KeyId"])
    server.client("kms").rotate_key_on_demand(KeyId=key["KeyId"])
    current = server.client("kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"][
        "CurrentKeyMaterialId"
    ]
    assert current != key["CurrentKeyMaterialId"]
    for _ in range(6):
        out = server.client("kms").generate_data_key(KeyId=key["KeyId"], NumberOfBytes=8)
        assert out["KeyMaterialId"] == current
        assert server.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"


def test_aws_cli_lifecycle(server: StrongroomServer, kms) -> None:
    meta = cli(server, "create-key", "--description", "cli key", "--tags",
               "TagKey=team,TagValue=cli")["KeyMetadata"]  # fmt: skip
    key_id = meta["KeyId"]
    alias = f"alias/cli-{uuid.uuid4().hex[:8]}"
    cli(server, "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    assert cli(server, "describe-key", "--key-id", alias)["KeyMetadata"]["Arn"] == meta["Arn"]
    dk = cli(server, "generate-data-key", "--key-id", alias, "--key-spec", "AES_256")
    assert len(base64.b64decode(dk["Plaintext"])) == 32 and dk["KeyId"] == meta["Arn"]
    assert len(base64.b64decode(cli(server, "generate-random", "--number-of-bytes", "24")[
        "Plaintext"])) == 24  # fmt: skip
    tags = cli(server, "list-resource-tags", "--key-id", key_id)["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "cli"}]
    policy = json.loads(cli(server, "get-key-policy", "--key-id", key_id,
                            "--policy-name", "default")["Policy"])  # fmt: skip
    policy["Statement"].append(
        {"Sid": "deny-gdk", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": "kms:GenerateDataKey", "Resource": "*"}
    )  # fmt: skip
    cli(server, "put-key-policy", "--key-id", key_id, "--policy-name", "default",
        "--policy", json.dumps(policy))  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert code_of(exc) == "AccessDeniedException"
    cli(server, "disable-key", "--key-id", key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    cli(server, "enable-key", "--key-id", key_id)
    cli(server, "update-key-description", "--key-id", key_id, "--description", "renamed")
    cli(server, "delete-alias", "--alias-name", alias)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"


def test_management_events_name_the_key(server: StrongroomServer, kms, key) -> None:
    kms.disable_key(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    found: dict[str, dict] = {}
    while time.time() < deadline and len(found) < 2:
        for e in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}]
        )["Events"]:
            if e["EventName"] in ("DisableKey", "EnableKey"):
                found.setdefault(e["EventName"], json.loads(e["CloudTrailEvent"]))
        time.sleep(0.2)
    for event in found.values():
        assert event["readOnly"] is False
        assert event["requestParameters"] == {"keyId": key["KeyId"]}
        assert event["responseElements"] == {"keyId": key["Arn"]}
    assert set(found) == {"DisableKey", "EnableKey"}
