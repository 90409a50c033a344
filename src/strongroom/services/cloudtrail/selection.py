"""Event selectors: AWS's validation of basic and advanced selectors, and
each trail's selectors compiled once into a matcher over stored events.

Semantics (CloudTrail's docs, "Filtering data events by using advanced
fields"): a trail logs an event when any of its selectors matches it; a
selector matches when every one of its field selectors does; within a field
selector the values of an Equals/StartsWith/EndsWith operator are any-of,
those of NotEquals/NotStartsWith/NotEndsWith none-of, and the operators
given together must all hold. ``resources.type`` and ``resources.ARN``
match when one of the event's resources does.

Basic selectors are compiled into the same form: management events by
``ReadWriteType``, ``IncludeManagementEvents`` and
``ExcludeManagementEventSources``; data events by ``DataResources``
(``AWS::S3::Object`` values ``arn:aws:s3`` or a bucket/prefix ARN,
``AWS::Lambda::Function`` values ``arn:aws:lambda`` or a function ARN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from strongroom.audit.records import StoredEvent, resource_arn, resource_type

#: The default a trail has before PutEventSelectors: every management event.
DEFAULT_BASIC: list[dict[str, Any]] = [
    {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }
]

FIELDS = (
    "eventCategory",
    "resources.type",
    "resources.ARN",
    "readOnly",
    "eventName",
    "eventSource",
)
#: Fields CloudTrail accepts beyond those matched here (validated, matched as given).
MORE_FIELDS = ("eventType", "sessionCredentialFromConsole", "userIdentity.arn", "errorCode")
POSITIVE = ("Equals", "StartsWith", "EndsWith")
NEGATIVE = ("NotEquals", "NotStartsWith", "NotEndsWith")
OPERATORS = POSITIVE + NEGATIVE
#: Data resource types basic selectors take.
BASIC_DATA_TYPES = ("AWS::S3::Object", "AWS::Lambda::Function", "AWS::DynamoDB::Table")
MAX_BASIC = 5
MAX_ADVANCED = 500
MAX_DATA_RESOURCES = 250
#: The management-event sources a basic selector may exclude.
EXCLUDABLE_SOURCES = ("kms.amazonaws.com", "rdsdata.amazonaws.com")


class SelectorError(ValueError):
    """A selector CloudTrail refuses (InvalidEventSelectorsException)."""


Test = Callable[[StoredEvent], bool]


def _values(event: StoredEvent, field: str) -> list[str]:
    if field == "eventCategory":
        return ["Management" if event.management else "Data"]
    if field == "readOnly":
        return ["true" if event.read_only else "false"]
    if field == "eventName":
        return [event.event_name]
    if field == "eventSource":
        return [event.event_source]
    if field == "eventType":
        return [event.own.get("eventType", "AwsApiCall")]
    if field == "errorCode":
        return [event.own["errorCode"]] if "errorCode" in event.own else []
    if field == "resources.type":
        return [str(resource_type(r)) for r in event.resources or ()]
    if field == "resources.ARN":
        return [str(resource_arn(r)) for r in event.resources or ()]
    return []


def _one(op: str, wanted: Sequence[str]) -> Callable[[str], bool]:
    w = tuple(wanted)
    if op == "Equals":
        s = frozenset(w)
        return lambda v: v in s
    if op == "StartsWith":
        return lambda v: v.startswith(w)
    if op == "EndsWith":
        return lambda v: v.endswith(w)
    if op == "NotEquals":
        s = frozenset(w)
        return lambda v: v not in s
    if op == "NotStartsWith":
        return lambda v: not v.startswith(w)
    return lambda v: not v.endswith(w)  # NotEndsWith


def _field_test(selector: dict[str, Any]) -> Test:
    field = selector["Field"]
    checks = [_one(op, selector[op]) for op in OPERATORS if selector.get(op)]

    def value_ok(value: str) -> bool:
        return all(check(value) for check in checks)

    def test(event: StoredEvent) -> bool:
        return any(value_ok(v) for v in _values(event, field))

    return test


def _all(tests: list[Test]) -> Test:
    return lambda event: all(t(event) for t in tests)


@dataclass(frozen=True)
class Matcher:
    """A trail's selectors, compiled: `selects(event)`."""

    tests: tuple[Test, ...]
    #: Whether any selector can match a data event (the pipeline records
    #: data events only when some trail's matcher may want them).
    wants_data: bool

    def selects(self, event: StoredEvent) -> bool:
        return any(t(event) for t in self.tests)


def compile_advanced(selectors: list[dict[str, Any]]) -> Matcher:
    tests: list[Test] = []
    wants_data = False
    for selector in selectors:
        fields = selector["FieldSelectors"]
        tests.append(_all([_field_test(f) for f in fields]))
        category = next(f for f in fields if f["Field"] == "eventCategory")
        if "Data" in category.get("Equals", ()):
            wants_data = True
    return Matcher(tuple(tests), wants_data)


def compile_basic(selectors: list[dict[str, Any]]) -> Matcher:
    tests: list[Test] = []
    wants_data = False
    for selector in selectors:
        rw = selector.get("ReadWriteType", "All")

        def rw_ok(event: StoredEvent, rw: str = rw) -> bool:
            return rw == "All" or (rw == "ReadOnly") == bool(event.read_only)

        if selector.get("IncludeManagementEvents", True):
            excluded = frozenset(selector.get("ExcludeManagementEventSources") or ())
            tests.append(
                lambda e, rw_ok=rw_ok, excluded=excluded: (
                    e.management and e.event_source not in excluded and rw_ok(e)
                )
            )
        for resource in selector.get("DataResources") or ():
            wants_data = True
            kind = resource["Type"]
            values = tuple(resource.get("Values") or ())
            tests.append(_data_resource(kind, values, rw_ok))
    return Matcher(tuple(tests), wants_data)


def _data_resource(kind: str, values: tuple[str, ...], rw_ok: Test) -> Test:
    everything = any(v in ("arn:aws:s3", "arn:aws:lambda", "arn:aws:dynamodb") for v in values)

    def test(event: StoredEvent) -> bool:
        if event.management or not rw_ok(event):
            return False
        for r in event.resources or ():
            if resource_type(r) != kind:
                continue
            if everything or str(resource_arn(r)).startswith(values):
                return True
        return False

    return test


def compile_stored(stored: dict[str, Any] | None) -> Matcher:
    """The matcher of a trail's stored selectors (None: the default)."""
    if not stored:
        return compile_basic(DEFAULT_BASIC)
    if "advanced" in stored:
        return compile_advanced(stored["advanced"])
    return compile_basic(stored["basic"])


# -- validation ------------------------------------------------------------


def validate_basic(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The selectors as GetEventSelectors answers them; SelectorError else."""
    if not 1 <= len(selectors) <= MAX_BASIC:
        raise SelectorError(
            "Invalid number of event selectors. A trail can have at most 5 event selectors."
        )
    out = []
    resources = 0
    for selector in selectors:
        data = []
        for resource in selector.get("DataResources") or ():
            kind = resource.get("Type")
            values = list(resource.get("Values") or [])
            if kind not in BASIC_DATA_TYPES:
                raise SelectorError(f"Value {kind} for DataResources.Type is invalid.")
            for value in values:
                if not _valid_data_value(kind, value):
                    raise SelectorError(f"Value {value} for DataResources.Values is invalid.")
            resources += len(values)
            data.append({"Type": kind, "Values": values})
        if resources > MAX_DATA_RESOURCES:
            raise SelectorError("The total number of data resources cannot exceed 250.")
        excluded = list(selector.get("ExcludeManagementEventSources") or [])
        for source in excluded:
            if source not in EXCLUDABLE_SOURCES:
                raise SelectorError(f"Value {source} for ExcludeManagementEventSources is invalid.")
        out.append(
            {
                "ReadWriteType": selector.get("ReadWriteType", "All"),
                "IncludeManagementEvents": selector.get("IncludeManagementEvents", True),
                "DataResources": data,
                "ExcludeManagementEventSources": excluded,
            }
        )
    return out


def _valid_data_value(kind: str, value: str) -> bool:
    if kind == "AWS::S3::Object":
        return value == "arn:aws:s3" or (value.startswith("arn:aws:s3:::") and len(value) > 13)
    if kind == "AWS::Lambda::Function":
        return value == "arn:aws:lambda" or value.startswith("arn:aws:lambda:")
    return value == "arn:aws:dynamodb" or value.startswith("arn:aws:dynamodb:")


def validate_advanced(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The selectors as GetEventSelectors answers them; SelectorError else."""
    if not selectors:
        raise SelectorError("Advanced event selectors must not be empty.")
    conditions = 0
    out = []
    for selector in selectors:
        fields = selector.get("FieldSelectors") or []
        seen: set[str] = set()
        clean_fields = []
        for f in fields:
            field = f.get("Field")
            if field not in FIELDS + MORE_FIELDS:
                raise SelectorError(f"Field {field} is not valid.")
            if field in seen:
                raise SelectorError(f"Field {field} appears more than once in a selector.")
            seen.add(field)
            ops = {op: list(f[op]) for op in OPERATORS if f.get(op) is not None}
            if not ops or not any(ops.values()):
                raise SelectorError(f"Field {field} must have at least one operator.")
            for values in ops.values():
                if not values:
                    raise SelectorError(f"Operators for field {field} must have values.")
                conditions += len(values)
            clean_fields.append({"Field": field, **ops})
        category = next((f for f in clean_fields if f["Field"] == "eventCategory"), None)
        if category is None or set(category) - {"Field", "Equals"}:
            raise SelectorError(
                "Each advanced event selector must have an eventCategory field with Equals."
            )
        kinds = category["Equals"]
        if len(kinds) != 1 or kinds[0] not in ("Management", "Data"):
            raise SelectorError(
                "Value for eventCategory must be exactly one of Management or Data."
            )
        if kinds[0] == "Management":
            extra = seen - {"eventCategory", "readOnly", "eventSource"}
            if extra:
                raise SelectorError(f"Field {sorted(extra)[0]} is not valid for management events.")
        else:
            kind = next((f for f in clean_fields if f["Field"] == "resources.type"), None)
            if kind is None or set(kind) - {"Field", "Equals"} or len(kind["Equals"]) != 1:
                raise SelectorError(
                    "A data event selector must have a resources.type field with one Equals value."
                )
        for f in clean_fields:
            if f["Field"] == "readOnly":
                for op, values in f.items():
                    if op != "Field" and (op != "Equals" or set(values) - {"true", "false"}):
                        raise SelectorError("readOnly can only use Equals with true or false.")
        item: dict[str, Any] = {"FieldSelectors": clean_fields}
        if selector.get("Name") is not None:
            item = {"Name": selector["Name"], **item}
        out.append(item)
    if conditions > MAX_ADVANCED:
        raise SelectorError("The total number of conditions cannot exceed 500.")
    return out
