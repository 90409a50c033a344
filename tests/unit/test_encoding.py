"""strongroom.encoding: the text encodings services may use without
importing json, orjson, base64 or binascii themselves."""

from __future__ import annotations

import pytest

from strongroom.encoding import b64_bytes, b64_text, json_text, json_value, pem_bytes, pem_text


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


DER = bytes(range(256)) * 2  # 512 bytes: a body of several 64-character lines


def test_pem_text_is_armoured_base64_in_lines_of_64() -> None:
    text = pem_text(DER, "PUBLIC KEY")
    lines = text.splitlines()
    assert text.endswith("-----END PUBLIC KEY-----\n")
    assert lines[0] == "-----BEGIN PUBLIC KEY-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    assert "".join(lines[1:-1]) == b64_text(DER)
    assert pem_bytes(text) == pem_bytes(text, "PUBLIC KEY") == DER


def test_pem_bytes_reads_the_first_block_of_its_label() -> None:
    key, cert = pem_text(b"key", "PUBLIC KEY"), pem_text(b"cert", "CERTIFICATE")
    both = "junk before\r\n" + key.replace("\n", " \r\n") + cert + "after"
    assert pem_bytes(both) == b"key"
    assert pem_bytes(both, "CERTIFICATE") == b"cert"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no armour at all",
        "-----BEGIN CERTIFICATE-----\nAP9oaQ==\n",  # no END line
        "-----BEGIN CERTIFICATE-----\nAP9oaQ==\n-----END PUBLIC KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nAP9o!aQ==\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAP9oaQ=\n-----END CERTIFICATE-----\n",
    ],
)
def test_pem_bytes_refuses_what_is_not_pem(text: str) -> None:
    with pytest.raises(ValueError):
        pem_bytes(text)


def test_pem_bytes_of_another_label_is_not_found() -> None:
    with pytest.raises(ValueError, match="no PEM block"):
        pem_bytes(pem_text(b"cert", "CERTIFICATE"), "PUBLIC KEY")
