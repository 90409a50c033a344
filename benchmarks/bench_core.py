"""Core request-path benchmarks: strongroom vs moto on the same signed request.

Run: ``python benchmarks/bench_core.py [--duration 10] [--connections 16] [--only moto]``
"""

from __future__ import annotations

import sys

from harness import Workload, main, query_request

WORKLOADS = [
    # Query protocol, no state: the cost of routing + SigV4 verification + serialization.
    Workload(
        "sts GetCallerIdentity",
        lambda ep: query_request("sts", "GetCallerIdentity", "2011-06-15"),
    ),
]

if __name__ == "__main__":
    sys.exit(main(WORKLOADS, description=__doc__.splitlines()[0]))
