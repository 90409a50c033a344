"""KMS-encrypted log groups, through KMS's internal API only.

As AWS does it, CloudWatch Logs uses the key as its own service principal,
``logs.<region>.amazonaws.com``: the key policy must allow that principal
(``kms:GenerateDataKey*``, ``kms:Decrypt``…), with the encryption context

    {"aws:logs:arn": <the log group's ARN>}

AssociateKmsKey (or CreateLogGroup with kmsKeyId) asks GenerateDataKey for
a data key; only its wrapped form is stored (`tables.data_keys`). Each
batch stored afterwards is sealed (AES-256-GCM, associated data naming the
group and the data key) under that key, which every write and every read
asks KMS to unwrap: a disabled key, one pending deletion or a key policy no
longer allowing the service stops reads and writes at once. The KMS calls
are KMS's own CloudTrail events, invoked by ``logs.amazonaws.com``.
DisassociateKmsKey stops encryption of new events; events already stored
stay readable while the key they were sealed under is usable.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select

from strongroom.framework import Call, JobRun, acting_as
from strongroom.services.kms import api as kms
from strongroom.services.logs import groups
from strongroom.services.logs.groups import Group
from strongroom.services.logs.service import errors, service
from strongroom.services.logs.tables import data_keys
from strongroom.store.sealing import Sealer, SealError

#: KMS errors meaning the key cannot be used now.
_UNUSABLE = frozenset({"DisabledException", "KMSInvalidStateException", "KeyUnavailableException"})


def _not_allowed(group: Group) -> Exception:
    return service.access_denied(
        f"The specified KMS key does not exist or is not allowed to be used with Arn "
        f"'{group.arn}:*'"
    )


def _as_logs(ctx: Call | JobRun, group: Group) -> Call:
    """A call as CloudWatch Logs' service principal in the group's account."""
    return acting_as(
        ctx,
        service,
        f"logs.{group.region}.amazonaws.com",
        account=group.account,
        region=group.region,
        operation=ctx.operation if isinstance(ctx, Call) else "PutLogEvents",
        source="logs.amazonaws.com",
    )


def _kms(ctx: Call | JobRun, group: Group, fn: Callable[[Call], dict]) -> dict:
    svc = _as_logs(ctx, group)
    try:
        return fn(svc)
    except Exception as err:
        code = getattr(err, "code", None)
        if not isinstance(code, str):
            raise
        if code in _UNUSABLE:
            raise errors.InvalidParameterException(
                f"The KMS key associated with the log group is not usable: "
                f"{getattr(err, 'message', code)}"
            ) from None
        raise _not_allowed(group) from None


def _context(group: Group) -> dict[str, str]:
    return {"aws:logs:arn": group.arn}


def _aad(group: Group, key_id: int) -> bytes:
    return f"logs-batch:{group.arn}:{key_id}".encode()


def associate(ctx: Call | JobRun, group: Group, kms_key_id: str) -> None:
    """Encrypt the group's new events under `kms_key_id` (a key ARN)."""
    if not kms_key_id.startswith("arn:aws:kms:"):
        raise errors.InvalidParameterException(
            f"Specified KMS key ARN {kms_key_id} is not a valid ARN."
        )
    out = _kms(
        ctx,
        group,
        lambda svc: kms.generate_data_key(svc, kms_key_id, encryption_context=_context(group)),
    )
    key_row = ctx.conn.execute(
        insert(data_keys).values(
            group_id=group.id, kms_key_id=out["KeyId"], wrapped=out["CiphertextBlob"]
        )
    ).inserted_primary_key[0]
    group.kms_key_id = kms_key_id
    group.data_key_id = key_row
    groups.save(ctx.conn, group, "kms_key_id", "data_key_id")


def disassociate(ctx: Call | JobRun, group: Group) -> None:
    group.kms_key_id = None
    group.data_key_id = None
    groups.save(ctx.conn, group, "kms_key_id", "data_key_id")


def _unwrap(ctx: Call | JobRun, group: Group, key_id: int) -> bytes:
    wrapped = ctx.conn.execute(
        select(data_keys.c.wrapped).where(data_keys.c.id == key_id)
    ).scalar_one_or_none()
    if wrapped is None:
        raise errors.InvalidParameterException("The log group's data key is missing.")
    out = _kms(
        ctx, group, lambda svc: kms.decrypt(svc, wrapped, encryption_context=_context(group))
    )
    return out["Plaintext"]


def sealer(ctx: Call | JobRun, group: Group) -> Callable[[bytes], tuple[bytes, int]] | None:
    """What seals a new batch of `group` (None: the group is not encrypted)."""
    if group.data_key_id is None:
        return None
    key_id = group.data_key_id
    seal = Sealer(_unwrap(ctx, group, key_id))
    aad = _aad(group, key_id)
    return lambda packed: (seal.seal(packed, aad), key_id)


def opener(ctx: Call | JobRun, by_id: dict[int, Group]) -> Callable[[int, bytes], bytes]:
    """What opens sealed batches of the groups `by_id` (group id -> group);
    each data key is unwrapped once a request."""
    keys: dict[int, tuple[Sealer, bytes]] = {}

    def open_(key_id: int, payload: bytes) -> bytes:
        if key_id not in keys:
            group_id = ctx.conn.execute(
                select(data_keys.c.group_id).where(data_keys.c.id == key_id)
            ).scalar_one()
            group = by_id[group_id]
            keys[key_id] = (Sealer(_unwrap(ctx, group, key_id)), _aad(group, key_id))
        seal, aad = keys[key_id]
        try:
            return seal.unseal(payload, aad)
        except (SealError, ValueError):
            raise errors.InvalidParameterException(
                "The log events could not be decrypted."
            ) from None

    return open_
