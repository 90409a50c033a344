"""KMS cryptography: the symmetric ciphertext blob format and every primitive
KMS uses (the only KMS module that imports ``cryptography.hazmat``).

Symmetric ciphertext blob, format version 1
===========================================

KMS ciphertexts are opaque to their users; this is our own format. It names
the key and the key-material version that made it, so Decrypt needs no KeyId
and a rotated key still decrypts what its older material encrypted::

    offset  size   field
    0       1      format version, 0x01
    1       1      algorithm, 0x01 = AES-256-GCM (SYMMETRIC_DEFAULT)
    2       1      length A of the account id
    3       A      owning account id (ASCII digits)
    .       1      length R of the region
    .       R      region of the key that encrypted (ASCII)
    .       1      length K of the key id
    .       K      key id (ASCII: a UUID, or mrk-<32 hex> for multi-Region keys)
    .       4      key-material version (uint32, big endian, from 1)
    .       12     nonce (random)
    .       n+16   AES-256-GCM ciphertext of the n plaintext bytes, then the tag

The associated data of the AES-GCM operation is::

    b"strongroom-kms-blob\\x00" || header (every byte before the nonce)
                                 || canonical(encryption context)

so the header cannot be edited (another key, version or region) and the
encryption context must match exactly. ``canonical`` is length-prefixed and
order-independent::

    uint32 number of pairs, then for each pair, sorted by the UTF-8 bytes of
    the key: uint32 len(key) || key || uint32 len(value) || value  (UTF-8)

The largest blob (4096 plaintext bytes, 12-digit account, 32-character region,
40-character key id) is 4096 + 16 + 12 + 4 + 3 + 2 + 12 + 32 + 40 = 4217
bytes, within KMS's 6144-byte ``CiphertextType``.

The material is used directly as the AES-256-GCM key with a random 96-bit
nonce; NIST SP 800-38D bounds that at 2**32 encryptions per material version,
and rotation starts a new version.

Every failure to open a blob raises the same opaque `CiphertextError`.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from strongroom.ids import random_bytes

FORMAT_VERSION = 1
ALG_AES_256_GCM = 1
AAD_LABEL = b"strongroom-kms-blob\x00"
NONCE_SIZE = 12
TAG_SIZE = 16
MAX_BLOB = 6144


class CiphertextError(Exception):
    """The blob is not ours, was changed, or the context does not match."""


class CryptoInputError(ValueError):
    """Caller-supplied input (a digest, a public key, key material) is unusable.

    ``str(exc)`` is safe to show: it never holds secret bytes."""


# --------------------------------------------------------------------------- blob


@dataclass(frozen=True, slots=True)
class BlobHeader:
    account: str
    region: str
    key_id: str
    version: int
    #: Bytes of the header (everything before the nonce).
    size: int


def _short(value: str) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > 255:
        raise ValueError("header field too long")
    return bytes([len(raw)]) + raw


_headers: dict[tuple[str, str, str, int], bytes] = {}


def encode_header(account: str, region: str, key_id: str, version: int) -> bytes:
    found = _headers.get((account, region, key_id, version))
    if found is not None:
        return found
    if len(_headers) >= 65536:
        _headers.clear()
    header = _headers[(account, region, key_id, version)] = _encode_header(
        account, region, key_id, version
    )
    return header


def _encode_header(account: str, region: str, key_id: str, version: int) -> bytes:
    return (
        bytes([FORMAT_VERSION, ALG_AES_256_GCM])
        + _short(account)
        + _short(region)
        + _short(key_id)
        + struct.pack(">I", version)
    )


_parsed: dict[bytes, BlobHeader] = {}


def parse_header(blob: bytes) -> BlobHeader:
    """The key a blob names; `CiphertextError` when it is not one of ours.

    A key's ciphertexts share a handful of headers (one per material version),
    so a header already parsed is looked up by its bytes."""
    try:
        at = 3 + blob[2]
        at += 1 + blob[at]
        end = at + 5 + blob[at]
    except IndexError:
        raise CiphertextError from None
    found = _parsed.get(blob[:end])
    if found is None:
        found = _parse_header(blob)
        if len(_parsed) >= 65536:
            _parsed.clear()
        _parsed[blob[: found.size]] = found
    if len(blob) < found.size + NONCE_SIZE + TAG_SIZE:
        raise CiphertextError
    return found


def _parse_header(blob: bytes) -> BlobHeader:
    try:
        if blob[0] != FORMAT_VERSION or blob[1] != ALG_AES_256_GCM:
            raise CiphertextError
        pos = 2
        fields = []
        for _ in range(3):
            n = blob[pos]
            fields.append(blob[pos + 1 : pos + 1 + n].decode("ascii"))
            pos += 1 + n
        (version,) = struct.unpack_from(">I", blob, pos)
        pos += 4
    except (IndexError, UnicodeDecodeError, struct.error):
        raise CiphertextError from None
    if len(blob) < pos + NONCE_SIZE + TAG_SIZE or not all(fields) or version < 1:
        raise CiphertextError
    return BlobHeader(fields[0], fields[1], fields[2], version, pos)


_U32 = struct.Struct(">I").pack
_EMPTY_CONTEXT = b"\x00\x00\x00\x00"


def canonical_context(context: dict[str, str] | None) -> bytes:
    """The encryption context as length-prefixed, sorted pairs (see module doc).

    Sorting the str keys sorts their UTF-8 bytes too: UTF-8 keeps code-point order."""
    if not context:
        return _EMPTY_CONTEXT
    out = [_U32(len(context))]
    for k in sorted(context):
        kb = k.encode("utf-8")
        vb = context[k].encode("utf-8")
        out += (_U32(len(kb)), kb, _U32(len(vb)), vb)
    return b"".join(out)


class SymmetricMaterial:
    """One version of a symmetric key's material, ready to use."""

    __slots__ = ("_aead",)
    kind = "symmetric"

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise CryptoInputError("symmetric key material must be 256 bits")
        self._aead = AESGCM(raw)

    def seal(self, header: bytes, plaintext: bytes, context: dict[str, str] | None) -> bytes:
        nonce = random_bytes(NONCE_SIZE)
        aad = AAD_LABEL + header + canonical_context(context)
        return header + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, header: BlobHeader, context: dict[str, str] | None) -> bytes:
        start = header.size
        nonce = blob[start : start + NONCE_SIZE]
        aad = AAD_LABEL + blob[:start] + canonical_context(context)
        try:
            return self._aead.decrypt(nonce, blob[start + NONCE_SIZE :], aad)
        except InvalidTag:
            raise CiphertextError from None


def seal(
    material: SymmetricMaterial,
    account: str,
    region: str,
    key_id: str,
    version: int,
    plaintext: bytes,
    context: dict[str, str] | None,
) -> bytes:
    return material.seal(encode_header(account, region, key_id, version), plaintext, context)


def new_symmetric_material() -> bytes:
    return random_bytes(32)


# --------------------------------------------------------------------------- key specs

_CURVES: dict[str, Any] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
HMAC_BYTES = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}
_HMAC_HASH = {
    "HMAC_SHA_224": hashlib.sha224,
    "HMAC_SHA_256": hashlib.sha256,
    "HMAC_SHA_384": hashlib.sha384,
    "HMAC_SHA_512": hashlib.sha512,
}
_HASHES = {
    "SHA_1": hashes.SHA1,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


def new_private_key(spec: str) -> bytes:
    """A fresh private key of an asymmetric spec, PKCS#8 DER."""
    if spec in _RSA_BITS:
        key: Any = rsa.generate_private_key(65537, _RSA_BITS[spec])
    elif spec in _CURVES:
        key = ec.generate_private_key(_CURVES[spec]())
    elif spec == "ECC_NIST_EDWARDS25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise CryptoInputError(f"unsupported key spec {spec}")
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_hmac_material(spec: str) -> bytes:
    return os.urandom(HMAC_BYTES[spec])


class AsymmetricMaterial:
    """A loaded private key (RSA, ECC or Ed25519)."""

    __slots__ = ("key", "spec")
    kind = "asymmetric"

    def __init__(self, spec: str, der: bytes) -> None:
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CryptoInputError("the key material is not a PKCS#8 private key") from None
        if spec in _RSA_BITS:
            ok = isinstance(key, rsa.RSAPrivateKey) and key.key_size == _RSA_BITS[spec]
        elif spec in _CURVES:
            ok = isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
                key.curve, _CURVES[spec]
            )
        elif spec == "ECC_NIST_EDWARDS25519":
            ok = isinstance(key, ed25519.Ed25519PrivateKey)
        else:
            ok = False
        if not ok:
            raise CryptoInputError(f"the key material does not match key spec {spec}")
        self.key = key
        self.spec = spec

    def public_der(self) -> bytes:
        return public_der_of(self.key)

    # -- RSA encryption ------------------------------------------------

    def decrypt(self, algorithm: str, ciphertext: bytes) -> bytes:
        try:
            return self.key.decrypt(ciphertext, _oaep(algorithm))
        except (ValueError, TypeError, AttributeError):
            raise CiphertextError from None

    def encrypt(self, algorithm: str, plaintext: bytes) -> bytes:
        return rsa_encrypt(self.key.public_key(), algorithm, plaintext)

    # -- signatures ----------------------------------------------------

    def sign(self, algorithm: str, message: bytes, message_type: str) -> bytes:
        if algorithm.startswith("ED25519"):
            return self.key.sign(message)
        data, alg = _signature_input(algorithm, message, message_type)
        if algorithm.startswith("ECDSA"):
            return self.key.sign(data, ec.ECDSA(alg))
        return self.key.sign(data, _rsa_sig_padding(algorithm), alg)

    def verify(self, algorithm: str, message: bytes, message_type: str, signature: bytes) -> bool:
        public = self.key.public_key()
        if algorithm.startswith("ED25519"):
            try:
                public.verify(signature, message)
            except (InvalidSignature, ValueError):
                return False
            return True
        # A digest of the wrong length is bad input (CryptoInputError), not a
        # signature that fails to verify.
        data, alg = _signature_input(algorithm, message, message_type)
        try:
            if algorithm.startswith("ECDSA"):
                public.verify(signature, data, ec.ECDSA(alg))
            else:
                public.verify(signature, data, _rsa_sig_padding(algorithm), alg)
        except (InvalidSignature, ValueError):
            return False
        return True

    # -- key agreement -------------------------------------------------

    def derive_shared_secret(self, peer_public_der: bytes) -> bytes:
        try:
            peer = serialization.load_der_public_key(peer_public_der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CryptoInputError("PublicKey is not a DER-encoded X.509 public key") from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or not isinstance(
            peer.curve, type(self.key.curve)
        ):
            raise CryptoInputError(
                f"The public key's curve does not match the KMS key's key spec {self.spec}."
            )
        return self.key.exchange(ec.ECDH(), peer)


def public_der_of(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _oaep(algorithm: str) -> Any:
    if algorithm == "RSAES_OAEP_SHA_1":
        return padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    if algorithm == "RSAES_OAEP_SHA_256":
        return padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    raise CryptoInputError(f"unsupported encryption algorithm {algorithm}")


def rsa_max_plaintext(spec: str, algorithm: str) -> int:
    size = _RSA_BITS[spec] // 8
    digest = 20 if algorithm == "RSAES_OAEP_SHA_1" else 32
    return size - 2 * digest - 2


def rsa_encrypt(public: Any, algorithm: str, plaintext: bytes) -> bytes:
    return public.encrypt(plaintext, _oaep(algorithm))


def _hash_of(algorithm: str) -> Any:
    return _HASHES[algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]]()


def _rsa_sig_padding(algorithm: str) -> Any:
    if algorithm.startswith("RSASSA_PSS"):
        alg = _hash_of(algorithm)
        return padding.PSS(padding.MGF1(alg), alg.digest_size)
    return padding.PKCS1v15()


def _signature_input(algorithm: str, message: bytes, message_type: str) -> tuple[bytes, Any]:
    alg = _hash_of(algorithm)
    if message_type == "DIGEST":
        if len(message) != alg.digest_size:
            raise CryptoInputError(f"Digest is invalid length for algorithm {algorithm}.")
        return message, utils.Prehashed(alg)
    return message, alg


class HmacMaterial:
    __slots__ = ("raw",)
    kind = "hmac"

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def mac(self, algorithm: str, message: bytes) -> bytes:
        return _hmac.new(self.raw, message, _HMAC_HASH[algorithm]).digest()

    def verify(self, algorithm: str, message: bytes, mac: bytes) -> bool:
        return _hmac.compare_digest(self.mac(algorithm, message), mac)


def load_material(spec: str, raw: bytes) -> Any:
    """Material of a key spec as an object ready for its operations."""
    if spec == "SYMMETRIC_DEFAULT":
        return SymmetricMaterial(raw)
    if spec in HMAC_BYTES:
        return HmacMaterial(raw)
    return AsymmetricMaterial(spec, raw)


def public_key_of(spec: str, raw: bytes) -> bytes:
    return AsymmetricMaterial(spec, raw).public_der()


def check_imported(spec: str, raw: bytes) -> None:
    """Raise `CryptoInputError` unless `raw` is valid material for `spec`."""
    if spec == "SYMMETRIC_DEFAULT":
        if len(raw) != 32:
            raise CryptoInputError("The key material must be 256 bits (32 bytes).")
    elif spec in HMAC_BYTES:
        if not HMAC_BYTES[spec] <= len(raw) <= 64:
            raise CryptoInputError(f"The key material length is not valid for {spec}.")
    else:
        AsymmetricMaterial(spec, raw)


def new_data_key_pair(spec: str) -> tuple[bytes, bytes]:
    """(PKCS#8 DER private key, X.509 DER public key) of a data key pair."""
    der = new_private_key(spec)
    return der, public_key_of(spec, der)


# --------------------------------------------------------------------------- import


def new_wrapping_key(spec: str) -> tuple[bytes, bytes]:
    """An RSA wrapping key pair for GetParametersForImport."""
    return new_data_key_pair(spec)


def unwrap_key_material(private_der: bytes, algorithm: str, wrapped: bytes) -> bytes:
    """Undo the wrapping the caller applied with the import public key.

    RSAES_*: the material itself is RSA-encrypted. RSA_AES_KEY_WRAP_SHA_*: an
    ephemeral AES key is RSA-OAEP-encrypted (first modulus-size bytes) and the
    material is wrapped under it with AES key wrap with padding (RFC 5649).
    Every failure raises `CiphertextError`.
    """
    try:
        key = serialization.load_der_private_key(private_der, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        if algorithm == "RSAES_PKCS1_V1_5":
            return key.decrypt(wrapped, padding.PKCS1v15())
        if algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
            return key.decrypt(wrapped, _oaep(algorithm))
        if algorithm in ("RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"):
            size = key.key_size // 8
            oaep = "RSAES_OAEP_SHA_1" if algorithm.endswith("SHA_1") else "RSAES_OAEP_SHA_256"
            aes_key = key.decrypt(wrapped[:size], _oaep(oaep))
            return aes_key_unwrap_with_padding(aes_key, wrapped[size:])
    except (ValueError, TypeError, AssertionError, InvalidUnwrap, UnsupportedAlgorithm):
        raise CiphertextError from None
    raise CiphertextError


def wrap_key_material(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """What a client does before ImportKeyMaterial (used by tests and tools)."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    if algorithm == "RSAES_PKCS1_V1_5":
        return public.encrypt(material, padding.PKCS1v15())
    if algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
        return public.encrypt(material, _oaep(algorithm))
    aes_key = os.urandom(32)
    oaep = "RSAES_OAEP_SHA_1" if algorithm.endswith("SHA_1") else "RSAES_OAEP_SHA_256"
    return public.encrypt(aes_key, _oaep(oaep)) + aes_key_wrap_with_padding(aes_key, material)


def material_id(seed: bytes) -> str:
    """A 64-hex-digit KeyMaterialId."""
    return hashlib.sha256(seed).hexdigest()
