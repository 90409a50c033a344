"""Which key states allow which operations: AWS's key-state table, in one place.

(KMS Developer Guide, "Key states of AWS KMS keys". Where a cell there is an
error about the key's type or origin rather than its state — rotation of an
imported key, import into a generated key — the table allows the state and
the operation raises UnsupportedOperationException itself.)

Each row is an operation (or a group of operations that behave alike), each
column a key state; a cell is ``None`` (allowed) or the error that answers.
`check` is the only reader. The error texts are AWS's: ``<key ARN> is
disabled.``, ``<key ARN> is pending deletion.`` and so on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from strongroom.services.kms.service import errors


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    PENDING_IMPORT = "PendingImport"
    UNAVAILABLE = "Unavailable"
    CREATING = "Creating"
    UPDATING = "Updating"


# The other enumerated state of keys and their material. Values are the
# model's enum values (stored as they are), so a member is its wire value.


class KeyUsage(StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
    SIGN_VERIFY = "SIGN_VERIFY"
    GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
    KEY_AGREEMENT = "KEY_AGREEMENT"


class Origin(StrEnum):
    AWS_KMS = "AWS_KMS"
    EXTERNAL = "EXTERNAL"
    AWS_CLOUDHSM = "AWS_CLOUDHSM"
    EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"


class KeyManager(StrEnum):
    AWS = "AWS"
    CUSTOMER = "CUSTOMER"


class ExpirationModel(StrEnum):
    KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
    KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"


class MultiRegionKeyType(StrEnum):
    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"


class MaterialState(StrEnum):
    """KeyMaterialState of one material version."""

    CURRENT = "CURRENT"
    NON_CURRENT = "NON_CURRENT"
    PENDING_ROTATION = "PENDING_ROTATION"
    PENDING_MULTI_REGION_IMPORT_AND_ROTATION = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"


class ImportState(StrEnum):
    """ImportState of imported material (generated material has none)."""

    IMPORTED = "IMPORTED"
    PENDING_IMPORT = "PENDING_IMPORT"


class RotationType(StrEnum):
    """How a material version came to be. ``INITIAL`` (the key's first
    material) is this server's own: ListKeyRotations lists no rotation for it."""

    INITIAL = "INITIAL"
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


def _members(enum: type[StrEnum]) -> dict[str, Any]:
    """value -> member, for turning stored text into members with one lookup."""
    return {member.value: member for member in enum}  # type: ignore[attr-defined]


KEY_STATES: Final = _members(KeyState)
KEY_USAGES: Final = _members(KeyUsage)
ORIGINS: Final = _members(Origin)
KEY_MANAGERS: Final = _members(KeyManager)
EXPIRATION_MODELS: Final = _members(ExpirationModel)
MATERIAL_STATES: Final = _members(MaterialState)
IMPORT_STATES: Final = _members(ImportState)
ROTATION_TYPES: Final = _members(RotationType)


#: How each state reads in an error message.
_PHRASE: Final = {
    KeyState.ENABLED: "enabled",
    KeyState.DISABLED: "disabled",
    KeyState.PENDING_DELETION: "pending deletion",
    KeyState.PENDING_REPLICA_DELETION: "pending replica deletion",
    KeyState.PENDING_IMPORT: "pending import",
    KeyState.UNAVAILABLE: "unavailable",
    KeyState.CREATING: "creating",
    KeyState.UPDATING: "updating",
}

OK: Final = None
DIS: Final = "DisabledException"  # "<arn> is disabled."
INV: Final = "KMSInvalidStateException"  # "<arn> is <state>."
UNAV: Final = "KeyUnavailableException"  # "<arn> is unavailable."
NOT_PENDING: Final = "KMSInvalidStateException:not-pending"  # "<arn> is not pending deletion."

_COLUMNS: Final = (
    KeyState.ENABLED,
    KeyState.DISABLED,
    KeyState.PENDING_DELETION,
    KeyState.PENDING_REPLICA_DELETION,
    KeyState.PENDING_IMPORT,
    KeyState.UNAVAILABLE,
    KeyState.CREATING,
    KeyState.UPDATING,
)

# fmt: off
#            Enabled Disabled PendDel PendReplDel PendImport Unavail Creating Updating
_ROWS: Final[dict[str, tuple[str | None, ...]]] = {
    "crypto":   (OK,  DIS, INV, INV, INV, UNAV, INV, OK),
    "read":     (OK,  OK,  OK,  OK,  OK,  OK,   OK,  OK),
    "manage":   (OK,  OK,  INV, INV, OK,  OK,   OK,  OK),
    "enable":   (OK,  OK,  INV, INV, INV, INV,  INV, OK),
    "grant":    (OK,  DIS, INV, INV, INV, OK,   INV, OK),
    "schedule": (OK,  OK,  INV, INV, OK,  OK,   INV, INV),
    "cancel":   (NOT_PENDING, NOT_PENDING, OK, OK, NOT_PENDING, NOT_PENDING, NOT_PENDING,
                 NOT_PENDING),
    "rotation": (OK,  DIS, INV, INV, OK,  UNAV, INV, INV),
    "rotation_status": (OK, OK, OK, OK, OK, OK, INV, OK),
    "import":   (OK,  OK,  OK,  OK,  OK,  INV,  INV, INV),
    "replicate": (OK, OK,  INV, INV, INV, INV,  INV, INV),
}
# fmt: on

#: Operation -> row of the table.
ROW_OF: Final[dict[str, str]] = {
    **dict.fromkeys(
        (
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "Sign",
            "Verify",
            "GenerateMac",
            "VerifyMac",
            "DeriveSharedSecret",
            "GetPublicKey",
        ),
        "crypto",
    ),
    **dict.fromkeys(
        (
            "DescribeKey",
            "GetKeyPolicy",
            "ListKeyPolicies",
            "ListGrants",
            "ListResourceTags",
            "ListAliases",
            "GetKeyLastUsage",
            "ListKeyRotations",
            "RetireGrant",
            "RevokeGrant",
            "DeleteAlias",
            "PutKeyPolicy",
        ),
        "read",
    ),
    **dict.fromkeys(
        (
            "UpdateKeyDescription",
            "TagResource",
            "UntagResource",
            "CreateAlias",
            "UpdateAlias",
        ),
        "manage",
    ),
    "EnableKey": "enable",
    "DisableKey": "enable",
    "CreateGrant": "grant",
    "ScheduleKeyDeletion": "schedule",
    "CancelKeyDeletion": "cancel",
    "EnableKeyRotation": "rotation",
    "DisableKeyRotation": "rotation",
    "RotateKeyOnDemand": "rotation",
    "GetKeyRotationStatus": "rotation_status",
    "GetParametersForImport": "import",
    "ImportKeyMaterial": "import",
    "DeleteImportedKeyMaterial": "import",
    "ReplicateKey": "replicate",
    "UpdatePrimaryRegion": "replicate",
}

_TABLE: Final[dict[str, dict[str, str | None]]] = {
    row: dict(zip(_COLUMNS, cells, strict=True)) for row, cells in _ROWS.items()
}


def outcome(operation: str, state: str) -> str | None:
    """The error shape name (or None) the table gives `operation` in `state`."""
    return _TABLE[ROW_OF[operation]][state]


def error_for(operation: str, state: str, key_arn: str) -> Exception | None:
    """The error `operation` meets on a key in `state`, or None when allowed."""
    found = _TABLE[ROW_OF[operation]][state]
    if found is None:
        return None
    if found == NOT_PENDING:
        return errors.KMSInvalidStateException(f"{key_arn} is not pending deletion.")
    return getattr(errors, found)(f"{key_arn} is {_PHRASE[KeyState(state)]}.")


def check(operation: str, state: str, key_arn: str) -> None:
    err = error_for(operation, state, key_arn)
    if err is not None:
        raise err
