"""The barrier: everything secret is stored only sealed under the root key.

Sealed blob layout (all fields fixed-size except the ciphertext):

    version (1 byte, 0x01) | nonce (12 bytes, random) | AES-256-GCM ciphertext + 16-byte tag

The associated data is required and names what the blob is and whose it is
(e.g. b"iam-access-key:AKIA..."), so a sealed value copied into another row
does not unseal there. Every failure raises the same opaque `SealError`.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.ids import random_bytes
from strongroom.store.files import prepare_data_dir

SEAL_VERSION = 1
ROOT_KEY_ENV = "STRONGROOM_ROOT_KEY"
ROOT_KEY_FILE = "root.key"


class SealError(Exception):
    """A sealed value could not be opened (wrong key, tampering, bad format)."""


class Sealer:
    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != 32:
            raise ValueError("the root key must be 32 bytes")
        self._aead = AESGCM(root_key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = random_bytes(12)
        return bytes([SEAL_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def unseal(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < 29 or blob[0] != SEAL_VERSION:
            raise SealError("sealed value is malformed")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], aad)
        except InvalidTag:
            raise SealError("sealed value does not open under this root key") from None

    def seal_str(self, value: str, aad: bytes) -> bytes:
        return self.seal(value.encode(), aad)

    def unseal_str(self, blob: bytes, aad: bytes) -> str:
        return self.unseal(blob, aad).decode()


def load_root_key(data_dir: Path) -> bytes:
    """The root key from $STRONGROOM_ROOT_KEY (base64) or the data dir's key file.

    The key file is created with mode 0600 on first start. Several servers
    sharing one store must share the key: give them all the same variable.
    The data dir is made private first (`files.prepare_data_dir`): it is
    where the key, the state and the root credentials are kept, and this is
    the first thing a starting server does with it.
    """
    prepare_data_dir(data_dir)
    env = os.environ.get(ROOT_KEY_ENV)
    if env:
        key = base64.b64decode(env)
        if len(key) != 32:
            raise ValueError(f"{ROOT_KEY_ENV} must be 32 bytes, base64-encoded")
        return key
    path = data_dir / ROOT_KEY_FILE
    if path.exists():
        key = base64.b64decode(path.read_bytes())
        if len(key) != 32:
            raise ValueError(f"{path} does not hold a 32-byte key")
        return key
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(key) + b"\n")
    return key
