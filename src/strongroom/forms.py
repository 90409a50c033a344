"""``multipart/form-data`` (RFC 7578) read as it streams: the fields before
the file part kept (bounded), the file part handed on in pieces as it
arrives, never held whole — for S3's browser-based POST uploads, whose form
carries its fields first and the file last.

A service reads its form through this module, as it reads JSON documents
through `strongroom.encoding`: the text format is not its business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


class MalformedForm(ValueError):
    """The body is not well-formed multipart/form-data."""


class FieldsTooLarge(ValueError):
    """The fields before the file take more than the bound."""


@dataclass(slots=True)
class Form:
    #: Field name (as sent) -> value, in the order they came, before the file.
    fields: dict[str, str] = field(default_factory=dict)
    #: Whether a file part came (a part with a ``filename``, or named ``file``).
    has_file: bool = False
    #: Its ``filename`` parameter ("" when it had none) and its Content-Type.
    filename: str = ""
    file_content_type: str | None = None
    #: Bytes of the file part.
    file_size: int = 0


def boundary_of(content_type: str | None) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or None when
    it is not one (or names no boundary)."""
    if not content_type:
        return None
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    params = _params(rest)
    value = params.get("boundary")
    return value if value and len(value) <= 200 else None


def _params(text: str) -> dict[str, str]:
    """``; name="value"; other=value`` -> {name: value} (names lower-cased)."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t;":
            i += 1
        start = i
        while i < n and text[i] not in "=;":
            i += 1
        name = text[start:i].strip().lower()
        value = ""
        if i < n and text[i] == "=":
            i += 1
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] == '"':
                i += 1
                chars = []
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n:
                        i += 1
                    chars.append(text[i])
                    i += 1
                i += 1
                value = "".join(chars)
            else:
                start = i
                while i < n and text[i] != ";":
                    i += 1
                value = text[start:i].strip()
        if name:
            out.setdefault(name, value)
        while i < n and text[i] != ";":
            i += 1
    return out


_MAX_PART_HEAD = 8 * 1024


def read_form(
    chunks: Iterable[bytes],
    boundary: str,
    on_file: Callable[[bytes], None],
    *,
    max_fields: int,
) -> Form:
    """Read the form from `chunks`: its fields until the file part (at most
    `max_fields` bytes of names and values together, else FieldsTooLarge),
    then the file part's bytes passed to `on_file` as they arrive; what
    follows the file is not read. MalformedForm when it is not well-formed."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    keep = len(delimiter) + 4
    form = Form()
    buf = bytearray(b"\r\n")  # the first delimiter has no CRLF before it
    it = iter(chunks)
    ended = False
    used = 0

    def more() -> bool:
        nonlocal ended
        if ended:
            return False
        for chunk in it:
            if chunk:
                buf.extend(chunk)
                return True
        ended = True
        return False

    # The preamble, up to the first delimiter.
    while True:
        at = buf.find(delimiter)
        if at >= 0:
            del buf[: at + len(delimiter)]
            break
        if len(buf) > keep:
            del buf[: len(buf) - keep]
        if not more():
            raise MalformedForm("no boundary")
    while True:
        while len(buf) < 2:
            if not more():
                raise MalformedForm("truncated")
        if buf[:2] == b"--":
            return form  # the closing delimiter
        # Transport padding, then the CRLF that ends the delimiter line.
        while True:
            eol = buf.find(b"\r\n")
            if eol >= 0:
                break
            if len(buf) > 256 or not more():
                raise MalformedForm("bad delimiter line")
        if buf[:eol].strip(b" \t"):
            raise MalformedForm("bad delimiter line")
        del buf[: eol + 2]
        # The part's header block.
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0 or buf.startswith(b"\r\n"):
                break
            if len(buf) > _MAX_PART_HEAD or not more():
                raise MalformedForm("bad part headers")
        if end < 0 or buf.startswith(b"\r\n"):
            head, skip = b"", 2
        else:
            head, skip = bytes(buf[:end]), end + 4
        del buf[:skip]
        name, filename, ctype = _part_headers(head)
        if filename is not None or (name or "").lower() == "file":
            form.has_file = True
            form.filename = filename or ""
            form.file_content_type = ctype
            _stream_part(buf, delimiter, more, on_file, form)
            return form
        # A field: kept, within the bound.
        while True:
            at = buf.find(delimiter)
            if at >= 0:
                break
            if used + len(buf) - keep > max_fields:
                raise FieldsTooLarge("form fields too large")
            if not more():
                raise MalformedForm("truncated")
        used += len(name or "") + at
        if used > max_fields:
            raise FieldsTooLarge("form fields too large")
        if name is None:
            raise MalformedForm("a part without a name")
        try:
            value = bytes(buf[:at]).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedForm("a field that is not UTF-8") from None
        form.fields.setdefault(name, value)
        del buf[: at + len(delimiter)]


def _stream_part(
    buf: bytearray,
    delimiter: bytes,
    more: Callable[[], bool],
    on_file: Callable[[bytes], None],
    form: Form,
) -> None:
    keep = len(delimiter)
    while True:
        at = buf.find(delimiter)
        if at >= 0:
            if at:
                on_file(bytes(buf[:at]))
                form.file_size += at
            return
        if len(buf) > keep:
            cut = len(buf) - keep
            on_file(bytes(buf[:cut]))
            form.file_size += cut
            del buf[:cut]
        if not more():
            raise MalformedForm("truncated file part")


def _part_headers(head: bytes) -> tuple[str | None, str | None, str | None]:
    """(name, filename or None, Content-Type) of a part's header block."""
    name = filename = ctype = None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            raise MalformedForm("bad part header")
        key = key.strip().lower()
        if key == "content-disposition":
            kind, _, rest = value.partition(";")
            if kind.strip().lower() != "form-data":
                raise MalformedForm("not form-data")
            params = _params(rest)
            name = params.get("name")
            filename = params.get("filename")
        elif key == "content-type":
            ctype = value.strip()
    return name, filename, ctype
