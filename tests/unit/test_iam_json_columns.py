"""IAM's JSON state (tags, OIDC client ids and thumbprints, the password
policy, providers' ContextProvider) in `JsonText` columns.

The DDL stays TEXT, so a store written by the code before the type existed
(which kept these columns as JSON text it encoded itself) reads back as lists
and dicts with no migration, and what is written now is the same text."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from strongroom.auth.principal import Principal
from strongroom.services.iam import passwords, providers, users
from strongroom.services.iam import tables as t
from strongroom.services.iam.source import IamPolicySource
from strongroom.store.db import Store

ACCOUNT = "111122223333"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/team/Bob"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/idp.example.com"
TAGS = [{"Key": "team", "Value": "db"}, {"Key": "Env", "Value": "é"}]
CLIENT_IDS = ["sts.amazonaws.com", "app"]
THUMBPRINTS = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
CONTEXT = {"Issuer": "https://idp.example.com"}

JSON_COLUMNS = {
    t.users: ["tags"],
    t.roles: ["tags"],
    t.policies: ["tags"],
    t.oidc_providers: ["client_ids", "thumbprints", "tags"],
    t.saml_providers: ["tags"],
    t.instance_profiles: ["tags"],
    t.mfa_devices: ["tags"],
    t.password_policies: ["policy"],
    t.provider_contexts: ["context_provider"],
}


def _text(value: object) -> str:
    return orjson.dumps(value).decode()


def _legacy_rows(store: Store, tags_text: str) -> None:
    """Rows as the code before `JsonText` wrote them: JSON text it encoded."""
    with store.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO iam_users (account, name_key, user_name, user_id, path, arn, created,"
            " tags) VALUES (?, 'bob', 'Bob', 'AIDABOB', '/team/', ?, 1.5, ?)",
            (ACCOUNT, USER_ARN, tags_text),
        )
        conn.exec_driver_sql(
            "INSERT INTO iam_oidc_providers (arn, account, url, client_ids, thumbprints, created,"
            " tags) VALUES (?, ?, 'idp.example.com', ?, ?, 2.5, ?)",
            (OIDC_ARN, ACCOUNT, _text(CLIENT_IDS), _text(THUMBPRINTS), tags_text),
        )
        conn.exec_driver_sql(
            "INSERT INTO iam_provider_contexts (arn, account, context_provider) VALUES (?, ?, ?)",
            (OIDC_ARN, ACCOUNT, _text(CONTEXT)),
        )
        conn.exec_driver_sql(
            "INSERT INTO iam_password_policies (account, policy) VALUES (?, ?)",
            (ACCOUNT, _text({**passwords.POLICY_DEFAULTS, "MinimumPasswordLength": 12})),
        )


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect()], ids=lambda dialect: dialect.name
)
def test_json_columns_are_text_in_the_ddl(dialect) -> None:
    for table, names in JSON_COLUMNS.items():
        ddl = str(CreateTable(table).compile(dialect=dialect))
        for name in names:
            assert f"\t{name} TEXT" in ddl, ddl


def test_rows_written_as_json_text_by_the_old_code_read_back(store: Store) -> None:
    _legacy_rows(store, _text(TAGS))
    bob = Principal(
        type="IAMUser", account=ACCOUNT, arn=USER_ARN, principal_id="AIDABOB", user_name="Bob"
    )
    with store.transaction(write=False) as conn:
        found = users.find_user(conn, ACCOUNT, "bob")  # a Prepared statement
        listed = users.list_users(conn, ACCOUNT, "/")  # SQLAlchemy's execution path
        oidc = providers.oidc_by_url(conn, ACCOUNT, "https://idp.example.com")
        propagation = providers.propagation_of(conn, OIDC_ARN)
        policy = passwords.find_policy(SimpleNamespace(conn=conn, account=ACCOUNT))
        principal_tags = IamPolicySource().principal_tags(conn, bob)
    assert found is not None and found.tags == TAGS
    assert [u.tags for u in listed] == [TAGS]
    assert found.to_user()["Tags"] == TAGS
    assert oidc is not None
    assert (oidc.client_ids, oidc.thumbprints, oidc.tags) == (CLIENT_IDS, THUMBPRINTS, TAGS)
    assert propagation is not None and propagation.context_provider == CONTEXT
    assert policy is not None and policy["MinimumPasswordLength"] == 12
    assert principal_tags == {"team": "db", "Env": "é"}


@pytest.mark.parametrize("tags_text", ["[]", ""])
def test_no_legacy_tags_read_as_an_empty_list(store: Store, tags_text: str) -> None:
    _legacy_rows(store, tags_text)
    with store.transaction(write=False) as conn:
        found = users.find_user(conn, ACCOUNT, "Bob")
        oidc = providers.oidc_by_url(conn, ACCOUNT, "https://idp.example.com")
    assert found is not None and found.tags == [] and "Tags" not in found.to_user()
    assert oidc is not None and oidc.tags == []


def test_what_is_written_now_is_the_json_text_the_old_code_read(store: Store) -> None:
    _legacy_rows(store, "[]")
    with store.transaction() as conn:
        conn.execute(update(t.users).values(tags=TAGS))
        conn.execute(update(t.oidc_providers).values(client_ids=["only"]))
        raw_tags = conn.exec_driver_sql("SELECT tags FROM iam_users").scalar_one()
        raw_ids = conn.exec_driver_sql("SELECT client_ids FROM iam_oidc_providers").scalar_one()
    assert isinstance(raw_tags, str) and orjson.loads(raw_tags) == TAGS
    assert raw_ids == '["only"]'
