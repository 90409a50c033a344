"""CBOR (RFC 8949): the data model the Smithy RPC v2 CBOR protocol carries.

``decode(data)`` gives Python values: int, bytes, str, list, dict, float,
bool, None, and a tz-aware UTC `datetime` for tag 1 (epoch seconds, what
Smithy sends timestamps as). Definite and indefinite lengths are read;
half, single and double floats; tags 2 and 3 (bignums) as ints. Anything
else a well-formed item may carry but a Smithy request never does (other
tags, simple values other than false/true/null/undefined) is `Malformed`,
as is truncated or trailing input, a map key that is not text, nesting
deeper than `MAX_DEPTH`, or a length beyond the bytes left (so a crafted
length cannot make us allocate).

``encode(value)`` writes the shortest head for every length and integer,
doubles for floats (a float32 member read back as a double is the same
number), and tag 1 with an integer or a double for a `datetime`.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

from strongroom.protocol.values import Malformed, epoch_seconds, timestamp_from_epoch

#: Deeper nesting than any model's shapes need; bounds recursion on crafted input.
MAX_DEPTH = 64

_BREAK = 0xFF
_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")


_MAJOR_NAMES = ("unsigned", "negative", "bytes", "text", "array", "map", "tag", "simple")


def _truncated() -> Malformed:
    return Malformed("Unexpected end of CBOR input")


def _argument(data: bytes, pos: int, end: int, info: int) -> tuple[int, int]:
    """The head's argument (a length, an integer, a tag number) for
    additional information 24-27, and the position after it."""
    if info == 24:
        if pos >= end:
            raise _truncated()
        return data[pos], pos + 1
    size = {25: 2, 26: 4, 27: 8}.get(info)
    if size is None:
        raise Malformed(f"Invalid CBOR additional information {info}")
    stop = pos + size
    if stop > end:
        raise _truncated()
    return int.from_bytes(data[pos:stop], "big"), stop


def _item(data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """The data item at `pos` and the position after it. One function with
    the head decoded inline: a request is thousands of small items, and a
    call per item is most of the cost."""
    if pos >= end:
        raise _truncated()
    head = data[pos]
    pos += 1
    major = head >> 5
    info = head & 0x1F
    if info < 24:
        arg = info
    elif info == 31:
        return _indefinite(data, pos, end, depth, major)
    else:
        arg, pos = _argument(data, pos, end, info)
    if major == 3:
        stop = pos + arg
        if stop > end:
            raise Malformed("CBOR length exceeds the input")
        try:
            return data[pos:stop].decode("utf-8"), stop
        except UnicodeDecodeError:
            raise Malformed("Invalid UTF-8 in a CBOR text string") from None
    if major == 5:
        if depth >= MAX_DEPTH:
            raise Malformed("CBOR input nests too deeply")
        if arg > end - pos:
            raise Malformed("CBOR length exceeds the input")
        out: dict[str, Any] = {}
        for _ in range(arg):
            key, pos = _item(data, pos, end, depth + 1)
            if type(key) is not str:
                raise Malformed("A CBOR map key must be a text string")
            out[key], pos = _item(data, pos, end, depth + 1)
        return out, pos
    if major == 0:
        return arg, pos
    if major == 4:
        if depth >= MAX_DEPTH:
            raise Malformed("CBOR input nests too deeply")
        if arg > end - pos:
            raise Malformed("CBOR length exceeds the input")
        items = []
        append = items.append
        for _ in range(arg):
            value, pos = _item(data, pos, end, depth + 1)
            append(value)
        return items, pos
    if major == 7:
        return _simple(data, pos, end, info, arg)
    if major == 1:
        return -1 - arg, pos
    if major == 2:
        stop = pos + arg
        if stop > end:
            raise Malformed("CBOR length exceeds the input")
        return data[pos:stop], stop
    # major 6: a tag
    if depth >= MAX_DEPTH:
        raise Malformed("CBOR input nests too deeply")
    value, pos = _item(data, pos, end, depth + 1)
    return _tagged(arg, value), pos


def _indefinite(data: bytes, pos: int, end: int, depth: int, major: int) -> tuple[Any, int]:
    if major in (2, 3):
        chunks = []
        while True:
            if pos >= end:
                raise _truncated()
            head = data[pos]
            if head == _BREAK:
                pos += 1
                break
            if head >> 5 != major or head & 0x1F == 31:
                raise Malformed("Invalid chunk in an indefinite-length CBOR string")
            chunk, pos = _item(data, pos, end, depth + 1)
            chunks.append(chunk)
        if major == 2:
            return b"".join(chunks), pos
        return "".join(chunks), pos
    if major not in (4, 5):
        raise Malformed(f"Invalid indefinite length for a CBOR {_MAJOR_NAMES[major]}")
    if depth >= MAX_DEPTH:
        raise Malformed("CBOR input nests too deeply")
    items: list[Any] = []
    out: dict[str, Any] = {}
    while True:
        if pos >= end:
            raise _truncated()
        if data[pos] == _BREAK:
            pos += 1
            return (items if major == 4 else out), pos
        value, pos = _item(data, pos, end, depth + 1)
        if major == 4:
            items.append(value)
            continue
        if type(value) is not str:
            raise Malformed("A CBOR map key must be a text string")
        out[value], pos = _item(data, pos, end, depth + 1)


def _tagged(tag: int, value: Any) -> Any:
    if tag == 1:
        if type(value) is bool or not isinstance(value, int | float):
            raise Malformed("CBOR tag 1 must hold a number", "a timestamp")
        return timestamp_from_epoch(value)
    if tag in (2, 3) and type(value) is bytes:
        n = int.from_bytes(value, "big")
        return n if tag == 2 else -1 - n
    raise Malformed(f"Unsupported CBOR tag {tag}")


def _simple(data: bytes, pos: int, end: int, info: int, arg: int) -> tuple[Any, int]:
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info in (22, 23):
        return None, pos
    # 25-27 are floats: their bits were read as the argument.
    if info == 25:
        return _HALF.unpack(arg.to_bytes(2, "big"))[0], pos
    if info == 26:
        return _SINGLE.unpack(arg.to_bytes(4, "big"))[0], pos
    if info == 27:
        return _DOUBLE.unpack(arg.to_bytes(8, "big"))[0], pos
    raise Malformed(f"Unsupported CBOR simple value {arg if info == 24 else info}")


def decode(data: bytes) -> Any:
    """The one CBOR data item `data` holds."""
    data = bytes(data)
    end = len(data)
    try:
        value, pos = _item(data, 0, end, 0)
    except RecursionError:
        raise Malformed("CBOR input nests too deeply") from None
    if pos != end:
        raise Malformed("Unexpected data after the CBOR item")
    return value


# --------------------------------------------------------------------------- encoding


def _head(out: bytearray, major: int, n: int) -> None:
    base = major << 5
    if n < 24:
        out.append(base | n)
    elif n < 0x100:
        out += bytes((base | 24, n))
    elif n < 0x10000:
        out.append(base | 25)
        out += n.to_bytes(2, "big")
    elif n < 0x100000000:
        out.append(base | 26)
        out += n.to_bytes(4, "big")
    else:
        out.append(base | 27)
        out += n.to_bytes(8, "big")


def _int(out: bytearray, value: int) -> None:
    if value >= 0:
        if value < 1 << 64:
            _head(out, 0, value)
        else:
            out.append(0xC2)
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            _head(out, 2, len(raw))
            out += raw
    else:
        n = -1 - value
        if n < 1 << 64:
            _head(out, 1, n)
        else:
            out.append(0xC3)
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            _head(out, 2, len(raw))
            out += raw


def _encode(out: bytearray, value: Any) -> None:
    t = type(value)
    if t is str:
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif t is dict:
        _head(out, 5, len(value))
        for k, v in value.items():
            _encode(out, k)
            _encode(out, v)
    elif t is list or t is tuple:
        _head(out, 4, len(value))
        for v in value:
            _encode(out, v)
    elif t is bool:
        out.append(0xF5 if value else 0xF4)
    elif t is int:
        _int(out, value)
    elif t is float:
        out.append(0xFB)
        out += _DOUBLE.pack(value)
    elif value is None:
        out.append(0xF6)
    elif t is bytes or t is bytearray or t is memoryview:
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, datetime):
        out.append(0xC1)  # tag 1: epoch seconds
        seconds = epoch_seconds(value if value.tzinfo else value.replace(tzinfo=UTC))
        if type(seconds) is int:
            _int(out, seconds)
        else:
            out.append(0xFB)
            out += _DOUBLE.pack(seconds)
    elif isinstance(value, int):
        _int(out, int(value))
    elif isinstance(value, float):
        out.append(0xFB)
        out += _DOUBLE.pack(float(value))
    else:
        raise TypeError(f"cannot encode {t.__name__} as CBOR")


def encode(value: Any) -> bytes:
    """`value` (the types `decode` gives, tuples and datetimes too) as CBOR."""
    out = bytearray()
    _encode(out, value)
    return bytes(out)


__all__ = ["MAX_DEPTH", "decode", "encode"]
