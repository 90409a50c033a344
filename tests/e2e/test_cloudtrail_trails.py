"""CloudTrail trails end to end with boto3: the trail operations and AWS's
errors, shadow trails of multi-region trails, tags, event and insight
selectors, the KMS key-policy check, ListPublicKeys, the trail operations'
own CloudTrail events; and every operation refused to a forged signature,
to a caller with no policy and (on the owner's trail) to another account."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name
from trail_helpers import make_trail_bucket

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"
BUCKET = "trail-bucket"


def fails(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def two_accounts() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-ct-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def server(two_accounts) -> StrongroomServer:
    return two_accounts[0]


@pytest.fixture(scope="module")
def ct(server: StrongroomServer):
    make_trail_bucket(server.client("s3"), BUCKET)  # CreateTrail checks its policy
    return server.client("cloudtrail")


@pytest.fixture(scope="module")
def theirs(server: StrongroomServer, two_accounts):
    return server.client("cloudtrail", **two_accounts[1])


def new_name() -> str:
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture
def trail(ct) -> Iterator[dict[str, Any]]:
    made = ct.create_trail(Name=new_name(), S3BucketName=BUCKET)
    yield made
    try:
        ct.delete_trail(Name=made["TrailARN"])
    except botocore.exceptions.ClientError:
        pass


def test_create_get_describe_list_update_delete(ct) -> None:
    name = new_name()
    made = ct.create_trail(
        Name=name, S3BucketName=BUCKET, S3KeyPrefix="p", EnableLogFileValidation=True,
        TagsList=[{"Key": "team", "Value": "sec"}],
    )  # fmt: skip
    arn = f"arn:aws:cloudtrail:us-east-1:{OWNER}:trail/{name}"
    assert made["TrailARN"] == arn and made["Name"] == name
    assert made["IncludeGlobalServiceEvents"] is True and made["IsMultiRegionTrail"] is False
    assert made["LogFileValidationEnabled"] is True and made["S3KeyPrefix"] == "p"
    got = ct.get_trail(Name=name)["Trail"]
    assert got["HomeRegion"] == "us-east-1" and got["HasCustomEventSelectors"] is False
    assert ct.get_trail(Name=arn)["Trail"]["Name"] == name
    assert name in [t["Name"] for t in ct.describe_trails()["trailList"]]
    assert [t["Name"] for t in ct.describe_trails(trailNameList=[arn])["trailList"]] == [name]
    listed = {t["Name"]: t for t in ct.list_trails()["Trails"]}
    assert listed[name] == {"TrailARN": arn, "Name": name, "HomeRegion": "us-east-1"}
    updated = ct.update_trail(Name=name, S3KeyPrefix="", EnableLogFileValidation=False)
    assert "S3KeyPrefix" not in updated and updated["LogFileValidationEnabled"] is False
    tags = ct.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert tags == [{"ResourceId": arn, "TagsList": [{"Key": "team", "Value": "sec"}]}]
    ct.delete_trail(Name=name)
    code, message, status = fails(ct.get_trail, Name=name)
    assert (code, status) == ("TrailNotFoundException", 400)
    assert message == f"Unknown trail: {arn} for the user: {OWNER}"


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 129, "-abc", "abc-", "a..b", "a_-b", "192.168.1.1", "has space"],
)
def test_bad_names(ct, name: str) -> None:
    code, _, status = fails(ct.create_trail, Name=name, S3BucketName=BUCKET)
    assert (code, status) == ("InvalidTrailNameException", 400)


def test_errors(ct, trail) -> None:
    assert fails(ct.create_trail, Name=trail["Name"], S3BucketName=BUCKET)[0] == (
        "TrailAlreadyExistsException"
    )
    assert fails(ct.get_trail_status, Name="")[0] in ("TrailNotProvidedException",)
    assert fails(ct.get_trail, Name="arn:aws:s3:::x")[0] == "CloudTrailARNInvalidException"
    assert fails(ct.create_trail, Name=new_name(), S3BucketName="Bad_Bucket")[0] == (
        "InvalidS3BucketNameException"
    )
    assert fails(
        ct.create_trail, Name=new_name(), S3BucketName=BUCKET, IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=False,
    )[0] == "InvalidParameterCombinationException"  # fmt: skip
    assert fails(
        ct.create_trail, Name=new_name(), S3BucketName=BUCKET,
        CloudWatchLogsLogGroupArn="arn:aws:logs:us-east-1:000000000000:log-group:trail:*",
    )[0] == "InvalidCloudWatchLogsRoleArnException"  # fmt: skip
    assert fails(
        ct.create_trail, Name=new_name(), S3BucketName=BUCKET,
        CloudWatchLogsLogGroupArn="not-an-arn",
        CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/r",
    )[0] == "InvalidCloudWatchLogsLogGroupArnException"  # fmt: skip
    assert (
        fails(ct.create_trail, Name=new_name(), S3BucketName=BUCKET, KmsKeyId="alias/none")[0]
        == "KmsKeyNotFoundException"
    )


def test_five_trails_a_region_and_shadow_trails(server: StrongroomServer, ct) -> None:
    existing = [t["Name"] for t in ct.list_trails()["Trails"]]
    for name in existing:
        ct.delete_trail(Name=name)
    multi = ct.create_trail(Name=new_name(), S3BucketName=BUCKET, IsMultiRegionTrail=True)
    names = [ct.create_trail(Name=new_name(), S3BucketName=BUCKET)["Name"] for _ in range(4)]
    code, _, _ = fails(ct.create_trail, Name=new_name(), S3BucketName=BUCKET)
    assert code == "MaximumNumberOfTrailsExceededException"
    west = server.client("cloudtrail", region="us-west-2")
    shadows = west.describe_trails()["trailList"]
    assert [t["TrailARN"] for t in shadows] == [multi["TrailARN"]]
    assert shadows[0]["HomeRegion"] == "us-east-1"
    assert west.describe_trails(includeShadowTrails=False)["trailList"] == []
    assert west.get_trail(Name=multi["Name"])["Trail"]["IsMultiRegionTrail"] is True
    code, _, _ = fails(west.delete_trail, Name=multi["TrailARN"])
    assert code == "InvalidHomeRegionException"
    # The multi-region trail counts in us-west-2 too: four more fit there.
    for _ in range(4):
        west.create_trail(Name=new_name(), S3BucketName=BUCKET)
    assert fails(west.create_trail, Name=new_name(), S3BucketName=BUCKET)[0] == (
        "MaximumNumberOfTrailsExceededException"
    )
    for t in west.describe_trails(includeShadowTrails=False)["trailList"]:
        west.delete_trail(Name=t["Name"])
    for name in [*names, multi["Name"]]:
        ct.delete_trail(Name=name)


def test_logging_and_status(ct, trail) -> None:
    status = ct.get_trail_status(Name=trail["Name"])
    assert status["IsLogging"] is False and "StartLoggingTime" not in status
    ct.start_logging(Name=trail["Name"])
    status = ct.get_trail_status(Name=trail["TrailARN"])
    assert status["IsLogging"] is True and "StartLoggingTime" in status
    ct.stop_logging(Name=trail["Name"])
    status = ct.get_trail_status(Name=trail["Name"])
    assert status["IsLogging"] is False and "StopLoggingTime" in status


def test_tags(ct, trail) -> None:
    arn = trail["TrailARN"]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "a", "Value": "3"}])
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "b"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [
        {"Key": "a", "Value": "3"}
    ]
    assert fails(ct.add_tags, ResourceId=arn, TagsList=[{"Key": "aws:x", "Value": "1"}])[0] == (
        "InvalidTagParameterException"
    )
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert fails(ct.add_tags, ResourceId=arn, TagsList=too_many)[0] == "TagsLimitExceededException"
    missing = arn + "-gone"
    assert fails(ct.list_tags, ResourceIdList=[missing])[0] == "ResourceNotFoundException"
    assert fails(ct.add_tags, ResourceId="nope", TagsList=[])[0] == "CloudTrailARNInvalidException"


def test_event_selectors(ct, trail) -> None:
    name = trail["Name"]
    got = ct.get_event_selectors(TrailName=name)
    assert got["EventSelectors"] == [
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
         "ExcludeManagementEventSources": []}
    ]  # fmt: skip
    basic = [{"ReadWriteType": "WriteOnly", "ExcludeManagementEventSources": ["kms.amazonaws.com"],
              "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}]}]  # fmt: skip
    put = ct.put_event_selectors(TrailName=name, EventSelectors=basic)
    assert put["TrailARN"] == trail["TrailARN"]
    assert put["EventSelectors"][0]["DataResources"] == basic[0]["DataResources"]
    assert ct.get_trail(Name=name)["Trail"]["HasCustomEventSelectors"] is True
    advanced = [
        {"Name": "writes", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["false"]}]},
        {"FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::trail-bucket/"]},
            {"Field": "eventName", "NotEquals": ["GetObject"]}]},
    ]  # fmt: skip
    put = ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=advanced)
    assert put["AdvancedEventSelectors"] == advanced
    assert ct.get_event_selectors(TrailName=name)["AdvancedEventSelectors"] == advanced
    code, _, _ = fails(
        ct.put_event_selectors, TrailName=name, EventSelectors=basic,
        AdvancedEventSelectors=advanced,
    )  # fmt: skip
    assert code == "InvalidEventSelectorsException"
    bad = [{"FieldSelectors": [{"Field": "eventName", "Equals": ["X"]}]}]
    code, _, _ = fails(ct.put_event_selectors, TrailName=name, AdvancedEventSelectors=bad)
    assert code == "InvalidEventSelectorsException"
    assert fails(ct.get_event_selectors, TrailName="missing-trail")[0] == "TrailNotFoundException"


def test_insight_selectors(ct, trail) -> None:
    name = trail["Name"]
    assert fails(ct.get_insight_selectors, TrailName=name)[0] == "InsightNotEnabledException"
    out = ct.put_insight_selectors(
        TrailName=name, InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]
    )
    assert out["InsightSelectors"] == [{"InsightType": "ApiCallRateInsight"}]
    assert ct.get_insight_selectors(TrailName=name)["InsightSelectors"] == out["InsightSelectors"]
    assert ct.get_trail(Name=name)["Trail"]["HasInsightSelectors"] is True
    code, _, _ = fails(
        ct.put_insight_selectors, TrailName=name,
        InsightSelectors=[{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiCallRateInsight"}],
    )  # fmt: skip
    assert code == "InvalidInsightSelectorsException"
    ct.put_insight_selectors(TrailName=name, InsightSelectors=[])
    assert fails(ct.get_insight_selectors, TrailName=name)[0] == "InsightNotEnabledException"


def test_kms_key_policy_must_allow_cloudtrail(server: StrongroomServer, ct) -> None:
    kms = server.client("kms")
    plain = kms.create_key()["KeyMetadata"]["Arn"]
    code, _, _ = fails(ct.create_trail, Name=new_name(), S3BucketName=BUCKET, KmsKeyId=plain)
    assert code == "InsufficientEncryptionPolicyException"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:aws:cloudtrail:*:{OWNER}:trail/*"}}},
    ]}  # fmt: skip
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    kms.create_alias(AliasName="alias/trail-" + key["KeyId"][:8], TargetKeyId=key["KeyId"])
    made = ct.create_trail(
        Name=new_name(), S3BucketName=BUCKET, KmsKeyId="alias/trail-" + key["KeyId"][:8]
    )
    assert made["KmsKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    code, _, _ = fails(ct.update_trail, Name=made["Name"], KmsKeyId=key["Arn"])
    assert code == "KmsKeyDisabledException"
    ct.delete_trail(Name=made["Name"])


def test_list_public_keys(ct) -> None:
    assert ct.list_public_keys()["PublicKeyList"] == []
    code, _, _ = fails(
        ct.list_public_keys,
        StartTime="2026-12-02T00:00:00Z",
        EndTime="2026-12-01T00:00:00Z",
    )
    assert code == "InvalidTimeRangeException"


def test_trail_operations_are_recorded(ct, trail) -> None:
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": trail["TrailARN"]}]
    )["Events"]
    created = [e for e in events if e["EventName"] == "CreateTrail"]
    assert created, events
    record = json.loads(created[0]["CloudTrailEvent"])
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["requestParameters"]["name"] == trail["Name"]
    assert record["responseElements"]["trailARN"] == trail["TrailARN"]


# -- authorization -----------------------------------------------------------------

CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "CreateTrail": lambda t: {"Name": new_name(), "S3BucketName": BUCKET},
    "UpdateTrail": lambda t: {"Name": t["TrailARN"], "S3KeyPrefix": "x"},
    "DeleteTrail": lambda t: {"Name": t["TrailARN"]},
    "GetTrail": lambda t: {"Name": t["TrailARN"]},
    "DescribeTrails": lambda t: {"trailNameList": [t["TrailARN"]]},
    "ListTrails": lambda t: {},
    "GetTrailStatus": lambda t: {"Name": t["TrailARN"]},
    "StartLogging": lambda t: {"Name": t["TrailARN"]},
    "StopLogging": lambda t: {"Name": t["TrailARN"]},
    "AddTags": lambda t: {"ResourceId": t["TrailARN"], "TagsList": [{"Key": "k", "Value": "v"}]},
    "RemoveTags": lambda t: {"ResourceId": t["TrailARN"], "TagsList": [{"Key": "k"}]},
    "ListTags": lambda t: {"ResourceIdList": [t["TrailARN"]]},
    "PutEventSelectors": lambda t: {
        "TrailName": t["TrailARN"],
        "EventSelectors": [{"ReadWriteType": "ReadOnly"}],
    },
    "GetEventSelectors": lambda t: {"TrailName": t["TrailARN"]},
    "PutInsightSelectors": lambda t: {
        "TrailName": t["TrailARN"],
        "InsightSelectors": [{"InsightType": "ApiErrorRateInsight"}],
    },
    "GetInsightSelectors": lambda t: {"TrailName": t["TrailARN"]},
    "ListPublicKeys": lambda t: {},
}
#: Operations on no trail of the owner's: another account may call them on its own.
ACCOUNT_LEVEL = {"CreateTrail", "ListTrails", "ListPublicKeys", "DescribeTrails"}


@pytest.fixture(scope="module")
def target(ct) -> dict[str, Any]:
    return ct.create_trail(Name="authz-" + uuid.uuid4().hex[:8], S3BucketName=BUCKET)


def new_user(server: StrongroomServer) -> tuple[str, Any]:
    iam = server.client("iam")
    name = "ct-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client(
        "cloudtrail", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


def test_every_trail_operation_is_covered(server: StrongroomServer) -> None:
    served = set(server.client("cloudtrail").meta.service_model.operation_names)
    ours = set(CALLS) | {"LookupEvents"}
    assert ours <= served


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_forged_signature_is_refused(server: StrongroomServer, target, operation) -> None:
    forged = server.client("cloudtrail", secret_access_key="x" * 40)
    code, _, status = fails(getattr(forged, xform_name(operation)), **CALLS[operation](target))
    assert (code, status) == ("InvalidSignatureException", 400)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_caller_with_no_policy_is_refused(server: StrongroomServer, target, operation) -> None:
    name, nobody = new_user(server)
    code, message, _ = fails(getattr(nobody, xform_name(operation)), **CALLS[operation](target))
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:iam::{OWNER}:user/{name} is not authorized")


@pytest.mark.parametrize("operation", sorted(set(CALLS) - ACCOUNT_LEVEL))
def test_another_account_cannot_reach_the_trail(theirs, target, operation) -> None:
    code, _, _ = fails(getattr(theirs, xform_name(operation)), **CALLS[operation](target))
    assert code in ("TrailNotFoundException", "ResourceNotFoundException")


def test_another_account_sees_none_of_the_owners_trails(ct, theirs, target) -> None:
    assert theirs.list_trails()["Trails"] == []
    assert theirs.describe_trails()["trailList"] == []
    assert theirs.describe_trails(trailNameList=[target["TrailARN"]])["trailList"] == []
    assert ct.get_trail(Name=target["TrailARN"])["Trail"]["Name"] == target["Name"]
    assert ct.get_trail_status(Name=target["TrailARN"])["IsLogging"] is False


def test_an_allowed_user_on_the_trail_arn(server: StrongroomServer, target) -> None:
    name, user = new_user(server)
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "cloudtrail:GetTrail", "Resource": target["TrailARN"]}]}),
    )  # fmt: skip
    assert user.get_trail(Name=target["Name"])["Trail"]["TrailARN"] == target["TrailARN"]
    assert fails(user.get_trail_status, Name=target["Name"])[0] == "AccessDeniedException"
