"""Who may touch a function: forged signatures are refused, another account
only where the function's resource policy (AddPermission) lets it in, an
IAM user only as its policies allow; GetPolicy / RemovePermission."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from lambda_helpers import code_of, create, handler_zip, invoke_json, role

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-lx-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts: Any) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def lam(server: StrongroomServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def other(two_accounts: Any) -> Any:
    server, creds = two_accounts
    return server.client("lambda", **creds)


@pytest.fixture(scope="module")
def role_arn(server: StrongroomServer) -> str:
    return role(server.client("iam"))


@pytest.fixture(scope="module")
def fn(lam: Any, role_arn: str) -> dict[str, Any]:
    out = create(lam, role_arn)
    lam.publish_version(FunctionName=out["FunctionName"])
    lam.create_alias(FunctionName=out["FunctionName"], Name="live", FunctionVersion="1")
    return out


def new_user(server: StrongroomServer, policy: dict | None = None) -> tuple[str, Any]:
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client(
        "lambda", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


#: Each operation, called on the module's function `f` (its ARN as `a`).
CALLS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "GetFunction": lambda c, f: c.get_function(FunctionName=f["FunctionArn"]),
    "GetFunctionConfiguration": lambda c, f: c.get_function_configuration(
        FunctionName=f["FunctionArn"]
    ),
    "UpdateFunctionConfiguration": lambda c, f: c.update_function_configuration(
        FunctionName=f["FunctionArn"], Description="changed"
    ),
    "UpdateFunctionCode": lambda c, f: c.update_function_code(
        FunctionName=f["FunctionArn"], ZipFile=handler_zip("x = 1\n")
    ),
    "DeleteFunction": lambda c, f: c.delete_function(FunctionName=f["FunctionArn"]),
    "PublishVersion": lambda c, f: c.publish_version(FunctionName=f["FunctionArn"]),
    "ListVersionsByFunction": lambda c, f: c.list_versions_by_function(
        FunctionName=f["FunctionArn"]
    ),
    "CreateAlias": lambda c, f: c.create_alias(
        FunctionName=f["FunctionArn"], Name="new", FunctionVersion="1"
    ),
    "GetAlias": lambda c, f: c.get_alias(FunctionName=f["FunctionArn"], Name="live"),
    "UpdateAlias": lambda c, f: c.update_alias(
        FunctionName=f["FunctionArn"], Name="live", Description="x"
    ),
    "DeleteAlias": lambda c, f: c.delete_alias(FunctionName=f["FunctionArn"], Name="live"),
    "ListAliases": lambda c, f: c.list_aliases(FunctionName=f["FunctionArn"]),
    "AddPermission": lambda c, f: c.add_permission(
        FunctionName=f["FunctionArn"],
        StatementId="x" + uuid.uuid4().hex[:6],
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    ),
    "RemovePermission": lambda c, f: c.remove_permission(
        FunctionName=f["FunctionArn"], StatementId="none"
    ),
    "GetPolicy": lambda c, f: c.get_policy(FunctionName=f["FunctionArn"]),
    "Invoke": lambda c, f: c.invoke(FunctionName=f["FunctionArn"], Payload=b"{}"),
    "ListTags": lambda c, f: c.list_tags(Resource=f["FunctionArn"]),
    "TagResource": lambda c, f: c.tag_resource(Resource=f["FunctionArn"], Tags={"k": "v"}),
    "UntagResource": lambda c, f: c.untag_resource(Resource=f["FunctionArn"], TagKeys=["k"]),
    "CreateFunction": lambda c, f: c.create_function(
        FunctionName=f"arn:aws:lambda:us-east-1:{OWNER}:function:made-" + uuid.uuid4().hex[:6],
        Runtime="python3.11",
        Role=f["Role"],
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": handler_zip("x = 1\n")},
    ),
    "ListFunctions": lambda c, f: c.list_functions(),
    "GetAccountSettings": lambda c, f: c.get_account_settings(),
    "PutFunctionConcurrency": lambda c, f: c.put_function_concurrency(
        FunctionName=f["FunctionArn"], ReservedConcurrentExecutions=5
    ),
    "GetFunctionConcurrency": lambda c, f: c.get_function_concurrency(
        FunctionName=f["FunctionArn"]
    ),
    "DeleteFunctionConcurrency": lambda c, f: c.delete_function_concurrency(
        FunctionName=f["FunctionArn"]
    ),
}
#: Operations about the caller's own account only (nothing of another's to refuse).
OWN_ACCOUNT = {"ListFunctions", "GetAccountSettings"}


def test_every_served_operation_is_in_the_table(server: StrongroomServer) -> None:
    served = set(server.health()["services"]["lambda"]["operations"])
    assert served == set(CALLS)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(
    server: StrongroomServer, fn: dict[str, Any], operation: str
) -> None:
    forged = server.client("lambda", secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        CALLS[operation](forged, fn)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert code_of(exc) in ("InvalidSignatureException", "SignatureDoesNotMatch")


@pytest.mark.parametrize("operation", sorted(set(CALLS) - OWN_ACCOUNT))
def test_another_account_is_refused_without_permission(
    other: Any, fn: dict[str, Any], operation: str
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        CALLS[operation](other, fn)
    assert code_of(exc) == "AccessDeniedException", exc.value.response
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_another_account_lists_only_its_own(other: Any, fn: dict[str, Any]) -> None:
    names = [f["FunctionName"] for f in other.list_functions()["Functions"]]
    assert fn["FunctionName"] not in names


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_an_unauthorized_user_is_refused(
    server: StrongroomServer, fn: dict[str, Any], operation: str
) -> None:
    _, client = new_user(server)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        CALLS[operation](client, fn)
    assert code_of(exc) == "AccessDeniedException"
    message = exc.value.response["Error"]["Message"]
    assert "is not authorized to perform: lambda:" in message or "iam:PassRole" in message


def test_a_user_allowed_by_policy(server: StrongroomServer, fn: dict[str, Any]) -> None:
    arn = fn["FunctionArn"]
    _, client = new_user(
        server,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["lambda:InvokeFunction", "lambda:GetFunction"],
                    "Resource": [arn, arn + ":*"],
                }
            ],
        },
    )
    assert client.get_function(FunctionName=arn)["Configuration"]["FunctionArn"] == arn
    out, body = invoke_json(client, arn, {"hello": 1})
    assert body["event"] == {"hello": 1}
    out, body = invoke_json(client, arn + ":live", {"hello": 2})
    assert out["ExecutedVersion"] == "1"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client.update_function_configuration(FunctionName=arn, Description="no")
    assert code_of(exc) == "AccessDeniedException"


def test_create_function_needs_pass_role(server: StrongroomServer, fn: dict[str, Any]) -> None:
    _, client = new_user(
        server,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}],
        },
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        CALLS["CreateFunction"](client, fn)
    assert "iam:PassRole" in exc.value.response["Error"]["Message"]


def test_add_permission_lets_another_account_invoke(lam: Any, other: Any, role_arn: str) -> None:
    made = create(lam, role_arn)
    arn = made["FunctionArn"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        other.invoke(FunctionName=arn, Payload=b"{}")
    assert code_of(exc) == "AccessDeniedException"
    out = lam.add_permission(
        FunctionName=made["FunctionName"],
        StatementId="other-account",
        Action="lambda:InvokeFunction",
        Principal=OTHER,
    )
    statement = json.loads(out["Statement"])
    assert statement == {
        "Sid": "other-account",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
    }
    out, body = invoke_json(other, arn, {"from": "other"})
    assert body["event"] == {"from": "other"}
    # Only what was granted.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        other.get_function(FunctionName=arn)
    assert code_of(exc) == "AccessDeniedException"
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.add_permission(
            FunctionName=made["FunctionName"],
            StatementId="other-account",
            Action="lambda:InvokeFunction",
            Principal=OTHER,
        )
    lam.remove_permission(FunctionName=made["FunctionName"], StatementId="other-account")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        other.invoke(FunctionName=arn, Payload=b"{}")
    assert code_of(exc) == "AccessDeniedException"


def test_policy_documents_conditions_and_revisions(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn)["FunctionName"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=name)
    lam.add_permission(
        FunctionName=name,
        StatementId="sm",
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
        SourceAccount=OWNER,
        SourceArn=f"arn:aws:secretsmanager:us-east-1:{OWNER}:secret:*",
    )
    got = lam.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17" and len(policy["Statement"]) == 1
    st = policy["Statement"][0]
    assert st["Principal"] == {"Service": "secretsmanager.amazonaws.com"}
    assert st["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": OWNER},
        "ArnLike": {"AWS:SourceArn": f"arn:aws:secretsmanager:us-east-1:{OWNER}:secret:*"},
    }
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.add_permission(
            FunctionName=name,
            StatementId="s2",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            RevisionId="old",
        )
    lam.add_permission(
        FunctionName=name,
        StatementId="s2",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        RevisionId=got["RevisionId"],
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.remove_permission(FunctionName=name, StatementId="nope")
    assert exc.value.response["Error"]["Message"] == (
        "Statement nope is not found in resource policy."
    )
    lam.remove_permission(FunctionName=name, StatementId="sm")
    lam.remove_permission(FunctionName=name, StatementId="s2")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=name)


def test_qualified_policies_are_their_own(lam: Any, other: Any, fn: dict[str, Any]) -> None:
    name = fn["FunctionName"]
    lam.add_permission(
        FunctionName=name,
        Qualifier="1",
        StatementId="v1-other",
        Action="lambda:InvokeFunction",
        Principal=OTHER,
    )
    assert (
        json.loads(lam.get_policy(FunctionName=name, Qualifier="1")["Policy"])["Statement"][0][
            "Resource"
        ]
        == fn["FunctionArn"] + ":1"
    )
    out, _ = invoke_json(other, fn["FunctionArn"] + ":1", {})
    assert out["ExecutedVersion"] == "1"
    with pytest.raises(botocore.exceptions.ClientError):
        other.invoke(FunctionName=fn["FunctionArn"], Payload=b"{}")
    lam.remove_permission(FunctionName=name, Qualifier="1", StatementId="v1-other")
