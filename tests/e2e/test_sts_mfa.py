"""MFA in authentication, end to end with boto3: GetSessionToken and AssumeRole
take SerialNumber + TokenCode (the current code of a device assigned to the
caller, by the server clock, each step once), the sessions they make carry
aws:MultiFactorAuthPresent / aws:MultiFactorAuthAge, and CloudTrail records
mfaAuthenticated."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import uuid
from typing import Any

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
BOTH = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)
UNKNOWN = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  "
    "Please verify your MFA serial number is valid and associated with this user."
)
INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code."
REQUIRE_MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def totp(seed_text: bytes, step: int) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), the test's own implementation."""
    text = seed_text.decode()
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return str((struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6).zfill(6)


def step_now() -> int:
    return int(time.time() // 30)


def fails(fn: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(**kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def session(c: dict) -> dict[str, str]:
    c = c["Credentials"]
    return {
        "access_key_id": c["AccessKeyId"],
        "secret_access_key": c["SecretAccessKey"],
        "session_token": c["SessionToken"],
    }


def mfa_user(server: StrongroomServer, *statements: dict) -> tuple[str, dict, str, bytes]:
    """A user with a key, the given inline policy and an enabled virtual MFA
    device; enabled with codes of two past steps, so that the current step and
    the next are still unspent."""
    iam = server.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="mfa-" + name)["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    step = step_now()
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, step - 3),
        AuthenticationCode2=totp(seed, step - 2),
    )
    creds = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    return name, creds, device["SerialNumber"], seed


def denied(client: Any, method: str, **kwargs: Any) -> bool:
    try:
        getattr(client, method)(**kwargs)
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDenied", err.response
        return True
    return False


def identities(server: StrongroomServer, access_key_id: str) -> list[dict]:
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": access_key_id}]
    )["Events"]
    return [json.loads(e["CloudTrailEvent"])["userIdentity"] for e in events]


def test_policy_requiring_mfa(server: StrongroomServer) -> None:
    name, creds, serial, seed = mfa_user(
        server,
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*", "Condition": REQUIRE_MFA},
    )
    sts = server.client("sts", **creds)
    assert denied(server.client("iam", **creds), "list_users")  # long-term key: key absent
    plain = session(sts.get_session_token())
    assert denied(server.client("iam", **plain), "list_users")
    code = totp(seed, step_now())
    strong = session(sts.get_session_token(SerialNumber=serial, TokenCode=code))
    assert not denied(server.client("iam", **strong), "list_users")
    # CloudTrail says which session was MFA-authenticated.
    [ident] = identities(server, strong["access_key_id"])[:1]
    assert ident["type"] == "IAMUser" and ident["userName"] == name
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    [ident] = identities(server, plain["access_key_id"])[:1]
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    # The seed and the code reached no log line.
    log = server.read_log()
    assert seed.decode() not in log


def test_bool_if_exists_deny_without_mfa(server: StrongroomServer) -> None:
    """AWS's documented pattern: deny everything but the MFA set-up and
    GetSessionToken unless MFA is present; long-term keys are denied too."""
    allow_all = {"Effect": "Allow", "Action": ["iam:ListUsers", "sts:*"], "Resource": "*"}
    deny_without = {
        "Effect": "Deny",
        "NotAction": ["sts:GetSessionToken", "iam:ListMFADevices"],
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
    _, creds, serial, seed = mfa_user(server, allow_all, deny_without)
    sts = server.client("sts", **creds)
    assert denied(server.client("iam", **creds), "list_users")
    assert denied(server.client("iam", **session(sts.get_session_token())), "list_users")
    strong = session(sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step_now())))
    assert not denied(server.client("iam", **strong), "list_users")


def test_trust_policy_requiring_mfa(server: StrongroomServer) -> None:
    iam = server.client("iam")
    role = "r-" + uuid.uuid4().hex[:8]
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": REQUIRE_MFA,
        }
    )
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="p",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "iam:ListUsers",
                "Resource": "*",
                "Condition": REQUIRE_MFA,
            }
        ),
    )
    _, creds, serial, seed = mfa_user(
        server, {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    )
    sts = server.client("sts", **creds)
    code, status, _ = fails(sts.assume_role, RoleArn=role_arn, RoleSessionName="no-mfa")
    assert (code, status) == ("AccessDenied", 403)
    assumed = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="mfa",
        SerialNumber=serial,
        TokenCode=totp(seed, step_now()),
    )
    as_role = session(assumed)
    assert not denied(server.client("iam", **as_role), "list_users")
    # The trail names the device, never the one-time code that proved it.
    [event] = [
        json.loads(e["CloudTrailEvent"])
        for e in server.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
        )["Events"]
        if json.loads(e["CloudTrailEvent"])["requestParameters"].get("roleSessionName") == "mfa"
        and role_arn in e["CloudTrailEvent"]
    ]
    assert event["requestParameters"]["serialNumber"] == serial
    assert "tokenCode" not in event["requestParameters"]
    [ident] = identities(server, as_role["access_key_id"])[:1]
    assert ident["type"] == "AssumedRole"
    assert ident["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    # An MFA-authenticated GetSessionToken session assumes it without a code,
    # and the role session it makes is MFA-authenticated too.
    strong = session(
        sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step_now() + 1))
    )
    chained = server.client("sts", **strong).assume_role(RoleArn=role_arn, RoleSessionName="via")
    assert not denied(server.client("iam", **session(chained)), "list_users")
    plain = session(sts.get_session_token())
    code, status, _ = fails(
        server.client("sts", **plain).assume_role, RoleArn=role_arn, RoleSessionName="plain"
    )
    assert (code, status) == ("AccessDenied", 403)


def test_codes_refused_as_aws_refuses_them(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name, creds, serial, seed = mfa_user(server)
    _, _, other_serial, other_seed = mfa_user(server)
    sts = server.client("sts", **creds)
    step = step_now()
    wrong = str((int(totp(seed, step)) + 1) % 10**6).zfill(6)
    refusals = [
        (dict(SerialNumber=serial, TokenCode=wrong), INVALID),
        (dict(SerialNumber=serial), BOTH),
        (dict(TokenCode=totp(seed, step)), BOTH),
        (
            dict(SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/nothing-here", TokenCode="123456"),
            UNKNOWN,
        ),
        # another user's device, with its right code
        (dict(SerialNumber=other_serial, TokenCode=totp(other_seed, step)), UNKNOWN),
        # a code of a step long past
        (dict(SerialNumber=serial, TokenCode=totp(seed, step - 5)), INVALID),
    ]
    for kwargs, message in refusals:
        assert fails(sts.get_session_token, **kwargs) == ("AccessDenied", 403, message), kwargs
    # The right code works once; the same code again (replay) is refused, in
    # GetSessionToken and in AssumeRole alike.
    code = totp(seed, step_now())
    sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert fails(sts.get_session_token, SerialNumber=serial, TokenCode=code) == (
        "AccessDenied",
        403,
        INVALID,
    )
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/any"
    assert fails(
        sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", SerialNumber=serial, TokenCode=code
    ) == ("AccessDenied", 403, INVALID)
    # A deactivated device no longer authenticates.
    iam.deactivate_mfa_device(UserName=name, SerialNumber=serial)
    assert fails(
        sts.get_session_token, SerialNumber=serial, TokenCode=totp(seed, step_now() + 1)
    ) == ("AccessDenied", 403, UNKNOWN)
    # Input the model forbids is a ValidationError, not an MFA check.
    code, status, _ = fails(sts.get_session_token, SerialNumber=serial, TokenCode="12ab56")
    assert (code, status) == ("ValidationError", 400)
    # A forged signature is refused before any of this.
    forged = server.client("sts", access_key_id=creds["access_key_id"], secret_access_key="x" * 40)
    code, status, _ = fails(
        forged.get_session_token, SerialNumber=other_serial, TokenCode=totp(other_seed, step)
    )
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_mfa_age(strongroom_factory: Any) -> None:
    """aws:MultiFactorAuthAge counts seconds since the code was given."""
    server = strongroom_factory(time_travel=True)
    fresh = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    _, creds, serial, seed = mfa_user(
        server, {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*", "Condition": fresh}
    )
    sts = server.client("sts", **creds)
    strong = server.client(
        "iam",
        **session(sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step_now()))),
    )
    assert not denied(strong, "list_users")
    assert denied(server.client("iam", **session(sts.get_session_token())), "list_users")
    server.advance_clock("2h")
    assert denied(strong, "list_users")
