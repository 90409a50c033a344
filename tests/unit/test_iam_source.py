"""The IAM policy source the authorizer reads on every request, against a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert

from strongroom.auth.principal import Principal
from strongroom.server.schema import create_state_schema
from strongroom.services.iam.source import (
    IamPolicySource,
    find_role,
    managed_policy_document,
    role_by_arn,
)
from strongroom.services.iam.tables import (
    attached_policies,
    group_members,
    groups,
    inline_policies,
    policies,
    policy_versions,
    roles,
    users,
)
from strongroom.store.db import Store, default_url

ACCT = "111122223333"
READ = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:Get*",
                                                         "Resource": "*"}})  # fmt: skip
V1 = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:Decrypt",
                                                       "Resource": "*"}})  # fmt: skip
V2 = V1.replace("Decrypt", "Encrypt")
CUSTOMER = f"arn:aws:iam::{ACCT}:policy/keys"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    store = Store(default_url(tmp_path))
    create_state_schema(store)
    with store.transaction() as c:
        _seed(c)
        yield c
    store.close()


def _seed(c: Connection) -> None:
    c.execute(
        insert(users).values(
            account=ACCT, name_key="bob", user_name="Bob", user_id="AIDABOB", path="/",
            arn=f"arn:aws:iam::{ACCT}:user/Bob", created=0.0, permissions_boundary=CUSTOMER,
            tags=[{"Key": "team", "Value": "db"}],
        )
    )  # fmt: skip
    c.execute(
        insert(groups).values(
            account=ACCT, name_key="ops", group_name="Ops", group_id="AGPAOPS", path="/",
            arn=f"arn:aws:iam::{ACCT}:group/Ops", created=0.0,
        )
    )  # fmt: skip
    c.execute(insert(group_members).values(group_id="AGPAOPS", user_id="AIDABOB", account=ACCT,
                                           added=0.0))  # fmt: skip
    c.execute(
        insert(roles).values(
            account=ACCT, name_key="app", role_name="App", role_id="AROAAPP", path="/svc/",
            arn=f"arn:aws:iam::{ACCT}:role/svc/App", created=0.0, trust_policy="{}",
            max_session_duration=7200, permissions_boundary=ADMIN,
            tags=[{"Key": "env", "Value": "prod"}],
        )
    )  # fmt: skip
    c.execute(
        insert(policies).values(
            arn=CUSTOMER, account=ACCT, name_key="keys", policy_name="keys", policy_id="ANPAKEYS",
            path="/", default_version="v2", next_version=3, created=0.0, updated=0.0, tags=[],
        )
    )  # fmt: skip
    for vid, n, text in (("v1", 1, V1), ("v2", 2, V2)):
        c.execute(insert(policy_versions).values(policy_arn=CUSTOMER, version_id=vid, number=n,
                                                 document=text, created=0.0))  # fmt: skip
    for owner, name in (("AIDABOB", "mine"), ("AGPAOPS", "team"), ("AROAAPP", "app")):
        c.execute(insert(inline_policies).values(owner_id=owner, policy_name=name, account=ACCT,
                                                 document=READ))  # fmt: skip
    for owner, arn in (("AGPAOPS", CUSTOMER), ("AIDABOB", ADMIN), ("AROAAPP", CUSTOMER)):
        c.execute(insert(attached_policies).values(owner_id=owner, policy_arn=arn, account=ACCT,
                                                   attached=0.0))  # fmt: skip


def user() -> Principal:
    return Principal(
        type="IAMUser", account=ACCT, arn=f"arn:aws:iam::{ACCT}:user/Bob",
        principal_id="AIDABOB", user_name="Bob",
    )  # fmt: skip


def session(tags: dict[str, str] | None = None) -> Principal:
    return Principal(
        type="AssumedRole", account=ACCT, arn=f"arn:aws:sts::{ACCT}:assumed-role/App/s1",
        principal_id="AROAAPP:s1",
        session_issuer={"arn": f"arn:aws:iam::{ACCT}:role/svc/App", "type": "Role"},
        tags=tags or {},
    )  # fmt: skip


def test_user_gets_own_and_group_policies(conn: Connection) -> None:
    found = dict(IamPolicySource().identity_policies(conn, user()))
    assert found["user/Bob/mine"] == READ
    assert found["group/Ops/team"] == READ
    assert found[CUSTOMER] == V2  # the default version
    assert json.loads(found[ADMIN])["Statement"][0]["Action"] == "*"
    assert len(found) == 4


def test_assumed_role_gets_the_role_policies(conn: Connection) -> None:
    found = dict(IamPolicySource().identity_policies(conn, session()))
    assert found == {"role/App/app": READ, CUSTOMER: V2}


def test_other_principals_have_none(conn: Connection) -> None:
    root = Principal(type="Root", account=ACCT, arn=f"arn:aws:iam::{ACCT}:root",
                     principal_id=ACCT)  # fmt: skip
    assert IamPolicySource().identity_policies(conn, root) == []
    stranger = Principal(
        type="IAMUser", account=ACCT, arn=f"arn:aws:iam::{ACCT}:user/x", principal_id="AIDAX",
        user_name="x",
    )  # fmt: skip
    assert IamPolicySource().identity_policies(conn, stranger) == []
    assert IamPolicySource().permissions_boundary(conn, stranger) is None


def test_boundaries_and_tags(conn: Connection) -> None:
    source = IamPolicySource()
    assert source.permissions_boundary(conn, user()) == (CUSTOMER, V2)
    arn, text = source.permissions_boundary(conn, session())  # type: ignore[misc]
    assert arn == ADMIN and json.loads(text)["Statement"][0]["Resource"] == "*"
    assert source.principal_tags(conn, user()) == {"team": "db"}
    assert source.principal_tags(conn, session({"env": "dev", "x": "1"})) == {
        "env": "dev",
        "x": "1",
    }


def test_roles_for_sts(conn: Connection) -> None:
    role = find_role(conn, ACCT, "APP")
    assert role is not None
    assert (role.arn, role.role_id, role.max_session_duration) == (
        f"arn:aws:iam::{ACCT}:role/svc/App", "AROAAPP", 7200,
    )  # fmt: skip
    assert role.trust_policy == "{}" and role.permissions_boundary == ADMIN
    assert role.tags == [{"Key": "env", "Value": "prod"}]
    assert role_by_arn(conn, f"arn:aws:iam::{ACCT}:role/svc/App").role_id == "AROAAPP"  # type: ignore[union-attr]
    assert role_by_arn(conn, f"arn:aws:iam::{ACCT}:role/other/App") is None
    assert role_by_arn(conn, f"arn:aws:iam::{ACCT}:role/Nope") is None
    assert role_by_arn(conn, "not-an-arn") is None
    assert find_role(conn, "999999999999", "App") is None


def test_managed_policy_document(conn: Connection) -> None:
    assert managed_policy_document(conn, CUSTOMER) == V2
    assert "Statement" in (managed_policy_document(conn, ADMIN) or "")
    assert managed_policy_document(conn, f"arn:aws:iam::{ACCT}:policy/none") is None
