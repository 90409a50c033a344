"""Randomness and random identifiers on the hot path.

`random_bytes` hands out bytes of the operating system's CSPRNG from a pool
refilled 4 KiB at a time: one `getrandom` call serves a few hundred requests'
nonces and ids instead of three or four calls each. Buffering does not weaken
the bytes; what matters is that none is handed out twice, which the pool
guarantees within a process and `os.register_at_fork` across forks (a child
starts with an empty pool, never its parent's remainder).
"""

from __future__ import annotations

import os
import time

_POOL_SIZE = 4096
#: Requests larger than this go straight to the OS.
_POOLED_MAX = 64

_pool = b""
_pos = 0


def _forget_pool() -> None:
    global _pool, _pos
    _pool, _pos = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def random_bytes(n: int) -> bytes:
    """`n` bytes from the OS CSPRNG (pooled for small `n`)."""
    global _pool, _pos
    if n > _POOLED_MAX:
        return os.urandom(n)
    end = _pos + n
    if end > len(_pool):
        _pool, _pos, end = os.urandom(_POOL_SIZE), 0, n
    out = _pool[_pos:end]
    _pos = end
    return out


def uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID string.

    Twice as fast as ``str(uuid.uuid4())``; every request needs one.
    """
    h = random_bytes(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def uuid7() -> str:
    """A time-ordered (version 7, RFC 9562) UUID string: 48 bits of Unix
    milliseconds, then 74 random bits.

    For ids that are indexed: new ones land at the right edge of the B-tree
    instead of on a random page, so inserting stays cheap as the table grows.
    """
    ms = int(time.time() * 1000) & 0xFFFFFFFFFFFF
    h = f"{ms:012x}" + random_bytes(10).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"
