"""Audit durability under write contention: with several workers on one
SQLite store, every request acknowledged more than `BOUND` seconds before a
`kill -9` has its CloudTrail event (README, "The audit trail").

The load is raw, pre-signed, pipelined IAM CreateUser requests on several
connections, so that both workers write without a pause and each often
finds the other holding the write lock: boto3 in client threads could not
keep two workers busy."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.audit import records
from strongroom.audit.recorder import DURABLE_WITHIN
from strongroom.store.db import Store, default_url
from strongroom.testing import StrongroomServer

#: What the design promises: an event is stored within this long of its response.
BOUND = DURABLE_WITHIN
LOAD_SECONDS = 4.0
CONNECTIONS = 8
#: Requests each connection keeps in flight.
PIPELINE = 4
#: Signed requests made ready per connection (more than it can send in LOAD_SECONDS).
PER_CONNECTION = 1500
#: How often the watcher looks for new events in the store.
WATCH_EVERY = 0.02


def _signed_requests(server: StrongroomServer, tag: int) -> list[bytes]:
    """`PER_CONNECTION` signed CreateUser requests, as bytes on the wire."""
    creds = Credentials(server.access_key_id, server.secret_access_key)
    signer = SigV4Auth(creds, "iam", "us-east-1")
    host = f"127.0.0.1:{server.port}"
    wire = []
    for n in range(PER_CONNECTION):
        body = urlencode(
            {"Action": "CreateUser", "Version": "2010-05-08", "UserName": f"load-{tag}-{n}"}
        )
        request = AWSRequest(
            "POST",
            f"{server.endpoint}/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        signer.add_auth(request)
        head = f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k != "Host")
        wire.append((head + "\r\n" + body).encode())
    return wire


def _read_response(sock: socket.socket, buffer: bytearray) -> str | None:
    """The request id of the next response on `sock`; None once it is closed."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    headers = {}
    for line in bytes(buffer[:end]).decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < end + length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    del buffer[: end + length]
    return headers.get("x-amzn-requestid")


def _load(
    port: int, wire: list[bytes], stop: threading.Event, acked: list[tuple[str, float]]
) -> None:
    """Send `wire` with `PIPELINE` requests in flight until told to stop,
    noting each response's request id and when it arrived."""
    buffer = bytearray()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        with sock:
            sent = 0
            while sent < min(PIPELINE, len(wire)):
                sock.sendall(wire[sent])
                sent += 1
            while not stop.is_set():
                request_id = _read_response(sock, buffer)
                if request_id is None:
                    return
                acked.append((request_id, time.time()))
                if sent < len(wire):
                    sock.sendall(wire[sent])
                    sent += 1
    except OSError:  # the server is gone
        return


def _watch_store(database: Path, stop: threading.Event, unseen_at: dict[str, float]) -> None:
    """For each request id whose event shows in the store: the last time the
    watcher looked and did not find it yet. Its event was committed after
    that (a reader's snapshot is taken after it starts), so that time minus
    the response's is a lower bound on how long the event took to be stored.
    A reader never blocks SQLite's writers."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    last_seq = 0
    looked_at = time.time()
    try:
        while not stop.wait(WATCH_EVERY):
            started = time.time()
            try:
                rows = conn.execute(
                    "SELECT seq, events FROM audit_batches WHERE seq > ? ORDER BY seq",
                    (last_seq,),
                ).fetchall()
            except sqlite3.Error:
                continue  # the store is gone
            for seq, body in rows:
                last_seq = seq
                for event in orjson.loads(body):
                    unseen_at.setdefault(event[-1].get("requestID"), looked_at)
            looked_at = started
    finally:
        conn.close()


def _stored_request_ids(data_dir: Path) -> set[str]:
    store = Store(default_url(data_dir))
    try:
        with store.transaction(write=False) as conn:
            return {event.own.get("requestID") for _, _, event in records.scan(conn)}
    finally:
        store.close()


def run_load_and_kill(
    data_dir: Path, workers: int, *, graceful: bool = False, seconds: float = LOAD_SECONDS
) -> tuple[list[tuple[str, float]], float, dict[str, float]]:
    """Write load on a server of `workers` processes, then kill -9 all of them
    (SIGTERM the parent if `graceful`) while it runs: the acknowledged
    requests (request id, when), when the kill came, and for each request
    seen stored, when it had not been yet (`_watch_store`)."""
    server = StrongroomServer(data_dir, workers=workers).start()
    try:
        assert len(server.pids()) >= (workers + 1 if workers > 1 else 1)
        wires = [_signed_requests(server, i) for i in range(CONNECTIONS)]
        stop = threading.Event()
        acked: list[tuple[str, float]] = []
        unseen_at: dict[str, float] = {}
        threads = [
            threading.Thread(target=_load, args=(server.port, w, stop, acked), daemon=True)
            for w in wires
        ]
        threads.append(
            threading.Thread(
                target=_watch_store, args=(data_dir / "state.db", stop, unseen_at), daemon=True
            )
        )
        for t in threads:
            t.start()
        time.sleep(seconds)
        killed_at = time.time()
        if graceful:
            server.stop()  # SIGTERM, as an operator stops it, the load still running
        else:
            server.kill()  # SIGKILL to the parent and every worker, the load still running
        stop.set()
        for t in threads:
            t.join(10)
        if not graceful:
            server.start()  # the store opens again after the kill
            server.client("iam").get_user(UserName="load-0-0")
    finally:
        server.close()
    return acked, killed_at, unseen_at


def test_acknowledged_events_survive_kill_9_with_two_workers(tmp_path) -> None:
    data_dir = tmp_path / "data"
    acked, killed_at, unseen_at = run_load_and_kill(data_dir, workers=2)
    due = [(rid, at) for rid, at in acked if at < killed_at - BOUND]
    assert len(due) > 500, f"too little load to test anything: {len(acked)} requests"
    # While the load ran: no event took longer than BOUND to be stored.
    late = sorted(unseen_at[rid] - at for rid, at in acked if unseen_at.get(rid, 0) - at > BOUND)
    assert not late, (
        f"{len(late)} of {len(acked)} events took more than {BOUND}s to be stored, "
        f"one at least {late[-1]:.3f}s"
    )
    # And the kill lost none acknowledged more than BOUND before it.
    stored = _stored_request_ids(data_dir)
    lost = sorted(killed_at - at for rid, at in due if rid not in stored)
    assert not lost, (
        f"{len(lost)} of {len(due)} events acknowledged more than {BOUND}s before the "
        f"kill were lost, the oldest {lost[-1]:.3f}s before it"
    )


def test_a_graceful_stop_under_load_stores_every_acknowledged_event(tmp_path) -> None:
    data_dir = tmp_path / "data"
    acked, _, _ = run_load_and_kill(data_dir, workers=2, graceful=True, seconds=2.0)
    assert len(acked) > 500, f"too little load to test anything: {len(acked)} requests"
    stored = _stored_request_ids(data_dir)
    lost = [rid for rid, _ in acked if rid not in stored]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged events were lost on SIGTERM"
