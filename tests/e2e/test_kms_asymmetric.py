"""KMS asymmetric and HMAC keys end to end: RSA encryption, signatures (RAW and
DIGEST), GetPublicKey in DER, MACs, ECDH key agreement — verified with the
`cryptography` package on the client side."""

from __future__ import annotations

import hashlib

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from strongroom.testing import StrongroomServer


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def kms(server: StrongroomServer):
    return server.client("kms")


_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072"])
def test_rsa_encryption(kms, spec: str) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    pub = kms.get_public_key(KeyId=key["KeyId"])
    assert pub["KeySpec"] == spec and pub["KeyUsage"] == "ENCRYPT_DECRYPT"
    public = serialization.load_der_public_key(pub["PublicKey"])
    for alg, h in (("RSAES_OAEP_SHA_1", hashes.SHA1), ("RSAES_OAEP_SHA_256", hashes.SHA256)):
        out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"rsa secret", EncryptionAlgorithm=alg)
        back = kms.decrypt(
            CiphertextBlob=out["CiphertextBlob"], KeyId=key["KeyId"], EncryptionAlgorithm=alg
        )
        assert back["Plaintext"] == b"rsa secret" and back["EncryptionAlgorithm"] == alg
        # Encrypted offline with the public key, decrypted by KMS.
        offline = public.encrypt(b"offline", padding.OAEP(padding.MGF1(h()), h(), None))
        assert (
            kms.decrypt(CiphertextBlob=offline, KeyId=key["KeyId"], EncryptionAlgorithm=alg)[
                "Plaintext"
            ]
            == b"offline"
        )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")  # SYMMETRIC_DEFAULT
    assert code_of(exc) == "InvalidKeyUsageException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert code_of(exc) == "InvalidKeyUsageException"


SIGNING = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
]


@pytest.fixture(scope="module")
def signing_keys(kms) -> dict[str, dict]:
    specs = sorted({spec for spec, _ in SIGNING})
    return {
        spec: kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"] for spec in specs
    }


@pytest.mark.parametrize("spec,alg", SIGNING)
def test_sign_verify(kms, signing_keys, spec: str, alg: str) -> None:
    key = signing_keys[spec]
    assert alg in key["SigningAlgorithms"]
    message = b"sign this message"
    h = _HASH[alg.rsplit("_", 1)[1]]()
    digest = hashlib.new(h.name, message).digest()
    raw = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=alg)
    assert raw["KeyId"] == key["Arn"] and raw["SigningAlgorithm"] == alg
    by_digest = kms.sign(
        KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=alg
    )
    for sig in (raw["Signature"], by_digest["Signature"]):
        assert kms.verify(KeyId=key["KeyId"], Message=message, Signature=sig, SigningAlgorithm=alg)[
            "SignatureValid"
        ]
        assert kms.verify(
            KeyId=key["KeyId"],
            Message=digest,
            MessageType="DIGEST",
            Signature=sig,
            SigningAlgorithm=alg,
        )["SignatureValid"]
    # Verified offline with the DER public key.
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    if alg.startswith("ECDSA"):
        public.verify(raw["Signature"], message, ec.ECDSA(h))
        public.verify(by_digest["Signature"], digest, ec.ECDSA(utils.Prehashed(h)))
    elif alg.startswith("RSASSA_PSS"):
        public.verify(raw["Signature"], message, padding.PSS(padding.MGF1(h), h.digest_size), h)
    else:
        public.verify(raw["Signature"], message, padding.PKCS1v15(), h)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.verify(
            KeyId=key["KeyId"],
            Message=b"tampered",
            Signature=raw["Signature"],
            SigningAlgorithm=alg,
        )
    assert code_of(exc) == "KMSInvalidSignatureException"


def test_signing_errors(kms, signing_keys) -> None:
    key = signing_keys["ECC_NIST_P256"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert code_of(exc) == "InvalidKeyUsageException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.sign(
            KeyId=key["KeyId"],
            Message=b"short",
            MessageType="DIGEST",
            SigningAlgorithm="ECDSA_SHA_256",
        )
    assert code_of(exc) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"m")
    assert code_of(exc) == "InvalidKeyUsageException"
    symmetric = kms.create_key()["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.get_public_key(KeyId=symmetric["KeyId"])
    assert code_of(exc) == "UnsupportedOperationException"


@pytest.mark.parametrize("bits", [224, 256, 384, 512])
def test_hmac(kms, bits: int) -> None:
    key = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    alg = f"HMAC_SHA_{bits}"
    assert key["MacAlgorithms"] == [alg]
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"mac me", MacAlgorithm=alg)
    assert len(mac["Mac"]) == bits // 8 and mac["KeyId"] == key["Arn"]
    again = kms.generate_mac(KeyId=key["KeyId"], Message=b"mac me", MacAlgorithm=alg)
    assert again["Mac"] == mac["Mac"]
    ok = kms.verify_mac(KeyId=key["KeyId"], Message=b"mac me", MacAlgorithm=alg, Mac=mac["Mac"])
    assert ok["MacValid"] is True
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.verify_mac(KeyId=key["KeyId"], Message=b"other", MacAlgorithm=alg, Mac=mac["Mac"])
    assert code_of(exc) == "KMSInvalidMacException"
    wrong = "HMAC_SHA_256" if bits != 256 else "HMAC_SHA_512"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm=wrong)
    assert code_of(exc) == "InvalidKeyUsageException"


@pytest.mark.parametrize(
    "spec,curve", [("ECC_NIST_P256", ec.SECP256R1), ("ECC_NIST_P384", ec.SECP384R1)]
)
def test_derive_shared_secret(kms, spec: str, curve: type) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    mine = ec.generate_private_key(curve())
    my_public = mine.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(
        KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=my_public
    )
    kms_public = serialization.load_der_public_key(
        kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    )
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), kms_public)
    assert out["KeyOrigin"] == "AWS_KMS"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert code_of(exc) == "InvalidKeyUsageException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.derive_shared_secret(
            KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=b"\x30\x03garbage"
        )
    assert code_of(exc) == "ValidationException"


def test_asymmetric_cli(server: StrongroomServer, kms, signing_keys, tmp_path) -> None:
    import base64
    import json
    import os
    import subprocess

    key = signing_keys["ECC_NIST_P256"]
    msg = tmp_path / "msg"
    msg.write_bytes(b"cli signed")
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "kms", "sign", "--key-id", key["KeyId"], "--message", f"fileb://{msg}",
         "--signing-algorithm", "ECDSA_SHA_256", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sig = base64.b64decode(json.loads(done.stdout)["Signature"])
    assert kms.verify(
        KeyId=key["KeyId"], Message=b"cli signed", Signature=sig, SigningAlgorithm="ECDSA_SHA_256"
    )["SignatureValid"]


def test_ed25519(kms) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert key["SigningAlgorithms"] == ["ED25519_SHA_512"]
    sig = kms.sign(KeyId=key["KeyId"], Message=b"edwards", SigningAlgorithm="ED25519_SHA_512")
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    public.verify(sig["Signature"], b"edwards")
    assert kms.verify(
        KeyId=key["KeyId"],
        Message=b"edwards",
        Signature=sig["Signature"],
        SigningAlgorithm="ED25519_SHA_512",
    )["SignatureValid"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    assert code_of(exc) == "UnsupportedOperationException"
