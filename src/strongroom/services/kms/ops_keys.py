"""KMS key lifecycle: create, describe, list, enable/disable, deletion,
descriptions, aliases, tags, key policies, last usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strongroom.audit import records
from strongroom.audit.records import facet
from strongroom.framework import Call, paging, tagging
from strongroom.framework.tagging import KMS as TAGS
from strongroom.services.kms import access, alias_store, keys, managed
from strongroom.services.kms.keys import DAY, Key
from strongroom.services.kms.service import CRYPTO_OPERATIONS, errors, service
from strongroom.services.kms.specs import SPECS, UNSUPPORTED_SPECS
from strongroom.services.kms.states import KEY_USAGES, ORIGINS, KeyState, MultiRegionKeyType
from strongroom.services.kms.states import KeyUsage as Usage
from strongroom.services.kms.states import Origin as KeyOrigin

KEY_TYPE = "AWS::KMS::Key"
ALIAS_PREFIX = "alias/"
RESERVED_ALIAS_PREFIX = "alias/aws/"

#: Page sizes as KMS documents them ("must be between 1 and 100 … defaults to 50").
LIST_KEYS = paging.KMS.listing("Keys", default=100, maximum=1000)
LIST_ALIASES = paging.KMS.listing("Aliases", default=50, maximum=100)
LIST_RESOURCE_TAGS = paging.KMS.listing("Tags", default=50, maximum=50)
LIST_KEY_POLICIES = paging.KMS.listing("PolicyNames", default=100, maximum=1000)


def _key(call: Call, key_id: str, operation: str, *, aliases_ok: bool = False) -> Key:
    """Resolve a key named by id or ARN (aliases where the operation takes
    them), and name it in the audit record."""
    key = keys.resolve(call, key_id, aliases_ok=aliases_ok)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    return key


def _done(call: Call, key: Key) -> dict[str, Any]:
    """An operation with no output (CloudTrail's responseElements name the
    key ARN: services/kms/trail.py)."""
    return {}


# --------------------------------------------------------------------------- create


def _tag_context(tags: list[dict[str, str]] | None) -> dict[str, Any]:
    return tagging.request_context(TAGS.from_wire(tags))


def _require_no_custom_store(custom_key_store_id: str | None, origin: str) -> None:
    if custom_key_store_id is not None:
        raise errors.CustomKeyStoreNotFoundException(
            f"Custom key store {custom_key_store_id} does not exist."
        )
    if origin in (KeyOrigin.AWS_CLOUDHSM, KeyOrigin.EXTERNAL_KEY_STORE):
        raise errors.CustomKeyStoreNotFoundException(
            f"A CustomKeyStoreId is required for a KMS key with Origin {origin}."
        )


@service.operation(authorize=False)
def create_key(
    call: Call,
    Policy: str | None = None,
    Description: str = "",
    KeyUsage: str | None = None,
    CustomerMasterKeySpec: str | None = None,
    KeySpec: str | None = None,
    Origin: str = "AWS_KMS",
    CustomKeyStoreId: str | None = None,
    BypassPolicyLockoutSafetyCheck: bool | None = None,
    Tags: list[dict[str, str]] | None = None,
    MultiRegion: bool | None = None,
    XksKeyId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    if KeySpec is not None and CustomerMasterKeySpec is not None:
        raise errors.ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    spec_name = KeySpec or CustomerMasterKeySpec or "SYMMETRIC_DEFAULT"
    usage = KeyUsage or Usage.ENCRYPT_DECRYPT
    context = {
        "kms:KeySpec": spec_name,
        "kms:CustomerMasterKeySpec": spec_name,
        "kms:KeyUsage": usage,
        "kms:KeyOrigin": Origin,
        "kms:MultiRegion": "true" if MultiRegion else "false",
        "kms:BypassPolicyLockoutSafetyCheck": "true" if BypassPolicyLockoutSafetyCheck else "false",
        **_tag_context(Tags),
    }
    if MultiRegion:
        context["kms:MultiRegionKeyType"] = MultiRegionKeyType.PRIMARY.value
    call.authorize("kms:CreateKey", "*", context)
    _require_no_custom_store(CustomKeyStoreId, Origin)
    if XksKeyId is not None:
        raise errors.CustomKeyStoreNotFoundException(
            "XksKeyId is only valid for keys in an external key store."
        )
    if spec_name in UNSUPPORTED_SPECS or spec_name not in SPECS:
        # Specs a newer model adds (ML_KEM_*) are valid on the wire, not served here.
        raise errors.UnsupportedOperationException(
            f"KeySpec {spec_name} is not supported in this Region."
        )
    spec = SPECS[spec_name]
    if usage not in spec.usages:
        raise errors.ValidationException(
            f"KeyUsage {usage} is not compatible with KeySpec {spec_name}"
        )
    new_tags = TAGS.from_wire(Tags)
    TAGS.require_valid(call, new_tags)
    now = call.clock.timestamp()
    key_id_preview = "*"
    policy = Policy
    if policy is not None:
        access.require_lockout_safe(
            call,
            keys.key_arn(call.account, call.region, key_id_preview),
            call.account,
            policy,
            BypassPolicyLockoutSafetyCheck,
        )
    else:
        policy = keys.default_policy(call.account)
    key = keys.create_key(
        call.conn,
        call.sealer,
        now,
        account=call.account,
        region=call.region,
        policy=policy,
        description=Description,
        key_usage=KEY_USAGES[usage],
        key_spec=spec_name,
        origin=ORIGINS[Origin],
        multi_region=bool(MultiRegion),
        tags=new_tags,
    )
    call.audit_resource(key.arn, KEY_TYPE)
    return {"KeyMetadata": key.to_key_metadata(call.conn)}


@service.operation(authorize=False)
def describe_key(
    call: Call, KeyId: str, GrantTokens: list[str] | None = None, **_: Any
) -> dict[str, Any]:
    key = keys.resolve(call, KeyId, create_managed=True)
    call.audit_resource(key.arn, KEY_TYPE, key.account)
    access.authorize(call, key, "kms:DescribeKey", grant_tokens=GrantTokens)
    return {"KeyMetadata": key.to_key_metadata(call.conn)}


@service.operation(authorize=False)
def list_keys(
    call: Call,
    Limit: int | None = None,
    Marker: str | None = None,
    ResourceOwners: list[str] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The caller's keys in the Region. ``ResourceOwners`` (newer models) may
    ask for keys shared through RAM too: this server has no RAM, so none are."""
    access.authorize_account(call, "kms:ListKeys")
    items = []
    if ResourceOwners is None or "SELF" in ResourceOwners:
        items = [
            {"KeyId": key_id, "KeyArn": arn}
            for key_id, arn in keys.list_keys(call.conn, call.account, call.region)
        ]
    return LIST_KEYS.over_list(call, items, Marker, Limit, scope=(ResourceOwners,))


# --------------------------------------------------------------------------- state


@service.operation(authorize=False)
def enable_key(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "EnableKey")
    access.authorize(call, key, "kms:EnableKey")
    key.require_customer_managed(call, "kms:EnableKey")
    key.require_state("EnableKey")
    key.state = KeyState.ENABLED
    keys.save(call.conn, key, "state")
    return _done(call, key)


@service.operation(authorize=False)
def disable_key(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "DisableKey")
    access.authorize(call, key, "kms:DisableKey")
    key.require_customer_managed(call, "kms:DisableKey")
    key.require_state("DisableKey")
    key.state = KeyState.DISABLED
    keys.save(call.conn, key, "state")
    return _done(call, key)


@service.operation(authorize=False)
def schedule_key_deletion(
    call: Call,
    KeyId: str,
    PendingWindowInDays: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId, "ScheduleKeyDeletion")
    days = PendingWindowInDays if PendingWindowInDays is not None else 30
    access.authorize(
        call,
        key,
        "kms:ScheduleKeyDeletion",
        extra={"kms:ScheduleKeyDeletionPendingWindowInDays": str(days)},
    )
    key.require_customer_managed(call, "kms:ScheduleKeyDeletion")
    key.require_state("ScheduleKeyDeletion")
    now = call.clock.timestamp()
    key.pending_window = days
    replicas = [k for k in keys.related(call.conn, key) if k.region != key.region]
    if key.is_primary and replicas:
        key.state = KeyState.PENDING_REPLICA_DELETION
        key.deletion_date = None
    else:
        key.state = KeyState.PENDING_DELETION
        key.deletion_date = now + days * DAY
    keys.save(call.conn, key, "state", "deletion_date", "pending_window")
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "KeyState": key.state,
        "PendingWindowInDays": days,
    }
    if key.deletion_date is not None:
        out["DeletionDate"] = key.scheduled_deletion_date
    return out


@service.operation(authorize=False)
def cancel_key_deletion(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "CancelKeyDeletion")
    access.authorize(call, key, "kms:CancelKeyDeletion")
    key.require_state("CancelKeyDeletion")
    key.state = KeyState.DISABLED
    key.deletion_date = None
    key.pending_window = None
    keys.save(call.conn, key, "state", "deletion_date", "pending_window")
    return {"KeyId": key.arn}


@service.operation(authorize=False)
def update_key_description(call: Call, KeyId: str, Description: str, **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "UpdateKeyDescription")
    access.authorize(call, key, "kms:UpdateKeyDescription")
    key.require_customer_managed(call, "kms:UpdateKeyDescription")
    key.require_state("UpdateKeyDescription")
    key.description = Description
    keys.save(call.conn, key, "description")
    return _done(call, key)


# --------------------------------------------------------------------------- aliases


def _require_alias_name(name: str) -> None:
    if not name.startswith(ALIAS_PREFIX) or name == ALIAS_PREFIX:
        raise errors.ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name.startswith(RESERVED_ALIAS_PREFIX):
        raise errors.InvalidAliasNameException(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys."
        )


def _alias_target(call: Call, target: str, operation: str) -> Key:
    key = keys.resolve(call, target, aliases_ok=False)
    if key.account != call.account:
        raise errors.NotFoundException(f"Key '{key.arn}' does not exist")
    if key.aws_managed:
        raise access.deny(call, f"kms:{operation}", key.arn)
    key.require_state(operation)
    return key


@service.operation(authorize=False)
def create_alias(call: Call, AliasName: str, TargetKeyId: str, **_: Any) -> dict[str, Any]:
    _require_alias_name(AliasName)
    alias_arn = keys.alias_arn(call.account, call.region, AliasName)
    call.authorize("kms:CreateAlias", alias_arn)
    key = _alias_target(call, TargetKeyId, "CreateAlias")
    call.audit_resource(key.arn, KEY_TYPE)
    access.authorize(call, key, "kms:CreateAlias")
    alias_store.require_absent(call.conn, call.account, call.region, AliasName)
    alias_store.require_room(call.conn, key)
    alias_store.create(
        call.conn, call.account, call.region, AliasName, key.key_id, call.clock.timestamp()
    )
    return {}


@service.operation(authorize=False)
def update_alias(call: Call, AliasName: str, TargetKeyId: str, **_: Any) -> dict[str, Any]:
    _require_alias_name(AliasName)
    alias_arn = keys.alias_arn(call.account, call.region, AliasName)
    call.authorize("kms:UpdateAlias", alias_arn)
    row = alias_store.resolve(call.conn, call.account, call.region, AliasName)
    old = keys.find(call.conn, call.account, call.region, row.key_id)
    new = _alias_target(call, TargetKeyId, "UpdateAlias")
    if old is not None:
        call.audit_resource(old.arn, KEY_TYPE)
        access.authorize(call, old, "kms:UpdateAlias")
        if (old.key_usage, old.is_symmetric) != (new.key_usage, new.is_symmetric):
            raise errors.ValidationException(
                f"{AliasName} can only be associated with a KMS key of the same key type "
                "and key usage as its current key."
            )
    call.audit_resource(new.arn, KEY_TYPE)
    access.authorize(call, new, "kms:UpdateAlias")
    alias_store.retarget(
        call.conn, call.account, call.region, AliasName, new.key_id, call.clock.timestamp()
    )
    return {}


@service.operation(authorize=False)
def delete_alias(call: Call, AliasName: str, **_: Any) -> dict[str, Any]:
    _require_alias_name(AliasName)
    alias_arn = keys.alias_arn(call.account, call.region, AliasName)
    call.authorize("kms:DeleteAlias", alias_arn)
    row = alias_store.resolve(call.conn, call.account, call.region, AliasName)
    key = keys.find(call.conn, call.account, call.region, row.key_id)
    if key is not None:
        call.audit_resource(key.arn, KEY_TYPE)
        access.authorize(call, key, "kms:DeleteAlias")
    alias_store.remove(call.conn, call.account, call.region, AliasName)
    return {}


@service.operation(authorize=False)
def list_aliases(
    call: Call,
    KeyId: str | None = None,
    Limit: int | None = None,
    Marker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    access.authorize_account(call, "kms:ListAliases")
    of_key = keys.resolve(call, KeyId, aliases_ok=False).key_id if KeyId is not None else None
    rows = alias_store.of_region(call.conn, call.account, call.region, of_key)
    items: list[dict[str, Any]] = [
        {
            "AliasName": row.alias_name,
            "AliasArn": keys.alias_arn(call.account, call.region, row.alias_name),
            "TargetKeyId": row.key_id,
            "CreationDate": row.creation_date,
            "LastUpdatedDate": row.last_updated_date,
        }
        for row in rows
    ]
    if KeyId is None:
        taken = {row.alias_name for row in rows}
        for name in sorted(managed.MANAGED):
            alias_name = f"alias/aws/{name}"
            if alias_name not in taken:
                items.append(
                    {
                        "AliasName": alias_name,
                        "AliasArn": keys.alias_arn(call.account, call.region, alias_name),
                    }
                )
        items.sort(key=lambda item: item["AliasName"])
    return LIST_ALIASES.over_list(call, items, Marker, Limit, scope=(KeyId,))


# --------------------------------------------------------------------------- tags


@service.operation(authorize=False)
def tag_resource(call: Call, KeyId: str, Tags: list[dict[str, str]], **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "TagResource")
    access.authorize(call, key, "kms:TagResource", extra=_tag_context(Tags))
    key.require_customer_managed(call, "kms:TagResource")
    key.require_state("TagResource")
    new_tags = TAGS.from_wire(Tags)
    TAGS.require_valid(call, new_tags)
    key.set_tags(TAGS.merged(call, key.tag_list(), new_tags))
    keys.save(call.conn, key, "tags")
    return _done(call, key)


@service.operation(authorize=False)
def untag_resource(call: Call, KeyId: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
    key = _key(call, KeyId, "UntagResource")
    access.authorize(call, key, "kms:UntagResource", extra=tagging.request_context(keys=TagKeys))
    key.require_customer_managed(call, "kms:UntagResource")
    key.require_state("UntagResource")
    TAGS.require_removable(call, TagKeys)
    key.set_tags(TAGS.without(key.tag_list(), TagKeys))
    keys.save(call.conn, key, "tags")
    return _done(call, key)


@service.operation(authorize=False)
def list_resource_tags(
    call: Call,
    KeyId: str,
    Limit: int | None = None,
    Marker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId, "ListResourceTags")
    access.authorize(call, key, "kms:ListResourceTags")
    tags = TAGS.to_wire(key.tag_list())
    return LIST_RESOURCE_TAGS.over_list(call, tags, Marker, Limit, scope=(key.arn,))


# --------------------------------------------------------------------------- key policies


def _require_policy_name(name: str | None) -> None:
    if name not in (None, "default"):
        raise errors.NotFoundException("No such policy exists")


@service.operation(authorize=False)
def get_key_policy(
    call: Call, KeyId: str, PolicyName: str | None = None, **_: Any
) -> dict[str, Any]:
    key = _key(call, KeyId, "GetKeyPolicy")
    access.authorize(call, key, "kms:GetKeyPolicy")
    _require_policy_name(PolicyName)
    return {"Policy": key.policy, "PolicyName": "default"}


@service.operation(authorize=False)
def put_key_policy(
    call: Call,
    KeyId: str,
    Policy: str,
    PolicyName: str | None = None,
    BypassPolicyLockoutSafetyCheck: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId, "PutKeyPolicy")
    access.authorize(
        call,
        key,
        "kms:PutKeyPolicy",
        extra={
            "kms:BypassPolicyLockoutSafetyCheck": "true"
            if BypassPolicyLockoutSafetyCheck
            else "false"
        },
    )
    key.require_customer_managed(call, "kms:PutKeyPolicy")
    key.require_state("PutKeyPolicy")
    _require_policy_name(PolicyName)
    access.require_lockout_safe(call, key.arn, key.account, Policy, BypassPolicyLockoutSafetyCheck)
    key.policy = Policy
    keys.save(call.conn, key, "policy")
    return _done(call, key)


@service.operation(authorize=False)
def list_key_policies(
    call: Call,
    KeyId: str,
    Limit: int | None = None,
    Marker: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    key = _key(call, KeyId, "ListKeyPolicies")
    access.authorize(call, key, "kms:ListKeyPolicies")
    return LIST_KEY_POLICIES.over_list(call, ["default"], Marker, Limit, scope=(key.arn,))


# --------------------------------------------------------------------------- last usage

_TRACKED = frozenset(CRYPTO_OPERATIONS - {"GenerateRandom"})


@service.operation(authorize=False, flush_audit=True)
def get_key_last_usage(call: Call, KeyId: str, **_: Any) -> dict[str, Any]:
    """From the audit trail: the newest successful cryptographic call on the key."""
    key = _key(call, KeyId, "GetKeyLastUsage")
    access.authorize(call, key, "kms:GetKeyLastUsage")
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "TrackingStartDate": key.creation_date,
        "KeyCreationDate": key.creation_date,
    }
    for _seq, _index, event in records.scan(call.conn, facets=[facet("r", key.arn)]):
        if (
            event.region != key.region
            or event.event_source != "kms.amazonaws.com"
            or event.event_name not in _TRACKED
            or event.own.get("errorCode")
            or not any(records.resource_arn(r) == key.arn for r in event.resources or ())
        ):
            continue
        out["KeyLastUsage"] = {
            "Operation": event.event_name,
            "Timestamp": datetime.fromtimestamp(int(event.event_time), UTC),
            "CloudTrailEventId": event.event_id,
            "KmsRequestId": event.own.get("requestID"),
        }
        break
    return out
