"""SSH public keys as IAM takes them: ``ssh-rsa`` in OpenSSH form or an RSA
key in PEM (SubjectPublicKeyInfo), 2048 to 16384 bits. Both forms are
parsed here (a small DER reader and writer for the one structure) so that
GetSSHPublicKey can answer in either encoding."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from strongroom.encoding import b64_bytes, b64_text, pem_bytes, pem_text

_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
_PEM_LABEL = "PUBLIC KEY"
_PEM_BEGIN = f"-----BEGIN {_PEM_LABEL}-----"
_PEM_END = f"-----END {_PEM_LABEL}-----"
MIN_BITS, MAX_BITS = 2048, 16384


class BadKey(Exception):
    """Not a key IAM accepts (`unrecognized` when the encoding is unknown)."""

    def __init__(self, unrecognized: bool) -> None:
        super().__init__("bad key")
        self.unrecognized = unrecognized


@dataclass(frozen=True, slots=True)
class RsaKey:
    n: int
    e: int

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    def ssh_blob(self) -> bytes:
        return _ssh_string(b"ssh-rsa") + _ssh_mpint(self.e) + _ssh_mpint(self.n)

    def to_ssh(self) -> str:
        return "ssh-rsa " + b64_text(self.ssh_blob())

    def to_pem(self) -> str:
        rsa = _der(0x30, _der_int(self.n) + _der_int(self.e))
        spki = _der(
            0x30, _der(0x30, _der(0x06, _RSA_OID) + b"\x05\x00") + _der(0x03, b"\x00" + rsa)
        )
        return pem_text(spki, _PEM_LABEL)

    def fingerprint(self) -> str:
        """The MD5 fingerprint of the OpenSSH key blob, as IAM shows it."""
        digest = hashlib.md5(self.ssh_blob(), usedforsecurity=False).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def parse(body: str) -> RsaKey:
    text = body.strip()
    if text.startswith("ssh-"):
        key = _parse_openssh(text)
    elif text.startswith(_PEM_BEGIN):
        key = _parse_pem(text)
    else:
        raise BadKey(unrecognized=True)
    if not MIN_BITS <= key.bits <= MAX_BITS:
        raise BadKey(unrecognized=False)
    return key


# -- OpenSSH ---------------------------------------------------------------------


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _ssh_mpint(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _ssh_string(raw)


def _parse_openssh(text: str) -> RsaKey:
    parts = text.split()
    if len(parts) < 2 or parts[0] != "ssh-rsa":
        raise BadKey(unrecognized=parts[0] != "ssh-rsa" if parts else True)
    try:
        blob = b64_bytes(parts[1])
    except ValueError:
        raise BadKey(unrecognized=False) from None
    fields, pos = [], 0
    for _ in range(3):
        if pos + 4 > len(blob):
            raise BadKey(unrecognized=False)
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        fields.append(blob[pos + 4 : pos + 4 + length])
        pos += 4 + length
    if pos != len(blob) or fields[0] != b"ssh-rsa":
        raise BadKey(unrecognized=False)
    return RsaKey(n=int.from_bytes(fields[2], "big"), e=int.from_bytes(fields[1], "big"))


# -- PEM / DER ---------------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """The content of the DER element of `tag` at `pos`, and the position after it."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise BadKey(unrecognized=False)
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise BadKey(unrecognized=False)
    return data[pos : pos + length], pos + length


def _parse_pem(text: str) -> RsaKey:
    if text.splitlines()[-1].strip() != _PEM_END:
        raise BadKey(unrecognized=False)
    try:
        der = pem_bytes(text, _PEM_LABEL)
    except ValueError:
        raise BadKey(unrecognized=False) from None
    spki, _ = _read(der, 0, 0x30)
    algorithm, pos = _read(spki, 0, 0x30)
    oid, _ = _read(algorithm, 0, 0x06)
    if oid != _RSA_OID:
        raise BadKey(unrecognized=False)
    bits, _ = _read(spki, pos, 0x03)
    rsa, _ = _read(bits[1:], 0, 0x30)
    n, pos = _read(rsa, 0, 0x02)
    e, _ = _read(rsa, pos, 0x02)
    return RsaKey(n=int.from_bytes(n, "big"), e=int.from_bytes(e, "big"))
