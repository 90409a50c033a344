"""Secrets Manager end to end with boto3 (and the aws CLI): secrets, versions
and staging labels, idempotency, listings, tags, deletion and restore,
random passwords, BatchGetSecretValue, and envelope encryption through KMS."""

from __future__ import annotations

import base64
import json
import os
import string
import subprocess
import time
import uuid

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def message_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Message"]


def unique(prefix: str = "app") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sm(server: StrongroomServer):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def kms(server: StrongroomServer):
    return server.client("kms")


def cli(server: StrongroomServer, *args: str) -> dict:
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "secretsmanager", *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def events_named(server: StrongroomServer, name: str, source: str, want: int = 1) -> list[dict]:
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    found: list[dict] = []
    while time.time() < deadline:
        found = [
            json.loads(e["CloudTrailEvent"])
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}],
                MaxResults=50,
            )["Events"]
        ]
        found = [e for e in found if e["eventSource"] == source]
        if len(found) >= want:
            break
        time.sleep(0.2)
    return found


# --------------------------------------------------------------------------- create and read


def test_create_and_get_a_string_secret(sm) -> None:
    name = unique()
    out = sm.create_secret(Name=name, SecretString='{"password":"hunter2"}', Description="db")
    assert out["Name"] == name
    assert out["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-")
    suffix = out["ARN"].rsplit("-", 1)[1]
    assert len(suffix) == 6 and set(suffix) <= set(string.ascii_letters + string.digits)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == '{"password":"hunter2"}'
    assert got["VersionId"] == out["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["ARN"] == out["ARN"] and "SecretBinary" not in got


def test_binary_secret_and_every_way_to_name_it(sm) -> None:
    name = unique("bin")
    out = sm.create_secret(Name=name, SecretBinary=b"\x00\x01secret\xff")
    partial = out["ARN"][:-7]
    for secret_id in (name, out["ARN"], partial):
        got = sm.get_secret_value(SecretId=secret_id)
        assert got["SecretBinary"] == b"\x00\x01secret\xff"
        assert "SecretString" not in got


def test_a_missing_secret_is_resource_not_found(sm) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId="no/such/secret")
    assert code_of(exc) == "ResourceNotFoundException"
    assert message_of(exc) == "Secrets Manager can't find the specified secret."
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(
            SecretId=f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:no/such-AbCdEf"
        )
    assert code_of(exc) == "ResourceNotFoundException"


def test_both_values_refused_and_limits(sm) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=unique(), SecretString="a", SecretBinary=b"b")
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=unique(), SecretString="x" * 65537)
    assert code_of(exc) in ("ValidationException", "InvalidParameterException")
    name = unique()
    sm.create_secret(Name=name, SecretString="x" * 65536)
    assert len(sm.get_secret_value(SecretId=name)["SecretString"]) == 65536
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name="bad name!", SecretString="a")
    assert code_of(exc) == "InvalidParameterException"


def test_a_name_is_taken_once(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="one")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=name, SecretString="two")
    assert code_of(exc) == "ResourceExistsException"
    assert name in message_of(exc)


def test_client_request_token_idempotency(sm) -> None:
    name, token = unique(), str(uuid.uuid4())
    first = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=token)
    again = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=token)
    assert again["ARN"] == first["ARN"] and again["VersionId"] == token == first["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=name, SecretString="other", ClientRequestToken=token)
    assert code_of(exc) == "ResourceExistsException"
    # PutSecretValue: the same token and value is a no-op; another value is refused.
    token2 = str(uuid.uuid4())
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token2)
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token2)
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([token, token2])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=token2)
    assert code_of(exc) == "ResourceExistsException"


def test_a_secret_without_a_value(sm) -> None:
    name = unique()
    out = sm.create_secret(Name=name, Description="later")
    assert "VersionId" not in out
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert code_of(exc) == "ResourceNotFoundException"
    assert message_of(exc) == (
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
    )
    put = sm.put_secret_value(SecretId=name, SecretString="now", VersionStages=["custom"])
    # A secret's first value is AWSCURRENT whatever else it is given.
    assert sorted(put["VersionStages"]) == ["AWSCURRENT", "custom"]


# --------------------------------------------------------------------------- versions and labels


def test_put_moves_current_and_previous(sm) -> None:
    name = unique()
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v3: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "one"
    assert "VersionStages" not in sm.get_secret_value(SecretId=name, VersionId=v1)
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in listed} == {v2, v3}
    deprecated = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in deprecated} == {v1, v2, v3}
    # A version put with other labels leaves AWSCURRENT where it is.
    v4 = sm.put_secret_value(SecretId=name, SecretString="four", VersionStages=["AWSPENDING"])
    assert v4["VersionStages"] == ["AWSPENDING"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"] == "four"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name, VersionId=v1, VersionStage="AWSCURRENT")
    assert code_of(exc) == "InvalidRequestException"


def test_update_secret_version_stage_rules(sm) -> None:
    name = unique()
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    # Moving AWSCURRENT needs the version it comes from.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2)
    assert code_of(exc) == "InvalidParameterException"
    assert "RemoveFromVersionId" in message_of(exc) and v1 in message_of(exc)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v2
        )
    assert code_of(exc) == "InvalidParameterException"
    # The rotation templates' finishSecret call.
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v2: ["AWSCURRENT", "AWSPENDING"], v1: ["AWSPREVIOUS"]}
    # Remove AWSPENDING; a custom label goes on and comes off.
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v2)
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1)
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "one"
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", RemoveFromVersionId=v1)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v2: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v2
        )
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="x", MoveToVersionId=str(uuid.uuid4())
        )
    assert code_of(exc) == "InvalidParameterException"


def test_update_secret(sm, kms) -> None:
    name = unique()
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    out = sm.update_secret(SecretId=name, Description="new words")
    assert "VersionId" not in out
    assert sm.describe_secret(SecretId=name)["Description"] == "new words"
    v2 = sm.update_secret(SecretId=name, SecretString="two")["VersionId"]
    assert v2 != v1
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    # A new key: the labelled versions are encrypted again under it.
    key = kms.create_key()["KeyMetadata"]
    sm.update_secret(SecretId=name, KmsKeyId=key["Arn"])
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert code_of(exc) == "InvalidRequestException"
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"


def test_list_secret_version_ids_pages(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="0")
    for i in range(1, 5):
        sm.put_secret_value(SecretId=name, SecretString=str(i))
    first = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=2)
    assert len(first["Versions"]) == 2 and first["NextToken"]
    rest = sm.list_secret_version_ids(
        SecretId=name, IncludeDeprecated=True, MaxResults=10, NextToken=first["NextToken"]
    )
    assert len(rest["Versions"]) == 3 and "NextToken" not in rest
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_secret_version_ids(SecretId=name, NextToken="garbage")
    assert code_of(exc) == "InvalidNextTokenException"


# --------------------------------------------------------------------------- describe and list


def test_describe_secret(sm) -> None:
    name = unique()
    out = sm.create_secret(
        Name=name, SecretString="v", Description="d", Tags=[{"Key": "team", "Value": "db"}]
    )
    desc = sm.describe_secret(SecretId=out["ARN"])
    assert desc["ARN"] == out["ARN"] and desc["Name"] == name
    assert desc["RotationEnabled"] is False
    assert "NextRotationDate" not in desc and "DeletedDate" not in desc
    assert "KmsKeyId" not in desc  # aws/secretsmanager
    assert desc["Tags"] == [{"Key": "team", "Value": "db"}]
    assert desc["VersionIdsToStages"] == {out["VersionId"]: ["AWSCURRENT"]}
    assert desc["CreatedDate"] <= desc["LastChangedDate"]


def test_list_secrets_filters_sorting_and_paging(sm) -> None:
    run = uuid.uuid4().hex[:8]
    names = [f"list{run}/a", f"list{run}/b", f"list{run}/c"]
    sm.create_secret(Name=names[0], SecretString="1", Description="Alpha secret",
                     Tags=[{"Key": "env", "Value": "prod"}])  # fmt: skip
    sm.create_secret(Name=names[1], SecretString="2", Description="beta",
                     Tags=[{"Key": "env", "Value": "dev"}])  # fmt: skip
    sm.create_secret(Name=names[2], SecretString="3", Tags=[{"Key": "owner", "Value": "x"}])

    def listed(**kw) -> list[str]:
        return [s["Name"] for s in sm.list_secrets(**kw)["SecretList"]]

    assert listed(Filters=[{"Key": "name", "Values": [f"list{run}/"]}]) == names
    assert (
        listed(Filters=[{"Key": "name", "Values": [f"list{run}/"]}], SortOrder="desc")
        == (names[::-1])
    )
    assert listed(Filters=[{"Key": "description", "Values": ["alpha"]}]) == [names[0]]
    assert (
        listed(
            Filters=[
                {"Key": "name", "Values": [f"list{run}"]},
                {"Key": "tag-key", "Values": ["env"]},
            ]
        )
        == names[:2]
    )
    assert (
        listed(
            Filters=[
                {"Key": "name", "Values": [f"list{run}"]},
                {"Key": "tag-value", "Values": ["!prod"]},
            ]
        )
        == names[1:]
    )
    assert listed(Filters=[{"Key": "all", "Values": ["BETA"]}]) == [names[1]]
    entry = sm.list_secrets(Filters=[{"Key": "name", "Values": [names[0]]}])["SecretList"][0]
    assert entry["SecretVersionsToStages"] and entry["Description"] == "Alpha secret"
    page = sm.list_secrets(Filters=[{"Key": "name", "Values": [f"list{run}/"]}], MaxResults=2)
    assert len(page["SecretList"]) == 2 and page["NextToken"]
    nxt = sm.list_secrets(
        Filters=[{"Key": "name", "Values": [f"list{run}/"]}],
        MaxResults=2,
        NextToken=page["NextToken"],
    )
    assert [s["Name"] for s in nxt["SecretList"]] == names[2:]
    # A token from one listing is no good for another.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_secrets(NextToken=page["NextToken"])
    assert code_of(exc) == "InvalidNextTokenException"
    paginated = [
        s["Name"]
        for p in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [f"list{run}/"]}], PaginationConfig={"PageSize": 1}
        )
        for s in p["SecretList"]
    ]
    assert paginated == names


# --------------------------------------------------------------------------- tags


def test_tags(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "a", "Value": "1"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"a": "3", "b": "2"}
    sm.untag_resource(SecretId=name, TagKeys=["a"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.tag_resource(SecretId=name, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.tag_resource(SecretId=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert code_of(exc) in ("InvalidParameterException", "ValidationException")


# --------------------------------------------------------------------------- delete and restore


def test_delete_and_restore(sm) -> None:
    name = unique()
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    for bad in (
        {"RecoveryWindowInDays": 6},
        {"RecoveryWindowInDays": 31},
        {"RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True},
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.delete_secret(SecretId=name, **bad)
        assert code_of(exc) == "InvalidParameterException"
    out = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert out["ARN"] == arn and out["DeletionDate"]
    marked = "You can't perform this operation on the secret because it was marked for deletion."
    for call in (
        lambda: sm.get_secret_value(SecretId=name),
        lambda: sm.put_secret_value(SecretId=name, SecretString="x"),
        lambda: sm.update_secret(SecretId=name, Description="x"),
        lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: sm.delete_secret(SecretId=name),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert (code_of(exc), message_of(exc)) == ("InvalidRequestException", marked)
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=name, SecretString="again")
    assert code_of(exc) == "InvalidRequestException"
    assert name not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert name in [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    restored = sm.restore_secret(SecretId=name)
    assert (restored["ARN"], restored["Name"]) == (arn, name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)


def test_force_delete(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(SecretId=name)
    assert code_of(exc) == "ResourceNotFoundException"
    # Forcing the deletion of a secret that is not there is no error.
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name=name, SecretString="fresh")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "fresh"


# --------------------------------------------------------------------------- passwords


def test_get_random_password(sm) -> None:
    punctuation = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    pw = sm.get_random_password()["RandomPassword"]
    assert len(pw) == 32
    assert any(c.islower() for c in pw) and any(c.isupper() for c in pw)
    assert any(c.isdigit() for c in pw) and any(c in punctuation for c in pw)
    assert " " not in pw
    pw = sm.get_random_password(
        PasswordLength=100, ExcludePunctuation=True, ExcludeCharacters="abcABC012"
    )["RandomPassword"]
    assert len(pw) == 100 and not set(pw) & (punctuation | set("abcABC012"))
    pw = sm.get_random_password(
        PasswordLength=4, ExcludeNumbers=True, ExcludeUppercase=True, ExcludeLowercase=True
    )["RandomPassword"]
    assert set(pw) <= punctuation
    pw = sm.get_random_password(
        PasswordLength=200, IncludeSpace=True, ExcludeLowercase=True, ExcludeUppercase=True,
        ExcludeNumbers=True, ExcludePunctuation=False, RequireEachIncludedType=False,
    )["RandomPassword"]  # fmt: skip
    assert set(pw) <= punctuation | {" "}
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_random_password(PasswordLength=3)  # four types required
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_random_password(
            ExcludeNumbers=True, ExcludePunctuation=True, ExcludeUppercase=True,
            ExcludeLowercase=True,
        )  # fmt: skip
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_random_password(PasswordLength=4097)
    assert code_of(exc) in ("ValidationException", "InvalidParameterException")


# --------------------------------------------------------------------------- batch


def test_batch_get_secret_value(sm) -> None:
    run = uuid.uuid4().hex[:8]
    a = sm.create_secret(Name=f"batch{run}/a", SecretString="A")
    sm.create_secret(Name=f"batch{run}/b", SecretBinary=b"B")
    sm.create_secret(Name=f"batch{run}/empty")
    out = sm.batch_get_secret_value(
        SecretIdList=[a["ARN"], f"batch{run}/b", f"batch{run}/empty", "batch/missing"]
    )
    got = {v["Name"]: v for v in out["SecretValues"]}
    assert got[f"batch{run}/a"]["SecretString"] == "A"
    assert got[f"batch{run}/b"]["SecretBinary"] == b"B"
    errors = {e["SecretId"]: e["ErrorCode"] for e in out["Errors"]}
    assert errors == {
        f"batch{run}/empty": "ResourceNotFoundException",
        "batch/missing": "ResourceNotFoundException",
    }
    by_filter = sm.batch_get_secret_value(
        Filters=[{"Key": "name", "Values": [f"batch{run}/"]}], MaxResults=1
    )
    assert len(by_filter["SecretValues"]) + len(by_filter["Errors"]) == 1 and by_filter["NextToken"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.batch_get_secret_value()
    assert code_of(exc) == "InvalidParameterException"


# --------------------------------------------------------------------------- envelope encryption


def test_default_key_is_created_on_first_use(sm, kms) -> None:
    sm.create_secret(Name=unique(), SecretString="v")
    key = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert key["KeyManager"] == "AWS"


def test_customer_key_disable_and_enable(sm, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/sm-{uuid.uuid4().hex[:8]}", TargetKeyId=key["KeyId"])
    name = unique()
    sm.create_secret(Name=name, SecretString="guarded", KmsKeyId=key["Arn"])
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert code_of(exc) == "InvalidRequestException"
    assert key["Arn"] in message_of(exc) and "disabled" in message_of(exc)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="new")
    assert code_of(exc) == "EncryptionFailure"
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "guarded"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert code_of(exc) == "InvalidRequestException"
    assert "pending deletion" in message_of(exc)
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "guarded"


def test_a_missing_key_fails_the_write(sm) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=unique(), SecretString="v", KmsKeyId="alias/no-such-key")
    assert code_of(exc) == "EncryptionFailure"


def test_kms_child_calls_are_audited(server: StrongroomServer, sm, kms) -> None:
    key = kms.create_key()["KeyMetadata"]
    name = unique("audited")
    out = sm.create_secret(Name=name, SecretString="v", KmsKeyId=key["KeyId"])
    sm.get_secret_value(SecretId=name)
    trail = server.client("cloudtrail")
    deadline = time.time() + 10
    found: dict[str, dict] = {}
    while time.time() < deadline and len(found) < 2:
        for e in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}]
        )["Events"]:
            found.setdefault(e["EventName"], json.loads(e["CloudTrailEvent"]))
        time.sleep(0.2)
    context = {"SecretARN": out["ARN"], "SecretVersionId": out["VersionId"]}
    for name_ in ("GenerateDataKey", "Decrypt"):
        event = found[name_]
        assert event["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
        assert event["sourceIPAddress"] == "secretsmanager.amazonaws.com"
        assert event["requestParameters"]["encryptionContext"] == context
        assert event["userIdentity"]["accountId"] == ACCOUNT


def test_aws_cli(server: StrongroomServer) -> None:
    name = unique("cli")
    created = cli(server, "create-secret", "--name", name, "--secret-string", "from-the-cli")
    assert created["Name"] == name
    got = cli(server, "get-secret-value", "--secret-id", name)
    assert got["SecretString"] == "from-the-cli"
    cli(server, "put-secret-value", "--secret-id", name, "--secret-string", "second")
    described = cli(server, "describe-secret", "--secret-id", name)
    assert sorted(s for stages in described["VersionIdsToStages"].values() for s in stages) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
    pw = cli(server, "get-random-password", "--password-length", "20", "--exclude-punctuation")
    assert len(pw["RandomPassword"]) == 20
    listed = cli(server, "list-secrets", "--filters", f"Key=name,Values={name}")
    assert [s["Name"] for s in listed["SecretList"]] == [name]
    deleted = cli(server, "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert deleted["Name"] == name


def test_aws_cli_binary_and_labels(server: StrongroomServer, tmp_path) -> None:
    name = unique("cli")
    blob = tmp_path / "key.bin"
    blob.write_bytes(b"\x00\xffbinary")
    first = cli(server, "create-secret", "--name", name, "--secret-binary", f"fileb://{blob}")
    second = cli(server, "put-secret-value", "--secret-id", name, "--secret-string", "s",
                 "--version-stages", "AWSPENDING")  # fmt: skip
    cli(server, "update-secret-version-stage", "--secret-id", name, "--version-stage",
        "AWSCURRENT", "--move-to-version-id", second["VersionId"],
        "--remove-from-version-id", first["VersionId"])  # fmt: skip
    got = cli(server, "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")
    assert base64.b64decode(got["SecretBinary"]) == b"\x00\xffbinary"
    versions = cli(server, "list-secret-version-ids", "--secret-id", name)["Versions"]
    assert {v["VersionId"] for v in versions} == {first["VersionId"], second["VersionId"]}


def test_rotation_needs_a_function(sm) -> None:
    """Rotation itself: test_secretsmanager_rotation_api.py and test_rotation.py."""
    name = unique()
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.rotate_secret(SecretId=name)
    assert code_of(exc) == "InvalidRequestException"
    assert sm.cancel_rotate_secret(SecretId=name)["Name"] == name


def test_members_the_model_leaves_optional(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="v")
    for call in (
        lambda: sm.tag_resource(SecretId=name, Tags=[{"Value": "no key"}]),
        lambda: sm.create_secret(Name=unique(), SecretString="v", Tags=[{"Value": "x"}]),
        lambda: sm.list_secrets(Filters=[{"Values": ["x"]}]),
        lambda: sm.list_secrets(Filters=[{"Key": "name"}]),
        lambda: sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{}]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) == "InvalidParameterException"
