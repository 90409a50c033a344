"""IAM, the rest of the model, end to end with boto3: service-linked roles,
AWS managed policies the seed's services use, and the fidelity of CreateRole,
CreatePolicy, GetPolicy and Attach*Policy answers; each operation refused to
a forged signature, a caller with no policy and kept within its account."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore
import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer, add_account

ACCOUNT = "000000000000"
OTHER = "111111111111"
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


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(*args, **kwargs)
    err = exc.value.response
    return (
        err["Error"]["Code"],
        err["ResponseMetadata"]["HTTPStatusCode"],
        err["Error"].get("Message", ""),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_accounts(request: pytest.FixtureRequest) -> Iterator[tuple[StrongroomServer, dict]]:
    """One server, two accounts: the default one and OTHER (its root key returned)."""
    store_url = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        store_url = pg.create_database("s" + uuid.uuid4().hex[:12])
    with tempfile.TemporaryDirectory(prefix="strongroom-m-") as data_dir:
        other = add_account(data_dir, OTHER, store_url=store_url)
        with StrongroomServer(data_dir, store_url=store_url) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts: tuple[StrongroomServer, dict]) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def iam(server: StrongroomServer) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def other_iam(server: StrongroomServer, two_accounts: tuple[StrongroomServer, dict]) -> Any:
    return server.client("iam", **two_accounts[1])


@pytest.fixture(scope="module")
def forged(server: StrongroomServer) -> Any:
    return server.client("iam", secret_access_key="x" * 40)


@pytest.fixture(scope="module")
def nobody(server: StrongroomServer, iam: Any) -> Any:
    """A user of the account with no policy at all."""
    name = uid("nobody")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client(
        "iam", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


def refused(client: Any, method: str, **kwargs: Any) -> str:
    code, status, _ = fails(getattr(client, method), **kwargs)
    assert status == 403, (code, status)
    return code


# -- service-linked roles -------------------------------------------------------


def test_service_linked_role_for_rds(iam: Any) -> None:
    role = iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForRDS"
    assert role["Path"] == "/aws-service-role/rds.amazonaws.com/"
    assert role["Arn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"
    )
    assert role["RoleId"].startswith("AROA")
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": ["rds.amazonaws.com"]}
    attached = iam.list_attached_role_policies(RoleName="AWSServiceRoleForRDS")["AttachedPolicies"]
    assert attached == [
        {
            "PolicyName": "AmazonRDSServiceRolePolicy",
            "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AmazonRDSServiceRolePolicy",
        }
    ]
    assert iam.get_role(RoleName="AWSServiceRoleForRDS")["Role"]["Arn"] == role["Arn"]

    # A second one is refused, as is a suffix RDS does not take.
    code, status, message = fails(
        iam.create_service_linked_role, AWSServiceName="rds.amazonaws.com"
    )
    assert (code, status) == ("InvalidInput", 400)
    assert message == (
        "Service role name AWSServiceRoleForRDS has been taken in this account, "
        "please try a different suffix."
    )
    assert fails(
        iam.create_service_linked_role, AWSServiceName="rds.amazonaws.com", CustomSuffix="x"
    ) == ("InvalidInput", 400, "Custom suffix is not allowed for rds.amazonaws.com")

    # Only the service changes it.
    protected = (
        "UnmodifiableEntity",
        400,
        "Cannot perform the operation on the protected role 'AWSServiceRoleForRDS' "
        "- this role is only modifiable by AWS",
    )
    assert fails(iam.delete_role, RoleName="AWSServiceRoleForRDS") == protected
    assert (
        fails(
            iam.attach_role_policy,
            RoleName="AWSServiceRoleForRDS",
            PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        )
        == protected
    )
    assert (
        fails(
            iam.put_role_policy,
            RoleName="AWSServiceRoleForRDS",
            PolicyName="p",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        == protected
    )
    assert (
        fails(iam.update_assume_role_policy, RoleName="AWSServiceRoleForRDS", PolicyDocument=TRUST)
        == protected
    )
    assert (
        fails(iam.update_role, RoleName="AWSServiceRoleForRDS", MaxSessionDuration=7200)
        == protected
    )
    # Its description is the one thing IAM lets the account edit.
    iam.update_role(RoleName="AWSServiceRoleForRDS", Description="RDS")
    iam.update_role_description(RoleName="AWSServiceRoleForRDS", Description="RDS too")

    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForRDS")["DeletionTaskId"]
    assert task.startswith("task/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    assert fails(iam.get_role, RoleName="AWSServiceRoleForRDS")[:2] == ("NoSuchEntity", 404)
    # and it can be made again
    iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com", Description="for RDS")
    assert iam.get_role(RoleName="AWSServiceRoleForRDS")["Role"]["Description"] == "for RDS"
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForRDS")


def test_service_linked_role_suffix_and_errors(iam: Any) -> None:
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="fleet"
    )["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling_fleet"
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    again = fails(
        iam.create_service_linked_role,
        AWSServiceName="autoscaling.amazonaws.com",
        CustomSuffix="fleet",
    )
    assert again[:2] == ("InvalidInput", 400)
    assert "AWSServiceRoleForAutoScaling_fleet has been taken" in again[2]
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForAutoScaling_fleet")

    for service, name in [
        ("replicator.lambda.amazonaws.com", "AWSServiceRoleForLambdaReplicator"),
        ("replication.dynamodb.amazonaws.com", "AWSServiceRoleForDynamoDBReplication"),
        ("dms.amazonaws.com", "AWSServiceRoleForDMSServerless"),
        ("cloudtrail.amazonaws.com", "AWSServiceRoleForCloudTrail"),
        ("redshift.amazonaws.com", "AWSServiceRoleForRedshift"),
        ("delivery.logs.amazonaws.com", "AWSServiceRoleForLogDelivery"),
        ("ds.amazonaws.com", "AWSServiceRoleForDirectoryService"),
    ]:
        assert iam.create_service_linked_role(AWSServiceName=service)["Role"]["RoleName"] == name
        iam.delete_service_linked_role(RoleName=name)

    assert fails(iam.create_service_linked_role, AWSServiceName="nothing.amazonaws.com")[:2] == (
        "InvalidInput",
        400,
    )
    plain = uid("r")
    iam.create_role(RoleName=plain, AssumeRolePolicyDocument=TRUST)
    assert fails(iam.delete_service_linked_role, RoleName=plain)[:2] == ("NoSuchEntity", 404)
    assert fails(iam.delete_service_linked_role, RoleName=uid("none"))[:2] == ("NoSuchEntity", 404)
    assert fails(iam.get_service_linked_role_deletion_status, DeletionTaskId="nonsense")[:2] == (
        "InvalidInput",
        400,
    )
    missing = f"task/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS/{uuid.uuid4()}"
    assert fails(iam.get_service_linked_role_deletion_status, DeletionTaskId=missing)[:2] == (
        "NoSuchEntity",
        404,
    )
    iam.delete_role(RoleName=plain)


def test_service_linked_roles_refused_and_per_account(
    iam: Any, other_iam: Any, forged: Any, nobody: Any
) -> None:
    assert refused(forged, "create_service_linked_role", AWSServiceName="rds.amazonaws.com") == (
        "SignatureDoesNotMatch"
    )
    assert refused(nobody, "create_service_linked_role", AWSServiceName="rds.amazonaws.com") == (
        "AccessDenied"
    )
    iam.create_service_linked_role(AWSServiceName="replicator.lambda.amazonaws.com")
    try:
        assert refused(
            nobody, "delete_service_linked_role", RoleName="AWSServiceRoleForLambdaReplicator"
        ) == ("AccessDenied")
        # Another account neither sees nor deletes it; it has its own.
        assert fails(
            other_iam.delete_service_linked_role, RoleName="AWSServiceRoleForLambdaReplicator"
        )[:2] == (
            "NoSuchEntity",
            404,
        )
        mine = other_iam.create_service_linked_role(
            AWSServiceName="replicator.lambda.amazonaws.com"
        )
        assert f":{OTHER}:" in mine["Role"]["Arn"]
        task = other_iam.delete_service_linked_role(RoleName="AWSServiceRoleForLambdaReplicator")
        assert fails(
            iam.get_service_linked_role_deletion_status, DeletionTaskId=task["DeletionTaskId"]
        )[:2] == ("NoSuchEntity", 404)
        assert (
            refused(
                nobody,
                "get_service_linked_role_deletion_status",
                DeletionTaskId=task["DeletionTaskId"],
            )
            == "AccessDenied"
        )
    finally:
        iam.delete_service_linked_role(RoleName="AWSServiceRoleForLambdaReplicator")


# -- AWS managed policies ------------------------------------------------------------

SEED_POLICIES = [
    "service-role/AmazonRDSDirectoryServiceAccess",
    "aws-service-role/AmazonRDSServiceRolePolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaExecute",
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "SecretsManagerReadWrite",
    "AWSCloudTrail_FullAccess",
    "CloudWatchLogsFullAccess",
    "CloudWatchLogsReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AWSKeyManagementServicePowerUser",
    "AmazonRDSFullAccess",
    "AmazonRDSReadOnlyAccess",
    "AmazonRedshiftFullAccess",
    "AmazonDynamoDBFullAccess",
]


def test_seed_services_managed_policies(iam: Any) -> None:
    for name in SEED_POLICIES:
        arn = f"arn:aws:iam::aws:policy/{name}"
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        assert policy["Arn"] == arn and policy["PolicyId"].startswith("ANPA")
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"]["Statement"]
    basic = iam.get_policy_version(
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", VersionId="v1"
    )["PolicyVersion"]["Document"]
    assert basic["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ]
    role = uid("lambda")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    iam.detach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    iam.delete_role(RoleName=role)


# -- fidelity ---------------------------------------------------------------------------


def test_create_role_answer_has_no_max_session_duration(iam: Any) -> None:
    name = uid("r")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]
    assert "MaxSessionDuration" not in created and "RoleLastUsed" not in created
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    iam.delete_role(RoleName=name)


def test_attach_with_a_non_arn(iam: Any) -> None:
    name = uid("r")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    user = uid("u")
    iam.create_user(UserName=user)
    expected = ("ValidationError", 400, "Invalid ARN: Could not be parsed!")
    assert (
        fails(iam.attach_role_policy, RoleName=name, PolicyArn="this-is-not-an-arn-at-all")
        == expected
    )
    assert (
        fails(iam.attach_user_policy, UserName=user, PolicyArn="this-is-not-an-arn-at-all")
        == expected
    )
    # An ARN that names no policy is InvalidInput.
    code, status, _ = fails(
        iam.attach_role_policy, RoleName=name, PolicyArn="arn:aws:s3:::bucket-name-here"
    )
    assert (code, status) == ("InvalidInput", 400)
    iam.delete_role(RoleName=name)
    iam.delete_user(UserName=user)


def test_create_policy_description_and_tags(iam: Any) -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    name = uid("p")
    created = iam.create_policy(
        PolicyName=name, PolicyDocument=document, Tags=[{"Key": "team", "Value": "db"}]
    )["Policy"]
    assert "Description" not in created
    got = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    assert "Description" not in got
    assert got["Tags"] == [{"Key": "team", "Value": "db"}]
    # Listings leave the description out; GetPolicy has it.
    described = iam.create_policy(PolicyName=uid("p"), PolicyDocument=document, Description="why")
    arn = described["Policy"]["Arn"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "why"
    listed = iam.list_policies(Scope="Local")["Policies"]
    assert all("Description" not in p for p in listed) and arn in [p["Arn"] for p in listed]
    details = iam.get_account_authorization_details(Filter=["LocalManagedPolicy"])["Policies"]
    assert all("Description" not in p for p in details)
    iam.delete_policy(PolicyArn=arn)
    iam.delete_policy(PolicyArn=created["Arn"])


# -- instance profiles -------------------------------------------------------------------


def test_instance_profile_lifecycle(iam: Any) -> None:
    name, role = uid("ip"), uid("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    created = iam.create_instance_profile(
        InstanceProfileName=name, Path="/app/", Tags=[{"Key": "env", "Value": "test"}]
    )["InstanceProfile"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/app/{name}"
    assert created["InstanceProfileId"].startswith("AIPA") and created["Roles"] == []
    assert fails(iam.create_instance_profile, InstanceProfileName=name) == (
        "EntityAlreadyExists",
        409,
        f"Instance Profile {name} already exists.",
    )

    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert got["Tags"] == [{"Key": "env", "Value": "test"}]
    # One role per profile.
    second = uid("r")
    iam.create_role(RoleName=second, AssumeRolePolicyDocument=TRUST)
    assert fails(iam.add_role_to_instance_profile, InstanceProfileName=name, RoleName=second) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )
    listed = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == [name]
    assert name in [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]
    ]
    assert name not in [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles(PathPrefix="/x/")["InstanceProfiles"]
    ]
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    mine = next(d for d in details if d["RoleName"] == role)
    assert [p["InstanceProfileName"] for p in mine["InstanceProfileList"]] == [name]

    # Neither the role nor the profile goes while they are joined.
    assert fails(iam.delete_role, RoleName=role) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    assert fails(iam.delete_instance_profile, InstanceProfileName=name)[:2] == (
        "DeleteConflict",
        409,
    )

    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "team", "Value": "db"}])
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["env"])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [
        {"Key": "team", "Value": "db"}
    ]

    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    assert fails(iam.remove_role_from_instance_profile, InstanceProfileName=name, RoleName=role)[
        :2
    ] == ("NoSuchEntity", 404)
    iam.delete_instance_profile(InstanceProfileName=name)
    assert fails(iam.get_instance_profile, InstanceProfileName=name) == (
        "NoSuchEntity",
        404,
        f"Instance Profile {name} cannot be found.",
    )
    iam.delete_role(RoleName=role)
    iam.delete_role(RoleName=second)


def test_instance_profiles_refused_and_per_account(
    iam: Any, other_iam: Any, forged: Any, nobody: Any
) -> None:
    name = uid("ip")
    iam.create_instance_profile(InstanceProfileName=name)
    assert (
        refused(forged, "get_instance_profile", InstanceProfileName=name) == "SignatureDoesNotMatch"
    )
    assert refused(nobody, "get_instance_profile", InstanceProfileName=name) == "AccessDenied"
    assert (
        refused(nobody, "create_instance_profile", InstanceProfileName=uid("ip")) == "AccessDenied"
    )
    assert refused(nobody, "delete_instance_profile", InstanceProfileName=name) == "AccessDenied"
    assert fails(other_iam.get_instance_profile, InstanceProfileName=name)[:2] == (
        "NoSuchEntity",
        404,
    )
    assert name not in [
        p["InstanceProfileName"] for p in other_iam.list_instance_profiles()["InstanceProfiles"]
    ]
    iam.delete_instance_profile(InstanceProfileName=name)


# -- the account password policy, login profiles, ChangePassword ---------------------------


def raw_client(server: StrongroomServer) -> Any:
    """A client that sends what botocore would refuse to."""
    from botocore.config import Config

    return server.client(
        "iam", config=Config(retries={"max_attempts": 1}, parameter_validation=False)
    )


def test_account_password_policy(
    server: StrongroomServer, iam: Any, other_iam: Any, forged: Any, nobody: Any
) -> None:
    assert fails(iam.get_account_password_policy) == (
        "NoSuchEntity",
        404,
        f"The Password Policy with domain name {ACCOUNT} cannot be found.",
    )
    assert fails(iam.delete_account_password_policy)[:2] == ("NoSuchEntity", 404)
    iam.update_account_password_policy()
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6,
        "RequireSymbols": False,
        "RequireNumbers": False,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": False,
    }
    iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireNumbers=True, MaxPasswordAge=90, PasswordReusePrevention=5
    )
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["RequireNumbers"] is True
    assert policy["ExpirePasswords"] is True and policy["MaxPasswordAge"] == 90
    assert policy["PasswordReusePrevention"] == 5
    # Another account has its own (none); callers without permission are refused.
    assert fails(other_iam.get_account_password_policy)[:2] == ("NoSuchEntity", 404)
    assert refused(forged, "get_account_password_policy") == "SignatureDoesNotMatch"
    assert (
        refused(nobody, "update_account_password_policy", MinimumPasswordLength=6) == "AccessDenied"
    )
    assert refused(nobody, "get_account_password_policy") == "AccessDenied"
    # Out of range is the model's ValidationError.
    assert fails(raw_client(server).update_account_password_policy, MinimumPasswordLength=5)[
        :2
    ] == (
        "ValidationError",
        400,
    )
    iam.delete_account_password_policy()
    assert fails(iam.get_account_password_policy)[:2] == ("NoSuchEntity", 404)


def test_login_profiles_and_change_password(
    server: StrongroomServer, iam: Any, nobody: Any
) -> None:
    name = uid("u")
    iam.create_user(UserName=name)
    assert fails(iam.get_login_profile, UserName=name) == (
        "NoSuchEntity",
        404,
        f"Login Profile for User {name} cannot be found.",
    )
    iam.update_account_password_policy(MinimumPasswordLength=10, RequireNumbers=True)
    try:
        code, status, message = fails(iam.create_login_profile, UserName=name, Password="short1")
        assert (code, status) == ("PasswordPolicyViolation", 400)
        assert "at least 10 characters" in message
        assert fails(iam.create_login_profile, UserName=name, Password="longenoughbutnonumber")[
            :2
        ] == (
            "PasswordPolicyViolation",
            400,
        )
        profile = iam.create_login_profile(
            UserName=name, Password="first-password-1", PasswordResetRequired=True
        )["LoginProfile"]
        assert profile["UserName"] == name and profile["PasswordResetRequired"] is True
        assert fails(iam.create_login_profile, UserName=name, Password="first-password-1") == (
            "EntityAlreadyExists",
            409,
            f"Login Profile for user {name} already exists.",
        )
        got = iam.get_login_profile(UserName=name)["LoginProfile"]
        assert got["PasswordResetRequired"] is True and "Password" not in got
        assert fails(iam.delete_user, UserName=name) == (
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete login profile first.",
        )

        # The user changes its own password with the old one.
        iam.put_user_policy(
            UserName=name,
            PolicyName="self",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        me = server.client(
            "iam", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        )
        assert fails(
            me.change_password, OldPassword="wrong-password-1", NewPassword="second-password-2"
        )[:2] == (
            "InvalidUserType",
            400,
        )
        assert fails(
            me.change_password, OldPassword="first-password-1", NewPassword="nonumbers-here"
        )[:2] == (
            "PasswordPolicyViolation",
            400,
        )
        me.change_password(OldPassword="first-password-1", NewPassword="second-password-2")
        assert (
            iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
        )
        me.change_password(OldPassword="second-password-2", NewPassword="third-password-3")
        assert (
            refused(nobody, "change_password", OldPassword="x", NewPassword="y") == "AccessDenied"
        )
        assert fails(iam.change_password, OldPassword="x", NewPassword="y")[:2] == (
            "InvalidUserType",
            400,
        )

        iam.update_login_profile(
            UserName=name, Password="admin-set-pass-4", PasswordResetRequired=True
        )
        me.change_password(OldPassword="admin-set-pass-4", NewPassword="fifth-password-5")
        # Without its own permission, a user changes its password only when
        # the account policy lets every user do so (and no policy denies it).
        iam.delete_user_policy(UserName=name, PolicyName="self")
        assert (
            refused(
                me, "change_password", OldPassword="fifth-password-5", NewPassword="sixth-pass-6"
            )
            == "AccessDenied"
        )
        iam.update_account_password_policy(
            MinimumPasswordLength=10, RequireNumbers=True, AllowUsersToChangePassword=True
        )
        me.change_password(OldPassword="fifth-password-5", NewPassword="sixth-pass-6")
        deny = {"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}
        iam.put_user_policy(
            UserName=name,
            PolicyName="deny",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
        )
        assert (
            refused(me, "change_password", OldPassword="sixth-pass-6", NewPassword="seventh-pass-7")
            == "AccessDenied"
        )
        iam.delete_user_policy(UserName=name, PolicyName="deny")
        # PasswordReusePrevention: none of the last N passwords again.
        iam.update_account_password_policy(
            MinimumPasswordLength=10,
            RequireNumbers=True,
            AllowUsersToChangePassword=True,
            PasswordReusePrevention=3,
        )
        code, status, _ = fails(
            me.change_password, OldPassword="sixth-pass-6", NewPassword="fifth-password-5"
        )
        assert (code, status) == ("PasswordPolicyViolation", 400)
        me.change_password(OldPassword="sixth-pass-6", NewPassword="eighth-pass-8")
        assert fails(me.change_password, OldPassword="eighth-pass-8", NewPassword="sixth-pass-6")[
            :2
        ] == ("PasswordPolicyViolation", 400)
        iam.update_account_password_policy(MinimumPasswordLength=10, RequireNumbers=True)
        assert refused(nobody, "get_login_profile", UserName=name) == "AccessDenied"
        assert refused(nobody, "delete_login_profile", UserName=name) == "AccessDenied"

        iam.delete_login_profile(UserName=name)
        assert fails(iam.delete_login_profile, UserName=name)[:2] == ("NoSuchEntity", 404)
        # The password is in no log line.
        log = server.read_log()
        trail = server.client("cloudtrail")
        events = []
        for _ in range(50):
            events = trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ChangePassword"}]
            )["Events"]
            if len(events) >= 3:
                break
            time.sleep(0.1)
        assert events
        recorded = json.dumps([e["CloudTrailEvent"] for e in events]) + log
        for secret in ("first-password-1", "second-password-2", "fifth-password-5", "sixth-pass-6"):
            assert secret not in recorded
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=name)
    finally:
        iam.delete_account_password_policy()


# -- account aliases, access keys' last use, credential reports ----------------------------


def test_account_aliases(iam: Any, other_iam: Any, forged: Any, nobody: Any) -> None:
    alias = f"acct-{uuid.uuid4().hex[:10]}"
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias=alias)
    assert iam.list_account_aliases()["AccountAliases"] == [alias]
    # Aliases are global: another account cannot take it.
    assert fails(other_iam.create_account_alias, AccountAlias=alias) == (
        "EntityAlreadyExists",
        409,
        f"The account alias {alias} already exists.",
    )
    assert other_iam.list_account_aliases()["AccountAliases"] == []
    assert fails(other_iam.delete_account_alias, AccountAlias=alias)[:2] == ("NoSuchEntity", 404)
    # One per account: a new alias replaces the old.
    newer = alias + "-b"
    iam.create_account_alias(AccountAlias=newer)
    assert iam.list_account_aliases()["AccountAliases"] == [newer]
    assert fails(iam.create_account_alias, AccountAlias="Bad_Alias")[:2] == ("ValidationError", 400)
    assert refused(forged, "list_account_aliases") == "SignatureDoesNotMatch"
    assert refused(nobody, "create_account_alias", AccountAlias=alias + "-c") == "AccessDenied"
    assert refused(nobody, "list_account_aliases") == "AccessDenied"
    iam.delete_account_alias(AccountAlias=newer)
    assert fails(iam.delete_account_alias, AccountAlias=newer) == (
        "NoSuchEntity",
        404,
        f"The account alias {newer} cannot be found.",
    )


def test_access_key_last_used(
    server: StrongroomServer, iam: Any, nobody: Any, other_iam: Any
) -> None:
    name = uid("u")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    sts = server.client(
        "sts", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    sts.get_caller_identity()
    used: dict[str, Any] = {}
    for _ in range(50):
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        if "LastUsedDate" in used:
            break
        time.sleep(0.1)
    assert used["ServiceName"] == "sts" and used["Region"] == "us-east-1"
    assert "LastUsedDate" in used
    assert (
        refused(nobody, "get_access_key_last_used", AccessKeyId=key["AccessKeyId"])
        == "AccessDenied"
    )
    # Another account's key is not this account's to describe.
    assert (
        refused(other_iam, "get_access_key_last_used", AccessKeyId=key["AccessKeyId"])
        == "AccessDenied"
    )
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def test_credential_report(iam: Any, other_iam: Any, nobody: Any, forged: Any) -> None:
    name = uid("u")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password="report-password-1")
    iam.create_access_key(UserName=name)
    assert fails(other_iam.get_credential_report)[:2] == ("ReportNotPresent", 410)
    first = iam.generate_credential_report()
    assert first["State"] in ("STARTED", "COMPLETE")
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    lines = report["Content"].decode().splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["user", "arn", "user_creation_time", "password_enabled"]
    assert len(header) == 22
    rows = {
        line.split(",")[0]: dict(zip(header, line.split(","), strict=True)) for line in lines[1:]
    }
    assert rows["<root_account>"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    if first["State"] == "STARTED":
        assert rows[name]["password_enabled"] == "true"
        assert rows[name]["access_key_1_active"] == "true"
        assert rows[name]["access_key_2_active"] == "false"
    assert refused(nobody, "generate_credential_report") == "AccessDenied"
    assert refused(nobody, "get_credential_report") == "AccessDenied"
    assert refused(forged, "get_credential_report") == "SignatureDoesNotMatch"


# -- virtual MFA devices ---------------------------------------------------------------------


def scan_qr(png: bytes) -> str | None:
    """The text of a QR code PNG as zbarimg reads it, or None without zbarimg."""
    import shutil
    import subprocess

    if shutil.which("zbarimg") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        done = subprocess.run(
            ["zbarimg", "-q", "--raw", f.name], capture_output=True, text=True, timeout=30
        )
    return done.stdout.rstrip("\n")


def totp(seed_text: bytes, step: int) -> str:
    """RFC 6238 with the test's own implementation (SHA-1, 30 s, 6 digits)."""
    import base64
    import hashlib
    import hmac
    import struct

    text = seed_text.decode()
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return str((struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6).zfill(6)


def test_virtual_mfa_devices(
    server: StrongroomServer, iam: Any, other_iam: Any, nobody: Any, forged: Any
) -> None:
    user, device_name = uid("u"), uid("mfa")
    iam.create_user(UserName=user)
    created = iam.create_virtual_mfa_device(
        VirtualMFADeviceName=device_name, Tags=[{"Key": "k", "Value": "v"}]
    )["VirtualMFADevice"]
    serial = created["SerialNumber"]
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/{device_name}"
    seed = created["Base32StringSeed"]
    assert len(seed) == 32 and set(seed.decode()) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    png = created["QRCodePNG"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    scanned = scan_qr(png)
    if scanned is not None:  # zbarimg is there to read it back
        assert scanned == f"otpauth://totp/{device_name}@{ACCOUNT}?secret={seed.decode()}"
    assert fails(iam.create_virtual_mfa_device, VirtualMFADeviceName=device_name)[:2] == (
        "EntityAlreadyExists",
        409,
    )
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in unassigned]
    assert all("Base32StringSeed" not in d for d in unassigned)

    step = int(time.time() // 30)
    bad = str((int(totp(seed, step)) + 1) % 10**6).zfill(6)
    assert fails(
        iam.enable_mfa_device,
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=bad,
        AuthenticationCode2=bad,
    )[:2] == ("InvalidAuthenticationCode", 403)
    assert (
        refused(
            nobody,
            "enable_mfa_device",
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp(seed, step - 1),
            AuthenticationCode2=totp(seed, step),
        )
        == "AccessDenied"
    )
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 1),
        AuthenticationCode2=totp(seed, step),
    )
    got = iam.get_mfa_device(UserName=user, SerialNumber=serial)
    assert (got["UserName"], got["SerialNumber"]) == (user, serial) and "EnableDate" in got
    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [(user, serial)]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    mine = next(d for d in assigned if d["SerialNumber"] == serial)
    assert mine["User"]["UserName"] == user and "EnableDate" in mine
    # The same codes are not accepted twice; a fresher pair resynchronises.
    assert fails(
        iam.resync_mfa_device,
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 1),
        AuthenticationCode2=totp(seed, step),
    )[:2] == ("InvalidAuthenticationCode", 403)
    iam.resync_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step + 1),
        AuthenticationCode2=totp(seed, step + 2),
    )
    assert fails(iam.delete_virtual_mfa_device, SerialNumber=serial)[:2] == ("DeleteConflict", 409)
    assert fails(iam.delete_user, UserName=user)[:2] == ("DeleteConflict", 409)
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "team", "Value": "x"}])
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["k"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "team", "Value": "x"}]

    # The credential report sees it.
    assert other_iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert fails(other_iam.delete_virtual_mfa_device, SerialNumber=serial)[:2] == (
        "NoSuchEntity",
        404,
    )
    assert refused(forged, "list_virtual_mfa_devices") == "SignatureDoesNotMatch"
    assert refused(nobody, "list_virtual_mfa_devices") == "AccessDenied"
    assert (
        refused(nobody, "deactivate_mfa_device", UserName=user, SerialNumber=serial)
        == "AccessDenied"
    )

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    assert fails(iam.deactivate_mfa_device, UserName=user, SerialNumber=serial)[:2] == (
        "NoSuchEntity",
        404,
    )
    assert fails(iam.get_mfa_device, UserName=user, SerialNumber=serial)[:2] == (
        "NoSuchEntity",
        404,
    )
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert fails(iam.delete_virtual_mfa_device, SerialNumber=serial)[:2] == ("NoSuchEntity", 404)
    # The seed reached no log line.
    assert seed.decode() not in server.read_log()
    iam.delete_user(UserName=user)


# -- service-specific credentials, signing certificates, SSH public keys -------------------


def rsa_public_key(bits: int = 2048) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    ssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ssh.decode(), pem.decode()


def self_signed_certificate() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, uid("cert"))])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_service_specific_credentials(
    server: StrongroomServer, iam: Any, nobody: Any, other_iam: Any
) -> None:
    user = uid("u")
    iam.create_user(UserName=user)
    created = iam.create_service_specific_credential(
        UserName=user, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    assert created["ServiceUserName"] == f"{user}-at-{ACCOUNT}"
    assert created["Status"] == "Active" and len(created["ServicePassword"]) == 44
    credential_id = created["ServiceSpecificCredentialId"]
    assert credential_id.startswith("ACCA")
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert fails(
        iam.create_service_specific_credential,
        UserName=user,
        ServiceName="codecommit.amazonaws.com",
    ) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2",
    )
    assert fails(
        iam.create_service_specific_credential, UserName=user, ServiceName="s3.amazonaws.com"
    )[:2] == ("NotSupportedService", 404)
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert len(listed) == 2 and all("ServicePassword" not in c for c in listed)
    iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=credential_id, Status="Inactive"
    )
    reset = iam.reset_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=credential_id
    )["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != created["ServicePassword"] and reset["Status"] == "Inactive"
    assert fails(iam.delete_user, UserName=user)[:2] == ("DeleteConflict", 409)
    assert refused(nobody, "list_service_specific_credentials", UserName=user) == "AccessDenied"
    assert fails(other_iam.list_service_specific_credentials, UserName=user)[:2] == (
        "NoSuchEntity",
        404,
    )
    for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"]
        )
    assert fails(
        iam.delete_service_specific_credential,
        UserName=user,
        ServiceSpecificCredentialId=credential_id,
    )[:2] == ("NoSuchEntity", 404)
    for secret in (created["ServicePassword"], reset["ServicePassword"]):
        assert secret not in server.read_log()
    iam.delete_user(UserName=user)


def test_signing_certificates(iam: Any, nobody: Any) -> None:
    user = uid("u")
    iam.create_user(UserName=user)
    body = self_signed_certificate()
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    assert cert["UserName"] == user and cert["Status"] == "Active"
    assert cert["CertificateBody"] == body and len(cert["CertificateId"]) == 32
    assert fails(iam.upload_signing_certificate, UserName=user, CertificateBody=body)[:2] == (
        "DuplicateCertificate",
        409,
    )
    assert fails(
        iam.upload_signing_certificate, UserName=user, CertificateBody="not a certificate"
    )[:2] == (
        "MalformedCertificate",
        400,
    )
    iam.upload_signing_certificate(UserName=user, CertificateBody=self_signed_certificate())
    assert fails(
        iam.upload_signing_certificate, UserName=user, CertificateBody=self_signed_certificate()
    )[:2] == ("LimitExceeded", 409)
    iam.update_signing_certificate(
        UserName=user, CertificateId=cert["CertificateId"], Status="Inactive"
    )
    listed = iam.list_signing_certificates(UserName=user)["Certificates"]
    assert {c["CertificateId"]: c["Status"] for c in listed}[cert["CertificateId"]] == "Inactive"
    assert refused(nobody, "list_signing_certificates", UserName=user) == "AccessDenied"
    assert fails(iam.delete_user, UserName=user) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete signing certificates first.",
    )
    for c in listed:
        iam.delete_signing_certificate(UserName=user, CertificateId=c["CertificateId"])
    assert fails(
        iam.delete_signing_certificate, UserName=user, CertificateId=cert["CertificateId"]
    )[:2] == (
        "NoSuchEntity",
        404,
    )
    iam.delete_user(UserName=user)


def test_ssh_public_keys(iam: Any, nobody: Any, forged: Any) -> None:
    user = uid("u")
    iam.create_user(UserName=user)
    ssh, pem = rsa_public_key()
    key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=ssh)["SSHPublicKey"]
    assert key["SSHPublicKeyId"].startswith("APKA") and key["Status"] == "Active"
    assert len(key["Fingerprint"].split(":")) == 16
    # The same key in PEM is the same key.
    assert fails(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=pem)[:2] == (
        "DuplicateSSHPublicKey",
        400,
    )
    as_pem = iam.get_ssh_public_key(
        UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="PEM"
    )
    assert as_pem["SSHPublicKey"]["SSHPublicKeyBody"] == pem
    as_ssh = iam.get_ssh_public_key(
        UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH"
    )
    assert as_ssh["SSHPublicKey"]["SSHPublicKeyBody"] == ssh
    assert fails(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody="garbage key")[:2] == (
        "UnrecognizedPublicKeyEncoding",
        400,
    )
    small, _ = rsa_public_key(1024)
    assert fails(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=small)[:2] == (
        "InvalidPublicKey",
        400,
    )
    iam.update_ssh_public_key(
        UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive"
    )
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [
        (key["SSHPublicKeyId"], "Inactive")
    ]
    assert refused(nobody, "list_ssh_public_keys", UserName=user) == "AccessDenied"
    assert refused(forged, "list_ssh_public_keys", UserName=user) == "SignatureDoesNotMatch"
    assert fails(iam.delete_user, UserName=user)[:2] == ("DeleteConflict", 409)
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])
    assert fails(
        iam.get_ssh_public_key, UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH"
    )[:2] == ("NoSuchEntity", 404)
    iam.delete_user(UserName=user)


# -- every new operation: bad input is a 4xx, never a 500 ------------------------------------

NEW_OPERATIONS = sorted(
    {
        "CreateServiceLinkedRole", "DeleteServiceLinkedRole", "GetServiceLinkedRoleDeletionStatus",
        "CreateInstanceProfile", "GetInstanceProfile", "DeleteInstanceProfile",
        "ListInstanceProfiles", "ListInstanceProfilesForRole", "AddRoleToInstanceProfile",
        "RemoveRoleFromInstanceProfile", "TagInstanceProfile", "UntagInstanceProfile",
        "ListInstanceProfileTags", "UpdateAccountPasswordPolicy", "GetAccountPasswordPolicy",
        "DeleteAccountPasswordPolicy", "CreateLoginProfile", "GetLoginProfile",
        "UpdateLoginProfile", "DeleteLoginProfile", "ChangePassword", "CreateAccountAlias",
        "DeleteAccountAlias", "ListAccountAliases", "GetAccessKeyLastUsed",
        "GenerateCredentialReport", "GetCredentialReport", "CreateVirtualMFADevice",
        "EnableMFADevice", "ResyncMFADevice", "DeactivateMFADevice", "DeleteVirtualMFADevice",
        "ListMFADevices", "ListVirtualMFADevices", "TagMFADevice", "UntagMFADevice",
        "ListMFADeviceTags", "GetMFADevice", "CreateServiceSpecificCredential", "ListServiceSpecificCredentials",
        "UpdateServiceSpecificCredential", "ResetServiceSpecificCredential",
        "DeleteServiceSpecificCredential", "UploadSigningCertificate", "ListSigningCertificates",
        "UpdateSigningCertificate", "DeleteSigningCertificate", "UploadSSHPublicKey",
        "GetSSHPublicKey", "ListSSHPublicKeys", "UpdateSSHPublicKey", "DeleteSSHPublicKey",
    }
)  # fmt: skip


def _junk(shape: Any, variant: int) -> Any:
    kind = shape.type_name
    if kind == "string":
        return ["\x00bad", "x" * 3000, "arn:aws:iam::000000000000:nothing/x"][variant % 3]
    if kind == "integer":
        return [-5, 10**9, 0][variant % 3]
    if kind == "boolean":
        return True
    if kind == "list":
        return [] if variant % 2 else [_junk(shape.member, variant)]
    if kind == "structure":
        return {name: _junk(member, variant) for name, member in shape.members.items()}
    if kind == "blob":
        return b"\x00"
    return None


def test_new_operations_answer_bad_input_with_4xx(server: StrongroomServer) -> None:
    client = raw_client(server)
    model = client.meta.service_model
    for name in NEW_OPERATIONS:
        operation = model.operation_model(name)
        method = getattr(client, botocore.xform_name(name))
        members = operation.input_shape.members if operation.input_shape else {}
        variants: list[dict[str, Any]] = [{}]
        for variant in range(3):
            variants.append({k: _junk(s, variant) for k, s in members.items()})
        for params in variants:
            try:
                method(**params)
            except botocore.exceptions.ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status < 500, (name, params, exc.response["Error"])
    assert "Traceback" not in server.read_log()
