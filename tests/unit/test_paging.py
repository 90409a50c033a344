"""The paginator (framework/paging.py): every style's members, paging over a
list and over a keyset, page sizes, and every kind of bad token."""

from __future__ import annotations

from bisect import bisect_right
from types import SimpleNamespace
from typing import Any

import pytest

from strongroom import tokens
from strongroom.framework import ErrorSpec, paging
from strongroom.protocol.errors import AwsError, errors_for


def fake_call(
    service: str = "kms", operation: str = "ListKeys", account: str = "111111111111"
) -> Any:
    """What the paginator reads of a `Call`."""
    svc = SimpleNamespace(name=service, errors=errors_for(service))
    return SimpleNamespace(service=svc, operation=operation, account=account, region="us-east-1")


KMS_KEYS = paging.KMS.listing("Keys", default=3, maximum=5)
IAM_USERS = paging.IAM.listing("Users", default=3, maximum=5)
TRAIL = paging.CLOUDTRAIL.listing("Events", default=3, maximum=5)
#: An RDS-like family (Marker/MaxRecords, sizes 20-100 refused outside).
RDS_LIKE = paging.Paging(
    paging.MARKER_RECORDS,
    ErrorSpec("InvalidParameterValue", "Invalid marker: not a marker this listing returned."),
    bad_size=ErrorSpec(
        "InvalidParameterValue",
        "Invalid value {size} for MaxRecords. Must be between {minimum} and {maximum}",
    ),
).listing("DBInstances", default=100, maximum=100, minimum=20)
#: A family whose tokens are good on any listing.
UNBOUND = paging.Paging(
    paging.NEXT_TOKEN, ErrorSpec("ValidationException", "bad token"), bound=False
).listing("Things", default=2, maximum=10)


def error(exc: pytest.ExceptionInfo[AwsError]) -> tuple[str, str]:
    return exc.value.code, exc.value.message


def walk(pager: paging.Paginator, call: Any, items: list[int], size: int | None) -> list[dict]:
    pages, token = [], None
    style = pager.paging.style
    while True:
        out = pager.over_list(call, items, token, size)
        pages.append(out)
        token = out.get(style.token_out)
        if token is None:
            return pages


# --------------------------------------------------------------------------- styles


def test_kms_style_truncated_and_next_marker() -> None:
    call = fake_call()
    pages = walk(KMS_KEYS, call, list(range(7)), 3)
    assert [p["Keys"] for p in pages] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p["Truncated"] for p in pages] == [True, True, False]
    assert all("NextMarker" in p for p in pages[:-1]) and "NextMarker" not in pages[-1]
    assert set(pages[0]) == {"Keys", "Truncated", "NextMarker"}


def test_iam_style_is_truncated_and_marker() -> None:
    call = fake_call("iam", "ListUsers")
    pages = walk(IAM_USERS, call, list(range(4)), None)
    assert [p["Users"] for p in pages] == [[0, 1, 2], [3]]
    assert [p["IsTruncated"] for p in pages] == [True, False]
    assert set(pages[0]) == {"Users", "IsTruncated", "Marker"}
    assert set(pages[1]) == {"Users", "IsTruncated"}


def test_next_token_style_has_no_flag() -> None:
    call = fake_call("cloudtrail", "LookupEvents")
    pages = walk(TRAIL, call, list(range(4)), 2)
    assert [set(p) for p in pages] == [{"Events", "NextToken"}, {"Events"}]
    assert [p["Events"] for p in pages] == [[0, 1], [2, 3]]


def test_marker_records_style() -> None:
    call = fake_call("rds", "DescribeDBInstances")
    pages = walk(RDS_LIKE, call, list(range(45)), 20)
    assert [len(p["DBInstances"]) for p in pages] == [20, 20, 5]
    assert [set(p) for p in pages] == [{"DBInstances", "Marker"}] * 2 + [{"DBInstances"}]


def test_an_empty_listing_is_one_page() -> None:
    assert KMS_KEYS.over_list(fake_call(), [], None, None) == {"Keys": [], "Truncated": False}
    assert TRAIL.over_list(fake_call("cloudtrail"), [], None, None) == {"Events": []}


def test_tokens_are_opaque() -> None:
    token = KMS_KEYS.over_list(fake_call(), list(range(9)), None, 2)["NextMarker"]
    assert tokens.decode(token)[0] == 2  # an offset, but no client needs to know
    assert "2" not in token or token != "2"


# --------------------------------------------------------------------------- sizes


def test_sizes_default_and_clamp() -> None:
    call = fake_call()
    assert KMS_KEYS.size(call, None) == 3
    assert KMS_KEYS.size(call, 4) == 4
    assert KMS_KEYS.size(call, 500) == 5  # KMS returns fewer, never refuses
    assert KMS_KEYS.size(call, 0) == 1
    assert len(KMS_KEYS.over_list(call, list(range(20)), None, 1000)["Keys"]) == 5


def test_sizes_refused_where_the_family_says() -> None:
    call = fake_call("cloudtrail", "LookupEvents")
    for bad in (0, 6, -1):
        with pytest.raises(AwsError) as exc:
            TRAIL.size(call, bad)
        assert error(exc) == ("InvalidMaxResultsException", "MaxResults must be between 1 and 5.")
    with pytest.raises(AwsError) as exc:
        RDS_LIKE.over_list(fake_call("rds"), [], None, 10)
    assert error(exc) == (
        "InvalidParameterValue",
        "Invalid value 10 for MaxRecords. Must be between 20 and 100",
    )


# --------------------------------------------------------------------------- bad tokens

NOT_TOKENS = [
    "garbage!",  # not base64
    "",  # empty
    tokens.encode({"p": 1}),  # not a list
    tokens.encode([]),  # too short
    tokens.encode([1, "x", "y"]),  # too long
    tokens.encode("1"),
]

FAMILIES = [
    (KMS_KEYS, fake_call(), ("InvalidMarkerException", "Invalid marker.")),
    (IAM_USERS, fake_call("iam", "ListUsers"), ("ValidationError", "Invalid Marker.")),
    (
        TRAIL,
        fake_call("cloudtrail", "LookupEvents"),
        ("InvalidNextTokenException", "Invalid NextToken."),
    ),
]


@pytest.mark.parametrize("pager,call,expected", FAMILIES, ids=["kms", "iam", "cloudtrail"])
@pytest.mark.parametrize("token", NOT_TOKENS)
def test_a_token_never_handed_out_is_the_familys_error(pager, call, expected, token) -> None:
    with pytest.raises(AwsError) as exc:
        pager.over_list(call, list(range(10)), token, 2)
    assert error(exc) == expected


@pytest.mark.parametrize("pager,call,expected", FAMILIES, ids=["kms", "iam", "cloudtrail"])
@pytest.mark.parametrize("offset", [-1, True, 1.5, "2", None, [2]])
def test_a_bound_token_with_a_bad_offset_is_refused(pager, call, expected, offset) -> None:
    forged = pager.encode(call, offset)  # right binding, wrong position
    with pytest.raises(AwsError) as exc:
        pager.over_list(call, list(range(10)), forged, 2)
    assert error(exc) == expected


def test_an_offset_past_the_end_is_an_empty_last_page() -> None:
    call = fake_call()
    token = KMS_KEYS.encode(call, 50)
    assert KMS_KEYS.over_list(call, list(range(3)), token, 2) == {"Keys": [], "Truncated": False}


@pytest.mark.parametrize(
    "other",
    [
        fake_call(operation="ListAliases"),  # another operation
        fake_call(account="222222222222"),  # another account's listing
        fake_call("iam", "ListKeys"),  # another service
    ],
    ids=["operation", "account", "service"],
)
def test_a_token_from_another_listing_is_refused(other) -> None:
    call = fake_call()
    token = KMS_KEYS.over_list(call, list(range(10)), None, 2)["NextMarker"]
    assert KMS_KEYS.over_list(call, list(range(10)), token, 2)["Keys"] == [2, 3]
    other.service.errors = errors_for("kms")
    with pytest.raises(AwsError) as exc:
        KMS_KEYS.over_list(other, list(range(10)), token, 2)
    assert error(exc) == ("InvalidMarkerException", "Invalid marker.")


def test_a_token_is_bound_to_its_listings_filters() -> None:
    call = fake_call(operation="ListGrants")
    token = KMS_KEYS.over_list(call, list(range(10)), None, 2, scope=("key-1",))["NextMarker"]
    assert KMS_KEYS.over_list(call, list(range(10)), token, 2, scope=("key-1",))["Keys"] == [2, 3]
    with pytest.raises(AwsError) as exc:
        KMS_KEYS.over_list(call, list(range(10)), token, 2, scope=("key-2",))
    assert error(exc) == ("InvalidMarkerException", "Invalid marker.")


def test_a_filter_binds_whatever_order_its_members_came_in() -> None:
    call = fake_call("cloudtrail", "LookupEvents")
    one = [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]
    same = [{"AttributeValue": "CreateKey", "AttributeKey": "EventName"}]
    token = TRAIL.over_list(call, list(range(9)), None, 2, scope=(one,))["NextToken"]
    assert TRAIL.over_list(call, list(range(9)), token, 2, scope=(same,))["Events"] == [2, 3]


def test_an_unbound_familys_token_is_good_on_any_listing() -> None:
    call = fake_call()
    token = UNBOUND.over_list(call, list(range(5)), None, None)["NextToken"]
    other = fake_call(operation="ListAliases", account="222222222222")
    assert UNBOUND.over_list(other, list(range(5)), token, None) == {
        "Things": [2, 3],
        "NextToken": UNBOUND.encode(other, 4),
    }
    with pytest.raises(AwsError) as exc:  # a bound token is not an unbound one
        UNBOUND.over_list(call, [], KMS_KEYS.encode(call, 1), None)
    assert error(exc) == ("ValidationException", "bad token")


# --------------------------------------------------------------------------- keysets

ROWS = [("alice", 1), ("alice", 2), ("bob", 1), ("carol", 7), ("dave", 1), ("erin", 3)]


class Table:
    """A sorted table that answers "n rows after this key", counting what it read."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def rows(self, after: tuple | None, n: int) -> list[tuple[str, int]]:
        self.asked.append(n)
        start = 0 if after is None else bisect_right(ROWS, after)
        return ROWS[start : start + n]


def keyset_walk(call: Any, size: int, table: Table, **kw: Any) -> list[dict]:
    pages, token = [], None
    while True:
        out = KMS_KEYS.over_keyset(
            call, table.rows, token, size, key=lambda r: r, key_types=(str, int), **kw
        )
        pages.append(out)
        token = out.get("NextMarker")
        if token is None:
            return pages


def test_keyset_pages_ask_for_one_more_row_than_they_return() -> None:
    table = Table()
    pages = keyset_walk(fake_call(), 2, table)
    assert [p["Keys"] for p in pages] == [ROWS[0:2], ROWS[2:4], ROWS[4:6]]
    assert [p["Truncated"] for p in pages] == [True, True, False]
    assert table.asked == [3, 3, 3]
    assert tokens.decode(pages[0]["NextMarker"])[0] == ["alice", 2]  # the last key returned


def test_keyset_exact_fit_has_no_next_page() -> None:
    table = Table()
    pages = keyset_walk(fake_call(), 3, table)
    assert [len(p["Keys"]) for p in pages] == [3, 3]
    assert pages[-1]["Truncated"] is False


def test_keyset_projects_each_page() -> None:
    out = KMS_KEYS.over_keyset(
        fake_call(),
        Table().rows,
        None,
        2,
        key=lambda r: r,
        key_types=(str, int),
        project=lambda page: [f"{name}/{n}" for name, n in page],
    )
    assert out["Keys"] == ["alice/1", "alice/2"] and out["Truncated"] is True


@pytest.mark.parametrize(
    "position",
    [
        ["bob"],  # too few parts
        ["bob", 1, 2],  # too many
        [1, 1],  # wrong type
        ["bob", "1"],
        ["bob", True],  # a bool is no number here
        ["bob", 1.0],
        ["bob", 2**63],  # past what a database column holds
        "bob",
        None,
        5,
    ],
)
def test_keyset_positions_are_checked_before_any_query(position) -> None:
    call, table = fake_call(), Table()
    forged = KMS_KEYS.encode(call, position)
    with pytest.raises(AwsError) as exc:
        KMS_KEYS.over_keyset(call, table.rows, forged, 2, key=lambda r: r, key_types=(str, int))
    assert error(exc) == ("InvalidMarkerException", "Invalid marker.")
    assert table.asked == []


def test_keyset_valid_and_after() -> None:
    call = fake_call("cloudtrail", "LookupEvents")
    ok = TRAIL.encode(call, [5, 0])
    negative = TRAIL.encode(call, [-1, 0])

    def valid(p: tuple) -> bool:
        return p[0] >= 0 and p[1] >= 0

    assert TRAIL.after(call, None, key_types=(int, int), valid=valid) is None
    assert TRAIL.after(call, ok, key_types=(int, int), valid=valid) == (5, 0)
    with pytest.raises(AwsError) as exc:
        TRAIL.after(call, negative, key_types=(int, int), valid=valid)
    assert error(exc) == ("InvalidNextTokenException", "Invalid NextToken.")
    # Bound to the filters, as CloudTrail's are.
    with pytest.raises(AwsError):
        TRAIL.after(call, ok, key_types=(int, int), valid=valid, scope=("EventName",))


def test_after_position_in_sql() -> None:
    """`after_position` is the WHERE of a keyset page, in SQLite as in PostgreSQL."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

    meta = MetaData()
    people = Table("people", meta, Column("name", String), Column("n", Integer))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(people), [{"name": a, "n": b} for a, b in reversed(ROWS)])

        def rows(after: tuple | None, n: int) -> list[tuple[str, int]]:
            query = select(people.c.name, people.c.n)
            if after is not None:
                query = query.where(paging.after_position([people.c.name, people.c.n], after))
            query = query.order_by(people.c.name, people.c.n).limit(n)
            return [tuple(row) for row in conn.execute(query)]

        call, token, seen = fake_call(), None, []
        while True:
            out = KMS_KEYS.over_keyset(call, rows, token, 2, key=lambda r: r, key_types=(str, int))
            seen += out["Keys"]
            token = out.get("NextMarker")
            if token is None:
                break
        assert seen == ROWS
        newest_first = select(people.c.name).where(
            paging.after_position([people.c.name], ("carol",), descending=True)
        )
        assert sorted(r[0] for r in conn.execute(newest_first)) == ["alice", "alice", "bob"]
