"""KMS authorization end to end: key policies, IAM policies and grants combined
as AWS documents, the lockout safety check, and kms: condition keys."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def new_user(server: StrongroomServer) -> tuple[str, str, object]:
    iam = server.client("iam")
    name = "k-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "kms", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    return name, f"arn:aws:iam::{ACCOUNT}:user/{name}", client


def denied(fn) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn()
    assert code_of(exc) == "AccessDeniedException", exc.value
    return exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def kms(server: StrongroomServer):
    return server.client("kms")


def root_statement() -> dict:
    return {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*",
            "Resource": "*"}  # fmt: skip


def test_default_policy_delegates_to_iam(server: StrongroomServer, kms) -> None:
    name, arn, as_user = new_user(server)
    key = kms.create_key()["KeyMetadata"]
    message = denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    assert message.startswith(f"User: {arn} is not authorized to perform: kms:Encrypt on resource:")
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="use",
        PolicyDocument=doc({"Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": key["Arn"]}),
    )
    assert as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["KeyId"] == key["Arn"]
    denied(lambda: as_user.describe_key(KeyId=key["KeyId"]))


def test_iam_allow_is_not_enough_without_key_policy(server: StrongroomServer, kms) -> None:
    name, _arn, as_user = new_user(server)
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="all-kms",
        PolicyDocument=doc({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
    )
    other = f"arn:aws:iam::{ACCOUNT}:user/somebody-else"
    if not _exists(server, "somebody-else"):
        server.client("iam").create_user(UserName="somebody-else")
    policy = doc(
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:*",
         "Resource": "*"},
    )  # fmt: skip
    key = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    message = denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    assert "because no resource-based policy allows the kms:Encrypt action" in message
    # Even the account root is locked out once the key policy does not name it.
    denied(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))


def _exists(server: StrongroomServer, user: str) -> bool:
    try:
        server.client("iam").get_user(UserName=user)
    except botocore.exceptions.ClientError:
        return False
    return True


def test_key_policy_naming_the_user_allows_without_iam(server: StrongroomServer, kms) -> None:
    _, arn, as_user = new_user(server)
    policy = doc(
        root_statement(),
        {"Sid": "user", "Effect": "Allow", "Principal": {"AWS": arn},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
    )  # fmt: skip
    key = kms.create_key(Policy=policy)["KeyMetadata"]
    blob = as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    assert as_user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    denied(lambda: as_user.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"))
    other = kms.encrypt(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], Plaintext=b"p")
    message = denied(lambda: as_user.decrypt(CiphertextBlob=other["CiphertextBlob"]))
    assert message == (
        f"User: {arn} is not authorized to perform: kms:Decrypt on the resource associated "
        "with this ciphertext because no identity-based policy allows the kms:Decrypt action"
    )


def test_explicit_deny_wins(server: StrongroomServer, kms) -> None:
    name, arn, as_user = new_user(server)
    policy = doc(
        root_statement(),
        {"Sid": "user", "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "kms:*",
         "Resource": "*"},
    )  # fmt: skip
    key = kms.create_key(Policy=policy)["KeyMetadata"]
    as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="no-encrypt",
        PolicyDocument=doc({"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}),
    )
    message = denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    assert "with an explicit deny in an identity-based policy" in message
    # A deny in the key policy beats the root's allow too.
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=doc(
            root_statement(),
            {
                "Sid": "deny",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:GenerateDataKey",
                "Resource": "*",
            },
        ),
    )
    denied(lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"))
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")


def test_encryption_context_condition(server: StrongroomServer, kms) -> None:
    name, _, as_user = new_user(server)
    key = kms.create_key()["KeyMetadata"]
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="ctx",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:app": "billing"},
                    "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app"]},
                },
            },
            {
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:KeySpec": "SYMMETRIC_DEFAULT",
                        "kms:KeyUsage": "ENCRYPT_DECRYPT",
                        "kms:CallerAccount": ACCOUNT,
                    }
                },
            },
        ),
    )
    as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"app": "billing"})
    denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    denied(
        lambda: as_user.encrypt(
            KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"app": "other"}
        )
    )
    as_user.describe_key(KeyId=key["KeyId"])


def test_grants(server: StrongroomServer, kms) -> None:
    _, arn, as_user = new_user(server)
    _, retiree_arn, as_retiree = new_user(server)
    key = kms.create_key()["KeyMetadata"]
    denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=arn,
        RetiringPrincipal=retiree_arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"dept": "a"}},
        Name="g1",
    )
    # Effective at once, with or without the token.
    blob = as_user.encrypt(
        KeyId=key["KeyId"],
        Plaintext=b"p",
        EncryptionContext={"dept": "a", "x": "1"},
        GrantTokens=[grant["GrantToken"]],
    )["CiphertextBlob"]
    assert (
        as_user.decrypt(CiphertextBlob=blob, EncryptionContext={"dept": "a", "x": "1"})["Plaintext"]
        == b"p"
    )
    denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))  # constraint unmet
    denied(lambda: as_user.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p", GrantTokens=["not-a-token"])
    assert code_of(exc) == "InvalidGrantTokenException"
    # Name makes a retry idempotent.
    again = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=arn,
        RetiringPrincipal=retiree_arn,
        Operations=["Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": {"dept": "a"}},
        Name="g1",
    )
    assert again["GrantId"] == grant["GrantId"]
    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    entry = listed[0]
    assert entry["GranteePrincipal"] == arn and entry["RetiringPrincipal"] == retiree_arn
    assert entry["Constraints"] == {"EncryptionContextSubset": {"dept": "a"}}
    assert entry["IssuingAccount"] == ROOT and entry["KeyId"] == key["Arn"]
    assert "GrantToken" not in entry
    retirable = kms.list_retirable_grants(RetiringPrincipal=retiree_arn)["Grants"]
    assert [g["GrantId"] for g in retirable] == [grant["GrantId"]]
    as_retiree.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    denied(
        lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"dept": "a"})
    )
    # RevokeGrant, and grant operations a key does not support.
    second = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Encrypt"])
    as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    denied(lambda: as_user.encrypt(KeyId=key["KeyId"], Plaintext=b"p"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    assert code_of(exc) == "NotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Sign"])
    assert code_of(exc) == "ValidationException"


def test_lockout_safety_check(server: StrongroomServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    nobody = doc(
        {"Sid": "x", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"},
         "Action": "kms:Encrypt", "Resource": "*"}
    )  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=nobody)
    assert code_of(exc) == "MalformedPolicyDocumentException"
    assert exc.value.response["Error"]["Message"] == (
        "The new key policy will not allow you to update the key policy in the future."
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy='{"Statement": 1}')
    assert code_of(exc) == "MalformedPolicyDocumentException"
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=nobody,
        BypassPolicyLockoutSafetyCheck=True,
    )
    denied(lambda: kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default"))


def test_aws_cli_grant(server: StrongroomServer, kms) -> None:
    import os
    import subprocess

    _, arn, _ = new_user(server)
    key = kms.create_key()["KeyMetadata"]
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "kms", "create-grant", "--key-id", key["KeyId"], "--grantee-principal", arn,
         "--operations", "Decrypt", "DescribeKey", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    grant_id = json.loads(done.stdout)["GrantId"]
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key["KeyId"])["Grants"]] == [grant_id]


def test_root_follows_key_policy_conditions_and_changes(kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"x": "no"})
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=doc(
            root_statement(),
            {
                "Sid": "no",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:x": "no"}},
            },
        ),
    )
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"x": "yes"})
    denied(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"x": "no"}))
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=doc(root_statement()))
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"x": "no"})


def test_abac_by_alias_and_tag(server: StrongroomServer, kms) -> None:
    name, _, as_user = new_user(server)
    finance = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "finance"}])["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    alias = f"alias/finance-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="abac",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "finance"}},
            },
            {
                "Effect": "Allow",
                "Action": "kms:GenerateDataKey",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/finance-*"}},
            },
        ),
    )
    as_user.encrypt(KeyId=finance["KeyId"], Plaintext=b"p")
    denied(lambda: as_user.encrypt(KeyId=other["KeyId"], Plaintext=b"p"))
    as_user.generate_data_key(KeyId=other["KeyId"], KeySpec="AES_256")
    denied(lambda: as_user.generate_data_key(KeyId=finance["KeyId"], KeySpec="AES_256"))
