"""KMS operations on key material: rotation, imported material, multi-Region
keys, and custom key stores (which this server does not have)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strongroom.framework import Call, JobRun, paging
from strongroom.framework.tagging import KMS as TAGS
from strongroom.services.kms import access, keys
from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms import material as lifecycle
from strongroom.services.kms.keys import DAY, Key
from strongroom.services.kms.service import errors, service
from strongroom.services.kms.states import (
    EXPIRATION_MODELS,
    KeyState,
    MultiRegionKeyType,
    Origin,
    RotationType,
)
from strongroom.services.kms.states import ExpirationModel as Expiration

KEY_TYPE = "AWS::KMS::Key"
MAX_ON_DEMAND_ROTATIONS = 25
#: "The maximum value [of ValidTo] is 365 days from the request date."
MAX_VALID_TO_DAYS = 365

LIST_KEY_ROTATIONS = paging.KMS.listing("Rotations", default=100, maximum=1000)
DESCRIBE_CUSTOM_KEY_STORES = paging.KMS.listing("CustomKeyStores", default=100, maximum=1000)


def _key(call: Call, key_id: str) -> Key:
    key = keys.resolve(call, key_id, aliases_ok=False)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    return key


def _unsupported(key: Key, what: str) -> Exception:
    return errors.UnsupportedOperationException(f"{key.arn} {what}")


def _require_rotatable(key: Key) -> None:
    if not key.is_symmetric:
        raise _unsupported(key, f"key spec {key.key_spec} does not support key rotation.")
    if key.multi_region and not key.is_primary:
        raise _unsupported(
            key, "is a multi-Region replica key; manage rotation on its primary key."
        )


# --------------------------------------------------------------------------- rotation


@service.operation(authorize=False)
def enable_key_rotation(
    call: Call,
    KeyId: str,
    RotationPeriodInDays: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    period = RotationPeriodInDays or keys.DEFAULT_ROTATION_DAYS
    access.authorize(
        call, key, "kms:EnableKeyRotation", extra={"kms:RotationPeriodInDays": str(period)}
    )
    key.require_customer_managed(call, "kms:EnableKeyRotation")
    key.require_state("EnableKeyRotation")
    _require_rotatable(key)
    if key.origin != Origin.AWS_KMS:
        raise _unsupported(key, f"origin is {key.origin} which is not valid for this operation.")
    now = call.clock.timestamp()
    rows = keys.material_rows(call.conn, key)
    last = max((row.created for row in rows), default=key.created)
    key.rotation_enabled = True
    key.rotation_period = period
    key.next_rotation = max(now, last + period * DAY)
    keys.save_everywhere(call.conn, key, "rotation_enabled", "rotation_period", "next_rotation")
    return {}


@service.operation(authorize=False)
def disable_key_rotation(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:DisableKeyRotation")
    key.require_customer_managed(call, "kms:DisableKeyRotation")
    key.require_state("DisableKeyRotation")
    _require_rotatable(key)
    if key.origin != Origin.AWS_KMS:
        raise _unsupported(key, f"origin is {key.origin} which is not valid for this operation.")
    key.rotation_enabled = False
    key.next_rotation = None
    keys.save_everywhere(call.conn, key, "rotation_enabled", "next_rotation")
    return {}


@service.operation(authorize=False)
def get_key_rotation_status(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:GetKeyRotationStatus")
    key.require_state("GetKeyRotationStatus")
    if not key.is_symmetric:
        raise _unsupported(key, f"key spec {key.key_spec} does not support key rotation.")
    enabled = key.rotation_enabled and key.state not in (
        KeyState.PENDING_DELETION,
        KeyState.PENDING_REPLICA_DELETION,
    )
    out: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": key.arn}
    if enabled:
        out["RotationPeriodInDays"] = key.rotation_period
        if key.next_rotation is not None:
            out["NextRotationDate"] = key.next_rotation_date
    return out


@service.operation(authorize=False)
def rotate_key_on_demand(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:RotateKeyOnDemand")
    key.require_customer_managed(call, "kms:RotateKeyOnDemand")
    key.require_state("RotateKeyOnDemand")
    _require_rotatable(key)
    if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS:
        raise errors.LimitExceededException(
            f"{key.arn} has reached the maximum of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations."
        )
    now = call.clock.timestamp()
    if key.imported:
        if lifecycle.promote_pending(call.conn, key, now) is None:
            raise errors.KMSInvalidStateException(
                f"{key.arn} has no key material in PENDING_ROTATION state. Import new key "
                "material (ImportType NEW_KEY_MATERIAL) before rotating it on demand."
            )
    else:
        lifecycle.rotate(call.conn, call.sealer, key, now, RotationType.ON_DEMAND)
    key.on_demand_rotations += 1
    keys.save_everywhere(call.conn, key, "on_demand_rotations")
    return {"KeyId": key.arn}


@service.operation(authorize=False)
def list_key_rotations(
    call: Call,
    KeyId: str,
    IncludeKeyMaterial: str | None = None,
    Limit: int | None = None,
    Marker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:ListKeyRotations")
    if not key.is_symmetric:
        raise _unsupported(key, f"key spec {key.key_spec} does not support key rotation.")
    everything = IncludeKeyMaterial == "ALL_KEY_MATERIAL"
    items = []
    for row in keys.material_rows(call.conn, key):
        if not (everything or row.is_rotation):
            continue
        entry: dict[str, Any] = {
            "KeyId": key.arn,
            "KeyMaterialId": row.material_id,
            "KeyMaterialState": row.state,
        }
        if row.is_rotation:
            entry["RotationDate"] = row.rotation_date
            entry["RotationType"] = row.rotation_type
        if row.import_state:
            entry["ImportState"] = row.import_state
            if row.expiration_model:
                entry["ExpirationModel"] = row.expiration_model
            if row.valid_to is not None:
                entry["ValidTo"] = row.valid_to_date
            if row.description:
                entry["KeyMaterialDescription"] = row.description
        items.append(entry)
    scope = (key.arn, IncludeKeyMaterial)
    return LIST_KEY_ROTATIONS.over_list(call, items, Marker, Limit, scope=scope)


# --------------------------------------------------------------------------- import


def _require_external(key: Key) -> None:
    if not key.imported:
        raise _unsupported(key, f"origin is {key.origin} which is not valid for this operation.")


@service.operation(authorize=False)
def get_parameters_for_import(
    call: Call,
    KeyId: str,
    WrappingAlgorithm: str,
    WrappingKeySpec: str,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(
        call,
        key,
        "kms:GetParametersForImport",
        extra={"kms:WrappingAlgorithm": WrappingAlgorithm, "kms:WrappingKeySpec": WrappingKeySpec},
    )
    key.require_customer_managed(call, "kms:GetParametersForImport")
    key.require_state("GetParametersForImport")
    _require_external(key)
    if WrappingKeySpec == "SM2" or WrappingAlgorithm == "SM2PKE":
        raise errors.ValidationException("SM2 wrapping is supported only in China Regions.")
    private, public = crypto.new_wrapping_key(WrappingKeySpec)
    token, valid_to = lifecycle.new_import_token(
        call.conn, call.sealer, key, WrappingAlgorithm, private, call.clock.timestamp()
    )
    return {
        "KeyId": key.arn,
        "ImportToken": token,
        "PublicKey": public,
        "ParametersValidTo": valid_to,
    }


@service.operation(authorize=False)
def import_key_material(
    call: Call,
    KeyId: str,
    ImportToken: bytes,
    EncryptedKeyMaterial: bytes,
    ValidTo: datetime | None = None,
    ExpirationModel: str | None = None,
    ImportType: str | None = None,
    KeyMaterialDescription: str | None = None,
    KeyMaterialId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    # AWS's default is KEY_MATERIAL_EXPIRES, which needs a ValidTo: leaving
    # both out is a ValidationException, not material that never expires.
    model = (
        EXPIRATION_MODELS[ExpirationModel]
        if ExpirationModel is not None
        else Expiration.KEY_MATERIAL_EXPIRES
    )
    extra: dict[str, Any] = {"kms:ExpirationModel": model}
    if ValidTo is not None:
        extra["kms:ValidTo"] = str(int(ValidTo.timestamp()))
    access.authorize(call, key, "kms:ImportKeyMaterial", extra=extra)
    key.require_customer_managed(call, "kms:ImportKeyMaterial")
    key.require_state("ImportKeyMaterial")
    _require_external(key)
    now = call.clock.timestamp()
    if model == Expiration.KEY_MATERIAL_EXPIRES and ValidTo is None:
        raise errors.ValidationException(
            "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES."
        )
    if model == Expiration.KEY_MATERIAL_DOES_NOT_EXPIRE and ValidTo is not None:
        raise errors.ValidationException(
            "ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
        )
    valid_to = ValidTo.timestamp() if ValidTo is not None else None
    if valid_to is not None and valid_to <= now:
        raise errors.ValidationException("ValidTo must be in the future.")
    if valid_to is not None and valid_to > now + MAX_VALID_TO_DAYS * DAY:
        raise errors.ValidationException(
            f"ValidTo must be at most {MAX_VALID_TO_DAYS} days after the request date."
        )
    algorithm, wrapping_key = lifecycle.resolve_import_token(
        call.conn, call.sealer, key, ImportToken, now
    )
    try:
        raw = crypto.unwrap_key_material(wrapping_key, algorithm, EncryptedKeyMaterial)
    except crypto.CiphertextError:
        raise errors.InvalidCiphertextException(
            "The EncryptedKeyMaterial could not be decrypted with the import token's "
            "wrapping key and algorithm."
        ) from None
    try:
        crypto.check_imported(key.key_spec, raw)
    except crypto.CryptoInputError as exc:
        raise errors.IncorrectKeyMaterialException(str(exc)) from None
    mid = lifecycle.store_imported(
        call.conn,
        call.sealer,
        key,
        raw,
        now,
        valid_to=valid_to,
        expiration_model=model,
        new_material=ImportType == "NEW_KEY_MATERIAL",
        description=KeyMaterialDescription,
        expected_id=KeyMaterialId,
    )
    lifecycle.drop_import_tokens(call.conn, key)
    return {"KeyId": key.arn, "KeyMaterialId": mid}


@service.operation(authorize=False)
def delete_imported_key_material(
    call: Call,
    KeyId: str,
    KeyMaterialId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:DeleteImportedKeyMaterial")
    key.require_customer_managed(call, "kms:DeleteImportedKeyMaterial")
    key.require_state("DeleteImportedKeyMaterial")
    _require_external(key)
    rows = keys.material_rows(call.conn, key)
    if KeyMaterialId is not None:
        row = next((r for r in rows if r.material_id == KeyMaterialId), None)
        if row is None:
            raise errors.NotFoundException(f"Key material {KeyMaterialId} does not exist")
    else:
        row = next((r for r in rows if r.version == key.current_version), None)
    if row is not None:
        lifecycle.drop_imported(call.conn, key, row.version)
    out: dict[str, Any] = {"KeyId": key.arn}
    if row is not None:
        out["KeyMaterialId"] = row.material_id
    return out


# --------------------------------------------------------------------------- multi-Region


@service.operation(authorize=False)
def replicate_key(
    call: Call,
    KeyId: str,
    ReplicaRegion: str,
    Policy: str | None = None,
    BypassPolicyLockoutSafetyCheck: bool | None = None,
    Description: str | None = None,
    Tags: list[dict[str, str]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(call, key, "kms:ReplicateKey", extra={"kms:ReplicaRegion": ReplicaRegion})
    call.authorize(
        "kms:CreateKey",
        "*",
        {
            "kms:MultiRegion": "true",
            "kms:MultiRegionKeyType": MultiRegionKeyType.REPLICA.value,
            "aws:RequestedRegion": ReplicaRegion,
        },
    )
    key.require_state("ReplicateKey")
    if not key.multi_region:
        raise _unsupported(key, "is not a multi-Region key.")
    if not key.is_primary:
        raise _unsupported(key, "is not a multi-Region primary key.")
    if ReplicaRegion == key.region:
        raise errors.ValidationException(
            f"The replica Region {ReplicaRegion} is the Region of the primary key."
        )
    if keys.find(call.conn, key.account, ReplicaRegion, key.key_id) is not None:
        raise errors.AlreadyExistsException(
            f"{keys.key_arn(key.account, ReplicaRegion, key.key_id)} already exists"
        )
    replica_tags = TAGS.from_wire(Tags)
    TAGS.require_valid(call, replica_tags)
    replica_arn = keys.key_arn(key.account, ReplicaRegion, key.key_id)
    if Policy is not None:
        access.require_lockout_safe(
            call, replica_arn, key.account, Policy, BypassPolicyLockoutSafetyCheck
        )
    policy = Policy if Policy is not None else keys.default_policy(key.account)
    replica = lifecycle.replicate(
        call.conn,
        call.sealer,
        key,
        ReplicaRegion,
        call.clock.timestamp(),
        policy=policy,
        description=Description or "",
        tags=keys.stored_tags(replica_tags),
    )
    metadata = replica.to_key_metadata(call.conn)
    # AWS records a ReplicateKey here and a CreateKey in the replica's Region.
    call.audit_also(
        "CreateKey",
        ReplicaRegion,
        params={
            "Description": Description or "",
            "KeyUsage": key.key_usage,
            "KeySpec": key.key_spec,
            "Origin": key.origin,
            "MultiRegion": True,
            "BypassPolicyLockoutSafetyCheck": bool(BypassPolicyLockoutSafetyCheck),
        },
        result={"KeyMetadata": metadata},
        resources=[{"ARN": replica_arn, "type": "AWS::KMS::Key", "accountId": key.account}],
    )
    return {
        "ReplicaKeyMetadata": metadata,
        "ReplicaPolicy": policy,
        "ReplicaTags": TAGS.to_wire(replica_tags),
    }


@service.operation(authorize=False)
def update_primary_region(call: Call, KeyId: str, PrimaryRegion: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId)
    access.authorize(
        call, key, "kms:UpdatePrimaryRegion", extra={"kms:PrimaryRegion": PrimaryRegion}
    )
    key.require_state("UpdatePrimaryRegion")
    if not key.multi_region:
        raise _unsupported(key, "is not a multi-Region key.")
    if not key.is_primary:
        raise _unsupported(key, "is not a multi-Region primary key.")
    target = keys.find(call.conn, key.account, PrimaryRegion, key.key_id)
    if target is None:
        raise errors.NotFoundException(
            f"Key '{keys.key_arn(key.account, PrimaryRegion, key.key_id)}' does not exist"
        )
    key.primary_region = PrimaryRegion
    keys.save_everywhere(call.conn, key, "primary_region")
    return {}


# --------------------------------------------------------------------------- custom key stores


def _no_store(store_id: str | None) -> Exception:
    return errors.CustomKeyStoreNotFoundException(
        f"Custom key store {store_id} does not exist."
        if store_id
        else "Custom key store not found."
    )


@service.operation
def create_custom_key_store(
    call: Call,
    CustomKeyStoreName: str,
    CustomKeyStoreType: str = "AWS_CLOUDHSM",
    CloudHsmClusterId: str | None = None,
    XksProxyUriEndpoint: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    if CustomKeyStoreType == "EXTERNAL_KEY_STORE":
        raise errors.XksProxyUriUnreachableException(
            f"KMS cannot reach the external key store proxy at {XksProxyUriEndpoint}."
        )
    raise errors.CloudHsmClusterNotFoundException(
        f"AWS CloudHSM cluster {CloudHsmClusterId} was not found."
    )


@service.operation
def connect_custom_key_store(call: Call, CustomKeyStoreId: str, **_: Any) -> dict[str, Any]:
    raise _no_store(CustomKeyStoreId)


@service.operation
def disconnect_custom_key_store(call: Call, CustomKeyStoreId: str, **_: Any) -> dict[str, Any]:
    raise _no_store(CustomKeyStoreId)


@service.operation
def delete_custom_key_store(call: Call, CustomKeyStoreId: str, **_: Any) -> dict[str, Any]:
    raise _no_store(CustomKeyStoreId)


@service.operation
def update_custom_key_store(call: Call, CustomKeyStoreId: str, **_: Any) -> dict[str, Any]:
    raise _no_store(CustomKeyStoreId)


@service.operation
def describe_custom_key_stores(
    call: Call,
    CustomKeyStoreId: str | None = None,
    CustomKeyStoreName: str | None = None,
    Limit: int | None = None,
    Marker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    if CustomKeyStoreId is not None or CustomKeyStoreName is not None:
        raise _no_store(CustomKeyStoreId or CustomKeyStoreName)
    return DESCRIBE_CUSTOM_KEY_STORES.over_list(call, [], Marker, Limit)


# --------------------------------------------------------------------------- the clock


@service.job
def kms_clock(run: JobRun) -> float | None:
    """Deletions, automatic rotations and imported-material expiry that are
    due, each recorded as the AwsServiceEvent AWS records for it."""

    def report(event_name: str, key: Any, details: Any, response: Any) -> None:
        run.service_event(
            event_name,
            key.account,
            key.region,
            resources=[{"accountId": key.account, "type": KEY_TYPE, "ARN": key.arn}],
            details=details,
            response=response,
        )

    return lifecycle.run_due(run.conn, run.sealer, run.now.timestamp(), report)
