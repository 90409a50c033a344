"""S3's building blocks: the encrypted blob store (range reads, tampering,
reordering, truncation), the checksums' check values, the aws-chunked
decoder (a byte at a time, signature chains, malformed framing), how a Host
names a bucket, and the spool of streamed request bodies."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from pathlib import Path

import pytest

from strongroom.auth import chunked
from strongroom.server.spool import SpooledBody
from strongroom.services.s3 import blobs as blobs_module
from strongroom.services.s3 import checksums
from strongroom.services.s3.blobs import CHUNK, OVERHEAD, TMP_AGE, BlobError, BlobStore
from strongroom.services.s3.service import bucket_of_host


def test_blob_round_trip_and_ranges(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    key = os.urandom(32)
    data = os.urandom(2 * CHUNK + 12345)
    blob, size = store.put(data, key)
    assert size == len(data)
    assert store.read_all(blob, key, size) == data
    for start, end in [(0, 1), (CHUNK - 5, CHUNK + 5), (2 * CHUNK, size), (17, 2 * CHUNK + 1)]:
        assert b"".join(store.read(blob, key, size, start, end)) == data[start:end]
    raw = store.path_of(blob).read_bytes()
    assert data[:64] not in raw  # sealed
    with pytest.raises(BlobError):
        store.read_all(blob, os.urandom(32), size)
    # A flipped byte, two chunks swapped, the last chunk dropped: none opens.
    flipped = bytearray(raw)
    flipped[100] ^= 1
    step = CHUNK + OVERHEAD
    swapped = raw[step : 2 * step] + raw[:step] + raw[2 * step :]
    for tampered in (bytes(flipped), swapped, raw[: 2 * step]):
        store.path_of(blob).write_bytes(tampered)
        with pytest.raises(BlobError):
            store.read_all(blob, key, size)


def test_empty_blob_and_tmp_cleanup(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    key = os.urandom(32)
    blob, size = store.put(b"", key)
    assert (size, store.read_all(blob, key, 0)) == (0, b"")
    # A dead writer's named temporary file is swept once it is old; a live
    # one (a server sharing the directory still writing it) stays.
    dead, live = tmp_path / "tmp" / "x.tmp", tmp_path / "tmp" / "y.tmp"
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    old = time.time() - TMP_AGE - 60
    os.utime(dead, (old, old))
    assert BlobStore(tmp_path).cleaned == 1
    assert list((tmp_path / "tmp").iterdir()) == [live]


def test_checksum_check_values() -> None:
    expected = {
        "CRC32": "cbf43926",
        "CRC32C": "e3069283",
        "CRC64NVME": "ae8b14860a799888",
        "SHA1": hashlib.sha1(b"123456789").hexdigest(),
        "SHA256": hashlib.sha256(b"123456789").hexdigest(),
    }
    for algorithm, value in expected.items():
        h = checksums.hasher(algorithm)
        h.update(b"123456789")
        assert h.digest().hex() == value, algorithm


def _signed_body(payload: bytes, key: bytes, prefix: str, seed: str, size: int = 7) -> bytes:
    empty = hashlib.sha256(b"").hexdigest()
    previous, out = seed, b""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] + [b""]
    for piece in pieces:
        text = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{prefix}\n{previous}\n{empty}\n"
            f"{hashlib.sha256(piece).hexdigest()}"
        )
        sig = hmac.new(key, text.encode(), "sha256").hexdigest()
        out += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
        previous = sig
    return out


def test_chunked_signature_chain() -> None:
    key, prefix, seed = os.urandom(32), "20260101T000000Z\nscope", "ab" * 32
    payload = os.urandom(100)
    body = _signed_body(payload, key, prefix, seed)

    def sign(text: str) -> str:
        return hmac.new(key, text.encode(), "sha256").hexdigest()

    out: list[bytes] = []
    chunked.decode_stream(
        [body[i : i + 1] for i in range(len(body))], out.append, sign, seed, prefix
    )
    assert b"".join(out) == payload
    tampered = bytearray(body)
    tampered[body.index(b"\r\n") + 3] ^= 1
    with pytest.raises(chunked.ChunkError) as exc:
        chunked.decode(bytes(tampered), sign, seed, prefix)
    assert exc.value.signature
    with pytest.raises(chunked.ChunkError):
        chunked.decode(body, sign, "cd" * 32, prefix)  # another seed
    for bad in (b"zz\r\nabc", b"5\r\nabc", b"3\r\nabcXX0\r\n\r\n"):
        with pytest.raises(chunked.ChunkError):
            chunked.decode(bad)


def test_unsigned_trailer() -> None:
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    assert chunked.decode(body) == (b"hello", {"x-amz-checksum-crc32": "NhCmhg=="})


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("127.0.0.1:4566", None),
        ("localhost:4566", None),
        ("[::1]:4566", None),
        ("s3.localhost:4566", None),
        ("s3.us-east-1.amazonaws.com", None),
        ("logs.s3.localhost:4566", "logs"),
        ("my.dotted.bucket.s3.us-west-2.amazonaws.com", "my.dotted.bucket"),
        ("audit.localhost:4566", "audit"),
        ("strongroom:4566", None),
    ],
)
def test_bucket_of_host(host: str, bucket: str | None) -> None:
    assert bucket_of_host(host) == bucket


def test_spool_seals_what_it_holds(tmp_path: Path) -> None:
    spool = SpooledBody(tmp_path)
    data = b"plaintext-marker" * 100_000
    for i in range(0, len(data), 65536):
        spool.write(data[i : i + 65536])
    body = spool.finish()
    assert body.sha256_hex() == hashlib.sha256(data).hexdigest()
    assert len(body) == len(data)
    assert body.read_all() == data
    assert list(tmp_path.iterdir()) == []  # an anonymous file: no name on disk
    raw = os.read(os.open(f"/proc/self/fd/{spool._file.fileno()}", os.O_RDONLY), 1 << 22)
    assert b"plaintext-marker" not in raw
    spool.close()


def test_signed_trailer() -> None:
    key, prefix, seed = os.urandom(32), "20260101T000000Z\nscope", "ef" * 32
    body = _signed_body(b"payload", key, prefix, seed)
    # The last chunk's signature starts the trailer's chain.
    last = body.rsplit(b"chunk-signature=", 1)[1][:64].decode()
    line = "x-amz-checksum-crc32:AAAAAA==\n"
    text = (
        f"AWS4-HMAC-SHA256-TRAILER\n{prefix}\n{last}\n{hashlib.sha256(line.encode()).hexdigest()}"
    )
    sig = hmac.new(key, text.encode(), "sha256").hexdigest()
    trailer = f"x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()

    def sign(t: str) -> str:
        return hmac.new(key, t.encode(), "sha256").hexdigest()

    signed = body[: -len(b"\r\n")] + trailer  # the zero chunk's CRLF, then the trailers
    assert chunked.decode(signed, sign, seed, prefix) == (
        b"payload",
        {"x-amz-checksum-crc32": "AAAAAA=="},
    )
    forged = signed.replace(b"AAAAAA==", b"BBBBBB==", 1)
    with pytest.raises(chunked.ChunkError) as exc:
        chunked.decode(forged, sign, seed, prefix)
    assert exc.value.signature


def test_directory_fsyncs_are_shared_by_concurrent_writers(tmp_path: Path, monkeypatch) -> None:
    """Eight writers linking into one directory at once cost two or three
    directory fsyncs, not eight; each returns only after an fsync that
    began after it asked."""
    began: list[float] = []

    def slow_fsync(path: Path) -> None:
        began.append(time.monotonic())
        time.sleep(0.05)

    monkeypatch.setattr(blobs_module, "_fsync_dir", slow_fsync)
    sync = blobs_module.DirSync()
    asked: dict[int, float] = {}
    done: dict[int, float] = {}

    def writer(n: int) -> None:
        asked[n] = time.monotonic()
        sync.sync(tmp_path)
        done[n] = time.monotonic()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(began) <= 3
    for n in range(8):  # some fsync began after it asked and ended before it returned
        assert any(asked[n] <= b and b + 0.05 <= done[n] + 1e-3 for b in began)


def test_old_blobs_are_found_by_age_a_few_directories_at_a_time(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, orphan_age=60)
    key = os.urandom(32)
    ids = [store.put(b"x" * n, key)[0] for n in range(1, 40)]
    old = time.time() - 120
    for blob in ids[:20]:
        os.utime(store.path_of(blob), (old, old))
    assert sorted(store.old_blobs(60)) == sorted(ids[:20])
    assert store.old_blobs(3600) == []
    subdirs = len({store.path_of(b).parent for b in ids[:20]})
    seen: set[str] = set()
    for _ in range(subdirs + 256):  # round-robin over the directories, a few at a time
        seen.update(store.old_blobs(60, dirs=4))
    assert seen == set(ids[:20])
