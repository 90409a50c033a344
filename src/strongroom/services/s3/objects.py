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
from strongroom.ids import uuid7
from strongroom.services.s3 import checksums, crypto, tables
from strongroom.services.s3.blobs import BlobStore
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors

OBJ = tables.objects
#: The version id of an object written while versioning was not enabled.
NULL_VERSION = "null"
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
    version_id: str = NULL_VERSION
    latest: bool = True
    delete_marker: bool = False
    lock_mode: str | None = None
    lock_until: float | None = None
    legal_hold: bool = False
    customer_key_md5: str | None = None

    def sse_members(self) -> dict[str, Any]:
        if self.sse == crypto.SSE_C:
            return {"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": self.customer_key_md5}
        out: dict[str, Any] = {"ServerSideEncryption": self.sse}
        if self.kms_key_arn:
            out["SSEKMSKeyId"] = self.kms_key_arn
        if self.bucket_key is not None:
            out["BucketKeyEnabled"] = True
        return out


def blobs(call: Call) -> BlobStore:
    return call.resource("s3_blobs")


def _latest(conn: Connection, bucket: str, key: str) -> Obj | None:
    row = conn.execute(
        select(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.latest.is_(True))
    ).first()
    return None if row is None else Obj(**row._mapping)


def get(conn: Connection, bucket: str, key: str) -> Obj | None:
    """The key's current version, None when there is none or it is a delete marker."""
    obj = _latest(conn, bucket, key)
    return None if obj is None or obj.delete_marker else obj


def get_version(conn: Connection, bucket: str, key: str, version_id: str) -> Obj | None:
    row = conn.execute(
        select(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.version_id == version_id)
    ).first()
    return None if row is None else Obj(**row._mapping)


def require(conn: Connection, bucket: str, key: str, version_id: str | None = None) -> Obj:
    """The current version (or `version_id`): NoSuchKey, NoSuchVersion, or
    MethodNotAllowed for a delete marker named by its version, as AWS answers."""
    if version_id is None:
        obj = get(conn, bucket, key)
        if obj is None:
            raise errors.NoSuchKey("The specified key does not exist.", Key=key)
        return obj
    obj = get_version(conn, bucket, key, version_id)
    if obj is None:
        raise errors.NoSuchVersion(
            "The specified version does not exist.", Key=key, VersionId=version_id
        )
    if obj.delete_marker:
        raise errors.MethodNotAllowed(
            "The specified method is not allowed against this resource.",
            Method="GET",
            ResourceType="DeleteMarker",
        )
    return obj


def new_version_id() -> str:
    return uuid7().replace("-", "")


def _demote(conn: Connection, bucket: str, key: str) -> None:
    conn.execute(
        update(OBJ)
        .where(OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.latest.is_(True))
        .values(latest=False)
    )


def _drop_null(conn: Connection, bucket: str, key: str, now: float) -> None:
    old = get_version(conn, bucket, key, NULL_VERSION)
    if old is not None:
        conn.execute(
            delete(OBJ).where(
                OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.version_id == NULL_VERSION
            )
        )
        if old.blob:
            discard(conn, old.blob, now)


def _insert(conn: Connection, obj: Obj) -> None:
    conn.execute(insert(OBJ).values(**{f: getattr(obj, f) for f in Obj.__slots__}))  # type: ignore[attr-defined]


def store(conn: Connection, obj: Obj, now: float, versioning: str | None = None) -> str:
    """Make `obj` the key's current version; returns its version id. With
    versioning enabled the earlier versions stay; otherwise the "null"
    version is replaced (its body becomes garbage)."""
    if versioning == "Enabled":
        obj.version_id = new_version_id()
    else:
        obj.version_id = NULL_VERSION
        _drop_null(conn, obj.bucket, obj.key, now)
    _demote(conn, obj.bucket, obj.key)
    obj.latest, obj.delete_marker = True, False
    _insert(conn, obj)
    return obj.version_id


def remove(
    conn: Connection,
    bucket: str,
    key: str,
    now: float,
    versioning: str | None = None,
    version_id: str | None = None,
) -> dict[str, Any]:
    """DeleteObject: a version removed for good (`version_id`), the null
    version removed (never versioned), or a delete marker added. Returns
    the answer's VersionId and DeleteMarker."""
    if version_id is not None:
        old = get_version(conn, bucket, key, version_id)
        if old is None:
            return {"VersionId": version_id}
        conn.execute(
            delete(OBJ).where(
                OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.version_id == version_id
            )
        )
        if old.blob:
            discard(conn, old.blob, now)
        if old.latest:
            _promote(conn, bucket, key)
        out: dict[str, Any] = {"VersionId": version_id}
        if old.delete_marker:
            out["DeleteMarker"] = True
        return out
    if versioning is None:
        _drop_null(conn, bucket, key, now)
        return {}
    marker_id = new_version_id() if versioning == "Enabled" else NULL_VERSION
    if versioning != "Enabled":
        _drop_null(conn, bucket, key, now)
    _demote(conn, bucket, key)
    _insert(
        conn,
        Obj(
            bucket=bucket, key=key, size=0, etag="", last_modified=now, blob="", data_key=b"",
            sse="", kms_key_arn=None, bucket_key=None, headers={}, metadata={}, tags={},
            checksum={}, storage_class="STANDARD", parts=None, owner="", version_id=marker_id,
            latest=True, delete_marker=True,
        ),
    )  # fmt: skip
    return {"VersionId": marker_id, "DeleteMarker": True}


def _promote(conn: Connection, bucket: str, key: str) -> None:
    """The newest remaining version becomes the current one."""
    row = conn.execute(
        select(OBJ.c.version_id)
        .where(OBJ.c.bucket == bucket, OBJ.c.key == key)
        .order_by(OBJ.c.last_modified.desc(), OBJ.c.version_id.desc())
        .limit(1)
    ).first()
    if row is not None:
        conn.execute(
            update(OBJ)
            .where(OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.version_id == row.version_id)
            .values(latest=True)
        )


def all_versions(conn: Connection, bucket: str) -> list[Obj]:
    """Every version and marker of the bucket, by key, newest first within a key."""
    rows = conn.execute(
        select(OBJ)
        .where(OBJ.c.bucket == bucket)
        .order_by(OBJ.c.key, OBJ.c.last_modified.desc(), OBJ.c.version_id.desc())
    )
    return [Obj(**r._mapping) for r in rows]


def all_versions_of(conn: Connection, bucket: str, key: str) -> list[Obj]:
    rows = conn.execute(
        select(OBJ)
        .where(OBJ.c.bucket == bucket, OBJ.c.key == key)
        .order_by(OBJ.c.last_modified.desc(), OBJ.c.version_id.desc())
    )
    return [Obj(**r._mapping) for r in rows]


def versions(
    conn: Connection,
    bucket: str,
    prefix: str,
    key_marker: str,
    version_marker: str | None,
    limit: int,
) -> list[Obj]:
    """Every version after the markers, by key, newest first within a key."""
    q = select(OBJ).where(OBJ.c.bucket == bucket)
    if prefix:
        q = q.where(OBJ.c.key.startswith(prefix, autoescape=True))
    if key_marker:
        q = q.where(OBJ.c.key >= key_marker)
    rows = conn.execute(
        q.order_by(OBJ.c.key, OBJ.c.last_modified.desc(), OBJ.c.version_id.desc()).limit(
            limit + 1 + (1000 if version_marker else 0)
        )
    ).all()
    found = [Obj(**r._mapping) for r in rows]
    if key_marker:
        if version_marker:
            # After the marker version within its key, then later keys.
            cut = next(
                (
                    i
                    for i, o in enumerate(found)
                    if o.key == key_marker and o.version_id == version_marker
                ),
                None,
            )
            found = (
                found[cut + 1 :] if cut is not None else [o for o in found if o.key > key_marker]
            )
        else:
            found = [o for o in found if o.key > key_marker]
    return found[: limit + 1]


def set_fields(conn: Connection, obj: Obj, **values: Any) -> None:
    conn.execute(
        update(OBJ)
        .where(OBJ.c.bucket == obj.bucket, OBJ.c.key == obj.key, OBJ.c.version_id == obj.version_id)
        .values(**values)
    )


def set_tags(conn: Connection, obj: Obj, tags: dict[str, str]) -> None:
    conn.execute(
        update(OBJ)
        .where(OBJ.c.bucket == obj.bucket, OBJ.c.key == obj.key, OBJ.c.version_id == obj.version_id)
        .values(tags=tags)
    )


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
    call: Call,
    bucket: Bucket,
    obj: Obj,
    start: int = 0,
    end: int | None = None,
    customer_key: bytes | None = None,
) -> Iterator[bytes]:
    key = crypto.open_key(
        call,
        bucket,
        f"{obj.bucket}/{obj.key}",
        obj.sse,
        obj.data_key,
        obj.bucket_key,
        customer_key,
        obj.headers.get(crypto.CONTEXT_HEADER),
    )
    return blobs(call).read(obj.blob, key, obj.size, start, end)


def etag_of(md5: bytes) -> str:
    return f'"{md5.hex()}"'
