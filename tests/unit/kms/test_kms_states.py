"""The key-state table: which states allow which operations, with AWS's errors."""

from __future__ import annotations

import pytest

from strongroom.services.kms import states
from strongroom.services.kms.service import service
from strongroom.services.kms.states import KeyState

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def err(operation: str, state: KeyState) -> tuple[str, str] | None:
    e = states.error_for(operation, state, ARN)
    return None if e is None else (e.code, e.message)


@pytest.mark.parametrize("op", ["Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "Sign"])
def test_crypto_operations(op: str) -> None:
    assert err(op, KeyState.ENABLED) is None
    assert err(op, KeyState.DISABLED) == ("DisabledException", f"{ARN} is disabled.")
    assert err(op, KeyState.PENDING_DELETION) == (
        "KMSInvalidStateException",
        f"{ARN} is pending deletion.",
    )
    assert err(op, KeyState.PENDING_IMPORT) == (
        "KMSInvalidStateException",
        f"{ARN} is pending import.",
    )
    assert err(op, KeyState.UNAVAILABLE)[0] == "KeyUnavailableException"
    assert err(op, KeyState.CREATING)[0] == "KMSInvalidStateException"


def test_management_on_pending_deletion() -> None:
    for op in ("TagResource", "UpdateKeyDescription", "EnableKey", "DisableKey", "CreateAlias",
               "ScheduleKeyDeletion", "CreateGrant", "EnableKeyRotation", "UpdateAlias"):  # fmt: skip
        assert err(op, KeyState.PENDING_DELETION)[0] == "KMSInvalidStateException", op
        assert err(op, KeyState.ENABLED) is None, op


def test_create_grant_follows_the_key() -> None:
    assert err("CreateGrant", KeyState.DISABLED) == ("DisabledException", f"{ARN} is disabled.")
    assert err("CreateGrant", KeyState.PENDING_IMPORT) == (
        "KMSInvalidStateException",
        f"{ARN} is pending import.",
    )


def test_import_and_key_policy_in_pending_deletion() -> None:
    for op in ("ImportKeyMaterial", "DeleteImportedKeyMaterial", "PutKeyPolicy"):
        assert err(op, KeyState.PENDING_DELETION) is None, op


def test_reads_work_in_every_state() -> None:
    for op in ("DescribeKey", "GetKeyPolicy", "ListGrants", "ListResourceTags", "RevokeGrant",
               "PutKeyPolicy", "DeleteAlias", "RetireGrant"):  # fmt: skip
        for state in KeyState:
            assert err(op, state) is None


def test_cancel_key_deletion_needs_pending_deletion() -> None:
    assert err("CancelKeyDeletion", KeyState.PENDING_DELETION) is None
    assert err("CancelKeyDeletion", KeyState.ENABLED) == (
        "KMSInvalidStateException",
        f"{ARN} is not pending deletion.",
    )


def test_rotation_on_disabled_key() -> None:
    assert err("EnableKeyRotation", KeyState.DISABLED)[0] == "DisabledException"
    assert err("GetKeyRotationStatus", KeyState.DISABLED) is None


def test_enable_key_pending_import() -> None:
    assert err("EnableKey", KeyState.PENDING_IMPORT)[0] == "KMSInvalidStateException"
    assert err("ImportKeyMaterial", KeyState.PENDING_IMPORT) is None


def test_every_key_operation_has_a_row() -> None:
    keyless = {
        "CreateKey",
        "ListKeys",
        "ListAliases",
        "GenerateRandom",
        "ListRetirableGrants",
        "CreateCustomKeyStore",
        "ConnectCustomKeyStore",
        "DisconnectCustomKeyStore",
        "DeleteCustomKeyStore",
        "UpdateCustomKeyStore",
        "DescribeCustomKeyStores",
    }
    for op in service.operations:
        if op not in keyless:
            assert op in states.ROW_OF, op
