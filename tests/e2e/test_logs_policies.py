"""CloudWatch Logs resource policies end to end: the account's policies (and
a group's own) decide other accounts' and service principals' access to
log groups; AWS's limits and errors."""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer, add_account

OWNER = "000000000000"
OTHER = "111111111111"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error_of(fn: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="strongroom-logpol-") as data_dir:
        other = add_account(data_dir, OTHER)
        with StrongroomServer(data_dir) as server:
            yield server, other


@pytest.fixture(scope="module")
def logs(world) -> Any:
    return world[0].client("logs")


@pytest.fixture(scope="module")
def theirs(world) -> Any:
    return world[0].client("logs", **world[1])


def new_group(logs: Any, *messages: str) -> tuple[str, str]:
    name = f"/pol/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    if messages:
        logs.put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
        )
    return name, f"arn:aws:logs:us-east-1:{OWNER}:log-group:{name}"


def test_a_policy_lets_another_account_read(logs, theirs, world) -> None:
    _name, arn = new_group(logs, "shared line")
    code, message = error_of(theirs.filter_log_events, logGroupIdentifier=arn)
    assert code == "AccessDeniedException" and f"arn:aws:iam::{OTHER}:root" in message
    policy_name = "share-" + uuid.uuid4().hex[:6]
    out = logs.put_resource_policy(
        policyName=policy_name,
        policyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": ["logs:FilterLogEvents", "logs:GetLogEvents"],
                "Resource": f"{arn}:*",
            }
        ),
    )
    assert out["resourcePolicy"]["policyName"] == policy_name
    assert out["resourcePolicy"]["policyScope"] == "ACCOUNT"
    assert out["revisionId"] == out["resourcePolicy"]["revisionId"]
    got = theirs.filter_log_events(logGroupIdentifier=arn)["events"]
    assert [e["message"] for e in got] == ["shared line"]
    got = theirs.get_log_events(logGroupIdentifier=arn, logStreamName="s")["events"]
    assert [e["message"] for e in got] == ["shared line"]
    # Only what the policy names.
    code, _ = error_of(theirs.describe_log_streams, logGroupIdentifier=arn)
    assert code == "AccessDeniedException"
    # A user of the other account still needs its own identity policy.
    server, other = world
    iam = server.client("iam", **other)
    user = "reader-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = server.client(
        "logs", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    code, _ = error_of(reader.filter_log_events, logGroupIdentifier=arn)
    assert code == "AccessDeniedException"
    iam.put_user_policy(
        UserName=user,
        PolicyName="read",
        PolicyDocument=doc({"Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": "*"}),
    )
    assert reader.filter_log_events(logGroupIdentifier=arn)["events"]
    # Gone with the policy.
    logs.delete_resource_policy(policyName=policy_name)
    code, _ = error_of(theirs.filter_log_events, logGroupIdentifier=arn)
    assert code == "AccessDeniedException"


def test_a_group_policy_and_an_explicit_deny(logs, theirs) -> None:
    name, arn = new_group(logs, "own policy")
    out = logs.put_resource_policy(
        resourceArn=arn,
        policyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": OTHER},
                "Action": "logs:FilterLogEvents",
                "Resource": f"{arn}:*",
            }
        ),
    )
    assert out["resourcePolicy"]["policyScope"] == "RESOURCE"
    assert out["resourcePolicy"]["resourceArn"] == arn
    assert theirs.filter_log_events(logGroupIdentifier=arn)["events"]
    listed = logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"]
    assert [p["resourceArn"] for p in listed] == [arn]
    assert all(
        "resourceArn" not in p for p in logs.describe_resource_policies()["resourcePolicies"]
    )
    # A revision that is not the current one aborts.
    code, _ = error_of(
        logs.put_resource_policy, resourceArn=arn, policyDocument=doc({
            "Effect": "Deny", "Principal": "*", "Action": "logs:*", "Resource": "*"}),
        expectedRevisionId="not-it",
    )  # fmt: skip
    assert code == "OperationAbortedException"
    # An explicit deny refuses even the owner's root.
    logs.put_resource_policy(
        resourceArn=arn,
        expectedRevisionId=out["revisionId"],
        policyDocument=doc(
            {"Effect": "Deny", "Principal": "*", "Action": "logs:GetLogEvents", "Resource": "*"}
        ),
    )
    code, _ = error_of(logs.get_log_events, logGroupName=name, logStreamName="s")
    assert code == "AccessDeniedException"
    assert logs.filter_log_events(logGroupName=name)["events"]
    logs.delete_resource_policy(resourceArn=arn)
    assert logs.get_log_events(logGroupName=name, logStreamName="s")["events"]
    # A group's own policy goes with the group.
    logs.put_resource_policy(
        resourceArn=arn, policyDocument=out["resourcePolicy"]["policyDocument"]
    )
    logs.delete_log_group(logGroupName=name)
    logs.create_log_group(logGroupName=name)
    assert logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"] == []


def test_limits_and_errors(logs, theirs) -> None:
    base = len(logs.describe_resource_policies()["resourcePolicies"])
    ok = doc({"Effect": "Allow", "Principal": {"Service": "es.amazonaws.com"},
              "Action": "logs:PutLogEvents", "Resource": "*"})  # fmt: skip
    made = []
    for i in range(10 - base):
        made.append(f"p{i}-{uuid.uuid4().hex[:4]}")
        logs.put_resource_policy(policyName=made[-1], policyDocument=ok)
    # Replacing one is no new one; an eleventh is refused.
    logs.put_resource_policy(policyName=made[0], policyDocument=ok)
    assert error_of(logs.put_resource_policy, policyName="eleventh", policyDocument=ok) == (
        "LimitExceededException",
        "Resource limit exceeded.",
    )
    assert len(logs.describe_resource_policies()["resourcePolicies"]) == 10
    page = logs.describe_resource_policies(limit=3)
    assert len(page["resourcePolicies"]) == 3 and page["nextToken"]
    # Another account has its own ten.
    assert theirs.describe_resource_policies()["resourcePolicies"] == []
    for name in made:
        logs.delete_resource_policy(policyName=name)
    for bad in ("{", doc(), json.dumps({"Statement": [{"Effect": "Maybe"}]}),
                doc({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}),
                doc({"Effect": "Allow", "Principal": 5, "Action": "logs:*", "Resource": "*"}),
                json.dumps({"Version": "2012-10-17", "Statement": [], "pad": "x" * 5120})):  # fmt: skip
        code, _ = error_of(logs.put_resource_policy, policyName="bad", policyDocument=bad)
        assert code == "InvalidParameterException"
    code, message = error_of(logs.delete_resource_policy, policyName="never-was")
    assert code == "ResourceNotFoundException" and "never-was" in message


# --------------------------------------------------------------------------- data protection

IDENTIFIERS = [
    f"arn:aws:dataprotection::aws:data-identifier/{name}"
    for name in ("EmailAddress", "AwsSecretKey", "IpAddress", "CreditCardNumber", "Ssn-US")
] + ["EmployeeId"]


def protection_doc(
    audit: list[str] | None = None, masked: list[str] | None = None, **more: Any
) -> str:
    doc_ = {
        "Name": "protect",
        "Description": "",
        "Version": "2021-06-01",
        "Configuration": {"CustomDataIdentifier": [{"Name": "EmployeeId", "Regex": "EMP-\\d{6}"}]},
        "Statement": [
            {"Sid": "audit", "DataIdentifier": audit or IDENTIFIERS,
             "Operation": {"Audit": {"FindingsDestination": {}}}},
            {"Sid": "redact", "DataIdentifier": masked or IDENTIFIERS,
             "Operation": {"Deidentify": {"MaskConfig": {}}}},
        ],
    }  # fmt: skip
    doc_.update(more)
    return json.dumps(doc_)


SENSITIVE = (
    "user bob@example.com from 10.1.2.3 paid with 4111 1111 1111 1111, ssn 123-45-6789, "
    "key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, badge EMP-123456"
)
MASKED = (
    "user *************** from ******** paid with *******************, ssn ***********, "
    "key ****************************************, badge **********"
)


def query_results(logs: Any, group: str, query: str) -> list[dict[str, str]]:
    qid = logs.start_query(
        logGroupName=group, startTime=0, endTime=int(time.time()) + 60, queryString=query
    )["queryId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = logs.get_query_results(queryId=qid)
        if out["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in out["results"]]
        time.sleep(0.2)
    raise AssertionError("query did not complete")


def user_client(server: StrongroomServer, *actions: str) -> Any:
    iam = server.client("iam")
    name = "dp-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=doc({"Effect": "Allow", "Action": list(actions), "Resource": "*"}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client(
        "logs", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )


def test_data_protection_masks_every_read(logs, world) -> None:
    server = world[0]
    name, arn = new_group(logs, SENSITIVE)
    none = logs.get_data_protection_policy(logGroupIdentifier=name)
    assert none["logGroupIdentifier"] == name and "policyDocument" not in none
    out = logs.put_data_protection_policy(logGroupIdentifier=arn, policyDocument=protection_doc())
    assert out["logGroupIdentifier"] == arn and out["lastUpdatedTime"] > 0
    got = logs.get_data_protection_policy(logGroupIdentifier=name)
    assert json.loads(got["policyDocument"])["Version"] == "2021-06-01"
    described = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    assert described["dataProtectionStatus"] == "ACTIVATED"
    # As AWS masks at ingestion, the events stored before the policy are not masked.
    before = logs.get_log_events(logGroupName=name, logStreamName="s")["events"]
    assert [e["message"] for e in before] == [SENSITIVE]
    logs.delete_log_stream(logGroupName=name, logStreamName="s")
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=name,
        logStreamName="s",
        logEvents=[
            {"timestamp": now, "message": SENSITIVE},
            {"timestamp": now + 1, "message": "nothing to hide"},
        ],
    )
    events = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == [MASKED, "nothing to hide"]
    filtered = logs.filter_log_events(logGroupName=name)["events"]
    assert [e["message"] for e in filtered] == [MASKED, "nothing to hide"]
    # The pattern sees the masked events, as AWS masks at ingestion.
    filtered = logs.filter_log_events(logGroupName=name, filterPattern='"bob@example.com"')
    assert filtered["events"] == []
    filtered = logs.filter_log_events(logGroupName=name, filterPattern='"user ****"')
    assert [e["message"] for e in filtered["events"]] == [MASKED]
    filtered = logs.filter_log_events(
        logGroupName=name, filterPattern='"bob@example.com"', unmask=True
    )
    assert [e["message"] for e in filtered["events"]] == [SENSITIVE]
    rows = query_results(logs, name, "fields @message | sort @timestamp asc")
    assert [r["@message"] for r in rows] == [MASKED, "nothing to hide"]
    counted = 'filter @message like "bob@example.com" | stats count(*) by bin(5m)'
    assert query_results(logs, name, counted) == []
    counted = 'filter @message like "user ****" | stats count(*) as n by bin(5m)'
    assert [r["n"] for r in query_results(logs, name, counted)] == ["1"]
    # The root may unmask.
    raw = logs.get_log_events(
        logGroupName=name, logStreamName="s", startFromHead=True, unmask=True
    )["events"]
    assert raw[0]["message"] == SENSITIVE
    assert logs.filter_log_events(logGroupName=name, unmask=True)["events"][0]["message"] == (
        SENSITIVE
    )
    rows = query_results(
        logs, name, "fields @message, unmask(@message) as plain | sort @timestamp asc"
    )
    assert rows[0]["@message"] == MASKED and rows[0]["plain"] == SENSITIVE
    rows = query_results(logs, name, "fields @message | unmask | sort @timestamp asc")
    assert rows[0]["@message"] == SENSITIVE
    # A reader without logs:Unmask reads masked, and may not unmask.
    reader = user_client(server, "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery",
                         "logs:GetQueryResults")  # fmt: skip
    assert reader.filter_log_events(logGroupName=name)["events"][0]["message"] == MASKED
    for fn, kwargs in (
        (reader.get_log_events, {"logGroupName": name, "logStreamName": "s", "unmask": True}),
        (reader.filter_log_events, {"logGroupName": name, "unmask": True}),
        (reader.start_query, {"logGroupName": name, "startTime": 0, "endTime": 2**31,
                              "queryString": "fields unmask(@message)"}),
    ):  # fmt: skip
        code, message = error_of(fn, **kwargs)
        assert code == "AccessDeniedException" and "logs:Unmask" in message
    unmasker = user_client(server, "logs:FilterLogEvents", "logs:Unmask")
    assert unmasker.filter_log_events(logGroupName=name, unmask=True)["events"][0]["message"] == (
        SENSITIVE
    )
    logs.delete_data_protection_policy(logGroupIdentifier=name)
    assert logs.filter_log_events(logGroupName=name)["events"][0]["message"] == SENSITIVE
    described = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    assert "dataProtectionStatus" not in described
    code, _ = error_of(logs.delete_data_protection_policy, logGroupIdentifier=name)
    assert code == "ResourceNotFoundException"


def test_bad_data_protection_policies(logs) -> None:
    name, _arn = new_group(logs)
    email = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
    one_statement = json.loads(protection_doc())
    one_statement["Statement"] = one_statement["Statement"][:1]
    swapped = json.loads(protection_doc())
    swapped["Statement"].reverse()
    for bad in (
        "{",
        protection_doc(Version="2012-10-17"),
        json.dumps(one_statement),
        json.dumps(swapped),
        protection_doc(audit=[email], masked=IDENTIFIERS),
        protection_doc(audit=[email + "X"], masked=[email + "X"]),
        protection_doc(audit=["NotDefined"], masked=["NotDefined"]),
        protection_doc(Configuration={"CustomDataIdentifier": [{"Name": "EmployeeId",
                                                                "Regex": "(a+)+$"}]}),
        protection_doc(Configuration={"CustomDataIdentifier": [{"Name": "EmployeeId",
                                                                "Regex": "("}]}),
    ):  # fmt: skip
        code, message = error_of(
            logs.put_data_protection_policy, logGroupIdentifier=name, policyDocument=bad
        )
        assert code == "InvalidParameterException", bad
        assert message.startswith("Invalid data protection policy")
    code, _ = error_of(
        logs.put_data_protection_policy,
        logGroupIdentifier="/no/such",
        policyDocument=protection_doc(),
    )
    assert code == "ResourceNotFoundException"


def test_an_account_policy_masks_every_group(logs, theirs) -> None:
    email = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
    document = protection_doc(audit=[email], masked=[email])
    assert (
        logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"] == []
    )
    out = logs.put_account_policy(
        policyName="mask-email", policyDocument=document, policyType="DATA_PROTECTION_POLICY"
    )["accountPolicy"]
    assert out["policyName"] == "mask-email" and out["accountId"] == OWNER
    assert out["scope"] == "ALL" and out["policyType"] == "DATA_PROTECTION_POLICY"
    try:
        name, _arn = new_group(logs, "mail ann@example.org, badge EMP-123456")
        got = logs.filter_log_events(logGroupName=name)["events"][0]["message"]
        assert got == "mail ***************, badge EMP-123456"
        # Cumulative with the group's own.
        logs.put_data_protection_policy(logGroupIdentifier=name, policyDocument=protection_doc())
        logs.put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000) + 5, "message": "EMP-654321"}],
        )
        got = [e["message"] for e in logs.filter_log_events(logGroupName=name)["events"]]
        assert got[-1] == "**********"
        # One a account; another account has its own.
        code, _ = error_of(
            logs.put_account_policy, policyName="another", policyDocument=document,
            policyType="DATA_PROTECTION_POLICY",
        )  # fmt: skip
        assert code == "LimitExceededException"
        assert (
            theirs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"]
            == []
        )
        listed = logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")
        assert [p["policyName"] for p in listed["accountPolicies"]] == ["mask-email"]
        for bad in ({"policyDocument": "{}"}, {"policyType": "TRANSFORMER_POLICY"},
                    {"selectionCriteria": "LogGroupName NOT IN []"}):  # fmt: skip
            args = {"policyName": "mask-email", "policyDocument": document,
                    "policyType": "DATA_PROTECTION_POLICY", **bad}  # fmt: skip
            code, _ = error_of(logs.put_account_policy, **args)
            assert code == "InvalidParameterException"
    finally:
        logs.delete_account_policy(policyName="mask-email", policyType="DATA_PROTECTION_POLICY")
    code, _ = error_of(
        logs.delete_account_policy, policyName="mask-email", policyType="DATA_PROTECTION_POLICY"
    )
    assert code == "ResourceNotFoundException"


# --------------------------------------------------------------------------- destinations


def test_destinations_control_plane(logs, theirs) -> None:
    name = "dest-" + uuid.uuid4().hex[:6]
    target = f"arn:aws:kinesis:us-east-1:{OWNER}:stream/central"
    role = f"arn:aws:iam::{OWNER}:role/CWLtoKinesisRole"
    made = logs.put_destination(destinationName=name, targetArn=target, roleArn=role)
    d = made["destination"]
    assert d["arn"] == f"arn:aws:logs:us-east-1:{OWNER}:destination:{name}"
    assert (d["targetArn"], d["roleArn"]) == (target, role) and "accessPolicy" not in d
    policy = doc({"Effect": "Allow", "Principal": {"AWS": OTHER},
                  "Action": "logs:PutSubscriptionFilter", "Resource": d["arn"]})  # fmt: skip
    logs.put_destination_policy(destinationName=name, accessPolicy=policy)
    listed = logs.describe_destinations(DestinationNamePrefix=name)["destinations"]
    assert [(x["destinationName"], x["accessPolicy"]) for x in listed] == [(name, policy)]
    assert theirs.describe_destinations()["destinations"] == []
    # A subscription to it is refused plainly: its target is not served.
    group, _arn = new_group(logs)
    code, message = error_of(
        logs.put_subscription_filter, logGroupName=group, filterName="x", filterPattern="",
        destinationArn=d["arn"],
    )  # fmt: skip
    assert code == "InvalidParameterException" and "not served" in message
    for bad in ({"targetArn": "arn:aws:lambda:us-east-1:000000000000:function:f"},
                {"roleArn": "nope"}):  # fmt: skip
        args = {"destinationName": name, "targetArn": target, "roleArn": role, **bad}
        assert error_of(logs.put_destination, **args)[0] == "InvalidParameterException"
    for bad in ("{", policy[:-2] + ', "Sid": "' + "x" * 5120 + '"}]}'):
        code, _ = error_of(logs.put_destination_policy, destinationName=name, accessPolicy=bad)
        assert code == "InvalidParameterException"
    logs.delete_destination(destinationName=name)
    code, _ = error_of(logs.delete_destination, destinationName=name)
    assert code == "ResourceNotFoundException"


def cli(server: StrongroomServer, *args: str) -> dict[str, Any]:
    env = {**os.environ, **server.aws_env()}
    done = subprocess.run(
        ["aws", "logs", *args, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_aws_cli(logs, world) -> None:
    server = world[0]
    name, arn = new_group(logs)
    cli(server, "put-data-protection-policy", "--log-group-identifier", name,
        "--policy-document", protection_doc())  # fmt: skip
    got = cli(server, "get-data-protection-policy", "--log-group-identifier", name)
    assert json.loads(got["policyDocument"])["Statement"][1]["Operation"] == {
        "Deidentify": {"MaskConfig": {}}
    }
    logs.put_log_events(
        logGroupName=name, logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": SENSITIVE}],
    )  # fmt: skip
    masked = cli(server, "filter-log-events", "--log-group-name", name)["events"]
    assert [e["message"] for e in masked] == [MASKED]
    plain = cli(server, "get-log-events", "--log-group-name", name, "--log-stream-name", "s",
                "--unmask")["events"]  # fmt: skip
    assert [e["message"] for e in plain] == [SENSITIVE]
    policy = doc({"Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},
                  "Action": "logs:PutLogEvents", "Resource": f"{arn}:*"})  # fmt: skip
    made = cli(server, "put-resource-policy", "--policy-name", "cli-policy",
               "--policy-document", policy)["resourcePolicy"]  # fmt: skip
    assert made["policyName"] == "cli-policy"
    listed = cli(server, "describe-resource-policies")["resourcePolicies"]
    assert "cli-policy" in [p.get("policyName") for p in listed]
    cli(server, "delete-resource-policy", "--policy-name", "cli-policy")


def _mutated(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        pos = rng.randrange(len(chars) + 1)
        if rng.random() < 0.5 and chars:
            del chars[min(pos, len(chars) - 1)]
        else:
            chars.insert(pos, rng.choice('{}[]":,\\0123456789aZ-+*()|?'))
    return "".join(chars)


def test_garbage_documents_get_aws_errors(logs) -> None:
    """Mutated policy documents are refused with InvalidParameterException
    (or accepted), never an internal failure; reads keep working."""
    name, arn = new_group(logs, "still readable")
    rng = random.Random(14)
    good_protection = protection_doc()
    good_resource = doc({"Effect": "Allow", "Principal": {"AWS": OTHER},
                         "Action": "logs:FilterLogEvents", "Resource": f"{arn}:*"})  # fmt: skip
    for _ in range(150):
        for fn, args in (
            (logs.put_data_protection_policy,
             {"logGroupIdentifier": name, "policyDocument": _mutated(rng, good_protection)}),
            (logs.put_resource_policy,
             {"resourceArn": arn, "policyDocument": _mutated(rng, good_resource)}),
        ):  # fmt: skip
            try:
                fn(**args)
            except botocore.exceptions.ClientError as exc:
                assert exc.response["Error"]["Code"] == "InvalidParameterException", args
        assert logs.filter_log_events(logGroupName=name)["events"]
    if logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"]:
        logs.delete_resource_policy(resourceArn=arn)
