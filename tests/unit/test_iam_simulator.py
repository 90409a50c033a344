"""Pieces of the IAM policy simulator that need no server."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from strongroom.auth.policy import parse_policy
from strongroom.protocol.errors import errors_for
from strongroom.services.iam import simulator as sim
from strongroom.services.iam.managed import aws_managed_policies


def test_statement_spans_of_an_array() -> None:
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
        '    {\n      "Effect": "Deny",\n      "Action": "s3:Delete*",\n'
        '      "Resource": "*"\n    }\n  ]\n}'
    )
    spans = sim.statement_spans(text)
    assert spans == [
        ({"Line": 4, "Column": 5}, {"Line": 4, "Column": 59}),
        ({"Line": 5, "Column": 5}, {"Line": 9, "Column": 6}),
    ]


def test_statement_spans_of_one_object_with_escapes() -> None:
    text = '{"Id": "a\\"}{", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
    [(start, end)] = sim.statement_spans(text)
    assert start == {"Line": 1, "Column": text.index('{"Effect"') + 1}
    assert end == {"Line": 1, "Column": len(text)}


def _call() -> Any:
    return SimpleNamespace(service=SimpleNamespace(errors=errors_for("iam")), account="1" * 12)


def test_context_entries_by_type() -> None:
    entries = [
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"], "ContextKeyType": "ip"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"},
        {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["TRUE"], "ContextKeyType": "boolean"},
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["7"], "ContextKeyType": "numeric"},
        {"ContextKeyName": "x:flags", "ContextKeyValues": ["True", "false"], "ContextKeyType": "booleanList"},
    ]  # fmt: skip
    assert sim.context_from_entries(_call(), entries) == {
        "aws:SourceIp": "10.0.0.1",
        "aws:TagKeys": ["a", "b"],
        "aws:SecureTransport": "true",
        "s3:max-keys": "7",
        "x:flags": ["true", "false"],
    }
    bad = [{"ContextKeyName": "a:b", "ContextKeyValues": ["yes"], "ContextKeyType": "boolean"}]
    with pytest.raises(Exception) as exc:
        sim.context_from_entries(_call(), bad)
    assert getattr(exc.value, "code", None) == "InvalidInput"


def test_context_keys_include_variables() -> None:
    policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::b/${aws:username}/*",
                        "Condition": {
                            "StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"},
                            "Bool": {"aws:SecureTransport": "true"},
                        },
                    }
                ],
            }
        )
    )
    assert sim.context_keys([policy]) == [
        "aws:username",
        "s3:prefix",
        "aws:PrincipalTag/team",
        "aws:SecureTransport",
    ]


def test_simulation_decisions_and_missing_values() -> None:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                 "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::locked/*"},
            ],
        }
    )  # fmt: skip
    policy = sim.SimPolicy("PolicyInputList.1", "none", text, parse_policy(text))
    common: dict[str, Any] = dict(
        identity=[policy], boundary=[], resource_policy=None, actions=["s3:GetObject"],
        caller_arn="arn:aws:iam::111111111111:user/u", resource_owner=None,
    )  # fmt: skip
    [missing] = sim.simulate(_call(), resources=None, context={}, **common)
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["aws:SourceIp"]
    [ok] = sim.simulate(_call(), resources=None, context={"aws:SourceIp": "10.2.3.4"}, **common)
    assert ok["EvalDecision"] == "allowed" and ok["MissingContextValues"] == []
    assert ok["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    [denied] = sim.simulate(
        _call(), resources=["arn:aws:s3:::locked/k"], context={"aws:SourceIp": "10.2.3.4"}, **common
    )
    assert denied["EvalDecision"] == "explicitDeny"
    assert [s["StartPosition"]["Column"] for s in denied["MatchedStatements"]] == [
        text.index('{"Effect": "Deny"') + 1
    ]


def test_aws_managed_policies_parse() -> None:
    found = aws_managed_policies()
    assert len(found) >= 11
    for policy in found.values():
        parse_policy(policy.document)
        assert policy.arn.startswith("arn:aws:iam::aws:policy/")
