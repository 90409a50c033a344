"""IAM credential helpers against known vectors: TOTP (RFC 6238 appendix B),
base32 (RFC 4648 section 10), SSH public keys in both encodings."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from strongroom.services.iam import mfa, ssh_keys

RFC6238_SEED = b"12345678901234567890"


@pytest.mark.parametrize(
    ("when", "code"),
    [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"),
     (2000000000, "279037"), (20000000000, "353130")],
)  # fmt: skip
def test_totp_matches_rfc6238(when: int, code: str) -> None:
    # RFC 6238's SHA-1 vectors are 8 digits; a 6-digit code is their last six.
    assert mfa.totp(RFC6238_SEED, when // 30) == code


def test_two_consecutive_codes_by_the_clock() -> None:
    now = 1_700_000_000.0
    step = int(now // 30)
    pair = (mfa.totp(RFC6238_SEED, step), mfa.totp(RFC6238_SEED, step + 1))
    assert mfa.matching_step(RFC6238_SEED, now, *pair, window=1) == step + 1
    assert mfa.matching_step(RFC6238_SEED, now, pair[1], pair[0], window=1) is None
    far = (mfa.totp(RFC6238_SEED, step + 50), mfa.totp(RFC6238_SEED, step + 51))
    assert mfa.matching_step(RFC6238_SEED, now, *far, window=10) is None


@pytest.mark.parametrize(
    "data", [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", bytes(range(20))]
)
def test_base32_matches_rfc4648(data: bytes) -> None:
    assert mfa.base32(data) == base64.b32encode(data).decode().rstrip("=")


def _key(bits: int = 2048) -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()


def test_ssh_keys_read_and_write_both_encodings() -> None:
    key = _key()
    openssh = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    parsed = ssh_keys.parse(openssh + " someone@host")
    assert parsed == ssh_keys.parse(pem)
    assert parsed.to_ssh() == openssh
    assert parsed.to_pem() == pem
    assert len(parsed.fingerprint().split(":")) == 16


@pytest.mark.parametrize(
    ("body", "unrecognized"),
    [("hello", True), ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA", True), ("ssh-rsa !!!", False),
     ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", False)],
)  # fmt: skip
def test_ssh_keys_refuse_what_iam_refuses(body: str, unrecognized: bool) -> None:
    with pytest.raises(ssh_keys.BadKey) as exc:
        ssh_keys.parse(body)
    assert exc.value.unrecognized is unrecognized


def test_ssh_keys_need_2048_bits() -> None:
    small = _key(1024).public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    with pytest.raises(ssh_keys.BadKey):
        ssh_keys.parse(small.decode())
