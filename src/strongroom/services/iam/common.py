"""What the IAM domain modules share: ARNs, dates, tags, policy documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from strongroom.arn import arn
from strongroom.auth.policy import CompiledPolicy, MalformedPolicy, PolicySizeExceeded, parse_policy
from strongroom.framework import Call, paging, tagging
from strongroom.services.iam.service import errors

#: Default quotas (IAM User Guide, "IAM and AWS STS quotas").
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


# -- tags (the framework's tagging module, IAM's rules) ----------------------

_TAGS = tagging.IAM


def merge_tags(
    call: Call, current: list[dict[str, str]], new: list[dict[str, str]], noun: str
) -> list[dict[str, str]]:
    """Add or replace tags (IAM compares tag keys regardless of case); at most
    50 on the `noun` ("User", "Role"…)."""
    merged = _TAGS.merged(call, _TAGS.from_wire(current), _TAGS.from_wire(new), noun=noun)
    return _TAGS.to_wire(merged)


def remove_tags(current: list[dict[str, str]], keys: list[str]) -> list[dict[str, str]]:
    return _TAGS.to_wire(_TAGS.without(_TAGS.from_wire(current), keys))


def check_new_tags(call: Call, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags a request gives: valid keys and values, none ``aws:``, no key
    twice (whatever its case)."""
    given = _TAGS.from_wire(tags)
    _TAGS.require_valid(call, given, noun="")
    return _TAGS.to_wire(given)


def tag_context(tags: list[dict[str, str]] | None, keys: list[str] | None = None) -> dict[str, Any]:
    """aws:RequestTag/… and aws:TagKeys for a request that sets or removes tags."""
    return tagging.request_context(_TAGS.from_wire(tags) if tags else None, keys)


#: IAM's listings page 100 items by default, at most 1000 (MaxItems).
_LISTINGS: dict[str, paging.Paginator] = {}


def listing(key: str) -> paging.Paginator:
    """The Marker/MaxItems paginator of a listing whose items go in `key`."""
    found = _LISTINGS.get(key)
    if found is None:
        found = _LISTINGS[key] = paging.IAM.listing(key, default=100, maximum=1000)
    return found


def page_out(
    call: Call, key: str, items: list[Any], marker: str | None, max_items: int | None
) -> dict[str, Any]:
    """``{key: page, IsTruncated, Marker?}`` over an ordered list."""
    return listing(key).over_list(call, items, marker, max_items)


def page(
    call: Call, key: str, items: list[Any], marker: str | None, max_items: int | None
) -> tuple[list[Any], bool, str | None]:
    """(this page of `items`, is truncated, the marker for the next), for an
    answer the operation builds itself."""
    one = listing(key).slice(call, items, marker, max_items)
    return one.items, one.next_token is not None, one.next_token


def lowered_sort(items: list[Any], name: Callable[[Any], str]) -> list[Any]:
    return sorted(items, key=lambda x: name(x).lower())
