"""RDS option groups end to end: the default groups (``default:postgres-<major>``
for each installed major, the control-plane engines' too), groups of one's
own (create, copy, describe, delete), no options on offer (PostgreSQL has
none on AWS either: ModifyOptionGroup refuses adding one), and an
instance's OptionGroupName / OptionGroupMemberships."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[StrongroomServer]:
    with StrongroomServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def major(rds: Any) -> str:
    versions = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    return versions[-1]["EngineVersion"].split(".")[0]


def groups(rds: Any, **kwargs: Any) -> list[dict[str, Any]]:
    pages = rds.get_paginator("describe_option_groups").paginate(**kwargs)
    return pages.build_full_result()["OptionGroupsList"]


def test_the_default_groups(rds: Any, major: str) -> None:
    majors = {
        v["EngineVersion"].split(".")[0]
        for v in rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    }
    found = groups(rds, EngineName="postgres")
    assert {g["OptionGroupName"] for g in found} == {f"default:postgres-{m}" for m in majors}
    one = groups(rds, OptionGroupName=f"default:postgres-{major}")[0]
    assert one == {
        "OptionGroupName": f"default:postgres-{major}",
        "OptionGroupDescription": f"Default option group for postgres {major}",
        "EngineName": "postgres",
        "MajorEngineVersion": major,
        "Options": [],
        "AllowsVpcAndNonVpcInstanceMemberships": True,
        "OptionGroupArn": f"arn:aws:rds:us-east-1:000000000000:og:default:postgres-{major}",
    }
    mysql = groups(rds, EngineName="mysql", MajorEngineVersion="8.0")
    assert [g["OptionGroupName"] for g in mysql] == ["default:mysql-8-0"]
    code, _, status = fails(rds.describe_option_groups, OptionGroupName="nope")
    assert (code, status) == ("OptionGroupNotFoundFault", 404)
    code, _, _ = fails(rds.describe_option_groups, OptionGroupName="x", EngineName="postgres")
    assert code == "InvalidParameterCombination"
    # PostgreSQL offers no options (as on AWS); nor does any engine here.
    assert rds.describe_option_group_options(EngineName="postgres")["OptionGroupOptions"] == []
    out = rds.describe_option_group_options(EngineName="postgres", MajorEngineVersion=major)
    assert out["OptionGroupOptions"] == []
    code, _, _ = fails(rds.describe_option_group_options, EngineName="nope")
    assert code == "InvalidParameterValue"


def test_own_groups_and_their_rules(rds: Any, major: str) -> None:
    made = rds.create_option_group(
        OptionGroupName="App-Options", EngineName="postgres", MajorEngineVersion=major,
        OptionGroupDescription="app", Tags=[{"Key": "team", "Value": "app"}],
    )["OptionGroup"]  # fmt: skip
    assert (made["OptionGroupName"], made["EngineName"], made["MajorEngineVersion"]) == (
        "app-options", "postgres", major)  # fmt: skip
    assert made["OptionGroupArn"].endswith(":og:app-options")
    code, _, _ = fails(rds.create_option_group, OptionGroupName="app-options",
                       EngineName="postgres", MajorEngineVersion=major,
                       OptionGroupDescription="again")  # fmt: skip
    assert code == "OptionGroupAlreadyExistsFault"
    for bad in ("1abc", "a--b", "a_b", "abc-"):
        code, _, _ = fails(rds.create_option_group, OptionGroupName=bad, EngineName="postgres",
                           MajorEngineVersion=major, OptionGroupDescription="x")  # fmt: skip
        assert code == "InvalidParameterValue", bad
    code, _, _ = fails(rds.create_option_group, OptionGroupName="og-x", EngineName="nope",
                       MajorEngineVersion="1", OptionGroupDescription="x")  # fmt: skip
    assert code == "InvalidParameterValue"
    code, _, _ = fails(rds.create_option_group, OptionGroupName="og-x", EngineName="postgres",
                       MajorEngineVersion="7", OptionGroupDescription="x")  # fmt: skip
    assert code == "InvalidParameterCombination"
    copy = rds.copy_option_group(SourceOptionGroupIdentifier="app-options",
                                 TargetOptionGroupIdentifier="app-options-2",
                                 TargetOptionGroupDescription="copy")["OptionGroup"]  # fmt: skip
    assert copy["MajorEngineVersion"] == major and copy["OptionGroupDescription"] == "copy"
    assert copy["SourceOptionGroup"] == made["OptionGroupArn"] and "CopyTimestamp" in copy
    code, _, status = fails(rds.copy_option_group, SourceOptionGroupIdentifier="nope",
                            TargetOptionGroupIdentifier="x", TargetOptionGroupDescription="x")  # fmt: skip
    assert (code, status) == ("OptionGroupNotFoundFault", 404)
    # No option can be added: the engine offers none.
    code, message, _ = fails(rds.modify_option_group, OptionGroupName="app-options",
                             OptionsToInclude=[{"OptionName": "TIMEZONE"}],
                             ApplyImmediately=True)  # fmt: skip
    assert code == "InvalidParameterValue" and "TIMEZONE" in message
    code, _, _ = fails(rds.modify_option_group, OptionGroupName="app-options")
    assert code == "InvalidParameterValue"
    code, _, _ = fails(rds.modify_option_group, OptionGroupName=f"default:postgres-{major}",
                       OptionsToRemove=["X"])  # fmt: skip
    assert code == "InvalidParameterValue"
    code, _, status = fails(rds.delete_option_group, OptionGroupName=f"default:postgres-{major}")
    assert (code, status) == ("InvalidOptionGroupStateFault", 400)
    rds.delete_option_group(OptionGroupName="app-options-2")
    code, _, _ = fails(rds.delete_option_group, OptionGroupName="app-options-2")
    assert code == "OptionGroupNotFoundFault"
    names = [g["OptionGroupName"] for g in groups(rds, EngineName="postgres")]
    assert "app-options" in names and "app-options-2" not in names


def test_an_instance_in_an_option_group(rds: Any, major: str) -> None:
    rds.create_option_group(OptionGroupName="shop-options", EngineName="postgres",
                            MajorEngineVersion=major, OptionGroupDescription="shop")  # fmt: skip
    out = rds.create_db_instance(
        DBInstanceIdentifier="shop", Engine="postgres", EngineVersion=major,
        DBInstanceClass="db.t3.micro", MasterUsername="admin", MasterUserPassword="S3cret-pass",
        AllocatedStorage=20, OptionGroupName="shop-options",
    )["DBInstance"]  # fmt: skip
    assert out["OptionGroupMemberships"] == [
        {"OptionGroupName": "shop-options", "Status": "in-sync"}]  # fmt: skip
    deadline = time.monotonic() + 90
    while (
        rds.describe_db_instances(DBInstanceIdentifier="shop")["DBInstances"][0]["DBInstanceStatus"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, _, status = fails(rds.delete_option_group, OptionGroupName="shop-options")
    assert (code, status) == ("InvalidOptionGroupStateFault", 400)
    code, _, _ = fails(rds.modify_db_instance, DBInstanceIdentifier="shop",
                       OptionGroupName="default:mysql-8-0")  # fmt: skip
    assert code == "InvalidParameterCombination"
    code, _, _ = fails(rds.modify_db_instance, DBInstanceIdentifier="shop",
                       OptionGroupName="nope")  # fmt: skip
    assert code == "OptionGroupNotFoundFault"
    out = rds.modify_db_instance(DBInstanceIdentifier="shop",
                                 OptionGroupName=f"default:postgres-{major}")["DBInstance"]  # fmt: skip
    assert out["OptionGroupMemberships"][0]["OptionGroupName"] == f"default:postgres-{major}"
    inst = rds.describe_db_instances(DBInstanceIdentifier="shop")["DBInstances"][0]
    assert inst["OptionGroupMemberships"][0]["OptionGroupName"] == f"default:postgres-{major}"
    rds.delete_option_group(OptionGroupName="shop-options")
    # A control-plane engine's instance names its own engine's group.
    made = rds.create_db_instance(
        DBInstanceIdentifier="mine", Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="S3cret-pass", AllocatedStorage=20,
    )["DBInstance"]  # fmt: skip
    assert made["OptionGroupMemberships"][0]["OptionGroupName"].startswith("default:mysql-8-")
    code, _, _ = fails(rds.create_db_instance, DBInstanceIdentifier="mine2", Engine="mysql",
                       DBInstanceClass="db.t3.micro", MasterUsername="admin",
                       MasterUserPassword="S3cret-pass", AllocatedStorage=20,
                       OptionGroupName=f"default:postgres-{major}")  # fmt: skip
    assert code == "InvalidParameterCombination"
