"""The operating-system account PostgreSQL runs as.

PostgreSQL refuses to run as root. When strongroom runs as root, every
engine program runs as an unprivileged account: the one configured
(``run_as`` / ``STRONGROOM_POSTGRES_USER``), else the ``postgres`` system
user when it exists, else a dedicated system user ``strongroom-pg`` created
with ``useradd``. Processes switch to it through subprocess's
``user=``/``group=``/``extra_groups=`` (setuid/setgid/setgroups in the child,
no preexec hook). Not root: the current user, and ``run_as`` must name it.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from strongroom.engines.driver import EngineError

ENV_USER = "STRONGROOM_POSTGRES_USER"
DEDICATED = "strongroom-pg"
_log = logging.getLogger("strongroom.engines.postgres")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: frozenset[int]
    switch: bool  # True: processes must drop to this account (we are root)

    def popen_kwargs(self) -> dict:
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.switch:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def chown_tree(self, root: Path) -> None:
        if not self.switch:
            return
        self.chown(root)
        for parent, dirs, files in os.walk(root):
            for name in dirs + files:
                os.chown(os.path.join(parent, name), self.uid, self.gid, follow_symlinks=False)

    def can_traverse(self, path: Path) -> bool:
        """Whether this account may search ``path`` (mode bits only)."""
        st = path.stat()
        if self.uid == 0:
            return True
        if st.st_uid == self.uid:
            return bool(st.st_mode & stat.S_IXUSR)
        if st.st_gid in self.groups:
            return bool(st.st_mode & stat.S_IXGRP)
        return bool(st.st_mode & stat.S_IXOTH)

    def ensure_traversable(self, path: Path) -> list[Path]:
        """Grant search (never read) permission on every ancestor of ``path``
        this account cannot traverse: a POSIX ACL entry for it when setfacl
        exists, else the ``o+x`` bit. Returns the directories changed."""
        changed: list[Path] = []
        if not self.switch:
            return changed
        setfacl = shutil.which("setfacl")
        for ancestor in reversed(Path(path).resolve().parents):
            if self.can_traverse(ancestor):
                continue
            if setfacl:
                done = subprocess.run(
                    [setfacl, "-m", f"u:{self.uid}:x", str(ancestor)], capture_output=True
                )
                if done.returncode == 0 and self._acl_ok(ancestor):
                    changed.append(ancestor)
                    continue
            mode = ancestor.stat().st_mode
            os.chmod(ancestor, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append(ancestor)
            _log.info("granted search permission on %s to the engine account", ancestor)
        return changed

    def _acl_ok(self, path: Path) -> bool:
        probe = subprocess.run(
            ["test", "-x", str(path)], capture_output=True, **self.popen_kwargs()
        )
        return probe.returncode == 0


def _groups_of(name: str, gid: int) -> frozenset[int]:
    return frozenset({gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem})


def resolve_account(run_as: str | None = None, *, create: bool = True) -> Account:
    """The account engines run as (see the module docstring)."""
    requested = run_as or os.environ.get(ENV_USER) or None
    euid = os.geteuid()
    if euid != 0:
        me = pwd.getpwuid(euid)
        if requested and requested != me.pw_name:
            raise EngineError(
                f"engines can run as {requested!r} only when strongroom runs as root "
                f"(it runs as {me.pw_name!r})"
            )
        return Account(me.pw_name, euid, os.getegid(), frozenset(os.getgroups()), False)
    names = [requested] if requested else ["postgres", DEDICATED]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise EngineError(f"the engine account {name!r} is root: PostgreSQL refuses root")
        return Account(name, entry.pw_uid, entry.pw_gid, _groups_of(name, entry.pw_gid), True)
    name = requested or DEDICATED
    useradd = shutil.which("useradd")
    if not create or useradd is None:
        raise EngineError(
            f"no unprivileged account for PostgreSQL: {name!r} does not exist"
            + ("" if useradd else " and useradd is not available")
        )
    done = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise EngineError(f"could not create the engine account {name!r}: {done.stderr.strip()}")
    entry = pwd.getpwnam(name)
    _log.info("created system account %s (uid %d) for PostgreSQL", name, entry.pw_uid)
    return Account(name, entry.pw_uid, entry.pw_gid, _groups_of(name, entry.pw_gid), True)
