"""Which Python runs a function's runtime (python3.x).

The engine is given a map {runtime: interpreter path}. A configured
interpreter is used when it is that Python version and can import
awslambdaric; otherwise the server's own interpreter runs the function, and
the environment's log says so once, when it starts.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.engines.lambda_runtime.model import UnsupportedRuntime

_PROBE = (
    "import os, sys, awslambdaric\n"
    "print('%d.%d.%d' % sys.version_info[:3])\n"
    "print(os.path.dirname(os.path.dirname(os.path.abspath(awslambdaric.__file__))))\n"
)


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.11.7"
    runtime_dir: str  # where awslambdaric lives (LAMBDA_RUNTIME_DIR)
    note: str  # the line the function's log gets at each environment start


def _server_runtime_dir() -> str:
    spec = importlib.util.find_spec("awslambdaric")
    if spec is None or spec.origin is None:
        raise RuntimeError("awslambdaric is not installed (pip install awslambdaric)")
    return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))


class Interpreters:
    def __init__(self, configured: Mapping[str, str]) -> None:
        self._configured = dict(configured)
        self._cache: dict[str, Interpreter] = {}
        self._lock = threading.Lock()

    def for_runtime(self, runtime: str) -> Interpreter:
        with self._lock:
            found = self._cache.get(runtime)
            if found is None:
                found = self._cache[runtime] = self._choose(runtime)
            return found

    def _choose(self, runtime: str) -> Interpreter:
        if not re.fullmatch(r"python3\.\d+", runtime):
            raise UnsupportedRuntime(f"runtime {runtime!r} is not supported (python3.x only)")
        wanted = runtime.removeprefix("python")
        path = self._configured.get(runtime)
        reason = f"no {runtime} interpreter configured"
        if path:
            probed = _probe(path)
            if probed is None:
                reason = f"{path} cannot import awslambdaric"
            elif ".".join(probed[0].split(".")[:2]) != wanted:
                reason = f"{path} is Python {probed[0]}"
            else:
                version, runtime_dir = probed
                return Interpreter(
                    path,
                    version,
                    runtime_dir,
                    f"strongroom: runtime {runtime} runs on Python {version} ({path})",
                )
        version = ".".join(str(part) for part in sys.version_info[:3])
        same = f"{sys.version_info[0]}.{sys.version_info[1]}" == wanted
        note = f"strongroom: runtime {runtime} runs on Python {version} (server interpreter"
        note += ")" if same else f"; {reason})"
        return Interpreter(sys.executable, version, _server_runtime_dir(), note)


def _probe(path: str) -> tuple[str, str] | None:
    try:
        done = subprocess.run(
            [path, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split("\n")
    if done.returncode != 0 or len(lines) < 2:
        return None
    return lines[0].strip(), lines[1].strip()
