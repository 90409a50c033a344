"""The KMS ciphertext blob: round trip, tampering, the canonical AAD, size."""

from __future__ import annotations

import struct

import pytest

from strongroom.services.kms import ciphertext as c

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def material() -> c.SymmetricMaterial:
    return c.SymmetricMaterial(bytes(range(32)))


def seal(material: c.SymmetricMaterial, plaintext: bytes, ctx: dict | None = None, **kw) -> bytes:
    args = {"account": ACCOUNT, "region": REGION, "key_id": KEY, "version": 3, **kw}
    return c.seal(material, args["account"], args["region"], args["key_id"], args["version"],
                  plaintext, ctx)  # fmt: skip


def test_round_trip_names_key_and_version(material: c.SymmetricMaterial) -> None:
    blob = seal(material, b"secret", {"purpose": "test"})
    header = c.parse_header(blob)
    assert (header.account, header.region, header.key_id, header.version) == (
        ACCOUNT,
        REGION,
        KEY,
        3,
    )
    assert blob[0] == c.FORMAT_VERSION
    assert material.open(blob, header, {"purpose": "test"}) == b"secret"
    assert b"secret" not in blob


def test_two_encryptions_differ(material: c.SymmetricMaterial) -> None:
    assert seal(material, b"same") != seal(material, b"same")


@pytest.mark.parametrize(
    "ctx",
    [None, {}, {"purpose": "other"}, {"purpose": "test", "extra": "x"}, {"Purpose": "test"}],
)
def test_context_mismatch_fails(material: c.SymmetricMaterial, ctx: dict | None) -> None:
    blob = seal(material, b"secret", {"purpose": "test"})
    with pytest.raises(c.CiphertextError):
        material.open(blob, c.parse_header(blob), ctx)


def test_context_order_does_not_matter(material: c.SymmetricMaterial) -> None:
    blob = seal(material, b"x", {"a": "1", "b": "2", "c": "3"})
    assert material.open(blob, c.parse_header(blob), {"c": "3", "a": "1", "b": "2"}) == b"x"


def test_every_flipped_byte_is_rejected(material: c.SymmetricMaterial) -> None:
    blob = seal(material, b"tamper me", {"k": "v"})
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(c.CiphertextError):
            material.open(bytes(bad), c.parse_header(bytes(bad)), {"k": "v"})


def test_truncated_and_foreign_blobs_are_rejected(material: c.SymmetricMaterial) -> None:
    blob = seal(material, b"x")
    for bad in (b"", b"\x01", blob[:20], b"\x02" + blob[1:], b"\x00" * 64):
        with pytest.raises(c.CiphertextError):
            material.open(bad, c.parse_header(bad), None)


def test_a_header_parsed_before_is_still_checked(material: c.SymmetricMaterial) -> None:
    """Parsed headers are cached by their bytes: a cached header must not let a
    blob too short for its nonce and tag through, nor stand in for another."""
    blob = seal(material, b"x")
    c.parse_header(blob)  # now cached
    header_size = c.parse_header(blob).size
    for cut in range(header_size, header_size + c.NONCE_SIZE + c.TAG_SIZE):
        with pytest.raises(c.CiphertextError):
            c.parse_header(blob[:cut])
    other = seal(material, b"x", version=4, region="eu-west-1")
    assert (c.parse_header(other).version, c.parse_header(other).region) == (4, "eu-west-1")
    assert (c.parse_header(blob).version, c.parse_header(blob).region) == (3, REGION)


def test_other_material_cannot_open(material: c.SymmetricMaterial) -> None:
    blob = seal(material, b"x")
    other = c.SymmetricMaterial(bytes(32))
    with pytest.raises(c.CiphertextError):
        other.open(blob, c.parse_header(blob), None)


def test_canonical_context_is_length_prefixed_and_sorted() -> None:
    assert c.canonical_context(None) == c.canonical_context({}) == b"\x00\x00\x00\x00"
    enc = c.canonical_context({"b": "2", "a": "1"})
    assert enc == (
        struct.pack(">I", 2)
        + struct.pack(">I", 1) + b"a" + struct.pack(">I", 1) + b"1"
        + struct.pack(">I", 1) + b"b" + struct.pack(">I", 1) + b"2"
    )  # fmt: skip
    # Concatenation-ambiguous contexts encode differently.
    assert c.canonical_context({"ab": "c"}) != c.canonical_context({"a": "bc"})
    assert c.canonical_context({"a": "b", "c": "d"}) != c.canonical_context({"a": "bcd"})
    assert c.canonical_context({"ключ": "значение"}) == c.canonical_context({"ключ": "значение"})


def test_largest_blob_fits_the_model_limit(material: c.SymmetricMaterial) -> None:
    blob = seal(
        material,
        b"\xff" * 4096,
        {"k" * 100: "v" * 100},
        key_id="mrk-" + "f" * 32,
        region="ap-southeast-3-long-region-name",
        version=2**32 - 1,
    )
    assert len(blob) <= c.MAX_BLOB
    assert len(seal(material, b"\x00" * 4096)) <= 4217


def test_imported_material_unwraps_with_every_algorithm() -> None:
    private, public = c.new_wrapping_key("RSA_2048")
    raw = bytes(range(32))
    for alg in (
        "RSAES_PKCS1_V1_5",
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
    ):
        wrapped = c.wrap_key_material(public, alg, raw)
        assert c.unwrap_key_material(private, alg, wrapped) == raw
        tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        if alg == "RSAES_PKCS1_V1_5":  # implicit rejection: garbage, never the material
            try:
                assert c.unwrap_key_material(private, alg, tampered) != raw
            except c.CiphertextError:
                pass
            continue
        with pytest.raises(c.CiphertextError):
            c.unwrap_key_material(private, alg, tampered)


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_P384"])
def test_signatures_raw_and_digest(spec: str) -> None:
    import hashlib

    m = c.AsymmetricMaterial(spec, c.new_private_key(spec))
    alg = {"RSA_2048": "RSASSA_PSS_SHA_256", "ECC_NIST_P384": "ECDSA_SHA_384"}.get(
        spec, "ECDSA_SHA_256"
    )
    digest = (hashlib.sha384 if alg.endswith("384") else hashlib.sha256)(b"msg").digest()
    sig = m.sign(alg, b"msg", "RAW")
    assert m.verify(alg, digest, "DIGEST", sig)
    assert not m.verify(alg, b"other", "RAW", sig)
    with pytest.raises(c.CryptoInputError):
        m.sign(alg, b"short", "DIGEST")
