"""KMS answers bad requests with AWS's error codes and messages (issue 17,
item 14): digest lengths, on-demand rotation of imported material, HMAC keys
where a ciphertext's key belongs, tag rules on every operation that takes
tags, key-id and ARN messages, RSA plaintext limits, and error bodies that
have no message."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def kms(server: StrongroomServer) -> Any:
    return server.client("kms")


def error_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err.get("Message", "")


def fails(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call(**kwargs)
    return error_of(exc)


# --------------------------------------------------------------------------- Verify


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_384")],
)
def test_verify_with_a_digest_of_the_wrong_length(kms, spec: str, algorithm: str) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    digest = hashlib.new("sha" + algorithm[-3:], b"m").digest()
    signature = kms.sign(
        KeyId=key, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm
    )["Signature"]
    for op, extra in ((kms.sign, {}), (kms.verify, {"Signature": signature})):
        assert fails(
            op,
            KeyId=key,
            Message=digest[:-1],
            MessageType="DIGEST",
            SigningAlgorithm=algorithm,
            **extra,
        ) == ("ValidationException", f"Digest is invalid length for algorithm {algorithm}.")


# --------------------------------------------------------------------------- imported material


def _wrap(public_der: bytes, material: bytes) -> bytes:
    public = serialization.load_der_public_key(public_der)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return public.encrypt(material, oaep)  # type: ignore[union-attr]


def _import(kms, key_id: str, material: bytes, **kwargs: Any) -> dict[str, Any]:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=_wrap(params["PublicKey"], material),
        **kwargs,
    )


def test_on_demand_rotation_of_imported_material(kms) -> None:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    _import(kms, key, uuid.uuid4().bytes * 2, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    # No new material imported: nothing to rotate to.
    code, message = fails(kms.rotate_key_on_demand, KeyId=key)
    assert code == "KMSInvalidStateException" and "PENDING_ROTATION" in message
    never = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ImportType": "NEW_KEY_MATERIAL"}
    first = _import(kms, key, uuid.uuid4().bytes * 2, **never)
    # A second new material while one waits for rotation.
    code, message = fails(_import, kms=kms, key_id=key, material=uuid.uuid4().bytes * 2, **never)
    assert code == "KMSInvalidStateException" and "PENDING_ROTATION" in message
    # Pending material is not the key's yet: deleted, other material takes its place.
    kms.delete_imported_key_material(KeyId=key, KeyMaterialId=first["KeyMaterialId"])
    second = _import(kms, key, uuid.uuid4().bytes * 2, **never)
    kms.rotate_key_on_demand(KeyId=key)
    assert (
        kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
        == (second["KeyMaterialId"])
    )


def test_expiring_material_needs_valid_to(kms) -> None:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    code, message = fails(
        _import,
        kms=kms,
        key_id=key,
        material=uuid.uuid4().bytes * 2,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
    )
    assert code == "ValidationException" and "ValidTo" in message
    # AWS's default ExpirationModel is KEY_MATERIAL_EXPIRES: leaving out both
    # members is the same request.
    code, message = fails(_import, kms=kms, key_id=key, material=uuid.uuid4().bytes * 2)
    assert code == "ValidationException" and "ValidTo" in message
    too_late = datetime.now(UTC) + timedelta(days=366)
    code, message = fails(
        _import, kms=kms, key_id=key, material=uuid.uuid4().bytes * 2, ValidTo=too_late
    )
    assert code == "ValidationException" and "365 days" in message
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"


# --------------------------------------------------------------------------- HMAC keys


def test_hmac_keys_cannot_decrypt(kms) -> None:
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"p")["CiphertextBlob"]
    assert fails(kms.decrypt, CiphertextBlob=blob, KeyId=hmac["KeyId"])[0] == (
        "IncorrectKeyException"
    )
    assert fails(
        kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=hmac["Arn"], DestinationKeyId=sym
    )[0] == ("IncorrectKeyException")


# --------------------------------------------------------------------------- tags


def _tags(n: int) -> list[dict[str, str]]:
    return [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(n)]


RESERVED = ("TagException", "Tags beginning with aws: are reserved.")


def test_tag_rules_on_every_operation_that_takes_tags(server, kms) -> None:
    key = kms.create_key(Tags=_tags(50))["KeyMetadata"]["KeyId"]  # 50 is the limit
    assert fails(kms.create_key, Tags=_tags(51))[0] == "TagException"
    assert fails(kms.tag_resource, KeyId=key, Tags=_tags(51))[0] == "TagException"
    # A key already at 50 takes no new one.
    assert fails(kms.tag_resource, KeyId=key, Tags=[{"TagKey": "new", "TagValue": "v"}])[0] == (
        "LimitExceededException"
    )
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "k0", "TagValue": "changed"}])
    for prefix in ("aws:", "AWS:", "Aws:", "aWs:"):
        bad = [{"TagKey": prefix + "x", "TagValue": "v"}]
        assert fails(kms.create_key, Tags=bad) == RESERVED
        assert fails(kms.tag_resource, KeyId=key, Tags=bad) == RESERVED
        assert fails(kms.untag_resource, KeyId=key, TagKeys=[prefix + "x"]) == RESERVED
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    bad = [{"TagKey": "AWS:x", "TagValue": "v"}]
    assert fails(kms.replicate_key, KeyId=primary, ReplicaRegion="eu-west-1", Tags=bad) == (
        RESERVED
    )
    assert fails(kms.replicate_key, KeyId=primary, ReplicaRegion="eu-west-1", Tags=_tags(51))[
        0
    ] == ("TagException")
    eu = server.client("kms", region="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError):
        eu.describe_key(KeyId=primary)  # nothing was replicated


# --------------------------------------------------------------------------- messages


def test_key_id_and_arn_messages(kms) -> None:
    for bad in ("x", "1234", "aws/s3", "mrk-nothex"):
        assert fails(kms.describe_key, KeyId=bad) == ("NotFoundException", f"Invalid keyId '{bad}'")
        assert fails(kms.encrypt, KeyId=bad, Plaintext=b"p") == (
            "NotFoundException",
            f"Invalid keyId '{bad}'",
        )
    key = kms.create_key()["KeyMetadata"]
    elsewhere = key["Arn"].replace("us-east-1", "us-west-2")
    assert fails(kms.describe_key, KeyId=elsewhere) == (
        "NotFoundException",
        "Invalid arn us-west-2",
    )
    assert fails(kms.encrypt, KeyId=elsewhere, Plaintext=b"p") == (
        "NotFoundException",
        "Invalid arn us-west-2",
    )
    alias_elsewhere = f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/whatever"
    assert fails(kms.describe_key, KeyId=alias_elsewhere) == (
        "NotFoundException",
        "Invalid arn eu-west-1",
    )
    missing = str(uuid.uuid4())
    assert fails(kms.describe_key, KeyId=missing) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}' does not exist",
    )


@pytest.mark.parametrize(
    ("spec", "algorithm", "limit"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_4096", "RSAES_OAEP_SHA_256", 446),
    ],
)
def test_rsa_plaintext_limit_message(kms, spec: str, algorithm: str, limit: int) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"x" * limit, EncryptionAlgorithm=algorithm)
    assert fails(
        kms.encrypt, KeyId=key, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm
    ) == (
        "ValidationException",
        f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes.",
    )


def test_an_error_without_a_message_has_no_message_member(kms) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    bodies: list[bytes] = []

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    kms.meta.events.register("before-parse.kms.Verify", keep)
    try:
        code, _ = fails(
            kms.verify,
            KeyId=key,
            Message=b"m",
            Signature=b"\x30\x06\x02\x01\x01\x02\x01\x01",
            SigningAlgorithm="ECDSA_SHA_256",
        )
    finally:
        kms.meta.events.unregister("before-parse.kms.Verify", keep)
    assert code == "KMSInvalidSignatureException"
    assert json.loads(bodies[-1]) == {"__type": "KMSInvalidSignatureException"}


# --------------------------------------------------------------------------- paging


def test_markers_are_bound_to_their_listing(server, kms) -> None:
    """A marker is good only on the listing it came from (framework/paging.py)."""
    key = kms.create_key(Tags=_tags(3))["KeyMetadata"]["KeyId"]
    other = kms.create_key(Tags=_tags(3))["KeyMetadata"]["KeyId"]
    for _ in range(2):
        kms.create_key()
    marker = kms.list_keys(Limit=1)["NextMarker"]
    assert len(kms.list_keys(Limit=1, Marker=marker)["Keys"]) == 1
    invalid = ("InvalidMarkerException", "Invalid marker.")
    assert fails(kms.list_aliases, Marker=marker) == invalid  # another operation
    tags_marker = kms.list_resource_tags(KeyId=key, Limit=1)["NextMarker"]
    assert kms.list_resource_tags(KeyId=key, Limit=2, Marker=tags_marker)["Tags"] == [
        {"TagKey": "k1", "TagValue": "v"},
        {"TagKey": "k2", "TagValue": "v"},
    ]
    assert fails(kms.list_resource_tags, KeyId=other, Marker=tags_marker) == invalid
    eu = server.client("kms", region="eu-west-1")
    assert fails(eu.list_keys, Marker=marker) == invalid  # another Region's listing


def test_page_sizes_stop_at_kmss_documented_maximum(kms) -> None:
    """ListAliases' Limit "must be between 1 and 100": a larger one returns
    at most 100, truncated, never more (the model allows up to 1000)."""
    keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
    run = uuid.uuid4().hex[:8]
    for n in range(101):
        kms.create_alias(AliasName=f"alias/many-{run}-{n:03}", TargetKeyId=keys[n % 3])
    page = kms.list_aliases(Limit=1000)
    assert len(page["Aliases"]) == 100 and page["Truncated"] is True
    rest = kms.list_aliases(Limit=1000, Marker=page["NextMarker"])
    names = {a["AliasName"] for a in page["Aliases"] + rest["Aliases"]}
    assert {f"alias/many-{run}-{n:03}" for n in range(101)} <= names
    assert len(kms.list_aliases(KeyId=keys[0])["Aliases"]) == 34  # default 50
