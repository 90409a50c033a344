"""What each key spec can do: usages and the algorithms of each usage."""

from __future__ import annotations

from dataclasses import dataclass

RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
RSA_SIGNING = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    #: usage -> algorithms (encryption, signing, MAC or key agreement)
    usages: dict[str, tuple[str, ...]]

    @property
    def symmetric(self) -> bool:
        return self.name == "SYMMETRIC_DEFAULT"

    @property
    def hmac(self) -> bool:
        return self.name.startswith("HMAC_")

    @property
    def asymmetric(self) -> bool:
        return not (self.symmetric or self.hmac)


SPECS: dict[str, Spec] = {
    "SYMMETRIC_DEFAULT": Spec("SYMMETRIC_DEFAULT", {"ENCRYPT_DECRYPT": ("SYMMETRIC_DEFAULT",)}),
    **{
        name: Spec(name, {"ENCRYPT_DECRYPT": RSA_ENCRYPTION, "SIGN_VERIFY": RSA_SIGNING})
        for name in ("RSA_2048", "RSA_3072", "RSA_4096")
    },
    "ECC_NIST_P256": Spec(
        "ECC_NIST_P256", {"SIGN_VERIFY": ("ECDSA_SHA_256",), "KEY_AGREEMENT": ("ECDH",)}
    ),
    "ECC_NIST_P384": Spec(
        "ECC_NIST_P384", {"SIGN_VERIFY": ("ECDSA_SHA_384",), "KEY_AGREEMENT": ("ECDH",)}
    ),
    "ECC_NIST_P521": Spec(
        "ECC_NIST_P521", {"SIGN_VERIFY": ("ECDSA_SHA_512",), "KEY_AGREEMENT": ("ECDH",)}
    ),
    "ECC_SECG_P256K1": Spec("ECC_SECG_P256K1", {"SIGN_VERIFY": ("ECDSA_SHA_256",)}),
    "ECC_NIST_EDWARDS25519": Spec("ECC_NIST_EDWARDS25519", {"SIGN_VERIFY": ("ED25519_SHA_512",)}),
    **{
        f"HMAC_{bits}": Spec(f"HMAC_{bits}", {"GENERATE_VERIFY_MAC": (f"HMAC_SHA_{bits}",)})
        for bits in (224, 256, 384, 512)
    },
}

#: In the model, not served here (China-Region SM2, post-quantum ML-DSA).
UNSUPPORTED_SPECS = frozenset({"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87"})

#: Key specs a data key pair may have.
DATA_KEY_PAIR_SPECS = frozenset(
    {
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    }
)

ALGORITHM_MEMBER = {
    "ENCRYPT_DECRYPT": "EncryptionAlgorithms",
    "SIGN_VERIFY": "SigningAlgorithms",
    "GENERATE_VERIFY_MAC": "MacAlgorithms",
    "KEY_AGREEMENT": "KeyAgreementAlgorithms",
}
