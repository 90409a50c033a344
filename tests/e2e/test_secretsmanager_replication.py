"""Secrets Manager replication end to end: replicas in other Regions under a
key of their own Region, kept in step with the primary, refusing writes,
removed or promoted to standalone secrets."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

WEST = "us-west-2"
EU = "eu-west-1"


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def sm(server: StrongroomServer):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def sm_west(server: StrongroomServer):
    return server.client("secretsmanager", region=WEST)


@pytest.fixture(scope="module")
def sm_eu(server: StrongroomServer):
    return server.client("secretsmanager", region=EU)


def unique() -> str:
    return f"repl/{uuid.uuid4().hex[:10]}"


def test_create_with_a_replica_and_keep_it_in_step(server: StrongroomServer, sm, sm_west) -> None:
    name = unique()
    out = sm.create_secret(
        Name=name,
        SecretString="one",
        Description="d1",
        Tags=[{"Key": "t", "Value": "1"}],
        AddReplicaRegions=[{"Region": WEST}],
    )
    assert out["ReplicationStatus"][0]["Region"] == WEST
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    replica_arn = out["ARN"].replace(":us-east-1:", f":{WEST}:")
    got = sm_west.get_secret_value(SecretId=name)
    assert (got["ARN"], got["SecretString"], got["VersionId"]) == (
        replica_arn,
        "one",
        out["VersionId"],
    )
    primary = sm.describe_secret(SecretId=name)
    assert primary["PrimaryRegion"] == "us-east-1"
    assert [r["Region"] for r in primary["ReplicationStatus"]] == [WEST]
    replica = sm_west.describe_secret(SecretId=name)
    assert replica["PrimaryRegion"] == "us-east-1"
    assert replica["Description"] == "d1" and replica["Tags"] == [{"Key": "t", "Value": "1"}]
    # The replica's value is encrypted under that Region's aws/secretsmanager.
    west_key = server.client("kms", region=WEST).describe_key(KeyId="alias/aws/secretsmanager")[
        "KeyMetadata"
    ]
    versions = sm_west.list_secret_version_ids(SecretId=name)["Versions"]
    assert versions[0]["KmsKeyIds"] == [west_key["Arn"]]
    # Changes on the primary reach the replica.
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    sm.update_secret(SecretId=name, Description="d2")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "u", "Value": "2"}])
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert sm_west.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "one"
    )
    replica = sm_west.describe_secret(SecretId=name)
    assert replica["VersionIdsToStages"] == sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert replica["VersionIdsToStages"][v2] == ["AWSCURRENT"]
    assert replica["Description"] == "d2" and len(replica["Tags"]) == 2
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=out["VersionId"],
        RemoveFromVersionId=v2,
    )  # fmt: skip
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "one"


def test_a_replica_refuses_writes(sm, sm_west) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="v", AddReplicaRegions=[{"Region": WEST}])
    for call in (
        lambda: sm_west.put_secret_value(SecretId=name, SecretString="x"),
        lambda: sm_west.update_secret(SecretId=name, Description="x"),
        lambda: sm_west.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: sm_west.delete_secret(SecretId=name),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert code_of(exc) == "InvalidRequestException"
    # Nor may the primary go while it has replicas.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert code_of(exc) == "InvalidRequestException"


def test_replicate_under_a_key_of_the_region(server: StrongroomServer, sm, sm_eu) -> None:
    kms_eu = server.client("kms", region=EU)
    key = kms_eu.create_key()["KeyMetadata"]
    name = unique()
    sm.create_secret(Name=name, SecretString="eu")
    out = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": EU, "KmsKeyId": key["Arn"]}]
    )
    assert out["ReplicationStatus"] == [
        {"Region": EU, "KmsKeyId": key["Arn"], "Status": "InSync",
         "StatusMessage": "Replication succeeded"}
    ]  # fmt: skip
    assert sm_eu.get_secret_value(SecretId=name)["SecretString"] == "eu"
    assert sm_eu.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    # That key guards the replica only.
    kms_eu.disable_key(KeyId=key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm_eu.get_secret_value(SecretId=name)
    assert code_of(exc) == "InvalidRequestException"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "eu"
    kms_eu.enable_key(KeyId=key["KeyId"])
    assert sm_eu.get_secret_value(SecretId=name)["SecretString"] == "eu"


def test_a_name_taken_in_the_region(sm, sm_west) -> None:
    name = unique()
    sm_west.create_secret(Name=name, SecretString="local")
    sm.create_secret(Name=name, SecretString="primary")
    out = sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": WEST}])
    assert out["ReplicationStatus"][0]["Status"] == "Failed"
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "local"
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[WEST])
    out = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": WEST}], ForceOverwriteReplicaSecret=True
    )
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "primary"


def test_remove_and_stop_replication(sm, sm_west, sm_eu) -> None:
    name = unique()
    sm.create_secret(
        Name=name, SecretString="v", AddReplicaRegions=[{"Region": WEST}, {"Region": EU}]
    )
    out = sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[EU])
    assert [r["Region"] for r in out["ReplicationStatus"]] == [WEST]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm_eu.describe_secret(SecretId=name)
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.stop_replication_to_replica(SecretId=name)  # the primary is no replica
    assert code_of(exc) == "InvalidRequestException"
    sm_west.stop_replication_to_replica(SecretId=name)
    assert "PrimaryRegion" not in sm_west.describe_secret(SecretId=name)
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    sm_west.put_secret_value(SecretId=name, SecretString="standalone")
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "standalone"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_bad_replica_regions(sm) -> None:
    name = unique()
    sm.create_secret(Name=name, SecretString="v")
    for region in ("us-east-1", "mars-north-9x"):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": region}])
        assert code_of(exc) in ("InvalidParameterException", "ValidationException")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[WEST])
    assert code_of(exc) == "InvalidParameterException"
