"""The evaluate() interface: decisions, matched statements, messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.auth.policy import (
    AuthzRequest,
    Decision,
    MatchedStatement,
    PolicySet,
    denial_message,
    evaluate,
    parse_policy,
)

ACCT = "111122223333"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def pol(*statements: dict[str, Any], kind: str = "identity"):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind)


def req(action: str = "kms:Decrypt", resource: str = KEY, **kw: Any) -> AuthzRequest:
    base: dict[str, Any] = {
        "action": action,
        "resource": resource,
        "principal_arn": BOB,
        "principal_account": ACCT,
        "principal_is_root": False,
        "resource_account": None,
        "context": {},
    }
    base.update(kw)
    return AuthzRequest(**base)


ALLOW = {"Sid": "AllowKms", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}
DENY = {"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}


def test_matched_statements_for_the_simulator() -> None:
    ident = PolicySet(
        "identity",
        (
            ("ReadOnly", pol(ALLOW, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})),
            ("Guard", pol(DENY)),
        ),
    )
    key = PolicySet(
        "resource",
        (
            (
                "key-policy",
                pol({**ALLOW, "Sid": "Root", "Principal": {"AWS": ACCT}}, kind="resource"),
            ),
        ),
    )
    d = evaluate(req(), ident, key)
    assert not d.allowed
    assert (d.reason, d.denied_by) == ("explicit_deny", "identity")
    assert d.matched == (
        MatchedStatement("key-policy", "Root", "Allow", 0, "resource"),
        MatchedStatement("ReadOnly", "AllowKms", "Allow", 0, "identity"),
        MatchedStatement("Guard", "NoDecrypt", "Deny", 0, "identity"),
    )
    assert d.matched[2].sid == "NoDecrypt" and d.matched[2][3] == 0


def test_decision_value_semantics() -> None:
    ident = PolicySet.of("identity", pol(ALLOW))
    a, b = evaluate(req(), ident), evaluate(req(), ident)
    assert a == b and hash(a) == hash(b)
    assert a == Decision(True, "allowed", None, a.matched)
    assert "allowed=True" in repr(a)
    assert a.matched == (MatchedStatement("identity-policy-1", "AllowKms", "Allow", 0, "identity"),)


def test_policy_set_of_and_kinds() -> None:
    p = pol(ALLOW)
    s = PolicySet.of("boundary", p, ("named", p))
    assert [name for name, _ in s.policies] == ["boundary-policy-1", "named"]
    with pytest.raises(ValueError):
        PolicySet("group", ())


def test_empty_sets_are_absent_limits() -> None:
    ident = PolicySet.of("identity", pol(ALLOW))
    empty = {k: PolicySet(k, ()) for k in ("boundary", "session", "scp")}
    d = evaluate(req(), ident, None, empty["boundary"], empty["session"], scp=empty["scp"])
    assert d.allowed
    assert not evaluate(req(), PolicySet("identity", ())).allowed


def test_resource_account_defaults_to_principal_account() -> None:
    ident = PolicySet.of("identity", pol(ALLOW))
    assert evaluate(req(resource_account=None), ident).allowed
    assert evaluate(req(resource_account=ACCT), ident).allowed
    d = evaluate(req(resource_account="999999999999"), ident)
    assert (d.reason, d.denied_by) == ("implicit_deny", "resource")


def test_principal_and_resource_account_keys_are_filled_in() -> None:
    ident = PolicySet.of(
        "identity",
        pol(
            {
                **ALLOW,
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": ACCT, "aws:ResourceAccount": ACCT}
                },
            }
        ),
    )
    assert evaluate(req(), ident).allowed
    assert not evaluate(req(context={"aws:ResourceAccount": "999999999999"}), ident).allowed


def test_explicit_deny_reports_first_kind() -> None:
    deny_all = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    d = evaluate(
        req(),
        PolicySet.of("identity", pol(deny_all)),
        PolicySet.of("resource", pol({**deny_all, "Principal": "*"}, kind="resource")),
        PolicySet.of("boundary", pol(deny_all, kind="boundary")),
    )
    assert (d.reason, d.denied_by) == ("explicit_deny", "resource")
    assert len(d.matched) == 3


def test_action_case_and_resource_case() -> None:
    ident = PolicySet.of(
        "identity", pol({"Effect": "Allow", "Action": "KMS:decrypt", "Resource": KEY})
    )
    assert evaluate(req(action="kms:Decrypt"), ident).allowed
    assert not evaluate(req(resource=KEY.upper()), ident).allowed


# --------------------------------------------------------------------------
# Denial messages
# --------------------------------------------------------------------------


def test_implicit_identity_message() -> None:
    d = evaluate(req(), PolicySet("identity", ()))
    assert denial_message(BOB, "kms:Decrypt", KEY, d) == (
        f"User: {BOB} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no identity-based policy allows the kms:Decrypt action"
    )


@pytest.mark.parametrize(
    ("reason", "kind", "tail"),
    [
        ("explicit_deny", "identity", "with an explicit deny in an identity-based policy"),
        ("explicit_deny", "resource", "with an explicit deny in a resource-based policy"),
        ("explicit_deny", "boundary", "with an explicit deny in a permissions boundary"),
        ("explicit_deny", "session", "with an explicit deny in a session policy"),
        ("explicit_deny", "scp", "with an explicit deny in a service control policy"),
        (
            "implicit_deny",
            "identity",
            "because no identity-based policy allows the kms:Decrypt action",
        ),
        (
            "implicit_deny",
            "resource",
            "because no resource-based policy allows the kms:Decrypt action",
        ),
        (
            "implicit_deny",
            "boundary",
            "because no permissions boundary allows the kms:Decrypt action",
        ),
        ("implicit_deny", "session", "because no session policy allows the kms:Decrypt action"),
        ("implicit_deny", "scp", "because no service control policy allows the kms:Decrypt action"),
    ],
)
def test_message_forms(reason: str, kind: str, tail: str) -> None:
    msg = denial_message(BOB, "kms:Decrypt", KEY, Decision(False, reason, kind, ()))
    assert msg == f"User: {BOB} is not authorized to perform: kms:Decrypt on resource: {KEY} {tail}"


def test_messages_from_evaluations() -> None:
    key_policy = PolicySet.of(
        "resource",
        pol(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            kind="resource",
        ),
    )
    ident = PolicySet.of("identity", pol(ALLOW))
    d = evaluate(
        req(),
        ident,
        key_policy,
        PolicySet.of(
            "boundary", pol({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, kind="boundary")
        ),
        resource_policy_required=True,
    )
    assert denial_message(BOB, "kms:Decrypt", KEY, d).endswith(
        "because no permissions boundary allows the kms:Decrypt action"
    )
    d = evaluate(req(), ident, PolicySet("resource", ()), resource_policy_required=True)
    assert denial_message(BOB, "kms:Decrypt", KEY, d).endswith(
        "because no resource-based policy allows the kms:Decrypt action"
    )


def test_no_message_for_an_allow() -> None:
    with pytest.raises(ValueError):
        denial_message(BOB, "kms:Decrypt", KEY, Decision(True, "allowed", None, ()))


def test_the_policy_cache_holds_under_threads() -> None:
    """Requests off the event loop share the compiled-policy cache: evictions
    in one thread never break another's lookup."""
    import threading

    from strongroom.auth.authorizer import PolicyCache

    cache = PolicyCache(size=8)
    statement = '{"Effect":"Allow","Action":"kms:Op%d","Resource":"*"}'
    texts = [
        '{"Version":"2012-10-17","Statement":[' + statement.replace("%d", str(i)) + "]}"
        for i in range(40)
    ]
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(200):
                for text in texts:
                    cache.get("identity", text)
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            failures.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(cache._items) <= 8
