"""Virtual MFA devices: a TOTP (RFC 6238: HMAC-SHA1, 30-second steps, six
digits) seed made here, shown once at creation and stored only sealed;
enabling and resynchronising take two consecutive codes by the server clock."""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.framework import Call
from strongroom.ids import random_bytes
from strongroom.services.iam import qr, users
from strongroom.services.iam.common import iam_arn, when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import mfa_devices

if TYPE_CHECKING:
    from strongroom.store.sealing import Sealer

STEP = 30
DIGITS = 6
SEED_BYTES = 20
#: Steps either side of now a pair of codes may lie in: enabling, resynchronising.
ENABLE_WINDOW = 10
RESYNC_WINDOW = 60
#: MFA devices per user (IAM quota).
MAX_PER_USER = 8
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def base32(data: bytes) -> str:
    """RFC 4648 base32 without padding (a 20-byte seed is 32 characters)."""
    bits = int.from_bytes(data, "big")
    count = len(data) * 8
    pad = (5 - count % 5) % 5
    bits <<= pad
    count += pad
    return "".join(_B32[(bits >> (count - 5 * (i + 1))) & 31] for i in range(count // 5))


def totp(seed: bytes, step: int) -> str:
    digest = hmac.new(seed, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(seed: bytes, now: float, code1: str, code2: str, window: int) -> int | None:
    """The step of `code2` when `code1`, `code2` are the codes of two
    consecutive steps within `window` steps of now, else None."""
    current = int(now // STEP)
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(totp(seed, step), code1) and hmac.compare_digest(
            totp(seed, step + 1), code2
        ):
            return step + 1
    return None


@dataclass(slots=True)
class Device:
    serial: str
    account: str
    path: str
    created: float
    seed_sealed: bytes
    user_id: str | None
    enabled: float | None
    last_step: int
    tags: list[dict[str, str]]

    def to_virtual(self, user: users.User | None) -> dict[str, Any]:
        out: dict[str, Any] = {"SerialNumber": self.serial}
        if user is not None:
            out["User"] = user.to_user()
        if self.enabled is not None:
            out["EnableDate"] = when(self.enabled)
        if self.tags:
            out["Tags"] = self.tags
        return out

    def to_mfa(self, user_name: str) -> dict[str, Any]:
        return {
            "UserName": user_name,
            "SerialNumber": self.serial,
            "EnableDate": when(self.enabled or self.created),
        }


def serial_of(account: str, path: str, name: str) -> str:
    return iam_arn(account, "mfa", path, name)


def _aad(serial: str) -> bytes:
    return f"iam-mfa-seed:{serial}".encode()


def _from_row(row: Any) -> Device:
    return Device(
        serial=row.serial,
        account=row.account,
        path=row.path,
        created=row.created,
        seed_sealed=row.seed_sealed,
        user_id=row.user_id,
        enabled=row.enabled,
        last_step=row.last_step,
        tags=row.tags or [],
    )


def find_device(call: Call, serial: str) -> Device | None:
    row = call.conn.execute(
        select(mfa_devices).where(
            mfa_devices.c.serial == serial, mfa_devices.c.account == call.account
        )
    ).first()
    return _from_row(row) if row else None


def resolve_device(call: Call, serial: str) -> Device:
    found = find_device(call, serial)
    if found is None:
        raise errors.NoSuchEntityException(
            f"VirtualMFADevice with serial number {serial} doesn't exist."
        )
    return found


def create_device(
    call: Call, name: str, path: str, tags: list[dict[str, str]]
) -> tuple[Device, bytes]:
    """A new unassigned device and its seed's base32 text (returned once, never stored)."""
    exists = call.conn.execute(
        select(mfa_devices.c.serial).where(
            mfa_devices.c.account == call.account, mfa_devices.c.name_key == name.lower()
        )
    ).first()
    if exists is not None:
        raise errors.EntityAlreadyExistsException(
            "MFADevice entity at the same path and name already exists."
        )
    seed = random_bytes(SEED_BYTES)
    serial = serial_of(call.account, path, name)
    device = Device(
        serial=serial,
        account=call.account,
        path=path,
        created=call.clock.timestamp(),
        seed_sealed=call.sealer.seal(seed, _aad(serial)),
        user_id=None,
        enabled=None,
        last_step=0,
        tags=tags,
    )
    call.conn.execute(
        insert(mfa_devices).values(
            serial=serial,
            account=call.account,
            name_key=name.lower(),
            path=path,
            created=device.created,
            seed_sealed=device.seed_sealed,
            last_step=0,
            tags=tags,
        )
    )
    return device, base32(seed).encode()


def qr_code(call: Call, name: str, seed_text: bytes) -> bytes:
    """The PNG an authenticator app scans: ``otpauth://totp/NAME@ACCOUNT?secret=SEED``
    (the account id stands for the user name, none being set yet)."""
    label = quote(f"{name}@{call.account}", safe="@")
    return qr.qr_png(f"otpauth://totp/{label}?secret={seed_text.decode()}")


def _verify(call: Call, device: Device, code1: str, code2: str, window: int) -> int:
    seed = call.sealer.unseal(device.seed_sealed, _aad(device.serial))
    step = matching_step(seed, call.clock.timestamp(), code1, code2, window)
    if step is None or step <= device.last_step:
        raise errors.InvalidAuthenticationCodeException(
            "Authentication code for device is not valid."
        )
    return step


def enable(call: Call, user: users.User, serial: str, code1: str, code2: str) -> None:
    device = resolve_device(call, serial)
    if device.user_id is not None:
        raise errors.EntityAlreadyExistsException("MFA Device is already in use.")
    if count_for_user(call, user.user_id) >= MAX_PER_USER:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for MFADevicesPerUser: {MAX_PER_USER}"
        )
    step = _verify(call, device, code1, code2, ENABLE_WINDOW)
    call.conn.execute(
        update(mfa_devices)
        .where(mfa_devices.c.serial == serial)
        .values(user_id=user.user_id, enabled=call.clock.timestamp(), last_step=step)
    )


def resync(call: Call, user: users.User, serial: str, code1: str, code2: str) -> None:
    device = assigned_to(call, user, serial)
    step = _verify(call, device, code1, code2, RESYNC_WINDOW)
    call.conn.execute(
        update(mfa_devices).where(mfa_devices.c.serial == serial).values(last_step=step)
    )


def assigned_to(call: Call, user: users.User, serial: str) -> Device:
    device = find_device(call, serial)
    if device is None or device.user_id != user.user_id:
        raise errors.NoSuchEntityException(
            f"MFA Device with serial number {serial} does not exist."
        )
    return device


def deactivate(call: Call, user: users.User, serial: str) -> None:
    assigned_to(call, user, serial)
    call.conn.execute(
        update(mfa_devices).where(mfa_devices.c.serial == serial).values(user_id=None, enabled=None)
    )


def delete_device(call: Call, serial: str) -> None:
    device = resolve_device(call, serial)
    if device.user_id is not None:
        raise errors.DeleteConflictException("MFA Device is still in use.")
    call.conn.execute(delete(mfa_devices).where(mfa_devices.c.serial == serial))


def count_for_user(call: Call, user_id: str) -> int:
    return call.conn.execute(
        select(func.count()).select_from(mfa_devices).where(mfa_devices.c.user_id == user_id)
    ).scalar_one()


def devices_of(call: Call, user: users.User) -> list[Device]:
    rows = call.conn.execute(
        select(mfa_devices)
        .where(mfa_devices.c.user_id == user.user_id)
        .order_by(mfa_devices.c.enabled, mfa_devices.c.serial)
    ).all()
    return [_from_row(r) for r in rows]


def list_devices(call: Call, status: str) -> list[tuple[Device, users.User | None]]:
    rows = call.conn.execute(
        select(mfa_devices)
        .where(mfa_devices.c.account == call.account)
        .order_by(mfa_devices.c.serial)
    ).all()
    by_id = {u.user_id: u for u in users.list_users(call.conn, call.account, "/")}
    out = []
    for row in rows:
        device = _from_row(row)
        assigned = device.user_id is not None
        if (status == "Assigned" and not assigned) or (status == "Unassigned" and assigned):
            continue
        out.append((device, by_id.get(device.user_id) if device.user_id else None))
    return out


def active_by_user(call: Call) -> dict[str, bool]:
    """user id -> True for every user of the account with an enabled device."""
    ids = call.conn.execute(
        select(mfa_devices.c.user_id).where(
            mfa_devices.c.account == call.account, mfa_devices.c.user_id.is_not(None)
        )
    ).scalars()
    return dict.fromkeys(ids, True)


def set_tags(call: Call, device: Device, tags: list[dict[str, str]]) -> None:
    call.conn.execute(
        update(mfa_devices).where(mfa_devices.c.serial == device.serial).values(tags=tags)
    )


# -- MFA in authentication (STS GetSessionToken / AssumeRole) -------------------------------

#: Steps either side of now a sign-in code may lie in: one step of network
#: delay and clock drift, as RFC 6238 section 5.2 recommends.
SIGN_IN_WINDOW = 1


def device_of(conn: Connection, account: str, serial: str) -> Device | None:
    """The device `serial` of `account`, assigned or not, or None."""
    row = conn.execute(
        select(mfa_devices).where(mfa_devices.c.serial == serial, mfa_devices.c.account == account)
    ).first()
    return _from_row(row) if row else None


def accept_code(conn: Connection, sealer: Sealer, device: Device, code: str, now: float) -> bool:
    """Whether `code` is the device's TOTP for a step within SIGN_IN_WINDOW of
    `now` that no earlier code (sign-in, enabling or resynchronising) used;
    the step is then spent. The update is conditional on the step still
    being unspent, so two concurrent requests with one code cannot both pass."""
    seed = sealer.unseal(device.seed_sealed, _aad(device.serial))
    current = int(now // STEP)
    for step in range(current - SIGN_IN_WINDOW, current + SIGN_IN_WINDOW + 1):
        if step <= device.last_step or not hmac.compare_digest(totp(seed, step), code):
            continue
        spent = conn.execute(
            update(mfa_devices)
            .where(mfa_devices.c.serial == device.serial, mfa_devices.c.last_step < step)
            .values(last_step=step)
        )
        return spent.rowcount == 1
    return False
