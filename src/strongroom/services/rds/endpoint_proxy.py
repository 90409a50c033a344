"""The listeners behind Aurora custom endpoints, in this process: one TCP
listener per endpoint on its own loopback address (``127.1.x.y``) and the
cluster's port, forwarding each connection it accepts, byte for byte, to one
of the endpoint's eligible instances (round robin over them, as AWS's DNS
spreads connections). PostgreSQL's protocol (TLS included) passes through
untouched; a connection made while no instance is eligible is closed.

`sync` is given what the store says (`cluster_endpoints.wanted`): the
housekeeping job calls it every few seconds while engines run, so a
failover, a new member or a stopped instance changes where the next
connection goes. Connections already made stay where they are.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Mapping, Sequence

log = logging.getLogger("strongroom.services.rds")

_CHUNK = 64 * 1024


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(_CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class _Listener:
    def __init__(self, address: str, port: int, targets: Sequence[int]) -> None:
        self.address, self.port = address, port
        self._targets = list(targets)
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((address, port))
            self._sock.listen(64)
        except OSError:
            self._sock.close()
            raise
        self._closed = False
        self._thread = threading.Thread(
            target=self._accept, name=f"strongroom-rds-endpoint-{address}", daemon=True
        )
        self._thread.start()

    def set_targets(self, targets: Sequence[int]) -> None:
        with self._lock:
            self._targets = list(targets)

    def _next_target(self) -> int | None:
        with self._lock:
            if not self._targets:
                return None
            return self._targets[next(self._turn) % len(self._targets)]

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        target = self._next_target()
        if target is None:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", target), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class EndpointProxies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, _Listener] = {}

    def sync(self, wanted: Mapping[str, tuple[str, int, Sequence[int]]]) -> set[str]:
        """Listen as `wanted` says ({endpoint resource id: (address, port,
        target ports)}); returns the endpoints listening here."""
        with self._lock:
            for rid in list(self._listeners):
                have = self._listeners[rid]
                want = wanted.get(rid)
                if want is None or (have.address, have.port) != (want[0], want[1]):
                    have.close()
                    del self._listeners[rid]
            for rid, (address, port, targets) in wanted.items():
                have = self._listeners.get(rid)
                if have is not None:
                    have.set_targets(targets)
                    continue
                try:
                    self._listeners[rid] = _Listener(address, port, targets)
                except OSError as err:
                    # (another process of this server may hold it)
                    log.warning("RDS endpoint %s:%s not listened on: %s", address, port, err)
            return set(self._listeners)

    def close(self) -> None:
        with self._lock:
            for listener in self._listeners.values():
                listener.close()
            self._listeners.clear()
