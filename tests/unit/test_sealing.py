from __future__ import annotations

import os

import pytest

from strongroom.store.sealing import Sealer, SealError, load_root_key


def test_round_trip_and_associated_data() -> None:
    sealer = Sealer(os.urandom(32))
    blob = sealer.seal(b"top secret", b"row:1")
    assert b"top secret" not in blob
    assert sealer.unseal(blob, b"row:1") == b"top secret"
    with pytest.raises(SealError):
        sealer.unseal(blob, b"row:2")  # moved to another row


def test_tampering_and_wrong_key_fail_the_same_way() -> None:
    sealer = Sealer(os.urandom(32))
    blob = bytearray(sealer.seal(b"value", b"aad"))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        sealer.unseal(bytes(blob), b"aad")
    with pytest.raises(SealError):
        Sealer(os.urandom(32)).unseal(sealer.seal(b"value", b"aad"), b"aad")
    with pytest.raises(SealError):
        sealer.unseal(b"\x02" + bytes(40), b"aad")
    with pytest.raises(SealError):
        sealer.unseal(b"", b"aad")


def test_nonces_differ() -> None:
    sealer = Sealer(os.urandom(32))
    assert sealer.seal(b"x", b"a") != sealer.seal(b"x", b"a")


def test_root_key_file_is_created_private(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("STRONGROOM_ROOT_KEY", raising=False)
    key = load_root_key(tmp_path)
    assert len(key) == 32
    assert (tmp_path / "root.key").stat().st_mode & 0o777 == 0o600
    assert load_root_key(tmp_path) == key


def test_root_key_from_environment(tmp_path, monkeypatch) -> None:
    import base64

    key = os.urandom(32)
    monkeypatch.setenv("STRONGROOM_ROOT_KEY", base64.b64encode(key).decode())
    assert load_root_key(tmp_path) == key
    assert not (tmp_path / "root.key").exists()
    monkeypatch.setenv("STRONGROOM_ROOT_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        load_root_key(tmp_path)
