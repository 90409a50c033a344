"""Metric alarms: the domain layer (stored alarms, their state changes and
history) of the alarm operations and the evaluation job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.arn import arn
from strongroom.encoding import json_text
from strongroom.framework.tagging import Tag, TagRules
from strongroom.services.cloudwatch.tables import alarms, datapoints, history

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
#: PutMetricAlarm members kept as the alarm's configuration (all but its name and tags).
CONFIG_MEMBERS = (
    "AlarmDescription", "OKActions", "AlarmActions", "InsufficientDataActions", "MetricName",
    "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
    "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
)  # fmt: skip
INITIAL_REASON = "Unchecked: Initial alarm creation"


def alarm_arn(account: str, region: str, name: str) -> str:
    return arn("cloudwatch", region, account, f"alarm:{name}")


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(slots=True)
class Alarm:
    id: int
    account: str
    region: str
    name: str
    config: dict[str, Any]
    configured: float
    actions_enabled: bool
    state: str
    state_reason: str
    state_reason_data: str | None
    state_updated: float
    state_transitioned: float
    next_evaluation: float
    tags: list[list[str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return alarm_arn(self.account, self.region, self.name)

    def tag_list(self) -> list[Tag]:
        return TagRules.from_rows(self.tags)

    def actions_for(self, state: str) -> list[str]:
        member = {"OK": "OKActions", "ALARM": "AlarmActions"}.get(state, "InsufficientDataActions")
        return list(self.config.get(member) or [])

    def all_actions(self) -> list[str]:
        return [a for s in STATES for a in self.actions_for(s)]

    def to_metric_alarm(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmArn": self.arn,
            "AlarmConfigurationUpdatedTimestamp": when(self.configured),
            "ActionsEnabled": self.actions_enabled,
            "OKActions": [], "AlarmActions": [], "InsufficientDataActions": [],
            "Dimensions": [],
            "StateValue": self.state,
            "StateReason": self.state_reason,
            "StateUpdatedTimestamp": when(self.state_updated),
            "StateTransitionedTimestamp": when(self.state_transitioned),
        }  # fmt: skip
        if self.state_reason_data is not None:
            out["StateReasonData"] = self.state_reason_data
        for name in CONFIG_MEMBERS:
            if self.config.get(name) is not None:
                out[name] = self.config[name]
        if "Metrics" in out:
            out.pop("Dimensions")
        return out


_COLUMNS = [alarms.c[name] for name in Alarm.__dataclass_fields__]  # type: ignore[attr-defined]


def _alarm(row: Any) -> Alarm:
    return Alarm(*row)


def find(conn: Connection, account: str, region: str, name: str) -> Alarm | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            alarms.c.account == account, alarms.c.region == region, alarms.c.name == name
        )
    ).first()
    return _alarm(row) if row is not None else None


def all_in(conn: Connection, account: str, region: str) -> list[Alarm]:
    q = select(*_COLUMNS).where(alarms.c.account == account, alarms.c.region == region)
    return [_alarm(r) for r in conn.execute(q.order_by(alarms.c.name))]


def named(conn: Connection, account: str, region: str, names: list[str]) -> list[Alarm]:
    if not names:
        return []
    q = select(*_COLUMNS).where(
        alarms.c.account == account, alarms.c.region == region, alarms.c.name.in_(names)
    )
    return [_alarm(r) for r in conn.execute(q.order_by(alarms.c.name))]


def due(conn: Connection, now: float, limit: int = 200) -> list[Alarm]:
    q = select(*_COLUMNS).where(alarms.c.next_evaluation <= now)
    return [_alarm(r) for r in conn.execute(q.order_by(alarms.c.next_evaluation).limit(limit))]


def next_due(conn: Connection) -> float | None:
    from sqlalchemy import func

    return conn.execute(select(func.min(alarms.c.next_evaluation))).scalar_one_or_none()


def create(conn: Connection, alarm: Alarm) -> Alarm:
    values = {k: getattr(alarm, k) for k in Alarm.__dataclass_fields__ if k != "id"}  # type: ignore[attr-defined]
    alarm.id = conn.execute(insert(alarms).values(**values)).inserted_primary_key[0]
    return alarm


def save(conn: Connection, alarm: Alarm) -> None:
    values = {k: getattr(alarm, k) for k in Alarm.__dataclass_fields__ if k != "id"}  # type: ignore[attr-defined]
    conn.execute(update(alarms).where(alarms.c.id == alarm.id).values(**values))


def remove(conn: Connection, alarm: Alarm) -> None:
    conn.execute(delete(alarms).where(alarms.c.id == alarm.id))


# --------------------------------------------------------------------------- history


def record(
    conn: Connection, alarm: Alarm, ts: float, item_type: str, summary: str, data: dict[str, Any]
) -> None:
    conn.execute(
        insert(history).values(
            account=alarm.account, region=alarm.region, alarm_name=alarm.name, ts=ts,
            item_type=item_type, summary=summary, data=json_text(data),
        )
    )  # fmt: skip


def set_state(
    conn: Connection, alarm: Alarm, state: str, reason: str, reason_data: str | None, now: float,
    reason_doc: dict[str, Any] | None = None,
) -> bool:  # fmt: skip
    """Move the alarm to `state` with its reason, recording the StateUpdate
    history item (and an Action item per action the new state names: alarm
    actions are recorded, not delivered). False, and nothing changed, when
    the alarm is in that state already: CloudWatch keeps the reason of the
    last transition (a new alarm without data stays "Unchecked: Initial
    alarm creation")."""
    old_state, old_reason = alarm.state, alarm.state_reason
    if state == old_state:
        return False
    alarm.state, alarm.state_reason, alarm.state_reason_data = state, reason, reason_data
    alarm.state_updated = now
    alarm.state_transitioned = now
    new_doc: dict[str, Any] = {"stateValue": state, "stateReason": reason}
    if reason_doc is not None:
        new_doc["stateReasonData"] = reason_doc
    record(
        conn, alarm, now, "StateUpdate", f"Alarm updated from {old_state} to {state}",
        {"version": "1.0", "oldState": {"stateValue": old_state, "stateReason": old_reason},
         "newState": new_doc},
    )  # fmt: skip
    if alarm.actions_enabled:
        for action in alarm.actions_for(state):
            record(
                conn, alarm, now, "Action", f"Failed to execute action {action}",
                {"actionState": "Failed", "notificationResource": action,
                 "stateUpdateTimestamp": int(now * 1000),
                 "error": "strongroom records alarm actions but does not deliver them"},
            )  # fmt: skip
    return True


def expire(conn: Connection, history_before: float, data_before: float) -> None:
    """Forget alarm history older than AWS keeps it (30 days) and datapoints
    older than its longest retention (455 days)."""
    conn.execute(delete(history).where(history.c.ts < history_before))
    conn.execute(delete(datapoints).where(datapoints.c.ts < int(data_before)))


def history_items(
    conn: Connection, account: str, region: str, *, name: str | None, item_type: str | None,
    start: float | None, end: float | None, descending: bool, after: tuple | None, limit: int,
) -> list[tuple[int, dict[str, Any]]]:  # fmt: skip
    """(id, AlarmHistoryItem) newest first (or oldest first), after the keyset position."""
    q = select(
        history.c.id, history.c.alarm_name, history.c.ts, history.c.item_type,
        history.c.summary, history.c.data,
    ).where(history.c.account == account, history.c.region == region)  # fmt: skip
    if name is not None:
        q = q.where(history.c.alarm_name == name)
    if item_type is not None:
        q = q.where(history.c.item_type == item_type)
    if start is not None:
        q = q.where(history.c.ts >= start)
    if end is not None:
        q = q.where(history.c.ts <= end)
    if after is not None:
        q = q.where(history.c.id < after[0] if descending else history.c.id > after[0])
    q = q.order_by(history.c.id.desc() if descending else history.c.id).limit(limit)
    return [
        (
            row.id,
            {
                "AlarmName": row.alarm_name, "AlarmType": "MetricAlarm",
                "Timestamp": when(row.ts), "HistoryItemType": row.item_type,
                "HistorySummary": row.summary, "HistoryData": row.data,
            },
        )
        for row in conn.execute(q)
    ]  # fmt: skip
