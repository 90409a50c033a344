"""KMS key material end to end: multi-Region keys, imported material with every
wrapping algorithm, secrecy of plaintexts and key bytes at rest, in the log
and in the trail, the AWS Encryption SDK, last usage and DryRun."""

from __future__ import annotations

import base64
import json
import time
import uuid

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"


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


@pytest.fixture(scope="module")
def kms(server: StrongroomServer):
    return server.client("kms")


@pytest.fixture(scope="module")
def eu(server: StrongroomServer):
    return server.client("kms", region="eu-west-1")


# --------------------------------------------------------------------------- multi-Region


def test_multi_region_keys(kms, eu) -> None:
    key = kms.create_key(MultiRegion=True, Description="mrk")["KeyMetadata"]
    assert key["KeyId"].startswith("mrk-") and key["MultiRegion"] is True
    config = key["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY" and config["ReplicaKeys"] == []
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"everywhere", EncryptionContext={"r": "1"})[
        "CiphertextBlob"
    ]
    out = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1", Description="replica")
    replica = out["ReplicaKeyMetadata"]
    assert replica["Arn"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key['KeyId']}"
    # Briefly Creating (manageable, not usable), then Enabled.
    assert (replica["KeyState"], replica["Enabled"]) == ("Creating", False)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.encrypt(KeyId=key["KeyId"], Plaintext=b"too soon")
    assert code_of(exc) == "KMSInvalidStateException"
    assert "is creating" in exc.value.response["Error"]["Message"]
    assert wait_until_created(eu, key["KeyId"])["KeyState"] == "Enabled"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert json.loads(out["ReplicaPolicy"])["Statement"][0]["Action"] == "kms:*"
    # The replica decrypts what the primary encrypted, and the other way round.
    back = eu.decrypt(CiphertextBlob=blob, EncryptionContext={"r": "1"})
    assert back["Plaintext"] == b"everywhere" and back["KeyId"] == replica["Arn"]
    from_eu = eu.encrypt(KeyId=key["KeyId"], Plaintext=b"back")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=from_eu)["Plaintext"] == b"back"
    primary = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert primary["ReplicaKeys"] == [{"Arn": replica["Arn"], "Region": "eu-west-1"}]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    assert code_of(exc) == "AlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.replicate_key(KeyId=key["KeyId"], ReplicaRegion="us-west-2")
    assert code_of(exc) == "UnsupportedOperationException"
    # State, policy, tags and aliases are per Region.
    eu.disable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    eu.enable_key(KeyId=key["KeyId"])
    # Rotation of the primary reaches the replica.
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    rotated = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"new material")["CiphertextBlob"]
    assert eu.decrypt(CiphertextBlob=rotated)["Plaintext"] == b"new material"
    # The primary moves to eu-west-1.
    kms.update_primary_region(KeyId=key["KeyId"], PrimaryRegion="eu-west-1")
    now_us = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert now_us["MultiRegionKeyType"] == "REPLICA"
    assert now_us["PrimaryKey"] == {"Arn": replica["Arn"], "Region": "eu-west-1"}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert code_of(exc) == "UnsupportedOperationException"
    eu.rotate_key_on_demand(KeyId=key["KeyId"])


def test_replicate_key_is_recorded_in_both_regions(server: StrongroomServer, kms) -> None:
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    replica = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="ap-south-1", Description="r")
    arn = replica["ReplicaKeyMetadata"]["Arn"]

    def events(region: str, name: str) -> list[dict]:
        trail = server.client("cloudtrail", region=region)
        found = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
        )["Events"]
        return [json.loads(e["CloudTrailEvent"]) for e in found]

    replicated = [e for e in events("us-east-1", "ReplicateKey")
                  if e["requestParameters"]["keyId"] == key["KeyId"]]  # fmt: skip
    assert (
        len(replicated) == 1 and replicated[0]["requestParameters"]["replicaRegion"] == "ap-south-1"
    )
    created = [e for e in events("ap-south-1", "CreateKey")
               if any(r["ARN"] == arn for r in e.get("resources", []))]  # fmt: skip
    assert len(created) == 1
    event = created[0]
    assert event["awsRegion"] == "ap-south-1" and event["requestID"] == replicated[0]["requestID"]
    assert event["requestParameters"]["multiRegion"] is True
    assert event["requestParameters"]["description"] == "r"
    assert event["responseElements"]["keyMetadata"]["arn"] == arn


def test_single_region_key_cannot_replicate(kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    assert code_of(exc) == "UnsupportedOperationException"


# --------------------------------------------------------------------------- import


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    public = serialization.load_der_public_key(public_der)
    h = hashes.SHA1 if algorithm.endswith("SHA_1") else hashes.SHA256
    oaep = padding.OAEP(padding.MGF1(h()), h(), None)
    if algorithm == "RSAES_PKCS1_V1_5":
        return public.encrypt(material, padding.PKCS1v15())
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes = bytes(range(100, 132))
    return public.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


@pytest.mark.parametrize(
    "algorithm",
    [
        "RSAES_PKCS1_V1_5",
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
    ],
)
def test_import_with_every_wrapping_algorithm(kms, algorithm: str) -> None:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    assert code_of(exc) == "KMSInvalidStateException"
    material = uuid.uuid4().bytes * 2
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    assert params["KeyId"] == key["Arn"] and params["ParametersValidTo"]
    out = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert len(out["KeyMaterialId"]) == 64
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


def test_import_errors_and_delete(kms) -> None:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    material = bytes(32)

    def params() -> dict:
        return kms.get_parameters_for_import(
            KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )

    p = params()
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # 16 bytes is not a 256-bit key
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=p["ImportToken"],
            EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", bytes(16)),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code_of(exc) == "IncorrectKeyMaterialException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=b"bogus token",
            EncryptedKeyMaterial=b"x" * 256,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code_of(exc) == "InvalidImportTokenException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=p["ImportToken"],
            EncryptedKeyMaterial=b"x" * 256,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code_of(exc) == "InvalidCiphertextException"
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    p = params()
    with pytest.raises(botocore.exceptions.ClientError) as exc:  # must be the same material
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=p["ImportToken"],
            EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", bytes([1]) * 32),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code_of(exc) == "IncorrectKeyMaterialException"
    p = params()
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    normal = kms.create_key()["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.get_parameters_for_import(
            KeyId=normal["KeyId"],
            WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048",
        )
    assert code_of(exc) == "UnsupportedOperationException"


def test_import_asymmetric_material(kms) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")[
        "KeyMetadata"
    ]
    p = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_4096"
    )
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256", der),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    sig = kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))


# --------------------------------------------------------------------------- secrecy


def _store_dump(server: StrongroomServer) -> bytes:
    if server.store_url:
        from sqlalchemy import create_engine, text

        engine = create_engine(server.store_url)
        chunks = []
        with engine.connect() as conn:
            tables = conn.execute(
                text("select tablename from pg_tables where schemaname = 'public'")
            ).scalars()
            for name in list(tables):
                for row in conn.execute(text(f'select * from "{name}"')):
                    for value in row:
                        chunks.append(
                            bytes(value)
                            if isinstance(value, bytes | memoryview)
                            else repr(value).encode()
                        )
        engine.dispose()
        return b"\n".join(chunks)
    return b"".join(p.read_bytes() for p in server.data_dir.glob("state.db*"))


def test_no_plaintext_or_key_bytes_at_rest_in_log_or_trail(server: StrongroomServer, kms) -> None:
    secret = f"TOP-SECRET-{uuid.uuid4().hex}".encode()
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    material = uuid.uuid4().bytes + uuid.uuid4().bytes
    p = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=secret)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secret
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    with pytest.raises(botocore.exceptions.ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"wrong": "ctx"})
    trail = server.client("cloudtrail")
    records = []
    deadline = time.time() + 10
    while time.time() < deadline:
        records = [
            e["CloudTrailEvent"]
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}]
            )["Events"]
        ]
        if len(records) >= 6:
            break
        time.sleep(0.2)
    assert len(records) >= 6
    haystacks = {
        "store": _store_dump(server),
        "log": server.read_log().encode(),
        "trail": "\n".join(records).encode(),
    }
    needles = {
        "plaintext": secret,
        "key material": material,
        "data key": data_key,
        "private key": pair["PrivateKeyPlaintext"],
    }
    for where, hay in haystacks.items():
        for what, needle in needles.items():
            for form in (needle, needle.hex().encode(), base64.b64encode(needle)):
                assert form not in hay, f"{what} found in the {where}"


# --------------------------------------------------------------------------- AWS Encryption SDK


def test_aws_encryption_sdk(server: StrongroomServer, kms, monkeypatch) -> None:
    aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
    import botocore.session

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    key = kms.create_key(Description="esdk")["KeyMetadata"]
    session = botocore.session.Session()
    session.set_credentials(server.access_key_id, server.secret_access_key)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[key["Arn"]], botocore_session=session
    )
    message = b"a message longer than one frame " * 300
    sealed, header = client.encrypt(
        source=message, key_provider=provider, encryption_context={"tenant": "t1"}
    )
    assert message not in sealed
    assert [k.key_provider.key_info.decode() for k in header.encrypted_data_keys] == [key["Arn"]]
    opened, dheader = client.decrypt(source=sealed, key_provider=provider)
    assert opened == message and dheader.encryption_context["tenant"] == "t1"
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError):
        client.decrypt(source=sealed, key_provider=provider)


# --------------------------------------------------------------------------- misc


def test_dry_run(kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", DryRun=True)
    assert code_of(exc) == "DryRunOperationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(KeyId=key["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    assert code_of(exc) == "DryRunOperationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    assert code_of(exc) == "ValidationException"
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", DryRun=True)
    assert code_of(exc) == "DisabledException"


def test_get_key_last_usage(kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    fresh = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert "KeyLastUsage" not in fresh and fresh["KeyCreationDate"] == key["CreationDate"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    out = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=8)
    used = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
    assert used["Operation"] == "GenerateDataKey"
    assert used["KmsRequestId"] == out["ResponseMetadata"]["RequestId"]
    assert used["CloudTrailEventId"]


def _cli(server: StrongroomServer, *args: str) -> dict:
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


def test_aws_cli_multi_region_and_import(server: StrongroomServer, eu, tmp_path) -> None:
    key_id = _cli(server, "create-key", "--multi-region")["KeyMetadata"]["KeyId"]
    out = _cli(server, "replicate-key", "--key-id", key_id, "--replica-region", "eu-west-1")
    assert out["ReplicaKeyMetadata"]["KeyId"] == key_id
    assert wait_until_created(eu, key_id)["KeyState"] == "Enabled"
    _cli(server, "update-primary-region", "--key-id", key_id, "--primary-region", "eu-west-1")
    config = eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY"
    ext = _cli(server, "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    params = _cli(
        server,
        "get-parameters-for-import",
        "--key-id",
        ext,
        "--wrapping-algorithm",
        "RSA_AES_KEY_WRAP_SHA_256",
        "--wrapping-key-spec",
        "RSA_3072",
    )
    material = tmp_path / "material"
    token = tmp_path / "token"
    token.write_bytes(base64.b64decode(params["ImportToken"]))
    wrapped = wrap(
        base64.b64decode(params["PublicKey"]), "RSA_AES_KEY_WRAP_SHA_256", bytes(range(32))
    )
    material.write_bytes(wrapped)
    _cli(
        server,
        "import-key-material",
        "--key-id",
        ext,
        "--import-token",
        f"fileb://{token}",
        "--encrypted-key-material",
        f"fileb://{material}",
        "--expiration-model",
        "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert _cli(server, "describe-key", "--key-id", ext)["KeyMetadata"]["KeyState"] == "Enabled"
