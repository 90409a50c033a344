"""strongroom.encoding: the text encodings services may use without
importing json, orjson, base64 or binascii themselves."""

from __future__ import annotations

import pytest

from strongroom.encoding import b64_bytes, b64_text, json_text, json_value


def test_json_text_is_compact_or_indented_by_two() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}
    assert json_text(doc) == '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}'
    assert json_text(doc, indent=True).splitlines()[1] == '  "Version": "2012-10-17",'
    assert json_value(json_text(doc, indent=True)) == doc


def test_json_value_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        json_value("{nope")


def test_base64_round_trips_and_refuses_garbage() -> None:
    assert b64_text(b"\x00\xffhi") == "AP9oaQ=="
    assert b64_bytes("AP9oaQ==") == b"\x00\xffhi"
    for bad in ("AP9oaQ=", "not base64!", "AP9o aQ=="):
        with pytest.raises(ValueError, match="not base64"):
            b64_bytes(bad)
