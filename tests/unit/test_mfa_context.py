"""aws:MultiFactorAuthPresent / aws:MultiFactorAuthAge in the request context,
mfaAuthenticated in CloudTrail's userIdentity, and the session principal's
MFA time surviving its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from strongroom.auth.authorizer import request_context
from strongroom.auth.credentials import principal_from_json, principal_to_json
from strongroom.auth.principal import Principal

ACCOUNT = "000000000000"
NOW = 1_800_000_000.0


@dataclass
class _Clock:
    now: float

    def timestamp(self) -> float:
        return self.now


@dataclass
class _Facts:
    principal: Principal
    account: str = ACCOUNT
    region: str = "us-east-1"
    source_ip: str = "127.0.0.1"
    secure: bool = False
    conn: Any = None
    via: tuple[str, ...] = ()
    authorized: bool = False
    _clock: _Clock = field(default_factory=lambda: _Clock(NOW))

    @property
    def clock(self) -> _Clock:
        return self._clock


def _user(**extra: Any) -> Principal:
    return Principal(
        type="IAMUser",
        account=ACCOUNT,
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        principal_id="AIDAEXAMPLEEXAMPLEEXA",
        user_name="alice",
        **extra,
    )


def _session(mfa_at: float | None) -> Principal:
    return _user(
        access_key_id="ASIAEXAMPLEEXAMPLEEX",
        session_created=datetime.fromtimestamp(NOW - 100, UTC),
        mfa_authenticated_at=mfa_at,
    )


def test_long_term_keys_carry_neither_key() -> None:
    ctx = request_context(_Facts(_user(access_key_id="AKIAEXAMPLEEXAMPLEEX")), {}, {})
    assert "aws:MultiFactorAuthPresent" not in ctx
    assert "aws:MultiFactorAuthAge" not in ctx


def test_session_without_mfa_is_false_and_has_no_age() -> None:
    ctx = request_context(_Facts(_session(None)), {}, {})
    assert ctx["aws:MultiFactorAuthPresent"] == "false"
    assert "aws:MultiFactorAuthAge" not in ctx


def test_mfa_session_is_true_with_its_age_in_seconds() -> None:
    ctx = request_context(_Facts(_session(NOW - 1234.6)), {}, {})
    assert ctx["aws:MultiFactorAuthPresent"] == "true"
    assert ctx["aws:MultiFactorAuthAge"] == "1235"
    # A clock behind the MFA time never yields a negative age.
    early = _Facts(_session(NOW + 5))
    assert request_context(early, {}, {})["aws:MultiFactorAuthAge"] == "0"


def test_explicit_context_wins() -> None:
    """AssumeRole with a code states MFA for its own trust-policy check."""
    extra = {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "0"}
    ctx = request_context(_Facts(_session(None)), {}, extra)
    assert ctx["aws:MultiFactorAuthPresent"] == "true"
    assert ctx["aws:MultiFactorAuthAge"] == "0"


def test_mfa_time_round_trips_through_the_session_json() -> None:
    p = _session(NOW - 10)
    back = principal_from_json(orjson.loads(principal_to_json(p)), "ASIAX")
    assert back.mfa_authenticated_at == NOW - 10
    assert (
        principal_from_json(
            orjson.loads(principal_to_json(_session(None))), "ASIAX"
        ).mfa_authenticated_at
        is None
    )


def test_cloudtrail_mfa_authenticated() -> None:
    attrs = _session(NOW)._user_identity()["sessionContext"]["attributes"]
    assert attrs["mfaAuthenticated"] == "true"
    plain = _session(None)._user_identity()["sessionContext"]
    assert plain["attributes"]["mfaAuthenticated"] == "false"
    assert "sessionIssuer" not in plain  # a GetSessionToken session has no issuer
    role = Principal(
        type="AssumedRole",
        account=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        principal_id="AROAEXAMPLE:s",
        session_issuer={"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/r"},
        session_created=datetime.fromtimestamp(NOW, UTC),
        mfa_authenticated_at=NOW,
    )
    context = role._user_identity()["sessionContext"]
    assert list(context) == ["sessionIssuer", "attributes"]
    assert context["attributes"]["mfaAuthenticated"] == "true"
    assert "sessionContext" not in _user()._user_identity()
