"""S3's write protocol under kill -9 (`services/s3/blobs.py`): a streamed
body is written as a blob, fsynced and linked before the transaction that
names it opens, a small body is kept sealed in the store with its row.

- an acknowledged PutObject (kept in the store, or a blob) survives kill -9
  whole, and no body is on disk in the clear;
- a kill while a large PutObject's body is being written leaves no visible
  object, and its temporary file and any blob no row names are swept by
  age (the ages lowered with ``--option s3.tmp_age`` / ``s3.orphan_age``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from pathlib import Path

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.services.s3 import blobs as blobs_module
from strongroom.testing import StrongroomServer

BUCKET = "crash-put"
#: Swept at once: what the restarted server is given.
SWEEP_NOW = ["--option", "s3.tmp_age=0", "--option", "s3.orphan_age=0"]


def _body(size: int, seed: bytes) -> bytes:
    """`size` bytes no compressor shrinks, marked so a grep finds them."""
    block = b"PLAINTEXT-MARKER-" + hashlib.sha256(seed).digest()
    return (block * (size // len(block) + 1))[:size]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _start_put(srv: StrongroomServer, key: str, size: int) -> http.client.HTTPConnection:
    """A signed PutObject of `size` bytes whose headers are sent, not its body."""
    path = f"/{BUCKET}/{key}"
    req = AWSRequest(
        method="PUT",
        url=f"{srv.endpoint}{path}",
        data=b"",
        headers={
            "Host": f"127.0.0.1:{srv.port}",
            "Content-Length": str(size),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
    )
    creds = Credentials(srv.access_key_id, srv.secret_access_key)
    # SigV4Auth keeps the UNSIGNED-PAYLOAD given (S3SigV4Auth would sign the
    # empty data over plain HTTP).
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    return conn


def test_acknowledged_puts_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "acked"
    srv = StrongroomServer(data_dir).start()
    try:
        s3 = srv.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        bodies = {
            "small": _body(1024, b"small"),  # kept in the store, with its row
            "edge": _body(64 * 1024 + 1, b"edge"),  # streamed: a blob
            "large": _body(5 * 1024 * 1024 + 7, b"large"),  # several chunks
        }
        etags = {k: s3.put_object(Bucket=BUCKET, Key=k, Body=v)["ETag"] for k, v in bodies.items()}
        srv.kill()  # right after the last response: no shutdown, no flush
        srv.start()
        s3 = srv.client("s3")
        for key, body in bodies.items():
            got = s3.get_object(Bucket=BUCKET, Key=key)
            assert got["Body"].read() == body
            assert got["ETag"] == etags[key] == f'"{hashlib.md5(body).hexdigest()}"'
        # Two blob files (the streamed bodies), nothing half-written.
        blobs = _files(data_dir / "s3" / "blobs")
        assert len(blobs) == 2
        assert _files(data_dir / "s3" / "tmp") == []
        # No body in the clear anywhere: not in a blob, not in the store.
        for path in _files(data_dir):
            assert b"PLAINTEXT-MARKER-" not in path.read_bytes(), path
    finally:
        srv.close()


def test_kill_9_while_a_large_put_is_written_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "half"
    srv = StrongroomServer(data_dir).start()
    try:
        s3 = srv.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="acked", Body=b"acknowledged")
        # A completed multipart upload: an object made of its parts' blobs,
        # which the sweep after the restart must not take for orphans.
        first, second = os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024 + 3)
        uid = s3.create_multipart_upload(Bucket=BUCKET, Key="multi")["UploadId"]
        etags = [
            s3.upload_part(Bucket=BUCKET, Key="multi", UploadId=uid, PartNumber=n, Body=b)["ETag"]
            for n, b in ((1, first), (2, second))
        ]
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key="multi",
            UploadId=uid,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
            },
        )
        size = 96 * 1024 * 1024
        conn = _start_put(srv, "half", size)
        tmp = data_dir / "s3" / "tmp"
        block = _body(1 << 20, b"half")
        for _ in range(size >> 20):
            conn.send(block)
        # The body is all there: the server writes it as a blob now (to a
        # named temporary file where the filesystem cannot name anonymous
        # ones). Kill while it does.
        deadline = time.monotonic() + 30
        while not _files(tmp) and time.monotonic() < deadline:
            time.sleep(0.002)
        writing = bool(_files(tmp))
        srv.kill()
        if not blobs_module._can_name_anonymous(tmp):  # the blob had a name while written
            assert writing, "the blob's temporary file never appeared"
            assert _files(tmp), "the kill came after the blob was written"
        # A blob linked into place whose row was never committed: what a
        # kill between the link and the commit leaves.
        orphan = data_dir / "s3" / "blobs" / "k0" / ("k0" + "1" * 31)
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(b"sealed bytes no row names")
        srv.extra_args = SWEEP_NOW
        srv.start()
        s3 = srv.client("s3")
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.head_object(Bucket=BUCKET, Key="half")
        assert exc.value.response["Error"]["Code"] == "404"
        listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert [o["Key"] for o in listed] == ["acked", "multi"]
        assert s3.get_object(Bucket=BUCKET, Key="acked")["Body"].read() == b"acknowledged"
        assert _files(tmp) == []  # swept when the store opened
        spool = data_dir / "spool"
        assert _files(spool) == []  # the body as it arrived was never named
        # The sweeper (the collect job, at its first tick) removes the orphan;
        # the acknowledged object, kept in the store, has no file at all, the
        # multipart object keeps its two parts.
        blobs = data_dir / "s3" / "blobs"
        deadline = time.monotonic() + 15
        while len(_files(blobs)) > 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # a sweep that took a part would show now
        assert len(_files(blobs)) == 2 and not orphan.exists()
        assert s3.get_object(Bucket=BUCKET, Key="multi")["Body"].read() == first + second
        span = s3.get_object(Bucket=BUCKET, Key="multi", Range="bytes=5242870-5242889")
        assert span["Body"].read() == (first + second)[5242870:5242890]
        s3.delete_object(Bucket=BUCKET, Key="multi")
        deadline = time.monotonic() + 15
        while _files(blobs) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _files(blobs) == []  # a deleted multipart object's parts go too
        # The store still takes large bodies after the restart.
        big = os.urandom(3 * 1024 * 1024)
        s3.put_object(Bucket=BUCKET, Key="after", Body=big)
        assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == big
    finally:
        srv.close()
