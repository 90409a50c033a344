"""One paginator for the ways AWS pages a listing, declared as data.

AWS pages in four styles, which differ only in member names:

- ``NextToken``/``MaxResults`` (KMS's newer operations, CloudTrail, Secrets
  Manager, Logs): the answer carries ``NextToken`` while more remain;
- ``Marker``/``MaxRecords`` (RDS, Redshift, DMS): the answer carries ``Marker``;
- ``Marker``/``MaxItems`` (IAM): ``IsTruncated`` and, when true, ``Marker``;
- ``Marker``/``Limit`` (KMS): ``Truncated`` and, when true, ``NextMarker``.

A service declares its family once (`Paging`: the style, AWS's error for a
token it did not hand out, whether a token is bound to its listing, what a
page size out of range gets) and each listing operation its `Paginator`
(the output member the items go in, the default and largest page size)::

    LIST_KEYS = paging.KMS.listing("Keys", default=100, maximum=1000)

    return LIST_KEYS.over_list(call, items, Marker, Limit)

Tokens are opaque (`strongroom.tokens`). Where AWS binds a token to the
listing it came from, the token carries a digest of the service, operation,
account, Region and the listing's `scope` (its filters): a token used on
another listing is the family's bad-token error, like one never handed out.

Two ways to page: over an ordered list the operation already has
(`over_list`, the token is an offset), or over a keyset (`over_keyset`, the
token is the sort key of the last item returned), where the domain layer is
asked for ``limit + 1`` rows after a position, so a big listing never loads
every row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import orjson
from sqlalchemy import ColumnElement, literal, tuple_

from strongroom import tokens
from strongroom.framework.errorspec import ErrorSpec

if TYPE_CHECKING:
    from strongroom.framework.call import Call

T = TypeVar("T")
Position = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Style:
    """Where one paging style puts the token and the page size."""

    #: Input members: the token, the page size.
    token_in: str
    size_in: str
    #: Output members: the next token, and the truncated flag (None: the
    #: presence of the next token alone says more remain).
    token_out: str
    truncated_out: str | None = None


NEXT_TOKEN = Style("NextToken", "MaxResults", "NextToken")
MARKER_RECORDS = Style("Marker", "MaxRecords", "Marker")
MARKER_ITEMS = Style("Marker", "MaxItems", "Marker", "IsTruncated")
LIMIT_MARKER = Style("Marker", "Limit", "NextMarker", "Truncated")


@dataclass(frozen=True, slots=True)
class Paging:
    """A service's paging family."""

    style: Style
    #: AWS's answer to a token it did not hand out (or, when `bound`, one
    #: handed out for another listing).
    bad_token: ErrorSpec
    #: The token is good only for the listing (operation, account, Region,
    #: filters) it came from.
    bound: bool = True
    #: AWS's answer to a page size outside [minimum, maximum], where the
    #: model's range does not already say it; None: sizes are clamped into
    #: the range, as KMS does with ``Limit``.
    bad_size: ErrorSpec | None = None

    def listing(self, member: str, *, default: int, maximum: int, minimum: int = 1) -> Paginator:
        """The paginator of one listing operation, whose items go in `member`."""
        return Paginator(self, member, default, maximum, minimum)


#: KMS: ``Limit``/``Marker``, ``Truncated`` and ``NextMarker``.
KMS = Paging(LIMIT_MARKER, ErrorSpec("InvalidMarkerException", "Invalid marker."))
#: IAM: ``MaxItems``/``Marker``, ``IsTruncated`` and ``Marker``.
IAM = Paging(MARKER_ITEMS, ErrorSpec("ValidationError", "Invalid Marker."))
#: CloudTrail: "a token that is not valid, or a token that was previously
#: used in a request with different parameters" (InvalidNextTokenException).
CLOUDTRAIL = Paging(
    NEXT_TOKEN,
    ErrorSpec("InvalidNextTokenException", "Invalid NextToken."),
    bad_size=ErrorSpec(
        "InvalidMaxResultsException", "MaxResults must be between {minimum} and {maximum}."
    ),
)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: its items and the token for the next (None on the last)."""

    items: list[T]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class Paginator:
    """One listing operation's paging: `Paging.listing` makes it."""

    paging: Paging
    #: The output member the page's items go in.
    member: str
    default: int
    maximum: int
    minimum: int = 1

    # ----------------------------------------------------------------- size

    def size(self, call: Call, requested: int | None) -> int:
        """The page size for `requested` (None: the default): out of range,
        the family's `bad_size` error, or clamped into range without one."""
        if requested is None:
            return self.default
        if self.minimum <= requested <= self.maximum:
            return requested
        if self.paging.bad_size is not None:
            self.paging.bad_size.raise_for(
                call, size=requested, minimum=self.minimum, maximum=self.maximum
            )
        return min(max(requested, self.minimum), self.maximum)

    # ----------------------------------------------------------------- tokens

    def _binding(self, call: Call, scope: Sequence[Any]) -> str:
        listing = [call.service.name, call.operation, call.account, call.region, *scope]
        # Sorted keys: a filter is the same filter whatever order its members came in.
        text = orjson.dumps(listing, default=str, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(text).hexdigest()[:16]

    def encode(self, call: Call, position: Any, scope: Sequence[Any] = ()) -> str:
        """The token for the page that starts after `position`."""
        if self.paging.bound:
            return tokens.encode([position, self._binding(call, scope)])
        return tokens.encode([position])

    def decode(self, call: Call, token: str, scope: Sequence[Any] = ()) -> Any:
        """The position a token names; the family's bad-token error for one
        that does not decode, or (bound) came from another listing."""
        try:
            value = tokens.decode(token)
        except tokens.BadToken:
            value = None
        expected = 2 if self.paging.bound else 1
        if (
            not isinstance(value, list)
            or len(value) != expected
            or (self.paging.bound and value[1] != self._binding(call, scope))
        ):
            self._bad_token(call)
        return value[0]

    def _bad_token(self, call: Call) -> NoReturn:
        self.paging.bad_token.raise_for(call)

    # ----------------------------------------------------------------- pages

    def slice(
        self,
        call: Call,
        items: Sequence[T],
        token: str | None,
        size: int | None,
        *,
        scope: Sequence[Any] = (),
    ) -> Page[T]:
        """One page of an ordered list; the token is an offset into it."""
        limit = self.size(call, size)
        start = 0
        if token is not None:
            start = self.decode(call, token, scope)
            if not _is_int(start) or start < 0:
                self._bad_token(call)
        end = start + limit
        more = end < len(items)
        return Page(list(items[start:end]), self.encode(call, end, scope) if more else None)

    def fetch(
        self,
        call: Call,
        rows: Callable[[Position | None, int], Sequence[T]],
        token: str | None,
        size: int | None,
        *,
        key: Callable[[T], Position],
        key_types: tuple[type, ...],
        valid: Callable[[Position], bool] | None = None,
        scope: Sequence[Any] = (),
    ) -> Page[T]:
        """One page of a keyset: ``rows(after, n)`` returns up to `n` rows
        whose sort key comes after `after` (None: from the first), in order;
        it is asked for one more than the page holds, to know whether more
        remain. `key` is a row's sort key, `key_types` the types of its
        parts (checked in a token before it reaches a query), `valid` any
        further test a position must pass."""
        limit = self.size(call, size)
        after = self.after(call, token, key_types=key_types, valid=valid, scope=scope)
        found = list(rows(after, limit + 1))
        if len(found) <= limit:
            return Page(found, None)
        page = found[:limit]
        return Page(page, self.encode(call, list(key(page[-1])), scope))

    def after(
        self,
        call: Call,
        token: str | None,
        *,
        key_types: tuple[type, ...],
        valid: Callable[[Position], bool] | None = None,
        scope: Sequence[Any] = (),
    ) -> Position | None:
        """The keyset position a token names (None: no token), checked as
        `fetch` checks it: for an operation that must refuse a bad token
        before it looks at its other members."""
        if token is None:
            return None
        return self._position(call, self.decode(call, token, scope), key_types, valid)

    def _position(
        self,
        call: Call,
        value: Any,
        key_types: tuple[type, ...],
        valid: Callable[[Position], bool] | None,
    ) -> Position:
        if not isinstance(value, list) or len(value) != len(key_types):
            self._bad_token(call)
        for part, kind in zip(value, key_types, strict=True):
            if kind is int:
                ok = _is_int(part) and -(2**63) <= part < 2**63
            else:
                ok = isinstance(part, kind) and not isinstance(part, bool)
            if not ok:
                self._bad_token(call)
        position = tuple(value)
        if valid is not None and not valid(position):
            self._bad_token(call)
        return position

    # ----------------------------------------------------------------- output

    def output(self, page: Page[Any], items: list[Any] | None = None) -> dict[str, Any]:
        """The output members of `page` (its items, or `items` projected
        from them) in the family's style."""
        style = self.paging.style
        out: dict[str, Any] = {self.member: page.items if items is None else items}
        if style.truncated_out is not None:
            out[style.truncated_out] = page.next_token is not None
        if page.next_token is not None:
            out[style.token_out] = page.next_token
        return out

    def over_list(
        self,
        call: Call,
        items: Sequence[Any],
        token: str | None,
        size: int | None,
        *,
        scope: Sequence[Any] = (),
    ) -> dict[str, Any]:
        """`slice`, as output members."""
        return self.output(self.slice(call, items, token, size, scope=scope))

    def over_keyset(
        self,
        call: Call,
        rows: Callable[[Position | None, int], Sequence[T]],
        token: str | None,
        size: int | None,
        *,
        key: Callable[[T], Position],
        key_types: tuple[type, ...],
        valid: Callable[[Position], bool] | None = None,
        scope: Sequence[Any] = (),
        project: Callable[[list[T]], list[Any]] | None = None,
    ) -> dict[str, Any]:
        """`fetch`, as output members; `project` turns the page's rows into
        the output's items (all at once, for a batch lookup)."""
        page = self.fetch(
            call, rows, token, size, key=key, key_types=key_types, valid=valid, scope=scope
        )
        return self.output(page, project(page.items) if project is not None else None)


def after_position(
    columns: Sequence[ColumnElement[Any]], after: Position, *, descending: bool = False
) -> ColumnElement[bool]:
    """The SQL condition "this row's sort key comes after `after`" for a
    query ordered by `columns` (all ascending, or all `descending`): what a
    domain layer's ``rows(after, n)`` adds to its query before
    ``ORDER BY columns LIMIT n``. A row-value comparison, which SQLite and
    PostgreSQL both answer from an index on the columns."""
    row = tuple_(*columns)
    bound = tuple_(*(literal(part) for part in after))
    return row < bound if descending else row > bound


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
