"""Members the newest botocore model adds to IAM and STS operations we serve,
end to end with boto3: each does what AWS documents, not merely accepted.

The members exist only in newer models, so every test here skips when the
installed botocore lacks the one it sends (run them with the newest botocore,
as `.ci/botocore-matrix newest` does).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore.config import Config
from idp import metadata
from trail_helpers import make_trail_bucket

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
_MODELS: dict[str, Any] = {}


def has_member(service: str, operation: str, member: str) -> bool:
    if service not in _MODELS:
        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    return member in _MODELS[service].operation_model(operation).input_shape.members


def needs(service: str, operation: str, member: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not has_member(service, operation, member),
        reason=f"the installed botocore has no {service} {operation} {member}",
    )


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str | list[str], resource: str = "*") -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
    }
)


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(*args, **kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


@pytest.fixture(scope="module")
def iam(server: StrongroomServer) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def raw_iam(server: StrongroomServer) -> Any:
    """Sends what botocore's own validation would refuse."""
    return server.client(
        "iam", config=Config(retries={"max_attempts": 1}, parameter_validation=False)
    )


def new_user(server: StrongroomServer, *statements: dict) -> dict[str, str]:
    iam = server.client("iam")
    name = uid("u")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


# -- roles: MaxSigninSessionDuration -------------------------------------------------


@needs("iam", "UpdateRole", "ResetMaxSigninSessionDuration")
def test_role_sign_in_duration_round_trip(iam: Any) -> None:
    name = uid("signin")
    created = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=TRUST, MaxSigninSessionDuration=7200
    )["Role"]
    assert created["MaxSigninSessionDuration"] == 7200
    assert iam.get_role(RoleName=name)["Role"]["MaxSigninSessionDuration"] == 7200
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert listed[0]["MaxSigninSessionDuration"] == 7200

    # It is independent of MaxSessionDuration, and an update of one leaves the other.
    iam.update_role(RoleName=name, MaxSessionDuration=7200)
    assert iam.get_role(RoleName=name)["Role"]["MaxSigninSessionDuration"] == 7200
    iam.update_role(RoleName=name, MaxSigninSessionDuration=7776000)
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["MaxSigninSessionDuration"], got["MaxSessionDuration"]) == (7776000, 7200)
    iam.update_role(RoleName=name, Description="only this")
    assert iam.get_role(RoleName=name)["Role"]["MaxSigninSessionDuration"] == 7776000

    iam.update_role(RoleName=name, ResetMaxSigninSessionDuration=True)
    assert "MaxSigninSessionDuration" not in iam.get_role(RoleName=name)["Role"]
    iam.update_role(RoleName=name, ResetMaxSigninSessionDuration=True)  # unset: no effect
    iam.update_role(RoleName=name, ResetMaxSigninSessionDuration=False)
    assert "MaxSigninSessionDuration" not in iam.get_role(RoleName=name)["Role"]

    # Gone with the role: a new role of the same name starts unset.
    iam.update_role(RoleName=name, MaxSigninSessionDuration=3600)
    iam.delete_role(RoleName=name)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert "MaxSigninSessionDuration" not in iam.get_role(RoleName=name)["Role"]


@needs("iam", "UpdateRole", "ResetMaxSigninSessionDuration")
def test_role_sign_in_duration_refusals(iam: Any, raw_iam: Any) -> None:
    name = uid("signin")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    code, status, message = fails(
        iam.update_role,
        RoleName=name,
        MaxSigninSessionDuration=3600,
        ResetMaxSigninSessionDuration=True,
    )
    assert (code, status) == ("InvalidInput", 400)
    assert "MaxSigninSessionDuration" in message
    for bad in (3599, 7776001):
        assert fails(raw_iam.update_role, RoleName=name, MaxSigninSessionDuration=bad)[:2] == (
            "ValidationError",
            400,
        )
        assert fails(
            raw_iam.create_role,
            RoleName=uid("signin"),
            AssumeRolePolicyDocument=TRUST,
            MaxSigninSessionDuration=bad,
        )[:2] == ("ValidationError", 400)
    assert fails(iam.update_role, RoleName=uid("nobody"), MaxSigninSessionDuration=3600)[:2] == (
        "NoSuchEntity",
        404,
    )


@needs("iam", "UpdateRole", "ResetMaxSigninSessionDuration")
def test_service_linked_roles_keep_no_sign_in_duration(iam: Any) -> None:
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=uid("s")
    )["Role"]
    for kwargs in ({"MaxSigninSessionDuration": 3600}, {"ResetMaxSigninSessionDuration": True}):
        code, status, _ = fails(iam.update_role, RoleName=role["RoleName"], **kwargs)
        assert (code, status) == ("UnmodifiableEntity", 400)
    iam.update_role(RoleName=role["RoleName"], Description="a description may change")
    assert "MaxSigninSessionDuration" not in iam.get_role(RoleName=role["RoleName"])["Role"]


@needs("iam", "UpdateRole", "ResetMaxSigninSessionDuration")
def test_role_sign_in_duration_needs_the_permission(server: StrongroomServer, iam: Any) -> None:
    name = uid("signin")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, MaxSigninSessionDuration=3600)
    nobody = server.client("iam", **new_user(server))
    assert fails(nobody.update_role, RoleName=name, ResetMaxSigninSessionDuration=True)[:2] == (
        "AccessDenied",
        403,
    )
    assert iam.get_role(RoleName=name)["Role"]["MaxSigninSessionDuration"] == 3600
    assert fails(
        nobody.create_role,
        RoleName=uid("signin"),
        AssumeRolePolicyDocument=TRUST,
        MaxSigninSessionDuration=3600,
    )[:2] == ("AccessDenied", 403)


# -- login profiles: MaxSigninSessionDuration ----------------------------------------


@needs("iam", "UpdateLoginProfile", "ResetMaxSigninSessionDuration")
def test_login_profile_sign_in_duration(iam: Any) -> None:
    user = uid("console")
    iam.create_user(UserName=user)
    out = iam.create_login_profile(
        UserName=user,
        Password="Correct-Horse-1",
        PasswordResetRequired=True,
        MaxSigninSessionDuration=43200,
    )["LoginProfile"]
    assert out["MaxSigninSessionDuration"] == 43200
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["MaxSigninSessionDuration"] == 43200

    # Only the duration changes: the password and PasswordResetRequired stay.
    iam.update_login_profile(UserName=user, MaxSigninSessionDuration=3600)
    got = iam.get_login_profile(UserName=user)["LoginProfile"]
    assert (got["MaxSigninSessionDuration"], got["PasswordResetRequired"]) == (3600, True)

    code, status, _ = fails(
        iam.update_login_profile,
        UserName=user,
        MaxSigninSessionDuration=7200,
        ResetMaxSigninSessionDuration=True,
    )
    assert (code, status) == ("InvalidInput", 400)
    iam.update_login_profile(UserName=user, ResetMaxSigninSessionDuration=True)
    assert "MaxSigninSessionDuration" not in iam.get_login_profile(UserName=user)["LoginProfile"]

    iam.update_login_profile(UserName=user, MaxSigninSessionDuration=7200)
    iam.delete_login_profile(UserName=user)
    iam.create_login_profile(UserName=user, Password="Correct-Horse-2")
    assert "MaxSigninSessionDuration" not in iam.get_login_profile(UserName=user)["LoginProfile"]
    assert fails(iam.update_login_profile, UserName=uid("nobody"), MaxSigninSessionDuration=3600)[
        :2
    ] == ("NoSuchEntity", 404)


@needs("iam", "UpdateLoginProfile", "ResetMaxSigninSessionDuration")
def test_login_profile_sign_in_duration_range(iam: Any, raw_iam: Any) -> None:
    user = uid("console")
    iam.create_user(UserName=user)
    assert fails(
        raw_iam.create_login_profile,
        UserName=user,
        Password="Correct-Horse-1",
        MaxSigninSessionDuration=60,
    )[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError):
        iam.get_login_profile(UserName=user)  # nothing was created


# -- identity providers: trusted identity propagation ---------------------------------

CONTEXT = {
    "KeyDefinitionList": [{"SourceKey": "email", "TargetKey": "user email"}, {"SourceKey": "g"}],
    "SubjectSourceKey": "sub",
    "SubjectTypeValue": "user",
}


@needs("iam", "CreateOpenIDConnectProvider", "ContextProvider")
def test_oidc_provider_context(iam: Any) -> None:
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{uid('tip')}.example.com",
        ClientIDList=["app"],
        ContextProvider=CONTEXT,
        IdentityCenterInstanceArn=INSTANCE,
    )["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ContextProvider"] == CONTEXT
    assert got["IdentityCenterInstanceArn"] == INSTANCE
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert {"Arn": arn, "IsTrustedIdentityPropagationEnabled": True} in listed

    plain = iam.create_open_id_connect_provider(
        Url=f"https://{uid('tip')}.example.com",
        ClientIDList=["app"],
        ContextProvider={"SubjectSourceKey": "sub"},
    )["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=plain)
    assert got["ContextProvider"] == {"SubjectSourceKey": "sub"}
    assert "IdentityCenterInstanceArn" not in got
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert fails(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)[:2] == (
        "NoSuchEntity",
        404,
    )


@needs("iam", "CreateOpenIDConnectProvider", "ContextProvider")
def test_oidc_provider_context_refusals(iam: Any) -> None:
    def create(**kwargs: Any) -> tuple[str, int, str]:
        return fails(
            iam.create_open_id_connect_provider,
            Url=f"https://{uid('tip')}.example.com",
            ClientIDList=["app"],
            **kwargs,
        )

    assert create(IdentityCenterInstanceArn=INSTANCE)[:2] == ("InvalidInput", 400)
    for key in (" sub", "sub ", "a  b", "sub!", "clé"):
        assert create(ContextProvider={"SubjectSourceKey": key})[:2] == ("InvalidInput", 400)
    assert create(
        ContextProvider={"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": "a$"}]}
    )[:2] == ("InvalidInput", 400)
    assert create(
        ContextProvider={
            "SubjectSourceKey": "sub",
            "SubjectTypeValue": "user",
            "SubjectTypeSourceKey": "type",
        }
    )[:2] == ("InvalidInput", 400)
    bad_instance = create(
        ContextProvider={"SubjectSourceKey": "sub"}, IdentityCenterInstanceArn="arn:aws:sso:::x"
    )
    assert bad_instance[:2] == ("InvalidInput", 400)
    assert create(
        ContextProvider={"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": "k"}] * 11}
    )[:2] == ("ValidationError", 400)


@needs("iam", "UpdateSAMLProvider", "RemoveContextProvider")
def test_saml_provider_context(iam: Any) -> None:
    arn = iam.create_saml_provider(
        Name=uid("tip"),
        SAMLMetadataDocument=metadata(),
        ContextProvider=CONTEXT,
        IdentityCenterInstanceArn=INSTANCE,
    )["SAMLProviderArn"]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert (got["ContextProvider"], got["IdentityCenterInstanceArn"]) == (CONTEXT, INSTANCE)
    entry = [e for e in iam.list_saml_providers()["SAMLProviderList"] if e["Arn"] == arn]
    assert entry[0]["IsTrustedIdentityPropagationEnabled"] is True

    # Replaced; the instance stays.
    iam.update_saml_provider(SAMLProviderArn=arn, ContextProvider={"SubjectSourceKey": "nameid"})
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert (got["ContextProvider"], got["IdentityCenterInstanceArn"]) == (
        {"SubjectSourceKey": "nameid"},
        INSTANCE,
    )
    # An instance needs a context provider.
    assert fails(iam.update_saml_provider, SAMLProviderArn=arn, RemoveContextProvider=True)[:2] == (
        "InvalidInput",
        400,
    )
    for both in (
        {"ContextProvider": CONTEXT, "RemoveContextProvider": True},
        {"IdentityCenterInstanceArn": INSTANCE, "RemoveIdentityCenterInstance": True},
    ):
        assert fails(iam.update_saml_provider, SAMLProviderArn=arn, **both)[:2] == (
            "InvalidInput",
            400,
        )
    iam.update_saml_provider(SAMLProviderArn=arn, RemoveIdentityCenterInstance=True)
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert "IdentityCenterInstanceArn" not in got
    assert got["ContextProvider"] == {"SubjectSourceKey": "nameid"}
    entry = [e for e in iam.list_saml_providers()["SAMLProviderList"] if e["Arn"] == arn]
    assert "IsTrustedIdentityPropagationEnabled" not in entry[0]
    iam.update_saml_provider(SAMLProviderArn=arn, RemoveContextProvider=True)
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert "ContextProvider" not in got
    # And set again by an update.
    iam.update_saml_provider(
        SAMLProviderArn=arn, ContextProvider=CONTEXT, IdentityCenterInstanceArn=INSTANCE
    )
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert (got["ContextProvider"], got["IdentityCenterInstanceArn"]) == (CONTEXT, INSTANCE)
    other = iam.create_saml_provider(Name=uid("tip"), SAMLMetadataDocument=metadata())
    assert fails(
        iam.update_saml_provider,
        SAMLProviderArn=other["SAMLProviderArn"],
        IdentityCenterInstanceArn=INSTANCE,
    )[:2] == ("InvalidInput", 400)


# -- the simulator: PolicyExclusionList, OrderedOrganizationPolicyInputList -------------


def _decisions(out: dict) -> dict[str, str]:
    return {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}


ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]


@pytest.fixture(scope="module")
def simulated_user(iam: Any) -> str:
    """A user whose every action comes from a different kind of policy:
    GetObject (its inline policy), PutObject (a customer managed policy),
    ListBucket (its group's inline policy), DeleteObject (an AWS managed one),
    and a boundary that allows all four."""
    user, group = uid("sim"), uid("simgroup")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="get", PolicyDocument=doc(allow("s3:GetObject")))
    managed = iam.create_policy(
        PolicyName=uid("drift-put"), PolicyDocument=doc(allow("s3:PutObject"))
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=managed)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(
        GroupName=group, PolicyName="list", PolicyDocument=doc(allow("s3:ListBucket"))
    )
    boundary = iam.create_policy(PolicyName=uid("boundary"), PolicyDocument=doc(allow(ACTIONS)))[
        "Policy"
    ]["Arn"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary)
    return arn


@needs("iam", "SimulatePrincipalPolicy", "PolicyExclusionList")
def test_policy_exclusions(iam: Any, simulated_user: str) -> None:
    def simulate(*identifiers: dict) -> dict[str, str]:
        return _decisions(
            iam.simulate_principal_policy(
                PolicySourceArn=simulated_user,
                ActionNames=ACTIONS,
                PolicyExclusionList=list(identifiers),
            )
        )

    allowed, denied = "allowed", "implicitDeny"
    assert set(simulate().values()) == {allowed}
    # AmazonS3FullAccess (s3:*) allows all four until it is excluded too.
    no_aws = {"PolicyType": "aws-managed"}
    assert simulate(no_aws) == dict.fromkeys(ACTIONS, allowed) | {"s3:DeleteObject": denied}
    assert simulate(no_aws, {"PolicyType": "inline"}) == {
        "s3:GetObject": denied,
        "s3:PutObject": allowed,
        "s3:ListBucket": denied,
        "s3:DeleteObject": denied,
    }
    assert simulate(no_aws, {"PolicyType": "user-managed"})["s3:PutObject"] == denied
    wildcard = {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/drift-p?t-*"}
    assert simulate(no_aws, wildcard)["s3:PutObject"] == denied
    aws_arn = {"PolicyArn": "arn:aws:iam::aws:policy/AmazonS3*"}
    assert simulate(aws_arn)["s3:DeleteObject"] == denied
    user_name = simulated_user.rsplit("/", 1)[1]
    inline_user = {
        "InlinePolicyIdentifier": {
            "PolicyName": "get",
            "AttachmentType": "user",
            "AttachmentName": user_name,
        }
    }
    got = simulate(no_aws, inline_user)
    assert (got["s3:GetObject"], got["s3:ListBucket"]) == (denied, allowed)
    wrong_type = {"InlinePolicyIdentifier": {**inline_user["InlinePolicyIdentifier"]}}
    wrong_type["InlinePolicyIdentifier"]["AttachmentType"] = "group"
    assert simulate(no_aws, wrong_type)["s3:GetObject"] == allowed
    # Valid identifiers that match nothing are ignored (SCPs and RCPs too).
    nothing = [
        {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/never-there"},
        {"PolicyType": "scp"},
        {"PolicyType": "rcp"},
    ]
    assert set(simulate(*nothing).values()) == {allowed}


@needs("iam", "SimulatePrincipalPolicy", "PolicyExclusionList")
def test_policy_exclusion_of_the_boundary(iam: Any) -> None:
    user = uid("sim")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=doc(allow("s3:*")))
    boundary = iam.create_policy(
        PolicyName=uid("boundary"), PolicyDocument=doc(allow("s3:GetObject"))
    )["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary)

    def simulate(*identifiers: dict) -> dict[str, str]:
        return _decisions(
            iam.simulate_principal_policy(
                PolicySourceArn=arn,
                ActionNames=["s3:GetObject", "s3:PutObject"],
                PolicyExclusionList=list(identifiers),
            )
        )

    assert simulate() == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny"}
    assert simulate({"PolicyType": "permission-boundary"}) == {
        "s3:GetObject": "allowed",
        "s3:PutObject": "allowed",
    }
    # An ARN names attached managed policies, not the boundary.
    assert simulate({"PolicyArn": boundary})["s3:PutObject"] == "implicitDeny"


@needs("iam", "SimulatePrincipalPolicy", "PolicyExclusionList")
def test_malformed_policy_identifiers(iam: Any, raw_iam: Any, simulated_user: str) -> None:
    def simulate(client: Any, identifier: dict) -> tuple[str, int, str]:
        return fails(
            client.simulate_principal_policy,
            PolicySourceArn=simulated_user,
            ActionNames=["s3:GetObject"],
            PolicyExclusionList=[identifier],
        )

    for arn in (
        "arn:aws:iam::*:policy/anything",  # a wildcard outside the resource name
        f"arn:aws:iam::{ACCOUNT}:policy/a*b*",  # two *
        f"arn:aws:s3:::{ACCOUNT}-bucket/policy/x",
        f"arn:aws:iam::{ACCOUNT}:role/not-a-policy",
        "not an arn at all, but long",
    ):
        assert simulate(iam, {"PolicyArn": arn})[:2] == ("InvalidInput", 400), arn
    two = {"PolicyType": "inline", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/x"}
    assert simulate(raw_iam, two)[:2] == ("InvalidInput", 400)
    assert simulate(raw_iam, {"PolicyType": "everything"})[:2] == ("ValidationError", 400)


@needs("iam", "SimulateCustomPolicy", "OrderedOrganizationPolicyInputList")
def test_scp_levels_in_order(iam: Any) -> None:
    everything = doc(allow("*"))

    def simulate(*levels: list[str], actions: list[str] = ACTIONS) -> dict[str, Any]:
        out = iam.simulate_custom_policy(
            PolicyInputList=[doc(allow("s3:*"))],
            ActionNames=actions,
            OrderedOrganizationPolicyInputList=[
                {"ServiceControlPolicyInputList": level} for level in levels
            ],
        )
        return {r["EvalActionName"]: r for r in out["EvaluationResults"]}

    def verdicts(results: dict[str, Any]) -> dict[str, tuple[str, bool]]:
        return {
            a: (r["EvalDecision"], r["OrganizationsDecisionDetail"]["AllowedByOrganizations"])
            for a, r in results.items()
        }

    # Every level allows everything: the identity policy decides.
    assert verdicts(simulate([everything], [everything], [everything])) == dict.fromkeys(
        ACTIONS, ("allowed", True)
    )
    # An OU that allows only reads: writes are denied though root and account allow.
    got = verdicts(simulate([everything], [doc(allow(["s3:Get*", "s3:List*"]))], [everything]))
    assert got == {
        "s3:GetObject": ("allowed", True),
        "s3:PutObject": ("implicitDeny", False),
        "s3:ListBucket": ("allowed", True),
        "s3:DeleteObject": ("implicitDeny", False),
    }
    # An explicit deny at any level denies, and is the statement that matched.
    results = simulate([everything, doc(deny("s3:DeleteObject"))], [everything])
    assert verdicts(results)["s3:DeleteObject"] == ("explicitDeny", False)
    assert results["s3:DeleteObject"]["MatchedStatements"][0]["SourcePolicyId"] == (
        "OrderedOrganizationPolicyInputList.1.ServiceControlPolicyInputList.2"
    )
    assert verdicts(results)["s3:GetObject"] == ("allowed", True)
    # A level with no SCP allows nothing; the identity policy still must allow.
    assert set(verdicts(simulate([everything], [])).values()) == {("implicitDeny", False)}
    denied = verdicts(simulate([everything], actions=["ec2:RunInstances"]))
    assert denied == {"ec2:RunInstances": ("implicitDeny", True)}
    # Without levels, no Organizations detail.
    out = iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"]
    )
    assert "OrganizationsDecisionDetail" not in out["EvaluationResults"][0]


@needs("iam", "SimulateCustomPolicy", "OrderedOrganizationPolicyInputList")
def test_scp_levels_refusals(iam: Any, raw_iam: Any) -> None:
    def simulate(client: Any, levels: list[dict]) -> tuple[str, int, str]:
        return fails(
            client.simulate_custom_policy,
            PolicyInputList=[doc(allow("s3:*"))],
            ActionNames=["s3:GetObject"],
            OrderedOrganizationPolicyInputList=levels,
        )

    assert simulate(iam, [{"ServiceControlPolicyInputList": ["{not json"]}])[:2] == (
        "InvalidInput",
        400,
    )
    eight = [{"ServiceControlPolicyInputList": [doc(allow("*"))]}] * 8
    assert simulate(raw_iam, eight)[:2] == ("ValidationError", 400)


# -- STS: MinimumSessionTokenSize --------------------------------------------------


def _check_token(server: StrongroomServer, out: dict, at_least: int) -> None:
    token = out["Credentials"]["SessionToken"]
    assert len(token) >= at_least
    assert out["SessionTokenSize"] == len(token.encode())
    assert out["SessionTokenUtilization"] == min(100, len(token) * 100 // 4096)
    # A longer token still authenticates, and only the whole token does.
    creds = {
        "access_key_id": out["Credentials"]["AccessKeyId"],
        "secret_access_key": out["Credentials"]["SecretAccessKey"],
    }
    server.client("sts", session_token=token, **creds).get_caller_identity()
    assert fails(server.client("sts", session_token=token[:-1], **creds).get_caller_identity)[
        :2
    ] in (("InvalidClientTokenId", 403), ("UnrecognizedClientException", 403))


@needs("sts", "AssumeRole", "MinimumSessionTokenSize")
def test_assume_role_minimum_token_size(server: StrongroomServer, iam: Any) -> None:
    name = uid("big")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    user = new_user(server, allow("sts:AssumeRole", role))
    sts = server.client("sts", **user)
    plain = sts.assume_role(RoleArn=role, RoleSessionName="ss")
    default = len(plain["Credentials"]["SessionToken"])
    assert plain["SessionTokenSize"] == default
    for size in (0, default - 1, default + 1, 1000, 4096):
        out = sts.assume_role(RoleArn=role, RoleSessionName="ss", MinimumSessionTokenSize=size)
        _check_token(server, out, size)
        if size <= default:
            assert len(out["Credentials"]["SessionToken"]) == default
    assert (
        len(
            sts.assume_role(RoleArn=role, RoleSessionName="ss", MinimumSessionTokenSize=4096)[
                "Credentials"
            ]["SessionToken"]
        )
        == 4096
    )
    raw = server.client(
        "sts", config=Config(retries={"max_attempts": 1}, parameter_validation=False), **user
    )
    for bad in (4097, -1):
        assert fails(
            raw.assume_role, RoleArn=role, RoleSessionName="ss", MinimumSessionTokenSize=bad
        )[:2] == ("ValidationError", 400)
    # A caller the role does not trust gets no token, whatever its size.
    other = server.client("sts", **new_user(server))
    assert fails(
        other.assume_role, RoleArn=role, RoleSessionName="ss", MinimumSessionTokenSize=2000
    )[:2] == ("AccessDenied", 403)


@needs("sts", "GetSessionToken", "MinimumSessionTokenSize")
def test_session_and_federation_tokens_minimum_size(server: StrongroomServer) -> None:
    user = new_user(server, allow(["sts:GetFederationToken", "iam:ListRoles"]))
    sts = server.client("sts", **user)
    _check_token(server, sts.get_session_token(MinimumSessionTokenSize=2048), 2048)
    out = sts.get_federation_token(
        Name="fed", Policy=doc(allow("iam:ListRoles")), MinimumSessionTokenSize=3000
    )
    _check_token(server, out, 3000)
    c = out["Credentials"]
    server.client(
        "iam",
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
    ).list_roles()


@needs("cloudtrail", "CreateTrail", "RecursiveLogging")
def test_trail_recursive_logging(server: StrongroomServer) -> None:
    ct = server.client("cloudtrail")
    name = uid("recursive")
    make_trail_bucket(server.client("s3"), "drift-bucket")
    made = ct.create_trail(Name=name, S3BucketName="drift-bucket")
    assert made["RecursiveLogging"] is True  # AWS's default
    ct.update_trail(Name=name, RecursiveLogging=False)
    assert ct.get_trail(Name=name)["Trail"]["RecursiveLogging"] is False
    ct.delete_trail(Name=name)


@needs("rds", "StartDBInstance", "DBCapacityReservationIdentifier")
def test_rds_capacity_reservations_are_none(server: StrongroomServer) -> None:
    rds = server.client("rds")
    name = uid("cr")
    rds.create_db_instance(
        DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="Pass-word-1", AllocatedStorage=20,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while (
        rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rds.stop_db_instance(DBInstanceIdentifier=name, DetachFromDBCapacityReservation=True)
    while (
        rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]
        != "stopped"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (
        fails(
            lambda: rds.start_db_instance(
                DBInstanceIdentifier=name, DBCapacityReservationIdentifier="dbcr-none"
            )
        )[0]
        == "DBCapacityReservationNotFound"
    )
