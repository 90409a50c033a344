"""services/lambda_/api.py: another service invokes a function as its
service principal, allowed only by the function's resource policy (and its
SourceArn / SourceAccount conditions)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.lambda_ import api as lambda_api
from strongroom.services.lambda_.service import errors

SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"
CODE = "def lambda_handler(event, context):\n    return {'step': event['Step']}\n"


def _zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("lambda_function.py", CODE)
    return buf.getvalue()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = Config(data_dir=tmp_path)
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


@pytest.fixture
def function_arn(app: App, internal_call: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="secretsmanager")
        role = call.invoke(
            "iam", "CreateRole", RoleName="rotator", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        arn = call.invoke(
            "lambda",
            "CreateFunction",
            FunctionName="rotate",
            Runtime="python3.11",
            Role=role,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
    time.sleep(0.4)  # Pending, then Active
    return arn


def _invoke(app: App, internal_call: Any, arn: str, **kw: Any) -> lambda_api.Outcome:
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, service="secretsmanager")
        return lambda_api.invoke_as_service(
            call,
            arn,
            json.dumps({"Step": "createSecret"}).encode(),
            principal=kw.pop("principal", "secretsmanager.amazonaws.com"),
            **kw,
        )


def test_a_service_needs_the_resource_policy(
    app: App, internal_call: Any, function_arn: str
) -> None:
    with pytest.raises(errors.AccessDeniedException):
        _invoke(app, internal_call, function_arn, source_arn=SECRET)
    with app.store.transaction(write=True) as conn:
        internal_call(app, conn).invoke(
            "lambda",
            "AddPermission",
            FunctionName="rotate",
            StatementId="sm",
            Action="lambda:InvokeFunction",
            Principal="secretsmanager.amazonaws.com",
            SourceArn="arn:aws:secretsmanager:us-east-1:000000000000:secret:db-*",
            SourceAccount="000000000000",
        )
    out = _invoke(
        app, internal_call, function_arn, source_arn=SECRET, source_account="000000000000"
    )
    assert (out.status, out.function_error) == (200, None)
    assert json.loads(out.payload) == {"step": "createSecret"}
    # The conditions hold, and only the named service is let in.
    other_secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ"
    with pytest.raises(errors.AccessDeniedException):
        _invoke(
            app, internal_call, function_arn, source_arn=other_secret,
            source_account="000000000000",
        )  # fmt: skip
    with pytest.raises(errors.AccessDeniedException):
        _invoke(app, internal_call, function_arn, source_arn=SECRET)  # no SourceAccount
    with pytest.raises(errors.AccessDeniedException):
        _invoke(
            app, internal_call, function_arn, principal="s3.amazonaws.com",
            source_arn=SECRET, source_account="000000000000",
        )  # fmt: skip
    assert _invoke(
        app, internal_call, function_arn, source_arn=SECRET, source_account="000000000000",
        invocation_type="DryRun",
    ).status == 204  # fmt: skip


def test_a_missing_function_is_lambdas_not_found(app: App, internal_call: Any) -> None:
    with pytest.raises(errors.AccessDeniedException):
        # Nothing allows the service: it learns nothing of what exists.
        _invoke(app, internal_call, "arn:aws:lambda:us-east-1:000000000000:function:none")


def test_later_runs_off_the_callers_thread(app: App, internal_call: Any, function_arn: str) -> None:
    import threading

    with app.store.transaction(write=True) as conn:
        internal_call(app, conn).invoke(
            "lambda",
            "AddPermission",
            FunctionName="rotate",
            StatementId="sm",
            Action="lambda:InvokeFunction",
            Principal="secretsmanager.amazonaws.com",
        )
    caller = threading.get_ident()
    future = lambda_api.invoke_as_service_later(
        app.runtime,
        function_arn,
        json.dumps({"Step": "testSecret"}).encode(),
        principal="secretsmanager.amazonaws.com",
        source_arn=SECRET,
    )
    assert threading.get_ident() == caller
    out = future.result(timeout=60)
    assert json.loads(out.payload) == {"step": "testSecret"}
    denied = lambda_api.invoke_as_service_later(
        app.runtime, function_arn, b"{}", principal="s3.amazonaws.com"
    )
    with pytest.raises(errors.AccessDeniedException):
        denied.result(timeout=60)
