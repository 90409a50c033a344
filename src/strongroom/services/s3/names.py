"""Bucket names as AWS validates them, ARNs, owners."""

from __future__ import annotations

import hashlib
import re

from strongroom.services.s3.service import errors

_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY = 1024


def validate_bucket(name: str) -> None:
    if (
        not _NAME.fullmatch(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IP.fullmatch(name)
        or name.startswith(_BAD_PREFIXES)
        or name.endswith(_BAD_SUFFIXES)
    ):
        raise errors.InvalidBucketName("The specified bucket is not valid.", BucketName=name)


def validate_key(key: str) -> None:
    if not key:
        raise errors.InvalidArgument("A key must be given")
    if len(key.encode()) > MAX_KEY:
        raise errors.KeyTooLongError("Your key is too long")


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def canonical_id(account: str) -> str:
    """The account's canonical user ID (64 hex digits, stable)."""
    return hashlib.sha256(f"strongroom-canonical:{account}".encode()).hexdigest()


def owner(account: str) -> dict[str, str]:
    return {"ID": canonical_id(account), "DisplayName": account}
