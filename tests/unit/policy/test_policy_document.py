"""Parsing and validating policy documents: what is accepted, and IAM's
messages for what is not.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from strongroom.auth.policy import (
    CompiledPolicy,
    MalformedPolicy,
    PolicySizeExceeded,
    parse_policy,
    policy_size,
)

ACCT = "123456789012"


def doc(*statements: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17", **top}
    body["Statement"] = list(statements) if len(statements) != 1 else statements[0]
    return json.dumps(body)


def stmt(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def rstmt(**kw: Any) -> dict[str, Any]:
    return stmt(Principal={"AWS": ACCT}, **kw)


def malformed(text: str | dict[str, Any], kind: str = "identity", **kw: Any) -> str:
    if isinstance(text, dict):
        text = json.dumps(text)
    with pytest.raises(MalformedPolicy) as exc:
        parse_policy(text, kind, **kw)
    return str(exc.value)


# --------------------------------------------------------------------------
# Accepted documents
# --------------------------------------------------------------------------


def test_statement_object_or_list() -> None:
    one = parse_policy(doc(stmt()))
    two = parse_policy(doc(stmt(), stmt(Effect="Deny", Action=["s3:PutObject", "s3:Delete*"])))
    assert len(one.statements) == 1
    assert [s.effect for s in two.statements] == ["Allow", "Deny"]
    assert two.statements[1].actions == ("s3:PutObject", "s3:Delete*")
    assert two.statements[1].index == 1


def test_version_default_and_legacy() -> None:
    p = parse_policy(json.dumps({"Statement": stmt()}))
    assert p.version == "2008-10-17"
    assert not p.has_variables
    assert parse_policy(doc(stmt())).has_variables
    old = parse_policy(json.dumps({"Version": "2008-10-17", "Statement": [stmt()]}))
    assert old.version == "2008-10-17"


def test_id_and_sid() -> None:
    p = parse_policy(doc(stmt(Sid="ReadOnly1"), Id="cd3ad3d9-2776-4ef1-a904-4c229d1642ee"))
    assert p.id == "cd3ad3d9-2776-4ef1-a904-4c229d1642ee"
    assert p.statements[0].sid == "ReadOnly1"


def test_resource_policy_sids_may_hold_other_characters() -> None:
    # Services other than IAM have their own Sid rules (S3 allows spaces).
    p = parse_policy(doc(rstmt(Sid="Allow read access")), "resource")
    assert p.statements[0].sid == "Allow read access"


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": ACCT},
        {"AWS": f"arn:aws:iam::{ACCT}:root"},
        {"AWS": f"arn:aws:iam::{ACCT}:user/user-name"},
        {"AWS": f"arn:aws:iam::{ACCT}:user/division/team/user-name"},
        {"AWS": f"arn:aws:iam::{ACCT}:role/role-name"},
        {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/role-name/role-session-name"},
        {"AWS": f"arn:aws:sts::{ACCT}:federated-user/user-name"},
        {"AWS": "AROADBQP57FF2AEXAMPLE"},
        {"AWS": [f"arn:aws:iam::{ACCT}:root", "999999999999"]},
        {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/provider-name"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        {
            "AWS": [f"arn:aws:iam::{ACCT}:root", "999999999999"],
            "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        },
        {"AWS": f"arn:aws-cn:iam::{ACCT}:root"},
    ],
)
def test_principal_forms(principal: Any) -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    p = parse_policy(doc(stmt(Principal=principal)), "resource")
    assert p.statements[0].principal is not None


def test_principal_spec_contents() -> None:
    p = parse_policy(
        doc(
            stmt(
                Principal={
                    "AWS": [
                        ACCT,
                        "arn:aws:iam::999999999999:root",
                        f"arn:aws:iam::{ACCT}:user/bob",
                    ],
                    "Service": "sns.amazonaws.com",
                }
            )
        ),
        "resource",
    )
    spec = p.statements[0].principal
    assert spec is not None
    assert spec.accounts == {ACCT, "999999999999"}
    assert spec.arns == {f"arn:aws:iam::{ACCT}:user/bob"}
    assert spec.services == {"sns.amazonaws.com"}
    assert not spec.wildcard


def test_not_principal_in_resource_policy() -> None:
    p = parse_policy(doc(stmt(Effect="Deny", NotPrincipal={"AWS": ACCT})), "resource")
    assert p.statements[0].not_principal


def test_trust_policy_needs_no_resource() -> None:
    p = parse_policy(
        doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        "trust",
    )
    assert p.statements[0].resources is None


def test_condition_values_of_every_json_type() -> None:
    p = parse_policy(
        doc(
            stmt(
                Condition={
                    "Bool": {"aws:MultiFactorAuthPresent": True},
                    "NumericLessThan": {"s3:max-keys": 10},
                    "NumericGreaterThan": {"aws:MultiFactorAuthAge": 1.5},
                    "StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
                }
            )
        )
    )
    values = {c.operator: c.values for c in p.statements[0].conditions}
    assert values == {
        "Bool": ("true",),
        "NumericLessThan": ("10",),
        "NumericGreaterThan": ("1.5",),
        "StringEquals": ("us-east-1", "eu-west-1"),
    }


def test_operator_names_are_canonicalised() -> None:
    p = parse_policy(
        doc(stmt(Condition={"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "team*"}}))
    )
    c = p.statements[0].conditions[0]
    assert (c.operator, c.set_op, c.if_exists, c.key) == (
        "ForAnyValue:StringLikeIfExists",
        "ForAnyValue",
        True,
        "aws:TagKeys",
    )


def test_bytes_and_mapping_input() -> None:
    text = doc(stmt())
    assert parse_policy(text.encode()).statements[0].effect == "Allow"
    assert parse_policy(json.loads(text)).statements[0].effect == "Allow"


def test_compiled_policy_is_immutable() -> None:
    p = parse_policy(doc(stmt()))
    assert isinstance(p, CompiledPolicy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.version = "2008-10-17"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.statements[0].effect = "Deny"  # type: ignore[misc]
    assert isinstance(p.statements, tuple)


def test_statements_indexed_by_service() -> None:
    p = parse_policy(
        doc(
            stmt(Action="s3:Get*"),
            stmt(Action="kms:Decrypt"),
            stmt(NotAction="iam:*", Action=None),
            stmt(Action="*"),
            stmt(Action=["KMS:Encrypt", "s3:PutObject"]),
        )
    )
    assert [s.index for s in p.statements_for("kms:decrypt")] == [1, 2, 3]
    assert [s.index for s in p.statements_for("kms:encrypt")] == [2, 3, 4]
    assert [s.index for s in p.statements_for("s3:getobject")] == [0, 2, 3]
    assert [s.index for s in p.statements_for("iam:getuser")] == [3]
    # cached: the same tuple object comes back
    assert p.statements_for("kms:decrypt") is p.statements_for("kms:decrypt")


def test_policy_size_ignores_white_space() -> None:
    text = doc(stmt())
    padded = text.replace(",", ",\n        ")
    assert policy_size(padded) == policy_size(text)
    parse_policy(padded, max_size=policy_size(text))


# --------------------------------------------------------------------------
# Malformed documents and IAM's messages
# --------------------------------------------------------------------------

SYNTAX = "Syntax errors in policy."


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{",
        "[]",
        '"a string"',
        '{"Version": "2012-10-17", "Statement": []}',
        '{"Version": "2012-10-17", "Statement": "Allow everything"}',
        '{"Version": "2012-10-17", "Statement": ["x"]}',
        # duplicate keys: "Individual elements must not contain multiple
        # instances of the same key"
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Effect": "Deny",'
        ' "Action": "s3:*", "Resource": "*"}}',
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": {"Effect": "Allow",'
        ' "Action": "s3:*", "Resource": "*"}}',
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",'
        ' "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": NaN}}}}',
    ],
)
def test_syntax_errors(text: str) -> None:
    assert malformed(text) == SYNTAX


def test_invalid_utf8() -> None:
    with pytest.raises(MalformedPolicy, match="Syntax errors"):
        parse_policy(b'{"Statement": "\xff"}')


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (stmt(Action=5), SYNTAX),
        (stmt(Action=["s3:GetObject", 5]), SYNTAX),
        (stmt(Resource={"arn": "x"}), SYNTAX),
        (stmt(Sid=7), SYNTAX),
        (stmt(Condition="aws:SecureTransport"), SYNTAX),
        (stmt(Condition={"Bool": "true"}), SYNTAX),
        (stmt(Condition={"Bool": {}}), SYNTAX),
        (stmt(Condition={"StringEquals": {"aws:username": {"a": "b"}}}), SYNTAX),
        (stmt(Condition={"StringEquals": {"aws:username": []}}), SYNTAX),
        (stmt(Condition={"StringEquals": {"aws:username": None}}), SYNTAX),
    ],
)
def test_wrongly_typed_elements(statement: dict[str, Any], message: str) -> None:
    assert malformed(doc(statement)) == message


def test_unknown_fields() -> None:
    assert malformed(doc(stmt(), Statements=[])) == "Unknown field Statements"
    assert malformed(doc(stmt(Effects="Allow"))) == "Unknown field Effects"
    # element names are case-sensitive
    assert malformed(doc({"effect": "Allow", "Action": "s3:*", "Resource": "*"})) == (
        "Unknown field effect"
    )


@pytest.mark.parametrize("version", ["2012-10-18", "2012-10-17 ", "2012/10/17", 2012, None])
def test_bad_version_fails_legacy_parsing(version: Any) -> None:
    text = json.dumps({"Version": version, "Statement": stmt()})
    assert malformed(text) == "The policy failed legacy parsing"


def test_missing_statement() -> None:
    assert malformed(json.dumps({"Version": "2012-10-17"})) == "Missing required field Statement"


def test_id_must_be_a_string() -> None:
    assert malformed(doc(stmt(), Id=12)) == SYNTAX


def test_effect() -> None:
    assert malformed(doc(stmt(Effect=None))) == "Missing required field Effect"
    assert malformed(doc(stmt(Effect="allow"))) == "Invalid effect: allow"
    assert malformed(doc(stmt(Effect="Permit"))) == "Invalid effect: Permit"


@pytest.mark.parametrize("kind", ["identity", "boundary", "session"])
@pytest.mark.parametrize("element", ["Principal", "NotPrincipal"])
def test_identity_policies_name_no_principal(kind: str, element: str) -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    # "You cannot use the Principal element in an identity-based policy."
    assert malformed(doc(stmt(**{element: {"AWS": ACCT}})), kind) == (
        "Policy document should not specify a principal."
    )


@pytest.mark.parametrize("kind", ["resource", "trust"])
def test_resource_and_trust_policies_need_a_principal(kind: str) -> None:
    statement = stmt() if kind == "resource" else stmt(Resource=None)
    assert malformed(doc(statement), kind) == "Missing required field Principal"


def test_principal_and_not_principal_together() -> None:
    message = malformed(doc(rstmt(NotPrincipal={"AWS": ACCT})), "resource")
    assert "Principal" in message and "NotPrincipal" in message


def test_trust_policies_have_no_resource() -> None:
    base = {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"}
    assert malformed(doc({**base, "Resource": "*"}), "trust") == "Has prohibited field Resource"
    assert malformed(doc({**base, "NotResource": "*"}), "trust") == (
        "Has prohibited field NotResource"
    )


@pytest.mark.parametrize(
    "principal",
    [
        "bob",
        "",
        {},
        {"AWS": "bob"},
        {"AWS": "12345678901"},
        {"AWS": f"arn:aws:iam::{ACCT}:user/*"},
        {"AWS": f"arn:aws:iam::{ACCT}:role/dev-*"},
        {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/role-name/*"},
        {"AWS": "arn:aws:iam::*:root"},
        {"AWS": f"arn:aws:s3:::{ACCT}"},
        {"AWS": 123456789012},
        {"AWS": []},
        {"Service": "*"},
        {"Service": "*.amazonaws.com"},
        {"Users": ACCT},
        ["*"],
    ],
)
def test_invalid_principals(principal: Any) -> None:
    # "You cannot use a wildcard to match part of a principal name or ARN."
    assert malformed(doc(stmt(Principal=principal)), "resource") == "Invalid principal in policy"


def test_actions_required() -> None:
    assert malformed(doc(stmt(Action=None))) == "Policy statement must contain actions."
    assert malformed(doc(stmt(Action=[]))) == "Policy statement must contain actions."
    message = malformed(doc(stmt(NotAction="s3:PutObject")))
    assert "Action" in message and "NotAction" in message


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            "s3GetObject",
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            "GetObject*",
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        ("ec2:ec2:CreateNetworkInterface", "Actions/Condition can contain only one colon."),
        ("*:Untag*", "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"),
        ("s?:GetObject", "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"),
        ("s3:", "Invalid Action: s3:"),
        (":GetObject", "Invalid Action: :GetObject"),
        ("s3:Get Object", "Invalid Action: s3:Get Object"),
    ],
)
def test_invalid_actions(action: str, message: str) -> None:
    assert malformed(doc(stmt(Action=action))) == message


def test_resources_required() -> None:
    assert malformed(doc(stmt(Resource=None))) == "Policy statement must contain resources."
    assert malformed(doc(stmt(Resource=[]))) == "Policy statement must contain resources."
    assert malformed(doc(rstmt(Resource=None)), "resource") == (
        "Policy statement must contain resources."
    )
    message = malformed(doc(stmt(NotResource="arn:aws:s3:::b")))
    assert "Resource" in message and "NotResource" in message


@pytest.mark.parametrize(
    "resource", ["bucket", "arn:aws:s3", "s3://bucket/key", "arn:aws:s3::bucket"]
)
def test_resource_must_be_an_arn(resource: str) -> None:
    assert malformed(doc(stmt(Resource=resource))) == (
        f'Resource {resource} must be in ARN format or "*".'
    )


def test_sid_rules() -> None:
    assert malformed(doc(stmt(Sid="Allow read"))) == (
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
        "regular expression [0-9A-Za-z]*"
    )
    assert malformed(doc(stmt(Sid="One"), stmt(Sid="One"))) == (
        "Statement IDs (SID) in a single policy must be unique."
    )
    # empty Sids do not collide
    parse_policy(doc(stmt(Sid=""), stmt(Sid="")))


@pytest.mark.parametrize(
    "operator",
    [
        "StringEqual",
        "stringequalsz",
        "ForSomeValues:StringEquals",
        "ForAllValues:",
        "NullIfExists",
        "Bool:Bool",
        "IpAddressIfExistsIfExists",
        "BinaryNotEquals",
    ],
)
def test_unknown_condition_operator(operator: str) -> None:
    text = doc(stmt(Condition={operator: {"aws:username": "bob"}}))
    assert malformed(text) == f"Invalid Condition type : {operator}"


def test_operator_names_are_not_case_sensitive() -> None:
    p = parse_policy(doc(stmt(Condition={"stringequalsignorecase": {"aws:username": "bob"}})))
    assert p.statements[0].conditions[0].operator == "StringEqualsIgnoreCase"


def test_condition_key_needs_a_vendor() -> None:
    text = doc(stmt(Condition={"IpAddress": {"SourceIp": "10.0.0.0/8"}}))
    assert malformed(text) == (
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    )


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("NumericEquals", "ten"),
        ("NumericLessThan", "${aws:MultiFactorAuthAge}"),  # no variables with Numeric
        ("DateGreaterThan", "yesterday"),
        ("DateLessThan", "2020-13-01T00:00:00Z"),
        ("IpAddress", "300.1.1.1/8"),
        ("NotIpAddress", "10.0.0.0/33"),
        ("Bool", "yes"),
        ("BinaryEquals", "not base64!"),
        ("Null", "maybe"),
    ],
)
def test_invalid_condition_values(operator: str, value: str) -> None:
    text = doc(stmt(Condition={operator: {"aws:SomeKey": value}}))
    assert malformed(text) == f"Invalid Condition value for {operator}: {value}"


def test_size_quota() -> None:
    text = doc(stmt())
    size = policy_size(text)
    parse_policy(text, max_size=size)
    with pytest.raises(PolicySizeExceeded) as exc:
        parse_policy(text, max_size=size - 1)
    assert str(exc.value) == f"Cannot exceed quota for PolicySize: {size - 1}"
    assert isinstance(exc.value, MalformedPolicy)
    with pytest.raises(PolicySizeExceeded):
        parse_policy(json.loads(text), max_size=10)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        parse_policy(doc(stmt()), "group")
