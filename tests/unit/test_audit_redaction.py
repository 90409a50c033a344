"""What the audit record may keep of a request and a response."""

from __future__ import annotations

from strongroom.audit.recorder import build_redactor
from strongroom.protocol.model import load_service_model


def redact(service: str, operation: str, side: str, value: dict) -> dict | None:
    op = load_service_model(service).operation_model(operation)
    shape = op.input_shape if side == "in" else op.output_shape
    fn = build_redactor(shape)
    return fn(value) if fn else None


def test_kms_plaintext_and_blobs_never_recorded() -> None:
    out = redact(
        "kms", "Encrypt", "in",
        {"KeyId": "alias/a", "Plaintext": b"secret", "EncryptionContext": {"k": "v"}},
    )  # fmt: skip
    assert out == {"keyId": "alias/a", "encryptionContext": {"k": "v"}}
    out = redact("kms", "GenerateDataKey", "out", {"Plaintext": b"k", "CiphertextBlob": b"c",
                                                    "KeyId": "arn"})  # fmt: skip
    assert out == {"keyId": "arn"}


def test_secret_access_key_left_out() -> None:
    out = redact(
        "iam", "CreateAccessKey", "out",
        {"AccessKey": {"UserName": "u", "AccessKeyId": "AKIA1", "Status": "Active",
                       "SecretAccessKey": "shh"}},
    )  # fmt: skip
    assert out == {"accessKey": {"userName": "u", "accessKeyId": "AKIA1", "status": "Active"}}


def test_secret_string_left_out() -> None:
    out = redact("secretsmanager", "PutSecretValue", "in",
                 {"SecretId": "s", "SecretString": "pw", "SecretBinary": b"x"})  # fmt: skip
    assert out == {"secretId": "s"}


def test_operation_without_members_records_null() -> None:
    assert redact("sts", "GetCallerIdentity", "in", {}) is None


def test_master_user_password_left_out() -> None:
    out = redact(
        "rds", "CreateDBInstance", "in", {"DBInstanceIdentifier": "d", "MasterUserPassword": "p"}
    )
    assert out == {"dBInstanceIdentifier": "d"}
