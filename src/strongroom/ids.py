"""Random identifiers on the hot path (request ids, event ids)."""

from __future__ import annotations

import os


def uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID string.

    Twice as fast as ``str(uuid.uuid4())``; every request needs two.
    """
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
