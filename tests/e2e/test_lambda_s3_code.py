"""Lambda deployment packages from S3 (Code.S3Bucket / S3Key / S3ObjectVersion):
fetched with the caller's own S3 permissions, S3's refusals in Lambda's words."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from lambda_helpers import code_of, handler_zip, role

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def lam(server: StrongroomServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def s3(server: StrongroomServer) -> Any:
    return server.client("s3")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = f"code-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="module")
def role_arn(server: StrongroomServer) -> str:
    return role(server.client("iam"))


def _returning(value: int) -> bytes:
    return handler_zip(f"def lambda_handler(event, context):\n    return {value}\n")


def _invoke(lam: Any, name: str) -> Any:
    return json.loads(lam.invoke(FunctionName=name)["Payload"].read())


def _wait(lam: Any, name: str) -> None:
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def test_create_and_update_from_s3_objects_and_versions(
    lam: Any, s3: Any, bucket: str, role_arn: str
) -> None:
    first = s3.put_object(Bucket=bucket, Key="fn.zip", Body=_returning(1))["VersionId"]
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=_returning(2))
    name = "s3code-" + uuid.uuid4().hex[:8]
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"S3Bucket": bucket, "S3Key": "fn.zip", "S3ObjectVersion": first},
    )
    _wait(lam, name)
    assert _invoke(lam, name) == 1
    assert out["CodeSize"] == len(_returning(1))
    lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="fn.zip")
    _wait(lam, name)
    assert _invoke(lam, name) == 2  # the latest version of the object


def test_s3_errors_come_back_in_lambdas_words(
    lam: Any, bucket: str, role_arn: str, server: StrongroomServer
) -> None:
    def create(code: dict[str, str], client: Any = lam) -> botocore.exceptions.ClientError:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            client.create_function(
                FunctionName="s3code-" + uuid.uuid4().hex[:8],
                Runtime="python3.11",
                Role=role_arn,
                Handler="lambda_function.lambda_handler",
                Code=code,
            )
        return exc

    missing = create({"S3Bucket": bucket, "S3Key": "absent.zip"})
    assert code_of(missing) == "InvalidParameterValueException"
    assert missing.value.response["Error"]["Message"] == (
        "Error occurred while GetObject. S3 Error Code: NoSuchKey. "
        "S3 Error Message: The specified key does not exist."
    )
    no_bucket = create({"S3Bucket": "no-such-bucket-" + uuid.uuid4().hex[:6], "S3Key": "x.zip"})
    assert "S3 Error Code: NoSuchBucket" in no_bucket.value.response["Error"]["Message"]
    assert code_of(create({"S3Bucket": bucket})) == "InvalidParameterValueException"

    # An IAM user who may create functions and pass the role, but not read the object.
    iam = server.client("iam")
    user = "s3code-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="lambda-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["lambda:CreateFunction", "iam:PassRole"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = server.client(
        "lambda", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    server.client("s3").put_object(Bucket=bucket, Key="private.zip", Body=_returning(3))
    denied = create({"S3Bucket": bucket, "S3Key": "private.zip"}, theirs)
    assert code_of(denied) == "InvalidParameterValueException"
    assert denied.value.response["Error"]["Message"].startswith(
        "Your access has been denied by S3, please make sure your request credentials have "
        f"permission to GetObject for {bucket}/private.zip."
    )
