"""Condition operators one by one, below the evaluation table.

Semantics: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from strongroom.auth.policy.conditions import (
    Condition,
    RequestContext,
    make_condition,
    parse_date,
)
from strongroom.auth.policy.patterns import Template, Unresolved, arn_regex, glob_regex

KEY = "test:Key"


def holds(
    op: str, values: list[str] | str, context: dict[str, Any], *, variables: bool = True
) -> bool:
    vals = [values] if isinstance(values, str) else values
    return Condition(op, KEY, vals, variables=variables).evaluate(RequestContext(context))


MISSING: dict[str, Any] = {}
EMPTY = {KEY: []}


# --------------------------------------------------------------------------
# Missing keys and empty value sets
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "missing", "empty"),
    [
        # "If the key that you specify in a policy condition is not present in
        # the request context, the values do not match and the condition is
        # false" ...
        ("StringEquals", "a", False, False),
        ("StringLike", "*", False, False),
        ("NumericEquals", "1", False, False),
        ("DateEquals", "2020-01-01", False, False),
        ("Bool", "true", False, False),
        ("BinaryEquals", "YQ==", False, False),
        ("IpAddress", "0.0.0.0/0", False, False),
        ("ArnLike", "*", False, False),
        # ... "If the policy condition requires that the key is not matched ...
        # and the right key is not present, the condition is true."
        ("StringNotEquals", "a", True, True),
        ("StringNotLike", "a*", True, True),
        ("StringNotEqualsIgnoreCase", "a", True, True),
        ("NumericNotEquals", "1", True, True),
        ("DateNotEquals", "2020-01-01", True, True),
        ("NotIpAddress", "10.0.0.0/8", True, True),
        ("ArnNotLike", "arn:*", True, True),
        ("ArnNotEquals", "arn:*", True, True),
        # ...IfExists: "If the key is not present, evaluate the condition
        # element as true."
        ("StringEqualsIfExists", "a", True, True),
        ("NumericLessThanIfExists", "1", True, True),
        ("StringNotEqualsIfExists", "a", True, True),
        # set operators: ForAllValues true, ForAnyValue false
        ("ForAllValues:StringEquals", "a", True, True),
        ("ForAllValues:StringNotEquals", "a", True, True),
        ("ForAnyValue:StringEquals", "a", False, False),
        ("ForAnyValue:StringNotEquals", "a", False, False),
        ("ForAnyValue:StringEqualsIfExists", "a", True, False),
        ("ForAllValues:StringEqualsIfExists", "a", True, True),
        # Null: "true (the key doesn't exist — it is null)"
        ("Null", "true", True, True),
        ("Null", "false", False, False),
    ],
)
def test_missing_and_empty(op: str, value: str, missing: bool, empty: bool) -> None:
    assert holds(op, value, MISSING) is missing
    assert holds(op, value, EMPTY) is empty


def test_null_with_both_values_always_holds() -> None:
    assert holds("Null", ["true", "false"], MISSING)
    assert holds("Null", ["true", "false"], {KEY: "x"})


# --------------------------------------------------------------------------
# String
# --------------------------------------------------------------------------


def test_string_values_or_and_nor() -> None:
    assert holds("StringEquals", ["a", "b"], {KEY: "b"})
    assert not holds("StringEquals", ["a", "b"], {KEY: "c"})
    assert not holds("StringNotEquals", ["a", "b"], {KEY: "b"})
    assert holds("StringNotEquals", ["a", "b"], {KEY: "c"})


def test_string_equals_has_no_wildcards() -> None:
    assert not holds("StringEquals", "a*", {KEY: "abc"})
    assert holds("StringEquals", "a*", {KEY: "a*"})


def test_string_like_wildcards() -> None:
    assert holds("StringLike", "home/*", {KEY: "home/bob/docs"})
    assert holds("StringLike", "h?me/*", {KEY: "hame/x"})
    assert not holds("StringLike", "h?me/*", {KEY: "haame/x"})
    assert holds("StringLike", "*", {KEY: ""})
    assert holds("StringLike", "a*b*c", {KEY: "a-b-b-c"})
    assert not holds("StringLike", "A*", {KEY: "abc"})  # case-sensitive
    assert holds("StringLike", "a.b", {KEY: "a.b"})
    assert not holds("StringLike", "a.b", {KEY: "axb"})  # regex characters are literal
    assert holds("StringLike", "line*", {KEY: "line1\nline2"})


def test_ignore_case() -> None:
    assert holds("StringEqualsIgnoreCase", "JohnDoe", {KEY: "JOHNDOE"})
    assert not holds("StringNotEqualsIgnoreCase", "JohnDoe", {KEY: "johndoe"})


# --------------------------------------------------------------------------
# Numeric and Date
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "policy", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", "10", "10.5", False),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "10", "9.99", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "-1", "0", True),
        ("NumericGreaterThanEquals", "1.5", "1.5", True),
        ("NumericGreaterThan", "1", "abc", False),
        ("NumericNotEquals", "1", "abc", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00+00:00", True),
        ("DateEquals", "2020-01-01T02:00:00+02:00", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),
        ("DateEquals", "1577836800", "2020-01-01", True),
        ("DateEquals", "2020", "2020-01-01T00:00:00Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59.999Z", True),
        ("DateLessThanEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2020-01-01", "2020-01-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "2020-01-01", "2019-12-31", False),
        ("DateNotEquals", "2020-01-01", "2020-01-02", True),
        ("DateGreaterThan", "2020-01-01", "not a date", False),
    ],
)
def test_numeric_and_date(op: str, policy: str, request_value: str, expected: bool) -> None:
    assert holds(op, policy, {KEY: request_value}) is expected


def test_datetime_request_values() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert holds("DateGreaterThan", "2024-01-01T00:00:00Z", {KEY: when})
    assert holds("DateLessThan", "2025", {KEY: datetime(2024, 5, 1)})  # naive means UTC


def test_parse_date_formats() -> None:
    ref = datetime(2017, 7, 16, 19, 20, 30, tzinfo=UTC).timestamp()
    for text in (
        "2017-07-16T19:20:30Z",
        "2017-07-16T19:20:30+00:00",
        "2017-07-16T21:20:30+02:00",
        "2017-07-16T19:20:30.00Z",
        str(int(ref)),
    ):
        assert parse_date(text) == ref, text
    assert parse_date("2017-07") == datetime(2017, 7, 1, tzinfo=UTC).timestamp()
    assert parse_date("2017-13") is None


# --------------------------------------------------------------------------
# Bool, Binary, IP address, ARN
# --------------------------------------------------------------------------


def test_bool() -> None:
    assert holds("Bool", "true", {KEY: True})
    assert holds("Bool", "TRUE", {KEY: "true"})
    assert holds("Bool", "false", {KEY: "False"})
    assert not holds("Bool", "true", {KEY: "yes"})


def test_binary() -> None:
    assert holds("BinaryEquals", "AAEC", {KEY: b"\x00\x01\x02"})
    assert not holds("BinaryEquals", "AAEC", {KEY: b"\x00\x01"})


@pytest.mark.parametrize(
    ("cidr", "address", "expected"),
    [
        ("10.0.0.0/8", "10.255.0.1", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("10.1.2.3/8", "10.9.9.9", True),  # host bits ignored
        ("0.0.0.0/0", "198.51.100.1", True),
        ("::/0", "198.51.100.1", False),  # versions never mix
        ("2001:DB8::/32", "2001:db8:ffff::1", True),
        ("2001:DB8::/32", "10.0.0.1", False),
        ("10.0.0.0/8", "not an address", False),
    ],
)
def test_ip_address(cidr: str, address: str, expected: bool) -> None:
    assert holds("IpAddress", cidr, {KEY: address}) is expected
    assert holds("NotIpAddress", cidr, {KEY: address}) is not expected


def test_arn_operators() -> None:
    arn = "arn:aws:iam::123456789012:role/dev/app"
    assert holds("ArnEquals", "arn:aws:iam::*:role/dev/*", {KEY: arn})
    assert holds("ArnLike", "arn:aws:iam::123456789012:role/*", {KEY: arn})
    assert holds("ArnLike", "*", {KEY: arn})
    assert holds("ArnLike", "arn:aws:*", {KEY: arn})
    assert not holds("ArnLike", "arn:aws:iam::123456789012:role/Dev/*", {KEY: arn})
    assert not holds("ArnLike", "arn:*:123456789012:role/*", {KEY: arn})
    assert holds("ArnNotEquals", "arn:aws:iam::*:user/*", {KEY: arn})
    assert not holds("ArnNotLike", "arn:aws:iam::*:role/*", {KEY: arn})


# --------------------------------------------------------------------------
# Set operators and multivalued keys
# --------------------------------------------------------------------------


def test_for_all_values() -> None:
    ctx = {KEY: ["a", "b"]}
    assert holds("ForAllValues:StringEquals", ["a", "b", "c"], ctx)
    assert not holds("ForAllValues:StringEquals", ["a"], ctx)
    assert holds("ForAllValues:StringNotEquals", ["c"], ctx)
    assert not holds("ForAllValues:StringNotEquals", ["a"], ctx)


def test_for_any_value() -> None:
    ctx = {KEY: ["a", "b"]}
    assert holds("ForAnyValue:StringEquals", ["b", "z"], ctx)
    assert not holds("ForAnyValue:StringEquals", ["z"], ctx)
    assert holds("ForAnyValue:StringNotEquals", ["a"], ctx)  # b is not a
    assert not holds("ForAnyValue:StringNotEquals", ["a", "b"], ctx)


def test_multivalued_key_without_set_operator() -> None:
    ctx = {KEY: ["a", "b"]}
    assert holds("StringEquals", "a", ctx)
    assert not holds("StringNotEquals", "a", ctx)
    assert holds("StringNotEquals", "z", ctx)


def test_set_operator_on_single_value() -> None:
    assert holds("ForAllValues:StringLike", "a*", {KEY: "abc"})
    assert holds("ForAnyValue:StringLike", "a*", {KEY: "abc"})
    assert not holds("ForAnyValue:StringNotLike", "a*", {KEY: "abc"})


# --------------------------------------------------------------------------
# Policy variables in conditions
# --------------------------------------------------------------------------


def test_variables_in_string_conditions() -> None:
    ctx = {KEY: "home/bob/", "aws:username": "bob"}
    assert holds("StringEquals", "home/${aws:username}/", ctx)
    assert holds("StringLike", "home/${aws:username}/*", ctx)
    assert not holds("StringEquals", "home/${aws:username}/", {**ctx, "aws:username": "eve"})


def test_variable_values_are_literal_in_like() -> None:
    # a substituted value is matched as written: its * is no wildcard
    assert holds("StringLike", "${test:Other}", {KEY: "a*", "test:Other": "a*"})
    assert not holds("StringLike", "${test:Other}", {KEY: "abc", "test:Other": "a*"})


def test_variable_in_arn_and_bool_conditions() -> None:
    ctx = {KEY: "arn:aws:iam::123456789012:user/bob", "aws:username": "bob"}
    assert holds("ArnLike", "arn:aws:iam::*:user/${aws:username}", ctx)
    assert holds("Bool", "${test:Flag}", {KEY: "true", "test:Flag": "TRUE"})


def test_unresolved_variable_raises() -> None:
    c = Condition("StringEquals", KEY, ["${aws:username}"], variables=True)
    with pytest.raises(Unresolved):
        c.evaluate(RequestContext({KEY: "bob"}))
    # a missing condition key is decided before the values are resolved
    ie = Condition("StringEqualsIfExists", KEY, ["${aws:username}"], variables=True)
    assert ie.evaluate(RequestContext({}))


def test_variable_default() -> None:
    assert holds("StringEquals", "${aws:PrincipalTag/team, 'company-wide'}", {KEY: "company-wide"})
    assert holds("StringEquals", "x-${aws:PrincipalTag/team,'none'}", {KEY: "x-none"})


def test_multivalued_keys_are_not_variables() -> None:
    c = Condition("StringEquals", KEY, ["${test:Many}"], variables=True)
    with pytest.raises(Unresolved):
        c.evaluate(RequestContext({KEY: "a", "test:Many": ["a", "b"]}))


def test_variables_off_in_legacy_policies() -> None:
    assert holds("StringEquals", "${aws:username}", {KEY: "${aws:username}"}, variables=False)


def test_special_characters() -> None:
    ctx = {KEY: "a*b?c$"}
    assert holds("StringLike", "a${*}b${?}c${$}", ctx)
    assert not holds("StringLike", "a${*}b${?}c${$}", {KEY: "aXbYc$"})
    assert holds("StringEquals", "a${*}b${?}c${$}", ctx)


def test_variable_variable_names_are_case_insensitive() -> None:
    assert holds("StringEquals", "${AWS:UserName}", {KEY: "bob", "aws:username": "bob"})


# --------------------------------------------------------------------------
# The request context, interning, patterns
# --------------------------------------------------------------------------


def test_context_keys_case_insensitive_and_fallback() -> None:
    ctx = RequestContext(
        {"AWS:SourceIP": "10.0.0.1"}, {"aws:PrincipalAccount": "123", "aws:sourceip": "x"}
    )
    assert ctx.values("aws:sourceip") == ("10.0.0.1",)  # the request wins
    assert ctx.values("aws:principalaccount") == ("123",)
    assert ctx.values("aws:nothing") is None
    assert ctx.scalar("aws:sourceip") == "10.0.0.1"


def test_identical_conditions_are_shared() -> None:
    a = make_condition("StringEquals", "aws:UserName", ["bob"], variables=True)
    b = make_condition("stringequals", "AWS:username", ["bob"], variables=True)
    c = make_condition("StringEquals", "aws:username", ["eve"], variables=True)
    assert a is b
    assert a is not c


def test_condition_exposes_its_variables() -> None:
    c = Condition("StringLike", KEY, ["home/${aws:username}/*", "public/*"], variables=True)
    names = [p.key for t in c.templates for p in t.parts if not isinstance(p, tuple)]
    assert names == ["aws:username"]


def test_templates() -> None:
    t = Template("arn:aws:s3:::b/${aws:username}/${*}", variables=True)
    assert t.has_vars
    assert t.resolve(lambda k: "bob" if k == "aws:username" else None) == (
        ("arn:aws:s3:::b/", False),
        ("bob", True),
        ("/", False),
        ("*", True),
    )
    assert not Template("${not a var}", variables=True).has_vars


def test_arn_glob_confines_wildcards_to_components() -> None:
    rx = arn_regex(((("arn:aws:s3:::*", False),),))
    assert rx.fullmatch("arn:aws:s3:::bucket/a:b/c")
    rx = arn_regex(((("arn:aws:ec2:*:*:instance/*", False),),))
    assert rx.fullmatch("arn:aws:ec2:us-east-1:123456789012:instance/i-1")
    assert not rx.fullmatch("arn:aws:ec2:us-east-1:x:123456789012:instance/i-1")
    assert glob_regex(((("S3:Get*", False),),), True).fullmatch("s3:getobject")
