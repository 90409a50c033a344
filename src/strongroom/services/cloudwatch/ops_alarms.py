"""Metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DeleteAlarms, SetAlarmState, DescribeAlarmHistory, EnableAlarmActions,
DisableAlarmActions, and tags (TagResource, UntagResource,
ListTagsForResource) on alarms.

IAM: the alarm operations act on ``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``;
the listings on ``*``. Alarm actions are stored and recorded in the alarm's
history when its state changes; they are not delivered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strongroom.arn import parse_arn
from strongroom.encoding import json_value
from strongroom.framework import Call, tagging
from strongroom.services.cloudwatch import alarms, evaluation
from strongroom.services.cloudwatch.alarms import CONFIG_MEMBERS, INITIAL_REASON, Alarm
from strongroom.services.cloudwatch.service import PAGING, TAGS, errors, service

DESCRIBE_ALARMS = PAGING.listing("MetricAlarms", default=50, maximum=100)
HISTORY = PAGING.listing("AlarmHistoryItems", default=100, maximum=100)
ALARM_PERIODS = (10, 20, 30)
#: EvaluationPeriods * Period may cover one day at most (seven for periods of an hour or more).
MAX_SPAN = 86400
MAX_SPAN_LONG = 7 * 86400


def _require_config(config: dict[str, Any]) -> None:
    """PutMetricAlarm's rules between members, in AWS's words."""
    single = config.get("MetricName") is not None
    math = bool(config.get("Metrics"))
    if single and math:
        raise errors.InvalidParameterCombinationException(
            "The parameters MetricName and Metrics are mutually exclusive and you have "
            "specified both."
        )
    if not single and not math:
        raise errors.MissingRequiredParameterException(
            "One of the parameters MetricName and Metrics must be specified."
        )
    if config.get("EvaluationPeriods") is None:
        raise errors.MissingRequiredParameterException(
            "The parameter EvaluationPeriods is required."
        )
    operator = config.get("ComparisonOperator")
    if operator is None:
        raise errors.MissingRequiredParameterException(
            "The parameter ComparisonOperator is required."
        )
    if operator not in evaluation.WORDS:
        raise errors.InvalidParameterValueException(
            f"The value {operator} for parameter ComparisonOperator is not supported by "
            "strongroom (anomaly detection bands are not served)."
        )
    if config.get("Threshold") is None:
        raise errors.MissingRequiredParameterException("The parameter Threshold is required.")
    if single:
        _require_single_metric(config)
    else:
        _require_math(config)
    n = config["EvaluationPeriods"]
    m = config.get("DatapointsToAlarm")
    if m is not None and m > n:
        raise errors.InvalidParameterValueException(
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods."
        )
    period = evaluation.period_of(config)
    span = MAX_SPAN_LONG if period >= 3600 else MAX_SPAN
    if n * period > span:
        raise errors.InvalidParameterValueException(
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period "
            "must be <= 86400)."
        )


def _require_single_metric(config: dict[str, Any]) -> None:
    if config.get("Namespace") is None:
        raise errors.MissingRequiredParameterException("The parameter Namespace is required.")
    stat, extended = config.get("Statistic"), config.get("ExtendedStatistic")
    if stat is not None and extended is not None:
        raise errors.InvalidParameterCombinationException(
            "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have "
            "specified both."
        )
    if stat is None and extended is None:
        raise errors.MissingRequiredParameterException(
            "One of the parameters Statistic and ExtendedStatistic must be specified."
        )
    if extended is not None:
        from strongroom.services.cloudwatch.queries import require_extended

        require_extended(extended)
    period = config.get("Period")
    if period is None:
        raise errors.MissingRequiredParameterException("The parameter Period is required.")
    _require_alarm_period(period, "Period")


def _require_alarm_period(period: int, member: str) -> None:
    if period not in ALARM_PERIODS and (period <= 0 or period % 60):
        raise errors.InvalidParameterValueException(
            f"The parameter {member} must be 10, 20, 30 or a multiple of 60."
        )


def _require_math(config: dict[str, Any]) -> None:
    queries = config["Metrics"]
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise errors.InvalidParameterValueException(
            "Exactly one element of the Metrics list must return data."
        )
    for q in queries:
        if q.get("MetricStat"):
            _require_alarm_period(q["MetricStat"]["Period"], "Metrics.MetricStat.Period")
    from strongroom.services.cloudwatch.queries import compile_expression

    for q in queries:
        if q.get("Expression"):
            compile_expression(q["Expression"])


def _require_actions(config: dict[str, Any]) -> None:
    for member in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        for action in config.get(member) or []:
            if parse_arn(action) is None:
                raise errors.InvalidParameterValueException(f"Invalid arn syntax: {action}")


def _resolve(
    call: Call, action: str, name: str, context: dict[str, Any] | None = None
) -> Alarm | None:
    """The caller's alarm `name` (None when absent), once IAM allows `action` on it."""
    alarm = alarms.find(call.conn, call.account, call.region, name)
    ctx = dict(context or {})
    if alarm is not None:
        ctx.update(tagging.resource_context(alarm.tag_list()))
    call.authorize(action, alarms.alarm_arn(call.account, call.region, name), ctx)
    return alarm


@service.operation(authorize=False)
def put_metric_alarm(
    call: Call, AlarmName: str, ActionsEnabled: bool | None = None,
    Tags: list[dict[str, str]] | None = None, **params: Any,
) -> dict[str, Any]:  # fmt: skip
    new_tags = TAGS.from_wire(Tags)
    alarm = _resolve(call, "cloudwatch:PutMetricAlarm", AlarmName,
                     tagging.request_context(new_tags or None))  # fmt: skip
    if new_tags:
        call.authorize(
            "cloudwatch:TagResource", alarms.alarm_arn(call.account, call.region, AlarmName),
            tagging.request_context(new_tags),
        )  # fmt: skip
        TAGS.require_valid(call, new_tags)
    for unserved in ("EvaluationCriteria", "EvaluationInterval"):
        if params.get(unserved) is not None:  # PromQL alarms, newer than strongroom's
            raise errors.InvalidParameterValueException(
                f"The parameter {unserved} is not supported by strongroom."
            )
    config = {k: params[k] for k in CONFIG_MEMBERS if params.get(k) is not None}
    _require_config(config)
    _require_actions(config)
    now = call.clock.timestamp()
    if alarm is None:
        alarm = Alarm(
            0, call.account, call.region, AlarmName, config, now,
            True if ActionsEnabled is None else ActionsEnabled, "INSUFFICIENT_DATA",
            INITIAL_REASON, None, now, now, now, TAGS.to_rows(new_tags),
        )  # fmt: skip
        alarms.create(call.conn, alarm)
        summary, doc = (
            f'Alarm "{AlarmName}" created',
            {"type": "Create", "createdAlarm": _doc(alarm)},
        )
    else:
        before = _doc(alarm)
        alarm.config, alarm.configured, alarm.next_evaluation = config, now, now
        if ActionsEnabled is not None:
            alarm.actions_enabled = ActionsEnabled
        alarms.save(call.conn, alarm)
        after = _doc(alarm)
        changed = {
            k: before.get(k) for k in set(before) | set(after) if before.get(k) != after.get(k)
        }
        summary = f'Alarm "{AlarmName}" updated'
        doc = {"type": "Update", "updatedAlarm": after, "originalUpdatedFields": changed}
    alarms.record(call.conn, alarm, now, "ConfigurationUpdate", summary, doc)
    return {}


def _doc(alarm: Alarm) -> dict[str, Any]:
    """The alarm as its history data records it: lowerCamel names all the
    way down (``okActions``, ``metricStat``) and times as CloudWatch writes
    them there (``2026-01-01T12:00:00.000+0000``)."""
    return _lower(alarm.to_metric_alarm())


def _lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {_lower_name(k): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    if isinstance(value, datetime):
        return evaluation.iso(value.timestamp())
    return value


def _lower_name(name: str) -> str:
    if name.startswith("OK"):
        return "ok" + name[2:]
    return name[:1].lower() + name[1:]


def _matches(alarm: Alarm, state: str | None, action_prefix: str | None) -> bool:
    if state is not None and alarm.state != state:
        return False
    return not (
        action_prefix is not None
        and not any(a.startswith(action_prefix) for a in alarm.all_actions())
    )


@service.operation
def describe_alarms(
    call: Call,
    AlarmNames: list[str] | None = None,
    AlarmNamePrefix: str | None = None,
    AlarmTypes: list[str] | None = None,
    ChildrenOfAlarmName: str | None = None,
    ParentsOfAlarmName: str | None = None,
    StateValue: str | None = None,
    ActionPrefix: str | None = None,
    MaxRecords: int | None = None,
    NextToken: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    if AlarmNames and AlarmNamePrefix is not None:
        raise errors.InvalidParameterCombinationException(
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have "
            "specified both."
        )
    if (ChildrenOfAlarmName or ParentsOfAlarmName) and (
        AlarmNames or AlarmNamePrefix or StateValue or ActionPrefix
    ):
        raise errors.InvalidParameterCombinationException(
            "ChildrenOfAlarmName and ParentsOfAlarmName cannot be combined with other filters."
        )
    found: list[Alarm] = []
    wants_metric = AlarmTypes is None or "MetricAlarm" in AlarmTypes
    if wants_metric and not ChildrenOfAlarmName and not ParentsOfAlarmName:
        pool = (
            alarms.named(call.conn, call.account, call.region, AlarmNames)
            if AlarmNames
            else alarms.all_in(call.conn, call.account, call.region)
        )
        found = [
            a for a in pool
            if (AlarmNamePrefix is None or a.name.startswith(AlarmNamePrefix))
            and _matches(a, StateValue, ActionPrefix)
        ]  # fmt: skip
    page = DESCRIBE_ALARMS.slice(
        call, found, NextToken, MaxRecords,
        scope=(AlarmNames, AlarmNamePrefix, AlarmTypes, StateValue, ActionPrefix),
    )  # fmt: skip
    out = DESCRIBE_ALARMS.output(page, [a.to_metric_alarm() for a in page.items])
    out["CompositeAlarms"] = []
    return out


@service.operation
def describe_alarms_for_metric(
    call: Call,
    MetricName: str,
    Namespace: str,
    Statistic: str | None = None,
    ExtendedStatistic: str | None = None,
    Dimensions: list[dict[str, str]] | None = None,
    Period: int | None = None,
    Unit: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    from strongroom.services.cloudwatch.metrics import canonical

    dims = canonical(Dimensions)
    wanted = {"Statistic": Statistic, "ExtendedStatistic": ExtendedStatistic,
              "Period": Period, "Unit": Unit}  # fmt: skip
    out = []
    for alarm in alarms.all_in(call.conn, call.account, call.region):
        config = alarm.config
        if (config.get("MetricName"), config.get("Namespace")) != (MetricName, Namespace):
            continue
        if Dimensions is not None and canonical(config.get("Dimensions")) != dims:
            continue
        if any(v is not None and config.get(k) != v for k, v in wanted.items()):
            continue
        out.append(alarm.to_metric_alarm())
    return {"MetricAlarms": out}


@service.operation(authorize=False)
def delete_alarms(call: Call, AlarmNames: list[str], **_: Any) -> dict[str, Any]:
    found = []
    missing = []
    for name in AlarmNames:
        alarm = _resolve(call, "cloudwatch:DeleteAlarms", name)
        (found if alarm is not None else missing).append(alarm or name)
    if missing:
        raise errors.ResourceNotFound(
            f"{len(missing)} out of {len(AlarmNames)} alarms were not found: [{', '.join(missing)}]"
        )
    now = call.clock.timestamp()
    for alarm in found:
        alarms.remove(call.conn, alarm)
        alarms.record(
            call.conn, alarm, now, "ConfigurationUpdate", f'Alarm "{alarm.name}" deleted',
            {"type": "Delete", "deletedAlarm": _doc(alarm)},
        )  # fmt: skip
    return {}


@service.operation(authorize=False)
def set_alarm_state(
    call: Call, AlarmName: str, StateValue: str, StateReason: str,
    StateReasonData: str | None = None, **_: Any,
) -> dict[str, Any]:  # fmt: skip
    alarm = _resolve(call, "cloudwatch:SetAlarmState", AlarmName)
    if alarm is None:
        raise errors.ResourceNotFound(f"Alarm {AlarmName} not found")
    doc = None
    if StateReasonData is not None:
        try:
            doc = json_value(StateReasonData)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise errors.InvalidFormatFault("The StateReasonData must be a valid JSON object.")
    now = call.clock.timestamp()
    if not alarms.set_state(call.conn, alarm, StateValue, StateReason, StateReasonData, now, doc):
        # The same state: the reason given replaces the last one.
        alarm.state_reason, alarm.state_reason_data = StateReason, StateReasonData
    alarm.state_updated = now
    # CloudWatch looks at the alarm again at its next minute, and moves it
    # back to the state its data says.
    alarm.next_evaluation = (now // 60 + 1) * 60
    alarms.save(call.conn, alarm)
    return {}


@service.operation
def describe_alarm_history(
    call: Call,
    AlarmName: str | None = None,
    AlarmTypes: list[str] | None = None,
    HistoryItemType: str | None = None,
    StartDate: datetime | None = None,
    EndDate: datetime | None = None,
    MaxRecords: int | None = None,
    NextToken: str | None = None,
    ScanBy: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    descending = (ScanBy or "TimestampDescending") == "TimestampDescending"
    if AlarmTypes is not None and "MetricAlarm" not in AlarmTypes:
        return {"AlarmHistoryItems": []}
    start = StartDate.timestamp() if StartDate is not None else None
    end = EndDate.timestamp() if EndDate is not None else None
    return HISTORY.over_keyset(
        call,
        lambda after, n: alarms.history_items(
            call.conn,
            call.account,
            call.region,
            name=AlarmName,
            item_type=HistoryItemType,
            start=start,
            end=end,
            descending=descending,
            after=after,
            limit=n,
        ),
        NextToken,
        MaxRecords,
        key=lambda row: (row[0],),
        key_types=(int,),
        scope=(AlarmName, HistoryItemType, start, end, descending),
        project=lambda page: [item for _, item in page],
    )


def _set_actions(call: Call, action: str, names: list[str], enabled: bool) -> None:
    for name in names:
        alarm = _resolve(call, action, name)
        if alarm is not None and alarm.actions_enabled != enabled:
            alarm.actions_enabled = enabled
            alarms.save(call.conn, alarm)


@service.operation(authorize=False)
def enable_alarm_actions(call: Call, AlarmNames: list[str], **_: Any) -> dict[str, Any]:
    _set_actions(call, "cloudwatch:EnableAlarmActions", AlarmNames, True)
    return {}


@service.operation(authorize=False)
def disable_alarm_actions(call: Call, AlarmNames: list[str], **_: Any) -> dict[str, Any]:
    _set_actions(call, "cloudwatch:DisableAlarmActions", AlarmNames, False)
    return {}


# --------------------------------------------------------------------------- tags


def _tagged(
    call: Call, action: str, resource_arn: str, context: dict[str, Any] | None = None
) -> Alarm:
    """The alarm an ARN names, once IAM allows `action` on it."""
    parts = parse_arn(resource_arn)
    if parts is None or parts.get("service") != "cloudwatch":
        raise errors.InvalidParameterValueException(
            f"The value {resource_arn} for parameter ResourceARN is invalid."
        )
    resource = parts.get("resource", "")
    account, region = parts.get("account", ""), parts.get("region", "")
    alarm = None
    if resource.startswith("alarm:") and account == call.account and region == call.region:
        alarm = alarms.find(call.conn, account, region, resource[len("alarm:") :])
    ctx = dict(context or {})
    if alarm is not None:
        ctx.update(tagging.resource_context(alarm.tag_list()))
    call.authorize(action, resource_arn, ctx, resource_account=account or None)
    if alarm is None:
        raise errors.ResourceNotFoundException(f"The resource {resource_arn} does not exist.")
    return alarm


@service.operation(authorize=False)
def tag_resource(
    call: Call, ResourceARN: str, Tags: list[dict[str, str]], **_: Any
) -> dict[str, Any]:
    new = TAGS.from_wire(Tags)
    alarm = _tagged(call, "cloudwatch:TagResource", ResourceARN, tagging.request_context(new))
    TAGS.require_valid(call, new)
    alarm.tags = TAGS.to_rows(TAGS.merged(call, alarm.tag_list(), new))
    alarms.save(call.conn, alarm)
    return {}


@service.operation(authorize=False)
def untag_resource(call: Call, ResourceARN: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
    alarm = _tagged(call, "cloudwatch:UntagResource", ResourceARN,
                    tagging.request_context(keys=TagKeys))  # fmt: skip
    TAGS.require_removable(call, TagKeys)
    alarm.tags = TAGS.to_rows(TAGS.without(alarm.tag_list(), TagKeys))
    alarms.save(call.conn, alarm)
    return {}


@service.operation(authorize=False)
def list_tags_for_resource(call: Call, ResourceARN: str, **_: Any) -> dict[str, Any]:
    alarm = _tagged(call, "cloudwatch:ListTagsForResource", ResourceARN)
    return {"Tags": TAGS.to_wire(alarm.tag_list())}
