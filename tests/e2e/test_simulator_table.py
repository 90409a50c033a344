"""The simulator and enforcement agree, through a real server, on a slice of
the evaluation table (``tests/unit/policy/test_policy_evaluation_cases.py``).

For each slice: a new IAM user gets the case's identity policies (inline) and
its boundary (a managed policy, set as the user's permissions boundary);
SimulatePrincipalPolicy answers for that user; and where an IAM or STS
operation this server serves performs the case's action (or one the case's
policies treat the same way), that operation is called with the user's own
access key. The table's expected decision, the simulator's ``EvalDecision``
and the enforced outcome (success; AccessDenied with an explicit or an
implicit deny) must all be the same.

The simulator is given the request context the real request carries, and the
test checks it lacks nothing it needs: every context key it reports missing
is one the real request does not carry either.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
NO_RETRIES = Config(retries={"max_attempts": 1})


def _table() -> ModuleType:
    name = "test_policy_evaluation_cases"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "unit" / "policy" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


TABLE = _table()
CASES = {c.name: c for c in TABLE.CASES}
DECISIONS = {"allowed": "allowed", "explicit_deny": "explicitDeny", "implicit_deny": "implicitDeny"}


def on_server(value: Any) -> Any:
    """A table value (policy, ARN) with the table's account made the server's."""
    if isinstance(value, str):
        return value.replace(TABLE.ACCT, ACCOUNT)
    return json.loads(json.dumps(value).replace(TABLE.ACCT, ACCOUNT))


def user_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


# -- the slice --------------------------------------------------------------------


class Env(SimpleNamespace):
    """One slice's world: admin (root's IAM client), name and arn of the user,
    other (a second user's name), key_id and creds (the user's credentials),
    and the user's own ``iam`` and ``sts`` clients, made when first used."""

    def _client(self, service: str) -> Any:
        session = self.server.session(**self.creds)
        return session.client(service, endpoint_url=self.server.endpoint, config=NO_RETRIES)

    @cached_property
    def iam(self) -> Any:
        return self._client("iam")

    @cached_property
    def sts(self) -> Any:
        return self._client("sts")


Dynamic = Callable[[Env], Any]


@dataclass(frozen=True)
class Slice:
    case: str  # the table case: identity policies, boundary, expected decision
    #: The enforced call, with the user's own credentials; None when no served
    #: operation performs the action (the simulator is then checked alone).
    act: Dynamic | None = None
    action: str | None = None  # the enforced call's action when not the case's
    resource: str | Dynamic | None = None  # what enforcement authorizes on
    context: dict[str, Any] | Dynamic = field(default_factory=dict)  # the real request's
    #: Keys the policies read that the real request does not carry.
    absent: tuple[str, ...] = ()
    path: str = "/"
    tags: dict[str, str] = field(default_factory=dict)
    session: bool = False  # call with GetSessionToken credentials
    setup: Callable[[Env], None] | None = None  # more the call needs, made by the admin


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_name() -> str:
    return "n-" + uuid.uuid4().hex[:8]


XCOMPANY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/XCompanyBoundaries"
USERS = f"arn:aws:iam::{ACCOUNT}:user/*"
OWN: Dynamic = lambda e: e.arn  # noqa: E731
SOURCE_IP = {"aws:SourceIp": "127.0.0.1"}
ALLOW_NOTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
)


def _other_user(e: Env) -> None:
    e.other = _new_name()
    e.admin.create_user(UserName=e.other)


def _xcompany_boundaries(e: Env) -> None:
    """The boundary the delegated administrator must give new users, to exist."""
    try:
        e.admin.create_policy(
            PolicyName="XCompanyBoundaries", PolicyDocument=json.dumps(on_server(TABLE.XCOMPANY))
        )
    except e.admin.exceptions.EntityAlreadyExistsException:
        pass


SLICES = [
    # -- Allow / implicit deny / explicit deny, Action wildcards
    Slice("get-list-allows-get", lambda e: e.iam.get_user(), resource=OWN),
    Slice(
        "get-list-allows-list",
        lambda e: e.iam.list_roles(),
        resource=f"arn:aws:iam::{ACCOUNT}:role/*",
    ),
    Slice(
        "get-list-create-policy-implicit",
        lambda e: e.iam.create_policy(PolicyName=f"p-{e.name}", PolicyDocument=ALLOW_NOTHING),
        resource=lambda e: f"arn:aws:iam::{ACCOUNT}:policy/p-{e.name}",
    ),
    Slice(
        "action-infix-wildcard",
        lambda e: e.iam.create_access_key(),
        resource=OWN,
    ),
    # -- NotAction / NotResource
    Slice(
        "notaction-allow-other-service",
        lambda e: e.sts.get_access_key_info(AccessKeyId=e.key_id),
        action="sts:GetAccessKeyInfo",
    ),
    Slice(
        "notaction-allow-excludes-iam",
        lambda e: e.iam.create_user(UserName=f"x-{e.name}"),
        resource=lambda e: user_arn(f"x-{e.name}"),
    ),
    Slice(
        "notaction-mfa-long-term-keys-denied",
        lambda e: e.sts.get_access_key_info(AccessKeyId=e.key_id),
        action="sts:GetAccessKeyInfo",
        absent=("aws:MultiFactorAuthPresent",),
    ),
    Slice(
        "notaction-mfa-iam-not-denied",
        lambda e: e.iam.list_users(),
        resource=USERS,
    ),
    Slice(
        "deny-except-bucket-other-service",
        lambda e: e.iam.list_users(),
        action="iam:ListUsers",
        resource=USERS,
    ),
    Slice("notresource-payroll-excluded"),
    # -- Resource paths
    Slice("resource-path-wildcard", lambda e: e.iam.get_user(), resource=OWN, path="/accounting/"),
    Slice(
        "resource-path-wildcard-other-path",
        lambda e: e.iam.get_user(),
        resource=OWN,
        path="/finance/",
    ),
    # -- String operators on principal tags
    Slice(
        "string-equals-tag",
        lambda e: e.iam.list_access_keys(),
        resource=OWN,
        tags={"job-category": "iamuser-admin"},
        context={"aws:PrincipalTag/job-category": "iamuser-admin"},
    ),
    Slice(
        "string-equals-case-sensitive",
        lambda e: e.iam.list_access_keys(),
        resource=OWN,
        tags={"job-category": "IAMUser-Admin"},
        context={"aws:PrincipalTag/job-category": "IAMUser-Admin"},
    ),
    # -- Date operators: long-term keys carry no aws:TokenIssueTime
    Slice(
        "date-gt-no-token",
        lambda e: e.iam.list_access_keys(),
        resource=OWN,
        absent=("aws:TokenIssueTime",),
    ),
    Slice(
        "date-gt-fresh-token",
        lambda e: e.iam.list_access_keys(),
        resource=OWN,
        session=True,
        context=lambda e: {"aws:TokenIssueTime": _now()},
    ),
    # -- IP address operators (the test client is 127.0.0.1)
    Slice(
        "ip-out-of-range",
        lambda e: e.iam.create_access_key(),
        resource=OWN,
        context=SOURCE_IP,
    ),
    Slice(
        "deny-ip-outside",
        lambda e: e.iam.list_users(),
        action="iam:ListUsers",
        resource=USERS,
        context=SOURCE_IP,
    ),
    # -- Numeric operators (no served operation reads a number)
    Slice("numeric-le-greater"),
    # -- Set operators on aws:TagKeys
    Slice(
        "for-any-value-not-like-all-allowed",
        lambda e: e.iam.tag_user(
            UserName=e.name,
            Tags=[{"Key": "key1-a", "Value": "1"}, {"Key": "key2-b", "Value": "2"}],
        ),
        resource=OWN,
        context={"aws:TagKeys": ["key1-a", "key2-b"]},
    ),
    Slice(
        "for-any-value-not-like-one-other",
        lambda e: e.iam.tag_user(
            UserName=e.name,
            Tags=[{"Key": "key1-a", "Value": "1"}, {"Key": "team", "Value": "2"}],
        ),
        resource=OWN,
        context={"aws:TagKeys": ["key1-a", "team"]},
    ),
    Slice(
        "for-all-values-not-equals-forbidden",
        lambda e: e.iam.tag_user(
            UserName=e.name,
            Tags=[{"Key": "team", "Value": "1"}, {"Key": "owner", "Value": "2"}],
        ),
        resource=OWN,
        context={"aws:TagKeys": ["team", "owner"]},
    ),
    # -- Policy variables
    Slice("variable-own-home-object"),
    # -- Permissions boundaries
    Slice(
        "boundary-blocks-create-user",
        lambda e: e.iam.create_user(UserName=f"x-{e.name}"),
        resource=lambda e: user_arn(f"x-{e.name}"),
    ),
    Slice(
        "boundary-own-access-key",
        lambda e: e.iam.create_access_key(),
        resource=OWN,
        context=lambda e: {"aws:username": e.name},
    ),
    Slice(
        "boundary-other-users-access-key",
        lambda e: e.iam.create_access_key(UserName=e.other),
        resource=lambda e: user_arn(e.other),
        context=lambda e: {"aws:username": e.name},
        setup=_other_user,
    ),
    Slice(
        "boundary-condition-right-boundary",
        lambda e: e.iam.create_user(UserName=f"x-{e.name}", PermissionsBoundary=XCOMPANY_ARN),
        resource=lambda e: user_arn(f"x-{e.name}"),
        context={"iam:PermissionsBoundary": XCOMPANY_ARN},
        setup=_xcompany_boundaries,
    ),
    Slice(
        "boundary-condition-wrong-boundary",
        lambda e: e.iam.create_user(
            UserName=f"x-{e.name}",
            PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/AdminAccess",
        ),
        resource=lambda e: user_arn(f"x-{e.name}"),
        context={"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/AdminAccess"},
    ),
    Slice(
        "boundary-no-boundary-delete",
        lambda e: e.iam.delete_user_permissions_boundary(UserName=e.name),
        resource=OWN,
    ),
]

# -- running one ------------------------------------------------------------------


def _value(v: Any, e: Env) -> Any:
    return v(e) if callable(v) else v


def context_entries(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's and the real requests' context keys, typed as IAM types them."""
    kinds = {"aws:sourceip": "ip", "aws:tokenissuetime": "date", "s3:max-keys": "numeric"}
    out = []
    for name, value in context.items():
        if isinstance(value, list):
            entry = {"ContextKeyValues": [str(v) for v in value], "ContextKeyType": "stringList"}
        else:
            kind = kinds.get(name.lower(), "string")
            entry = {"ContextKeyValues": [str(value)], "ContextKeyType": kind}
        out.append({"ContextKeyName": name, **entry})
    return out


def _enforced(act: Dynamic, e: Env) -> str:
    """'allowed', 'explicitDeny' or 'implicitDeny': what the server did."""
    try:
        act(e)
    except botocore.exceptions.ClientError as exc:
        error = exc.response["Error"]
        assert error["Code"] == "AccessDenied", error
        if "with an explicit deny in" in error["Message"]:
            return "explicitDeny"
        assert " because no " in error["Message"], error
        return "implicitDeny"
    return "allowed"


@pytest.fixture(scope="module")
def admin(server: StrongroomServer) -> Any:
    return server.client("iam")


@pytest.mark.parametrize("s", SLICES, ids=[s.case for s in SLICES])
def test_simulator_matches_enforcement(server: StrongroomServer, admin: Any, s: Slice) -> None:
    c = CASES[s.case]
    expected = DECISIONS[c.expect[0]]
    name = _new_name()
    e = Env(server=server, admin=admin, name=name, arn=user_arn(name, s.path))
    admin.create_user(
        UserName=name, Path=s.path, Tags=[{"Key": k, "Value": v} for k, v in s.tags.items()]
    )
    for i, p in enumerate(c.identity):
        admin.put_user_policy(
            UserName=name, PolicyName=f"case-{i}", PolicyDocument=json.dumps(on_server(p))
        )
    if c.boundary is not None:
        arn = admin.create_policy(
            PolicyName=f"boundary-{name}", PolicyDocument=json.dumps(on_server(c.boundary))
        )["Policy"]["Arn"]
        admin.put_user_permissions_boundary(UserName=name, PermissionsBoundary=arn)
    if s.setup is not None:
        s.setup(e)

    if s.act is None:  # the table's own request, to the simulator alone
        action, resource, context = c.action, on_server(c.resource), c.context
    else:
        action = s.action or c.action
        resource = _value(s.resource, e) or "*"
        context = _value(s.context, e)
    [result] = admin.simulate_principal_policy(
        PolicySourceArn=e.arn,
        ActionNames=[action],
        ResourceArns=[resource],
        ContextEntries=context_entries(context),
    )["EvaluationResults"]
    decision = result["EvalDecision"]
    assert decision == expected, result
    if s.act is None:
        return
    # The simulation lacked nothing the real request carries.
    [specific] = result.get("ResourceSpecificResults") or [result]
    assert set(specific["MissingContextValues"]) <= set(s.absent), specific

    key = admin.create_access_key(UserName=name)["AccessKey"]
    e.key_id = key["AccessKeyId"]
    e.creds = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    if s.session:
        temp = e.sts.get_session_token()["Credentials"]
        e.creds = {
            "access_key_id": temp["AccessKeyId"],
            "secret_access_key": temp["SecretAccessKey"],
            "session_token": temp["SessionToken"],
        }
        del e.sts  # the session's clients from here on
    assert _enforced(s.act, e) == decision


def test_slices_cover_the_table() -> None:
    """Every slice is a table case, once; most make a real call."""
    assert len({s.case for s in SLICES}) == len(SLICES)
    assert all(s.case in CASES for s in SLICES)
    assert sum(s.act is not None for s in SLICES) >= 20
    assert {CASES[s.case].expect[0] for s in SLICES} == set(DECISIONS)
