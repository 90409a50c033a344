"""What the IAM domain modules share: ARNs, dates, tags, policy documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from strongroom.arn import arn
from strongroom.auth.policy import CompiledPolicy, MalformedPolicy, PolicySizeExceeded, parse_policy
from strongroom.framework import Call
from strongroom.services.iam.service import errors

#: Default quotas (IAM User Guide, "IAM and AWS STS quotas").
MAX_TAGS = 50
MANAGED_POLICY_SIZE = 6144
INLINE_POLICY_SIZE = {"user": 2048, "role": 10240, "group": 5120}
TRUST_POLICY_SIZE = 2048
MAX_ATTACHED_POLICIES = 10
MAX_POLICY_VERSIONS = 5
#: What each kind of entity is called in quota names.
QUOTA_NOUN = {"user": "User", "group": "Group", "role": "Role"}


def iam_arn(account: str, kind: str, path: str, name: str) -> str:
    """``arn:aws:iam::ACCOUNT:KIND/PATH/NAME`` (the path is ``/`` or ``/a/b/``)."""
    return arn("iam", "", account, f"{kind}{path}{name}")


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def to_document(text: str) -> str:
    """A policy document as IAM returns it: URL-encoded JSON text (botocore
    and the CLI decode every ``policyDocumentType`` member)."""
    return quote(text, safe="")


def validate_document(call: Call, text: str, kind: str = "identity") -> CompiledPolicy:
    """The compiled document, or MalformedPolicyDocument in IAM's words."""
    try:
        return parse_policy(text, kind)
    except PolicySizeExceeded as exc:  # pragma: no cover - no max_size here
        raise errors.LimitExceededException(exc.message) from None
    except MalformedPolicy as exc:
        raise errors.MalformedPolicyDocumentException(exc.message) from None


def require_size(call: Call, size: int, limit: int, message: str) -> None:
    if size > limit:
        raise errors.LimitExceededException(message)


# -- tags -------------------------------------------------------------------


def merge_tags(
    call: Call, current: list[dict[str, str]], new: list[dict[str, str]], noun: str
) -> list[dict[str, str]]:
    """Add or replace tags (IAM compares tag keys regardless of case)."""
    merged = list(current)
    for tag in new:
        lowered = tag["Key"].lower()
        for i, old in enumerate(merged):
            if old["Key"].lower() == lowered:
                merged[i] = {"Key": tag["Key"], "Value": tag["Value"]}
                break
        else:
            merged.append({"Key": tag["Key"], "Value": tag["Value"]})
    if len(merged) > MAX_TAGS:
        raise errors.LimitExceededException(f"Cannot exceed quota for TagsPer{noun}: {MAX_TAGS}")
    return merged


def remove_tags(current: list[dict[str, str]], keys: list[str]) -> list[dict[str, str]]:
    drop = {k.lower() for k in keys}
    return [t for t in current if t["Key"].lower() not in drop]


def check_new_tags(call: Call, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags given at creation: no key twice (whatever its case)."""
    seen: set[str] = set()
    for tag in tags:
        lowered = tag["Key"].lower()
        if lowered in seen:
            raise errors.InvalidInputException("Duplicate tag keys found.")
        seen.add(lowered)
    return [{"Key": t["Key"], "Value": t["Value"]} for t in tags]


def tag_context(tags: list[dict[str, str]] | None, keys: list[str] | None = None) -> dict[str, Any]:
    """aws:RequestTag/… and aws:TagKeys for a request that sets or removes tags."""
    ctx: dict[str, Any] = {}
    if tags:
        ctx["aws:TagKeys"] = [t["Key"] for t in tags]
        for t in tags:
            ctx[f"aws:RequestTag/{t['Key']}"] = t["Value"]
    if keys:
        ctx["aws:TagKeys"] = list(keys)
    return ctx


def page_out(
    call: Call, key: str, items: list[Any], marker: str | None, max_items: int | None
) -> dict[str, Any]:
    """``{key: page, IsTruncated, Marker?}`` over an ordered list."""
    from strongroom.services.iam.paging import page

    chunk, more, next_marker = page(call, items, marker, max_items or 100)
    out: dict[str, Any] = {key: chunk, "IsTruncated": more}
    if more:
        out["Marker"] = next_marker
    return out


def lowered_sort(items: list[Any], name: Callable[[Any], str]) -> list[Any]:
    return sorted(items, key=lambda x: name(x).lower())
