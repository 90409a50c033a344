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


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    def take(self, n: int) -> bytes:
        start = self.pos
        stop = start + n
        if stop > self.end:
            raise Malformed("Unexpected end of CBOR input")
        self.pos = stop
        return self.data[start:stop]

    def argument(self, info: int) -> int:
        """The head's argument (a length, an integer, a tag number)."""
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int.from_bytes(self.take(2), "big")
        if info == 26:
            return int.from_bytes(self.take(4), "big")
        if info == 27:
            return int.from_bytes(self.take(8), "big")
        raise Malformed(f"Invalid CBOR additional information {info}")

    def length(self, info: int) -> int:
        n = self.argument(info)
        if n > self.end - self.pos:
            raise Malformed("CBOR length exceeds the input")
        return n

    def at_break(self) -> bool:
        if self.pos >= self.end:
            raise Malformed("Unexpected end of CBOR input")
        if self.data[self.pos] == _BREAK:
            self.pos += 1
            return True
        return False

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Malformed("CBOR input nests too deeply")
        if self.pos >= self.end:
            raise Malformed("Unexpected end of CBOR input")
        head = self.data[self.pos]
        self.pos += 1
        major, info = head >> 5, head & 0x1F
        if major == 0:
            return self.argument(info)
        if major == 1:
            return -1 - self.argument(info)
        if major == 2:
            return self.string_bytes(info, 2)
        if major == 3:
            raw = self.string_bytes(info, 3)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Malformed("Invalid UTF-8 in a CBOR text string") from None
        if major == 4:
            if info == 31:
                items = []
                while not self.at_break():
                    items.append(self.item(depth + 1))
                return items
            return [self.item(depth + 1) for _ in range(self.length(info))]
        if major == 5:
            return self.map(info, depth)
        if major == 6:
            return self.tagged(self.argument(info), depth)
        return self.simple(info)

    def string_bytes(self, info: int, major: int) -> bytes:
        if info != 31:
            return self.take(self.length(info))
        chunks = []
        while not self.at_break():
            head = self.data[self.pos]
            self.pos += 1
            if head >> 5 != major or head & 0x1F == 31:
                raise Malformed("Invalid chunk in an indefinite-length CBOR string")
            chunks.append(self.take(self.length(head & 0x1F)))
        return b"".join(chunks)

    def map(self, info: int, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        if info == 31:
            while not self.at_break():
                self.pair(out, depth)
            return out
        for _ in range(self.length(info)):
            self.pair(out, depth)
        return out

    def pair(self, out: dict[Any, Any], depth: int) -> None:
        key = self.item(depth + 1)
        if type(key) is not str:
            raise Malformed("A CBOR map key must be a text string")
        out[key] = self.item(depth + 1)

    def tagged(self, tag: int, depth: int) -> Any:
        value = self.item(depth + 1)
        if tag == 1:
            if type(value) is bool or not isinstance(value, int | float):
                raise Malformed("CBOR tag 1 must hold a number", "a timestamp")
            return timestamp_from_epoch(value)
        if tag in (2, 3) and type(value) is bytes:
            n = int.from_bytes(value, "big")
            return n if tag == 2 else -1 - n
        raise Malformed(f"Unsupported CBOR tag {tag}")

    def simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _HALF.unpack(self.take(2))[0]
        if info == 26:
            return _SINGLE.unpack(self.take(4))[0]
        if info == 27:
            return _DOUBLE.unpack(self.take(8))[0]
        raise Malformed(f"Unsupported CBOR simple value {info}")


def decode(data: bytes) -> Any:
    """The one CBOR data item `data` holds."""
    reader = _Reader(bytes(data))
    value = reader.item(0)
    if reader.pos != reader.end:
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
