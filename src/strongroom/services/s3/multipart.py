"""Multipart uploads: the upload rows and their parts (each a blob under
the upload's data key), and the completion that streams the parts, chunk by
chunk, into the object's own blob."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from strongroom.services.s3 import tables

U = tables.uploads
P = tables.parts

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10000


@dataclass(slots=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    initiator: str
    owner: str
    attrs: dict[str, Any]
    data_key: bytes
    bucket_key: bytes | None


@dataclass(slots=True)
class Part:
    upload_id: str
    number: int
    size: int
    etag: str
    blob: str
    last_modified: float
    checksum: dict[str, Any]


def create(conn: Connection, upload: Upload) -> None:
    conn.execute(insert(U).values(**{f: getattr(upload, f) for f in Upload.__slots__}))  # type: ignore[attr-defined]


def get(conn: Connection, upload_id: str) -> Upload | None:
    row = conn.execute(select(U).where(U.c.upload_id == upload_id)).first()
    return None if row is None else Upload(**row._mapping)


def of_bucket(conn: Connection, bucket: str) -> list[Upload]:
    rows = conn.execute(select(U).where(U.c.bucket == bucket).order_by(U.c.key, U.c.initiated))
    return [Upload(**r._mapping) for r in rows]


def parts(conn: Connection, upload_id: str) -> list[Part]:
    rows = conn.execute(select(P).where(P.c.upload_id == upload_id).order_by(P.c.number))
    return [Part(**r._mapping) for r in rows]


def put_part(conn: Connection, part: Part) -> str | None:
    """Store a part; returns the blob of the part it replaced, if any."""
    old = conn.execute(
        select(P.c.blob).where(P.c.upload_id == part.upload_id, P.c.number == part.number)
    ).first()
    if old is not None:
        conn.execute(delete(P).where(P.c.upload_id == part.upload_id, P.c.number == part.number))
    conn.execute(insert(P).values(**{f: getattr(part, f) for f in Part.__slots__}))  # type: ignore[attr-defined]
    return old.blob if old is not None else None


def remove(conn: Connection, upload_id: str) -> list[str]:
    """Drop the upload and its parts; the parts' blobs."""
    blobs = [p.blob for p in parts(conn, upload_id)]
    conn.execute(delete(P).where(P.c.upload_id == upload_id))
    conn.execute(delete(U).where(U.c.upload_id == upload_id))
    return blobs


def composite_etag(md5s: list[bytes]) -> str:
    """AWS's multipart ETag: the MD5 of the parts' binary MD5s, ``-<count>``."""
    return f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'
