"""QR codes (ISO/IEC 18004) as PNG images, for CreateVirtualMFADevice's
QRCodePNG: byte mode, error correction level M, versions 1 to 10 (up to 213
bytes, far more than an ``otpauth://`` URI needs), mask pattern 0."""

from __future__ import annotations

import struct
import zlib

#: version -> (EC codewords per block, [(blocks, data codewords per block), ...]) at level M.
_BLOCKS_M: dict[int, tuple[int, list[tuple[int, int]]]] = {
    1: (10, [(1, 16)]),
    2: (16, [(1, 28)]),
    3: (26, [(1, 44)]),
    4: (18, [(2, 32)]),
    5: (24, [(2, 43)]),
    6: (16, [(4, 27)]),
    7: (18, [(4, 31)]),
    8: (22, [(2, 38), (2, 39)]),
    9: (22, [(3, 36), (2, 37)]),
    10: (26, [(4, 43), (1, 44)]),
}
_ALIGNMENT = {
    1: [], 2: [6, 18], 3: [6, 22], 4: [6, 26], 5: [6, 30], 6: [6, 34],
    7: [6, 22, 38], 8: [6, 24, 42], 9: [6, 26, 46], 10: [6, 28, 50],
}  # fmt: skip
_LEVEL_M_BITS = 0b00
_MASK = 0


class TooLong(ValueError):
    """The text does not fit a version 10 symbol."""


# -- Reed-Solomon over GF(256), polynomial 0x11D --------------------------------


def _gf_mul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return out


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 2)
    return result


def _rs_remainder(data: list[int], divisor: list[int]) -> list[int]:
    result = [0] * len(divisor)
    for byte in data:
        factor = byte ^ result.pop(0)
        result.append(0)
        for i, coefficient in enumerate(divisor):
            result[i] ^= _gf_mul(coefficient, factor)
    return result


# -- codewords --------------------------------------------------------------------


def _capacity(version: int) -> int:
    return sum(n * size for n, size in _BLOCKS_M[version][1])


def _version_for(length: int) -> int:
    for version in _BLOCKS_M:
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= 8 * _capacity(version):
            return version
    raise TooLong(f"{length} bytes do not fit a version 10 QR code")


def _codewords(data: bytes, version: int) -> list[int]:
    count_bits = 8 if version < 10 else 16
    bits = [0, 1, 0, 0]  # byte mode
    bits += [(len(data) >> i) & 1 for i in range(count_bits - 1, -1, -1)]
    for byte in data:
        bits += [(byte >> i) & 1 for i in range(7, -1, -1)]
    capacity = 8 * _capacity(version)
    bits += [0] * min(4, capacity - len(bits))
    bits += [0] * (-len(bits) % 8)
    words = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(words) < capacity // 8:
        words.append(pad)
        pad ^= 0xEC ^ 0x11
    ec_len, groups = _BLOCKS_M[version]
    divisor = _rs_divisor(ec_len)
    blocks: list[list[int]] = []
    ecs: list[list[int]] = []
    pos = 0
    for count, size in groups:
        for _ in range(count):
            block = words[pos : pos + size]
            pos += size
            blocks.append(block)
            ecs.append(_rs_remainder(block, divisor))
    out = [b[i] for i in range(max(len(b) for b in blocks)) for b in blocks if i < len(b)]
    out += [e[i] for i in range(ec_len) for e in ecs]
    return out


# -- the symbol ------------------------------------------------------------------------


class _Symbol:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = 17 + 4 * version
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.function = [[False] * self.size for _ in range(self.size)]

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.function[y][x] = True

    def draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.set(6, i, i % 2 == 0)
            self.set(i, 6, i % 2 == 0)
        for x, y in ((3, 3), (size - 4, 3), (3, size - 4)):
            self._finder(x, y)
        centres = _ALIGNMENT[self.version]
        last = len(centres) - 1
        for i, cy in enumerate(centres):
            for j, cx in enumerate(centres):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format()
        self.draw_version()

    def _finder(self, cx: int, cy: int) -> None:
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < self.size and 0 <= y < self.size:
                    distance = max(abs(dx), abs(dy))
                    self.set(x, y, distance not in (2, 4))

    def draw_format(self) -> None:
        data = _LEVEL_M_BITS << 3 | _MASK
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        bit = [(bits >> i) & 1 == 1 for i in range(15)]
        for i in range(6):
            self.set(8, i, bit[i])
        self.set(8, 7, bit[6])
        self.set(8, 8, bit[7])
        self.set(7, 8, bit[8])
        for i in range(9, 15):
            self.set(14 - i, 8, bit[i])
        size = self.size
        for i in range(8):
            self.set(size - 1 - i, 8, bit[i])
        for i in range(8, 15):
            self.set(8, size - 15 + i, bit[i])
        self.set(8, size - 8, True)

    def draw_version(self) -> None:
        if self.version < 7:
            return
        rem = self.version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = self.version << 12 | rem
        for i in range(18):
            dark = (bits >> i) & 1 == 1
            a, b = self.size - 11 + i % 3, i // 3
            self.set(a, b, dark)
            self.set(b, a, dark)

    def draw_codewords(self, words: list[int]) -> None:
        i, total = 0, len(words) * 8
        right = self.size - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(self.size):
                for j in range(2):
                    x = right - j
                    upward = ((right + 1) & 2) == 0
                    y = self.size - 1 - vert if upward else vert
                    if not self.function[y][x] and i < total:
                        self.dark[y][x] = (words[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
            right -= 2

    def apply_mask(self) -> None:
        for y in range(self.size):
            for x in range(self.size):
                if not self.function[y][x] and (x + y) % 2 == 0:
                    self.dark[y][x] = not self.dark[y][x]


def encode(text: bytes) -> list[list[bool]]:
    """The QR code's modules (True = dark), row by row, without the quiet zone."""
    version = _version_for(len(text))
    symbol = _Symbol(version)
    symbol.draw_function_patterns()
    symbol.draw_codewords(_codewords(text, version))
    symbol.apply_mask()
    return symbol.dark


def to_png(modules: list[list[bool]], scale: int = 4, border: int = 4) -> bytes:
    """A greyscale PNG of the modules, `scale` pixels each, with a quiet zone."""
    size = (len(modules) + 2 * border) * scale
    rows = []
    for y in range(size):
        my = y // scale - border
        line = bytearray([0])  # filter: none
        for x in range(size):
            mx = x // scale - border
            inside = 0 <= my < len(modules) and 0 <= mx < len(modules)
            line.append(0 if inside and modules[my][mx] else 255)
        rows.append(bytes(line))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def qr_png(text: str) -> bytes:
    return to_png(encode(text.encode()))
