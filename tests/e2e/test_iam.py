"""IAM end to end with boto3 (and the aws CLI): groups, roles, managed and
inline policies, tags, permissions boundaries, the account views and the
policy simulator, with AWS's error codes and statuses."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(*args, **kwargs)
    code, status = error_of(exc)
    return code, status, exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def iam(server: StrongroomServer) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def raw_iam(server: StrongroomServer) -> Any:
    """A client that sends what botocore would refuse to, to see the server's answer."""
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    return server.client("iam", config=config)


@pytest.fixture
def user(iam: Any) -> Iterator[str]:
    name = uid("u")
    iam.create_user(UserName=name)
    yield name


# -- groups --------------------------------------------------------------------------


def test_group_lifecycle_and_membership(iam: Any, user: str) -> None:
    name = uid("g")
    group = iam.create_group(GroupName=name, Path="/teams/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/teams/{name}"
    assert group["GroupId"].startswith("AGPA")
    assert fails(iam.create_group, GroupName=name.upper())[:2] == ("EntityAlreadyExists", 409)

    iam.add_user_to_group(GroupName=name, UserName=user)
    iam.add_user_to_group(GroupName=name, UserName=user)  # idempotent
    got = iam.get_group(GroupName=name)
    assert got["Group"]["GroupName"] == name
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [name]
    assert name in [g["GroupName"] for g in iam.list_groups(PathPrefix="/teams/")["Groups"]]
    assert name not in [g["GroupName"] for g in iam.list_groups(PathPrefix="/other/")["Groups"]]

    # A user in a group cannot be deleted; a group with members neither.
    code, status, message = fails(iam.delete_user, UserName=user)
    assert (code, status) == ("DeleteConflict", 409)
    code, status, message = fails(iam.delete_group, GroupName=name)
    assert (code, status, message) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    )

    new_name = uid("g2")
    iam.update_group(GroupName=name, NewGroupName=new_name, NewPath="/moved/")
    assert fails(iam.get_group, GroupName=name)[:2] == ("NoSuchEntity", 404)
    moved = iam.get_group(GroupName=new_name)
    assert moved["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/moved/{new_name}"
    assert [u["UserName"] for u in moved["Users"]] == [user]  # membership follows

    iam.remove_user_from_group(GroupName=new_name, UserName=user)
    assert fails(iam.remove_user_from_group, GroupName=new_name, UserName=user)[:2] == (
        "NoSuchEntity",
        404,
    )
    assert iam.list_groups_for_user(UserName=user)["Groups"] == []
    iam.delete_group(GroupName=new_name)
    iam.delete_user(UserName=user)
    code, status, message = fails(iam.get_group, GroupName=new_name)
    assert (code, status, message) == (
        "NoSuchEntity",
        404,
        f"The group with name {new_name} cannot be found.",
    )
    assert fails(iam.add_user_to_group, GroupName=new_name, UserName="nobody")[:2] == (
        "NoSuchEntity",
        404,
    )


def test_group_members_paginate(iam: Any) -> None:
    name = uid("g")
    iam.create_group(GroupName=name)
    names = [uid("m") for _ in range(3)]
    for n in names:
        iam.create_user(UserName=n)
        iam.add_user_to_group(GroupName=name, UserName=n)
    first = iam.get_group(GroupName=name, MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    rest = iam.get_group(GroupName=name, Marker=first["Marker"])
    assert sorted(u["UserName"] for u in first["Users"] + rest["Users"]) == sorted(names)
    paginator = iam.get_paginator("get_group")
    seen = [
        u["UserName"] for p in paginator.paginate(GroupName=name, MaxItems=1) for u in p["Users"]
    ]
    assert sorted(seen) == sorted(names)


# -- roles ---------------------------------------------------------------------------


def test_role_lifecycle(iam: Any) -> None:
    name = uid("r")
    role = iam.create_role(
        RoleName=name,
        Path="/app/",
        AssumeRolePolicyDocument=TRUST,
        Description="db access",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "db"}],
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app/{name}"
    assert role["RoleId"].startswith("AROA")
    # botocore decodes the URL-encoded document into a dict.
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert fails(iam.create_role, RoleName=name, AssumeRolePolicyDocument=TRUST)[:2] == (
        "EntityAlreadyExists",
        409,
    )

    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "db access"
    assert got["Tags"] == [{"Key": "team", "Value": "db"}]
    assert got["RoleLastUsed"] == {}
    listed = {r["RoleName"]: r for r in iam.list_roles(PathPrefix="/app/")["Roles"]}
    assert name in listed and "Tags" not in listed[name]

    iam.update_role(RoleName=name, Description="changed", MaxSessionDuration=43200)
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("changed", 43200)
    assert (
        iam.update_role_description(RoleName=name, Description="again")["Role"]["Description"]
        == "again"
    )

    new_trust = doc({"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"},
                     "Action": "sts:AssumeRole"})  # fmt: skip
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=new_trust)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(new_trust)

    iam.delete_role(RoleName=name)
    code, status, message = fails(iam.get_role, RoleName=name)
    assert (code, status, message) == (
        "NoSuchEntity",
        404,
        f"The role with name {name} cannot be found.",
    )


def test_role_validation(iam: Any, raw_iam: Any) -> None:
    name = uid("r")
    for duration in (3599, 43201):
        code, status, _ = fails(
            raw_iam.create_role,
            RoleName=name,
            AssumeRolePolicyDocument=TRUST,
            MaxSessionDuration=duration,
        )
        assert (code, status) == ("ValidationError", 400)
    # A trust policy needs a principal and may not name a resource.
    no_principal = doc({"Effect": "Allow", "Action": "sts:AssumeRole"})
    code, status, message = fails(
        iam.create_role, RoleName=name, AssumeRolePolicyDocument=no_principal
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert message == "Missing required field Principal"
    with_resource = doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
         "Resource": "*"}
    )  # fmt: skip
    assert fails(iam.create_role, RoleName=name, AssumeRolePolicyDocument=with_resource)[:2] == (
        "MalformedPolicyDocument",
        400,
    )
    not_sts = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject"})
    assert fails(iam.create_role, RoleName=name, AssumeRolePolicyDocument=not_sts)[0] == (
        "MalformedPolicyDocument"
    )
    huge = doc(
        {"Effect": "Allow", "Principal": {"AWS": [ACCOUNT] * 200}, "Action": "sts:AssumeRole"}
    )
    code, status, message = fails(iam.create_role, RoleName=name, AssumeRolePolicyDocument=huge)
    assert (code, status, message) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for ACLSizePerRole: 2048",
    )
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert fails(iam.update_assume_role_policy, RoleName=name, PolicyDocument="{")[0] == (
        "MalformedPolicyDocument"
    )
    assert fails(iam.update_role, RoleName=uid("none"), Description="x")[:2] == (
        "NoSuchEntity",
        404,
    )


# -- customer managed policies ------------------------------------------------------


def test_managed_policy_versions(iam: Any) -> None:
    name = uid("p")
    v1 = doc(allow("s3:GetObject"))
    policy = iam.create_policy(
        PolicyName=name, Path="/db/", PolicyDocument=v1, Description="read",
        Tags=[{"Key": "k", "Value": "v"}],
    )["Policy"]  # fmt: skip
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/db/{name}"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    assert policy["PolicyId"].startswith("ANPA") and policy["IsAttachable"] is True
    code, status, message = fails(iam.create_policy, PolicyName=name, PolicyDocument=v1)
    assert (code, status) == ("EntityAlreadyExists", 409)
    assert message == f"A policy called {name} already exists. Duplicate names are not allowed."

    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "read" and got["Tags"] == [{"Key": "k", "Value": "v"}]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(v1) and version["IsDefaultVersion"] is True

    for i in range(2, 6):
        created = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=doc(allow(f"s3:Get{i}")), SetAsDefault=(i == 3)
        )["PolicyVersion"]
        assert created["VersionId"] == f"v{i}"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    code, status, message = fails(
        iam.create_policy_version, PolicyArn=arn, PolicyDocument=doc(allow("s3:Get6"))
    )
    assert (code, status) == ("LimitExceeded", 409)
    assert message.startswith("A managed policy can have up to 5 versions.")

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]

    code, status, message = fails(iam.delete_policy_version, PolicyArn=arn, VersionId="v3")
    assert (code, status, message) == (
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert fails(iam.get_policy_version, PolicyArn=arn, VersionId="v2")[:2] == ("NoSuchEntity", 404)
    assert (
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=v1)["PolicyVersion"]["VersionId"]
        == "v6"
    )  # version numbers are never reused
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v6")
    assert fails(iam.set_default_policy_version, PolicyArn=arn, VersionId="v9")[:2] == (
        "NoSuchEntity",
        404,
    )

    # Deleting needs the non-default versions gone first.
    assert fails(iam.delete_policy, PolicyArn=arn)[:2] == ("DeleteConflict", 409)
    for v in ("v1", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    code, status, message = fails(iam.get_policy, PolicyArn=arn)
    assert (code, status, message) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


def test_policy_documents_are_validated(iam: Any, user: str) -> None:
    code, status, message = fails(
        iam.create_policy, PolicyName=uid("p"), PolicyDocument='{"Statement": []}'
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    code, _, message = fails(
        iam.create_policy,
        PolicyName=uid("p"),
        PolicyDocument=doc({"Effect": "Allow", "Action": "s3:GetObject"}),
    )
    assert (code, message) == (
        "MalformedPolicyDocument",
        "Policy statement must contain resources.",
    )
    code, _, message = fails(
        iam.put_user_policy,
        UserName=user,
        PolicyName="bad",
        PolicyDocument=doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}),
    )
    assert (code, message) == ("MalformedPolicyDocument", "Invalid effect: Maybe")

    big = doc(allow([f"s3:GetObject{i:04d}" for i in range(400)]))
    code, status, message = fails(iam.create_policy, PolicyName=uid("p"), PolicyDocument=big)
    assert (code, status, message) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for PolicySize: 6144",
    )

    # Inline quotas count every inline policy of the entity, without white space.
    half = doc(allow([f"s3:Get{i:03d}" for i in range(90)]))
    iam.put_user_policy(UserName=user, PolicyName="one", PolicyDocument=half)
    code, status, message = fails(
        iam.put_user_policy, UserName=user, PolicyName="two", PolicyDocument=half
    )
    assert (code, status) == ("LimitExceeded", 409)
    assert message == f"Maximum policy size of 2048 bytes exceeded for user {user}"
    iam.put_user_policy(UserName=user, PolicyName="one", PolicyDocument=half)  # a replacement fits


def test_inline_policies_for_users_groups_roles(iam: Any, user: str) -> None:
    group, role = uid("g"), uid("r")
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    document = doc(allow("kms:Decrypt"))
    cases = [
        ("user", "UserName", user, iam.put_user_policy, iam.get_user_policy,
         iam.list_user_policies, iam.delete_user_policy, iam.delete_user),
        ("group", "GroupName", group, iam.put_group_policy, iam.get_group_policy,
         iam.list_group_policies, iam.delete_group_policy, iam.delete_group),
        ("role", "RoleName", role, iam.put_role_policy, iam.get_role_policy,
         iam.list_role_policies, iam.delete_role_policy, iam.delete_role),
    ]  # fmt: skip
    for kind, member, name, put, get, list_, delete, delete_entity in cases:
        put(**{member: name}, PolicyName="b", PolicyDocument=document)
        put(**{member: name}, PolicyName="a", PolicyDocument=document)
        got = get(**{member: name}, PolicyName="a")
        assert got[member] == name and got["PolicyName"] == "a"
        assert got["PolicyDocument"] == json.loads(document)
        assert list_(**{member: name})["PolicyNames"] == ["a", "b"]
        code, status, message = fails(delete_entity, **{member: name})
        assert (code, status, message) == (
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete policies first.",
        )
        delete(**{member: name}, PolicyName="a")
        delete(**{member: name}, PolicyName="b")
        code, status, message = fails(get, **{member: name}, PolicyName="a")
        assert (code, status, message) == (
            "NoSuchEntity",
            404,
            f"The {kind} policy with name a cannot be found.",
        )
        assert fails(delete, **{member: name}, PolicyName="a")[:2] == ("NoSuchEntity", 404)
        assert fails(put, **{member: uid("none")}, PolicyName="a", PolicyDocument=document)[:2] == (
            "NoSuchEntity",
            404,
        )
        delete_entity(**{member: name})


def test_attach_detach_and_counts(iam: Any, user: str) -> None:
    group, role = uid("g"), uid("r")
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    arn = iam.create_policy(PolicyName=uid("p"), PolicyDocument=doc(allow("rds:*")))["Policy"][
        "Arn"
    ]
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    cases = [
        ("UserName", user, iam.attach_user_policy, iam.detach_user_policy,
         iam.list_attached_user_policies, iam.delete_user),
        ("GroupName", group, iam.attach_group_policy, iam.detach_group_policy,
         iam.list_attached_group_policies, iam.delete_group),
        ("RoleName", role, iam.attach_role_policy, iam.detach_role_policy,
         iam.list_attached_role_policies, iam.delete_role),
    ]  # fmt: skip
    for member, name, attach, _, list_, _ in cases:
        attach(**{member: name}, PolicyArn=arn)
        attach(**{member: name}, PolicyArn=admin)
        attached = list_(**{member: name})["AttachedPolicies"]
        assert {p["PolicyArn"] for p in attached} == {arn, admin}
        assert list_(**{member: name}, PathPrefix="/nope/")["AttachedPolicies"] == []
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3

    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1

    code, status, message = fails(iam.delete_policy, PolicyArn=arn)
    assert (code, status, message) == (
        "DeleteConflict",
        409,
        "Cannot delete a policy attached to entities.",
    )
    for member, name, _, detach, list_, delete_entity in cases:
        assert fails(delete_entity, **{member: name})[:3] == (
            "DeleteConflict",
            409,
            "Cannot delete entity, must detach all policies first.",
        )
        detach(**{member: name}, PolicyArn=arn)
        detach(**{member: name}, PolicyArn=admin)
        assert fails(detach, **{member: name}, PolicyArn=arn)[:2] == ("NoSuchEntity", 404)
        assert list_(**{member: name})["AttachedPolicies"] == []
        delete_entity(**{member: name})
    iam.delete_policy(PolicyArn=arn)

    missing = f"arn:aws:iam::{ACCOUNT}:policy/{uid('none')}"
    other = iam.create_user(UserName=uid("u"))["User"]["UserName"]
    code, status, message = fails(iam.attach_user_policy, UserName=other, PolicyArn=missing)
    assert (code, status, message) == (
        "NoSuchEntity",
        404,
        f"Policy {missing} does not exist or is not attachable.",
    )
    assert fails(iam.attach_user_policy, UserName=other, PolicyArn="arn:aws:s3:::bucket-x")[:2] == (
        "InvalidInput",
        400,
    )


def test_attached_policy_quota(iam: Any, user: str) -> None:
    arns = [
        iam.create_policy(PolicyName=uid("q"), PolicyDocument=doc(allow("s3:GetObject")))["Policy"][
            "Arn"
        ]
        for _ in range(11)
    ]
    for arn in arns[:10]:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    code, status, message = fails(iam.attach_user_policy, UserName=user, PolicyArn=arns[10])
    assert (code, status, message) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for PoliciesPerUser: 10",
    )


def test_aws_managed_policies(iam: Any, user: str) -> None:
    aws = {p["PolicyName"]: p for p in iam.list_policies(Scope="AWS")["Policies"]}
    for name in (
        "AdministratorAccess", "ReadOnlyAccess", "SecretsManagerReadWrite",
        "AWSKeyManagementServicePowerUser", "AmazonS3ReadOnlyAccess", "PowerUserAccess",
        "IAMReadOnlyAccess", "AmazonRDSFullAccess", "AWSCloudTrail_ReadOnlyAccess",
        "CloudWatchLogsReadOnlyAccess", "AmazonRDSDirectoryServiceAccess",
    ):  # fmt: skip
        assert name in aws
    rds_ds = aws["AmazonRDSDirectoryServiceAccess"]
    assert rds_ds["Arn"] == "arn:aws:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess"
    assert rds_ds["Path"] == "/service-role/"
    assert (
        iam.list_policies(Scope="AWS", PathPrefix="/service-role/")["Policies"][0]["PolicyName"]
        == "AmazonRDSDirectoryServiceAccess"
    )

    arn = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    assert document["Statement"][0]["Action"][0] == "secretsmanager:*"
    admin = iam.get_policy_version(
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", VersionId="v1"
    )["PolicyVersion"]["Document"]
    assert admin["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]

    # Never deletable or editable.
    assert fails(iam.delete_policy, PolicyArn=arn)[:2] == ("InvalidInput", 400)
    assert fails(iam.create_policy_version, PolicyArn=arn, PolicyDocument=doc(allow("s3:*")))[
        :2
    ] == ("InvalidInput", 400)
    assert fails(iam.tag_policy, PolicyArn=arn, Tags=[{"Key": "a", "Value": "b"}])[1] == 400
    assert fails(iam.get_policy, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")[:2] == (
        "NoSuchEntity",
        404,
    )

    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] >= 1
    attached = iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]
    assert arn in [p["Arn"] for p in attached]
    local_only = iam.list_policies(Scope="Local")["Policies"]
    assert all(not p["Arn"].startswith("arn:aws:iam::aws:") for p in local_only)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)


def test_list_policies_pages(iam: Any) -> None:
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(uid("pp") for _ in range(3))
    for n in names:
        iam.create_policy(PolicyName=n, Path=prefix, PolicyDocument=doc(allow("s3:GetObject")))
    first = iam.list_policies(Scope="Local", PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["Policies"]) == 2
    rest = iam.list_policies(Scope="Local", PathPrefix=prefix, Marker=first["Marker"])
    assert [p["PolicyName"] for p in first["Policies"] + rest["Policies"]] == names
    assert not rest["IsTruncated"]


# -- tags and permissions boundaries ------------------------------------------------


def test_tags_for_users_roles_policies(iam: Any, raw_iam: Any, user: str) -> None:
    role = uid("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    arn = iam.create_policy(PolicyName=uid("p"), PolicyDocument=doc(allow("s3:*")))["Policy"]["Arn"]
    cases = [
        (iam.tag_user, iam.untag_user, iam.list_user_tags, {"UserName": user}),
        (iam.tag_role, iam.untag_role, iam.list_role_tags, {"RoleName": role}),
        (iam.tag_policy, iam.untag_policy, iam.list_policy_tags, {"PolicyArn": arn}),
    ]
    for tag, untag, list_, ident in cases:
        tag(**ident, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "db"}])
        tag(**ident, Tags=[{"Key": "env", "Value": "prod"}])
        assert list_(**ident)["Tags"] == [
            {"Key": "env", "Value": "prod"},
            {"Key": "team", "Value": "db"},
        ]
        untag(**ident, TagKeys=["team", "absent"])
        assert list_(**ident)["Tags"] == [{"Key": "env", "Value": "prod"}]
        many = [{"Key": f"k{i}", "Value": "v"} for i in range(49)]
        tag(**ident, Tags=many)
        assert len(list_(**ident)["Tags"]) == 50
        code, status, _ = fails(tag, **ident, Tags=[{"Key": "one-more", "Value": "v"}])
        assert (code, status) == ("LimitExceeded", 409)
        assert list_(**ident, MaxItems=10)["IsTruncated"] is True
    assert iam.get_user(UserName=user)["User"]["Tags"][0] == {"Key": "env", "Value": "prod"}
    assert fails(iam.tag_user, UserName=uid("none"), Tags=[{"Key": "a", "Value": "b"}])[:2] == (
        "NoSuchEntity",
        404,
    )
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert fails(raw_iam.create_user, UserName=uid("u"), Tags=too_many)[:2] == (
        "ValidationError",
        400,
    )


def test_permissions_boundaries(iam: Any, user: str) -> None:
    arn = iam.create_policy(PolicyName=uid("b"), PolicyDocument=doc(allow("s3:*")))["Policy"]["Arn"]
    role = uid("r")
    created = iam.create_role(
        RoleName=role, AssumeRolePolicyDocument=TRUST, PermissionsBoundary=arn
    )
    assert created["Role"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": arn,
    }
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=arn)
    assert (
        iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 2
    used = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert arn in [p["Arn"] for p in used]
    as_boundary = iam.list_entities_for_policy(
        PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary"
    )
    assert [u["UserName"] for u in as_boundary["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in as_boundary["PolicyRoles"]] == [role]
    assert fails(iam.delete_policy, PolicyArn=arn)[:2] == ("DeleteConflict", 409)

    missing = f"arn:aws:iam::{ACCOUNT}:policy/{uid('none')}"
    code, status, message = fails(
        iam.put_role_permissions_boundary, RoleName=role, PermissionsBoundary=missing
    )
    assert (code, status, message) == (
        "NoSuchEntity",
        404,
        f"Scope ARN: {missing} does not exist or is not attachable.",
    )
    iam.put_role_permissions_boundary(
        RoleName=role, PermissionsBoundary="arn:aws:iam::aws:policy/PowerUserAccess"
    )
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == (
        "arn:aws:iam::aws:policy/PowerUserAccess"
    )
    iam.delete_role_permissions_boundary(RoleName=role)
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]
    iam.delete_policy(PolicyArn=arn)


def test_update_user_renames_and_keeps_keys(server: StrongroomServer, iam: Any) -> None:
    name, new_name = uid("u"), uid("renamed")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(allow("iam:GetUser")))
    iam.update_user(UserName=name, NewUserName=new_name, NewPath="/ops/")
    user = iam.get_user(UserName=new_name)["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/{new_name}"
    assert iam.list_user_policies(UserName=new_name)["PolicyNames"] == ["p"]
    sts = server.client(
        "sts", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    assert sts.get_caller_identity()["Arn"] == user["Arn"]
    assert fails(iam.get_user, UserName=name)[:2] == ("NoSuchEntity", 404)


# -- account views -------------------------------------------------------------------


def test_get_account_authorization_details(iam: Any, user: str) -> None:
    group, role = uid("g"), uid("r")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    document = doc(allow("kms:Encrypt"))
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=document)
    iam.put_group_policy(GroupName=group, PolicyName="ginline", PolicyDocument=document)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    arn = iam.create_policy(PolicyName=uid("p"), PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)

    details = iam.get_account_authorization_details()
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    assert users[user]["GroupList"] == [group]
    assert users[user]["UserPolicyList"] == [
        {"PolicyName": "inline", "PolicyDocument": json.loads(document)}
    ]
    assert users[user]["AttachedManagedPolicies"][0]["PolicyArn"] == arn
    groups = {g["GroupName"]: g for g in details["GroupDetailList"]}
    assert groups[group]["GroupPolicyList"][0]["PolicyName"] == "ginline"
    roles = {r["RoleName"]: r for r in details["RoleDetailList"]}
    assert roles[role]["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert roles[role]["AttachedManagedPolicies"][0]["PolicyName"] == "ReadOnlyAccess"
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert policies[arn]["PolicyVersionList"][0]["Document"] == json.loads(document)
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in policies  # attached AWS policy
    assert "arn:aws:iam::aws:policy/PowerUserAccess" not in policies  # not attached

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["RoleDetailList"]

    paged, marker = [], None
    while True:
        kwargs = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        out = iam.get_account_authorization_details(**kwargs)
        paged += [u["UserName"] for u in out["UserDetailList"]]
        if not out["IsTruncated"]:
            break
        marker = out["Marker"]
    assert user in paged


# -- the simulator -------------------------------------------------------------------


def test_simulate_principal_policy(iam: Any, user: str) -> None:
    group = uid("g")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    inline = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},\n'
        '    {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"}\n'
        "  ]\n}"
    )
    iam.put_user_policy(UserName=user, PolicyName="reads", PolicyDocument=inline)
    iam.attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
    )
    source = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    out = iam.simulate_principal_policy(
        PolicySourceArn=source,
        ActionNames=["s3:GetObject", "kms:CreateKey", "kms:Decrypt"],
    )
    results = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    read = results["s3:GetObject"]
    assert read["EvalDecision"] == "allowed" and read["EvalResourceName"] == "*"
    assert read["MatchedStatements"] == [
        {
            "SourcePolicyId": "reads",
            "SourcePolicyType": "user",
            "StartPosition": {"Line": 4, "Column": 5},
            "EndPosition": {"Line": 4, "Column": 82},
        }
    ]
    assert results["kms:CreateKey"]["EvalDecision"] == "allowed"
    assert results["kms:CreateKey"]["MatchedStatements"][0]["SourcePolicyType"] == "aws-managed"
    assert results["kms:Decrypt"]["EvalDecision"] == "implicitDeny"
    assert results["kms:Decrypt"]["MatchedStatements"] == []

    denied = iam.simulate_principal_policy(
        PolicySourceArn=source,
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::secret/key", "arn:aws:s3:::public/key"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in denied] == ["explicitDeny", "allowed"]
    assert denied[0]["MatchedStatements"][0]["StartPosition"] == {"Line": 5, "Column": 5}
    assert denied[0]["ResourceSpecificResults"][0]["EvalResourceDecision"] == "explicitDeny"

    # Extra input policies and a permissions boundary.
    extra = doc(allow("rds:DescribeDBInstances"))
    out = iam.simulate_principal_policy(
        PolicySourceArn=source,
        ActionNames=["rds:DescribeDBInstances", "s3:GetObject"],
        PolicyInputList=[extra],
        PermissionsBoundaryPolicyInputList=[doc(allow("rds:*"))],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r for r in out}
    assert decisions["rds:DescribeDBInstances"]["EvalDecision"] == "allowed"
    assert decisions["rds:DescribeDBInstances"]["MatchedStatements"][0]["SourcePolicyId"] == (
        "PolicyInputList.1"
    )
    assert decisions["s3:GetObject"]["EvalDecision"] == "implicitDeny"
    assert decisions["s3:GetObject"]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": False
    }

    # Roles and groups are sources too.
    role = uid("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=doc(allow("logs:*")))
    out = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", ActionNames=["logs:GetLogEvents"]
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    out = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/{group}", ActionNames=["kms:ListKeys"]
    )
    assert out["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"] == (
        "AWSKeyManagementServicePowerUser"
    )
    assert fails(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{uid('none')}",
        ActionNames=["s3:GetObject"],
    )[:2] == ("NoSuchEntity", 404)


def test_simulate_custom_policy_conditions_and_context(iam: Any) -> None:
    policy = doc(
        allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow("s3:PutObject", Condition={"NumericLessThan": {"s3:max-keys": "10"}}),
        allow("s3:ListBucket", Condition={"Bool": {"aws:SecureTransport": "true"}}),
        allow("s3:DeleteObject", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
        allow("s3:GetBucketTagging", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}),
        allow("s3:GetObjectAcl", Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}}),
    )  # fmt: skip
    entries = [
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"},
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["5"], "ContextKeyType": "numeric"},
        {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["TRUE"],
         "ContextKeyType": "boolean"},
        {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": ["2024-05-05T00:00:00Z"],
         "ContextKeyType": "date"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["b", "c"],
         "ContextKeyType": "stringList"},
    ]  # fmt: skip
    actions = [
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject",
        "s3:GetBucketTagging", "s3:GetObjectAcl",
    ]  # fmt: skip
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=actions, ContextEntries=entries
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r for r in out}
    for action in actions[:5]:
        assert decisions[action]["EvalDecision"] == "allowed", action
        assert decisions[action]["MatchedStatements"][0]["SourcePolicyType"] == "none"
    acl = decisions["s3:GetObjectAcl"]
    assert acl["EvalDecision"] == "implicitDeny"
    assert acl["MissingContextValues"] == ["aws:PrincipalTag/team"]

    outside = iam.simulate_custom_policy(
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject"],
        ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["192.0.2.1"],
                         "ContextKeyType": "ip"}],
    )["EvaluationResults"][0]  # fmt: skip
    assert outside["EvalDecision"] == "implicitDeny"

    # A resource policy, another owner's resource and a caller.
    bucket_policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS":
         f"arn:aws:iam::{ACCOUNT}:user/alice"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared/*"}]}
    )  # fmt: skip
    result = iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:GetObject"))],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::shared/x"],
        ResourcePolicy=bucket_policy,
        ResourceOwner="arn:aws:iam::111122223333:root",
        CallerArn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert {s["SourcePolicyType"] for s in result["MatchedStatements"]} == {"none", "resource"}
    result = iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:GetObject"))],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::shared/x"],
        ResourcePolicy=bucket_policy,
        ResourceOwner="arn:aws:iam::111122223333:root",
        CallerArn=f"arn:aws:iam::{ACCOUNT}:user/bob",
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"  # cross account: both must allow

    assert fails(iam.simulate_custom_policy, PolicyInputList=["{"], ActionNames=["s3:GetObject"])[
        :2
    ] == ("InvalidInput", 400)


def test_simulator_pages_and_context_keys(iam: Any, user: str) -> None:
    policy = doc(
        allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*",
              Condition={"StringEquals": {"s3:prefix": "home/"}}),
        allow("kms:Decrypt", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )  # fmt: skip
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert set(keys) == {"aws:username", "s3:prefix", "aws:MultiFactorAuthPresent"}
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy)
    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{user}",
        PolicyInputList=[doc(allow("s3:*", Condition={"StringLike": {"s3:delimiter": "/"}}))],
    )["ContextKeyNames"]
    assert {"aws:username", "s3:prefix", "aws:MultiFactorAuthPresent", "s3:delimiter"} <= set(keys)

    actions = [f"s3:Get{i}" for i in range(5)]
    first = iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, MaxItems=3
    )
    assert first["IsTruncated"] and len(first["EvaluationResults"]) == 3
    rest = iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, Marker=first["Marker"]
    )
    assert [
        r["EvalActionName"] for r in first["EvaluationResults"] + rest["EvaluationResults"]
    ] == (actions)


# -- authorization and the CLI ------------------------------------------------------


def test_operations_authorize_on_the_entity_arn(server: StrongroomServer, iam: Any) -> None:
    name = uid("u")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = server.client(
        "iam", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    group = uid("g")
    code, status, message = fails(as_user.create_group, GroupName=group, Path="/x/")
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:CreateGroup on resource: arn:aws:iam::{ACCOUNT}:group/x/{group}" in message
    code, _, message = fails(as_user.get_policy, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert "iam:GetPolicy on resource: arn:aws:iam::aws:policy/ReadOnlyAccess" in message


def test_aws_cli_iam(server: StrongroomServer, iam: Any) -> None:
    env = {**os.environ, **server.aws_env()}
    name = uid("cli")
    document = doc(allow("secretsmanager:GetSecretValue"))

    def aws(*args: str) -> Any:
        out = subprocess.run(
            ["aws", "iam", *args, "--output", "json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(out.stdout) if out.stdout.strip() else None

    created = aws("create-policy", "--policy-name", name, "--policy-document", document)
    arn = created["Policy"]["Arn"]
    version = aws("get-policy-version", "--policy-arn", arn, "--version-id", "v1")
    assert version["PolicyVersion"]["Document"] == json.loads(document)
    listed = aws("list-policies", "--scope", "Local")
    assert arn in [p["Arn"] for p in listed["Policies"]]
    aws("delete-policy", "--policy-arn", arn)
    assert fails(iam.get_policy, PolicyArn=arn)[0] == "NoSuchEntity"
