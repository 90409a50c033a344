"""S3 end to end: buckets, objects, listings, multipart uploads, checksums,
conditional and range requests, addressing styles, aws-chunked uploads with
chunk signatures, presigned URLs, encryption at rest (SSE-S3, SSE-KMS with
and without Bucket Keys, a disabled key) and crash safety of the blob store,
with boto3 and the aws CLI against one server."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3.s3.transfer
import botocore.exceptions
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.testing import StrongroomServer

PLAINTEXT = b"strongroom-known-plaintext-" + uuid.uuid4().hex.encode()


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


def new_bucket(s3: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    return new_bucket(s3)


# -- buckets --------------------------------------------------------------------


def test_bucket_lifecycle(server: StrongroomServer, s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    out = s3.create_bucket(Bucket=name)
    assert out["Location"] == f"/{name}"
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-request-id"] and headers["x-amz-id-2"]
    # us-east-1 re-creating one's own bucket is 200 (legacy), elsewhere an error.
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert code_of(exc) == "BucketNotEmpty"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert code_of(exc) == "NoSuchBucket"
    assert exc.value.response["Error"]["BucketName"] == name


def test_location_constraint_rules(server: StrongroomServer) -> None:
    eu = server.client("s3", region="eu-west-1")
    name = f"eu-{uuid.uuid4().hex[:8]}"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    assert code_of(exc) == "IllegalLocationConstraintException"
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code_of(exc) == "BucketAlreadyOwnedByYou"
    us = server.client("s3")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        us.create_bucket(
            Bucket="x" + name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    # AWS says InvalidLocationConstraint; the model's enum refuses it first.
    assert code_of(exc) in ("InvalidLocationConstraint", "InvalidArgument")


@pytest.mark.parametrize(
    "name",
    ["ab", "A-upper", "bad..dots", "192.168.1.1", "xn--punycode", "ends-", "x" * 64, "under_score"],
)
def test_bucket_names_validated(s3: Any, name: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert code_of(exc) == "InvalidBucketName"


def test_bucket_tags_and_encryption_config(s3: Any, bucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(exc) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "a"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


# -- objects ----------------------------------------------------------------------


def test_put_get_head_with_metadata_and_checksums(s3: Any, bucket: str) -> None:
    body = b"hello s3 " * 100
    out = s3.put_object(
        Bucket=bucket,
        Key="docs/a.txt",
        Body=body,
        Metadata={"colour": "blue"},
        ContentType="text/plain",
        Tagging="a=1&b=2",
    )
    assert out["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert out["ServerSideEncryption"] == "AES256"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert out["ChecksumCRC32"] == crc  # boto3's default trailing checksum, checked
    got = s3.get_object(Bucket=bucket, Key="docs/a.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"colour": "blue"}
    assert got["ContentType"] == "text/plain"
    assert got["ChecksumCRC32"] == crc and got["TagCount"] == 2
    head = s3.head_object(Bucket=bucket, Key="docs/a.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == out["ETag"]
    for algorithm in ("SHA256", "SHA1"):  # CRC32C needs botocore[crt] client-side
        r = s3.put_object(
            Bucket=bucket, Key=f"sum-{algorithm}", Body=body, ChecksumAlgorithm=algorithm
        )
        assert r[f"Checksum{algorithm}"]
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert (
        s3.put_object(Bucket=bucket, Key="sha", Body=body, ChecksumSHA256=sha)["ChecksumSHA256"]
        == sha
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="sha", Body=body + b"!", ChecksumSHA256=sha)
    assert code_of(exc) == "BadDigest"


def test_content_md5(s3: Any, bucket: str) -> None:
    body = b"md5 body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=bad)
    assert code_of(exc) == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5="nope")
    assert code_of(exc) == "InvalidDigest"


def test_range_and_conditional_reads(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: crosses a sealed chunk boundary
    etag = s3.put_object(Bucket=bucket, Key="range", Body=body)["ETag"]
    part = s3.get_object(Bucket=bucket, Key="range", Range="bytes=1048570-1048590")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == body[1048570:1048591]
    assert part["ContentRange"] == f"bytes 1048570-1048590/{len(body)}"
    assert s3.get_object(Bucket=bucket, Key="range", Range="bytes=-10")["Body"].read() == body[-10:]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="range", Range=f"bytes={len(body)}-")
    assert code_of(exc) == "InvalidRange"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="range", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="range", IfMatch='"0000"')
    assert code_of(exc) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="range", IfMatch=etag)["ContentLength"] == len(body)


def test_conditional_writes(s3: Any, bucket: str) -> None:
    key = f"cond-{uuid.uuid4().hex[:6]}"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key=key, Body=b"2", IfNoneMatch="*")
    assert code_of(exc) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key=key, Body=b"3", IfMatch=etag)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key=key, Body=b"4", IfMatch=etag)
    assert code_of(exc) == "PreconditionFailed"


def test_copy_delete_and_tags(s3: Any, bucket: str) -> None:
    other = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Metadata={"m": "1"}, ContentType="a/b")
    s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"m": "1"}
    s3.copy_object(
        Bucket=other,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"n": "2"},
        ContentType="c/d",
    )
    got = s3.head_object(Bucket=other, Key="dst2")
    assert got["Metadata"] == {"n": "2"} and got["ContentType"] == "c/d"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert code_of(exc) == "InvalidRequest"
    s3.put_object_tagging(Bucket=other, Key="dst", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=other, Key="dst")["TagSet"] == [{"Key": "k", "Value": "v"}]
    s3.delete_object_tagging(Bucket=other, Key="dst")
    out = s3.delete_objects(
        Bucket=other, Delete={"Objects": [{"Key": "dst"}, {"Key": "dst2"}, {"Key": "absent"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["absent", "dst", "dst2"]
    assert s3.list_objects_v2(Bucket=other)["KeyCount"] == 0


def test_listings(s3: Any) -> None:
    name = new_bucket(s3)
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e/f", "z"]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=b"")
    out = s3.list_objects_v2(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/", "d e/"]
    assert [o["Key"] for o in out["Contents"]] == ["c", "z"]
    out = s3.list_objects_v2(Bucket=name, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=name, MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name, StartAfter="b/1")["Contents"]] == [
        "c",
        "d e/f",
        "z",
    ]
    # EncodingType=url: boto3 asks for it and decodes the keys again.
    assert "d e/f" in [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]
    raw = s3.list_objects_v2(Bucket=name, Prefix="d", EncodingType="url")
    assert raw["Contents"][0]["Key"] == "d%20e/f"  # asked for by the caller: left encoded
    # Paging with a delimiter, one entry a page: every prefix and key once.
    whole = s3.list_objects_v2(Bucket=name, Delimiter="/")
    expected = [p["Prefix"] for p in whole["CommonPrefixes"]] + [
        o["Key"] for o in whole["Contents"]
    ]
    got, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=name, Delimiter="/", MaxKeys=1, **kwargs)
        got += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        got += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(got) == sorted(expected) and len(got) == len(expected)
    marker, got = "", []
    while True:
        page = s3.list_objects(Bucket=name, Delimiter="/", MaxKeys=2, Marker=marker)
        got += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        got += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        marker = page["NextMarker"]
    assert sorted(got) == sorted(expected)
    v1 = s3.list_objects(Bucket=name, MaxKeys=3, Delimiter="/")
    assert v1["IsTruncated"] and v1["NextMarker"]
    assert [o["Key"] for o in s3.list_objects(Bucket=name, Marker="c")["Contents"]] == [
        "d e/f",
        "z",
    ]
    paginator = s3.get_paginator("list_objects_v2")
    assert (
        sum(
            p["KeyCount"] for p in paginator.paginate(Bucket=name, PaginationConfig={"PageSize": 3})
        )
        == 7
    )


# -- multipart ------------------------------------------------------------------------


def test_upload_and_download_file_multipart(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024) * 2 + b"tail" * 1000
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=3
    )
    s3.upload_file(str(src), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    md5s = [
        hashlib.md5(data[i : i + 5 * 1024 * 1024]).digest()
        for i in range(0, len(data), 5 * 1024 * 1024)
    ]
    assert head["ETag"] == f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'
    assert head["PartsCount"] == 3
    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(dst), Config=config)
    assert dst.read_bytes() == data


def test_multipart_rules(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    uid = up["UploadId"]
    sha = {"ChecksumAlgorithm": "SHA256"}
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"a" * 100, **sha)
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"b" * 100, **sha)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert uid in [u["UploadId"] for u in uploads]
    parts = [
        {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumSHA256": p1["ChecksumSHA256"]},
        {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumSHA256": p2["ChecksumSHA256"]},
    ]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts}
        )
    assert code_of(exc) == "EntityTooSmall"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts[::-1]}
        )
    assert code_of(exc) == "InvalidPartOrder"
    big = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"a" * (5 << 20), **sha
    )
    parts[0] = {"PartNumber": 1, "ETag": big["ETag"], "ChecksumSHA256": big["ChecksumSHA256"]}
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    digest = hashlib.sha256(
        base64.b64decode(big["ChecksumSHA256"]) + base64.b64decode(p2["ChecksumSHA256"])
    ).digest()
    assert done["ChecksumSHA256"] == base64.b64encode(digest).decode() + "-2"
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * (5 << 20) + b"b" * 100
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert code_of(exc) == "NoSuchUpload"
    # Abort, and UploadPartCopy.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp2")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key="mp2",
        UploadId=uid,
        PartNumber=1,
        CopySource=f"{bucket}/mp",
        CopySourceRange="bytes=0-9",
    )
    assert copied["CopyPartResult"]["ETag"] == f'"{hashlib.md5(b"a" * 10).hexdigest()}"'
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=uid)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="mp2", UploadId=uid, PartNumber=1, Body=b"x")
    assert code_of(exc) == "NoSuchUpload"


# -- the wire -------------------------------------------------------------------------


def _signed(
    server: StrongroomServer, method: str, url: str, headers: dict, body: bytes
) -> AWSRequest:
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    creds = Credentials(server.access_key_id, server.secret_access_key)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return req


def _send(
    server: StrongroomServer, req: AWSRequest, host: str | None = None
) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    path = req.url.split(str(server.port), 1)[1] if str(server.port) in req.url else req.url
    headers = dict(req.headers.items())
    if host:
        headers["Host"] = host
    conn.request(req.method, path or "/", body=req.body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read(), dict(resp.getheaders())


def test_virtual_host_addressing(server: StrongroomServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="vh/key.txt", Body=b"virtual")
    for host in (f"{bucket}.s3.localhost:{server.port}", f"{bucket}.localhost:{server.port}"):
        url = f"http://{host}/vh/key.txt"
        req = _signed(server, "GET", url, {"Host": host}, b"")
        status, body, _ = _send(server, req, host)
        assert (status, body) == (200, b"virtual")
    host = f"{bucket}.s3.localhost:{server.port}"
    req = _signed(server, "GET", f"http://{host}/?list-type=2", {"Host": host}, b"")
    status, body, _ = _send(server, req, host)
    assert status == 200 and b"<Key>vh/key.txt</Key>" in body


def test_signature_mismatch_tells_string_to_sign(server: StrongroomServer, bucket: str) -> None:
    bad = server.client("s3", secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        bad.list_objects_v2(Bucket=bucket)
    err = exc.value.response["Error"]
    assert err["Code"] == "SignatureDoesNotMatch"
    assert err["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert "CanonicalRequest" in err and err["AWSAccessKeyId"] == server.access_key_id


def _chunked(
    server: StrongroomServer, url: str, payload: bytes, tamper: bool = False
) -> tuple[int, bytes]:
    """A PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, chunk signatures chained."""
    import datetime
    import hmac

    now = datetime.datetime.now(datetime.UTC)
    stamp, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/us-east-1/s3/aws4_request"
    host = f"127.0.0.1:{server.port}"
    chunks = [payload[i : i + 65536] for i in range(0, len(payload), 65536)] + [b""]
    sizes = sum(len(f"{len(c):x};chunk-signature={'0' * 64}\r\n") + len(c) + 2 for c in chunks)
    headers = {
        "host": host,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": stamp,
        "x-amz-decoded-content-length": str(len(payload)),
        "content-encoding": "aws-chunked",
        "content-length": str(sizes),
    }
    signed = sorted(headers)
    path = url
    canonical = "\n".join(
        [
            "PUT",
            path,
            "",
            *[f"{h}:{headers[h]}" for h in signed],
            "",
            ";".join(signed),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        ]
    )
    key = ("AWS4" + server.secret_access_key).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    sts = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    seed = hmac.new(key, sts.encode(), "sha256").hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={server.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={seed}"
    )
    previous, body = seed, b""
    empty = hashlib.sha256(b"").hexdigest()
    for chunk in chunks:
        text = f"AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{previous}\n{empty}\n{hashlib.sha256(chunk).hexdigest()}"
        sig = hmac.new(key, text.encode(), "sha256").hexdigest()
        data = chunk
        if tamper and chunk:
            data = b"X" + chunk[1:]
        body += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
        previous = sig
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("PUT", path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_streaming_chunk_signatures(server: StrongroomServer, s3: Any, bucket: str) -> None:
    payload = os.urandom(200_000)
    status, _ = _chunked(server, f"/{bucket}/chunked", payload)
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == payload
    status, body = _chunked(server, f"/{bucket}/chunked-bad", payload, tamper=True)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="chunked-bad")


def test_presigned_urls(s3: Any, bucket: str) -> None:
    put = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    parsed = urllib.parse.urlsplit(put)
    conn = http.client.HTTPConnection(parsed.netloc, timeout=30)
    conn.request("PUT", f"{parsed.path}?{parsed.query}", body=b"via presign")
    assert conn.getresponse().status == 200
    get = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get) as resp:
        assert resp.read() == b"via presign"
    tampered = get.replace("presigned", "presigneX", 1)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(tampered)
    assert exc.value.code == 403


# -- at rest ----------------------------------------------------------------------------


def test_no_plaintext_on_disk(server: StrongroomServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=PLAINTEXT * 50)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="secret-mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="secret-mp", UploadId=uid, PartNumber=1, Body=PLAINTEXT * 10)
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == PLAINTEXT * 50
    found = subprocess.run(
        ["grep", "-r", "-l", "-a", PLAINTEXT.decode(), str(server.data_dir)],
        capture_output=True,
        text=True,
    )
    assert found.stdout == "", f"plaintext found in {found.stdout}"


def test_sse_kms_bucket_keys_and_disabled_key(server: StrongroomServer, s3: Any) -> None:
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/s3-{uuid.uuid4().hex[:6]}", TargetKeyId=key["KeyId"])
    name = new_bucket(s3)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    trail = server.client("cloudtrail")

    def data_keys_made() -> int:
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateDataKey"}],
            MaxResults=50,
        )["Events"]
        return sum(key["KeyId"] in e["CloudTrailEvent"] for e in events)

    first = s3.put_object(Bucket=name, Key="one", Body=b"kms one")
    assert first["ServerSideEncryption"] == "aws:kms"
    assert first["SSEKMSKeyId"] == key["Arn"] and first["BucketKeyEnabled"] is True
    made = data_keys_made()
    for i in range(3):
        s3.put_object(Bucket=name, Key=f"more-{i}", Body=b"more")
    assert data_keys_made() == made == 1  # the bucket key: no KMS call per object
    s3.put_object(Bucket=name, Key="two", Body=b"kms two")
    assert s3.get_object(Bucket=name, Key="two")["Body"].read() == b"kms two"
    # Without a bucket key, each object has its own KMS data key.
    plain = s3.put_object(
        Bucket=name,
        Key="own",
        Body=b"own key",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["KeyId"],
        BucketKeyEnabled=False,
    )
    assert "BucketKeyEnabled" not in plain
    kms.disable_key(KeyId=key["KeyId"])
    for k in ("one", "own"):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.get_object(Bucket=name, Key=k)
        assert code_of(exc) == "KMS.DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=name, Key="own")["Body"].read() == b"own key"
    managed = s3.put_object(Bucket=name, Key="m", Body=b"m", ServerSideEncryption="aws:kms")
    assert ":key/" in managed["SSEKMSKeyId"]


def test_crash_leaves_no_half_object(tmp_path: Path) -> None:
    """kill -9 with a multipart upload under way and a part still arriving:
    after a restart the acknowledged object is whole, the upload's object
    does not exist, and the half-written blob files are gone."""
    data_dir = tmp_path / "crash"
    srv = StrongroomServer(data_dir).start()
    try:
        s3 = srv.client("s3")
        s3.create_bucket(Bucket="crash-bucket")
        s3.put_object(Bucket="crash-bucket", Key="acked", Body=b"acknowledged")
        uid = s3.create_multipart_upload(Bucket="crash-bucket", Key="half")["UploadId"]
        s3.upload_part(
            Bucket="crash-bucket", Key="half", UploadId=uid, PartNumber=1, Body=b"p" * (5 << 20)
        )
        path = f"/crash-bucket/half?partNumber=2&uploadId={uid}"
        req = _signed(
            srv,
            "PUT",
            f"{srv.endpoint}{path}",
            {"Content-Length": str(6 << 20), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
            b"",
        )
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for k, v in req.headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(b"q" * (1 << 20))
        # What a crash in the middle of writing a blob leaves behind, and a
        # blob renamed into place whose row was never committed.
        # (A named temporary file is swept once untouched for blobs.TMP_AGE.)
        leftover = data_dir / "s3" / "tmp" / "leftover.tmp"
        leftover.write_bytes(b"half written")
        os.utime(leftover, (1_000_000_000, 1_000_000_000))
        orphan = data_dir / "s3" / "blobs" / "ff" / ("ff" + "0" * 30)
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(b"sealed bytes nobody names")
        os.utime(orphan, (1_000_000_000, 1_000_000_000))
        srv.kill()
        srv.start()
        s3 = srv.client("s3")
        listed = s3.list_objects_v2(Bucket="crash-bucket")["Contents"]
        assert [o["Key"] for o in listed] == ["acked"]
        assert s3.get_object(Bucket="crash-bucket", Key="acked")["Body"].read() == b"acknowledged"
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket="crash-bucket", Key="half")
        assert list((data_dir / "s3" / "tmp").iterdir()) == []
        parts = s3.list_parts(Bucket="crash-bucket", Key="half", UploadId=uid)["Parts"]
        assert [p["PartNumber"] for p in parts] == [1]
        s3.abort_multipart_upload(Bucket="crash-bucket", Key="half", UploadId=uid)
        s3.delete_object(Bucket="crash-bucket", Key="acked")
        # The orphan, the aborted part and the deleted body are removed by
        # the collector once their rows are gone: no blob is left.
        blobs = data_dir / "s3" / "blobs"
        deadline = time.monotonic() + 10
        while any(p.is_file() for p in blobs.rglob("*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [p for p in blobs.rglob("*") if p.is_file()] == []
    finally:
        srv.close()


# -- the aws CLI ----------------------------------------------------------------------------


def _aws(
    server: StrongroomServer, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **server.aws_env(),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(["aws", *args], env=env, capture_output=True, input=stdin, timeout=120)


def test_aws_cli_cp_ls_sync_presign(server: StrongroomServer, s3: Any, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    out = _aws(server, "s3", "mb", f"s3://{name}")
    assert out.returncode == 0, out.stderr
    big = tmp_path / "big.tar"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    out = _aws(server, "s3", "cp", str(big), f"s3://{name}/backups/big.tar")
    assert out.returncode == 0, out.stderr
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(3):
        (logs / f"{i}.log").write_text(f"line {i}\n")
    out = _aws(server, "s3", "sync", str(logs), f"s3://{name}/logs/")
    assert out.returncode == 0, out.stderr
    out = _aws(server, "s3", "ls", f"s3://{name}/logs/")
    assert out.returncode == 0 and b"2.log" in out.stdout, out.stderr
    out = _aws(server, "s3", "cp", f"s3://{name}/backups/big.tar", "-")
    assert out.returncode == 0 and out.stdout == big.read_bytes(), out.stderr
    out = _aws(server, "s3", "presign", f"s3://{name}/logs/1.log", "--expires-in", "300")
    assert out.returncode == 0, out.stderr
    with urllib.request.urlopen(out.stdout.decode().strip()) as resp:
        assert resp.read() == b"line 1\n"
    out = _aws(server, "s3", "rm", f"s3://{name}", "--recursive")
    assert out.returncode == 0, out.stderr
    out = _aws(server, "s3", "rb", f"s3://{name}")
    assert out.returncode == 0, out.stderr


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_large_bodies_stream(
    server: StrongroomServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """A 96 MiB PutObject (one request, aws-chunked with a trailing CRC32)
    and its GetObject never sit in the server's memory: its resident size
    grows by far less than the object."""
    import threading

    pid = server.pids()[-1]
    size = 96 * 1024 * 1024
    src = tmp_path / "large.bin"
    with open(src, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    before = _rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with open(src, "rb") as f:
            out = s3.put_object(Bucket=bucket, Key="large.bin", Body=f)
        digest = hashlib.md5()
        got = s3.get_object(Bucket=bucket, Key="large.bin")
        for chunk in got["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
    finally:
        done.set()
        watcher.join()
    assert out["ETag"] == f'"{hashlib.md5(src.read_bytes()).hexdigest()}"'
    assert digest.hexdigest() == out["ETag"].strip('"')
    assert peak[0] - before < 48, f"resident size grew {peak[0] - before:.0f} MB"


def test_acls_disabled_as_on_new_buckets(s3: Any, bucket: str) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert code_of(exc) == "AccessControlListNotSupported"
    s3.put_object(Bucket=bucket, Key="acl", Body=b"x")
    assert s3.get_object_acl(Bucket=bucket, Key="acl")["Grants"][0]["Permission"] == "FULL_CONTROL"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="public-read")
    assert code_of(exc) == "AccessControlListNotSupported"
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_aws_cli_disabled_key_fails_as_aws(server: StrongroomServer, tmp_path: Path) -> None:
    kms = server.client("kms")
    alias = f"alias/app-{uuid.uuid4().hex[:6]}"
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    name = f"kms-cli-{uuid.uuid4().hex[:6]}"
    assert _aws(server, "s3", "mb", f"s3://{name}").returncode == 0
    config = json.dumps(
        {
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": alias,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        }
    )
    out = _aws(
        server, "s3api", "put-bucket-encryption", "--bucket", name,
        "--server-side-encryption-configuration", config,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    src = tmp_path / "report.csv"
    src.write_bytes(b"a,b\n1,2\n")
    assert _aws(server, "s3", "cp", str(src), f"s3://{name}/report.csv").returncode == 0
    assert _aws(server, "s3", "cp", f"s3://{name}/report.csv", "-").stdout == b"a,b\n1,2\n"
    # DisableKey takes a key id or ARN, not an alias (as on AWS).
    assert _aws(server, "kms", "disable-key", "--key-id", key_id).returncode == 0
    out = _aws(server, "s3", "cp", f"s3://{name}/report.csv", "-")
    assert out.returncode != 0 and b"KMS.DisabledException" in out.stderr, out.stderr


def test_sse_c_key_never_stored(server: StrongroomServer, s3: Any, bucket: str) -> None:
    key = os.urandom(32)
    body = PLAINTEXT + b"-sse-c"
    out = s3.put_object(
        Bucket=bucket, Key="sse-c", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    assert out["SSECustomerKeyMD5"] == md5 and "ServerSideEncryption" not in out
    got = s3.get_object(
        Bucket=bucket, Key="sse-c", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert got["Body"].read() == body and got["SSECustomerKeyMD5"] == md5
    head = s3.head_object(
        Bucket=bucket, Key="sse-c", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert head["ContentLength"] == len(body)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="sse-c")
    assert code_of(exc) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(
            Bucket=bucket, Key="sse-c", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32)
        )
    assert code_of(exc) == "AccessDenied"
    # Neither the key nor the plaintext is anywhere in the data directory.
    for needle in (base64.b64encode(key), key.hex().encode(), body):
        found = subprocess.run(
            ["grep", "-r", "-l", "-a", "-F", needle.decode("latin-1"), str(server.data_dir)],
            capture_output=True,
        )
        assert found.stdout == b"", found.stdout
