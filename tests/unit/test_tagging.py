"""The tagging module (framework/tagging.py): each service's rule set, the
wire edges, merging and removal, and the condition-key contexts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from strongroom.framework import tagging
from strongroom.framework.tagging import Tag
from strongroom.protocol.errors import AwsError, errors_for


def fake_call(service: str) -> Any:
    return SimpleNamespace(service=SimpleNamespace(name=service, errors=errors_for(service)))


class S3Errors:
    """S3's InvalidTag and BadRequest are not in its model nor (yet) among
    the unmodelled errors strongroom lists: a stand-in namespace."""

    def by_code(self, code: str) -> type[AwsError]:
        return type(code, (AwsError,), {"code": code, "status": 400})


def s3_call() -> Any:
    return SimpleNamespace(service=SimpleNamespace(name="s3", errors=S3Errors()))


def error(exc: pytest.ExceptionInfo[AwsError]) -> tuple[str, str]:
    return exc.value.code, exc.value.message


def pairs(n: int, prefix: str = "k") -> list[Tag]:
    return [Tag(f"{prefix}{i}", f"v{i}") for i in range(n)]


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as exc:
        fn(*args, **kwargs)
    return error(exc)


# --------------------------------------------------------------------------- edges


def test_the_wire_shapes_convert_at_the_edges() -> None:
    kms_wire = [{"TagKey": "team", "TagValue": "a"}, {"TagKey": "env", "TagValue": ""}]
    tags = tagging.KMS.from_wire(kms_wire)
    assert tags == [Tag("team", "a"), Tag("env", "")]
    assert tagging.KMS.to_wire(tags) == kms_wire
    assert tagging.IAM.to_wire(tags) == [
        {"Key": "team", "Value": "a"},
        {"Key": "env", "Value": ""},
    ]
    assert tagging.IAM.from_wire([{"Key": "k"}]) == [Tag("k", "")]  # Value is optional there
    assert tagging.KMS.from_wire(None) == []
    rows = tagging.TagRules.to_rows(tags)
    assert rows == [["team", "a"], ["env", ""]]
    assert tagging.TagRules.from_rows(rows) == tags


def test_contexts() -> None:
    tags = [Tag("team", "a"), Tag("env", "dev")]
    assert tagging.request_context(tags) == {
        "aws:RequestTag/team": "a",
        "aws:RequestTag/env": "dev",
        "aws:TagKeys": ["team", "env"],
    }
    assert tagging.request_context(keys=["team"]) == {"aws:TagKeys": ["team"]}
    assert tagging.request_context(keys=[]) == {"aws:TagKeys": []}
    assert tagging.request_context() == {} == tagging.request_context([])
    assert tagging.resource_context(tags) == {
        "aws:ResourceTag/team": "a",
        "aws:ResourceTag/env": "dev",
    }


def test_unicode_tag_chars() -> None:
    assert tagging.unicode_tag_chars("Ünïcødé 42 _.:/=+-@ 東京")
    for bad in ("a,b", "a#", "a*", "tab\tbad", "a\\b", "a;b", "(x)"):
        assert not tagging.unicode_tag_chars(bad), bad


# --------------------------------------------------------------------------- KMS

KMS_RESERVED = ("TagException", "Tags beginning with aws: are reserved.")


def test_kms_rules() -> None:
    call, rules = fake_call("kms"), tagging.KMS
    rules.require_valid(call, pairs(50))
    assert fails(rules.require_valid, call, pairs(51)) == (
        "TagException",
        "Too many tags: a KMS key can have at most 50 tags.",
    )
    for prefix in ("aws:", "AWS:", "Aws:", "aWs:"):
        assert fails(rules.require_valid, call, [Tag(prefix + "x", "v")]) == KMS_RESERVED
        assert fails(rules.require_removable, call, [prefix + "x"]) == KMS_RESERVED
    rules.require_valid(call, [Tag("x-aws:", "aws:value")])  # only a key's prefix is reserved
    assert fails(rules.require_valid, call, [Tag("a", "1"), Tag("a", "2")]) == (
        "TagException",
        "Duplicate tag keys: a",
    )
    rules.require_valid(call, [Tag("a", "1"), Tag("A", "2")])  # case matters in KMS
    assert fails(rules.require_valid, call, [Tag("k" * 129, "v")])[0] == "TagException"
    assert fails(rules.require_valid, call, [Tag("k", "v" * 257)])[0] == "TagException"
    rules.require_valid(call, [Tag("k" * 128, "v" * 256), Tag("any,chars#", "")])


def test_kms_merge_overwrites_and_counts() -> None:
    call, rules = fake_call("kms"), tagging.KMS
    current = [Tag("team", "a"), Tag("env", "dev")]
    assert rules.merged(call, current, [Tag("team", "b"), Tag("new", "x")]) == [
        Tag("team", "b"),
        Tag("env", "dev"),
        Tag("new", "x"),
    ]
    assert rules.merged(call, pairs(49), [Tag("k0", "again"), Tag("last", "")])[-1] == Tag(
        "last", ""
    )
    assert fails(rules.merged, call, pairs(49), pairs(2, "n")) == (
        "LimitExceededException",
        "The request would exceed the tag limit.",
    )
    assert rules.without(current, ["env", "absent"]) == [Tag("team", "a")]
    assert rules.without(current, ["ENV"]) == current  # case matters


# --------------------------------------------------------------------------- IAM


def test_iam_rules() -> None:
    call, rules = fake_call("iam"), tagging.IAM
    assert fails(rules.require_valid, call, [Tag("Dept", "a"), Tag("dept", "b")]) == (
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )
    assert fails(rules.require_valid, call, [Tag("a,b", "v")])[0] == "InvalidInput"
    assert fails(rules.require_valid, call, [Tag("k", "v#")])[0] == "InvalidInput"
    assert fails(rules.require_valid, call, [Tag("", "v")])[0] == "InvalidInput"
    assert fails(rules.require_valid, call, [Tag("aws:x", "v")])[0] == "InvalidInput"
    assert fails(rules.require_valid, call, pairs(51), noun="User") == (
        "LimitExceeded",
        "Cannot exceed quota for TagsPerUser: 50",
    )
    rules.require_valid(call, [Tag("Cost Center", "a b/c=d+e-f@g:h_i.j")])


def test_iam_merge_is_case_insensitive() -> None:
    call, rules = fake_call("iam"), tagging.IAM
    merged = rules.merged(call, [Tag("Department", "finance")], [Tag("department", "Finance")])
    assert merged == [Tag("department", "Finance")]  # one key, the newer spelling
    assert fails(rules.merged, call, pairs(50), [Tag("more", "")], noun="Role") == (
        "LimitExceeded",
        "Cannot exceed quota for TagsPerRole: 50",
    )
    assert rules.without([Tag("Team", "a"), Tag("Env", "b")], ["TEAM"]) == [Tag("Env", "b")]


# --------------------------------------------------------------------------- Secrets Manager


def test_secrets_manager_rules() -> None:
    call, rules = fake_call("secretsmanager"), tagging.SECRETS_MANAGER
    assert fails(rules.require_valid, call, [Tag("aws:x", "v")])[0] == "InvalidParameterException"
    # Reserved in values too.
    assert fails(rules.require_valid, call, [Tag("k", "AWS:v")])[0] == "InvalidParameterException"
    assert fails(rules.require_valid, call, pairs(51))[0] == "InvalidParameterException"
    assert fails(rules.require_valid, call, [Tag("a", "1"), Tag("a", "2")])[0] == (
        "InvalidParameterException"
    )
    rules.require_valid(call, [Tag("a", "1"), Tag("A", "2")])  # case-sensitive
    # AWS's own tags on the secret do not count toward the 50.
    system = [Tag("aws:cloudformation:stack-name", "s")]
    assert len(rules.merged(call, system + pairs(49), [Tag("last", "")])) == 51
    assert fails(rules.merged, call, pairs(50), [Tag("more", "")])[0] == "LimitExceededException"


# --------------------------------------------------------------------------- RDS


def test_rds_rules() -> None:
    call, rules = fake_call("rds"), tagging.RDS
    for reserved in (Tag("rds:x", "v"), Tag("RDS:x", "v"), Tag("aws:x", "v"), Tag("k", "rds:v")):
        assert fails(rules.require_valid, call, [reserved])[0] == "InvalidParameterValue"
    assert fails(rules.require_valid, call, [Tag("k", "off(M-F,18)")]) == (
        "InvalidParameterValue",
        "Tag values may only contain unicode letters, digits, whitespace, or one of these "
        "symbols: _ . : / = + \\ - @",
    )
    assert fails(rules.require_valid, call, [Tag("k*", "v")])[1].startswith(
        "Tag keys may only contain"
    )
    assert fails(rules.require_valid, call, pairs(51))[0] == "InvalidParameterValue"
    rules.require_valid(call, [Tag("Name", "db-1"), Tag("owner", "a@b.c")])
    assert rules.to_wire([Tag("Name", "db-1")]) == [{"Key": "Name", "Value": "db-1"}]


# --------------------------------------------------------------------------- S3


def test_s3_bucket_rules() -> None:
    call, rules = s3_call(), tagging.S3_BUCKET
    rules.require_valid(call, pairs(50))
    assert fails(rules.require_valid, call, pairs(51)) == (
        "BadRequest",
        "Bucket tag count cannot be greater than 50",
    )
    assert fails(rules.require_valid, call, [Tag("a", "1"), Tag("a", "2")]) == (
        "InvalidTag",
        "Cannot provide multiple Tags with the same key",
    )
    assert fails(rules.require_valid, call, [Tag("k" * 129, "v")]) == (
        "InvalidTag",
        "The TagKey you have provided is invalid",
    )
    assert fails(rules.require_valid, call, [Tag("", "v")])[1] == (
        "The TagKey you have provided is invalid"
    )
    assert fails(rules.require_valid, call, [Tag("k", "v" * 257)]) == (
        "InvalidTag",
        "The TagValue you have provided is invalid",
    )
    assert fails(rules.require_valid, call, [Tag("aws:x", "v")])[0] == "InvalidTag"


def test_s3_object_rules() -> None:
    call, rules = s3_call(), tagging.S3_OBJECT
    rules.require_valid(call, pairs(10))
    assert fails(rules.require_valid, call, pairs(11)) == (
        "BadRequest",
        "Object tags cannot be greater than 10",
    )


# --------------------------------------------------------------------------- order


def test_checks_run_in_request_order() -> None:
    """The first bad tag decides the error, as AWS answers the first problem."""
    call, rules = s3_call(), tagging.S3_BUCKET
    assert fails(rules.require_valid, call, [Tag("a", "1"), Tag("a", "v" * 300)])[1] == (
        "The TagValue you have provided is invalid"
    )
    assert fails(rules.require_valid, call, [Tag("a", "1"), Tag("a", "2"), Tag("", "")])[1] == (
        "Cannot provide multiple Tags with the same key"
    )


def test_a_message_template_missing_a_name_is_no_crash() -> None:
    # IAM's quota message names the resource type; a caller that forgets it
    # still gets IAM's error, not a 500.
    code, message = fails(tagging.IAM.merged, fake_call("iam"), pairs(50), [Tag("x", "")])
    assert code == "LimitExceeded" and message.endswith(": 50")
