"""Members newer botocore models add to IAM and STS operations, checked without
a server (they run on every botocore: the functions take them either way)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from strongroom.auth import credentials
from strongroom.protocol.errors import errors_for
from strongroom.services.iam import providers, signin
from strongroom.services.sts.operations import token_size

INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"


def _call() -> Any:
    return SimpleNamespace(service=SimpleNamespace(errors=errors_for("iam")), account="1" * 12)


def _code(fn: Any, *args: Any) -> str | None:
    with pytest.raises(Exception) as exc:
        fn(*args)
    return getattr(exc.value, "code", None)


@pytest.mark.parametrize("size", [0, 100, 336, 337, 1000, 2047, 4096])
def test_session_tokens_are_at_least_the_minimum(size: int) -> None:
    token = credentials._session_token(size)
    assert len(token) >= max(size, 336)
    assert len(token) == max(size, len(credentials._session_token()))
    assert token.isascii() and "=" not in token
    assert token_size(token) == {
        "SessionTokenSize": len(token),
        "SessionTokenUtilization": min(100, len(token) * 100 // 4096),
    }


def test_sign_in_duration_and_its_reset_exclude_each_other() -> None:
    signin.check_update(_call(), 3600, None)
    signin.check_update(_call(), 3600, False)
    signin.check_update(_call(), None, True)
    assert _code(signin.check_update, _call(), 3600, True) == "InvalidInput"


@pytest.mark.parametrize("key", ["sub", "a b", "user.email", "x_y:z/w=v+u-t@s#r", "A1", "a" * 128])
def test_context_keys_that_are_valid(key: str) -> None:
    given = {"SubjectSourceKey": key, "KeyDefinitionList": [{"SourceKey": key, "TargetKey": key}]}
    assert providers.check_context_provider(_call(), given) == given


@pytest.mark.parametrize("key", ["", " a", "a ", "a  b", "a\tb", "a$", "é", "a,b"])
def test_context_keys_that_are_not(key: str) -> None:
    for given in (
        {"SubjectSourceKey": key},
        {"SubjectSourceKey": "sub", "SubjectTypeSourceKey": key},
        {"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": key}]},
        {"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": "s", "TargetKey": key}]},
    ):
        assert _code(providers.check_context_provider, _call(), given) == "InvalidInput"


def test_subject_type_is_a_value_or_a_key() -> None:
    value = {"SubjectSourceKey": "sub", "SubjectTypeValue": ""}
    assert providers.check_context_provider(_call(), value) == value
    both = {"SubjectSourceKey": "sub", "SubjectTypeValue": "user", "SubjectTypeSourceKey": "t"}
    assert _code(providers.check_context_provider, _call(), both) == "InvalidInput"


def test_new_propagation() -> None:
    call = _call()
    assert providers.new_propagation(call, None, None) is None
    got = providers.new_propagation(call, {"SubjectSourceKey": "sub"}, INSTANCE)
    assert got == providers.Propagation({"SubjectSourceKey": "sub"}, INSTANCE)
    assert got.to_output() == {
        "ContextProvider": {"SubjectSourceKey": "sub"},
        "IdentityCenterInstanceArn": INSTANCE,
    }
    assert _code(providers.new_propagation, call, None, INSTANCE) == "InvalidInput"
    for bad in ("arn:aws:sso:::instance/ssoins-short", "arn:aws:iam::111111111111:root"):
        cp = {"SubjectSourceKey": "sub"}
        assert _code(providers.new_propagation, call, cp, bad) == "InvalidInput"


def test_updated_propagation() -> None:
    call = _call()
    cp = {"SubjectSourceKey": "sub"}
    current = providers.Propagation(cp, INSTANCE)

    def update(*args: Any) -> Any:
        return providers.updated_propagation(call, *args)

    assert update(current, None, False, None, False) == current
    assert update(None, None, False, None, False) is None
    new = {"SubjectSourceKey": "nameid"}
    assert update(current, new, False, None, False) == providers.Propagation(new, INSTANCE)
    assert update(current, None, False, None, True) == providers.Propagation(cp, None)
    assert update(providers.Propagation(cp, None), None, True, None, False) is None
    assert _code(update, current, None, True, None, False) == "InvalidInput"
    assert _code(update, current, cp, True, None, False) == "InvalidInput"
    assert _code(update, current, None, False, INSTANCE, True) == "InvalidInput"
    assert _code(update, None, None, False, INSTANCE, False) == "InvalidInput"
