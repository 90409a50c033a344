"""Secrets Manager and the clock (a --time-travel server): a secret scheduled
for deletion really goes when the recovery window ends, audited as an
AwsServiceEvent; deprecated versions past 100 are removed once a day old."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tt_server(request: pytest.FixtureRequest) -> Iterator[StrongroomServer]:
    store_url = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        store_url = pg.create_database("t" + uuid.uuid4().hex[:12])
    server = StrongroomServer(time_travel=True, store_url=store_url).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sm(tt_server: StrongroomServer):
    return tt_server.client("secretsmanager")


def service_events(server: StrongroomServer, name: str, arn: str) -> list[dict]:
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    while True:
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )["Events"]
        records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == name]
        found = [r for r in records if r["eventType"] == "AwsServiceEvent"]
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def test_the_secret_goes_when_the_recovery_window_ends(tt_server: StrongroomServer, sm) -> None:
    name = f"doomed/{uuid.uuid4().hex[:8]}"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    described = sm.describe_secret(SecretId=name)
    window = deleted["DeletionDate"] - described["DeletedDate"]
    assert window.total_seconds() == pytest.approx(7 * 86400, abs=2)
    tt_server.advance_clock("6d")
    assert sm.describe_secret(SecretId=name)["ARN"] == arn
    tt_server.advance_clock("2d")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(SecretId=name)
    assert code_of(exc) == "ResourceNotFoundException"
    events = service_events(tt_server, "EndSecretDeletion", arn)
    assert len(events) == 1
    event = events[0]
    assert event["eventSource"] == "secretsmanager.amazonaws.com"
    assert event["userIdentity"]["invokedBy"] == "AWS Internal"
    assert event["resources"][0]["ARN"] == arn
    # The name is free again; the new secret is another one.
    again = sm.create_secret(Name=name, SecretString="new")["ARN"]
    assert again != arn


def test_a_restored_secret_stays(tt_server: StrongroomServer, sm) -> None:
    name = f"kept/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    tt_server.advance_clock("3d")
    sm.restore_secret(SecretId=name)
    tt_server.advance_clock("10d")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_deprecated_versions_past_100_are_removed_once_a_day_old(
    tt_server: StrongroomServer, sm
) -> None:
    name = f"many/{uuid.uuid4().hex[:8]}"
    first = sm.create_secret(Name=name, SecretString="0")["VersionId"]
    ids = [first]
    for i in range(1, 105):
        ids.append(sm.put_secret_value(SecretId=name, SecretString=str(i))["VersionId"])

    def all_versions() -> list[str]:
        found, token = [], {}
        while True:
            page = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, **token)
            found += [v["VersionId"] for v in page["Versions"]]
            if "NextToken" not in page:
                return found
            token = {"NextToken": page["NextToken"]}

    # Younger than a day: all 105 are kept.
    assert len(all_versions()) == 105
    tt_server.advance_clock("2d")
    ids.append(sm.put_secret_value(SecretId=name, SecretString="last")["VersionId"])
    kept = all_versions()
    assert len(kept) == 100
    assert set(ids[:6]).isdisjoint(kept)
    assert set(ids[6:]) == set(kept)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {ids[-1]: ["AWSCURRENT"], ids[-2]: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name, VersionId=ids[6])["SecretString"] == "6"
