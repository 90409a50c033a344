"""The RDS log publisher's entry splitting and export-type rules
(`services/rds/log_exports.py`)."""

from __future__ import annotations

from calendar import timegm

import pytest

from strongroom.services.rds import log_exports

T0 = timegm((2026, 12, 7, 23, 0, 1, 0, 0, 0)) * 1000


def test_each_prefixed_line_starts_an_entry_stamped_with_its_time() -> None:
    data = (
        b"2026-12-07 23:00:01 UTC:127.0.0.1(5000):admin@app:[42]:ERROR:  division by zero\n"
        b"2026-12-07 23:00:01 UTC:127.0.0.1(5000):admin@app:[42]:STATEMENT:  select 1/0\n"
        b"2026-12-07 23:00:03 UTC::@:[7]:LOG:  checkpoint starting: time\n"
    )
    entries = log_exports.split_entries(data, 0)
    assert [(start, stamp) for start, stamp, _ in entries] == [
        (0, T0), (data.index(b"2026", 1), T0), (data.rindex(b"2026-12-07"), T0 + 2000),
    ]  # fmt: skip
    assert entries[0][2].endswith("ERROR:  division by zero")
    assert "\n" not in entries[0][2]


def test_continuation_lines_stay_with_their_entry() -> None:
    data = (
        b"2026-12-07 23:00:01 UTC:[local]:admin@app:[42]:STATEMENT:  select 'a',\n"
        b"\t  2,\n"
        b"\t  1/0\n"
        b"2026-12-07 23:00:01 UTC:[local]:admin@app:[42]:LOG:  next\n"
    )
    first, second = log_exports.split_entries(data, 0)
    assert first[2].split("\n") == [
        "2026-12-07 23:00:01 UTC:[local]:admin@app:[42]:STATEMENT:  select 'a',",
        "\t  2,",
        "\t  1/0",
    ]
    assert second[0] == data.index(b"2026", 1)


def test_lines_before_the_first_prefix_take_the_fallback_time() -> None:
    data = b"\tthe middle of an entry\n2026-12-07 23:00:01.250 UTC::@:[1]:LOG:  x\n"
    (orphan, stamp_ms, text), (_, stamp, _) = log_exports.split_entries(data, 99)
    assert (orphan, stamp_ms, text) == (0, 99, "\tthe middle of an entry")
    assert stamp == T0 + 250


def test_bad_utf8_is_replaced_not_raised() -> None:
    data = b"2026-12-07 23:00:01 UTC::@:[1]:LOG:  \xff\xfe\n"
    ((_, _, text),) = log_exports.split_entries(data, 0)
    assert text.endswith("\ufffd\ufffd")


@pytest.mark.parametrize(
    ("engine", "types", "ok"),
    [
        ("postgres", ["postgresql", "upgrade", "iam-db-auth-error"], True),
        ("postgres", ["audit"], False),
        ("mysql", ["error", "slowquery", "general", "audit"], True),
        ("mysql", ["postgresql"], False),
        ("oracle-ee", ["alert", "listener"], True),
        ("sqlserver-se", ["agent", "error"], True),
        ("db2-ae", ["diag.log", "notify.log"], True),
    ],
)
def test_the_engines_types(engine: str, types: list[str], ok: bool) -> None:
    if ok:
        log_exports.require_types(engine, "1.0", types)
        return
    with pytest.raises(Exception) as err:
        log_exports.require_types(engine, "1.0", types)
    assert getattr(err.value, "code", None) == "InvalidParameterCombination"
    assert f"'{types[0]}'" in str(getattr(err.value, "message", err.value))
