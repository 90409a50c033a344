"""The subscription delivery job over stored batches: events a service
publishes (`api.put_events`, as RDS and Lambda publish) are delivered as
PutLogEvents' are, in AWS's payload, one stream a payload, masked by a
data protection policy, each event once however often the job runs."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.framework import JobRun
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.logs import api as logs_api
from strongroom.services.logs import groups, protection, subscriptions
from strongroom.services.logs import service as logs_service
from strongroom.services.logs.subscriptions import SubscriptionFilter

ACCOUNT = "000000000000"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:subscriber"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("logs-subs")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], str]]:
    """What the job asks Lambda to invoke: (function, decoded payload, type)."""
    found: list[tuple[str, dict[str, Any], str]] = []

    def invoke(ctx: Any, group: Any, function_arn: str, payload: bytes, kind: str) -> None:
        data = json.loads(payload)["awslogs"]["data"]
        found.append((function_arn, json.loads(gzip.decompress(base64.b64decode(data))), kind))

    monkeypatch.setattr(subscriptions, "_invoke", invoke)
    return found


def run_job(app: App) -> None:
    with app.store.transaction(write=True) as conn:
        subscriptions.logs_subscriptions(
            JobRun(logs_service, conn, app.runtime.clock.now(), app.runtime)
        )


def publish(app: App, group: str, stream: str, lines: list[str]) -> None:
    now = int(time.time() * 1000)
    with app.store.transaction(write=True) as conn:
        run = JobRun(logs_service, conn, app.runtime.clock.now(), app.runtime)
        logs_api.put_events(
            run, group, stream, [(now + i, m) for i, m in enumerate(lines)],
            account=ACCOUNT, region="us-east-1",
        )  # fmt: skip


def subscribe(app: App, group_name: str, pattern: str) -> None:
    with app.store.transaction(write=True) as conn:
        group = groups.find(conn, ACCOUNT, "us-east-1", group_name)
        assert group is not None
        subscriptions.save(
            conn,
            SubscriptionFilter(
                group.id, "f", pattern, FUNCTION, None, "ByLogStream", 0, False, None, None,
                subscriptions.newest_batch(conn, group),
            ),
            new=True,
        )  # fmt: skip


def test_published_events_are_delivered_once(app: App, sent) -> None:
    group = "/aws/rds/instance/shop/postgresql"
    publish(app, group, "shop", ["before the filter ERROR"])
    subscribe(app, group, "ERROR")
    publish(app, group, "shop", ["LOG: ok", "ERROR: division by zero", "ERROR: again"])
    publish(app, group, "shop.1", ["ERROR: other stream"])
    run_job(app)
    run_job(app)  # nothing new: nothing sent again
    assert {kind for _, _, kind in sent} == {"Event"}
    assert all(fn == FUNCTION for fn, _, _ in sent)
    bodies = [body for _, body, _ in sent]
    assert [(b["logStream"], [e["message"] for e in b["logEvents"]]) for b in bodies] == [
        ("shop", ["ERROR: division by zero", "ERROR: again"]),
        ("shop.1", ["ERROR: other stream"]),
    ]
    first = bodies[0]
    assert first["messageType"] == "DATA_MESSAGE" and first["owner"] == ACCOUNT
    assert first["logGroup"] == group and first["subscriptionFilters"] == ["f"]
    publish(app, group, "shop", ["ERROR: later"])
    run_job(app)
    assert [e["message"] for e in sent[-1][1]["logEvents"]] == ["ERROR: later"]
    assert len(sent) == 3


def test_a_large_backlog_is_cut_under_the_async_limit(app: App, sent) -> None:
    group = "/aws/lambda/noisy"
    publish(app, group, "s", ["warm"])
    subscribe(app, group, "")
    publish(app, group, "s", [f"line {i:05d} " + "y" * 500 for i in range(2000)])
    run_job(app)
    got = [e["message"] for _, body, _ in sent for e in body["logEvents"]]
    assert len(got) == 2000 and got[0].startswith("line 00000") and len(set(got)) == 2000
    assert len(sent) > 1  # more than one payload, each within the limit


def test_a_subscription_sees_masked_events(app: App, sent) -> None:
    group = "/aws/lambda/pii"
    publish(app, group, "s", ["warm"])
    subscribe(app, group, "")
    email = f"{protection.ARN_PREFIX}EmailAddress"
    document = json.dumps({"Version": "2021-06-01", "Statement": [
        {"DataIdentifier": [email], "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"DataIdentifier": [email], "Operation": {"Deidentify": {"MaskConfig": {}}}},
    ]})  # fmt: skip
    with app.store.transaction(write=True) as conn:
        found = groups.find(conn, ACCOUNT, "us-east-1", group)
        assert found is not None
        protection.put(conn, found.id, document, int(time.time() * 1000) - 1)
    publish(app, group, "s", ["mail to eve@example.net"])
    run_job(app)
    assert [e["message"] for e in sent[-1][1]["logEvents"]] == ["mail to ***************"]


@pytest.mark.parametrize(
    ("name", "text", "masked"),
    [
        ("EmailAddress", "to a.b+c@mail.example.co.uk.", "to " + "*" * 24 + "."),
        ("IpAddress", "from 192.168.0.1:80", "from ***********:80"),
        ("IpAddress", "not 999.1.1.1", "not 999.1.1.1"),
        ("IpAddress", "v6 2001:db8:0:0:0:0:2:1 end", "v6 " + "*" * 20 + " end"),
        ("CreditCardNumber", "4111-1111-1111-1111", "*******************"),
        ("CreditCardNumber", "1234 5678 9012 3456", "1234 5678 9012 3456"),  # fails Luhn
        ("Ssn-US", "ssn 078-05-1120", "ssn ***********"),
        ("Ssn-US", "ssn 000-05-1120", "ssn 000-05-1120"),
        ("AwsSecretKey", "k=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "k=" + "*" * 40),
        ("AwsSecretKey", "k=" + "a" * 40, "k=" + "a" * 40),
        ("PhoneNumber-US", "call +1 (555) 010-9999", "call " + "*" * 17),
    ],
)
def test_managed_identifiers(name: str, text: str, masked: str) -> None:
    ident = f"{protection.ARN_PREFIX}{name}"
    document = json.dumps({"Version": "2021-06-01", "Statement": [
        {"DataIdentifier": [ident], "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"DataIdentifier": [ident], "Operation": {"Deidentify": {"MaskConfig": {}}}},
    ]})  # fmt: skip
    assert protection.compile_document(document).mask(text) == masked


def test_an_unreadable_group_is_tried_again_later(app: App, sent, monkeypatch) -> None:
    group = "/aws/lambda/locked"
    publish(app, group, "s", ["warm"])
    subscribe(app, group, "")
    publish(app, group, "s", ["held back"])
    tries = []

    def refuse(run: Any, f: Any, g: Any, now_ms: int) -> bool:
        tries.append(f.name)
        raise RuntimeError("the group's KMS key is disabled")

    monkeypatch.setattr(subscriptions, "deliver", refuse)
    run_job(app)
    run_job(app)  # within RETRY_SECONDS: not tried again
    assert tries == ["f"]
    monkeypatch.undo()
    monkeypatch.setattr(subscriptions, "_invoke", lambda *a: sent.append(("x", {}, "Event")))
    subscriptions._retry_at.clear()  # the wait is over
    run_job(app)
    assert len(sent) == 1
