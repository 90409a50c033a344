"""One tagging module: the rules every service's tags follow, as data.

A service's tags differ from another's only in numbers, names and words:
how many a resource holds, how long a key or value may be, which characters
they may use, which prefixes AWS keeps for itself, whether two keys that
differ in case are one key (IAM), the wire's member names (KMS says
``TagKey``/``TagValue``, most others ``Key``/``Value``) and AWS's error code
and message for each failure. A `TagRules` holds those; its methods check,
merge and remove tags and build the condition-key contexts.

Domain state holds tags as a list of `Tag` pairs, never a wire dict of
whatever shape the service uses: `TagRules.from_wire` and `TagRules.to_wire`
convert at the edges (`to_rows`/`from_rows` for the stored form).

The order of the checks is AWS's: the count in the request, then each tag
in turn (its key, its value, a reserved prefix, a key seen before); the
count on the resource after merging last.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from strongroom.framework.errorspec import ErrorSpec

if TYPE_CHECKING:
    from strongroom.framework.call import Call


class Tag(NamedTuple):
    key: str
    value: str


#: The characters most services allow in tag keys and values: Unicode
#: letters, numbers and separators (``[\p{L}\p{Z}\p{N}_.:/=+\-@]``).
_SYMBOLS = frozenset("_.:/=+-@")


def unicode_tag_chars(text: str) -> bool:
    """Whether `text` uses only letters, numbers, spaces and ``_ . : / = + - @``."""
    return all(c in _SYMBOLS or unicodedata.category(c)[0] in "LZN" for c in text)


@dataclass(frozen=True, slots=True)
class TagRules:
    """One service's tag rules (see the module's docstring). Error messages
    are templates over ``{key}``, ``{value}``, ``{limit}`` and whatever the
    caller passes (IAM names the resource type: ``{noun}``)."""

    #: More tags in one request than a resource may hold.
    too_many: ErrorSpec
    #: More tags on the resource once the request's are merged in.
    over_limit: ErrorSpec
    #: A key twice in one request.
    duplicate: ErrorSpec
    #: A key (or, with `reserved_values`, a value) with a reserved prefix.
    reserved: ErrorSpec
    #: A key or value of the wrong length or characters.
    bad_key: ErrorSpec
    bad_value: ErrorSpec
    #: UntagResource naming a reserved key (default: `reserved`).
    reserved_untag: ErrorSpec | None = None
    key_member: str = "Key"
    value_member: str = "Value"
    max_tags: int = 50
    min_key: int = 1
    max_key: int = 128
    max_value: int = 256
    #: Test of a key's and a value's characters (None: any).
    chars: Callable[[str], bool] | None = None
    #: Prefixes AWS keeps for itself, lowercase; compared regardless of case.
    reserved_prefixes: tuple[str, ...] = ("aws:",)
    #: The prefixes are reserved in values too (RDS).
    reserved_values: bool = False
    #: Keys that differ only in case are one key (IAM users and roles).
    case_insensitive: bool = False

    # ----------------------------------------------------------------- the edges

    def from_wire(self, tags: Iterable[Mapping[str, str]] | None) -> list[Tag]:
        """The request's tags (``[{"TagKey": k, "TagValue": v}]`` or the
        service's own names) as pairs; a missing value is the empty string."""
        k, v = self.key_member, self.value_member
        return [Tag(t[k], t.get(v) or "") for t in tags or ()]

    def to_wire(self, tags: Iterable[Tag]) -> list[dict[str, str]]:
        k, v = self.key_member, self.value_member
        return [{k: t.key, v: t.value} for t in tags]

    @staticmethod
    def to_rows(tags: Iterable[Tag]) -> list[list[str]]:
        """The stored form: a list of ``[key, value]`` pairs."""
        return [[t.key, t.value] for t in tags]

    @staticmethod
    def from_rows(rows: Iterable[Iterable[str]]) -> list[Tag]:
        return [Tag(*row) for row in rows]

    # ----------------------------------------------------------------- checks

    def _fold(self, key: str) -> str:
        return key.lower() if self.case_insensitive else key

    def is_reserved(self, text: str) -> bool:
        """``aws:`` (or another reserved prefix) in any case."""
        lowered = text.lower()
        return any(lowered.startswith(p) for p in self.reserved_prefixes)

    def require_valid(self, call: Call, tags: list[Tag], **names: Any) -> None:
        """AWS's error for the first thing wrong with a request's tags."""
        if len(tags) > self.max_tags:
            self.too_many.raise_for(call, limit=self.max_tags, **names)
        seen: set[str] = set()
        for tag in tags:
            self._require_key(call, tag.key, **names)
            self._require_value(call, tag, **names)
            if self.is_reserved(tag.key) or (self.reserved_values and self.is_reserved(tag.value)):
                self.reserved.raise_for(call, key=tag.key, value=tag.value, **names)
            folded = self._fold(tag.key)
            if folded in seen:
                self.duplicate.raise_for(call, key=tag.key, value=tag.value, **names)
            seen.add(folded)

    def _require_key(self, call: Call, key: str, **names: Any) -> None:
        if not self.min_key <= len(key) <= self.max_key or (
            self.chars is not None and not self.chars(key)
        ):
            self.bad_key.raise_for(call, key=key, value="", **names)

    def _require_value(self, call: Call, tag: Tag, **names: Any) -> None:
        if len(tag.value) > self.max_value or (
            self.chars is not None and not self.chars(tag.value)
        ):
            self.bad_value.raise_for(call, key=tag.key, value=tag.value, **names)

    def require_removable(self, call: Call, keys: Iterable[str], **names: Any) -> None:
        """UntagResource may not remove AWS's own tags."""
        for key in keys:
            if self.is_reserved(key):
                (self.reserved_untag or self.reserved).raise_for(call, key=key, value="", **names)

    # ----------------------------------------------------------------- changes

    def merged(self, call: Call, current: list[Tag], new: list[Tag], **names: Any) -> list[Tag]:
        """`current` with `new` added, a key already there taking the new
        value (and, case-insensitive, the new spelling); `over_limit` when
        the resource would hold more than `max_tags`. Tags with a reserved
        key, which AWS sets itself, do not count."""
        out = list(current)
        where = {self._fold(t.key): i for i, t in enumerate(out)}
        for tag in new:
            i = where.get(self._fold(tag.key))
            if i is None:
                where[self._fold(tag.key)] = len(out)
                out.append(tag)
            else:
                out[i] = tag
        if sum(1 for t in out if not self.is_reserved(t.key)) > self.max_tags:
            self.over_limit.raise_for(call, limit=self.max_tags, **names)
        return out

    def without(self, current: list[Tag], keys: Iterable[str]) -> list[Tag]:
        """`current` without the tags `keys` name (a key not there is no error)."""
        drop = {self._fold(k) for k in keys}
        return [t for t in current if self._fold(t.key) not in drop]


# --------------------------------------------------------------------------- conditions


def request_context(
    tags: Iterable[Tag] | None = None, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """``aws:RequestTag/<key>`` and ``aws:TagKeys`` for a request that sets
    `tags`, or (`keys`) removes tags."""
    ctx: dict[str, Any] = {}
    pairs = list(tags or ())
    if pairs:
        for tag in pairs:
            ctx[f"aws:RequestTag/{tag.key}"] = tag.value
        ctx["aws:TagKeys"] = [t.key for t in pairs]
    if keys is not None:
        ctx["aws:TagKeys"] = list(keys)
    return ctx


def resource_context(tags: Iterable[Tag]) -> dict[str, str]:
    """``aws:ResourceTag/<key>`` for each of a resource's tags."""
    return {f"aws:ResourceTag/{t.key}": t.value for t in tags}


# --------------------------------------------------------------------------- the services
#
# Limits are AWS's documented ones. Messages marked "as seen" are AWS's
# answers quoted in public reports; the others are the best wording known
# and should be checked against AWS when the service is served.

#: KMS (TagResource, CreateKey, ReplicateKey): 50 tags a key, keys 1-128 and
#: values 0-256 characters, any characters, ``aws:`` reserved in any case.
KMS = TagRules(
    key_member="TagKey",
    value_member="TagValue",
    too_many=ErrorSpec("TagException", "Too many tags: a KMS key can have at most {limit} tags."),
    over_limit=ErrorSpec("LimitExceededException", "The request would exceed the tag limit."),
    duplicate=ErrorSpec("TagException", "Duplicate tag keys: {key}"),
    reserved=ErrorSpec("TagException", "Tags beginning with aws: are reserved."),
    bad_key=ErrorSpec("TagException", "Tag key {key} is not valid."),
    bad_value=ErrorSpec("TagException", "Tag value {value} for key {key} is not valid."),
)

#: IAM users, roles, policies, instance profiles, providers…: 50 tags a
#: resource, ``[\p{L}\p{Z}\p{N}_.:/=+\-@]`` (the model's patterns), keys
#: compared regardless of case (a later ``department`` replaces
#: ``Department``). Callers pass ``noun=`` ("User", "Role"…) for the quota.
IAM = TagRules(
    too_many=ErrorSpec("LimitExceeded", "Cannot exceed quota for TagsPer{noun}: {limit}"),
    over_limit=ErrorSpec("LimitExceeded", "Cannot exceed quota for TagsPer{noun}: {limit}"),
    # As seen.
    duplicate=ErrorSpec(
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    ),
    reserved=ErrorSpec("InvalidInput", "Tag keys starting with 'aws:' are reserved."),
    bad_key=ErrorSpec("InvalidInput", "Tag key {key} is not valid."),
    bad_value=ErrorSpec("InvalidInput", "Tag value {value} for key {key} is not valid."),
    chars=unicode_tag_chars,
    case_insensitive=True,
)

#: Secrets Manager: 50 tags a secret, keys 1-128 and values 0-256 (the
#: model), case-sensitive, ``aws:`` reserved in keys and values; tags with
#: it do not count toward the 50.
SECRETS_MANAGER = TagRules(
    too_many=ErrorSpec(
        "InvalidParameterException", "Number of tags exceeds the limit of {limit} for a secret."
    ),
    over_limit=ErrorSpec(
        "LimitExceededException", "Number of tags exceeds the limit of {limit} for a secret."
    ),
    duplicate=ErrorSpec("InvalidParameterException", "Duplicate tag key: {key}"),
    reserved=ErrorSpec(
        "InvalidParameterException", "Tag keys and values cannot start with the aws: prefix."
    ),
    bad_key=ErrorSpec("InvalidParameterException", "Tag key {key} is not valid."),
    bad_value=ErrorSpec("InvalidParameterException", "Tag value {value} is not valid."),
    reserved_values=True,
)

#: RDS (AddTagsToResource and every Create*'s ``Tags``): 50 tags a resource,
#: keys 1-128 and values 0-256 of ``[\p{L}\p{Z}\p{N}_.:/=+\-@]``, ``aws:``
#: and ``rds:`` reserved in keys and values.
RDS = TagRules(
    too_many=ErrorSpec(
        "InvalidParameterValue", "Cannot have more than {limit} tags on a resource."
    ),
    over_limit=ErrorSpec(
        "InvalidParameterValue", "Cannot have more than {limit} tags on a resource."
    ),
    duplicate=ErrorSpec("InvalidParameterValue", "Duplicate tag key: {key}"),
    reserved=ErrorSpec(
        "InvalidParameterValue", "Tag keys and values cannot start with aws: or rds:."
    ),
    bad_key=ErrorSpec(
        "InvalidParameterValue",
        "Tag keys may only contain unicode letters, digits, whitespace, or one of these "
        "symbols: _ . : / = + \\ - @",
    ),
    # As seen.
    bad_value=ErrorSpec(
        "InvalidParameterValue",
        "Tag values may only contain unicode letters, digits, whitespace, or one of these "
        "symbols: _ . : / = + \\ - @",
    ),
    chars=unicode_tag_chars,
    reserved_prefixes=("aws:", "rds:"),
    reserved_values=True,
)

#: S3 buckets (PutBucketTagging replaces the whole set): 50 tags, keys
#: 1-128 and values 0-256 characters, ``aws:`` keys AWS's own.
S3_BUCKET = TagRules(
    too_many=ErrorSpec("BadRequest", "Bucket tag count cannot be greater than {limit}"),
    over_limit=ErrorSpec("BadRequest", "Bucket tag count cannot be greater than {limit}"),
    # As seen: the duplicate and the bad key and value.
    duplicate=ErrorSpec("InvalidTag", "Cannot provide multiple Tags with the same key"),
    reserved=ErrorSpec("InvalidTag", "System tags cannot be added/updated by requester"),
    bad_key=ErrorSpec("InvalidTag", "The TagKey you have provided is invalid"),
    bad_value=ErrorSpec("InvalidTag", "The TagValue you have provided is invalid"),
)

#: S3 objects: at most 10 tags ("Object tags cannot be greater than 10", as
#: seen), otherwise as buckets.
S3_OBJECT = TagRules(
    too_many=ErrorSpec("BadRequest", "Object tags cannot be greater than {limit}"),
    over_limit=ErrorSpec("BadRequest", "Object tags cannot be greater than {limit}"),
    duplicate=S3_BUCKET.duplicate,
    reserved=S3_BUCKET.reserved,
    bad_key=S3_BUCKET.bad_key,
    bad_value=S3_BUCKET.bad_value,
    max_tags=10,
)
