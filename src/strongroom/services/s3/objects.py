"""Objects: their rows, their bodies in the blob store, and the blobs a
change leaves behind (removed only once the change has committed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.encoding import b64_text
from strongroom.framework import Call
from strongroom.services.s3 import checksums, crypto, tables
from strongroom.services.s3.blobs import BlobStore
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors

OBJ = tables.objects
G = tables.garbage

#: The request members kept with an object and answered on GET/HEAD.
HEADER_MEMBERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
)


@dataclass(slots=True)
class Obj:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: float
    blob: str
    data_key: bytes
    sse: str
    kms_key_arn: str | None
    bucket_key: bytes | None
    headers: dict[str, Any]
    metadata: dict[str, str]
    tags: dict[str, str]
    checksum: dict[str, Any]
    storage_class: str
    parts: int | None
    owner: str

    def sse_members(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ServerSideEncryption": self.sse}
        if self.kms_key_arn:
            out["SSEKMSKeyId"] = self.kms_key_arn
        if self.bucket_key is not None:
            out["BucketKeyEnabled"] = True
        return out


def blobs(call: Call) -> BlobStore:
    return call.resource("s3_blobs")


def get(conn: Connection, bucket: str, key: str) -> Obj | None:
    row = conn.execute(select(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key)).first()
    return None if row is None else Obj(**row._mapping)


def require(conn: Connection, bucket: str, key: str) -> Obj:
    obj = get(conn, bucket, key)
    if obj is None:
        raise errors.NoSuchKey("The specified key does not exist.", Key=key)
    return obj


def store(conn: Connection, obj: Obj, now: float) -> None:
    """Insert or replace the object row; a replaced body becomes garbage."""
    old = get(conn, obj.bucket, obj.key)
    values = {f: getattr(obj, f) for f in Obj.__slots__}  # type: ignore[attr-defined]
    if old is None:
        conn.execute(insert(OBJ).values(**values))
    else:
        conn.execute(
            update(OBJ).where(OBJ.c.bucket == obj.bucket, OBJ.c.key == obj.key).values(**values)
        )
        if old.blob != obj.blob:
            discard(conn, old.blob, now)


def remove(conn: Connection, bucket: str, key: str, now: float) -> bool:
    old = get(conn, bucket, key)
    if old is None:
        return False
    conn.execute(delete(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key))
    discard(conn, old.blob, now)
    return True


def set_tags(conn: Connection, bucket: str, key: str, tags: dict[str, str]) -> None:
    conn.execute(update(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key).values(tags=tags))


def discard(conn: Connection, blob: str, now: float) -> None:
    conn.execute(insert(G).values(blob=blob, since=now, pending=False))


def collect(conn: Connection, store_: BlobStore, limit: int = 1000) -> int:
    """Remove blobs whose rows are gone (the transactions that dropped them committed)."""
    rows = conn.execute(select(G.c.blob).limit(limit)).all()
    for row in rows:
        store_.remove(row.blob)
    if rows:
        conn.execute(delete(G).where(G.c.blob.in_([r.blob for r in rows])))
    return len(rows)


def garbage_waiting(conn: Connection) -> bool:
    return conn.execute(select(G.c.blob).limit(1)).first() is not None


def referenced(conn: Connection, blob_ids: list[str]) -> set[str]:
    p = tables.parts
    found = {r.blob for r in conn.execute(select(OBJ.c.blob).where(OBJ.c.blob.in_(blob_ids)))}
    found |= {r.blob for r in conn.execute(select(p.c.blob).where(p.c.blob.in_(blob_ids)))}
    found |= {r.blob for r in conn.execute(select(G.c.blob).where(G.c.blob.in_(blob_ids)))}
    return found


# -- bodies ---------------------------------------------------------------------


@dataclass(slots=True)
class Written:
    blob: str
    size: int
    md5: bytes
    checksum: dict[str, Any]


def pieces(body: Any) -> Iterator[bytes]:
    """The chunks of a body: bytes, a streamed request body (anything with
    ``chunks()``), or an iterator of chunks (another object's blob)."""
    if body is None:
        return iter(())
    if isinstance(body, bytes | bytearray | memoryview):
        return iter((bytes(body),))
    chunks = getattr(body, "chunks", None)
    return chunks() if chunks is not None else iter(body)


def write_body(
    call: Call,
    data_key: bytes,
    body: Any,
    params: dict[str, Any],
    algorithm: str | None,
) -> Written:
    """Write the body, encrypted, as it is read (never whole in memory),
    checking it against Content-MD5 and the checksums the request carries
    (headers or aws-chunked trailers) before the blob is made durable: a
    body that does not match leaves nothing behind."""
    content_md5 = params.get("ContentMD5")
    if content_md5 is not None and checksums.md5_matches(content_md5, b"\0" * 16) is None:
        raise errors.InvalidDigest("The Content-MD5 you specified was invalid.")
    given = checksums.given(params)
    if algorithm is not None and algorithm not in checksums.ALGORITHMS:
        raise errors.InvalidRequest(f"Checksum algorithm {algorithm} is not supported")
    wanted = set(given) | ({algorithm} if algorithm else set())
    hashers = {alg: checksums.hasher(alg) for alg in wanted}
    md5 = hashlib.md5()
    with blobs(call).writer(data_key) as writer:
        for chunk in pieces(body):
            md5.update(chunk)
            for h in hashers.values():
                h.update(chunk)
            writer.write(chunk)
        digest = md5.digest()
        if content_md5 is not None and not checksums.md5_matches(content_md5, digest):
            raise errors.BadDigest("The Content-MD5 you specified did not match what we received.")
        computed = {alg: b64_text(h.digest()) for alg, h in hashers.items()}
        for alg, value in given.items():
            if computed[alg] != value:
                raise errors.BadDigest(
                    f"The {alg} you specified did not match the calculated checksum."
                )
        blob = writer.commit()
        size = writer.size
    checksum: dict[str, Any] = {}
    chosen = next(iter(given), None) or algorithm
    if chosen is not None:
        checksum = {"algorithm": chosen, "value": computed[chosen], "type": "FULL_OBJECT"}
    return Written(blob, size, digest, checksum)


def read_body(
    call: Call, bucket: Bucket, obj: Obj, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    key = crypto.open_key(
        call, bucket, f"{obj.bucket}/{obj.key}", obj.sse, obj.data_key, obj.bucket_key
    )
    return blobs(call).read(obj.blob, key, obj.size, start, end)


def etag_of(md5: bytes) -> str:
    return f'"{md5.hex()}"'
