"""Functions and their versions: the rows, the rules AWS applies to them,
and their projection onto FunctionConfiguration.

``$LATEST`` is the function's one changeable version; PublishVersion copies
it to a numbered one that never changes. States are AWS's: a new function is
``Pending`` for a moment (its code being readied) then ``Active``; an update
leaves ``LastUpdateStatus`` ``InProgress`` for a moment, then ``Successful``.
While either lasts, the calls AWS refuses are refused here too
(`require_ready`, `require_not_updating`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from strongroom.encoding import json_text, json_value
from strongroom.framework import Call
from strongroom.ids import uuid4
from strongroom.services.lambda_ import names
from strongroom.services.lambda_.names import LATEST, Ref
from strongroom.services.lambda_.service import errors
from strongroom.services.lambda_.tables import aliases, functions, policies, versions

#: How long a new function is Pending and an update InProgress (seconds of
#: the server's clock): long enough to be seen, as on AWS, where clients
#: wait with the function_active_v2 / function_updated_v2 waiters.
SETTLE_SECONDS = 0.3
#: AWS's quota on a function's environment variables (their JSON text).
MAX_ENVIRONMENT = 4096
#: Members of the configuration kept as given and reported back.
EXTRA_MEMBERS = (
    "Architectures",
    "EphemeralStorage",
    "TracingConfig",
    "LoggingConfig",
    "PackageType",
    "KMSKeyArn",
    "DeadLetterConfig",
    "SnapStart",
)
DEFAULTS: dict[str, Any] = {
    "Architectures": ["x86_64"],
    "EphemeralStorage": {"Size": 512},
    "TracingConfig": {"Mode": "PassThrough"},
    "PackageType": "Zip",
    "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
}


@dataclass(frozen=True, slots=True)
class Version:
    account: str
    region: str
    name: str
    version: str
    runtime: str
    role: str
    handler: str
    description: str
    timeout: int
    memory: int
    code_sha256: str
    code_size: int
    environment: bytes | None
    config: dict[str, Any]
    last_modified: float
    revision_id: str
    pending_until: float
    updating_until: float | None

    @property
    def arn(self) -> str:
        """The version's ARN as AWS reports FunctionArn: unqualified for $LATEST."""
        qualifier = None if self.version == LATEST else self.version
        return names.function_arn(self.account, self.region, self.name, qualifier)

    @property
    def qualified_arn(self) -> str:
        return names.function_arn(self.account, self.region, self.name, self.version)

    def state(self, now: float) -> str:
        return "Pending" if now < self.pending_until else "Active"

    def last_update_status(self, now: float) -> str:
        if self.updating_until is not None and now < self.updating_until:
            return "InProgress"
        return "Successful"


def _aad(account: str, region: str, name: str, version: str) -> bytes:
    return f"lambda-environment:{account}:{region}:{name}:{version}".encode()


def seal_variables(
    call: Any, ref_parts: tuple[str, str, str, str], env: dict[str, str] | None
) -> bytes | None:
    """The variables sealed under the root key for one version (None: none)."""
    if env is None:
        return None
    return call.sealer.seal(json_text(env).encode(), _aad(*ref_parts))


def variables(sealer: Any, v: Version) -> dict[str, str] | None:
    """The version's environment variables (None: none set)."""
    if v.environment is None:
        return None
    return json_value(sealer.unseal(v.environment, _aad(v.account, v.region, v.name, v.version)))


def require_environment_size(env: dict[str, str] | None) -> None:
    if env is not None and len(json_text(env).encode()) > MAX_ENVIRONMENT:
        raise errors.InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit."
        )


def _from_row(row: Any) -> Version:
    m = row._mapping
    return Version(
        m["account"],
        m["region"],
        m["name"],
        m["version"],
        m["runtime"],
        m["role"],
        m["handler"],
        m["description"],
        m["timeout"],
        m["memory"],
        m["code_sha256"],
        m["code_size"],
        m["environment"],
        m["config"] or {},
        m["last_modified"],
        m["revision_id"],
        m["pending_until"],
        m["updating_until"],
    )


def _key(t: Any, account: str, region: str, name: str) -> Any:
    return (t.c.account == account) & (t.c.region == region) & (t.c.name == name)


# --------------------------------------------------------------------------- reads


def exists(conn: Any, ref: Ref) -> bool:
    row = conn.execute(
        select(functions.c.name).where(_key(functions, ref.account, ref.region, ref.name))
    ).first()
    return row is not None


def version(conn: Any, ref: Ref, number: str) -> Version | None:
    row = conn.execute(
        select(versions).where(
            _key(versions, ref.account, ref.region, ref.name) & (versions.c.version == number)
        )
    ).first()
    return None if row is None else _from_row(row)


def alias_target(conn: Any, ref: Ref, alias: str) -> str | None:
    row = conn.execute(
        select(aliases.c.function_version).where(
            _key(aliases, ref.account, ref.region, ref.name) & (aliases.c.alias == alias)
        )
    ).first()
    return None if row is None else row[0]


def resolve(conn: Any, ref: Ref) -> Version:
    """The version `ref` names: $LATEST when unqualified, a number, or the
    version an alias points at. ResourceNotFoundException otherwise."""
    qualifier = ref.qualifier or LATEST
    if qualifier != LATEST and not names.is_version_number(qualifier):
        target = alias_target(conn, ref, qualifier)
        if target is None:
            raise names.not_found(ref)
        qualifier = target
    found = version(conn, ref, qualifier)
    if found is None:
        raise names.not_found(ref)
    return found


def all_versions(conn: Any, ref: Ref) -> list[Version]:
    rows = conn.execute(
        select(versions).where(_key(versions, ref.account, ref.region, ref.name))
    ).fetchall()
    found = [_from_row(r) for r in rows]
    return sorted(
        found, key=lambda v: (v.version != LATEST, int(v.version) if v.version.isdigit() else 0)
    )


def latest_in(conn: Any, account: str, region: str) -> list[Version]:
    """Every $LATEST of the account and Region, by name."""
    rows = conn.execute(
        select(versions)
        .where(
            (versions.c.account == account)
            & (versions.c.region == region)
            & (versions.c.version == LATEST)
        )
        .order_by(versions.c.name)
    ).fetchall()
    return [_from_row(r) for r in rows]


def tags(conn: Any, ref: Ref) -> dict[str, str]:
    row = conn.execute(
        select(functions.c.tags).where(_key(functions, ref.account, ref.region, ref.name))
    ).first()
    return dict(row[0]) if row is not None and row[0] else {}


def set_tags(conn: Any, ref: Ref, new: dict[str, str]) -> None:
    conn.execute(
        update(functions).where(_key(functions, ref.account, ref.region, ref.name)).values(tags=new)
    )


def reserved_concurrency(conn: Any, ref: Ref) -> int | None:
    row = conn.execute(
        select(functions.c.reserved_concurrency).where(
            _key(functions, ref.account, ref.region, ref.name)
        )
    ).first()
    return None if row is None else row[0]


def set_reserved_concurrency(conn: Any, ref: Ref, value: int | None) -> None:
    conn.execute(
        update(functions)
        .where(_key(functions, ref.account, ref.region, ref.name))
        .values(reserved_concurrency=value)
    )


def account_usage(conn: Any, account: str, region: str) -> tuple[int, int, int]:
    """(function count, total code size of every version, reserved concurrency)."""
    count = conn.execute(
        select(func.count())
        .select_from(functions)
        .where((functions.c.account == account) & (functions.c.region == region))
    ).scalar()
    size = conn.execute(
        select(func.coalesce(func.sum(versions.c.code_size), 0)).where(
            (versions.c.account == account) & (versions.c.region == region)
        )
    ).scalar()
    reserved = conn.execute(
        select(func.coalesce(func.sum(functions.c.reserved_concurrency), 0)).where(
            (functions.c.account == account) & (functions.c.region == region)
        )
    ).scalar()
    return int(count or 0), int(size or 0), int(reserved or 0)


def code_in_use(conn: Any, code_sha256: str) -> bool:
    row = conn.execute(
        select(versions.c.name).where(versions.c.code_sha256 == code_sha256).limit(1)
    ).first()
    return row is not None


# --------------------------------------------------------------------------- writes


def create(
    call: Call,
    ref: Ref,
    *,
    runtime: str,
    role: str,
    handler: str,
    description: str,
    timeout: int,
    memory: int,
    code_sha256: str,
    code_size: int,
    environment: dict[str, str] | None,
    config: dict[str, Any],
    tags_: dict[str, str],
) -> Version:
    now = call.clock.timestamp()
    call.conn.execute(
        insert(functions).values(
            account=ref.account,
            region=ref.region,
            name=ref.name,
            created=now,
            next_version=1,
            tags=tags_,
        )
    )
    row = {
        "account": ref.account,
        "region": ref.region,
        "name": ref.name,
        "version": LATEST,
        "runtime": runtime,
        "role": role,
        "handler": handler,
        "description": description,
        "timeout": timeout,
        "memory": memory,
        "code_sha256": code_sha256,
        "code_size": code_size,
        "environment": seal_variables(
            call, (ref.account, ref.region, ref.name, LATEST), environment
        ),
        "config": config,
        "last_modified": now,
        "revision_id": uuid4(),
        "pending_until": now + SETTLE_SECONDS,
        "updating_until": None,
    }
    call.conn.execute(insert(versions).values(**row))
    return Version(**row)


def update_latest(call: Call, current: Version, **changes: Any) -> Version:
    """Change $LATEST (`changes` are column values; ``environment`` as a
    dict of variables, or None to leave it): a new RevisionId, an update
    InProgress for a moment."""
    now = call.clock.timestamp()
    values = dict(changes)
    if "environment" in values:
        values["environment"] = seal_variables(
            call, (current.account, current.region, current.name, LATEST), values["environment"]
        )
    values.update(last_modified=now, revision_id=uuid4(), updating_until=now + SETTLE_SECONDS)
    call.conn.execute(
        update(versions)
        .where(
            _key(versions, current.account, current.region, current.name)
            & (versions.c.version == LATEST)
        )
        .values(**values)
    )
    return replace(current, **values)


def publish(call: Call, latest: Version, description: str | None) -> Version:
    """A new numbered version: a copy of $LATEST that never changes."""
    ref = Ref(latest.account, latest.region, latest.name, None)
    row = call.conn.execute(
        select(functions.c.next_version).where(_key(functions, ref.account, ref.region, ref.name))
    ).first()
    number = str(row[0])
    call.conn.execute(
        update(functions)
        .where(_key(functions, ref.account, ref.region, ref.name))
        .values(next_version=row[0] + 1)
    )
    now = call.clock.timestamp()
    env = variables(call.sealer, latest)
    values = {
        "account": latest.account,
        "region": latest.region,
        "name": latest.name,
        "version": number,
        "runtime": latest.runtime,
        "role": latest.role,
        "handler": latest.handler,
        "description": latest.description if description is None else description,
        "timeout": latest.timeout,
        "memory": latest.memory,
        "code_sha256": latest.code_sha256,
        "code_size": latest.code_size,
        "environment": seal_variables(call, (ref.account, ref.region, ref.name, number), env),
        "config": latest.config,
        "last_modified": now,
        "revision_id": uuid4(),
        "pending_until": now,
        "updating_until": None,
    }
    call.conn.execute(insert(versions).values(**values))
    return Version(**values)


def touch_latest_revision(call: Call, latest: Version) -> None:
    """PublishVersion changes $LATEST's RevisionId, as on AWS."""
    call.conn.execute(
        update(versions)
        .where(
            _key(versions, latest.account, latest.region, latest.name)
            & (versions.c.version == LATEST)
        )
        .values(revision_id=uuid4())
    )


def delete_function(conn: Any, ref: Ref) -> list[str]:
    """Delete the function, its versions, aliases and policies; the code
    digests it used."""
    used = [v.code_sha256 for v in all_versions(conn, ref)]
    for t in (versions, aliases, policies, functions):
        conn.execute(delete(t).where(_key(t, ref.account, ref.region, ref.name)))
    return used


def delete_version(conn: Any, ref: Ref, number: str) -> str | None:
    found = version(conn, ref, number)
    if found is None:
        return None
    conn.execute(
        delete(versions).where(
            _key(versions, ref.account, ref.region, ref.name) & (versions.c.version == number)
        )
    )
    conn.execute(
        delete(policies).where(
            _key(policies, ref.account, ref.region, ref.name) & (policies.c.qualifier == number)
        )
    )
    return found.code_sha256


def aliases_on(conn: Any, ref: Ref, number: str) -> list[str]:
    rows = conn.execute(
        select(aliases.c.alias).where(
            _key(aliases, ref.account, ref.region, ref.name)
            & (aliases.c.function_version == number)
        )
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- rules


def require_ready(call: Call, v: Version) -> None:
    """Refuse what AWS refuses of a function that is not Active yet (Invoke,
    UpdateFunctionCode, UpdateFunctionConfiguration, PublishVersion)."""
    state = v.state(call.clock.timestamp())
    if state != "Active":
        raise errors.ResourceConflictException(
            "The operation cannot be performed at this time. "
            f"The function is currently in the following state: {state}"
        )


def require_not_updating(call: Call, v: Version) -> None:
    if v.last_update_status(call.clock.timestamp()) == "InProgress":
        raise errors.ResourceConflictException(
            "The operation cannot be performed at this time. "
            f"An update is in progress for resource: {v.arn}"
        )


def require_revision(revision_id: str | None, current: str) -> None:
    if revision_id is not None and revision_id != current:
        raise errors.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


# --------------------------------------------------------------------------- projection


def last_modified_text(ts: float) -> str:
    """AWS's LastModified: ``2024-01-31T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_configuration(call: Any, v: Version) -> dict[str, Any]:
    """FunctionConfiguration of a version."""
    now = call.clock.timestamp()
    state = v.state(now)
    out: dict[str, Any] = {
        "FunctionName": v.name,
        "FunctionArn": v.qualified_arn if v.version != LATEST else v.arn,
        "Runtime": v.runtime,
        "Role": v.role,
        "Handler": v.handler,
        "CodeSize": v.code_size,
        "Description": v.description,
        "Timeout": v.timeout,
        "MemorySize": v.memory,
        "LastModified": last_modified_text(v.last_modified),
        "CodeSha256": v.code_sha256,
        "Version": v.version,
        "RevisionId": v.revision_id,
        "State": state,
        "LastUpdateStatus": v.last_update_status(now),
    }
    if state == "Pending":
        out["StateReason"] = "The function is being created."
        out["StateReasonCode"] = "Creating"
    if out["LastUpdateStatus"] == "InProgress":
        out["LastUpdateStatusReason"] = "The function is being updated."
    env = variables(call.sealer, v)
    if env is not None:
        out["Environment"] = {"Variables": env}
    for member in EXTRA_MEMBERS:
        if member in v.config:
            out[member] = v.config[member]
        elif member in DEFAULTS:
            out[member] = DEFAULTS[member]
    out.setdefault("LoggingConfig", {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{v.name}"})
    out["RuntimeVersionConfig"] = {
        "RuntimeVersionArn": f"arn:aws:lambda:{v.region}::runtime:strongroom-{v.runtime}"
    }
    return out
