"""Authorization fails closed: an operation that returns without an
authorization decision is not answered, and what it wrote is rolled back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.protocol.http import Request
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.iam import users as iam_model
from strongroom.services.registry import served_services


@pytest.fixture
def app(tmp_path) -> Iterator[tuple[App, Credentials]]:
    config = Config(data_dir=tmp_path)
    access_key_id, secret, _ = prepare(config)
    assert secret is not None
    application = App(config)
    yield application, Credentials(access_key_id, secret)
    application.shutdown()


def iam_request(credentials: Credentials, form: str) -> Request:
    aws = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4566/",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(credentials, "iam", "us-east-1").add_auth(aws)
    headers = {k.lower(): v for k, v in aws.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    return Request("POST", "/", "", headers, form.encode())


def test_an_operation_without_a_decision_is_refused_and_rolled_back(app, monkeypatch) -> None:
    application, credentials = app
    iam = next(s for s in application.services if s.name == "iam")
    create_user = iam.operations["CreateUser"]

    def unchecked(call, UserName: str, Path: str = "/", **_) -> dict:
        """CreateUser's work with its own authorize call forgotten."""
        return {"User": iam_model.create_user(call, UserName, Path, None, []).to_user()}

    monkeypatch.setitem(
        iam.operations, "CreateUser", dataclasses.replace(create_user, fn=unchecked, action=None)
    )
    resp = application.handle(
        iam_request(credentials, "Action=CreateUser&UserName=unchecked&Version=2010-05-08")
    )
    assert resp.status == 500
    assert b"InternalFailure" in resp.body
    assert application.internal_failures == 1
    monkeypatch.setitem(iam.operations, "CreateUser", create_user)
    listed = application.handle(iam_request(credentials, "Action=ListUsers&Version=2010-05-08"))
    assert listed.status == 200
    assert b"unchecked" not in listed.body


def test_every_exemption_says_why() -> None:
    exempt = {
        f"{svc.name}:{name}": op.no_authorization
        for svc in served_services()
        for name, op in svc.operations.items()
        if op.no_authorization is not None
    }
    assert set(exempt) == {"sts:GetCallerIdentity", "sts:GetSessionToken"}, orjson.dumps(exempt)
    assert all(len(reason) > 20 for reason in exempt.values())
