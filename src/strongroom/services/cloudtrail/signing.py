"""The RSA key pairs that sign digest files (SHA256withRSA, PKCS #1 v1.5),
one current per Region, as CloudTrail keeps them: the public key goes out
through ListPublicKeys (PKCS #1 DER) and is named in each digest by its
fingerprint (the MD5 of that DER, hex); the private key is stored only
sealed under the root key."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048


def new_key_pair() -> tuple[bytes, bytes]:
    """(PKCS #8 private DER, PKCS #1 public DER)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return private, public


def fingerprint(public_der: bytes) -> str:
    return hashlib.md5(public_der, usedforsecurity=False).hexdigest()


def sign(private_der: bytes, message: bytes) -> bytes:
    key = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
