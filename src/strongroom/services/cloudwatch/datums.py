"""PutMetricData's rules (AWS's limits and words), turning MetricDatum
structures into the `metrics.Sample`s stored: shared by the operation and
by the internal API other services publish through."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from strongroom.services.cloudwatch.metrics import NO_UNIT, Sample, canonical
from strongroom.services.cloudwatch.service import errors

MAX_DATUMS = 1000
MAX_DIMENSIONS = 30
MAX_VALUES = 150
#: CloudWatch rejects values of magnitude above 2^360 or below 2^-260 (but not zero).
MAX_MAGNITUDE = 2.0**360
MIN_MAGNITUDE = 2.0**-260
TOO_OLD = 14 * 86400
TOO_NEW = 2 * 3600


def _invalid(value: Any, parameter: str) -> Exception:
    return errors.InvalidParameterValueException(
        f"The value {value} for parameter {parameter} is invalid."
    )


def require_namespace(namespace: str) -> None:
    """AWS's namespace rules: not ``AWS/`` (reserved for AWS's own
    metrics), not starting with ``:``, some non-space character."""
    if namespace.startswith("AWS/") or namespace.startswith(":") or not namespace.strip():
        raise _invalid(namespace, "Namespace")


def _require_value(value: float, where: str) -> None:
    magnitude = abs(value)
    if (
        not math.isfinite(value)
        or magnitude > MAX_MAGNITUDE
        or (magnitude and magnitude < MIN_MAGNITUDE)
    ):
        raise _invalid(value, where)


def _bucket(ts: float, resolution: int) -> int:
    return int(ts // resolution * resolution)


def samples(
    metric_data: list[dict[str, Any]], now: float, *, prefix: str = "MetricData.member"
) -> list[Sample]:
    """The samples `metric_data` adds, or AWS's error for the first datum
    that breaks a rule."""
    if len(metric_data) > MAX_DATUMS:
        raise errors.InvalidParameterValueException(
            f"The collection MetricData must not have a size greater than {MAX_DATUMS}."
        )
    out: list[Sample] = []
    for i, datum in enumerate(metric_data, 1):
        out.extend(_datum_samples(datum, now, f"{prefix}.{i}"))
    return out


def _datum_samples(datum: dict[str, Any], now: float, where: str) -> list[Sample]:
    dims_in = datum.get("Dimensions") or []
    if len(dims_in) > MAX_DIMENSIONS:
        raise errors.InvalidParameterValueException(
            f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
        )
    dims = canonical(dims_in)
    if len({n for n, _ in dims}) != len(dims):
        raise errors.InvalidParameterValueException(
            f"The collection {where}.Dimensions must not contain duplicate dimension names."
        )
    stamp: datetime | None = datum.get("Timestamp")
    ts = stamp.timestamp() if stamp is not None else now
    if ts < now - TOO_OLD:
        raise errors.InvalidParameterValueException(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks "
            "in the past."
        )
    if ts > now + TOO_NEW:
        raise errors.InvalidParameterValueException(
            f"The parameter {where}.Timestamp must specify a time no more than two hours "
            "in the future."
        )
    resolution = datum.get("StorageResolution", 60)
    if resolution not in (1, 60):
        raise _invalid(resolution, f"{where}.StorageResolution")
    unit = datum.get("Unit") or NO_UNIT
    bucket = _bucket(ts, resolution)
    name = datum["MetricName"]
    given = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
    if len(given) > 1:
        raise errors.InvalidParameterCombinationException(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
            "exclusive and you have specified both."
        )
    if not given:
        raise errors.MissingRequiredParameterException(f"The parameter {where}.Value is required.")
    if datum.get("Counts") is not None and given[0] != "Values":
        raise errors.InvalidParameterCombinationException(
            f"The parameter {where}.Counts must be specified with {where}.Values."
        )
    if given[0] == "Value":
        value = datum["Value"]
        _require_value(value, f"{where}.Value")
        return [Sample(name, dims, bucket, unit, 1.0, value, value, value, [(value, 1.0)])]
    if given[0] == "StatisticValues":
        return [_statistic_set(name, dims, bucket, unit, datum["StatisticValues"], where)]
    return [_values(name, dims, bucket, unit, datum, where)]


def _statistic_set(
    name: str, dims: Any, bucket: int, unit: str, stats: dict[str, float], where: str
) -> Sample:
    for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
        _require_value(stats[member], f"{where}.StatisticValues.{member}")
    count = stats["SampleCount"]
    if count <= 0:
        raise _invalid(count, f"{where}.StatisticValues.SampleCount")
    if stats["Minimum"] > stats["Maximum"]:
        raise errors.InvalidParameterValueException(
            f"The parameter {where}.StatisticValues.Minimum must be less than or equal to "
            f"{where}.StatisticValues.Maximum."
        )
    return Sample(
        name, dims, bucket, unit, count, stats["Sum"], stats["Minimum"], stats["Maximum"], None
    )


def _values(
    name: str, dims: Any, bucket: int, unit: str, datum: dict[str, Any], where: str
) -> Sample:
    values = datum["Values"]
    counts = datum.get("Counts")
    if len(values) > MAX_VALUES:
        raise errors.InvalidParameterValueException(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
    if counts is not None and len(counts) != len(values):
        raise errors.InvalidParameterValueException(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    if not values:
        raise errors.MissingRequiredParameterException(f"The parameter {where}.Value is required.")
    pairs: list[tuple[float, float]] = []
    for j, value in enumerate(values):
        _require_value(value, f"{where}.Values.member.{j + 1}")
        n = 1.0 if counts is None else counts[j]
        if not math.isfinite(n) or n < 0:
            raise _invalid(n, f"{where}.Counts.member.{j + 1}")
        if n:
            pairs.append((value, n))
    if not pairs:
        raise _invalid(0, f"{where}.Counts")
    total = sum(v * n for v, n in pairs)
    count = sum(n for _, n in pairs)
    lo = min(v for v, _ in pairs)
    hi = max(v for v, _ in pairs)
    return Sample(name, dims, bucket, unit, count, total, lo, hi, pairs)
