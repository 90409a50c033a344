"""Account-wide IAM state: the account alias, access keys' last use (read
from the audit trail, which authentication already writes in batches, so
no request pays for a last-used write) and credential reports."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from strongroom.audit import records
from strongroom.auth.tables import access_keys
from strongroom.framework import Call
from strongroom.services.iam import passwords, users
from strongroom.services.iam.common import when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    account_aliases,
    credential_reports,
    login_profiles,
    signing_certificates,
)

#: A credential report is served for four hours after it is generated.
REPORT_LIFETIME = 4 * 3600
#: GenerateCredentialReport makes a new report at most this often.
REPORT_MIN_AGE = 4 * 3600

# -- aliases -------------------------------------------------------------------


def aliases_of(call: Call) -> list[str]:
    return list(
        call.conn.execute(
            select(account_aliases.c.alias).where(account_aliases.c.account == call.account)
        ).scalars()
    )


def create_alias(call: Call, alias: str) -> None:
    """The account's alias; a new one replaces the old. Aliases are global."""
    owner = call.conn.execute(
        select(account_aliases.c.account).where(account_aliases.c.alias == alias)
    ).scalar()
    if owner == call.account:
        return
    if owner is not None:
        raise errors.EntityAlreadyExistsException(f"The account alias {alias} already exists.")
    call.conn.execute(delete(account_aliases).where(account_aliases.c.account == call.account))
    call.conn.execute(insert(account_aliases).values(alias=alias, account=call.account))


def delete_alias(call: Call, alias: str) -> None:
    done = call.conn.execute(
        delete(account_aliases).where(
            account_aliases.c.alias == alias, account_aliases.c.account == call.account
        )
    )
    if done.rowcount == 0:
        raise errors.NoSuchEntityException(f"The account alias {alias} cannot be found.")


# -- access keys' last use ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastUse:
    when: float
    service: str
    region: str


def last_use(call: Call, access_key_id: str) -> LastUse | None:
    """The newest recorded request signed with the key, from the audit trail."""
    for _seq, _index, event in records.scan(call.conn, facets=[records.facet("k", access_key_id)]):
        if event.access_key_id == access_key_id and event.account == call.account:
            service = event.event_source.split(".", 1)[0]
            return LastUse(event.event_time, service, event.region)
    return None


def to_last_used(use: LastUse | None) -> dict[str, Any]:
    if use is None:
        return {"ServiceName": "N/A", "Region": "N/A"}
    return {"LastUsedDate": when(use.when), "ServiceName": use.service, "Region": use.region}


def key_exists(call: Call, access_key_id: str) -> tuple[bool, str | None]:
    """(whether the key is one of this account's, its user's name or None for root)."""
    row = call.conn.execute(
        select(access_keys.c.user_name).where(
            access_keys.c.access_key_id == access_key_id, access_keys.c.account == call.account
        )
    ).first()
    return (row is not None, row.user_name if row else None)


# -- credential reports --------------------------------------------------------------

REPORT_COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)  # fmt: skip


def _iso(ts: float | None) -> str:
    return when(ts).isoformat() if ts is not None else "N/A"


def _key_cells(call: Call, keys: list[Any]) -> list[str]:
    cells: list[str] = []
    for i in range(2):
        if i < len(keys):
            akid, active, created = keys[i]
            use = last_use(call, akid)
            cells += [
                "true" if active else "false",
                _iso(created),
                _iso(use.when) if use else "N/A",
                use.region if use else "N/A",
                use.service if use else "N/A",
            ]
        else:
            cells += ["false", "N/A", "N/A", "N/A", "N/A"]
    return cells


def _cert_cells(call: Call, owner_id: str) -> list[str]:
    rows = call.conn.execute(
        select(signing_certificates.c.active, signing_certificates.c.uploaded)
        .where(signing_certificates.c.user_id == owner_id)
        .order_by(signing_certificates.c.uploaded)
    ).all()
    cells: list[str] = []
    for i in range(2):
        if i < len(rows):
            cells += ["true" if rows[i].active else "false", _iso(rows[i].uploaded)]
        else:
            cells += ["false", "N/A"]
    return cells


def render_report(call: Call, mfa_active: dict[str, bool] | None = None) -> bytes:
    """The account's credential report as AWS's CSV (root first, then users by name)."""
    mfa_active = mfa_active or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    root_keys = users.key_rows(call.conn, call.account, None)
    writer.writerow(
        ["<root_account>", f"arn:aws:iam::{call.account}:root", "N/A", "not_supported",
         "N/A", "not_supported", "not_supported", "false",
         *_key_cells(call, root_keys), *_cert_cells(call, f"root:{call.account}")]
    )  # fmt: skip
    policy = passwords.find_policy(call)
    max_age = (policy or {}).get("MaxPasswordAge")
    for user in users.list_users(call.conn, call.account, "/"):
        profile = passwords.find_profile(call, user)
        changed = _password_changed(call, user.user_id) if profile else None
        rotation = _iso(changed + max_age * 86400) if changed and max_age else "N/A"
        keys = users.key_rows(call.conn, call.account, user.user_name)
        writer.writerow(
            [user.user_name, user.arn, _iso(user.created),
             "true" if profile else "false", "no_information" if profile else "N/A",
             _iso(changed) if profile else "N/A", rotation,
             "true" if mfa_active.get(user.user_id) else "false",
             *_key_cells(call, keys), *_cert_cells(call, user.user_id)]
        )  # fmt: skip
    return out.getvalue().encode()


def _password_changed(call: Call, user_id: str) -> float | None:
    return call.conn.execute(
        select(login_profiles.c.changed).where(login_profiles.c.user_id == user_id)
    ).scalar()


def generate_report(call: Call, mfa_active: dict[str, bool] | None = None) -> str:
    """STARTED when a new report is made, COMPLETE while a recent one exists."""
    now = call.clock.timestamp()
    generated = call.conn.execute(
        select(credential_reports.c.generated).where(credential_reports.c.account == call.account)
    ).scalar()
    if generated is not None and now - generated < REPORT_MIN_AGE:
        return "COMPLETE"
    content = render_report(call, mfa_active)
    if generated is None:
        call.conn.execute(
            insert(credential_reports).values(account=call.account, generated=now, content=content)
        )
    else:
        call.conn.execute(
            update(credential_reports)
            .where(credential_reports.c.account == call.account)
            .values(generated=now, content=content)
        )
    return "STARTED"


def resolve_report(call: Call) -> tuple[float, bytes]:
    row = call.conn.execute(
        select(credential_reports.c.generated, credential_reports.c.content).where(
            credential_reports.c.account == call.account
        )
    ).first()
    if row is None:
        raise errors.CredentialReportNotPresentException(
            "The credential report does not exist. To generate a credential report, "
            "use GenerateCredentialReport."
        )
    if call.clock.timestamp() - row.generated > REPORT_LIFETIME:
        raise errors.CredentialReportExpiredException(
            "The most recent credential report has expired. To generate a new credential "
            "report, use GenerateCredentialReport."
        )
    return row.generated, bytes(row.content)
