"""CloudTrail shapes declared as data (`strongroom.framework.trail`).

The KMS and STS declarations replaced requestParameters / responseElements
that the operations used to build by hand (``call.audit_request = {...}``).
The hand-built expressions are kept here, verbatim in what they computed, as
the oracle: for each declared operation, on sample requests and results, the
compiled declaration records exactly what the operation recorded before.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.framework import Service
from strongroom.framework.trail import RESOURCE, EventPlan, TrailError, compile_plan, compile_plans
from strongroom.services.kms import service as kms
from strongroom.services.sts import service as sts

KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RESOURCES = [{"ARN": KEY_ARN, "type": "AWS::KMS::Key", "accountId": "000000000000"}]
SECRETS = ("plaintext-never", "secret-never", "token-never", "blob-never")
CTX = {"Department": "finance"}

KMS_PLANS = compile_plans(kms)
STS_PLANS = compile_plans(sts)


# -- the hand-built records, as the operations computed them --------------------------


def _request(key_id: Any, context: Any, algorithm: Any, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if key_id is not None:
        out["keyId"] = key_id
    if context is not None:
        out["encryptionContext"] = context
    if algorithm is not None:
        out["encryptionAlgorithm"] = algorithm
    out.update({k: v for k, v in more.items() if v is not None})
    return out


def _encrypting(p: dict[str, Any]) -> dict[str, Any]:
    algorithm = p.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
    return _request(p.get("KeyId"), p.get("EncryptionContext"), algorithm)


def _re_encrypt(p: dict[str, Any]) -> dict[str, Any]:
    return _request(
        None,
        None,
        None,
        sourceKeyId=p.get("SourceKeyId"),
        destinationKeyId=p.get("DestinationKeyId"),
        sourceEncryptionContext=p.get("SourceEncryptionContext"),
        destinationEncryptionContext=p.get("DestinationEncryptionContext"),
        sourceEncryptionAlgorithm=p.get("SourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
        destinationEncryptionAlgorithm=p.get("DestinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
    )


def _data_key(p: dict[str, Any]) -> dict[str, Any]:
    return _request(
        p["KeyId"],
        p.get("EncryptionContext"),
        None,
        numberOfBytes=p.get("NumberOfBytes"),
        keySpec=p.get("KeySpec"),
    )


def _pair(p: dict[str, Any]) -> dict[str, Any]:
    return _request(p["KeyId"], p.get("EncryptionContext"), None, keyPairSpec=p["KeyPairSpec"])


def _signing(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "keyId": p["KeyId"],
        "messageType": p.get("MessageType", "RAW"),
        "signingAlgorithm": p["SigningAlgorithm"],
    }


def _create_grant(p: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "keyId": p["KeyId"],
            "granteePrincipal": p.get("GranteePrincipal"),
            "granteeServicePrincipal": p.get("GranteeServicePrincipal"),
            "retiringPrincipal": p.get("RetiringPrincipal"),
            "retiringServicePrincipal": p.get("RetiringServicePrincipal"),
            "operations": p["Operations"],
            "constraints": p.get("Constraints"),
            "name": p.get("Name"),
        }.items()
        if v is not None
    }


def _cloudtrail_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%b %d, %Y, %I:%M:%S %p")


EXPIRES = 1764877245.75
ROLE_ID = "AROAEXAMPLEROLEID0001"
SESSION_ARN = "arn:aws:sts::000000000000:assumed-role/r/s"


def _credentials() -> dict[str, Any]:
    return {
        "AccessKeyId": "ASIAEXAMPLE000000001",
        "SecretAccessKey": "secret-never",
        "SessionToken": "token-never",
        "Expiration": datetime.fromtimestamp(int(EXPIRES), UTC),
    }


def _credentials_record() -> dict[str, Any]:
    return {"accessKeyId": "ASIAEXAMPLE000000001", "expiration": _cloudtrail_time(EXPIRES)}


def _assumed_role_result(**more: Any) -> dict[str, Any]:
    return {
        "Credentials": _credentials(),
        "AssumedRoleUser": {"AssumedRoleId": f"{ROLE_ID}:s", "Arn": SESSION_ARN},
        "PackedPolicySize": 6,
        "SessionTokenSize": 11,
        **more,
    }


def _assumed_role_record(**web_identity: Any) -> dict[str, Any]:
    return {
        "credentials": _credentials_record(),
        "assumedRoleUser": {"assumedRoleId": f"{ROLE_ID}:s", "arn": SESSION_ARN},
        **web_identity,
    }


# (operation, params, result, hand-built requestParameters or None for the
# default, hand-built responseElements or None for the default)
KMS_CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any, Any]] = []


def _case(op: str, params: dict[str, Any], result: dict[str, Any], req: Any, resp: Any) -> None:
    KMS_CASES.append((op, params, result, req, resp))


for _p in (
    {"KeyId": "alias/app", "Plaintext": b"plaintext-never", "EncryptionContext": CTX},
    {"KeyId": KEY_ARN, "Plaintext": b"plaintext-never", "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"},
):
    _case("Encrypt", _p, {"CiphertextBlob": b"blob-never", "KeyId": KEY_ARN}, _encrypting(_p), None)
for _p in (
    {"CiphertextBlob": b"blob-never", "EncryptionContext": CTX},
    {"CiphertextBlob": b"blob-never", "KeyId": "k", "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
    {"CiphertextBlob": b"blob-never", "GrantTokens": ["t"], "DryRun": True},
):
    _case("Decrypt", _p, {"Plaintext": b"plaintext-never", "KeyId": KEY_ARN}, _encrypting(_p), None)
for _p in (
    {"CiphertextBlob": b"blob-never", "DestinationKeyId": "alias/b"},
    {
        "CiphertextBlob": b"blob-never",
        "SourceKeyId": "a",
        "DestinationKeyId": "b",
        "SourceEncryptionContext": CTX,
        "DestinationEncryptionContext": {"x": "y"},
        "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
        "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
    },
):
    _case("ReEncrypt", _p, {"CiphertextBlob": b"blob-never"}, _re_encrypt(_p), None)
for _op in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
    for _p in (
        {"KeyId": "k", "NumberOfBytes": 32},
        {"KeyId": "k", "KeySpec": "AES_256", "EncryptionContext": CTX, "GrantTokens": ["t"]},
    ):
        _case(_op, _p, {"Plaintext": b"plaintext-never", "KeyId": KEY_ARN}, _data_key(_p), None)
for _op in ("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"):
    for _p in (
        {"KeyId": "k", "KeyPairSpec": "RSA_2048"},
        {"KeyId": "k", "KeyPairSpec": "ECC_NIST_P256", "EncryptionContext": CTX},
    ):
        _case(_op, _p, {"PrivateKeyPlaintext": b"plaintext-never"}, _pair(_p), None)
for _op in ("Sign", "Verify"):
    for _p in (
        {"KeyId": "k", "Message": b"plaintext-never", "SigningAlgorithm": "ECDSA_SHA_256"},
        {
            "KeyId": "k",
            "Message": b"plaintext-never",
            "MessageType": "DIGEST",
            "SigningAlgorithm": "RSASSA_PSS_SHA_256",
            "Signature": b"blob-never",
        },
    ):
        _case(_op, _p, {"Signature": b"blob-never", "KeyId": KEY_ARN}, _signing(_p), None)
for _op in ("GenerateMac", "VerifyMac"):
    _p = {"KeyId": "k", "Message": b"plaintext-never", "MacAlgorithm": "HMAC_SHA_256"}
    _case(_op, _p, {"Mac": b"blob-never"}, {"keyId": "k", "macAlgorithm": "HMAC_SHA_256"}, None)
_p = {"KeyId": "k", "KeyAgreementAlgorithm": "ECDH", "PublicKey": b"blob-never"}
_case(
    "DeriveSharedSecret",
    _p,
    {"SharedSecret": b"secret-never"},
    {"keyId": "k", "keyAgreementAlgorithm": "ECDH"},
    None,
)
for _op in ("GetPublicKey", "DescribeKey"):
    _case(
        _op,
        {"KeyId": "alias/x", "GrantTokens": ["t"]},
        {"KeyId": KEY_ARN},
        {"keyId": "alias/x"},
        None,
    )
for _p in (
    {
        "KeyId": "k",
        "GranteePrincipal": "arn:aws:iam::000000000000:role/r",
        "Operations": ["Decrypt"],
    },
    {
        "KeyId": KEY_ARN,
        "GranteePrincipal": "arn:aws:iam::000000000000:role/r",
        "RetiringPrincipal": "arn:aws:iam::000000000000:root",
        "Operations": ["Encrypt", "RetireGrant"],
        "Constraints": {"EncryptionContextSubset": CTX},
        "GrantTokens": ["t"],
        "Name": "n",
        "DryRun": False,
    },
):
    _case(
        "CreateGrant",
        _p,
        {"GrantToken": "token-never", "GrantId": "gid"},
        _create_grant(_p),
        {"grantId": "gid"},
    )
for _p in ({"GrantToken": "token-never"}, {"KeyId": "k", "GrantId": "g", "DryRun": True}):
    _hand = {k: v for k, v in {"keyId": _p.get("KeyId"), "grantId": _p.get("GrantId")}.items() if v}
    _case("RetireGrant", _p, {}, _hand, None)
for _op, _p in (
    ("EnableKey", {"KeyId": "k"}),
    ("DisableKey", {"KeyId": "k"}),
    ("UpdateKeyDescription", {"KeyId": "k", "Description": "d"}),
    ("TagResource", {"KeyId": "k", "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    ("UntagResource", {"KeyId": "k", "TagKeys": ["a"]}),
    ("PutKeyPolicy", {"KeyId": "k", "Policy": "{}", "PolicyName": "default"}),
    ("DisableKeyRotation", {"KeyId": "k"}),
):
    _case(_op, _p, {}, None, {"keyId": KEY_ARN})
for _p in ({"KeyId": "k"}, {"KeyId": "k", "RotationPeriodInDays": 180}):
    _hand = {"keyId": "k", "rotationPeriodInDays": _p.get("RotationPeriodInDays") or 365}
    _case("EnableKeyRotation", _p, {}, _hand, {"keyId": KEY_ARN})

STS_CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = [
    (
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s"},
        _assumed_role_result(SourceIdentity="me"),
        _assumed_role_record(),
    ),
    (
        "GetSessionToken",
        {"DurationSeconds": 900},
        {"Credentials": _credentials(), "SessionTokenSize": 11},
        {"credentials": _credentials_record()},
    ),
    (
        "GetFederationToken",
        {"Name": "bob"},
        {
            "Credentials": _credentials(),
            "FederatedUser": {
                "FederatedUserId": "000000000000:bob",
                "Arn": "arn:aws:sts::000000000000:federated-user/bob",
            },
            "PackedPolicySize": 3,
        },
        {
            "credentials": _credentials_record(),
            "federatedUser": {
                "federatedUserId": "000000000000:bob",
                "arn": "arn:aws:sts::000000000000:federated-user/bob",
            },
        },
    ),
    (
        "AssumeRoleWithWebIdentity",
        {"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s"},
        _assumed_role_result(
            SubjectFromWebIdentityToken="sub-1",
            Provider="arn:aws:iam::000000000000:oidc-provider/idp.example",
            Audience="client-1",
        ),
        _assumed_role_record(
            subjectFromWebIdentityToken="sub-1",
            provider="arn:aws:iam::000000000000:oidc-provider/idp.example",
            audience="client-1",
        ),
    ),
    (
        "AssumeRoleWithSAML",
        {"RoleArn": "arn:aws:iam::000000000000:role/r", "PrincipalArn": "p"},
        _assumed_role_result(Subject="alice", Issuer="https://idp", NameQualifier="q"),
        _assumed_role_record(),
    ),
]


@pytest.mark.parametrize(("op", "params", "result", "request_", "response"), KMS_CASES)
def test_kms_declarations_record_what_the_operations_built(
    op: str, params: dict[str, Any], result: dict[str, Any], request_: Any, response: Any
) -> None:
    plan = KMS_PLANS[op]
    if request_ is None:  # the operation left it to the redaction plan (as the pipeline did)
        assert plan.request is None
        request_ = plan.redact_request(params) if params and plan.redact_request else None
    if response is None:
        assert plan.response is None
        default = result and plan.redact_response and not plan.read_only
        response = plan.redact_response(result) if default else None
    assert plan.request_parameters(params, RESOURCES) == request_
    assert plan.response_elements(result, RESOURCES) == response
    recorded = json.dumps([plan.request_parameters(params, RESOURCES), response], default=str)
    assert not any(secret in recorded for secret in SECRETS)


@pytest.mark.parametrize(("op", "params", "result", "response"), STS_CASES)
def test_sts_declarations_record_what_the_operations_built(
    op: str, params: dict[str, Any], result: dict[str, Any], response: Any
) -> None:
    plan = STS_PLANS[op]
    if op in ("AssumeRole", "GetSessionToken"):
        # Declared, to leave the MFA one-time code out; the rest as sent.
        with_code = {
            **params,
            "SerialNumber": "arn:aws:iam::000000000000:mfa/d",
            "TokenCode": "123456",
        }
        recorded = plan.request_parameters(with_code, RESOURCES)
        assert "tokenCode" not in recorded and "123456" not in json.dumps(recorded)
        assert recorded["serialNumber"] == "arn:aws:iam::000000000000:mfa/d"
        assert recorded == {
            k[:1].lower() + k[1:]: v for k, v in with_code.items() if k != "TokenCode"
        }
    else:
        assert plan.request is None  # requests record their redacted members, as before
    assert plan.response_elements(result, RESOURCES) == response
    assert not any(s in json.dumps(plan.response_elements(result), default=str) for s in SECRETS)


def test_every_declared_operation_has_a_case() -> None:
    declared = {n for n, p in KMS_PLANS.items() if p.request is not None or p.response is not None}
    assert declared == {case[0] for case in KMS_CASES}
    declared = {n for n, p in STS_PLANS.items() if p.request is not None or p.response is not None}
    assert declared == {case[0] for case in STS_CASES}


def test_a_run_time_override_wins_over_the_declaration() -> None:
    plan = KMS_PLANS["EnableKey"]
    assert plan.response_elements({}, RESOURCES, {"keyId": "other"}) == {"keyId": "other"}
    plan = KMS_PLANS["Encrypt"]
    assert plan.request_parameters({"KeyId": "k"}, None, {"x": 1}) == {"x": 1}


def test_a_reference_without_a_resource_is_left_out() -> None:
    assert KMS_PLANS["EnableKey"].response_elements({}, None) == {}


def test_operations_no_longer_build_records_by_hand() -> None:
    """A run-time override is the exception, and says so at the site (a
    ``# run-time:`` comment on the line before)."""
    root = Path(__file__).resolve().parents[2] / "src" / "strongroom" / "services"
    offenders = []
    for path in root.rglob("*.py"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.search(r"\.audit_(request|response)\s*=", line) and (
                i == 0 or "# run-time:" not in lines[i - 1]
            ):
                offenders.append(f"{path.relative_to(root)}:{i + 1}")
    assert offenders == []


# -- compiling --------------------------------------------------------------------


def _plan(op: str, decl: dict[str, Any], svc: Service = sts) -> EventPlan:
    return compile_plan(svc, op, decl)


@pytest.mark.parametrize(
    "decl",
    [
        {"response": ["credentials.secretAccessKey"]},  # sensitive
        {"response": ["credentials.nope"]},  # unknown member
        {"response": ["Credentials.AccessKeyId"]},  # model spelling, not CloudTrail's
        {"response": {"x": "credentials.secretAccessKey"}},
        {"request": ["roleArn"], "defaults": {"policy": "x"}},  # default of an undeclared member
        {"request": ["roleArn"], "filters": []},  # unknown key
        {"response": "credentials.accessKeyId"},  # not a list or dict
    ],
)
def test_bad_declarations_fail_at_start_up(decl: dict[str, Any]) -> None:
    with pytest.raises(TrailError):
        _plan("AssumeRole", decl)


def test_blobs_and_secrets_cannot_be_declared() -> None:
    with pytest.raises(TrailError, match="sensitive"):
        _plan("Encrypt", {"request": ["plaintext"]}, kms)
    with pytest.raises(TrailError, match="sensitive"):
        _plan("Decrypt", {"response": ["plaintext"]}, kms)
    with pytest.raises(TrailError, match="verbatim"):
        _plan("AssumeRole", {"response": ["credentials"], "verbatim": ["credentials"]})


def test_a_declaration_for_an_unserved_operation_fails() -> None:
    svc = Service("sts")
    svc.trail["AssumeRole"] = {"response": ["credentials.accessKeyId"]}
    with pytest.raises(TrailError, match="unserved"):
        compile_plans(svc)


def test_a_declared_structure_still_drops_its_sensitive_members() -> None:
    plan = _plan("AssumeRole", {"response": ["credentials", "assumedRoleUser"]})
    out = plan.response_elements(_assumed_role_result())
    assert out["credentials"] == {
        "accessKeyId": "ASIAEXAMPLE000000001",
        "sessionToken": "token-never",  # the model does not mark it sensitive ...
        "expiration": _cloudtrail_time(EXPIRES),
    }
    assert "secretAccessKey" not in out["credentials"]  # ... the secret it does
    assert out["assumedRoleUser"] == {"assumedRoleId": f"{ROLE_ID}:s", "arn": SESSION_ARN}


def test_paths_defaults_and_references() -> None:
    plan = _plan(
        "AssumeRole",
        {
            "request": {"roleArn": "roleArn", "key": RESOURCE, "session.name": "roleSessionName"},
            "defaults": {"roleSessionName": "none"},
            "response": {"who.arn": "assumedRoleUser.arn"},
        },
    )
    assert plan.request_parameters({"RoleArn": "r"}, RESOURCES) == {
        "roleArn": "r",
        "key": KEY_ARN,
        "session": {"name": "none"},
    }
    assert plan.response_elements(_assumed_role_result()) == {"who": {"arn": SESSION_ARN}}


def test_newer_members_are_skipped_on_an_older_model() -> None:
    plan = _plan(
        "AssumeRole", {"request": ["roleArn", "fromTheFuture"], "newer": ["fromTheFuture"]}
    )
    assert plan.request_parameters({"RoleArn": "r"}) == {"roleArn": "r"}


def test_create_grant_service_principals_on_a_model_that_has_them() -> None:
    members = kms.model.operation_model("CreateGrant").input_shape.members
    if "GranteeServicePrincipal" not in members:
        pytest.skip("the installed botocore has no GranteeServicePrincipal")
    params = {
        "KeyId": "k",
        "GranteeServicePrincipal": "logs.amazonaws.com",
        "RetiringServicePrincipal": "logs.amazonaws.com",
        "Operations": ["Decrypt"],
        "Constraints": {"SourceArn": "arn:aws:logs:us-east-1:000000000000:log-group:g"},
    }
    assert KMS_PLANS["CreateGrant"].request_parameters(params) == _create_grant(params)
