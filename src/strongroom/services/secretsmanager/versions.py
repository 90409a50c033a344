"""Versions and staging labels: the model rotation works on.

A version is a value (or, for a version a rotation recorded before its
createSecret step, no value) with an id the caller chose (ClientRequestToken).
Staging labels point at versions: AWSCURRENT at the value clients read,
AWSPREVIOUS at the one before it, AWSPENDING at the one a rotation is
making, and any label of the caller's own. A label points at one version at
most (the label table's key says so); moving AWSCURRENT moves AWSPREVIOUS to
the version it left (`attach`). A version no label points at is deprecated:
ListSecretVersionIds hides it unless asked, and once a secret holds more than
100 versions the deprecated ones older than a day are removed (`prune`),
oldest first, as AWS does.

Rotation (not served yet) needs nothing more: RotateSecret records a version
with no value under AWSPENDING (`add` with ``kind=None``), its steps put the
value (PutSecretValue with that token) and move AWSCURRENT
(`attach`), and a rotation in progress is an AWSPENDING on a version other
than AWSCURRENT's (`rotation_in_progress`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from strongroom.framework import Call
from strongroom.services.secretsmanager.secrets import Secret, cached, dt
from strongroom.services.secretsmanager.service import errors
from strongroom.services.secretsmanager.tables import labels, versions
from strongroom.store.db import Prepared

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"
#: Versions a secret keeps before deprecated ones are removed, and how old
#: a deprecated version must be to go.
MAX_VERSIONS = 100
MIN_AGE = 86400.0
#: Staging labels one version may carry.
MAX_LABELS = 20


@dataclass(slots=True)
class Version:
    secret_arn: str
    version_id: str
    seq: int
    created: float
    kind: str | None
    data_key: bytes | None
    key_arn: str | None
    sealed: bytes | None

    def __post_init__(self) -> None:
        if self.data_key is not None:
            self.data_key = bytes(self.data_key)
        if self.sealed is not None:
            self.sealed = bytes(self.sealed)

    @property
    def has_value(self) -> bool:
        return self.kind is not None

    @property
    def created_date(self) -> datetime:
        return dt(self.created)


_V = [versions.c[n] for n in Version.__slots__]  # type: ignore[attr-defined]

_BY_ID = Prepared(
    select(*_V).where(
        versions.c.secret_arn == bindparam("arn"),
        versions.c.version_id == bindparam("version_id"),
    )
)
_BY_LABEL = Prepared(
    select(*_V)
    .select_from(
        labels.join(
            versions,
            (versions.c.secret_arn == labels.c.secret_arn)
            & (versions.c.version_id == labels.c.version_id),
        )
    )
    .where(labels.c.secret_arn == bindparam("arn"), labels.c.label == bindparam("label"))
)
_LABELS = Prepared(
    select(labels.c.label, labels.c.version_id)
    .where(labels.c.secret_arn == bindparam("arn"))
    .order_by(labels.c.label)
)


def find(call: Call, arn: str, version_id: str) -> Version | None:
    row = cached(call, "sm-version", _BY_ID, arn=arn, version_id=version_id)
    return Version(*row) if row is not None else None


def find_by_label(call: Call, arn: str, label: str) -> Version | None:
    row = cached(call, "sm-label", _BY_LABEL, arn=arn, label=label)
    return Version(*row) if row is not None else None


def label_map(call: Call, arn: str) -> dict[str, str]:
    """label -> version id."""
    store = call.store
    key = ("sm-labels", arn)
    found = store.hot_get(key)
    if found is None:
        found = tuple(_LABELS.all(call.conn, arn=arn))
        store.hot_put(key, found)
    return {label: vid for label, vid in found}


def stages(call: Call, arn: str) -> dict[str, list[str]]:
    """version id -> its labels (VersionIdsToStages: labelled versions only)."""
    out: dict[str, list[str]] = {}
    for label, vid in label_map(call, arn).items():
        out.setdefault(vid, []).append(label)
    return out


def all_versions(conn: Connection, arn: str) -> list[Version]:
    """Every version of a secret, newest first."""
    rows = conn.execute(select(*_V).where(versions.c.secret_arn == arn).order_by(-versions.c.seq))
    return [Version(*row) for row in rows]


def select_version(
    call: Call, secret: Secret, version_id: str | None, stage: str | None
) -> Version:
    """The version GetSecretValue names: by id, by label (default AWSCURRENT),
    or both, which must agree; ResourceNotFoundException in AWS's words."""
    if version_id is not None:
        version = find(call, secret.arn, version_id)
        if version is None:
            raise errors.ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            )
        if stage is not None and label_map(call, secret.arn).get(stage) != version_id:
            raise errors.InvalidRequestException(
                "You provided a VersionStage that is not associated to the provided VersionId."
            )
        return version
    label = stage or CURRENT
    version = find_by_label(call, secret.arn, label)
    if version is None:
        raise errors.ResourceNotFoundException(
            f"Secrets Manager can't find the specified secret value for staging label: {label}"
        )
    return version


# --------------------------------------------------------------------------- writes


def add(
    conn: Connection,
    secret: Secret,
    version_id: str,
    now: float,
    *,
    kind: str | None,
    data_key: bytes | None = None,
    key_arn: str | None = None,
    sealed: bytes | None = None,
) -> Version:
    """A new version (no labels yet); the secret's version counter moves on
    (the caller saves it)."""
    secret.version_seq += 1
    version = Version(
        secret.arn, version_id, secret.version_seq, now, kind, data_key, key_arn, sealed
    )
    conn.execute(insert(versions).values(**{n: getattr(version, n) for n in Version.__slots__}))  # type: ignore[attr-defined]
    return version


def attach(call: Call, secret: Secret, label: str, version_id: str) -> None:
    """Put `label` on `version_id`, taking it off any other version; moving
    AWSCURRENT puts AWSPREVIOUS on the version it left."""
    conn = call.conn
    held = label_map(call, secret.arn)
    old = held.get(label)
    if old == version_id:
        return
    if sum(1 for vid in held.values() if vid == version_id) >= MAX_LABELS:
        raise errors.LimitExceededException(
            f"A version of a secret can have at most {MAX_LABELS} staging labels."
        )
    _set(conn, secret.arn, label, version_id)
    if label == CURRENT and old is not None:
        _set(conn, secret.arn, PREVIOUS, old)


def detach(conn: Connection, secret: Secret, label: str) -> None:
    conn.execute(delete(labels).where(labels.c.secret_arn == secret.arn, labels.c.label == label))


def _set(conn: Connection, arn: str, label: str, version_id: str) -> None:
    conn.execute(delete(labels).where(labels.c.secret_arn == arn, labels.c.label == label))
    conn.execute(insert(labels).values(secret_arn=arn, label=label, version_id=version_id))


def replace_value(
    conn: Connection, version: Version, data_key: bytes, key_arn: str, sealed: bytes, kind: str
) -> None:
    """A version's value, sealed anew: re-encrypted under another key
    (UpdateSecret with a new KmsKeyId), or given to a version recorded
    without one."""
    conn.execute(
        versions.update()
        .where(
            versions.c.secret_arn == version.secret_arn,
            versions.c.version_id == version.version_id,
        )
        .values(data_key=data_key, key_arn=key_arn, sealed=sealed, kind=kind)
    )


def prune(conn: Connection, secret: Secret, now: float) -> int:
    """Remove deprecated versions older than a day, oldest first, while the
    secret holds more than `MAX_VERSIONS`; how many went."""
    count = conn.execute(
        select(func.count()).where(versions.c.secret_arn == secret.arn)
    ).scalar_one()
    if count <= MAX_VERSIONS:
        return 0
    labelled = select(labels.c.version_id).where(labels.c.secret_arn == secret.arn)
    doomed = [
        row[0]
        for row in conn.execute(
            select(versions.c.version_id)
            .where(
                versions.c.secret_arn == secret.arn,
                versions.c.version_id.not_in(labelled),
                versions.c.created <= now - MIN_AGE,
            )
            .order_by(versions.c.seq)
            .limit(count - MAX_VERSIONS)
        )
    ]
    if doomed:
        conn.execute(
            delete(versions).where(
                versions.c.secret_arn == secret.arn, versions.c.version_id.in_(doomed)
            )
        )
    return len(doomed)


def rotation_in_progress(call: Call, secret: Secret) -> bool:
    """AWSPENDING on a version AWSCURRENT is not on: a rotation not finished."""
    held = label_map(call, secret.arn)
    pending = held.get(PENDING)
    return pending is not None and pending != held.get(CURRENT)


def copy_labels(conn: Connection, source_arn: str, target_arn: str) -> None:
    """The target's labels become the source's (a replica follows its primary)."""
    rows = conn.execute(
        select(labels.c.label, labels.c.version_id).where(labels.c.secret_arn == source_arn)
    ).all()
    conn.execute(delete(labels).where(labels.c.secret_arn == target_arn))
    if rows:
        conn.execute(
            insert(labels),
            [{"secret_arn": target_arn, "label": label, "version_id": vid} for label, vid in rows],
        )
