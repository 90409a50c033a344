"""Rotation schedules: RotationRules as AWS reads them, and the windows they open.

- ``AutomaticallyAfterDays: N`` and ``rate(N days)``: a window each N days
  after the last rotation (or, before the first, after rotation was
  configured), opening at midnight UTC and closing at the end of that UTC
  day unless a Duration closes it sooner.
- ``rate(N hours)`` (4 to 23): windows open at midnight UTC and every N
  hours after, each day afresh; the first one at least N hours after the
  last rotation. A window lasts an hour unless Duration says otherwise.
- ``cron(minutes hours day-of-month month day-of-week year)`` (UTC, the
  EventBridge dialect: ``?``, ``L``, ``#``, ``*/n``, lists and ranges, day
  names and month names; day-of-week 1 is Sunday): a window opens at each
  time it names. One naming a single hour is a daily schedule whose window
  closes at the end of the UTC day; one naming several hours is an hourly
  schedule whose window lasts an hour (Duration changes either).

A window never crosses into the next UTC day or the next window. The next
rotation is due when the window opens; DescribeSecret reports its close as
NextRotationDate (the last second of the window), as AWS does.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

HOUR = 3600.0
DAY = 86400.0
MIN_RATE_HOURS = 4
#: How far ahead a cron schedule is searched for its next time.
CRON_YEARS = 5


class ScheduleError(ValueError):
    """RotationRules Secrets Manager refuses (InvalidParameterException)."""


_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True, slots=True)
class CronField:
    values: frozenset[int]
    any: bool  # '*' or '?'

    def has(self, value: int) -> bool:
        return self.any or value in self.values


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: CronField
    hours: CronField
    dom: CronField
    months: CronField
    dow: CronField
    years: CronField
    #: 'L' in day-of-month, 'n#k' / 'nL' in day-of-week.
    last_dom: bool = False
    nth_dow: tuple[int, int] | None = None
    last_dow: int | None = None

    @property
    def hourly(self) -> bool:
        return self.hours.any or len(self.hours.values) > 1

    def day_matches(self, day: datetime) -> bool:
        if not (self.months.has(day.month) and self.years.has(day.year)):
            return False
        weekday = (day.isoweekday() % 7) + 1  # Sunday 1 … Saturday 7
        last = calendar.monthrange(day.year, day.month)[1]
        dom_ok = day.day == last if self.last_dom else self.dom.has(day.day)
        if self.nth_dow is not None:
            wanted, nth = self.nth_dow
            dow_ok = weekday == wanted and (day.day - 1) // 7 + 1 == nth
        elif self.last_dow is not None:
            dow_ok = weekday == self.last_dow and day.day + 7 > last
        else:
            dow_ok = self.dow.has(weekday)
        return dom_ok and dow_ok

    def times_of(self, day: datetime) -> list[float]:
        """The day's fire times (epoch seconds), in order."""
        if not self.day_matches(day):
            return []
        base = day.timestamp()
        return [
            base + h * HOUR + m * 60
            for h in range(24)
            if self.hours.has(h)
            for m in range(60)
            if self.minutes.has(m)
        ]

    def next_after(self, after: float) -> float:
        start = _midnight(after)
        for offset in range(366 * CRON_YEARS):
            day = datetime.fromtimestamp(start + offset * DAY, UTC)
            for t in self.times_of(day):
                if t > after:
                    return t
        raise ScheduleError("The schedule expression never matches a date.")


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> CronField:
    if text in ("*", "?"):
        return CronField(frozenset(), True)
    values: set[int] = set()

    def number(part: str) -> int:
        if names and part.upper() in names:
            return names[part.upper()]
        if not part.isdigit():
            raise ScheduleError(f"Invalid cron field value: {part}")
        value = int(part)
        if not low <= value <= high:
            raise ScheduleError(f"Cron field value out of range: {part}")
        return value

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"Invalid cron step: {step_text}")
            step = int(step_text)
        if part in ("*", ""):
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = number(a), number(b)
        else:
            first = number(part)
            last = high if step > 1 else first
        if first > last:
            raise ScheduleError(f"Invalid cron range: {part}")
        values.update(range(first, last + 1, step))
    return CronField(frozenset(values), False)


def parse_cron(body: str) -> Cron:
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError("A cron expression has six fields.")
    minutes, hours, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            "A cron expression takes '?' in exactly one of day-of-month and day-of-week."
        )
    last_dom = dom == "L"
    nth_dow = last_dow = None
    dow_field: CronField
    if "#" in dow:
        name, nth = dow.split("#", 1)
        day = _field(name, 1, 7, _DAYS)
        if day.any or len(day.values) != 1 or not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ScheduleError(f"Invalid day of the week: {dow}")
        nth_dow = (next(iter(day.values)), int(nth))
        dow_field = CronField(frozenset(), True)
    elif dow.upper().endswith("L") and len(dow) > 1:
        day = _field(dow[:-1], 1, 7, _DAYS)
        if day.any or len(day.values) != 1:
            raise ScheduleError(f"Invalid day of the week: {dow}")
        last_dow = next(iter(day.values))
        dow_field = CronField(frozenset(), True)
    else:
        dow_field = _field(dow, 1, 7, _DAYS)
    return Cron(
        _field(minutes, 0, 59),
        _field(hours, 0, 23),
        CronField(frozenset(), True) if last_dom else _field(dom, 1, 31),
        _field(month, 1, 12, _MONTHS),
        dow_field,
        _field(year, 1970, 2199),
        last_dom,
        nth_dow,
        last_dow,
    )


_RATE = re.compile(r"rate\(\s*(\d+)\s+(hours?|days?)\s*\)\Z")
_CRON = re.compile(r"cron\((.*)\)\Z")


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a secret's RotationRules say."""

    days: int | None = None
    hours: int | None = None
    cron: Cron | None = None
    #: The window's length in hours, if Duration set it.
    duration: int | None = None

    @property
    def hourly(self) -> bool:
        return self.hours is not None or (self.cron is not None and self.cron.hourly)

    def next_start(self, base: float) -> float:
        """When the next window opens, for a last rotation at `base`."""
        if self.days is not None:
            return _midnight(base) + self.days * DAY
        if self.hours is not None:
            earliest = base + self.hours * HOUR
            day = _midnight(earliest)
            slot = day + -(-(earliest - day) // (self.hours * HOUR)) * self.hours * HOUR
            if slot >= day + DAY:  # the grid starts again at midnight
                slot = day + DAY
            return slot
        assert self.cron is not None
        return self.cron.next_after(base)

    def window_end(self, start: float) -> float:
        """When the window opening at `start` closes (exclusive)."""
        end_of_day = _midnight(start) + DAY
        if self.duration is not None:
            return min(start + self.duration * HOUR, end_of_day)
        if self.hourly:
            return min(start + HOUR, end_of_day)
        return end_of_day

    def reported(self, start: float) -> float:
        """NextRotationDate for the window opening at `start`: its last second."""
        return self.window_end(start) - 1.0


def _midnight(ts: float) -> float:
    return float(int(ts // DAY) * DAY)


def parse(rules: dict | None) -> Schedule:
    """`rules` (RotationRules) as a Schedule; ScheduleError for rules AWS refuses."""
    rules = rules or {}
    days = rules.get("AutomaticallyAfterDays")
    expression = rules.get("ScheduleExpression")
    duration_text = rules.get("Duration")
    if days is not None and expression is not None:
        raise ScheduleError(
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules."
        )
    duration = None
    if duration_text is not None:
        match = re.fullmatch(r"(\d+)h", duration_text)
        if match is None or not 1 <= int(match.group(1)) <= 24:
            raise ScheduleError("The rotation window Duration must be from 1h to 24h.")
        duration = int(match.group(1))
    if days is not None:
        if not 1 <= int(days) <= 1000:
            raise ScheduleError("AutomaticallyAfterDays must be from 1 to 1000.")
        return Schedule(days=int(days), duration=duration)
    if expression is None:
        raise ScheduleError(
            "RotationRules must specify AutomaticallyAfterDays or ScheduleExpression."
        )
    text = expression.strip()
    rate = _RATE.match(text)
    if rate is not None:
        value, unit = int(rate.group(1)), rate.group(2)
        if unit.startswith("day"):
            if not 1 <= value <= 1000:
                raise ScheduleError("A rate in days must be from 1 to 1000 days.")
            return Schedule(days=value, duration=duration)
        if not MIN_RATE_HOURS <= value <= 23:
            raise ScheduleError(
                f"A rate in hours must be from {MIN_RATE_HOURS} to 23 hours: a secret can be "
                "rotated at most every four hours."
            )
        if duration is not None and duration > value:
            raise ScheduleError(
                "The rotation window Duration can't extend into the next rotation window."
            )
        return Schedule(hours=value, duration=duration)
    cron = _CRON.match(text)
    if cron is None:
        raise ScheduleError(f"The schedule expression {expression} is not valid.")
    parsed = parse_cron(cron.group(1))
    schedule = Schedule(cron=parsed, duration=duration)
    if parsed.hourly:
        hours = sorted(range(24)) if parsed.hours.any else sorted(parsed.hours.values)
        gaps = [b - a for a, b in itertools.pairwise([*hours, hours[0] + 24])]
        if min(gaps) < MIN_RATE_HOURS:
            raise ScheduleError("A secret can be rotated at most every four hours.")
        if duration is not None and duration > min(gaps):
            raise ScheduleError(
                "The rotation window Duration can't extend into the next rotation window."
            )
    if duration is not None and not parsed.hours.any:
        latest = max(parsed.hours.values)
        if latest + duration > 24:
            raise ScheduleError("The rotation window can't extend into the next UTC day.")
    return schedule


def shown(rules: dict | None) -> dict:
    """RotationRules as DescribeSecret reports them: a rate in days also as
    AutomaticallyAfterDays ("calculated from the rotation schedule")."""
    out = dict(rules or {})
    expression = out.get("ScheduleExpression")
    if expression and "AutomaticallyAfterDays" not in out:
        rate = _RATE.match(expression.strip())
        if rate is not None and rate.group(2).startswith("day"):
            out["AutomaticallyAfterDays"] = int(rate.group(1))
    return out
