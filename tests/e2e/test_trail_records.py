"""The CloudTrail shapes KMS and STS declare (services/*/trail.py), read back
through LookupEvents: the selected members, the defaults KMS applied, the key
ARN of operations that return nothing, and never a secret."""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
TIME_FORMAT = "%b %d, %Y, %I:%M:%S %p"


def _events(server: StrongroomServer, key: str, value: str) -> list[dict[str, Any]]:
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
    )["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events]


def _recorded(server: StrongroomServer, event_name: str, access_key_id: str) -> dict[str, Any]:
    """The event of `event_name` that handed out `access_key_id`."""
    for record in _events(server, "EventName", event_name):
        elements = record.get("responseElements") or {}
        if elements.get("credentials", {}).get("accessKeyId") == access_key_id:
            return record
    raise AssertionError(f"no {event_name} event handed out {access_key_id}")


def _credentials_record(c: dict[str, Any]) -> dict[str, str]:
    return {
        "accessKeyId": c["AccessKeyId"],
        "expiration": c["Expiration"].astimezone(UTC).strftime(TIME_FORMAT),
    }


def _no_secret(record: dict[str, Any], c: dict[str, Any]) -> None:
    text = json.dumps(record)
    assert c["SecretAccessKey"] not in text and c["SessionToken"] not in text


def _user(server: StrongroomServer, name: str) -> dict[str, str]:
    """An IAM user allowed GetFederationToken, and its access key."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="federate",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def test_sts_records_the_access_key_id_never_the_secret(server: StrongroomServer) -> None:
    name = "trail-" + uuid.uuid4().hex[:8]
    sts = server.client("sts", **_user(server, name))
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    out = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="audited")
    c = out["Credentials"]
    record = _recorded(server, "AssumeRole", c["AccessKeyId"])
    assert record["responseElements"] == {
        "credentials": _credentials_record(c),
        "assumedRoleUser": {
            "assumedRoleId": out["AssumedRoleUser"]["AssumedRoleId"],
            "arn": out["AssumedRoleUser"]["Arn"],
        },
    }
    assert record["requestParameters"] == {
        "roleArn": role["Role"]["Arn"],
        "roleSessionName": "audited",
    }
    _no_secret(record, c)

    c = sts.get_session_token(DurationSeconds=900)["Credentials"]
    record = _recorded(server, "GetSessionToken", c["AccessKeyId"])
    assert record["responseElements"] == {"credentials": _credentials_record(c)}
    _no_secret(record, c)

    out = sts.get_federation_token(Name="fed-" + name[-8:])
    c = out["Credentials"]
    record = _recorded(server, "GetFederationToken", c["AccessKeyId"])
    assert record["responseElements"] == {
        "credentials": _credentials_record(c),
        "federatedUser": {
            "federatedUserId": out["FederatedUser"]["FederatedUserId"],
            "arn": out["FederatedUser"]["Arn"],
        },
    }
    _no_secret(record, c)


def test_kms_management_records(server: StrongroomServer) -> None:
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    arn = key["Arn"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    grant = kms.create_grant(
        KeyId=arn,
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:root",
        Operations=["Decrypt", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"app": "trail"}},
        Name="audited",
    )
    kms.retire_grant(GrantToken=grant["GrantToken"])
    found = {r["eventName"]: r for r in _events(server, "ResourceName", arn)}
    rotation = found["EnableKeyRotation"]
    assert rotation["requestParameters"] == {"keyId": key["KeyId"], "rotationPeriodInDays": 365}
    assert rotation["responseElements"] == {"keyId": arn}
    created = found["CreateGrant"]
    assert created["requestParameters"] == {
        "keyId": arn,
        "granteePrincipal": f"arn:aws:iam::{ACCOUNT}:root",
        "operations": ["Decrypt", "RetireGrant"],
        "constraints": {"EncryptionContextSubset": {"app": "trail"}},
        "name": "audited",
    }
    assert created["responseElements"] == {"grantId": grant["GrantId"]}
    retired = found["RetireGrant"]
    assert retired["requestParameters"] == {}
    assert grant["GrantToken"] not in json.dumps(list(found.values()))
