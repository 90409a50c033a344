"""Alarm evaluation by the server's clock: a scheduled job (under the
scheduler's lease, once across processes) that looks at each alarm once a
minute (each period, for 10- and 30-second alarms), as CloudWatch does.

An evaluation takes the alarm's last EvaluationPeriods complete periods,
the statistic of each (or the ReturnData query of its metric math),
classifies each against the threshold, treats the missing ones as
TreatMissingData says, and moves the alarm: ALARM when at least
DatapointsToAlarm of them breach, OK when fewer do, INSUFFICIENT_DATA when
every one is missing (``missing``); ``ignore`` keeps the state then. The
state reason and its data are worded as CloudWatch words them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from strongroom.encoding import json_text
from strongroom.framework import JobRun
from strongroom.services.cloudwatch import alarms, metrics, queries
from strongroom.services.cloudwatch.alarms import Alarm
from strongroom.services.cloudwatch.service import REFUSALS, service

log = logging.getLogger(__name__)

WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
_TESTS = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def iso(ts: float) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def _interval(alarm: Alarm) -> int:
    period = _period(alarm)
    return period if period < 60 else 60


def _period(alarm: Alarm) -> int:
    return period_of(alarm.config)


def period_of(config: dict[str, Any]) -> int:
    """The period an alarm's configuration evaluates: its Period, or its
    returned query's (the first MetricStat's for an expression without one)."""
    if config.get("Period"):
        return int(config["Period"])
    for q in config.get("Metrics") or []:
        if q.get("ReturnData", True) and q.get("Period"):
            return int(q["Period"])
        if q.get("MetricStat"):
            return int(q["MetricStat"]["Period"])
    return 60


def _values(run: JobRun, alarm: Alarm, start: int, end: int, period: int) -> dict[int, float]:
    config = alarm.config
    if config.get("Metrics"):
        answers = queries.run(
            run.conn,
            alarm.account,
            alarm.region,
            config["Metrics"],
            start,
            end,
            run.now.timestamp(),
        )
        chosen = [a for a in answers if a.returned]
        return chosen[0].series if chosen else {}
    metric = metrics.find(
        run.conn, alarm.account, alarm.region, config["Namespace"], config["MetricName"],
        metrics.canonical(config.get("Dimensions")),
    )  # fmt: skip
    if metric is None:
        return {}
    stat = config.get("Statistic") or config.get("ExtendedStatistic")
    return metrics.series(run.conn, metric.id, start, end, period, config.get("Unit"), stat)


def evaluate(run: JobRun, alarm: Alarm, now: float) -> None:
    """One evaluation of `alarm` at `now` (which may move its state)."""
    config = alarm.config
    period = _period(alarm)
    n = int(config["EvaluationPeriods"])
    m = int(config.get("DatapointsToAlarm") or n)
    threshold = float(config.get("Threshold") or 0.0)
    operator = config["ComparisonOperator"]
    test = _TESTS[operator]
    end = int(now // period * period)
    start = end - n * period
    values = _values(run, alarm, start, end, period)
    slots = [start + i * period for i in range(n)]
    treat = config.get("TreatMissingData") or "missing"
    present = [(t, values[t]) for t in reversed(slots) if t in values]
    missing = n - len(present)
    breaching = sum(1 for _, v in present if test(v, threshold))
    if treat == "breaching":
        breaching += missing
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return
        word = "datapoint was" if n == 1 else "datapoints were"
        reason = f"Insufficient Data: {n} {word} unknown."
        doc = _reason_data(alarm, now, start, period, threshold, [])
        alarms.set_state(run.conn, alarm, "INSUFFICIENT_DATA", reason, json_text(doc), now, doc)
        return
    new_state = "ALARM" if breaching >= m else "OK"
    reason = _reason(
        alarm, new_state, present, missing, treat, breaching, n, m, threshold, operator
    )
    doc = _reason_data(alarm, now, start, period, threshold, present)
    alarms.set_state(run.conn, alarm, new_state, reason, json_text(doc), now, doc)


def _reason(
    alarm: Alarm, state: str, present: list[tuple[int, float]], missing: int, treat: str,
    breaching: int, n: int, m: int, threshold: float, operator: str,
) -> str:  # fmt: skip
    words = WORDS[operator]
    shown = ", ".join(f"{v!r} ({_stamp(t)})" for t, v in present)
    if not present:
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        return (
            f"Threshold Crossed: no datapoints were received for {n} "
            f"period{'s' if n != 1 else ''} and {missing} missing datapoint"
            f"{'s were' if missing != 1 else ' was'} treated as [{kind}]."
        )
    if n == 1:
        verb = "was" if state == "ALARM" else "was not"
        return f"Threshold Crossed: 1 datapoint [{shown}] {verb} {words} the threshold ({threshold!r})."
    count = breaching if state == "ALARM" else len(present)
    verb = "were" if state == "ALARM" else "were not"
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    return (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] {verb} {words} "
        f"the threshold ({threshold!r}) (minimum {m} datapoint{'s' if m != 1 else ''} for "
        f"{transition} transition)."
    )


def _reason_data(
    alarm: Alarm, now: float, start: int, period: int, threshold: float,
    present: list[tuple[int, float]],
) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {"version": "1.0", "queryDate": iso(now), "startDate": iso(start)}
    stat = alarm.config.get("Statistic") or alarm.config.get("ExtendedStatistic")
    if stat:
        doc["statistic"] = stat
    if alarm.config.get("Unit"):
        doc["unit"] = alarm.config["Unit"]
    doc["period"] = period
    doc["recentDatapoints"] = [v for _, v in reversed(present)]
    doc["threshold"] = threshold
    doc["evaluatedDatapoints"] = [{"timestamp": iso(t), "value": v} for t, v in present]
    return doc


HISTORY_DAYS = 30
DATA_DAYS = 455


@service.job
def evaluate_alarms(run: JobRun) -> float | None:
    """Evaluate every alarm due, and forget history and datapoints past
    AWS's retention; the time the next alarm is due."""
    now = run.now.timestamp()
    alarms.expire(run.conn, now - HISTORY_DAYS * 86400, now - DATA_DAYS * 86400)
    for alarm in alarms.due(run.conn, now):
        try:
            evaluate(run, alarm, now)
        except REFUSALS as refused:  # one alarm's query must not stop the others
            log.warning("alarm %s not evaluated: %s", alarm.arn, refused)
        interval = _interval(alarm)
        alarm.next_evaluation = (now // interval + 1) * interval
        alarms.save(run.conn, alarm)
    return alarms.next_due(run.conn)
