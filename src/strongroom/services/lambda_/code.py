"""Function code: deployment packages (.zip), validated and kept in a
content-addressed blob directory under the data dir (the process resource
``lambda_code``), and the pre-signed URLs GetFunction hands out for them.

A package is stored once per SHA-256 (``<data dir>/blobs/lambda/<hex>.zip``,
the directory 0700, files 0600), written to a temporary name and renamed,
so a reader sees a whole file or none. Files no version names any more
are removed by `CodeStore.forget`.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from strongroom.encoding import b64_bytes, b64_text
from strongroom.framework import ResourceContext
from strongroom.ids import uuid4
from strongroom.store.files import BLOBS_DIR, PRIVATE_FILE, private_dir

#: AWS's quotas: 50 MB zipped for a direct upload, 250 MB unzipped.
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 262_144_000
#: The body a CreateFunction / UpdateFunctionCode request may carry: the
#: zip base64-encoded in JSON (AWS: "Request must be smaller than 69905067
#: bytes for the CreateFunction operation").
MAX_REQUEST = 69_905_067
#: How long a Code.Location URL is good for (AWS's: 10 minutes).
URL_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Package:
    sha256_hex: str
    #: CodeSha256 as AWS reports it: the digest, base64.
    code_sha256: str
    size: int
    data: bytes


class BadPackage(ValueError):
    """Why a zip is refused, in AWS's words."""


def inspect(data: bytes, *, from_s3: bool = False) -> Package:
    """The package `data`, once it is known to be a zip within AWS's limits
    (the 50 MB zipped limit is for direct uploads: a package from S3 may be
    larger, up to what it unzips to)."""
    if len(data) > MAX_ZIPPED and not from_s3:
        raise BadPackage(f"Zipped size must be smaller than {MAX_ZIPPED} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError):
        raise BadPackage(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    if bad is not None:
        raise BadPackage(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        )
    if unzipped > MAX_UNZIPPED:
        raise BadPackage(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
    digest = hashlib.sha256(data).digest()
    return Package(digest.hex(), b64_text(digest), len(data), data)


def hex_of(code_sha256: str) -> str:
    """The file name part of a CodeSha256 (base64 of the digest)."""
    return b64_bytes(code_sha256).hex()


class CodeStore:
    """The code blobs of this server's functions."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)

    def path(self, sha256_hex: str) -> Path:
        if len(sha256_hex) != 64 or not all(c in "0123456789abcdef" for c in sha256_hex):
            raise ValueError("not a SHA-256")
        return self.root / f"{sha256_hex}.zip"

    def put(self, package: Package) -> Path:
        target = self.path(package.sha256_hex)
        if target.exists() and target.stat().st_size == package.size:
            return target
        tmp = self.root / f".{package.sha256_hex}.{uuid4()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            f.write(package.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def read(self, sha256_hex: str) -> bytes:
        return self.path(sha256_hex).read_bytes()

    def forget(self, sha256_hex: str) -> None:
        try:
            self.path(sha256_hex).unlink()
        except FileNotFoundError:
            pass


def make_code_store(ctx: ResourceContext) -> CodeStore:
    private_dir(ctx.data_dir / BLOBS_DIR)
    return CodeStore(ctx.data_dir / BLOBS_DIR / "lambda")
