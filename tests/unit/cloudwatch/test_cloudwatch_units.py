"""CloudWatch's hard parts, in process: metric math, aggregation and
percentiles, PutMetricData's rules, period rules, and the metric-filter
publisher's field extraction."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from strongroom.protocol.errors import AwsError
from strongroom.services.cloudwatch import datums, queries
from strongroom.services.cloudwatch.metrics import Aggregate, canonical, dims_key
from strongroom.services.logs import metric_publish, pattern

A = {0: 1.0, 60: 2.0, 120: 4.0}
B = {0: 10.0, 60: 0.0, 180: 5.0}


def run(expression: str, series: dict | None = None) -> object:
    series = series if series is not None else {"a": A, "b": B}
    return queries.compile_expression(expression)(series, list(series))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a + b", {0: 11.0, 60: 2.0}),  # only where both have a value
        ("a * 2 + 1", {0: 3.0, 60: 5.0, 120: 9.0}),
        ("a * (2 + 1)", {0: 3.0, 60: 6.0, 120: 12.0}),
        ("100 * a / b", {0: 10.0}),  # division by zero leaves the point out
        ("-a", {0: -1.0, 60: -2.0, 120: -4.0}),
        ("a - -1", {0: 2.0, 60: 3.0, 120: 5.0}),
        ("SUM([a, b])", {0: 11.0, 60: 2.0, 120: 4.0, 180: 5.0}),
        ("AVG(METRICS())", {0: 5.5, 60: 1.0, 120: 4.0, 180: 5.0}),
        ("MAX([a, b])", {0: 10.0, 60: 2.0, 120: 4.0, 180: 5.0}),
        ("MIN([a,b])", {0: 1.0, 60: 0.0, 120: 4.0, 180: 5.0}),
        ("SUM(METRICS()) / 2", {0: 5.5, 60: 1.0, 120: 2.0, 180: 2.5}),
        ("1.5e1", 15.0),
    ],
)
def test_metric_math(expression: str, expected: object) -> None:
    assert run(expression) == expected


@pytest.mark.parametrize(
    "expression", ["", "a +", "(a", "RATE(a)", "[a, 1]", "a b", "c * 2", "SUM(a", "a % 2"]
)
def test_metric_math_refusals(expression: str) -> None:
    with pytest.raises(AwsError) as err:
        run(expression)
    assert err.value.code == "InvalidParameterValue"


def test_aggregate_statistics_and_percentiles() -> None:
    agg = Aggregate()
    agg.add(5, 15.0, 1.0, 5.0, [(1.0, 1), (2.0, 1), (3.0, 1), (4.0, 1), (5.0, 1)])
    assert [agg.statistic(s) for s in ("SampleCount", "Sum", "Average", "Minimum", "Maximum")] == [
        5, 15.0, 3.0, 1.0, 5.0,
    ]  # fmt: skip
    assert (agg.statistic("p50"), agg.statistic("p90"), agg.statistic("p100")) == (3.0, 5.0, 5.0)
    agg.add(1, 10.0, 10.0, 10.0, None)  # a statistic set: percentiles no longer known
    assert agg.statistic("p50") is None and agg.statistic("Maximum") == 10.0


def test_dimensions_are_one_identity_in_any_order() -> None:
    one = canonical([{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}])
    two = canonical([{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}])
    assert one == two and dims_key(one) == "a=1\nb=2"


NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC).timestamp()


def test_samples_bucket_by_resolution() -> None:
    at = datetime(2026, 1, 1, 12, 0, 17, tzinfo=UTC)
    standard, high = datums.samples(
        [{"MetricName": "m", "Value": 1.0, "Timestamp": at},
         {"MetricName": "m", "Value": 1.0, "Timestamp": at, "StorageResolution": 1}],
        NOW,
    )  # fmt: skip
    assert standard.bucket == int(at.timestamp()) - 17 and high.bucket == int(at.timestamp())
    values = datums.samples([{"MetricName": "m", "Values": [2.0, 4.0], "Counts": [3.0, 1.0]}], NOW)
    assert (values[0].count, values[0].total, values[0].minimum, values[0].maximum) == (
        4.0, 10.0, 2.0, 4.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("datum", "code"),
    [
        ({"MetricName": "m", "Value": math.nan}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 2.0**400}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 2.0**-300}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1.0, "Counts": [1.0]}, "InvalidParameterCombination"),
        ({"MetricName": "m", "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 2,
                                                 "Maximum": 1}}, "InvalidParameterValue"),
        ({"MetricName": "m", "Values": [1.0], "Counts": [-1.0]}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": "1"},
                                                          {"Name": "a", "Value": "2"}]},
         "InvalidParameterValue"),
    ],
)  # fmt: skip
def test_datum_refusals(datum: dict, code: str) -> None:
    with pytest.raises(AwsError) as err:
        datums.samples([datum], NOW)
    assert err.value.code == code


def test_zero_is_a_value() -> None:
    assert datums.samples([{"MetricName": "m", "Value": 0.0}], NOW)[0].total == 0.0


@pytest.mark.parametrize(
    ("period", "age", "ok"),
    [(1, 60, True), (5, 60, True), (7, 60, False), (60, 60, True), (90, 60, False),
     (1, 4 * 3600, False), (60, 4 * 3600, True), (60, 16 * 86400, False),
     (300, 16 * 86400, True), (300, 64 * 86400, False), (3600, 64 * 86400, True)],
)  # fmt: skip
def test_period_rules(period: int, age: int, ok: bool) -> None:
    if ok:
        queries.require_period(period, NOW - age, NOW)
    else:
        with pytest.raises(AwsError):
            queries.require_period(period, NOW - age, NOW)


def test_start_time_rounding() -> None:
    start = NOW - 100
    assert queries.rounded_start(start, 60, NOW) % 60 == 0
    assert queries.rounded_start(start, 10, NOW) == int(start)
    assert queries.rounded_start(NOW - 20 * 86400 - 7, 300, NOW) % 300 == 0


def test_publisher_fields() -> None:
    compiled = pattern.compile("[ip, user, status, bytes]")
    fields = metric_publish._Fields(compiled, "10.0.0.1 bob 503 2048")
    assert fields.get("$status") == "503" and fields.get("$bytes") == "2048"
    doc = metric_publish._Fields(pattern.compile("{ $.a.b[1] = 2 }"), '{"a": {"b": [1, 2]}}')
    assert doc.get("$.a.b[1]") == 2 and doc.get("$.a.c") is None and doc.get("$.a.b[5]") is None
    assert metric_publish._number("12.5") == 12.5
    assert metric_publish._number("slow") is None and metric_publish._number(True) is None


def test_publisher_default_values_and_dimensions() -> None:
    from strongroom.services.logs.metric_filters import MetricFilter

    f = MetricFilter(
        1, "f", "ERROR",
        [{"metricName": "E", "metricNamespace": "N", "metricValue": "1", "defaultValue": 0.0}],
        0, False, None, None,
    )  # fmt: skip
    out: metric_publish.Published = {}
    metric_publish._apply(
        f, pattern.compile("ERROR"), (60_000, 60_500, 120_000), ["ERROR x", "ok", "ok"], out, 0
    )
    assert out == {
        ("N", "E", (), 60_000, None): {1.0: 1.0},
        ("N", "E", (), 120_000, None): {0.0: 1.0},
    }
    d = MetricFilter(
        1, "d", "{ $.ms > 0 }",
        [{"metricName": "L", "metricNamespace": "N", "metricValue": "$.ms",
          "dimensions": {"Route": "$.route"}, "unit": "Milliseconds"}],
        0, False, None, None,
    )  # fmt: skip
    out = {}
    events = ['{"ms": 5, "route": "/a"}', '{"ms": 7}', '{"ms": 5, "route": "/a"}']
    metric_publish._apply(d, pattern.compile(d.pattern), (0, 1, 2), events, out, 0)
    assert out == {("N", "L", (("Route", "/a"),), 0, "Milliseconds"): {5.0: 2.0}}
