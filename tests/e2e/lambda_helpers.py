"""Helpers shared by the Lambda end-to-end tests: zips built in the test,
roles that trust Lambda (or not)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


def handler_zip(body: str) -> bytes:
    return zip_of({"lambda_function.py": body})


ECHO = """
import os

def lambda_handler(event, context):
    return {
        "event": event,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "greeting": os.environ.get("GREETING"),
    }
"""


def role(iam: Any, trust: dict | None = None, name: str | None = None) -> str:
    name = name or "fn-" + uuid.uuid4().hex[:10]
    return iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust or LAMBDA_TRUST)
    )["Role"]["Arn"]


def create(
    client: Any, role_arn: str, code: bytes | None = None, name: str | None = None, **more: Any
) -> dict[str, Any]:
    name = name or "f-" + uuid.uuid4().hex[:10]
    more.setdefault("Runtime", "python3.11")
    out = client.create_function(
        FunctionName=name,
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code or handler_zip(ECHO)},
        **more,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return out


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def invoke_json(client: Any, name: str, event: Any, **more: Any) -> tuple[dict, Any]:
    out = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **more)
    return out, json.loads(out["Payload"].read())
