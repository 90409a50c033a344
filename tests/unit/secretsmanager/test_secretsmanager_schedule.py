"""Rotation schedules: RotationRules parsed as AWS reads them, the next
window's opening and NextRotationDate as DescribeSecret reports it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strongroom.services.secretsmanager import schedule
from strongroom.services.secretsmanager.schedule import ScheduleError


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


#: Monday 7 December 2026, 01:30 UTC.
BASE = ts(2026, 12, 7, 1, 30)


@pytest.mark.parametrize(
    ("rules", "start", "reported"),
    [
        # Days: midnight N days on, the window the whole UTC day.
        ({"AutomaticallyAfterDays": 30}, "2027-01-06 00:00:00", "2027-01-06 23:59:59"),
        ({"AutomaticallyAfterDays": 1}, "2026-12-08 00:00:00", "2026-12-08 23:59:59"),
        ({"ScheduleExpression": "rate(10 days)"}, "2026-12-17 00:00:00", "2026-12-17 23:59:59"),
        (
            {"ScheduleExpression": "rate(10 days)", "Duration": "3h"},
            "2026-12-17 00:00:00",
            "2026-12-17 02:59:59",
        ),
        # Hours: a grid from midnight, the first slot N hours on; an hour's window.
        ({"ScheduleExpression": "rate(6 hours)"}, "2026-12-07 12:00:00", "2026-12-07 12:59:59"),
        ({"ScheduleExpression": "rate(4 hours)"}, "2026-12-07 08:00:00", "2026-12-07 08:59:59"),
        # 01:30 + 12 h is 13:30: past the 12:00 slot, so the next midnight.
        (
            {"ScheduleExpression": "rate(12 hours)", "Duration": "2h"},
            "2026-12-08 00:00:00",
            "2026-12-08 01:59:59",
        ),
        # Cron: a single hour is daily (window to the end of the day).
        (
            {"ScheduleExpression": "cron(0 16 ? * MON *)"},
            "2026-12-07 16:00:00",
            "2026-12-07 23:59:59",
        ),
        (
            {"ScheduleExpression": "cron(0 16 ? * MON *)", "Duration": "3h"},
            "2026-12-07 16:00:00",
            "2026-12-07 18:59:59",
        ),
        # Several hours: hourly (an hour's window).
        (
            {"ScheduleExpression": "cron(0 8,20 * * ? *)"},
            "2026-12-07 08:00:00",
            "2026-12-07 08:59:59",
        ),
        # The second Friday; the last day of the month; a month by name.
        (
            {"ScheduleExpression": "cron(0 0 ? * 6#2 *)"},
            "2026-12-11 00:00:00",
            "2026-12-11 23:59:59",
        ),
        (
            {"ScheduleExpression": "cron(30 2 L * ? *)"},
            "2026-12-31 02:30:00",
            "2026-12-31 23:59:59",
        ),
        (
            {"ScheduleExpression": "cron(0 9 1 MAR ? *)"},
            "2027-03-01 09:00:00",
            "2027-03-01 23:59:59",
        ),
        # The last Sunday of the month.
        (
            {"ScheduleExpression": "cron(0 4 ? * 1L *)"},
            "2026-12-27 04:00:00",
            "2026-12-27 23:59:59",
        ),
    ],
)
def test_next_window(rules: dict, start: str, reported: str) -> None:
    sched = schedule.parse(rules)
    opened = sched.next_start(BASE)
    assert iso(opened) == start
    assert iso(sched.reported(opened)) == reported
    assert opened > BASE


def test_thirty_days_after_a_rotation_is_reported_within_the_thirty_first_day() -> None:
    sched = schedule.parse({"AutomaticallyAfterDays": 30})
    for hour in (0, 11, 23):
        rotated = ts(2026, 3, 4, hour, 15)
        reported = sched.reported(sched.next_start(rotated))
        assert 29 < (reported - rotated) / 86400 < 31


@pytest.mark.parametrize(
    "rules",
    [
        {"AutomaticallyAfterDays": 30, "ScheduleExpression": "rate(30 days)"},
        {"AutomaticallyAfterDays": 0},
        {"AutomaticallyAfterDays": 1001},
        {"ScheduleExpression": "rate(3 hours)"},  # more often than every four hours
        {"ScheduleExpression": "rate(24 hours)"},
        {"ScheduleExpression": "rate(1001 days)"},
        {"ScheduleExpression": "rate(5 minutes)"},
        {"ScheduleExpression": "every day"},
        {"ScheduleExpression": "cron(0 16 * * *)"},  # five fields
        {"ScheduleExpression": "cron(0 16 * * MON *)"},  # no '?'
        {"ScheduleExpression": "cron(0 25 ? * MON *)"},
        {"ScheduleExpression": "cron(0 */2 * * ? *)"},  # every two hours
        {"ScheduleExpression": "cron(0 0 ? * 9#2 *)"},
        {"ScheduleExpression": "rate(6 hours)", "Duration": "7h"},  # into the next window
        {"ScheduleExpression": "cron(0 22 ? * MON *)", "Duration": "4h"},  # into the next day
        {"ScheduleExpression": "rate(1 days)", "Duration": "25h"},
        {"ScheduleExpression": "rate(1 days)", "Duration": "0h"},
        {"Duration": "3h"},
        {},
    ],
)
def test_rules_aws_refuses(rules: dict) -> None:
    with pytest.raises(ScheduleError):
        schedule.parse(rules)


def test_a_cron_that_never_matches() -> None:
    sched = schedule.parse({"ScheduleExpression": "cron(0 0 31 FEB ? *)"})
    with pytest.raises(ScheduleError):
        sched.next_start(BASE)


def test_rules_as_describe_secret_reports_them() -> None:
    assert schedule.shown({"ScheduleExpression": "rate(10 days)"}) == {
        "ScheduleExpression": "rate(10 days)",
        "AutomaticallyAfterDays": 10,
    }
    assert schedule.shown({"ScheduleExpression": "rate(6 hours)"}) == {
        "ScheduleExpression": "rate(6 hours)"
    }
    assert schedule.shown({"AutomaticallyAfterDays": 7}) == {"AutomaticallyAfterDays": 7}
