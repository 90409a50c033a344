"""KMS's tag rules, one place for every operation that takes tags (CreateKey,
ReplicateKey, TagResource, UntagResource)."""

from __future__ import annotations

from typing import Any

from strongroom.services.kms.service import errors

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"


def _reserved(tag_key: str) -> bool:
    """``aws:`` in any case is AWS's own prefix."""
    return tag_key[: len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX


def _reserved_error() -> Exception:
    return errors.TagException("Tags beginning with aws: are reserved.")


def check_tags(tags: list[dict[str, str]] | None) -> None:
    """TagException for a reserved key, a duplicate key or more than 50 tags."""
    if not tags:
        return
    if len(tags) > MAX_TAGS:
        raise errors.TagException(f"Too many tags: a KMS key can have at most {MAX_TAGS} tags.")
    seen: set[str] = set()
    for tag in tags:
        name = tag["TagKey"]
        if _reserved(name):
            raise _reserved_error()
        if name in seen:
            raise errors.TagException(f"Duplicate tag keys: {name}")
        seen.add(name)


def check_tag_keys(tag_keys: list[str]) -> None:
    """UntagResource may not remove AWS's own tags."""
    if any(_reserved(name) for name in tag_keys):
        raise _reserved_error()


def merged(current: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, Any]]:
    """`current` with `new` added or replacing values; LimitExceededException
    when the key would have more than 50 tags."""
    values = {t["TagKey"]: t["TagValue"] for t in current}
    for tag in new:
        values[tag["TagKey"]] = tag["TagValue"]
    if len(values) > MAX_TAGS:
        raise errors.LimitExceededException("The request would exceed the tag limit.")
    return [{"TagKey": k, "TagValue": v} for k, v in values.items()]
