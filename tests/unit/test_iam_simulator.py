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


# -- PolicyExclusionList and SCP levels (members of newer models) -------------------


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*"}


def _policy(policy_id: str, kind: str, action: str, **extra: Any) -> sim.SimPolicy:
    text = _doc(_allow(action))
    return sim.SimPolicy(policy_id, kind, text, parse_policy(text), **extra)


ATTACHED = [
    _policy("get", "user", "s3:GetObject", owner="alice"),
    _policy("list", "group", "s3:ListBucket", owner="Readers"),
    _policy("put", "user-managed", "s3:PutObject", arn="arn:aws:iam::111111111111:policy/app/put"),
    _policy("S3", "aws-managed", "s3:*", arn="arn:aws:iam::aws:policy/AmazonS3FullAccess"),
    _policy(
        "b", "user-managed", "s3:*", arn="arn:aws:iam::111111111111:policy/b", is_boundary=True
    ),
]


def _kept(*identifiers: dict[str, Any]) -> list[str]:
    return [p.policy_id for p in sim.without(ATTACHED, sim.exclusions(_call(), list(identifiers)))]


def test_exclusions_by_type() -> None:
    assert _kept() == ["get", "list", "put", "S3", "b"]
    assert _kept({"PolicyType": "inline"}) == ["put", "S3", "b"]
    assert _kept({"PolicyType": "aws-managed"}) == ["get", "list", "put", "b"]
    assert _kept({"PolicyType": "user-managed"}) == ["get", "list", "S3", "b"]
    assert _kept({"PolicyType": "permission-boundary"}) == ["get", "list", "put", "S3"]
    assert _kept({"PolicyType": "scp"}, {"PolicyType": "rcp"}) == ["get", "list", "put", "S3", "b"]


@pytest.mark.parametrize(
    ("arn", "kept"),
    [
        ("arn:aws:iam::111111111111:policy/app/put", ["get", "list", "S3", "b"]),
        ("arn:aws:iam::111111111111:policy/*", ["get", "list", "S3", "b"]),
        ("arn:aws:iam::111111111111:policy/app/p?t", ["get", "list", "S3", "b"]),
        ("arn:aws:iam::111111111111:policy/app/p?", ["get", "list", "put", "S3", "b"]),
        ("arn:aws:iam::aws:policy/Amazon*Access", ["get", "list", "put", "b"]),
        ("arn:aws:iam::222222222222:policy/app/put", ["get", "list", "put", "S3", "b"]),
        # The boundary is not an attached policy: only its PolicyType names it.
        ("arn:aws:iam::111111111111:policy/b", ["get", "list", "put", "S3", "b"]),
    ],
)
def test_exclusions_by_arn(arn: str, kept: list[str]) -> None:
    assert _kept({"PolicyArn": arn}) == kept


def test_exclusions_of_inline_policies() -> None:
    def inline(name: str, kind: str, entity: str) -> dict[str, Any]:
        return {
            "InlinePolicyIdentifier": {
                "PolicyName": name,
                "AttachmentType": kind,
                "AttachmentName": entity,
            }
        }

    assert _kept(inline("get", "user", "alice")) == ["list", "put", "S3", "b"]
    assert _kept(inline("get", "user", "ALICE")) == ["list", "put", "S3", "b"]
    assert _kept(inline("get", "user", "a*")) == ["list", "put", "S3", "b"]
    assert _kept(inline("get", "user", "al?ce")) == ["list", "put", "S3", "b"]
    assert _kept(inline("get", "group", "alice")) == ["get", "list", "put", "S3", "b"]
    assert _kept(inline("list", "group", "Read*")) == ["get", "put", "S3", "b"]
    assert _kept(inline("Get", "user", "alice")) == ["get", "list", "put", "S3", "b"]


@pytest.mark.parametrize(
    "identifier",
    [
        {},
        {"PolicyType": "inline", "PolicyArn": "arn:aws:iam::111111111111:policy/x"},
        {"PolicyType": "everything"},
        {"PolicyArn": "arn:aws:iam::*:policy/x"},
        {"PolicyArn": "arn:aws:iam::111111111111:policy/*a*"},
        {"PolicyArn": "arn:aws:iam::111111111111:role/x"},
        {"PolicyArn": "arn:aws:s3:::bucket"},
        {"PolicyArn": "arn:aws:iam:us-east-1:111111111111:policy/x"},
        {"InlinePolicyIdentifier": {"PolicyName": "p", "AttachmentType": "user"}},
        {"InlinePolicyIdentifier": {"PolicyName": "p", "AttachmentType": "x", "AttachmentName": "a"}},
        {"InlinePolicyIdentifier": {"PolicyName": "p*", "AttachmentType": "user", "AttachmentName": "a"}},
        {"InlinePolicyIdentifier": {"PolicyName": "p", "AttachmentType": "user", "AttachmentName": "**"}},
    ],
)  # fmt: skip
def test_malformed_identifiers_are_invalid_input(identifier: dict[str, Any]) -> None:
    with pytest.raises(Exception) as exc:
        sim.exclusions(_call(), [identifier])
    assert getattr(exc.value, "code", None) == "InvalidInput"


def _scp_simulation(*levels: list[str], actions: list[str]) -> list[dict[str, Any]]:
    identity = [_policy("PolicyInputList.1", "none", "s3:*")]
    organization = sim.organization_levels(
        _call(), [{"ServiceControlPolicyInputList": level} for level in levels]
    )
    return sim.simulate(
        _call(),
        identity=identity,
        boundary=[],
        resource_policy=None,
        actions=actions,
        resources=None,
        context={},
        caller_arn="arn:aws:iam::111111111111:user/u",
        resource_owner=None,
        organization=organization,
    )


def _org(results: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [
        (r["EvalDecision"], r["OrganizationsDecisionDetail"]["AllowedByOrganizations"])
        for r in results
    ]


def test_scp_every_level_must_allow() -> None:
    full = _doc(_allow("*"))
    reads = _doc(_allow("s3:Get*"))
    actions = ["s3:GetObject", "s3:PutObject"]
    assert _org(_scp_simulation([full], [full], actions=actions)) == [("allowed", True)] * 2
    for order in (([reads], [full]), ([full], [reads])):
        assert _org(_scp_simulation(*order, actions=actions)) == [
            ("allowed", True),
            ("implicitDeny", False),
        ]
    # Two SCPs at one level: either may allow.
    assert (
        _org(_scp_simulation([reads, _doc(_allow("s3:Put*"))], [full], actions=actions))
        == [("allowed", True)] * 2
    )
    # A level without SCPs allows nothing.
    assert _org(_scp_simulation([full], [], actions=actions)) == [("implicitDeny", False)] * 2
    # SCPs grant nothing: the identity policy must allow too.
    assert _org(_scp_simulation([full], actions=["ec2:RunInstances"])) == [("implicitDeny", True)]


def test_scp_explicit_deny_at_any_level() -> None:
    full = _doc(_allow("*"))
    no_put = _doc({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"})
    [get, put] = _scp_simulation([full], [full, no_put], actions=["s3:GetObject", "s3:PutObject"])
    assert (get["EvalDecision"], put["EvalDecision"]) == ("allowed", "explicitDeny")
    assert put["MatchedStatements"][0]["SourcePolicyId"] == (
        "OrderedOrganizationPolicyInputList.2.ServiceControlPolicyInputList.2"
    )
    assert put["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_scp_conditions_see_the_resource_account() -> None:
    only_mine = _doc(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceAccount": "111111111111"}},
        },
        _allow("*"),
    )
    identity = [_policy("PolicyInputList.1", "none", "s3:*")]
    organization = sim.organization_levels(
        _call(), [{"ServiceControlPolicyInputList": [only_mine]}]
    )
    common: dict[str, Any] = dict(
        identity=identity, boundary=[], resource_policy=None, actions=["s3:GetObject"],
        context={}, caller_arn="arn:aws:iam::111111111111:user/u", organization=organization,
    )  # fmt: skip
    [mine] = sim.simulate(_call(), resources=None, resource_owner=None, **common)
    [theirs] = sim.simulate(_call(), resources=None, resource_owner="222222222222", **common)
    assert (mine["EvalDecision"], theirs["EvalDecision"]) == ("allowed", "explicitDeny")
