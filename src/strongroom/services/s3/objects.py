"""Objects: their rows, their bodies, and the blobs a change leaves behind
(removed only once the change has committed).

Where a body lives depends on its size, and its blob id says which:

* ``i…`` — up to `INLINE_MAX` bytes: in the store (`tables.bodies`), sealed
  as a one-chunk blob under the object's data key. Written in the same
  short transaction as the row, so it is exactly as durable as every other
  acknowledged change, and costs no file, no fsync and no directory entry
  (MinIO keeps small objects in their metadata for the same reason).
* ``k…`` — a larger body streamed by the HTTP layer: written by
  `prepare_body` *before* the operation's transaction opens, under a
  random key of its own, fsynced and linked into the blob store
  (`blobs`' write protocol); the transaction then only inserts the row and
  the blob's key sealed under the object's data key (`PreparedBlob.claim`),
  so the write lock is held for a row insert, never for a body. A request
  that fails removes its blob; a crash between the link and the commit
  leaves an orphan the sweeper removes by age.
* ``m…`` — an object CompleteMultipartUpload made: its parts' blobs in
  order (`tables.composed`), opened with the upload's data key, which
  becomes the object's; completing an upload writes rows, never its bytes.
* plain hex — a blob written inside the transaction under the data key
  itself (CopyObject, UploadPartCopy: bodies read from other blobs).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from strongroom.encoding import b64_text
from strongroom.framework import BodyStream, Call, Runtime
from strongroom.ids import random_bytes, uuid4, uuid7
from strongroom.services.s3 import checksums, crypto, tables
from strongroom.services.s3.blobs import BlobError, BlobStore, open_small, seal_small
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors
from strongroom.store.db import Prepared, Store
from strongroom.store.sealing import Sealer, SealError

OBJ = tables.objects
#: The version id of an object written while versioning was not enabled.
NULL_VERSION = "null"
G = tables.garbage
BODIES = tables.bodies
#: Bodies up to this size are kept in the store, not in a blob file.
INLINE_MAX = 64 * 1024
#: Blob id prefixes: a body kept in the store; a blob with a key of its own;
#: an object made of its multipart upload's parts (`tables.composed`).
INLINE, KEYED, COMPOSED = "i", "k", "m"
COMPOSED_PIECES = tables.composed

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


#: The statements of every GetObject and PutObject, compiled once.
_LATEST = Prepared(
    select(*[OBJ.c[f] for f in Obj.__slots__]).where(  # type: ignore[attr-defined]
        OBJ.c.bucket == bindparam("bucket"),
        OBJ.c.key == bindparam("key"),
        OBJ.c.latest.is_(True),
    )
)
_BODY = Prepared(select(BODIES.c.data).where(BODIES.c.blob == bindparam("blob")))
_PUT_BODY = Prepared(insert(BODIES).values(blob=bindparam("blob"), data=bindparam("data")))
_DROP_BODY = Prepared(delete(BODIES).where(BODIES.c.blob == bindparam("blob")))
_PIECES = Prepared(
    select(COMPOSED_PIECES.c.blob, COMPOSED_PIECES.c.size)
    .where(COMPOSED_PIECES.c.object_blob == bindparam("object_blob"))
    .order_by(COMPOSED_PIECES.c.position)
)
_DROP_PIECES = Prepared(
    delete(COMPOSED_PIECES).where(COMPOSED_PIECES.c.object_blob == bindparam("object_blob"))
)
_DISCARD = Prepared(
    insert(G).values(blob=bindparam("blob"), since=bindparam("since"), pending=False)
)


#: Hot-cache entries S3 adds at most (object rows and small bodies are many,
#: unlike keys or credentials): beyond, it reads the store.
HOT_LIMIT = 2048
#: Bodies kept in the store up to this size are cached with their row.
HOT_BODY_MAX = 4096


def hot_get(store: Store | None, key: Any) -> Any:
    return store.hot_get(key) if store is not None else None


def hot_put(store: Store | None, key: Any, value: Any) -> None:
    """Into the store's hot cache (valid for one state generation, never
    stale: any commit moves it), while it holds fewer than `HOT_LIMIT`."""
    if store is not None and store.hot is not None and len(store.hot) < HOT_LIMIT:
        store.hot_put(key, value)


def _latest(conn: Connection, bucket: str, key: str, store: Store | None = None) -> Obj | None:
    cache_key = ("s3-latest", bucket, key)
    row = hot_get(store, cache_key)
    if row is None:
        row = _LATEST.first(conn, bucket=bucket, key=key)
        if row is None:
            return None
        hot_put(store, cache_key, row)
    return _obj(row)


def _obj(row: Any) -> Obj:
    """An object from a `Prepared` row (the driver's types: booleans as
    ints on SQLite, bytea as memoryview on some PostgreSQL drivers)."""
    obj = Obj(*row)
    obj.latest, obj.delete_marker, obj.legal_hold = (
        bool(obj.latest), bool(obj.delete_marker), bool(obj.legal_hold),
    )  # fmt: skip
    if isinstance(obj.data_key, memoryview):
        obj.data_key = bytes(obj.data_key)
    if isinstance(obj.bucket_key, memoryview):
        obj.bucket_key = bytes(obj.bucket_key)
    return obj


def get(conn: Connection, bucket: str, key: str, store: Store | None = None) -> Obj | None:
    """The key's current version, None when there is none or it is a delete
    marker (from the hot cache, given the `store`)."""
    obj = _latest(conn, bucket, key, store)
    return None if obj is None or obj.delete_marker else obj


def get_version(conn: Connection, bucket: str, key: str, version_id: str) -> Obj | None:
    row = conn.execute(
        select(OBJ).where(OBJ.c.bucket == bucket, OBJ.c.key == key, OBJ.c.version_id == version_id)
    ).first()
    return None if row is None else Obj(**row._mapping)


def require(
    conn: Connection,
    bucket: str,
    key: str,
    version_id: str | None = None,
    store: Store | None = None,
) -> Obj:
    """The current version (or `version_id`): NoSuchKey, NoSuchVersion, or
    MethodNotAllowed for a delete marker named by its version, as AWS answers."""
    if version_id is None:
        obj = get(conn, bucket, key, store)
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


_DEMOTE = Prepared(
    update(OBJ)
    .where(
        OBJ.c.bucket == bindparam("bucket"),
        OBJ.c.key == bindparam("key"),
        OBJ.c.latest.is_(True),
    )
    .values(latest=False)
)
_NULL_BLOB = Prepared(
    select(OBJ.c.blob).where(
        OBJ.c.bucket == bindparam("bucket"),
        OBJ.c.key == bindparam("key"),
        OBJ.c.version_id == NULL_VERSION,
    )
)
_DROP_NULL = Prepared(
    delete(OBJ).where(
        OBJ.c.bucket == bindparam("bucket"),
        OBJ.c.key == bindparam("key"),
        OBJ.c.version_id == NULL_VERSION,
    )
)
_INSERT = Prepared(
    insert(OBJ).values({f: bindparam(f) for f in Obj.__slots__})  # type: ignore[attr-defined]
)


def _demote(conn: Connection, bucket: str, key: str) -> None:
    _DEMOTE.rowcount(conn, bucket=bucket, key=key)


def _drop_null(conn: Connection, bucket: str, key: str, now: float) -> None:
    old = _NULL_BLOB.first(conn, bucket=bucket, key=key)
    if old is not None:
        _DROP_NULL.rowcount(conn, bucket=bucket, key=key)
        if old.blob:
            discard(conn, old.blob, now)


def _insert(conn: Connection, obj: Obj) -> None:
    _INSERT.rowcount(conn, **{f: getattr(obj, f) for f in Obj.__slots__})  # type: ignore[attr-defined]


#: `store` was not told the key's current version.
UNKNOWN: Any = object()


def latest(conn: Connection, bucket: str, key: str) -> Obj | None:
    """The key's current version, a delete marker included."""
    return _latest(conn, bucket, key)


def store(
    conn: Connection,
    obj: Obj,
    now: float,
    versioning: str | None = None,
    current: Obj | None = UNKNOWN,
) -> str:
    """Make `obj` the key's current version; returns its version id. With
    versioning enabled the earlier versions stay; otherwise the "null"
    version is replaced (its body becomes garbage). `current` (the key's
    current version as this transaction read it, if the caller has it)
    spares the statements it answers: the common overwrite of an
    unversioned key is one delete and one insert."""
    if versioning == "Enabled":
        obj.version_id = new_version_id()
        if current is not None:
            _demote(conn, obj.bucket, obj.key)
    else:
        obj.version_id = NULL_VERSION
        if current is not UNKNOWN and current is not None and current.version_id == NULL_VERSION:
            # The null version is the current one: replaced, nothing to demote.
            _DROP_NULL.rowcount(conn, bucket=obj.bucket, key=obj.key)
            if current.blob:
                discard(conn, current.blob, now)
        else:
            _drop_null(conn, obj.bucket, obj.key, now)
            if current is not None:
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


def part_sizes(conn: Connection, obj: Obj) -> list[int] | None:
    """The sizes of the parts a multipart upload made `obj` of, in order,
    or None when it was not made of parts."""
    if obj.parts is None or not obj.blob.startswith(COMPOSED):
        return None
    return [piece.size for piece in _PIECES.all(conn, object_blob=obj.blob)]


def discard(conn: Connection, blob: str, now: float) -> None:
    """`blob` is no longer named: a body in the store goes with the row; a
    file is removed once this transaction has committed (`collect`)."""
    if blob.startswith(COMPOSED):
        for piece in _PIECES.all(conn, object_blob=blob):
            discard(conn, piece.blob, now)
        _DROP_PIECES.rowcount(conn, object_blob=blob)
        return
    if blob.startswith((INLINE, KEYED)):
        _DROP_BODY.rowcount(conn, blob=blob)
        if blob.startswith(INLINE):
            return
    _DISCARD.rowcount(conn, blob=blob, since=now)


def compose(conn: Connection, pieces: list[tuple[str, int]]) -> str:
    """An object's body made of `pieces` (blob id, size), in order: its blob id."""
    blob = new_blob_id(COMPOSED)
    conn.execute(
        insert(COMPOSED_PIECES),
        [
            {"blob": piece, "object_blob": blob, "position": i, "size": size}
            for i, (piece, size) in enumerate(pieces)
        ],
    )
    return blob


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
    c = COMPOSED_PIECES
    found |= {r.blob for r in conn.execute(select(c.c.blob).where(c.c.blob.in_(blob_ids)))}
    return found


# -- bodies ---------------------------------------------------------------------


@dataclass(slots=True)
class Written:
    blob: str
    size: int
    md5: bytes
    checksum: dict[str, Any]


def new_blob_id(kind: str = "") -> str:
    return kind + uuid4().replace("-", "")


def _key_aad(blob_id: str) -> bytes:
    return f"s3-blob-key:{blob_id}".encode()


class PreparedBlob(BodyStream):
    """A request body already written as a durable blob (`prepare_body`),
    under a random key of its own, with the digests taken on the way. The
    operation `claim`s it inside its transaction; the pipeline then
    `settle`s it once the transaction is over: unclaimed, or not committed,
    the blob is removed."""

    def __init__(
        self,
        store: BlobStore,
        blob_id: str,
        key: bytes,
        size: int,
        md5: bytes,
        sums: dict[str, str],
        source: BodyStream,
    ) -> None:
        self.store, self.id, self._key = store, blob_id, key
        self.size, self.md5, self.sums = size, md5, sums
        self._source = source
        self.claimed = False

    def chunks(self) -> Iterator[bytes]:
        return self.store.read(self.id, self._key, self.size)

    def sha256_hex(self) -> str:
        return self._source.sha256_hex()

    def claim(self, conn: Connection, data_key: bytes) -> None:
        """Name the blob in this transaction: its key, sealed under `data_key`."""
        _PUT_BODY.rowcount(
            conn, blob=self.id, data=Sealer(data_key).seal(self._key, _key_aad(self.id))
        )
        self.claimed = True

    def settle(self, committed: bool) -> None:
        if not (committed and self.claimed):
            self.store.remove(self.id)
        self._key = b""

    def close(self) -> None:
        self._source.close()


def wanted_checksums(headers: dict[str, str]) -> set[str]:
    """The checksum algorithms a request names (a header, the SDK's
    algorithm, or a trailer), to be computed as the body is written."""
    wanted = set()
    sdk = headers.get("x-amz-sdk-checksum-algorithm")
    if sdk and sdk.upper() in checksums.ALGORITHMS:
        wanted.add(sdk.upper())
    names = [n.strip().lower() for n in headers.get("x-amz-trailer", "").split(",")]
    for alg in checksums.ALGORITHMS:
        header = f"x-amz-checksum-{alg.lower()}"
        if header in headers or header in names:
            wanted.add(alg)
    return wanted


def prepare_body(runtime: Runtime, body: BodyStream, headers: dict[str, str]) -> PreparedBlob:
    """Before the transaction: a streamed body written as a durable blob
    (the pipeline calls this off the event loop, holding no lock)."""
    store: BlobStore = runtime.resource("s3_blobs")
    key = random_bytes(32)
    hashers = {alg: checksums.hasher(alg) for alg in wanted_checksums(headers)}
    md5 = hashlib.md5()
    with store.writer(key, new_blob_id(KEYED)) as writer:
        for chunk in body.chunks():
            md5.update(chunk)
            for h in hashers.values():
                h.update(chunk)
            writer.write(chunk)
        blob_id = writer.commit()
    sums = {alg: b64_text(h.digest()) for alg, h in hashers.items()}
    return PreparedBlob(store, blob_id, key, writer.size, md5.digest(), sums, body)


def pieces(body: Any) -> Iterator[bytes]:
    """The chunks of a body: bytes, a streamed request body (anything with
    ``chunks()``), or an iterator of chunks (another object's blob)."""
    if body is None:
        return iter(())
    if isinstance(body, bytes | bytearray | memoryview):
        return iter((bytes(body),))
    chunks = getattr(body, "chunks", None)
    return chunks() if chunks is not None else iter(body)


def _check_digests(
    content_md5: str | None, digest: bytes, given: dict[str, str], computed: dict[str, str]
) -> None:
    if content_md5 is not None and not checksums.md5_matches(content_md5, digest):
        raise errors.BadDigest("The Content-MD5 you specified did not match what we received.")
    for alg, value in given.items():
        if computed[alg] != value:
            raise errors.BadDigest(
                f"The {alg} you specified did not match the calculated checksum."
            )


def write_body(
    call: Call,
    data_key: bytes,
    body: Any,
    params: dict[str, Any],
    algorithm: str | None,
) -> Written:
    """Store the body, encrypted, as it is read (never whole in memory),
    checking it against Content-MD5 and the checksums the request carries
    (headers or aws-chunked trailers) before it is named: a body that does
    not match leaves nothing behind. A small body goes into the store with
    the row; a larger one to a blob file; a body `prepare_body` already
    wrote is only claimed."""
    content_md5 = params.get("ContentMD5")
    if content_md5 is not None and checksums.md5_matches(content_md5, b"\0" * 16) is None:
        raise errors.InvalidDigest("The Content-MD5 you specified was invalid.")
    given = checksums.given(params)
    if algorithm is not None and algorithm not in checksums.ALGORITHMS:
        raise errors.InvalidRequest(f"Checksum algorithm {algorithm} is not supported")
    wanted = set(given) | ({algorithm} if algorithm else set())
    if isinstance(body, PreparedBlob):
        computed = dict(body.sums)
        missing = {alg: checksums.hasher(alg) for alg in wanted - set(computed)}
        if missing:  # named only by a member the headers did not show
            for chunk in body.chunks():
                for h in missing.values():
                    h.update(chunk)
            computed.update({alg: b64_text(h.digest()) for alg, h in missing.items()})
        _check_digests(content_md5, body.md5, given, computed)
        body.claim(call.conn, data_key)
        blob, size, digest = body.id, body.size, body.md5
    else:
        blob, size, digest, computed = _write_stream(
            call, data_key, body, wanted, content_md5, given
        )
    checksum: dict[str, Any] = {}
    chosen = next(iter(given), None) or algorithm
    if chosen is not None:
        checksum = {"algorithm": chosen, "value": computed[chosen], "type": "FULL_OBJECT"}
    return Written(blob, size, digest, checksum)


def _write_stream(
    call: Call,
    data_key: bytes,
    body: Any,
    wanted: set[str],
    content_md5: str | None,
    given: dict[str, str],
) -> tuple[str, int, bytes, dict[str, str]]:
    """The body kept in the store when it ends within `INLINE_MAX` bytes,
    else written to a blob file; (blob id, size, MD5, checksums)."""
    hashers = {alg: checksums.hasher(alg) for alg in wanted}
    md5 = hashlib.md5()
    head = bytearray()
    writer = None
    try:
        for chunk in pieces(body):
            md5.update(chunk)
            for h in hashers.values():
                h.update(chunk)
            if writer is None:
                head += chunk
                if len(head) <= INLINE_MAX:
                    continue
                writer = blobs(call).writer(data_key)
                chunk, head = bytes(head), bytearray()
            writer.write(chunk)
        digest = md5.digest()
        computed = {alg: b64_text(h.digest()) for alg, h in hashers.items()}
        _check_digests(content_md5, digest, given, computed)
        if writer is None:
            blob = new_blob_id(INLINE)
            _PUT_BODY.rowcount(call.conn, blob=blob, data=seal_small(blob, data_key, bytes(head)))
            return blob, len(head), digest, computed
        size = writer.size
        return writer.commit(), size, digest, computed
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def open_blob(
    call: Call | Any,
    blob_id: str,
    key: bytes,
    size: int,
    start: int = 0,
    end: int | None = None,
) -> Iterator[bytes]:
    """The plaintext bytes [start, end) of the body `blob_id` names, opened
    with its data key `key` (an object's, or an upload's for its parts)."""
    conn = call.conn
    end = size if end is None else min(end, size)
    if blob_id.startswith(COMPOSED):
        return _open_composed(call, blob_id, key, start, end)
    if blob_id.startswith((INLINE, KEYED)):
        store = getattr(call, "store", None)
        sealed = hot_get(store, ("s3-body", blob_id))
        if sealed is None:
            row = _BODY.first(conn, blob=blob_id)
            if row is None:
                raise BlobError(f"blob {blob_id} is missing")
            sealed = bytes(row.data)
            if len(sealed) <= HOT_BODY_MAX:
                hot_put(store, ("s3-body", blob_id), sealed)
        if blob_id.startswith(INLINE):
            data = open_small(blob_id, key, sealed)
            return iter((data[start:end],)) if start < end else iter(())
        try:
            key = Sealer(key).unseal(sealed, _key_aad(blob_id))
        except SealError:
            raise BlobError(f"blob {blob_id}'s key does not open") from None
    return blobs(call).read(blob_id, key, size, start, end)


def _open_composed(call: Call | Any, blob_id: str, key: bytes, start: int, end: int) -> Any:
    """The bytes [start, end) of an object made of pieces: every piece the
    range covers is looked up now (the transaction is still open), its file
    opened now and read as the client reads."""
    opened = []
    offset = 0
    for piece in _PIECES.all(call.conn, object_blob=blob_id):
        lo, hi = max(start - offset, 0), min(end - offset, piece.size)
        if lo < hi:
            if piece.blob.startswith((INLINE, COMPOSED)):
                opened.append(open_blob(call, piece.blob, key, piece.size, lo, hi))
            else:
                piece_key = key
                if piece.blob.startswith(KEYED):
                    piece_key = _blob_key(call, piece.blob, key)
                opened.append(
                    blobs(call).read(piece.blob, piece_key, piece.size, lo, hi, eager=not opened)
                )
        offset += piece.size
    return itertools.chain.from_iterable(opened)


def _blob_key(call: Call | Any, blob_id: str, key: bytes) -> bytes:
    row = _BODY.first(call.conn, blob=blob_id)
    if row is None:
        raise BlobError(f"blob {blob_id} is missing")
    try:
        return Sealer(key).unseal(bytes(row.data), _key_aad(blob_id))
    except SealError:
        raise BlobError(f"blob {blob_id}'s key does not open") from None


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
    return open_blob(call, obj.blob, key, obj.size, start, end)


def etag_of(md5: bytes) -> str:
    return f'"{md5.hex()}"'
