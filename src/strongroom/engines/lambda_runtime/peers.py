"""Who is on the other end of a Runtime API connection.

An environment's Runtime API listens on 127.0.0.1, where any local process
could connect to it, take the function's events, or answer for it. On AWS
nothing else shares the sandbox, so here a connection is served only if its
socket belongs to the environment's own process. The check looks up the
peer's socket inode in /proc/net/tcp and then looks for it among the
process's file descriptors. It runs once per connection; awslambdaric keeps
its connection open.
"""

from __future__ import annotations

import os
import socket


def _hex_address(host: str, port: int) -> str:
    # /proc/net/tcp writes an IPv4 address as the hex of its 32-bit value in
    # host byte order (little-endian here), then the port in hex.
    packed = socket.inet_aton(host)
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def socket_inode(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The inode of the socket connected from ``peer`` to ``local``."""
    want_local = _hex_address(*peer)
    want_remote = _hex_address(*local)
    try:
        with open("/proc/net/tcp", encoding="ascii") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) > 9 and fields[1] == want_local and fields[2] == want_remote:
                    return int(fields[9])
    except (OSError, ValueError):
        return None
    return None


def process_holds(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}") == target:
                return True
        except OSError:
            continue
    return False


def connected_from(pid: int, peer: tuple[str, int], local: tuple[str, int]) -> bool | None:
    """True if process ``pid`` holds the connection from ``peer`` and False if
    it does not. None if this cannot be told, because /proc/net/tcp is
    unreadable or has no IPv4 entry for the connection."""
    inode = socket_inode(peer, local)
    if inode is None:
        return None
    return process_holds(pid, inode)
