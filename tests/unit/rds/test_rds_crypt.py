"""The sealed files RDS keeps snapshots and stopped instances in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strongroom.services.rds import crypt

KEY = os.urandom(32)


def _write(path: Path, data: bytes, key: bytes | None, label: str = "snapshot:s1") -> None:
    out = crypt.writer(path, key, label)
    for i in range(0, len(data), 70_000):
        out.write(data[i : i + 70_000])
    out.close()


def _read(path: Path, key: bytes | None, label: str = "snapshot:s1") -> bytes:
    src = crypt.reader(path, key, label)
    try:
        parts = []
        while chunk := src.read(123_457):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        src.close()


@pytest.mark.parametrize("size", [0, 1, crypt.CHUNK, crypt.CHUNK + 1, 3 * crypt.CHUNK + 17])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    _write(path, data, KEY)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    if size >= 16:  # a shorter plaintext may turn up in random ciphertext by chance
        assert data[:64] not in path.read_bytes()
    assert _read(path, KEY) == data
    _write(tmp_path / "p", data, None)
    assert (tmp_path / "p").read_bytes() == data


def test_wrong_key_label_or_truncation_is_refused(tmp_path: Path) -> None:
    data = os.urandom(2 * crypt.CHUNK + 5)
    path = tmp_path / "f"
    _write(path, data, KEY)
    with pytest.raises(crypt.CorruptFile):
        _read(path, os.urandom(32))
    with pytest.raises(crypt.CorruptFile):
        _read(path, KEY, "snapshot:other")
    blob = path.read_bytes()
    # Cut after the first frame: the reader sees no final frame.
    first = 4 + int.from_bytes(blob[:4], "big")
    path.write_bytes(blob[:first])
    with pytest.raises(crypt.CorruptFile):
        _read(path, KEY)
