"""Audit rows are slim: identities stored once, records rendered back whole,
rows written before schema version 2 read as they were."""

from __future__ import annotations

import time
from types import SimpleNamespace

import orjson
import pytest
from sqlalchemy import func, insert, select, update

from strongroom.audit import records
from strongroom.audit.recorder import AuditRecorder
from strongroom.audit.tables import events, identities
from strongroom.auth.principal import root_principal
from strongroom.store.db import SCHEMA_VERSION, Store, schema_table

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RESOURCES = [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY_ARN}]


def _record(recorder: AuditRecorder, principal, **overrides) -> str:
    args = {
        "event_time": 1_790_000_000.25,
        "account": "111122223333",
        "region": "us-east-1",
        "event_source": "kms.amazonaws.com",
        "event_name": "Decrypt",
        "principal": principal,
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "source_ip": "192.0.2.7",
        "user_agent": "aws-cli/2",
        "request_id": "req-1",
        "read_only": True,
        "request_parameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": RESOURCES,
        **overrides,
    }
    return recorder.record(**args)


def _rendered(store: Store) -> list[dict]:
    with store.transaction(write=False) as conn:
        rows = list(conn.execute(select(events).order_by(events.c.seq)))
        return records.render_rows(conn, rows)


def test_identity_is_stored_once_and_records_render_whole(store: Store) -> None:
    recorder = AuditRecorder(store)
    root = root_principal("111122223333", "AKIAIOSFODNN7EXAMPLE")
    first = _record(recorder, root)
    _record(recorder, root, request_id="req-2", event_name="Encrypt", read_only=False)
    recorder.flush()
    _record(recorder, root, error_code="AccessDeniedException", error_message="no")
    recorder.flush()

    with store.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 1
        raw = conn.execute(select(events.c.record)).scalars().first()
    assert "userIdentity" not in raw and "arn:aws:iam::111122223333:root" not in raw

    one, two, failed = _rendered(store)
    assert list(one) == [
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
        "awsRegion", "sourceIPAddress", "userAgent", "requestParameters",
        "responseElements", "requestID", "eventID", "readOnly", "resources",
        "eventType", "managementEvent", "recipientAccountId", "eventCategory",
    ]  # fmt: skip
    assert one["userIdentity"] == root.user_identity()
    assert one["eventTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000))
    assert (one["eventID"], one["requestID"], one["readOnly"]) == (first, "req-1", True)
    assert one["resources"] == RESOURCES
    assert one["sourceIPAddress"] == "192.0.2.7" and one["recipientAccountId"] == "111122223333"
    assert (two["eventName"], two["readOnly"]) == ("Encrypt", False)
    assert (failed["errorCode"], failed["errorMessage"]) == ("AccessDeniedException", "no")


def test_a_new_recorder_finds_identities_already_stored(store: Store) -> None:
    root = root_principal("111122223333")
    for _ in range(2):  # e.g. a restart, or a second worker process
        recorder = AuditRecorder(store)
        _record(recorder, root)
        _record(recorder, None, access_key_id=None)  # unauthenticated: "Unknown"
        recorder.flush()
    with store.transaction(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 2
    rendered = _rendered(store)
    assert [r["userIdentity"]["type"] for r in rendered] == ["Root", "Unknown"] * 2


def test_identities_of_a_failed_flush_are_written_by_the_next(store: Store, monkeypatch) -> None:
    recorder = AuditRecorder(store)
    _record(recorder, root_principal("111122223333"))
    import strongroom.audit.recorder as recorder_module

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(recorder_module._INSERT, "execute_rows", broken)
    with pytest.raises(RuntimeError):
        recorder.flush()
    monkeypatch.undo()
    assert recorder.flush() == 1
    assert _rendered(store)[0]["userIdentity"]["type"] == "Root"


def test_rows_written_before_version_2_read_as_they_were(store: Store) -> None:
    legacy = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "Root", "accountId": "111122223333"},
        "eventTime": "2026-01-01T00:00:00Z",
        "eventName": "Encrypt",
        "requestID": "old",
        "eventID": "e-old",
    }
    lookup_form = [{"ResourceType": "AWS::KMS::Key", "ResourceName": KEY_ARN}]
    with store.transaction() as conn:
        conn.execute(
            insert(events).values(
                event_id="e-old", account="111122223333", region="us-east-1",
                event_time=1_767_225_600.0, event_name="Encrypt",
                event_source="kms.amazonaws.com", read_only=False, management=True,
                username="root", access_key_id=None,
                resources=orjson.dumps(lookup_form).decode(),
                record=orjson.dumps(legacy).decode(),
            )
        )  # fmt: skip
    assert _rendered(store) == [legacy]
    assert records.lookup_resources(orjson.dumps(lookup_form).decode()) == lookup_form
    assert records.lookup_resources(orjson.dumps(RESOURCES).decode()) == lookup_form


def test_a_version_1_store_is_brought_forward(tmp_path) -> None:
    path = tmp_path / "old.db"
    s = Store(f"sqlite+pysqlite:///{path}")
    s.create_schema()
    with s.transaction() as conn:
        conn.execute(update(schema_table).values(version=1))
    s.close()
    s = Store(f"sqlite+pysqlite:///{path}")
    try:
        s.create_schema()
        with s.transaction(write=False) as conn:
            assert conn.execute(select(schema_table.c.version)).scalar() == SCHEMA_VERSION == 2
    finally:
        s.close()


def test_render_needs_only_the_row_columns() -> None:
    row = SimpleNamespace(
        event_time=0.0, event_source="sts.amazonaws.com", event_name="GetCallerIdentity",
        region="us-east-1", event_id="e", read_only=True, resources=None, management=True,
        account="111122223333",
    )  # fmt: skip
    out = records.render(row, {"i": "missing", "requestID": "r"}, {})
    assert out["userIdentity"] == {"type": "Unknown"} and "resources" not in out
    assert out["eventTime"] == "1970-01-01T00:00:00Z"
