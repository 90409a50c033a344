"""KMS across accounts, end to end: another account uses a key only when the
key policy trusts it and, for its IAM identities, its own IAM policies allow
it too; aliases and listings stay within an account.

Two accounts share one data directory: a server started once with
``--account 111111111111`` and root-key variables creates that account's
root key, then the server runs with the default account.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-x-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def other_root(two_accounts) -> dict[str, str]:
    """The other account's root key, as client keyword arguments."""
    return two_accounts[1]


def other_client(server: StrongroomServer, other: dict[str, str], service: str = "kms"):
    return server.client(service, **other)


def owner_policy(*more: dict) -> str:
    root = {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
            "Action": "kms:*", "Resource": "*"}  # fmt: skip
    return doc(root, *more)


def trust_other(actions: list[str]) -> dict:
    return {"Sid": "other", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": actions, "Resource": "*"}  # fmt: skip


def test_the_accounts_are_distinct(server: StrongroomServer, other_root) -> None:
    assert server.client("sts").get_caller_identity()["Account"] == OWNER
    assert other_client(server, other_root, "sts").get_caller_identity()["Account"] == OTHER


def test_default_key_policy_keeps_other_accounts_out(server: StrongroomServer, other_root) -> None:
    key = server.client("kms").create_key()["KeyMetadata"]
    theirs = other_client(server, other_root)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        theirs.encrypt(KeyId=key["Arn"], Plaintext=b"p")
    assert code_of(exc) == "AccessDeniedException"
    assert f"arn:aws:iam::{OTHER}:root" in exc.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        theirs.describe_key(KeyId=key["Arn"])
    assert code_of(exc) == "AccessDeniedException"


def test_a_key_policy_trusting_the_account_lets_its_root_in(
    server: StrongroomServer, other_root
) -> None:
    kms = server.client("kms")
    key = kms.create_key(
        Policy=owner_policy(trust_other(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]))
    )["KeyMetadata"]
    theirs = other_client(server, other_root)
    blob = theirs.encrypt(KeyId=key["Arn"], Plaintext=b"shared", EncryptionContext={"tenant": "b"})[
        "CiphertextBlob"
    ]
    # Either side decrypts; the KeyId in answers is the owner's key ARN.
    out = theirs.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "b"})
    assert (out["Plaintext"], out["KeyId"]) == (b"shared", key["Arn"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "b"})["Plaintext"] == (
        b"shared"
    )
    assert theirs.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    # Only what the key policy names: not GenerateDataKey, not key administration.
    for call in (
        lambda: theirs.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256"),
        lambda: theirs.disable_key(KeyId=key["Arn"]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) == "AccessDeniedException"


def test_other_account_users_need_their_own_iam_allow(server: StrongroomServer, other_root) -> None:
    key = server.client("kms").create_key(Policy=owner_policy(trust_other(["kms:Encrypt"])))[
        "KeyMetadata"
    ]
    iam = other_client(server, other_root, "iam")
    name = "x-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = server.client(
        "kms", access_key_id=access["AccessKeyId"], secret_access_key=access["SecretAccessKey"]
    )
    # The key policy trusts the account, but the account has not allowed the user.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.encrypt(KeyId=key["Arn"], Plaintext=b"p")
    assert code_of(exc) == "AccessDeniedException"
    assert f"arn:aws:iam::{OTHER}:user/{name}" in exc.value.response["Error"]["Message"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="use-shared-key",
        PolicyDocument=doc({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key["Arn"]}),
    )
    assert as_user.encrypt(KeyId=key["Arn"], Plaintext=b"p")["KeyId"] == key["Arn"]
    # An IAM allow for an action the key policy does not grant the account is not enough.
    iam.put_user_policy(
        UserName=name,
        PolicyName="more",
        PolicyDocument=doc({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        as_user.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    assert code_of(exc) == "AccessDeniedException"


def test_aliases_and_listings_stay_in_their_account(server: StrongroomServer, other_root) -> None:
    kms = server.client("kms")
    alias = "alias/shared-" + uuid.uuid4().hex[:8]
    key = kms.create_key(Policy=owner_policy(trust_other(["kms:Encrypt"])))["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    theirs = other_client(server, other_root)
    # An alias name resolves in the caller's own account.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        theirs.encrypt(KeyId=alias, Plaintext=b"p")
    assert code_of(exc) == "NotFoundException"
    # A bare key id, too: another account's key is reached by its ARN only.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        theirs.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    assert code_of(exc) == "NotFoundException"
    listed = {k["KeyId"] for k in theirs.list_keys()["Keys"]}
    assert key["KeyId"] not in listed
    assert alias not in {a["AliasName"] for a in theirs.list_aliases()["Aliases"]}


def test_retirable_grants_are_listed_by_their_retiring_account(
    server: StrongroomServer, other_root
) -> None:
    """ListRetirableGrants names a principal of the caller's own account; the
    grants it lists may be on other accounts' keys (AWS documents both)."""
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    other_root_arn = f"arn:aws:iam::{OTHER}:root"
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=f"arn:aws:iam::{OWNER}:root",
        RetiringPrincipal=other_root_arn,
        Operations=["Encrypt"],
    )
    theirs = other_client(server, other_root)
    listed = theirs.list_retirable_grants(RetiringPrincipal=other_root_arn)["Grants"]
    assert [(g["GrantId"], g["KeyId"]) for g in listed] == [(grant["GrantId"], key["Arn"])]
    # The owner's principals are not the other account's to ask about.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        theirs.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{OWNER}:root")
    assert code_of(exc) == "AccessDeniedException"
    theirs.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
