"""RDS authorization end to end: every served operation refused to a forged
signature, to an IAM user with no policy, and (for operations on a resource)
to another account; identity policies on instance ARNs. The target is a
control-plane-only instance (no engine to start), so this module is cheap."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name

from strongroom.services.registry import served_services
from strongroom.testing import StrongroomServer, add_account

pytestmark = pytest.mark.e2e

OWNER = "000000000000"
OTHER = "111111111111"


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-authz-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


@pytest.fixture(scope="module")
def target(rds: Any) -> dict[str, str]:
    name = "authz-" + uuid.uuid4().hex[:8]
    arn = rds.create_db_instance(
        DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="Owner-pass-1", AllocatedStorage=20,
        Tags=[{"Key": "owner", "Value": "me"}],
    )["DBInstance"]["DBInstanceArn"]  # fmt: skip
    deadline = time.monotonic() + 30
    while (
        rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rds.create_db_parameter_group(
        DBParameterGroupName=f"{name}-params", DBParameterGroupFamily="mysql8.0", Description="p"
    )
    rds.create_option_group(
        OptionGroupName=f"{name}-og", EngineName="mysql", MajorEngineVersion="8.0",
        OptionGroupDescription="o",
    )  # fmt: skip
    dbi = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DbiResourceId"]
    snap = f"{name}-snap"
    snap_arn = rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=snap)[
        "DBSnapshot"
    ]["DBSnapshotArn"]
    major = rds.describe_db_engine_versions(Engine="aurora-postgresql")["DBEngineVersions"][-1][
        "EngineVersion"
    ].split(".")[0]
    cluster_params = f"{name}-cluster-params"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=cluster_params,
        DBParameterGroupFamily=f"aurora-postgresql{major}",
        Description="p",
    )
    # An Aurora cluster with no instances: no engine runs for it.
    cluster = f"{name}-cluster"
    cluster_arn = rds.create_db_cluster(
        DBClusterIdentifier=cluster, Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="Owner-pass-1",
    )["DBCluster"]["DBClusterArn"]  # fmt: skip
    # A cluster snapshot holds its writer's data: a real writer (one engine).
    rds.create_db_instance(
        DBInstanceIdentifier=f"{name}-w", DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier=cluster,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while (
        rds.describe_db_instances(DBInstanceIdentifier=f"{name}-w")["DBInstances"][0][
            "DBInstanceStatus"
        ]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rds.create_db_cluster_endpoint(
        DBClusterIdentifier=cluster, DBClusterEndpointIdentifier=f"{cluster}-ep", EndpointType="ANY"
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=f"{cluster}-snap"
    )
    while (
        rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"{cluster}-snap")[
            "DBClusterSnapshots"
        ][0]["Status"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return {"name": name, "arn": arn, "snap": snap, "snap_arn": snap_arn,
            "params": f"{name}-params", "dbi": dbi, "cluster": cluster,
            "cluster_arn": cluster_arn, "cluster_params": cluster_params,
            "family": f"aurora-postgresql{major}"}  # fmt: skip


def _new() -> str:
    return "n-" + uuid.uuid4().hex[:8]


CALLS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "AddTagsToResource": lambda t: {"ResourceName": t["arn"], "Tags": [{"Key": "k", "Value": "v"}]},
    "CopyDBParameterGroup": lambda t: {
        "SourceDBParameterGroupIdentifier": t["params"],
        "TargetDBParameterGroupIdentifier": _new(),
        "TargetDBParameterGroupDescription": "copy",
    },
    "CreateDBParameterGroup": lambda t: {
        "DBParameterGroupName": _new(),
        "DBParameterGroupFamily": "mysql8.0",
        "Description": "x",
    },
    "DeleteDBParameterGroup": lambda t: {"DBParameterGroupName": t["params"]},
    "DescribeDBParameterGroups": lambda t: {},
    "DescribeDBParameters": lambda t: {"DBParameterGroupName": t["params"]},
    "DescribeEngineDefaultParameters": lambda t: {"DBParameterGroupFamily": "mysql8.0"},
    "ModifyDBParameterGroup": lambda t: {
        "DBParameterGroupName": t["params"],
        "Parameters": [{"ParameterName": "max_connections", "ParameterValue": "5"}],
    },
    "ResetDBParameterGroup": lambda t: {
        "DBParameterGroupName": t["params"],
        "ResetAllParameters": True,
    },
    "CopyDBSnapshot": lambda t: {
        "SourceDBSnapshotIdentifier": t["snap"],
        "TargetDBSnapshotIdentifier": _new(),
    },
    "CreateDBInstance": lambda t: {
        "DBInstanceIdentifier": _new(),
        "Engine": "mysql",
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "admin",
        "MasterUserPassword": "Their-pass-1",
        "AllocatedStorage": 20,
    },
    "CreateDBCluster": lambda t: {
        "DBClusterIdentifier": _new(),
        "Engine": "aurora-postgresql",
        "MasterUsername": "admin",
        "MasterUserPassword": "Their-pass-1",
    },
    "DescribeDBClusters": lambda t: {},
    "ModifyDBCluster": lambda t: {"DBClusterIdentifier": t["cluster"], "DeletionProtection": True},
    "DeleteDBCluster": lambda t: {"DBClusterIdentifier": t["cluster"], "SkipFinalSnapshot": True},
    "FailoverDBCluster": lambda t: {"DBClusterIdentifier": t["cluster"]},
    "StopDBCluster": lambda t: {"DBClusterIdentifier": t["cluster"]},
    "CreateOptionGroup": lambda t: {
        "OptionGroupName": _new(),
        "EngineName": "mysql",
        "MajorEngineVersion": "8.0",
        "OptionGroupDescription": "x",
    },
    "CopyOptionGroup": lambda t: {
        "SourceOptionGroupIdentifier": t["name"] + "-og",
        "TargetOptionGroupIdentifier": _new(),
        "TargetOptionGroupDescription": "copy",
    },
    "DescribeOptionGroups": lambda t: {},
    "DescribeCertificates": lambda t: {},
    "DescribeOptionGroupOptions": lambda t: {"EngineName": "mysql"},
    "ModifyOptionGroup": lambda t: {
        "OptionGroupName": t["name"] + "-og",
        "OptionsToRemove": ["X"],
    },
    "DeleteOptionGroup": lambda t: {"OptionGroupName": t["name"] + "-og"},
    "DescribeDBClusterEndpoints": lambda t: {},
    "CreateDBClusterEndpoint": lambda t: {
        "DBClusterIdentifier": t["cluster"],
        "DBClusterEndpointIdentifier": _new(),
        "EndpointType": "READER",
    },
    "ModifyDBClusterEndpoint": lambda t: {
        "DBClusterEndpointIdentifier": t["cluster"] + "-ep",
        "EndpointType": "READER",
    },
    "DeleteDBClusterEndpoint": lambda t: {"DBClusterEndpointIdentifier": t["cluster"] + "-ep"},
    "StartDBCluster": lambda t: {"DBClusterIdentifier": t["cluster"]},
    "CreateDBClusterSnapshot": lambda t: {
        "DBClusterIdentifier": t["cluster"],
        "DBClusterSnapshotIdentifier": _new(),
    },
    "DescribeDBClusterSnapshots": lambda t: {},
    "CopyDBClusterSnapshot": lambda t: {
        "SourceDBClusterSnapshotIdentifier": t["cluster"] + "-snap",
        "TargetDBClusterSnapshotIdentifier": _new(),
    },
    "CreateDBClusterParameterGroup": lambda t: {
        "DBClusterParameterGroupName": _new(),
        "DBParameterGroupFamily": t["family"],
        "Description": "x",
    },
    "DescribeDBClusterParameterGroups": lambda t: {},
    "DescribeDBClusterParameters": lambda t: {"DBClusterParameterGroupName": t["cluster_params"]},
    "DescribeEngineDefaultClusterParameters": lambda t: {"DBParameterGroupFamily": t["family"]},
    "ModifyDBClusterParameterGroup": lambda t: {
        "DBClusterParameterGroupName": t["cluster_params"],
        "Parameters": [{"ParameterName": "work_mem", "ParameterValue": "8192"}],
    },
    "ResetDBClusterParameterGroup": lambda t: {
        "DBClusterParameterGroupName": t["cluster_params"],
        "ResetAllParameters": True,
    },
    "DeleteDBClusterParameterGroup": lambda t: {"DBClusterParameterGroupName": t["cluster_params"]},
    "DeleteDBClusterSnapshot": lambda t: {"DBClusterSnapshotIdentifier": t["cluster"] + "-snap"},
    "RestoreDBClusterFromSnapshot": lambda t: {
        "DBClusterIdentifier": _new(),
        "SnapshotIdentifier": t["cluster"] + "-snap",
        "Engine": "aurora-postgresql",
    },
    "CreateDBInstanceReadReplica": lambda t: {
        "DBInstanceIdentifier": _new(),
        "SourceDBInstanceIdentifier": t["name"],
    },
    "PromoteReadReplica": lambda t: {"DBInstanceIdentifier": t["name"]},
    "CreateDBSnapshot": lambda t: {
        "DBInstanceIdentifier": t["name"],
        "DBSnapshotIdentifier": _new(),
    },
    "DeleteDBInstance": lambda t: {"DBInstanceIdentifier": t["name"], "SkipFinalSnapshot": True},
    "DeleteDBSnapshot": lambda t: {"DBSnapshotIdentifier": t["snap"]},
    "DescribeDBEngineVersions": lambda t: {},
    "DescribeDBLogFiles": lambda t: {"DBInstanceIdentifier": t["name"]},
    "DownloadDBLogFilePortion": lambda t: {
        "DBInstanceIdentifier": t["name"],
        "LogFileName": "error/postgresql.log.2026-12-07-00",
    },
    "DescribeDBInstances": lambda t: {},
    "DescribeDBSnapshots": lambda t: {},
    "DescribeEvents": lambda t: {},
    "ListTagsForResource": lambda t: {"ResourceName": t["arn"]},
    "DescribeDBSnapshotAttributes": lambda t: {"DBSnapshotIdentifier": t["snap"]},
    "ModifyDBSnapshotAttribute": lambda t: {
        "DBSnapshotIdentifier": t["snap"],
        "AttributeName": "restore",
        "ValuesToAdd": [OTHER],
    },
    "ModifyDBInstance": lambda t: {"DBInstanceIdentifier": t["name"], "DeletionProtection": True},
    "RebootDBInstance": lambda t: {"DBInstanceIdentifier": t["name"]},
    "RemoveTagsFromResource": lambda t: {"ResourceName": t["arn"], "TagKeys": ["owner"]},
    "RestoreDBInstanceFromDBSnapshot": lambda t: {
        "DBInstanceIdentifier": _new(),
        "DBSnapshotIdentifier": t["snap"],
    },
    "RestoreDBInstanceToPointInTime": lambda t: {
        "SourceDBInstanceIdentifier": t["name"],
        "TargetDBInstanceIdentifier": _new(),
        "UseLatestRestorableTime": True,
    },
    "DescribeDBInstanceAutomatedBackups": lambda t: {},
    "DeleteDBInstanceAutomatedBackup": lambda t: {"DbiResourceId": t["dbi"]},
    "StartDBInstance": lambda t: {"DBInstanceIdentifier": t["name"]},
    "StopDBInstance": lambda t: {"DBInstanceIdentifier": t["name"]},
}
#: Operations on nothing of the owner's: another account may call them on its own.
ACCOUNT_LEVEL = {
    "CreateDBCluster",
    "DescribeDBClusters",
    "DescribeDBClusterEndpoints",
    "CreateOptionGroup",
    "DescribeOptionGroups",
    "DescribeOptionGroupOptions",
    "DescribeCertificates",
    "DescribeDBClusterSnapshots",
    "CreateDBClusterParameterGroup",
    "DescribeDBClusterParameterGroups",
    "DescribeEngineDefaultClusterParameters",
    "CreateDBInstance",
    "CreateDBParameterGroup",
    "DescribeDBParameterGroups",
    "DescribeEngineDefaultParameters",
    "DescribeDBEngineVersions",
    "DescribeDBInstances",
    "DescribeDBInstanceAutomatedBackups",
    "DescribeDBSnapshots",
    "DescribeEvents",
}
THEIRS = {
    "AccessDenied",
    "DBInstanceNotFound",
    "DBSnapshotNotFound",
    "DBParameterGroupNotFound",
    "DBClusterNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBClusterEndpointNotFoundFault",
    "OptionGroupNotFoundFault",
    "DBInstanceAutomatedBackupNotFound",
}


def test_every_operation_is_covered() -> None:
    rds = next(s for s in served_services() if s.name == "rds")
    assert set(CALLS) == set(rds.operations)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("rds", secret_access_key="x" * 40)
    code, _ = fails(getattr(forged, xform_name(operation)), **CALLS[operation](target))
    assert code == "SignatureDoesNotMatch"


def new_user(server: StrongroomServer) -> tuple[str, Any, Any]:
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client(
        "rds", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    return name, client, iam


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(server: StrongroomServer, target, operation) -> None:
    name, nobody, _ = new_user(server)
    code, message = fails(getattr(nobody, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:iam::{OWNER}:user/{name} is not authorized")


@pytest.mark.parametrize("operation", sorted(set(CALLS) - ACCOUNT_LEVEL))
def test_another_account_is_refused(server, two_accounts, target, operation) -> None:
    theirs = server.client("rds", **two_accounts[1])
    code, _ = fails(getattr(theirs, xform_name(operation)), **CALLS[operation](target))
    assert code in THEIRS


def test_another_account_sees_none_of_it(server, two_accounts, target) -> None:
    theirs = server.client("rds", **two_accounts[1])
    text = json.dumps(
        [
            theirs.describe_db_instances()["DBInstances"],
            theirs.describe_db_snapshots()["DBSnapshots"],
            theirs.describe_db_clusters()["DBClusters"],
            theirs.describe_db_cluster_snapshots()["DBClusterSnapshots"],
            theirs.describe_db_cluster_endpoints()["DBClusterEndpoints"],
            theirs.describe_option_groups()["OptionGroupsList"],
            theirs.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"],
            theirs.describe_events(Duration=600)["Events"],
        ],
        default=str,
    )
    assert target["name"] not in text and OWNER not in text


def test_the_owners_resources_are_untouched(rds: Any, target) -> None:
    inst = rds.describe_db_instances(DBInstanceIdentifier=target["name"])["DBInstances"][0]
    assert inst["DBInstanceStatus"] == "available" and inst["DeletionProtection"] is False
    assert inst["TagList"] == [{"Key": "owner", "Value": "me"}]
    snaps = rds.describe_db_snapshots(DBSnapshotIdentifier=target["snap"])["DBSnapshots"]
    assert snaps[0]["Status"] == "available"
    groups = rds.describe_db_parameter_groups(DBParameterGroupName=target["params"])
    assert groups["DBParameterGroups"][0]["DBParameterGroupFamily"] == "mysql8.0"
    cluster = rds.describe_db_clusters(DBClusterIdentifier=target["cluster"])["DBClusters"][0]
    assert cluster["DeletionProtection"] is False and cluster["Status"] != "deleting"
    params = rds.describe_db_cluster_parameter_groups(
        DBClusterParameterGroupName=target["cluster_params"]
    )["DBClusterParameterGroups"]
    assert params[0]["DBParameterGroupFamily"] == target["family"]
    snaps = rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=target["cluster"] + "-snap"
    )
    assert snaps["DBClusterSnapshots"][0]["Status"] == "available"
    og = rds.describe_option_groups(OptionGroupName=target["name"] + "-og")["OptionGroupsList"]
    assert [g["EngineName"] for g in og] == ["mysql"]
    ep = rds.describe_db_cluster_endpoints(DBClusterEndpointIdentifier=target["cluster"] + "-ep")
    assert [e["CustomEndpointType"] for e in ep["DBClusterEndpoints"]] == ["ANY"]
    assert ep["DBClusterEndpoints"][0]["Status"] != "deleting"


def test_an_identity_policy_on_the_instance_arn(server: StrongroomServer, rds: Any, target) -> None:
    name, client, iam = new_user(server)
    other = rds.create_db_instance(
        DBInstanceIdentifier=_new(), Engine="mariadb", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="Owner-pass-1", AllocatedStorage=20,
    )["DBInstance"]  # fmt: skip
    iam.put_user_policy(
        UserName=name,
        PolicyName="tags",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "rds:ListTagsForResource",
                        "Resource": target["arn"],
                    }
                ],
            }
        ),
    )
    assert client.list_tags_for_resource(ResourceName=target["arn"])["TagList"]
    code, _ = fails(client.list_tags_for_resource, ResourceName=other["DBInstanceArn"])
    assert code == "AccessDenied"


def test_a_replica_of_another_accounts_instance_is_not_found(
    server: StrongroomServer, two_accounts, target
) -> None:
    """Named by its ARN, the owner's instance is still not theirs to replicate."""
    theirs = server.client("rds", **two_accounts[1])
    code, _ = fails(
        theirs.create_db_instance_read_replica,
        DBInstanceIdentifier=_new(),
        SourceDBInstanceIdentifier=target["arn"],
    )
    assert code == "DBInstanceNotFound"
    assert theirs.describe_db_instances()["DBInstances"] == []


def test_a_replica_needs_the_action_on_its_source_too(
    server: StrongroomServer, rds: Any, target
) -> None:
    name, client, iam = new_user(server)
    replica = _new()
    allowed = f"arn:aws:rds:us-east-1:{OWNER}:db:{replica}"
    iam.put_user_policy(
        UserName=name,
        PolicyName="replica",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rds:CreateDBInstanceReadReplica",
                     "Resource": allowed},
                ],
            }
        ),
    )  # fmt: skip
    code, message = fails(
        client.create_db_instance_read_replica,
        DBInstanceIdentifier=replica,
        SourceDBInstanceIdentifier=target["name"],
    )
    assert code == "AccessDenied" and target["arn"] in message
    iam.put_user_policy(
        UserName=name,
        PolicyName="replica",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rds:CreateDBInstanceReadReplica",
                     "Resource": [allowed, target["arn"]]},
                ],
            }
        ),
    )  # fmt: skip
    out = client.create_db_instance_read_replica(
        DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=target["name"]
    )["DBInstance"]
    assert out["ReadReplicaSourceDBInstanceIdentifier"] == target["name"]
    deadline = time.monotonic() + 30
    while (  # a creating instance can't be deleted yet
        rds.describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0][
            "DBInstanceStatus"
        ]
        == "creating"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rds.delete_db_instance(DBInstanceIdentifier=replica, SkipFinalSnapshot=True)


def test_an_aurora_instance_of_another_accounts_cluster_is_not_found(
    server: StrongroomServer, two_accounts, target
) -> None:
    theirs = server.client("rds", **two_accounts[1])
    code, _ = fails(
        theirs.create_db_instance,
        DBInstanceIdentifier=_new(),
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier=target["cluster"],
    )
    assert code == "DBClusterNotFoundFault"
    code, _ = fails(theirs.list_tags_for_resource, ResourceName=target["cluster_arn"])
    assert code in THEIRS


def test_an_identity_policy_on_the_cluster_arn(server: StrongroomServer, target) -> None:
    name, client, iam = new_user(server)
    iam.put_user_policy(
        UserName=name,
        PolicyName="cluster",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rds:ModifyDBCluster",
                     "Resource": target["cluster_arn"]},
                ],
            }
        ),
    )  # fmt: skip
    out = client.modify_db_cluster(DBClusterIdentifier=target["cluster"], BackupRetentionPeriod=2)
    assert out["DBCluster"]["BackupRetentionPeriod"] == 2
    code, _ = fails(client.failover_db_cluster, DBClusterIdentifier=target["cluster"])
    assert code == "AccessDenied"


def _arns(rds: Any, target) -> dict[str, str]:
    """The ARN of every kind of taggable resource the target set has."""
    cluster = target["cluster"]
    ep = rds.describe_db_cluster_endpoints(DBClusterEndpointIdentifier=f"{cluster}-ep")
    csnap = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"{cluster}-snap")
    return {
        "db": target["arn"],
        "snapshot": target["snap_arn"],
        "cluster": target["cluster_arn"],
        "cluster-snapshot": csnap["DBClusterSnapshots"][0]["DBClusterSnapshotArn"],
        "cluster-endpoint": ep["DBClusterEndpoints"][0]["DBClusterEndpointArn"],
        "pg": rds.describe_db_parameter_groups(DBParameterGroupName=target["params"])[
            "DBParameterGroups"
        ][0]["DBParameterGroupArn"],
        "cluster-pg": rds.describe_db_cluster_parameter_groups(
            DBClusterParameterGroupName=target["cluster_params"]
        )["DBClusterParameterGroups"][0]["DBClusterParameterGroupArn"],
        "og": rds.describe_option_groups(OptionGroupName=target["name"] + "-og")[
            "OptionGroupsList"
        ][0]["OptionGroupArn"],
    }


#: What another account (or a missing name) gets, per kind of ARN.
MISSING = {
    "db": "DBInstanceNotFound",
    "snapshot": "DBSnapshotNotFound",
    "cluster": "DBClusterNotFoundFault",
    "cluster-snapshot": "DBClusterSnapshotNotFoundFault",
    "cluster-endpoint": "DBClusterEndpointNotFoundFault",
    "pg": "DBParameterGroupNotFound",
    "cluster-pg": "DBParameterGroupNotFound",
    "og": "OptionGroupNotFoundFault",
}


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_tags_on_every_kind_of_resource(rds: Any, target, kind) -> None:
    arn = _arns(rds, target)[kind]
    assert f":{kind}:" in arn
    before = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": f"t-{kind}", "Value": "1"}])
    listed = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert listed == [*before, {"Key": f"t-{kind}", "Value": "1"}]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": f"t-{kind}", "Value": "2"}])
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        *before, {"Key": f"t-{kind}", "Value": "2"}
    ]  # fmt: skip
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[f"t-{kind}"])
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == before
    # A name that isn't there: the kind's own error.
    missing = arn.rsplit(":", 1)[0] + ":nope-" + uuid.uuid4().hex[:6]
    for op in (rds.list_tags_for_resource, rds.remove_tags_from_resource):
        kwargs = {"TagKeys": ["x"]} if op == rds.remove_tags_from_resource else {}
        code, _ = fails(op, ResourceName=missing, **kwargs)
        assert code == MISSING[kind]


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_another_accounts_arn_of_every_kind_is_not_found(
    server: StrongroomServer, two_accounts, rds: Any, target, kind
) -> None:
    arn = _arns(rds, target)[kind]
    theirs = server.client("rds", **two_accounts[1])
    code, _ = fails(theirs.list_tags_for_resource, ResourceName=arn)
    assert code == MISSING[kind]
    code, _ = fails(
        theirs.add_tags_to_resource, ResourceName=arn, Tags=[{"Key": "x", "Value": "y"}]
    )
    assert code == MISSING[kind]
    code, _ = fails(theirs.remove_tags_from_resource, ResourceName=arn, TagKeys=["owner"])
    assert code == MISSING[kind]
    # Their own copy of the ARN (their account, the same name) is not the owner's either.
    code, _ = fails(theirs.list_tags_for_resource, ResourceName=arn.replace(OWNER, OTHER))
    assert code == MISSING[kind]
    assert all(t["Key"] != "x" for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"])


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_tagging_every_kind_needs_the_action_on_its_arn(
    server: StrongroomServer, rds: Any, target, kind
) -> None:
    arn = _arns(rds, target)[kind]
    name, client, iam = new_user(server)
    for op in (client.list_tags_for_resource, client.add_tags_to_resource):
        kwargs = {"Tags": [{"Key": "x", "Value": "y"}]} if op == client.add_tags_to_resource else {}
        code, message = fails(op, ResourceName=arn, **kwargs)
        assert code == "AccessDenied" and arn in message
    iam.put_user_policy(
        UserName=name,
        PolicyName="tags",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rds:ListTagsForResource", "Resource": arn}
                ],
            }
        ),
    )
    assert (
        client.list_tags_for_resource(ResourceName=arn)["TagList"]
        == rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    )
    code, _ = fails(
        client.add_tags_to_resource, ResourceName=arn, Tags=[{"Key": "x", "Value": "y"}]
    )
    assert code == "AccessDenied"


def test_creation_tags_of_option_groups_and_cluster_endpoints_are_listed(rds: Any, target) -> None:
    og = rds.create_option_group(
        OptionGroupName=_new(), EngineName="mysql", MajorEngineVersion="8.0",
        OptionGroupDescription="o", Tags=[{"Key": "team", "Value": "db"}],
    )["OptionGroup"]  # fmt: skip
    assert rds.list_tags_for_resource(ResourceName=og["OptionGroupArn"])["TagList"] == [
        {"Key": "team", "Value": "db"}
    ]
    ep = rds.create_db_cluster_endpoint(
        DBClusterIdentifier=target["cluster"], DBClusterEndpointIdentifier=_new(),
        EndpointType="READER", Tags=[{"Key": "team", "Value": "ro"}],
    )  # fmt: skip
    assert rds.list_tags_for_resource(ResourceName=ep["DBClusterEndpointArn"])["TagList"] == [
        {"Key": "team", "Value": "ro"}
    ]
    # A default group lists no tags and takes none; an ARN of a type RDS has no tags for.
    default = next(
        g
        for g in rds.describe_option_groups(EngineName="mysql")["OptionGroupsList"]
        if g["OptionGroupName"].startswith("default:")
    )
    assert rds.list_tags_for_resource(ResourceName=default["OptionGroupArn"])["TagList"] == []
    code, _ = fails(
        rds.add_tags_to_resource,
        ResourceName=default["OptionGroupArn"],
        Tags=[{"Key": "x", "Value": "y"}],
    )
    assert code == "InvalidParameterValue"
    code, _ = fails(
        rds.list_tags_for_resource, ResourceName=f"arn:aws:rds:us-east-1:{OWNER}:nothing:x"
    )
    assert code == "InvalidParameterValue"
    rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier=ep["DBClusterEndpointIdentifier"])
    rds.delete_option_group(OptionGroupName=og["OptionGroupName"])
