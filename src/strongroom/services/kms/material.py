"""Key material over a key's life: rotation, import and its expiry, deletion,
and the copies a multi-Region key keeps in each Region."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy import delete as sql_delete

from strongroom.services.kms import ciphertext as crypto
from strongroom.services.kms import keys
from strongroom.services.kms.keys import DAY, Key
from strongroom.services.kms.service import errors
from strongroom.services.kms.states import (
    ExpirationModel,
    ImportState,
    KeyState,
    MaterialState,
    Origin,
    RotationType,
)
from strongroom.services.kms.tables import import_tokens, material
from strongroom.services.kms.tables import keys as keys_table
from strongroom.store.db import Prepared
from strongroom.store.sealing import Sealer


def _where(table: Any, key: Key) -> list[Any]:
    return [
        table.c.account == key.account,
        table.c.region == key.region,
        table.c.key_id == key.key_id,
    ]


def rotate(
    conn: Connection, sealer: Sealer, key: Key, now: float, rotation_type: RotationType
) -> int:
    """Give `key` (and every Region's copy of it) new current material."""
    raw = crypto.new_symmetric_material()
    mid = keys.new_material_id()
    version = key.current_version + 1
    for copy in keys.related(conn, key):
        conn.execute(
            update(material)
            .where(*_where(material, copy), material.c.state == MaterialState.CURRENT)
            .values(state=MaterialState.NON_CURRENT)
        )
        keys.add_material(
            conn, sealer, copy, version, raw, now, rotation_type=rotation_type, material_id=mid
        )
        copy.current_version = version
        keys.save(conn, copy, "current_version")
    key.current_version = version
    return version


def promote_pending(conn: Connection, key: Key, now: float) -> int | None:
    """Imported material waiting as PENDING_ROTATION becomes current (on-demand
    rotation of a key with imported material). Returns its version."""
    row = conn.execute(
        select(material.c.version)
        .where(*_where(material, key), material.c.state == MaterialState.PENDING_ROTATION)
        .order_by(material.c.version)
    ).first()
    if row is None:
        return None
    conn.execute(
        update(material)
        .where(*_where(material, key), material.c.state == MaterialState.CURRENT)
        .values(state=MaterialState.NON_CURRENT)
    )
    conn.execute(
        update(material)
        .where(*_where(material, key), material.c.version == row.version)
        .values(state=MaterialState.CURRENT, rotation_type=RotationType.ON_DEMAND, created=now)
    )
    key.current_version = row.version
    keys.save(conn, key, "current_version")
    return row.version


def imported_material_id(key: Key, raw: bytes) -> str:
    """KeyMaterialId of imported material: a hash of it, so a re-import of the
    same material is recognised."""
    return crypto.material_id(b"kms-imported-material\x00" + key.key_id.encode() + b"\x00" + raw)


def store_imported(
    conn: Connection,
    sealer: Sealer,
    key: Key,
    raw: bytes,
    now: float,
    *,
    valid_to: float | None,
    expiration_model: ExpirationModel,
    new_material: bool,
    description: str | None,
    expected_id: str | None,
) -> str:
    """Keep imported material: the first import, a re-import of the same
    material, or (``new_material``) the next version, waiting for an on-demand
    rotation. Returns its KeyMaterialId."""
    mid = imported_material_id(key, raw)
    rows = keys.material_rows(conn, key)
    fields: dict[str, Any] = {
        "import_state": ImportState.IMPORTED,
        "valid_to": valid_to,
        "expiration_model": expiration_model,
    }
    if not rows:
        version = 1
        keys.add_material(
            conn, sealer, key, version, raw, now, rotation_type=RotationType.INITIAL, material_id=mid,
            description=description, **fields,
        )  # fmt: skip
    elif new_material:
        if any(row.material_id == mid for row in rows):
            raise errors.IncorrectKeyMaterialException(
                "This key material is already associated with the KMS key."
            )
        if not key.is_symmetric:
            raise errors.UnsupportedOperationException(f"{key.arn} supports only one key material.")
        if any(row.pending_rotation for row in rows):
            # One new material at a time waits for RotateKeyOnDemand.
            raise errors.KMSInvalidStateException(
                f"{key.arn} already has key material in PENDING_ROTATION state. Rotate the key "
                "on demand or delete that key material before importing new key material."
            )
        version = max(row.version for row in rows) + 1
        keys.add_material(
            conn, sealer, key, version, raw, now, rotation_type=RotationType.ON_DEMAND,
            material_id=mid, state=MaterialState.PENDING_ROTATION, description=description,
            **fields,
        )  # fmt: skip
    else:
        match = next((row for row in rows if row.material_id == mid), None)
        if match is None or (expected_id is not None and expected_id != mid):
            raise errors.IncorrectKeyMaterialException(
                "The key material is not the same key material that was previously "
                "imported into this KMS key."
            )
        version = match.version
        conn.execute(
            update(material)
            .where(*_where(material, key), material.c.version == version)
            .values(
                sealed=sealer.seal(
                    raw, keys.material_aad(key.account, key.region, key.key_id, version)
                ),
                description=description or match.description,
                **fields,
            )
        )
    if version == key.current_version or key.current_version == 0:
        key.current_version = version
        key.valid_to = valid_to
        key.expiration_model = expiration_model
        if key.state == KeyState.PENDING_IMPORT:
            key.state = KeyState.ENABLED
        if key.spec.asymmetric:
            key.public_key = crypto.public_key_of(key.key_spec, raw)
        keys.save(
            conn, key, "current_version", "valid_to", "expiration_model", "state", "public_key"
        )
    return mid


def drop_imported(conn: Connection, key: Key, version: int) -> None:
    """Delete imported material (the row stays to recognise a re-import;
    material still PENDING_ROTATION is not associated with the key yet, so
    it goes entirely and different material may take its place)."""
    pending = conn.execute(
        sql_delete(material).where(
            *_where(material, key),
            material.c.version == version,
            material.c.state == MaterialState.PENDING_ROTATION,
        )
    )
    if pending.rowcount:
        keys.forget_material(key, version)
        return
    conn.execute(
        update(material)
        .where(*_where(material, key), material.c.version == version)
        .values(sealed=None, import_state=ImportState.PENDING_IMPORT, valid_to=None)
    )
    keys.forget_material(key, version)
    if version == key.current_version:
        if key.state not in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION):
            key.state = KeyState.PENDING_IMPORT
        key.valid_to = None
        key.expiration_model = None
        keys.save(conn, key, "state", "valid_to", "expiration_model")


# --------------------------------------------------------------------------- import tokens

#: How long GetParametersForImport's wrapping key and token stay usable.
IMPORT_TOKEN_SECONDS = 24 * 3600
IMPORT_TOKEN_PREFIX = b"strongroom-import-token-1:"


def _token_aad(token_id: str) -> bytes:
    return f"kms-import-token:{token_id}".encode()


def new_import_token(
    conn: Connection, sealer: Sealer, key: Key, algorithm: str, private_key: bytes, now: float
) -> tuple[bytes, datetime]:
    """Keep a wrapping key for importing into `key`: (ImportToken, ParametersValidTo)."""
    token_id = crypto.random_bytes(16).hex()
    expires = now + IMPORT_TOKEN_SECONDS
    conn.execute(
        insert(import_tokens).values(
            token_id=token_id,
            account=key.account,
            region=key.region,
            key_id=key.key_id,
            algorithm=algorithm,
            sealed_private_key=sealer.seal(private_key, _token_aad(token_id)),
            expires=expires,
        )
    )
    return IMPORT_TOKEN_PREFIX + token_id.encode(), datetime.fromtimestamp(expires, UTC)


def resolve_import_token(
    conn: Connection, sealer: Sealer, key: Key, token: bytes, now: float
) -> tuple[str, bytes]:
    """(wrapping algorithm, wrapping private key) of an import token for `key`;
    InvalidImportTokenException or ExpiredImportTokenException otherwise."""
    invalid = errors.InvalidImportTokenException("The import token is not valid for this key.")
    if not token.startswith(IMPORT_TOKEN_PREFIX):
        raise invalid
    token_id = token[len(IMPORT_TOKEN_PREFIX) :].decode("ascii", "replace")
    row = conn.execute(select(import_tokens).where(import_tokens.c.token_id == token_id)).first()
    if row is None or (row.account, row.region, row.key_id) != (
        key.account,
        key.region,
        key.key_id,
    ):
        raise invalid
    if row.expires <= now:
        raise errors.ExpiredImportTokenException("The import token has expired.")
    return row.algorithm, sealer.unseal(bytes(row.sealed_private_key), _token_aad(token_id))


def drop_import_tokens(conn: Connection, key: Key) -> None:
    """Import tokens of `key` are spent once material is imported."""
    conn.execute(sql_delete(import_tokens).where(*_where(import_tokens, key)))


def replicate(
    conn: Connection,
    sealer: Sealer,
    primary: Key,
    region: str,
    now: float,
    *,
    policy: str,
    description: str,
    tags: list[dict[str, str]],
) -> Key:
    replica = Key(
        account=primary.account,
        region=region,
        key_id=primary.key_id,
        arn=keys.key_arn(primary.account, region, primary.key_id),
        description=description,
        key_usage=primary.key_usage,
        key_spec=primary.key_spec,
        origin=primary.origin,
        key_manager=primary.key_manager,
        # "Creating" until the clock finishes it (`_finish_replicas`), as AWS's
        # replicas are briefly: manageable, not usable for cryptography.
        state=KeyState.CREATING,
        created=now,
        deletion_date=None,
        pending_window=None,
        valid_to=None,
        expiration_model=None,
        policy=policy,
        primary_region=primary.primary_region,
        multi_region=True,
        rotation_enabled=primary.rotation_enabled,
        rotation_period=primary.rotation_period,
        next_rotation=primary.next_rotation,
        on_demand_rotations=primary.on_demand_rotations,
        current_version=primary.current_version,
        public_key=primary.public_key,
        tags=tags,
    )
    keys.insert_key(conn, replica)
    if primary.imported:
        return replica  # imported material is imported into each replica
    for row in keys.material_rows(conn, primary):
        if row.sealed is None:
            continue
        raw = sealer.unseal(
            row.sealed,
            keys.material_aad(primary.account, primary.region, primary.key_id, row.version),
        )
        keys.add_material(
            conn,
            sealer,
            replica,
            row.version,
            raw,
            row.created,
            rotation_type=row.rotation_type,
            material_id=row.material_id,
            state=row.state,
        )
    return replica


# --------------------------------------------------------------------------- the clock


def _rows(conn: Connection, *conditions: Any) -> list[Key]:
    columns = [keys_table.c[name] for name in keys._KEY_FIELDS]
    return [Key(*row) for row in conn.execute(select(*columns).where(*conditions))]


_PENDING_DELETION = KeyState.PENDING_DELETION.value
_PENDING_REPLICA_DELETION = KeyState.PENDING_REPLICA_DELETION.value

#: The three clocks a key runs on; each query gives the earliest time one of
#: them next makes something happen, with exactly the conditions under which
#: `run_due` acts on it (a replica's rotation date is its primary's business).
_NEXT_DELETION = Prepared(
    select(func.min(keys_table.c.deletion_date)).where(keys_table.c.state == _PENDING_DELETION)
)
_NEXT_ROTATION = Prepared(
    select(func.min(keys_table.c.next_rotation)).where(
        keys_table.c.rotation_enabled.is_(True),
        keys_table.c.state == KeyState.ENABLED.value,
        keys_table.c.origin == Origin.AWS_KMS.value,
        or_(
            keys_table.c.multi_region.is_(False),
            keys_table.c.primary_region == keys_table.c.region,
        ),
    )
)
_NEXT_EXPIRY = Prepared(
    select(func.min(material.c.valid_to))
    .select_from(
        material.join(
            keys_table,
            and_(
                keys_table.c.account == material.c.account,
                keys_table.c.region == material.c.region,
                keys_table.c.key_id == material.c.key_id,
            ),
        )
    )
    .where(
        material.c.import_state == ImportState.IMPORTED.value,
        keys_table.c.state != _PENDING_DELETION,
        keys_table.c.state != _PENDING_REPLICA_DELETION,
    )
)
_NEXT_CREATED = Prepared(
    select(func.min(keys_table.c.created)).where(keys_table.c.state == KeyState.CREATING.value)
)
#: How long a new replica stays ``Creating``.
REPLICA_CREATING_SECONDS = 1.0
_ANY_REPLICA_WAIT = Prepared(
    select(keys_table.c.key_id).where(keys_table.c.state == _PENDING_REPLICA_DELETION).limit(1)
)


def _next(query: Prepared, conn: Connection) -> float | None:
    row = query.first(conn)
    return None if row is None or row[0] is None else float(row[0])


#: What the clock did to a key, for its service event:
#: ``report(event_name, key, serviceEventDetails, responseElements)``.
Report = Callable[[str, Key, "dict[str, Any] | None", "dict[str, Any] | None"], None]


def _ignore(event_name: str, key: Key, details: Any, response: Any) -> None:
    return None


def run_due(conn: Connection, sealer: Sealer, now: float, report: Report = _ignore) -> float | None:
    """Everything the clock makes happen: deletions, rotations, import expiry,
    each told to `report` as the AwsServiceEvent AWS records for it.

    Returns when the stored keys next make something due (None: nothing
    scheduled), so the scheduler can leave them alone until then. A primary
    key waiting for its replicas to go is not on a clock: its replicas'
    deletion is a state change, after which the scheduler asks again."""
    deletion = _next(_NEXT_DELETION, conn)
    rotation = _next(_NEXT_ROTATION, conn)
    expiry = _next(_NEXT_EXPIRY, conn)
    created = _next_created(conn)
    acted = any(when is not None and when <= now for when in (deletion, rotation, expiry, created))
    if created is not None and created <= now:
        _finish_replicas(conn, now)
    if deletion is not None and deletion <= now:
        for key in _rows(
            conn,
            keys_table.c.state == KeyState.PENDING_DELETION,
            keys_table.c.deletion_date <= now,
        ):
            keys.delete_key(conn, key)
            # Since December 2022 AWS names the key in responseElements.keyId.
            report("DeleteKey", key, None, {"keyId": key.arn})
    if _ANY_REPLICA_WAIT.first(conn) is not None:
        for key in _rows(conn, keys_table.c.state == KeyState.PENDING_REPLICA_DELETION):
            if len(keys.related(conn, key)) == 1:
                key.state = KeyState.PENDING_DELETION
                key.deletion_date = now + (key.pending_window or 30) * DAY
                keys.save(conn, key, "state", "deletion_date")
                acted = True
    if rotation is not None and rotation <= now:
        _rotate_due(conn, sealer, now, report)
    if expiry is not None and expiry <= now:
        _expire_due(conn, now, report)
    if acted:  # what is next is read again from the changed state
        deletion = _next(_NEXT_DELETION, conn)
        rotation = _next(_NEXT_ROTATION, conn)
        expiry = _next(_NEXT_EXPIRY, conn)
        created = _next_created(conn)
    upcoming = [when for when in (deletion, rotation, expiry, created) if when is not None]
    return min(upcoming) if upcoming else None


def _next_created(conn: Connection) -> float | None:
    """When the oldest replica still ``Creating`` is due to be finished."""
    first = _next(_NEXT_CREATED, conn)
    return None if first is None else first + REPLICA_CREATING_SECONDS


def _finish_replicas(conn: Connection, now: float) -> None:
    """Replicas whose creation is done become Enabled (PendingImport when
    their material is to be imported: each replica gets its own import)."""
    for key in _rows(
        conn,
        keys_table.c.state == KeyState.CREATING,
        keys_table.c.created <= now - REPLICA_CREATING_SECONDS,
    ):
        has_material = not key.imported and key.current_version > 0
        key.state = KeyState.ENABLED if has_material else KeyState.PENDING_IMPORT
        keys.save(conn, key, "state")


def _rotate_due(conn: Connection, sealer: Sealer, now: float, report: Report) -> None:
    for key in _rows(
        conn,
        keys_table.c.rotation_enabled.is_(True),
        keys_table.c.state == KeyState.ENABLED,
        keys_table.c.next_rotation <= now,
        keys_table.c.origin == Origin.AWS_KMS,
    ):
        if key.multi_region and not key.is_primary:
            continue
        previous = keys.current_material_id(conn, key)
        rotate(conn, sealer, key, now, RotationType.AUTOMATIC)
        key.next_rotation = now + (key.rotation_period or keys.DEFAULT_ROTATION_DAYS) * DAY
        keys.save_everywhere(conn, key, "next_rotation")
        details = {
            "rotationType": RotationType.AUTOMATIC.value,
            "keyOrigin": key.origin.value,
            "keyId": key.key_id,
        }
        if previous is not None:
            details["previousKeyMaterialId"] = previous
        current = keys.current_material_id(conn, key)
        if current is not None:
            details["currentKeyMaterialId"] = current
        report("RotateKey", key, details, None)


def _expire_due(conn: Connection, now: float, report: Report) -> None:
    for row in conn.execute(
        select(material.c.account, material.c.region, material.c.key_id, material.c.version).where(
            material.c.valid_to <= now, material.c.import_state == ImportState.IMPORTED
        )
    ).all():
        key = keys.find(conn, row.account, row.region, row.key_id)
        if key is not None and key.state not in (
            KeyState.PENDING_DELETION,
            KeyState.PENDING_REPLICA_DELETION,
        ):
            drop_imported(conn, key, row.version)
            report("DeleteExpiredKeyMaterial", key, {"keyId": key.key_id}, None)
