"""Conditional requests (RFC 7232 as S3 applies it): If-Match,
If-None-Match, If-Modified-Since, If-Unmodified-Since on reads, and the
conditional writes (If-None-Match ``*``, If-Match) on PutObject and
CompleteMultipartUpload; and range GETs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from strongroom.services.s3.objects import Obj
from strongroom.services.s3.service import errors

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _etags(header: str) -> list[str]:
    return [t.strip().strip('"') for t in header.split(",")]


def _matches(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or etag.strip('"') in tags


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def check_read(
    obj: Obj,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: Any,
    if_unmodified_since: Any,
) -> None:
    modified = int(obj.last_modified)
    if if_match is not None:
        if not _matches(if_match, obj.etag):
            raise _failed("If-Match")
    elif if_unmodified_since is not None and modified > _epoch(if_unmodified_since):
        raise _failed("If-Unmodified-Since")
    if if_none_match is not None:
        if _matches(if_none_match, obj.etag):
            raise errors.NotModified("Not Modified")
    elif if_modified_since is not None and modified <= _epoch(if_modified_since):
        raise errors.NotModified("Not Modified")


def check_write(
    existing: Obj | None, key: str, if_match: str | None, if_none_match: str | None
) -> None:
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise errors.NotImplemented(
                "A header you provided implies functionality that is not implemented",
                Header="If-None-Match",
            )
        if existing is not None:
            raise _failed("If-None-Match")
    if if_match is not None:
        if existing is None:
            raise errors.NoSuchKey("The specified key does not exist.", Key=key)
        if not _matches(if_match, existing.etag):
            raise _failed("If-Match")


def _failed(condition: str) -> Exception:
    return errors.PreconditionFailed(
        "At least one of the pre-conditions you specified did not hold", Condition=condition
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a ``bytes=`` Range, None to send it all (an
    unreadable range is ignored, as S3 ignores it); InvalidRange when
    it starts past the end."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        length = int(last)
        if length == 0:
            raise _invalid_range(size)
        return max(0, size - length), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _invalid_range(size)
    return start, end


def _invalid_range(size: int) -> Exception:
    return errors.InvalidRange("The requested range is not satisfiable", ActualObjectSize=str(size))
