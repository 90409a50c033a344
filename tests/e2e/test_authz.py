"""IAM policies enforced end to end: roles assumed, calls allowed and denied
exactly as AWS's evaluation logic decides, and every denial audited."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def new_user(server: StrongroomServer, *, tags: list[dict] | None = None) -> tuple[str, dict]:
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name, Tags=tags or [])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def test_user_policy_allows_and_denies(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    as_user = server.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.list_users()
    assert code_of(exc) == "AccessDenied"
    iam.put_user_policy(
        UserName=name, PolicyName="read", PolicyDocument=doc(allow(["iam:List*", "iam:Get*"]))
    )
    assert as_user.list_users()["Users"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.create_user(UserName="nope-" + name)
    message = exc.value.response["Error"]["Message"]
    assert code_of(exc) == "AccessDenied"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        f"iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/nope-{name} "
        "because no identity-based policy allows the iam:CreateUser action"
    )


def test_explicit_deny_overrides_allow(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=doc(allow("iam:*")))
    iam.put_user_policy(
        UserName=name, PolicyName="no-list", PolicyDocument=doc(deny("iam:ListUsers"))
    )
    as_user = server.client("iam", **creds)
    as_user.list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.list_users()
    assert "with an explicit deny in an identity-based policy" in str(exc.value)
    # The denial is in the audit trail.
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}]
    )["Events"]
    denied = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "ListUsers"]
    assert denied and denied[0]["errorCode"] == "AccessDenied"


def test_managed_policy_attached_through_group(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    group = "g-" + uuid.uuid4().hex[:6]
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    as_user = server.client("iam", **creds)
    assert as_user.list_groups()["Groups"]
    iam.detach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError):
        as_user.list_groups()


def test_condition_on_source_ip(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    as_user = server.client("iam", **creds)
    iam.put_user_policy(
        UserName=name,
        PolicyName="office",
        PolicyDocument=doc(
            allow("iam:ListUsers", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        ),
    )
    with pytest.raises(botocore.exceptions.ClientError):
        as_user.list_users()
    iam.put_user_policy(
        UserName=name,
        PolicyName="office",
        PolicyDocument=doc(
            allow("iam:ListUsers", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
        ),
    )
    as_user.list_users()


def test_condition_on_principal_tag(server: StrongroomServer) -> None:
    iam = server.client("iam")
    tagged, tagged_creds = new_user(server, tags=[{"Key": "team", "Value": "db"}])
    plain, plain_creds = new_user(server)
    policy = doc(
        allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}})
    )
    for user in (tagged, plain):
        iam.put_user_policy(UserName=user, PolicyName="by-tag", PolicyDocument=policy)
    server.client("iam", **tagged_creds).list_roles()
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("iam", **plain_creds).list_roles()


def test_policy_variable_username(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    iam.put_user_policy(
        UserName=name,
        PolicyName="self",
        PolicyDocument=doc(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")),
    )
    as_user = server.client("iam", **creds)
    assert as_user.get_user(UserName=name)["User"]["UserName"] == name
    other, _ = new_user(server)
    with pytest.raises(botocore.exceptions.ClientError):
        as_user.get_user(UserName=other)


def _role(server: StrongroomServer, trust_principal: dict, **kw: object) -> str:
    name = "r-" + uuid.uuid4().hex[:8]
    trust = doc({"Effect": "Allow", "Principal": trust_principal, "Action": "sts:AssumeRole"})
    return server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kw)[
        "Role"
    ]["Arn"]


def test_assume_role_and_use_it(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    role_arn = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"})
    role_name = role_arn.rsplit("/", 1)[1]
    iam.put_role_policy(
        RoleName=role_name, PolicyName="list", PolicyDocument=doc(allow("iam:ListUsers"))
    )
    out = server.client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="s1")
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"
    temp = {
        "access_key_id": c["AccessKeyId"],
        "secret_access_key": c["SecretAccessKey"],
        "session_token": c["SessionToken"],
    }
    ident = server.client("sts", **temp).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert ident["UserId"].endswith(":s1") and ident["UserId"].startswith("AROA")
    as_role = server.client("iam", **temp)
    as_role.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_role.list_roles()
    assert f"assumed-role/{role_name}/s1 is not authorized to perform: iam:ListRoles" in str(
        exc.value
    )
    # A wrong session token does not authenticate.
    bad = dict(temp, session_token=c["SessionToken"][:-4] + "AAAA")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts", **bad).get_caller_identity()
    assert code_of(exc) == "InvalidClientTokenId"
    # The audit record names the role session and its issuer.
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": c["AccessKeyId"]}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    identity = next(r for r in records if "errorCode" not in r)["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert any(r.get("errorCode") == "InvalidClientTokenId" for r in records)
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    assert c["SecretAccessKey"] not in json.dumps(events, default=str)
    assert c["SessionToken"] not in json.dumps(events, default=str)


def test_session_policy_narrows(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    role_arn = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"})
    iam.put_role_policy(
        RoleName=role_arn.rsplit("/", 1)[1], PolicyName="all", PolicyDocument=doc(allow("iam:*"))
    )
    c = server.client("sts", **creds).assume_role(
        RoleArn=role_arn, RoleSessionName="narrow", Policy=doc(allow("iam:ListUsers"))
    )["Credentials"]
    as_role = server.client(
        "iam",
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
    )
    as_role.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_role.list_roles()
    assert "because no session policy allows the iam:ListRoles action" in str(exc.value)


def test_trust_policy_decides(server: StrongroomServer) -> None:
    name, creds = new_user(server)
    sts = server.client("sts", **creds)
    # Trusting someone else: denied.
    other = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.assume_role(RoleArn=other, RoleSessionName="xx")
    assert code_of(exc) == "AccessDenied"
    # Trusting the account: the user's own policies must allow sts:AssumeRole too.
    delegated = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role(RoleArn=delegated, RoleSessionName="xx")
    server.client("iam").put_user_policy(
        UserName=name, PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole", delegated))
    )
    sts.assume_role(RoleArn=delegated, RoleSessionName="xx")
    # A role that does not exist is simply denied; the root may not assume roles.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/missing", RoleSessionName="xx")
    assert code_of(exc) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts").assume_role(RoleArn=delegated, RoleSessionName="xx")
    assert "Roles may not be assumed by root accounts" in str(exc.value)


def test_duration_limits(server: StrongroomServer) -> None:
    name, creds = new_user(server)
    role_arn = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts", **creds).assume_role(
            RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7200
        )
    assert "MaxSessionDuration" in str(exc.value)


def test_get_session_token(server: StrongroomServer) -> None:
    name, creds = new_user(server)
    c = server.client("sts", **creds).get_session_token(DurationSeconds=900)["Credentials"]
    ident = server.client(
        "sts",
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
    ).get_caller_identity()
    assert ident["Arn"].endswith(f":user/{name}")


def test_simulator_matches_enforcement(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds = new_user(server)
    iam.put_user_policy(
        UserName=name,
        PolicyName="mixed",
        PolicyDocument=doc(allow("iam:List*"), deny("iam:ListRoles")),
    )
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    results = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["iam:ListUsers", "iam:ListRoles", "iam:CreateUser"]
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {
        "iam:ListUsers": "allowed",
        "iam:ListRoles": "explicitDeny",
        "iam:CreateUser": "implicitDeny",
    }
    as_user = server.client("iam", **creds)
    as_user.list_users()
    for call in (as_user.list_roles, lambda: as_user.create_user(UserName="x" + name)):
        with pytest.raises(botocore.exceptions.ClientError):
            call()
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "iam", "simulate-principal-policy", "--policy-source-arn", user_arn,
         "--action-names", "iam:ListUsers", "--output", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_session_expires_with_the_clock(
    strongroom_factory: Callable[..., StrongroomServer],
) -> None:
    server = strongroom_factory(time_travel=True)
    name, creds = new_user(server)
    role_arn = _role(server, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"})
    c = server.client("sts", **creds).assume_role(
        RoleArn=role_arn, RoleSessionName="short", DurationSeconds=900
    )["Credentials"]
    temp = server.client(
        "sts",
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
    )
    temp.get_caller_identity()
    server.advance_clock("16m")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        temp.get_caller_identity()
    assert code_of(exc) == "ExpiredToken"
