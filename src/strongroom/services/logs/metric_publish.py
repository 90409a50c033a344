"""Metric filters at work: the events stored in a group with metric filters
become CloudWatch datapoints, within a scheduler tick or two of ingest.

A scheduled job (once across processes, under the scheduler's lease) reads
each such group's batches past its cursor (`metric_filters.cursors`), runs
every filter of the group over their events and publishes what matched
through CloudWatch's internal API, then moves the cursor, all in one
transaction: a batch is published exactly once, across restarts and
crashes, and nothing is added to PutLogEvents' own path, so events that
other services publish (RDS, Lambda) are counted too.

For each metric transformation: ``metricValue`` is a number or a field of
the event (``$.latency`` in a JSON event, ``$status`` of a space-delimited
pattern); an event whose field is missing or not a number is skipped, as
AWS skips it. ``dimensions`` take their values from fields the same way.
``defaultValue`` is published for each minute that had events in the
group but none matching. Datapoints carry the event's timestamp and the
transformation's ``unit``; one datum per metric, dimensions, minute and
unit, holding the values and their counts (so percentiles work).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import Any

from strongroom.encoding import json_value
from strongroom.framework import JobRun
from strongroom.services.cloudwatch import api as cloudwatch_api
from strongroom.services.logs import crypto, events, groups, metric_filters, pattern, protection
from strongroom.services.logs.metric_filters import MetricFilter
from strongroom.services.logs.service import errors, service

log = logging.getLogger(__name__)

#: Batches read per group per run (a run with more to read asks to run again).
BATCHES_PER_RUN = 200
#: CloudWatch refuses datapoints older than two weeks; events that old are skipped.
TOO_OLD_MS = 14 * 86_400_000 - 60_000
MAX_VALUES = 150
#: On PostgreSQL, where transactions commit in any order, a batch id can
#: become visible after a higher one: the cursor only passes batches
#: ingested this long ago, so a transaction open for less than this between
#: storing its batch and committing it is never skipped. SQLite's writers
#: take the write lock for their whole transaction: ids commit in order.
SETTLE_MS = 5_000

_COMPILED: dict[str, pattern.Pattern] = {}

#: (namespace, metric name, dimensions, minute ms, unit) -> {value: count}
Published = dict[tuple[str, str, tuple[tuple[str, str], ...], int, str | None], dict[float, float]]


def _compiled(text: str) -> pattern.Pattern | None:
    found = _COMPILED.get(text)
    if found is None:
        try:
            found = pattern.compile(text)
        except pattern.PatternError:
            return None  # stored before the pattern language refused it: publishes nothing
        if len(_COMPILED) > 1024:
            _COMPILED.clear()
        _COMPILED[text] = found
    return found


def _number(text: Any) -> float | None:
    if isinstance(text, bool) or text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class _Fields:
    """An event's fields for a filter's selectors, worked out once per event."""

    def __init__(self, compiled: pattern.Pattern, message: str) -> None:
        self.compiled = compiled
        self.message = message
        self._doc: Any = None
        self._parsed = False
        self._delimited: dict[str, str] | None = None

    def get(self, selector: str) -> Any:
        if selector.startswith("$."):
            return _select(self.document(), selector[2:])
        if selector.startswith("$"):
            if self._delimited is None:
                self._delimited = self.compiled.extract(self.message)
            return self._delimited.get(selector)
        return None

    def document(self) -> Any:
        if not self._parsed:
            self._parsed = True
            try:
                self._doc = json_value(self.message)
            except ValueError:
                self._doc = None
        return self._doc


def _select(doc: Any, path: str) -> Any:
    """``a.b[0].c`` in a JSON document, or None."""
    for part in path.replace("]", "").split("."):
        name, *indexes = part.split("[")
        if name:
            if not isinstance(doc, dict) or name not in doc:
                return None
            doc = doc[name]
        for index in indexes:
            if not isinstance(doc, list) or not index.isdigit() or int(index) >= len(doc):
                return None
            doc = doc[int(index)]
    return doc


def _apply(
    f: MetricFilter, compiled: pattern.Pattern, stamps: tuple[int, ...], texts: list[str],
    out: Published, oldest: int,
) -> None:  # fmt: skip
    """Add what filter `f` publishes for these events to `out`."""
    matched_minutes: set[int] = set()
    seen_minutes: set[int] = set()
    for stamp, message in zip(stamps, texts, strict=True):
        if stamp < oldest:
            continue
        minute = stamp // 60_000 * 60_000
        seen_minutes.add(minute)
        if not compiled.match(message):
            continue
        fields = _Fields(compiled, message)
        for t in f.transformations:
            value_text = t["metricValue"]
            value = _number(fields.get(value_text) if value_text.startswith("$") else value_text)
            if value is None:
                continue
            dims = []
            for name, selector in sorted((t.get("dimensions") or {}).items()):
                found = fields.get(selector)
                if found is None or isinstance(found, dict | list):
                    break
                dims.append((name, str(found).lower() if isinstance(found, bool) else str(found)))
            else:
                key = (t["metricNamespace"], t["metricName"], tuple(dims), minute, t.get("unit"))
                bucket = out.setdefault(key, {})
                bucket[value] = bucket.get(value, 0.0) + 1.0
                matched_minutes.add(minute)
    for t in f.transformations:
        default = t.get("defaultValue")
        if default is None:
            continue
        for minute in seen_minutes - matched_minutes:
            key = (t["metricNamespace"], t["metricName"], (), minute, t.get("unit"))
            bucket = out.setdefault(key, {})
            bucket[float(default)] = bucket.get(float(default), 0.0) + 1.0


def _datums(out: Published) -> dict[str, list[dict[str, Any]]]:
    """MetricDatum dicts per namespace (values and counts, 150 a datum)."""
    from datetime import UTC, datetime

    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (namespace, name, dims, minute, unit), values in out.items():
        pairs = sorted(values.items())
        for i in range(0, len(pairs), MAX_VALUES):
            chunk = pairs[i : i + MAX_VALUES]
            datum: dict[str, Any] = {
                "MetricName": name,
                "Timestamp": datetime.fromtimestamp(minute / 1000, UTC),
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                "Values": [v for v, _ in chunk],
                "Counts": [n for _, n in chunk],
            }
            if unit:
                datum["Unit"] = unit
            by_namespace[namespace].append(datum)
    return by_namespace


def _publish_group(run: JobRun, group_id: int, after: int) -> bool:
    """Publish one group's batches after `after`; whether more remain."""
    found = groups.groups_by_id(run.conn, [group_id])
    if not found:
        metric_filters.drop_cursor(run.conn, group_id)
        return False
    group = found[0]
    rows = metric_filters.batches_after(run.conn, group_id, after, BATCHES_PER_RUN)
    full = len(rows) == BATCHES_PER_RUN
    if run.conn.dialect.name != "sqlite":
        settled = int(run.now.timestamp() * 1000) - SETTLE_MS
        cut = next((i for i, row in enumerate(rows) if row[1] > settled), None)
        if cut is not None:
            rows, full = rows[:cut], True  # the rest once settled: run again soon
    if not rows:
        return full
    filters = [(f, _compiled(f.pattern)) for f in metric_filters.of_group(run.conn, group_id)]
    opener = crypto.opener(run, {group.id: group})
    # AWS masks at ingestion: a metric filter sees the masked events.
    masking = protection.protection_for(run, group)
    oldest = int(run.now.timestamp() * 1000) - TOO_OLD_MS
    out: Published = {}
    try:
        for _batch_id, ingestion, key_id, payload in rows:
            packed = opener(key_id, payload) if key_id is not None else payload
            stamps, texts = events.unpack(packed)
            if masking is not None:
                texts = [masking.mask(text, ingestion) for text in texts]
            for f, compiled in filters:
                if compiled is not None and ingestion >= f.created:
                    _apply(f, compiled, stamps, texts, out, oldest)
    except (errors.InvalidParameterException, errors.AccessDeniedException) as refused:
        # The group's KMS key is disabled or no longer allows Logs: its
        # events wait, unpublished, for the key to be usable again.
        log.warning("metric filters of %s wait: %s", group.arn, refused)
        return False
    for namespace, data in _datums(out).items():
        stored = cloudwatch_api.put_metric_data(
            run, namespace, data, account=group.account, region=group.region
        )
        if stored.refused:
            log.warning("CloudWatch refused %d metric filter datums", stored.refused)
    metric_filters.move_cursor(run.conn, group_id, rows[-1][0])
    return full


@service.job
def publish_metric_filters(run: JobRun) -> float | None:
    """Publish every group's new events through its metric filters; run
    again at once while a group has more, else when state next changes."""
    more = False
    for group_id, after in metric_filters.cursors(run.conn):
        more = _publish_group(run, group_id, after) or more
    return run.now.timestamp() if more else None
