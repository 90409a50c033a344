"""IAM credential helpers against known vectors: TOTP (RFC 6238 appendix B),
base32 (RFC 4648 section 10), SSH public keys in both encodings."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from strongroom.services.iam import mfa, qr, ssh_keys

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


# -- QR codes -------------------------------------------------------------------------


def _scan(png: bytes) -> str | None:
    import shutil
    import subprocess
    import tempfile

    if shutil.which("zbarimg") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        done = subprocess.run(
            ["zbarimg", "-q", "--raw", f.name], capture_output=True, text=True, timeout=30
        )
    return done.stdout.rstrip("\n")


@pytest.mark.parametrize("length", [1, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213])
def test_qr_codes_of_every_version(length: int) -> None:
    text = "".join(chr(33 + (i * 7) % 90) for i in range(length))
    modules = qr.encode(text.encode())
    version = (len(modules) - 17) // 4
    assert 1 <= version <= 10 and len(modules) == 17 + 4 * version
    # The three finder patterns: a dark 7x7 ring around a light ring and a dark core.
    for x, y in ((0, 0), (len(modules) - 7, 0), (0, len(modules) - 7)):
        assert all(modules[y][x + i] and modules[y + 6][x + i] for i in range(7))
        assert not modules[y + 1][x + 1] and modules[y + 3][x + 3]
    png = qr.to_png(modules)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    scanned = _scan(png)
    if scanned is None:
        pytest.skip("zbarimg (zbar-tools) reads the codes back where it is installed")
    assert scanned == text


def test_qr_code_refuses_what_does_not_fit() -> None:
    with pytest.raises(qr.TooLong):
        qr.encode(b"x" * 214)
