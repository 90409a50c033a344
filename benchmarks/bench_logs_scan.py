"""CloudWatch Logs scan benchmark: FilterLogEvents and Insights over
1,000,000 stored events, strongroom and (with ``--moto``) moto's server.

The events go in as 10,000 PutLogEvents of 100 (half plain text, half
JSON; 1 % of them ERROR), spread over 20 hours. Then, timed end to end
through boto3 (every page of the answer): FilterLogEvents with a term
pattern and with two JSON patterns, and an Insights
``stats count(*) by bin(5m)`` (StartQuery then GetQueryResults), against
the issue's bar of under a second each. The server is pinned to core 0
(``taskset``), the client to core 1. Storage per stored event is the SQLite
file's size (after a checkpoint) over the events.

Run: ``python benchmarks/bench_logs_scan.py [--events 1000000] [--moto]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

KEY, SECRET = "AKIABENCHLOGSSCAN000", "bench-logs-scan-secret-key-0000000000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception as err:
            if getattr(err, "code", None):
                return
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def start(kind: str, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    if kind == "strongroom":
        env = {**os.environ, "STRONGROOM_ROOT_ACCESS_KEY_ID": KEY,
               "STRONGROOM_ROOT_SECRET_ACCESS_KEY": SECRET}  # fmt: skip
        cmd = [*pin, sys.executable, "-m", "strongroom", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
        health = f"http://127.0.0.1:{port}/_strongroom/health"
    else:
        env = dict(os.environ)
        cmd = [*pin, "moto_server", "-H", "127.0.0.1", "-p", str(port)]
        health = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(health)
    return proc, f"http://127.0.0.1:{port}"


def load(logs, events: int) -> tuple[int, float]:
    logs.create_log_group(logGroupName="/bench/scan")
    logs.create_log_stream(logGroupName="/bench/scan", logStreamName="s")
    start_ms = int(time.time() * 1000) - 21 * 3600_000
    step = max(1, (20 * 3600_000) // events)
    began = time.monotonic()
    for b in range(events // 100):
        batch = []
        for i in range(100):
            k = b * 100 + i
            level = "ERROR" if (k // 2) % 100 == 49 else "INFO"  # 1 %, text and JSON alike
            if k % 2:
                message = json.dumps({"level": level, "latency": k % 1000,
                                      "path": f"/api/v1/items/{k % 977}", "user": f"u{k % 5000}"})  # fmt: skip
            else:
                message = (
                    f"2024-01-01T00:00:00Z {level} request id={k} path=/api/v1/items/{k % 977}"
                )
            batch.append({"timestamp": start_ms + k * step, "message": message})
        logs.put_log_events(logGroupName="/bench/scan", logStreamName="s", logEvents=batch)
    return start_ms, time.monotonic() - began


def timed_filter(logs, pattern: str) -> tuple[int, float]:
    began = time.monotonic()
    found = 0
    kwargs = {"logGroupName": "/bench/scan", "filterPattern": pattern}
    while True:
        out = logs.filter_log_events(**kwargs)
        found += len(out["events"])
        if "nextToken" not in out:
            break
        kwargs["nextToken"] = out["nextToken"]
    return found, time.monotonic() - began


def timed_query(logs, start_ms: int) -> tuple[int, float]:
    began = time.monotonic()
    qid = logs.start_query(
        logGroupName="/bench/scan", startTime=start_ms // 1000, endTime=start_ms // 1000 + 86400,
        queryString="stats count(*) by bin(5m)",
    )["queryId"]  # fmt: skip
    while True:
        out = logs.get_query_results(queryId=qid)
        if out["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.05)
    return len(out["results"]), time.monotonic() - began


def bench(kind: str, events: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-logs-{kind}-"))
    proc, url = start(kind, data_dir)
    try:
        logs = boto3.client(
            "logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY,
            aws_secret_access_key=SECRET, config=Config(read_timeout=600, retries={"max_attempts": 1}),
        )  # fmt: skip
        start_ms, took = load(logs, events)
        print(f"{kind}: loaded {events:,} events in {took:.1f} s ({events / took:,.0f} events/s "
              "through boto3, one client)")  # fmt: skip
        if kind == "strongroom":
            time.sleep(2)  # let the WAL checkpoint run
            size = (data_dir / "state.db").stat().st_size
            print(f"{kind}: state.db {size:,} bytes, {size / events:.1f} bytes per event")
        for pattern in ("ERROR", '{ $.level = "ERROR" }', "{ $.latency > 990 }"):
            found, took = timed_filter(logs, pattern)
            verdict = "ok" if took < 1 else "over 1 s"
            print(
                f"{kind}: FilterLogEvents {pattern!r}: {found:,} events in {took:.3f} s ({verdict})"
            )
        rows, took = timed_query(logs, start_ms)
        verdict = "ok" if took < 1 else "over 1 s"
        print(
            f"{kind}: Insights stats count(*) by bin(5m): {rows} rows in {took:.3f} s ({verdict})"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--moto", action="store_true", help="also run moto's server")
    args = parser.parse_args()
    bench("strongroom", args.events)
    if args.moto:
        try:
            bench("moto", args.events)
        except Exception as err:
            print(f"moto: not available ({err})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
