"""Event selectors: validation as CloudTrail answers it, and the compiled
matcher over stored events (basic and advanced, every operator)."""

from __future__ import annotations

import pytest

from strongroom.audit.records import StoredEvent
from strongroom.services.cloudtrail import selection
from strongroom.services.cloudtrail.selection import SelectorError

FN = "arn:aws:lambda:us-east-1:000000000000:function:f"
OBJ = "arn:aws:s3:::logs-bucket/a/b.txt"


def event(
    name: str = "Encrypt",
    source: str = "kms.amazonaws.com",
    read_only: bool = False,
    management: bool = True,
    resources: list[dict[str, str]] | None = None,
) -> StoredEvent:
    return StoredEvent(
        "id", "000000000000", "us-east-1", 1.0, name, source, read_only, management,
        None, None, resources, {},
    )  # fmt: skip


INVOKE = event("Invoke", "lambda.amazonaws.com", False, False, [{"type": "AWS::Lambda::Function", "ARN": FN}])  # fmt: skip
GET_OBJECT = event("GetObject", "s3.amazonaws.com", True, False, [{"type": "AWS::S3::Object", "ARN": OBJ}])  # fmt: skip
DESCRIBE = event("DescribeKey", read_only=True)
ENCRYPT = event("Encrypt")
CREATE_USER = event("CreateUser", "iam.amazonaws.com")


def test_default_selects_every_management_event_and_no_data_event() -> None:
    m = selection.compile_stored(None)
    assert m.selects(ENCRYPT) and m.selects(DESCRIBE) and m.selects(CREATE_USER)
    assert not m.selects(INVOKE) and not m.selects(GET_OBJECT)
    assert not m.wants_data


def test_basic_read_write_type_and_excluded_sources() -> None:
    m = selection.compile_basic(
        selection.validate_basic(
            [{"ReadWriteType": "WriteOnly", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]
        )
    )
    assert m.selects(CREATE_USER)
    assert not m.selects(ENCRYPT)  # kms excluded
    ro = selection.compile_basic([{"ReadWriteType": "ReadOnly"}])
    assert ro.selects(DESCRIBE) and not ro.selects(ENCRYPT)


def test_basic_data_resources() -> None:
    m = selection.compile_basic(
        selection.validate_basic(
            [
                {
                    "IncludeManagementEvents": False,
                    "DataResources": [
                        {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::logs-bucket/a/"]},
                    ],
                }
            ]
        )
    )
    assert m.wants_data
    assert m.selects(INVOKE) and m.selects(GET_OBJECT)
    assert not m.selects(ENCRYPT)
    other = event("GetObject", "s3.amazonaws.com", True, False, [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::other/x"}])  # fmt: skip
    assert not m.selects(other)


def advanced(*fields: dict) -> selection.Matcher:
    return selection.compile_advanced(
        selection.validate_advanced([{"FieldSelectors": list(fields)}])
    )


MGMT = {"Field": "eventCategory", "Equals": ["Management"]}
DATA = {"Field": "eventCategory", "Equals": ["Data"]}


@pytest.mark.parametrize(
    ("operator", "values", "chosen"),
    [
        ("Equals", ["Invoke"], True),
        ("Equals", ["Other", "Invoke"], True),
        ("StartsWith", ["Inv"], True),
        ("EndsWith", ["oke"], True),
        ("NotEquals", ["Invoke"], False),
        ("NotStartsWith", ["In"], False),
        ("NotEndsWith", ["ke"], False),
        ("NotEquals", ["Other", "Else"], True),
        ("StartsWith", ["X"], False),
    ],
)
def test_every_operator(operator: str, values: list[str], chosen: bool) -> None:
    m = advanced(
        DATA,
        {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
        {"Field": "eventName", operator: values},
    )
    assert m.selects(INVOKE) is chosen


def test_fields_are_anded_and_selectors_ored() -> None:
    m = selection.compile_advanced(
        selection.validate_advanced(
            [
                {
                    "Name": "reads",
                    "FieldSelectors": [MGMT, {"Field": "readOnly", "Equals": ["true"]}],
                },
                {
                    "FieldSelectors": [
                        DATA,
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::logs-bucket/"]},
                    ]
                },
            ]
        )
    )
    assert m.selects(DESCRIBE) and m.selects(GET_OBJECT)
    assert not m.selects(ENCRYPT) and not m.selects(INVOKE)
    assert m.wants_data


def test_management_by_source() -> None:
    m = advanced(MGMT, {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]})
    assert m.selects(CREATE_USER) and not m.selects(ENCRYPT) and not m.selects(INVOKE)


@pytest.mark.parametrize(
    "selectors",
    [
        [{"FieldSelectors": [{"Field": "eventName", "Equals": ["X"]}]}],  # no eventCategory
        [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Insight"]}]}],
        [{"FieldSelectors": [MGMT, {"Field": "eventName", "Equals": ["X"]}]}],  # not for mgmt
        [{"FieldSelectors": [DATA]}],  # no resources.type
        [{"FieldSelectors": [MGMT, {"Field": "readOnly", "Equals": ["maybe"]}]}],
        [{"FieldSelectors": [MGMT, {"Field": "bogus", "Equals": ["x"]}]}],
        [{"FieldSelectors": [MGMT, MGMT]}],
        [],
    ],
)
def test_advanced_refusals(selectors: list[dict]) -> None:
    with pytest.raises(SelectorError):
        selection.validate_advanced(selectors)


@pytest.mark.parametrize(
    "selectors",
    [
        [{}] * 6,
        [{"DataResources": [{"Type": "AWS::EC2::Instance", "Values": ["x"]}]}],
        [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["bucket"]}]}],
        [{"ExcludeManagementEventSources": ["iam.amazonaws.com"]}],
    ],
)
def test_basic_refusals(selectors: list[dict]) -> None:
    with pytest.raises(SelectorError):
        selection.validate_basic(selectors)
