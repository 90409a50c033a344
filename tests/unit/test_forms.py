"""multipart/form-data read as it streams (`strongroom.forms`): the same
form whichever way its bytes are cut into chunks, the file handed on in
pieces, the fields bounded, malformed bodies refused."""

from __future__ import annotations

import pytest

from strongroom import forms

BOUNDARY = "----xYzBoundary"


def body(fields: list[tuple[str, str]], data: bytes, filename: str = "a.txt") -> bytes:
    parts = []
    for name, value in fields:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = "".join(parts).encode()
    file_head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    return head + file_head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def read(raw: bytes, size: int, max_fields: int = 20_000) -> tuple[forms.Form, bytes]:
    got = bytearray()
    chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
    form = forms.read_form(chunks, BOUNDARY, got.extend, max_fields=max_fields)
    return form, bytes(got)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 17, 64, 1000, 1 << 20])
def test_any_chunking_reads_the_same_form(size: int) -> None:
    data = b"line one\r\n--not-the-boundary\r\n" + bytes(range(256)) * 3 + b"\r\n-"
    raw = body([("key", "uploads/${filename}"), ("policy", "eyJhIjoxfQ=="), ("empty", "")], data)
    form, got = read(raw, size)
    assert form.fields == {"key": "uploads/${filename}", "policy": "eyJhIjoxfQ==", "empty": ""}
    assert form.has_file and form.filename == "a.txt"
    assert form.file_content_type == "text/plain"
    assert got == data and form.file_size == len(data)


def test_boundary_of() -> None:
    assert forms.boundary_of(f"multipart/form-data; boundary={BOUNDARY}") == BOUNDARY
    assert forms.boundary_of('multipart/form-data; boundary="a b"') == "a b"
    assert forms.boundary_of("application/x-www-form-urlencoded") is None
    assert forms.boundary_of("multipart/form-data") is None
    assert forms.boundary_of(None) is None


def test_fields_are_bounded() -> None:
    raw = body([("x-ignore-pad", "p" * 5000)], b"data")
    with pytest.raises(forms.FieldsTooLarge):
        read(raw, 100, max_fields=1000)
    form, _ = read(raw, 100, max_fields=10_000)
    assert len(form.fields["x-ignore-pad"]) == 5000


def test_a_form_without_a_file() -> None:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--{BOUNDARY}--\r\n'
    )
    form, got = read(raw.encode(), 5)
    assert form.fields == {"key": "k"} and not form.has_file and got == b""


@pytest.mark.parametrize(
    "raw",
    [
        b"no boundary at all",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nunterminated'.encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: attachment\r\n\r\nx\r\n--{BOUNDARY}--".encode(),
        body([], b"file")[:-12],  # the file part never ends
    ],
)
def test_malformed_forms_are_refused(raw: bytes) -> None:
    with pytest.raises(forms.MalformedForm):
        read(raw, 4)
