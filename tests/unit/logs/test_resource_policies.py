"""Resource policies decide a service principal's requests on log groups
(a service has no identity policy: only a resource policy lets it in), as
AWS lets Route 53 or API Gateway write into a group its policy names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.auth.principal import service_principal
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare

ACCOUNT = "000000000000"
SERVICE = "route53.amazonaws.com"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("logs-respol")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


def put_as_service(app: App, internal_call, group: str) -> str | None:
    """The error code a PutLogEvents by the service gets, or None."""
    with app.store.transaction(write=True) as conn:
        call = internal_call(app, conn, principal=service_principal(SERVICE), service="logs")
        try:
            call.invoke(
                "logs", "PutLogEvents", logGroupName=group, logStreamName="s",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": "query log"}],
            )  # fmt: skip
        except Exception as err:
            return getattr(err, "code", type(err).__name__)
    return None


def test_a_service_principal_needs_a_policy(app: App, internal_call) -> None:
    group = "/aws/route53/example.com"
    with app.store.transaction(write=True) as conn:
        owner = internal_call(app, conn, service="logs")
        owner.invoke("logs", "CreateLogGroup", logGroupName=group)
        owner.invoke("logs", "CreateLogStream", logGroupName=group, logStreamName="s")
    assert put_as_service(app, internal_call, group) == "AccessDeniedException"
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": SERVICE},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/route53/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    with app.store.transaction(write=True) as conn:
        owner = internal_call(app, conn, service="logs")
        owner.invoke(
            "logs", "PutResourcePolicy", policyName="route53",
            policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )  # fmt: skip
    # The condition is on a key the service's request does not carry here.
    assert put_as_service(app, internal_call, group) == "AccessDeniedException"
    del statement["Condition"]
    with app.store.transaction(write=True) as conn:
        owner = internal_call(app, conn, service="logs")
        owner.invoke(
            "logs", "PutResourcePolicy", policyName="route53",
            policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )  # fmt: skip
    assert put_as_service(app, internal_call, group) is None
    # Only the groups the policy names.
    with app.store.transaction(write=True) as conn:
        owner = internal_call(app, conn, service="logs")
        owner.invoke("logs", "CreateLogGroup", logGroupName="/other")
        owner.invoke("logs", "CreateLogStream", logGroupName="/other", logStreamName="s")
    assert put_as_service(app, internal_call, "/other") == "AccessDeniedException"
