"""The filter-pattern language against AWS's documented examples (CloudWatch
Logs User Guide, "Filter and Pattern Syntax"), each with the events the
guide says it matches and does not match."""

from __future__ import annotations

import json

import pytest

from strongroom.services.logs import pattern

# The guide's JSON event for the single-condition examples.
TRAIL = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
# The guide's JSON event for the compound examples.
USERS = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
]
WORDS = ["ERROR WARN message", "ERROR message", "WARN message"]

#: (pattern, events, which of them match)
TABLE: list[tuple[str, list[str], list[int]]] = [
    # Terms
    ("ERROR", ["[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"], [0, 1]),
    ('"ERROR" -"Exiting"', ["[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"], [0]),
    ("ERROR Exception", ["[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception", "[ERROR] x"], [0, 1]),
    ("Failed to process the request",
     ["[WARN] Failed to process the request", "[ERROR] Unable to continue: Failed to process the request",
      "[WARN] Failed"], [0, 1]),
    ("ERROR", WORDS, [0, 1]),
    ("?ERROR ?WARN", WORDS, [0, 1, 2]),
    ("ERROR WARN", WORDS, [0]),
    ("ERROR -WARN", WORDS, [1]),
    ('"Internal Server Error"', ["500 Internal Server Error", "Internal Error Server"], [0]),
    ("", WORDS, [0, 1, 2]),
    ('""', WORDS, [0, 1, 2]),
    ("error", WORDS, []),  # case-sensitive
    # Space-delimited, OR / AND / not-equal on words
    ("[w1=ERROR, w2]", WORDS, [1]),
    ("[w1=ERROR || w1=WARN, w2]", WORDS, [1, 2]),
    ("[w1=!ERROR&&w1=!WARN, w2]", [*WORDS, "INFO message"], [3]),
    # JSON
    ("{$.foo = bar}", ['{"foo": "bar"}', '{"foo": "baz"}'], [0]),
    ("{$.foo = baz }", ['{"foo": "bar"}', '{"foo": "baz"}'], [1]),
    ("{$.foo = bar || $.foo = baz }", ['{"foo": "bar"}', '{"foo": "baz"}'], [0, 1]),
    ('{ $.eventType = "UpdateTrail" }', [TRAIL], [0]),
    ("{ $.sourceIPAddress != 123.123.* }", [TRAIL], [0]),
    ("{ $.sourceIPAddress != 111.111.* }", [TRAIL], []),
    ('{ $.arrayKey[0] = "value" }', [TRAIL], [0]),
    ("{ $.objectList[1].id = 2 }", [TRAIL], [0]),
    ("{ $.SomeObject IS NULL }", [TRAIL], [0]),
    ("{ $.SomeOtherObject NOT EXISTS }", [TRAIL], [0]),
    ("{ $.SomeObject NOT EXISTS }", [TRAIL], []),
    ("{ $.ThisFlag IS TRUE }", [TRAIL], [0]),
    ("{ $.ThisFlag IS FALSE }", [TRAIL], []),
    ("{ $.eventType = *Trail }", [TRAIL], [0]),
    ("{ $.eventType = Update* }", [TRAIL], [0]),
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', [USERS], [0]),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', [USERS], []),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && '
     "$.actions[2] = nomatch }", [USERS], [0]),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && '
     "$.actions[2] = nomatch }", [USERS], []),
    ("{ $.coordinates[1][2] = 6 }", [USERS], [0]),
    # A selector pointing at an array matches neither = nor !=.
    ("{$.users = 1}", ['{"users": [1, 2, 3]}'], []),
    ("{$.users != 1}", ['{"users": [1, 2, 3]}'], []),
    # Numeric comparisons
    ("{ $.latency >= 500 }", ['{"latency": 500}', '{"latency": 499}'], [0]),
    ("{ $.numbers[0] < 10e3 }", ['{"numbers": [9999]}', '{"numbers": [10000]}'], [0]),
    ("{ $.numbers[0] < 10e-3 }", ['{"numbers": [0.001]}', '{"numbers": [0.01]}'], [0]),
    ("{ $.processes[4].averageRuntime <= 55.5 }",
     ['{"processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}'], [0]),
    ("{ $.errorCode = 400 }", ['{"errorCode": 400}', '{"errorCode": 401}'], [0]),
    ("{ $.errorCode != 500 }", ['{"errorCode": 400}', '{"errorCode": 500}'], [0]),
    ("{ $.latency > +1000 }", ['{"latency": 1001}', '{"latency": 1000}'], [0]),
    ("{ $.latency = * }", ['{"latency": 12}', '{"other": 1}'], [0]),
    ("{ $.message = %addr[a-z]+% }", ['{"message": "bind: address in use"}', '{"message": "ok"}'], [0]),
    ("{ $.a EXISTS }", ['{"a": null}', '{"b": 1}'], [0]),
    ('{ $.a = "x" }', ["not json", '["x"]', '"x"'], []),
    # The numbers written after a key are only a pre-check: the top-level value decides.
    ("{ $.latency > 990 }",
     ['{"a": {"latency": 995}, "latency": 5}', '{"latency": 995}', '{"latency": "995"}',
      '{"l\\u0061tency": 995}', '{"latency": -1e4}', '{"latency": 9.91e2}'], [1, 3, 5]),
    # Literal text never hides an event that spells it with escapes.
    ('{ $.level = "ERROR" }', ['{"level": "\\u0045RROR"}', '{"level": "E"}'], [0]),
    # Space-delimited, the guide's Apache examples
    ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE, [0, 1, 2]),
    ("[..., status_code, bytes]", APACHE, [0, 1, 2]),
    ("[ip, user, ..., status_code, bytes]", APACHE, [0, 1, 2]),
    ("[ip, user, ...]", APACHE, [0, 1, 2]),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", APACHE, [0, 1, 2]),
    ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", APACHE, [1]),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", APACHE, [0, 2]),
    ("[ip, user, username, timestamp, request, status_code = 5*, bytes]", APACHE, [1]),
    ("[ip, user, username, timestamp, request = *gif*, status_code = 5*, bytes]", APACHE, [1]),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", APACHE, []),
    ("[ip, user, username, timestamp, request, status_code = 2* && status_code != 200, bytes]",
     APACHE, []),
    ("[ip, user, username, timestamp, request, status_code, bytes, extra]", APACHE, []),
    # Regular expressions
    ("%ERR(OR)?%", WORDS, [0, 1]),
    ("%^WARN%", WORDS, [2]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "events", "expected"), TABLE, ids=[t[0] or "<empty>" for t in TABLE]
)
def test_documented_examples(text: str, events: list[str], expected: list[int]) -> None:
    compiled = pattern.compile(text)
    assert [i for i, e in enumerate(events) if compiled.match(e)] == expected


def test_extracted_values_as_documented() -> None:
    compiled = pattern.compile("[..., request=*.html*, status_code=4*,]")
    event = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /products/index.html HTTP/1.0" 404 1534'
    assert compiled.match(event)
    assert compiled.extract(event) == {
        "$status_code": "404",
        "$request": "GET /products/index.html HTTP/1.0",
        "$7": "1534",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$3": "frank",
        "$2": "-",
        "$1": "127.0.0.1",
    }
    assert pattern.compile("ERROR").extract("ERROR") == {}


BAD = [
    "{ $.a = }",
    "{ $.a > x }",
    "{ a = 1 }",
    "{ $.a = 1",
    "{ $.a = 1 } extra",
    "{ $.a IS MAYBE }",
    "{ $.a NOT THERE }",
    "[]",
    "[a, a]",
    "[a, b",
    "[..., ... = 1]",
    "[a = ]",
    "%(%",
    "{ $.a = %(% }",
    "x" * 1025,
]


@pytest.mark.parametrize("text", BAD, ids=[b[:20] for b in BAD])
def test_bad_patterns_are_refused(text: str) -> None:
    with pytest.raises(pattern.PatternError):
        pattern.compile(text)


def test_needles_are_literal_text_of_every_match() -> None:
    assert pattern.compile("ERROR Exception").needles == (b"ERROR", b"Exception")
    assert pattern.compile("?ERROR ?WARN").needles == ()
    assert pattern.compile('{ $.level = "x" && $.user.id = 1 }').needles == (
        b'"level"', b"x", b'"user"', b'"id"',
    )  # fmt: skip
    assert pattern.compile("{ $.a = 1 || $.b = 2 }").needles == ()
    assert pattern.compile("{ $.a NOT EXISTS }").needles == ()
