"""`JsonText`: state kept as JSON text, read and written as lists and dicts.

The DDL stays TEXT, so stores written before the type existed read back
unchanged (no migration), and what is written now is the same JSON text the
old code wrote."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from strongroom.framework import tagging
from strongroom.services.kms import grant_store, keys, material
from strongroom.services.kms.states import (
    ImportState,
    KeyManager,
    KeyState,
    KeyUsage,
    MaterialState,
    Origin,
    RotationType,
)
from strongroom.services.kms.tables import grants
from strongroom.services.kms.tables import keys as keys_table
from strongroom.store.columns import JsonText, dump, load
from strongroom.store.db import Prepared, Store
from strongroom.store.sealing import Sealer

ACCOUNT, REGION, KEY_ID = "111122223333", "us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab"
TAGS = [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "é"}]
OPERATIONS = ["Decrypt", "Encrypt"]
CONSTRAINTS = {"EncryptionContextSubset": {"purpose": "test"}}


def _legacy_key_row(conn, tags_text: str) -> None:
    """A key row as the code before `JsonText` wrote it: tags as JSON text."""
    conn.exec_driver_sql(
        "INSERT INTO kms_keys (account, region, key_id, arn, description, key_usage, key_spec,"
        " origin, key_manager, state, created, policy, multi_region, rotation_enabled,"
        " on_demand_rotations, current_version, tags) VALUES"
        " (?, ?, ?, ?, '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', 'AWS_KMS', 'CUSTOMER',"
        " 'Enabled', 1.5, '{}', 0, 0, 0, 1, ?)",
        (ACCOUNT, REGION, KEY_ID, keys.key_arn(ACCOUNT, REGION, KEY_ID), tags_text),
    )


def _legacy_grant_row(conn, grant_id: str, constraints_text: str | None) -> None:
    conn.exec_driver_sql(
        "INSERT INTO kms_grants (grant_id, account, region, key_id, name, grantee, retiring,"
        " issuing_account, operations, constraints, created, token) VALUES"
        " (?, ?, ?, ?, NULL, 'arn:aws:iam::111122223333:user/bob', NULL,"
        " 'arn:aws:iam::111122223333:root', ?, ?, ?, 't')",
        (
            grant_id,
            ACCOUNT,
            REGION,
            KEY_ID,
            orjson.dumps(OPERATIONS).decode(),
            constraints_text,
            float(len(grant_id)),
        ),
    )


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect()], ids=lambda dialect: dialect.name
)
def test_json_columns_are_text_in_the_ddl(dialect) -> None:
    for table, names in ((keys_table, ["tags"]), (grants, ["operations", "constraints"])):
        ddl = str(CreateTable(table).compile(dialect=dialect))
        for name in names:
            assert f"\t{name} TEXT" in ddl, ddl


def test_rows_written_as_json_text_by_the_old_code_read_back(store: Store) -> None:
    with store.transaction() as conn:
        _legacy_key_row(conn, orjson.dumps(TAGS).decode())
        _legacy_grant_row(conn, "g1", orjson.dumps(CONSTRAINTS).decode())
        _legacy_grant_row(conn, "g22", None)
    with store.transaction(write=False) as conn:
        # SQLAlchemy's execution path, and the Prepared statement of the hot path.
        assert conn.execute(select(keys_table.c.tags)).scalar_one() == TAGS
        key = keys.find(conn, ACCOUNT, REGION, KEY_ID)
        assert key is not None
        assert key.tags == TAGS
        assert (key.state, key.key_usage, key.origin) == (
            KeyState.ENABLED,
            KeyUsage.ENCRYPT_DECRYPT,
            Origin.AWS_KMS,
        )
        assert type(key.state) is KeyState
        found = grant_store.of_key(conn, key)
    assert [(g.grant_id, g.operations, g.constraints) for g in found] == [
        ("g1", OPERATIONS, CONSTRAINTS),
        ("g22", OPERATIONS, None),
    ]


def test_an_empty_legacy_tag_list_reads_as_no_tags(store: Store) -> None:
    with store.transaction() as conn:
        _legacy_key_row(conn, "[]")
    with store.transaction(write=False) as conn:
        key = keys.find(conn, ACCOUNT, REGION, KEY_ID)
    assert key is not None and key.tags == [] and key.tag_list() == []


def test_what_is_written_now_is_the_json_text_the_old_code_read(store: Store) -> None:
    with store.transaction() as conn:
        _legacy_key_row(conn, "[]")
        conn.execute(update(keys_table).values(tags=TAGS))
        raw = conn.exec_driver_sql("SELECT tags FROM kms_keys").scalar_one()
    assert isinstance(raw, str)
    assert orjson.loads(raw) == TAGS


def test_prepared_statements_encode_and_decode_json_columns(store: Store) -> None:
    write = Prepared(
        update(keys_table)
        .where(keys_table.c.key_id == bindparam("key_id"))
        .values(tags=bindparam("tags"))
    )
    read = Prepared(select(keys_table.c.key_id, keys_table.c.tags))
    with store.transaction() as conn:
        _legacy_key_row(conn, "[]")
        assert write.rowcount(conn, key_id=KEY_ID, tags=TAGS) == 1
        assert read.first(conn).tags == TAGS
        assert read.all(conn)[0].tags == TAGS
        raw = conn.exec_driver_sql("SELECT tags FROM kms_keys").scalar_one()
    assert orjson.loads(raw) == TAGS


def test_a_new_key_row_defaults_to_no_tags(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(
            insert(keys_table).values(
                account=ACCOUNT,
                region=REGION,
                key_id=KEY_ID,
                arn="arn",
                key_usage="ENCRYPT_DECRYPT",
                key_spec="SYMMETRIC_DEFAULT",
                origin="AWS_KMS",
                key_manager="CUSTOMER",
                state="Enabled",
                created=1.0,
                policy="{}",
            )
        )
        assert conn.exec_driver_sql("SELECT tags FROM kms_keys").scalar_one() == "[]"


def test_null_stays_null() -> None:
    assert dump(None) is None and load(None) is None and load("") is None
    assert JsonText().process_bind_param(None, sqlite.dialect()) is None


def test_key_and_material_state_read_back_as_enums(store: Store) -> None:
    sealer = Sealer(bytes(32))
    with store.transaction() as conn:
        key = keys.create_key(
            conn,
            sealer,
            100.0,
            account=ACCOUNT,
            region=REGION,
            policy="{}",
            tags=tagging.KMS.from_wire(TAGS),
        )
        material.rotate(conn, sealer, key, 200.0, RotationType.ON_DEMAND)
    with store.transaction(write=False) as conn:
        again = keys.find(conn, ACCOUNT, REGION, key.key_id)
        rows = keys.material_rows(conn, key)
    assert again is not None and again.tags == TAGS
    assert type(again.key_manager) is KeyManager and again.key_manager == KeyManager.CUSTOMER
    assert again.creation_date.timestamp() == 100.0
    assert [(type(r.state), r.state, r.rotation_type, r.import_state) for r in rows] == [
        (MaterialState, MaterialState.NON_CURRENT, RotationType.INITIAL, None),
        (MaterialState, MaterialState.CURRENT, RotationType.ON_DEMAND, None),
    ]
    assert [r.is_rotation for r in rows] == [False, True]
    assert rows[1].rotation_date.timestamp() == 200.0
    assert ImportState.IMPORTED == "IMPORTED"  # members are their stored text
