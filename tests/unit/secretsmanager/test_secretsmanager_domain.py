"""Secrets Manager's domain rules without a server: GetRandomPassword's
character classes and ListSecrets' filter semantics."""

from __future__ import annotations

import string

import pytest

from strongroom.protocol.errors import AwsError
from strongroom.services.secretsmanager import listing, passwords
from strongroom.services.secretsmanager.secrets import Secret

PUNCTUATION = set(passwords.PUNCTUATION)


def test_punctuation_is_awss_list() -> None:
    assert string.punctuation == passwords.PUNCTUATION


def test_every_included_class_appears() -> None:
    for _ in range(200):
        pw = passwords.generate(4)
        assert len(pw) == 4
        assert any(c in string.ascii_lowercase for c in pw)
        assert any(c in string.ascii_uppercase for c in pw)
        assert any(c in string.digits for c in pw)
        assert any(c in PUNCTUATION for c in pw)


def test_exclusions_and_space() -> None:
    pw = passwords.generate(500, exclude_characters="aeiouAEIOU0", exclude_punctuation=True)
    assert not set(pw) & set("aeiouAEIOU0") and not set(pw) & PUNCTUATION
    pw = passwords.generate(
        500, include_space=True, exclude_lowercase=True, exclude_uppercase=True,
        exclude_numbers=True, exclude_punctuation=True,
    )  # fmt: skip
    assert set(pw) == {" "}
    with pytest.raises(AwsError):
        passwords.generate(3)
    assert len(passwords.generate(3, require_each_included_type=False)) == 3
    with pytest.raises(AwsError):
        passwords.generate(8, exclude_characters=string.ascii_letters + string.digits,
                           exclude_punctuation=True)  # fmt: skip


def secret(name: str, *, description: str | None = None, tags=(), created: float = 0.0) -> Secret:
    return Secret(
        "000000000000", "us-east-1", name, f"arn:{name}", description, None, created, created,
        None, None, [list(t) for t in tags], None, None, None, None, [], False, None, None, None,
        None, 0,
    )  # fmt: skip


def names(found: list[Secret]) -> list[str]:
    return [s.name for s in found]


def test_filters() -> None:
    a = secret("prod/db", description="Main DB", tags=[("env", "prod")], created=1)
    b = secret("prod/cache", tags=[("env", "dev"), ("owner", "ops")], created=2)
    c = secret("test/db", description="main test", created=3)
    every = [c, a, b]
    assert names(listing.select(every, None)) == ["prod/db", "prod/cache", "test/db"]
    assert names(listing.select(every, None, sort_order="desc")) == [
        "test/db", "prod/cache", "prod/db",
    ]  # fmt: skip
    assert names(listing.select(every, None, sort_by="name")) == [
        "prod/cache", "prod/db", "test/db",
    ]  # fmt: skip
    by = lambda *f: names(listing.select(every, list(f)))  # noqa: E731
    assert by({"Key": "name", "Values": ["prod/"]}) == ["prod/db", "prod/cache"]
    assert by({"Key": "name", "Values": ["Prod/"]}) == []  # case-sensitive
    assert by({"Key": "description", "Values": ["MAIN"]}) == ["prod/db", "test/db"]
    assert by({"Key": "tag-key", "Values": ["own"]}) == ["prod/cache"]
    assert by({"Key": "tag-value", "Values": ["prod", "ops"]}) == ["prod/db", "prod/cache"]
    assert by({"Key": "name", "Values": ["!prod"]}) == ["test/db"]
    assert by({"Key": "name", "Values": ["prod"]}, {"Key": "tag-value", "Values": ["!dev"]}) == [
        "prod/db"
    ]
    assert by({"Key": "all", "Values": ["ops"]}) == ["prod/cache"]
    assert by({"Key": "primary-region", "Values": ["us-east"]}) == names(
        listing.select(every, None)
    )
    with pytest.raises(AwsError):
        listing.select(every, [{"Values": ["x"]}])
