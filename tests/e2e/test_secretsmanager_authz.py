"""Secrets Manager authorization end to end: every operation refused to a
forged signature, to a caller with no policy and to another account; IAM
policies on secret ARNs; resource policies (Put/Get/Delete/Validate,
BlockPublicPolicy) enforced by the policy engine; cross-account reads that
need both the secret's policy and the KMS key's; kms:ViaService."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name

from strongroom.protocol.model import load_service_model
from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return code_of(exc), exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-sm-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def sm(server: StrongroomServer):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts):
    """The other account's root, on Secrets Manager."""
    return server.client("secretsmanager", **two_accounts[1])


def new_user(server: StrongroomServer, service: str = "secretsmanager") -> tuple[str, Any]:
    iam = server.client("iam")
    name = "s-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client(
        service, access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


@pytest.fixture(scope="module")
def target(sm) -> dict[str, str]:
    name = f"authz/{uuid.uuid4().hex[:8]}"
    out = sm.create_secret(Name=name, SecretString="owner-only")
    return {"name": name, "arn": out["ARN"], "version": out["VersionId"]}


POLICY = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
              "Action": "secretsmanager:GetSecretValue", "Resource": "*"})  # fmt: skip

#: Every operation of the model, with the arguments it is called with on the
#: owner's secret (its ARN, so another account names it too).
CALLS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "BatchGetSecretValue": lambda t: {"SecretIdList": [t["arn"]]},
    "CancelRotateSecret": lambda t: {"SecretId": t["arn"]},
    "CreateSecret": lambda t: {"Name": f"new/{uuid.uuid4().hex[:8]}", "SecretString": "v"},
    "DeleteResourcePolicy": lambda t: {"SecretId": t["arn"]},
    "DeleteSecret": lambda t: {"SecretId": t["arn"], "RecoveryWindowInDays": 7},
    "DescribeSecret": lambda t: {"SecretId": t["arn"]},
    "GetRandomPassword": lambda t: {},
    "GetResourcePolicy": lambda t: {"SecretId": t["arn"]},
    "GetSecretValue": lambda t: {"SecretId": t["arn"]},
    "ListSecretVersionIds": lambda t: {"SecretId": t["arn"]},
    "ListSecrets": lambda t: {},
    "PutResourcePolicy": lambda t: {"SecretId": t["arn"], "ResourcePolicy": POLICY},
    "PutSecretValue": lambda t: {"SecretId": t["arn"], "SecretString": "theirs"},
    "RemoveRegionsFromReplication": lambda t: {
        "SecretId": t["arn"],
        "RemoveReplicaRegions": ["us-west-2"],
    },
    "ReplicateSecretToRegions": lambda t: {
        "SecretId": t["arn"],
        "AddReplicaRegions": [{"Region": "us-west-2"}],
    },
    "RestoreSecret": lambda t: {"SecretId": t["arn"]},
    "RotateSecret": lambda t: {"SecretId": t["arn"]},
    "StopReplicationToReplica": lambda t: {"SecretId": t["arn"]},
    "TagResource": lambda t: {"SecretId": t["arn"], "Tags": [{"Key": "k", "Value": "v"}]},
    "UntagResource": lambda t: {"SecretId": t["arn"], "TagKeys": ["k"]},
    "UpdateSecret": lambda t: {"SecretId": t["arn"], "Description": "theirs"},
    "UpdateSecretVersionStage": lambda t: {
        "SecretId": t["arn"],
        "VersionStage": "theirs",
        "MoveToVersionId": t["version"],
    },
    "ValidateResourcePolicy": lambda t: {"SecretId": t["arn"], "ResourcePolicy": POLICY},
}
#: Operations on no secret of the owner's: another account may call them (on its own).
ACCOUNT_LEVEL = {"CreateSecret", "GetRandomPassword", "ListSecrets", "BatchGetSecretValue"}


def test_every_operation_is_covered() -> None:
    assert set(CALLS) == set(load_service_model("secretsmanager").operation_names)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("secretsmanager", secret_access_key="x" * 40)
    code, _ = fails(getattr(forged, xform_name(operation)), **CALLS[operation](target))
    assert code == "InvalidSignatureException"


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(server: StrongroomServer, target, operation) -> None:
    name, nobody = new_user(server)
    code, message = fails(getattr(nobody, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:iam::{OWNER}:user/{name} is not authorized")


@pytest.mark.parametrize("operation", sorted(set(CALLS) - ACCOUNT_LEVEL))
def test_another_account_is_refused(theirs, target, operation) -> None:
    code, message = fails(getattr(theirs, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDeniedException"
    assert f"arn:aws:iam::{OTHER}:root" in message


def test_another_accounts_batch_names_the_refusal(theirs, target) -> None:
    out = theirs.batch_get_secret_value(SecretIdList=[target["arn"]])
    assert out["SecretValues"] == []
    assert [e["ErrorCode"] for e in out["Errors"]] == ["AccessDeniedException"]


def test_the_owners_secret_is_untouched(sm, target) -> None:
    assert sm.get_secret_value(SecretId=target["name"])["SecretString"] == "owner-only"
    assert "DeletedDate" not in sm.describe_secret(SecretId=target["name"])


# --------------------------------------------------------------------------- IAM policies


def test_identity_policy_on_the_secret_arn(server: StrongroomServer, sm) -> None:
    iam = server.client("iam")
    name, as_user = new_user(server)
    mine = sm.create_secret(Name=f"team/{name}/db", SecretString="team")
    other = sm.create_secret(Name=f"else/{name}", SecretString="no")
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue",
             "secretsmanager:DescribeSecret"],
             "Resource": f"arn:aws:secretsmanager:us-east-1:{OWNER}:secret:team/{name}/db-??????"}
        ),
    )  # fmt: skip
    assert as_user.get_secret_value(SecretId=f"team/{name}/db")["SecretString"] == "team"
    assert as_user.get_secret_value(SecretId=mine["ARN"])["SecretString"] == "team"
    code, _ = fails(as_user.get_secret_value, SecretId=other["ARN"])
    assert code == "AccessDeniedException"
    code, _ = fails(as_user.put_secret_value, SecretId=mine["ARN"], SecretString="x")
    assert code == "AccessDeniedException"
    # A secret not there: the caller allowed on that ARN learns it is missing.
    code, _ = fails(as_user.describe_secret, SecretId=f"team/{name}/db-none")
    assert code == "AccessDeniedException"


def test_tag_condition(server: StrongroomServer, sm) -> None:
    iam = server.client("iam")
    name, as_user = new_user(server)
    tagged = sm.create_secret(
        Name=f"abac/{name}/a", SecretString="a", Tags=[{"Key": "team", "Value": name}]
    )
    untagged = sm.create_secret(Name=f"abac/{name}/b", SecretString="b")
    iam.put_user_policy(
        UserName=name,
        PolicyName="abac",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": name}}}
        ),
    )  # fmt: skip
    assert as_user.get_secret_value(SecretId=tagged["ARN"])["SecretString"] == "a"
    code, _ = fails(as_user.get_secret_value, SecretId=untagged["ARN"])
    assert code == "AccessDeniedException"


def test_customer_key_needs_kms_decrypt_via_secrets_manager(server: StrongroomServer, sm) -> None:
    iam = server.client("iam")
    kms = server.client("kms")
    name, as_user = new_user(server)
    key = kms.create_key()["KeyMetadata"]  # the default policy: IAM decides
    secret = sm.create_secret(Name=f"cmk/{name}", SecretString="cmk", KmsKeyId=key["Arn"])
    allow_reads(iam, name)
    code, message = fails(as_user.get_secret_value, SecretId=secret["ARN"])
    assert (code, message) == ("AccessDeniedException", "Access to KMS is not allowed")
    iam.put_user_policy(
        UserName=name,
        PolicyName="kms",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"],
             "Condition": {"StringEquals": {
                 "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}
        ),
    )  # fmt: skip
    assert as_user.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "cmk"
    # The same permission does not reach KMS directly.
    _, as_kms = name, server.client("kms", **_creds_of(as_user))
    code, _ = fails(as_kms.describe_key, KeyId=key["Arn"])
    assert code == "AccessDeniedException"


def allow_reads(iam: Any, user: str) -> None:
    """An identity policy letting `user` call GetSecretValue on any secret."""
    iam.put_user_policy(
        UserName=user,
        PolicyName="sm",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ),
    )


def _creds_of(client: Any) -> dict[str, str]:
    creds = client._request_signer._credentials
    return {"access_key_id": creds.access_key, "secret_access_key": creds.secret_key}


def test_the_managed_key_serves_the_accounts_users(server: StrongroomServer, sm) -> None:
    iam = server.client("iam")
    name, as_user = new_user(server)
    secret = sm.create_secret(Name=f"managed/{name}", SecretString="m")
    allow_reads(iam, name)
    assert as_user.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "m"


# --------------------------------------------------------------------------- resource policies


def test_resource_policy_round_trip_and_validation(sm) -> None:
    name = f"policy/{uuid.uuid4().hex[:8]}"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    out = sm.put_resource_policy(SecretId=name, ResourcePolicy=POLICY)
    assert (out["ARN"], out["Name"]) == (arn, name)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(POLICY)
    assert sm.validate_resource_policy(ResourcePolicy=POLICY)["PolicyValidationPassed"] is True
    bad = sm.validate_resource_policy(SecretId=name, ResourcePolicy='{"Statement": "nope"}')
    assert bad["PolicyValidationPassed"] is False and bad["ValidationErrors"][0]["ErrorMessage"]
    code, _ = fails(sm.put_resource_policy, SecretId=name, ResourcePolicy="{not json")
    assert code == "MalformedPolicyDocumentException"
    public = doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                  "Resource": "*"})  # fmt: skip
    code, _ = fails(
        sm.put_resource_policy, SecretId=name, ResourcePolicy=public, BlockPublicPolicy=True
    )
    assert code == "PublicPolicyException"
    narrowed = doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*", "Condition": {"StringEquals": {
                        "aws:PrincipalAccount": OWNER}}})  # fmt: skip
    sm.put_resource_policy(SecretId=name, ResourcePolicy=narrowed, BlockPublicPolicy=True)
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_a_resource_policy_deny_wins(server: StrongroomServer, sm) -> None:
    iam = server.client("iam")
    name, as_user = new_user(server)
    secret = sm.create_secret(Name=f"deny/{name}", SecretString="v")
    iam.put_user_policy(
        UserName=name,
        PolicyName="all",
        PolicyDocument=doc({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}),
    )
    assert as_user.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "v"
    sm.put_resource_policy(
        SecretId=secret["ARN"],
        ResourcePolicy=doc(
            {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:user/{name}"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ),
    )  # fmt: skip
    code, message = fails(as_user.get_secret_value, SecretId=secret["ARN"])
    assert code == "AccessDeniedException" and "explicit deny" in message
    assert as_user.describe_secret(SecretId=secret["ARN"])["Name"] == f"deny/{name}"


def test_cross_account_read_needs_both_policies(server: StrongroomServer, sm, theirs) -> None:
    kms = server.client("kms")
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"}  # fmt: skip
    # Under the AWS managed key: the secret's policy alone is not enough, ever.
    managed = sm.create_secret(Name=f"x/{uuid.uuid4().hex[:8]}", SecretString="managed")
    sm.put_resource_policy(SecretId=managed["ARN"], ResourcePolicy=doc(trust))
    code, message = fails(theirs.get_secret_value, SecretId=managed["ARN"])
    assert (code, message) == ("AccessDeniedException", "Access to KMS is not allowed")
    # Under a customer key whose policy trusts the other account too: it reads.
    key_policy = doc(
        {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "other", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
         "Action": "kms:Decrypt", "Resource": "*"},
    )  # fmt: skip
    key = kms.create_key(Policy=key_policy)["KeyMetadata"]
    shared = sm.create_secret(
        Name=f"x/{uuid.uuid4().hex[:8]}", SecretString="shared", KmsKeyId=key["Arn"]
    )
    code, _ = fails(theirs.get_secret_value, SecretId=shared["ARN"])
    assert code == "AccessDeniedException"  # no secret policy yet
    sm.put_resource_policy(SecretId=shared["ARN"], ResourcePolicy=doc(trust))
    assert theirs.get_secret_value(SecretId=shared["ARN"])["SecretString"] == "shared"
    # By name the other account finds only its own secrets.
    code, _ = fails(theirs.get_secret_value, SecretId=shared["Name"])
    assert code == "ResourceNotFoundException"
    # Only what the policy names.
    code, _ = fails(theirs.put_secret_value, SecretId=shared["ARN"], SecretString="x")
    assert code == "AccessDeniedException"


def test_another_account_writes_under_the_owners_key(server: StrongroomServer, sm, theirs) -> None:
    """The owner named its key by id: a caller of another account writing a
    version encrypts under that key of the owner's account."""
    kms = server.client("kms")
    key_policy = doc(
        {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "other", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"},
    )  # fmt: skip
    key = kms.create_key(Policy=key_policy)["KeyMetadata"]
    secret = sm.create_secret(
        Name=f"x/{uuid.uuid4().hex[:8]}", SecretString="v1", KmsKeyId=key["KeyId"]
    )
    sm.put_resource_policy(
        SecretId=secret["ARN"],
        ResourcePolicy=doc(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
             "Action": ["secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue"],
             "Resource": "*"}
        ),
    )  # fmt: skip
    theirs.put_secret_value(SecretId=secret["ARN"], SecretString="from-other")
    assert sm.get_secret_value(SecretId=secret["Name"])["SecretString"] == "from-other"
    versions = sm.list_secret_version_ids(SecretId=secret["Name"])["Versions"]
    assert {k for v in versions for k in v["KmsKeyIds"]} == {key["Arn"]}
