"""Console passwords: the account password policy and users' login profiles.

A password is never stored: its salted scrypt hash is, and only sealed under
the root key with the user's id as associated data. Passwords are checked
against the account's policy (or IAM's defaults when none is set).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.ids import random_bytes
from strongroom.services.iam import signin
from strongroom.services.iam.common import when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import login_profiles, password_history, password_policies
from strongroom.services.iam.users import User

#: IAM's values for members UpdateAccountPasswordPolicy leaves out.
POLICY_DEFAULTS: dict[str, Any] = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
}
#: The symbols IAM counts for RequireSymbols.
SYMBOLS = set("!@#$%^&*()_+-=[]{}|'")
_HASH_VERSION = 1
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


# -- the account password policy ---------------------------------------------


def find_policy(call: Call) -> dict[str, Any] | None:
    policy = call.conn.execute(
        select(password_policies.c.policy).where(password_policies.c.account == call.account)
    ).scalar()
    return policy


def resolve_policy(call: Call) -> dict[str, Any]:
    found = find_policy(call)
    if found is None:
        raise errors.NoSuchEntityException(
            f"The Password Policy with domain name {call.account} cannot be found."
        )
    return found


def effective_policy(call: Call) -> dict[str, Any]:
    return find_policy(call) or dict(POLICY_DEFAULTS)


def put_policy(call: Call, given: dict[str, Any]) -> None:
    """Replace the account's policy: members not given take IAM's defaults."""
    policy = {**POLICY_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    if find_policy(call) is None:
        call.conn.execute(insert(password_policies).values(account=call.account, policy=policy))
    else:
        call.conn.execute(
            update(password_policies)
            .where(password_policies.c.account == call.account)
            .values(policy=policy)
        )


def delete_policy(call: Call) -> None:
    resolve_policy(call)
    call.conn.execute(delete(password_policies).where(password_policies.c.account == call.account))


def to_password_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The PasswordPolicy shape: ExpirePasswords derived, unset limits left out."""
    out = {k: policy[k] for k in POLICY_DEFAULTS}
    out["ExpirePasswords"] = bool(policy.get("MaxPasswordAge"))
    for key in ("MaxPasswordAge", "PasswordReusePrevention", "HardExpiry"):
        if policy.get(key):
            out[key] = policy[key]
    return out


def self_service_grant(call: Call, user_arn: str) -> str | None:
    """With AllowUsersToChangePassword, the account grants each user
    iam:ChangePassword on itself: a policy document saying so (explicit denies
    in the user's policies still win), else None."""
    policy = find_policy(call)
    if not policy or not policy.get("AllowUsersToChangePassword"):
        return None
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": "iam:ChangePassword",
        "Resource": user_arn,
    }
    return json_text({"Version": "2012-10-17", "Statement": [grant]})


def require_conforming(call: Call, password: str) -> None:
    """PasswordPolicyViolation unless `password` meets the account's policy."""
    policy = effective_policy(call)
    problems = []
    if len(password) < policy["MinimumPasswordLength"]:
        problems.append(
            f"Password should have at least {policy['MinimumPasswordLength']} characters"
        )
    checks = (
        ("RequireUppercaseCharacters", str.isupper, "one uppercase letter"),
        ("RequireLowercaseCharacters", str.islower, "one lowercase letter"),
        ("RequireNumbers", str.isdigit, "one number"),
        ("RequireSymbols", lambda c: c in SYMBOLS, "one symbol"),
    )
    for key, test, what in checks:
        if policy.get(key) and not any(test(c) for c in password):
            problems.append(f"Password should have at least {what}")
    if problems:
        raise errors.PasswordPolicyViolationException("; ".join(problems))


# -- hashing -------------------------------------------------------------------


def _aad(user: User) -> bytes:
    return f"iam-login-profile:{user.user_id}".encode()


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


def seal_password(call: Call, user: User, password: str) -> bytes:
    salt = random_bytes(16)
    return call.sealer.seal(bytes([_HASH_VERSION]) + salt + _hash(password, salt), _aad(user))


def password_matches(call: Call, user: User, sealed: bytes | None, password: str) -> bool:
    if sealed is None:
        return False
    opened = call.sealer.unseal(sealed, _aad(user))
    salt, digest = opened[1:17], opened[17:]
    return opened[0] == _HASH_VERSION and hmac.compare_digest(digest, _hash(password, salt))


# -- login profiles ----------------------------------------------------------------


@dataclass(slots=True)
class LoginProfile:
    user_name: str
    created: float
    reset_required: bool
    sealed: bytes | None
    #: MaxSigninSessionDuration; None while unset (then absent from answers).
    max_signin_session_duration: int | None = None

    def to_login_profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "UserName": self.user_name,
            "CreateDate": when(self.created),
            "PasswordResetRequired": self.reset_required,
        }
        if self.max_signin_session_duration is not None:
            out["MaxSigninSessionDuration"] = self.max_signin_session_duration
        return out


def find_profile(call: Call, user: User) -> LoginProfile | None:
    row = call.conn.execute(
        select(login_profiles).where(login_profiles.c.user_id == user.user_id)
    ).first()
    if row is None:
        return None
    return LoginProfile(
        user.user_name,
        row.created,
        row.reset_required,
        row.password_sealed,
        signin.duration_of(call.conn, user.user_id),
    )


def resolve_profile(call: Call, user: User) -> LoginProfile:
    found = find_profile(call, user)
    if found is None:
        raise errors.NoSuchEntityException(
            f"Login Profile for User {user.user_name} cannot be found."
        )
    return found


def create_profile(
    call: Call,
    user: User,
    password: str | None,
    reset_required: bool,
    max_signin_session_duration: int | None = None,
) -> LoginProfile:
    if find_profile(call, user) is not None:
        raise errors.EntityAlreadyExistsException(
            f"Login Profile for user {user.user_name} already exists."
        )
    if password is not None:
        require_conforming(call, password)
    now = call.clock.timestamp()
    sealed = seal_password(call, user, password) if password is not None else None
    call.conn.execute(
        insert(login_profiles).values(
            user_id=user.user_id,
            account=call.account,
            created=now,
            changed=now,
            reset_required=reset_required,
            password_sealed=sealed,
        )
    )
    if max_signin_session_duration is not None:
        signin.put(call, user.user_id, max_signin_session_duration)
    return LoginProfile(user.user_name, now, reset_required, sealed, max_signin_session_duration)


def update_profile(
    call: Call,
    user: User,
    password: str | None,
    reset_required: bool | None,
    max_signin_session_duration: int | None = None,
    reset_max_signin_session_duration: bool | None = None,
) -> None:
    """Only what is given changes: a new sign-in limit alone leaves the
    password and PasswordResetRequired as they are."""
    signin.check_update(call, max_signin_session_duration, reset_max_signin_session_duration)
    resolve_profile(call, user)
    values: dict[str, Any] = {}
    if password is not None:
        require_conforming(call, password)
        values["password_sealed"] = seal_password(call, user, password)
        values["changed"] = call.clock.timestamp()
    if reset_required is not None:
        values["reset_required"] = reset_required
    if values:
        call.conn.execute(
            update(login_profiles).where(login_profiles.c.user_id == user.user_id).values(**values)
        )
    signin.apply_update(
        call, user.user_id, max_signin_session_duration, reset_max_signin_session_duration
    )


def delete_profile(call: Call, user: User) -> None:
    resolve_profile(call, user)
    call.conn.execute(delete(login_profiles).where(login_profiles.c.user_id == user.user_id))
    signin.clear(call, user.user_id)
    call.conn.execute(delete(password_history).where(password_history.c.user_id == user.user_id))


def change_password(call: Call, user: User, old: str, new: str) -> None:
    """The user's own change: the old password must match, the new one conform
    and, under PasswordReusePrevention, be none of the user's last N."""
    profile = resolve_profile(call, user)
    if not password_matches(call, user, profile.sealed, old):
        raise errors.InvalidUserTypeException("The old password was incorrect")
    require_conforming(call, new)
    reuse = effective_policy(call).get("PasswordReusePrevention") or 0
    if reuse and _recently_used(call, user, profile, new, reuse):
        raise errors.PasswordPolicyViolationException(
            f"Password should not be one of the last {reuse} passwords used"
        )
    now = call.clock.timestamp()
    if profile.sealed is not None:
        call.conn.execute(
            insert(password_history).values(
                user_id=user.user_id,
                changed=now,
                account=call.account,
                password_sealed=profile.sealed,
            )
        )
        _trim_history(call, user)
    call.conn.execute(
        update(login_profiles)
        .where(login_profiles.c.user_id == user.user_id)
        .values(password_sealed=seal_password(call, user, new), changed=now, reset_required=False)
    )


#: Earlier passwords kept per user: the most PasswordReusePrevention counts.
MAX_HISTORY = 24


def _earlier(call: Call, user: User, limit: int) -> list[bytes]:
    return list(
        call.conn.execute(
            select(password_history.c.password_sealed)
            .where(password_history.c.user_id == user.user_id)
            .order_by(password_history.c.changed.desc())
            .limit(limit)
        ).scalars()
    )


def _recently_used(
    call: Call, user: User, profile: LoginProfile, password: str, reuse: int
) -> bool:
    """Whether `password` is the current one or one of the `reuse` - 1 before it."""
    candidates = [profile.sealed, *_earlier(call, user, reuse - 1)]
    return any(password_matches(call, user, sealed, password) for sealed in candidates)


def _trim_history(call: Call, user: User) -> None:
    kept = call.conn.execute(
        select(password_history.c.changed)
        .where(password_history.c.user_id == user.user_id)
        .order_by(password_history.c.changed.desc())
        .offset(MAX_HISTORY)
        .limit(1)
    ).scalar()
    if kept is not None:
        call.conn.execute(
            delete(password_history).where(
                password_history.c.user_id == user.user_id, password_history.c.changed <= kept
            )
        )
