"""The checksums S3 checks and returns: CRC32, CRC32C, CRC64NVME, SHA1,
SHA256, and Content-MD5; full-object and composite (multipart) forms."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from strongroom.encoding import b64_bytes, b64_text

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def _table(poly: int, bits: int) -> list[int]:
    out = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        out.append(c & ((1 << bits) - 1))
    return out


_CRC32C = _table(0x82F63B78, 32)
_CRC64NVME = _table(0x9A6C9329AC4BC9B5, 64)


class _Crc:
    def __init__(self, table: list[int], bits: int) -> None:
        self.table, self.bits = table, bits
        self.mask = (1 << bits) - 1
        self.value = self.mask

    def update(self, data: bytes) -> None:
        c, t = self.value, self.table
        for b in bytes(data):
            c = t[(c ^ b) & 0xFF] ^ (c >> 8)
        self.value = c

    def digest(self) -> bytes:
        return (self.value ^ self.mask).to_bytes(self.bits // 8, "big")


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def hasher(algorithm: str) -> Any:
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "CRC32C":
        return _Crc(_CRC32C, 32)
    if algorithm == "CRC64NVME":
        return _Crc(_CRC64NVME, 64)
    if algorithm == "SHA1":
        return hashlib.sha1()
    return hashlib.sha256()


def compute(algorithm: str, data: bytes) -> str:
    h = hasher(algorithm)
    h.update(data)
    return b64_text(h.digest())


def given(params: dict[str, Any]) -> dict[str, str]:
    """{algorithm: base64 value} of the Checksum<ALG> members a request carries."""
    return {a: params[f"Checksum{a}"] for a in ALGORITHMS if params.get(f"Checksum{a}")}


def composite(algorithm: str, part_values: list[str]) -> str:
    """AWS's composite checksum of a multipart object: the checksum of the
    parts' binary checksums, ``-<count>``."""
    h = hasher(algorithm)
    for value in part_values:
        h.update(b64_bytes(value))
    return f"{b64_text(h.digest())}-{len(part_values)}"


def md5_matches(content_md5: str, digest: bytes) -> bool | None:
    """True/False for a well-formed Content-MD5, None for a malformed one."""
    try:
        raw = b64_bytes(content_md5)
    except ValueError:
        return None
    if len(raw) != 16:
        return None
    return raw == digest


def members(checksum: dict[str, Any]) -> dict[str, Any]:
    """The response members naming a stored checksum."""
    if not checksum:
        return {}
    return {
        f"Checksum{checksum['algorithm']}": checksum["value"],
        "ChecksumType": checksum.get("type", "FULL_OBJECT"),
    }
