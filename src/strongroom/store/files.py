"""The data directory and the files in it are private to the server's user.

The data dir holds the audit trail, IAM state and the sealed key material
(`state.db` and SQLite's `-wal` and `-shm` beside it, the `-generation`
file), the root key (`root.key`) and the root credentials: any other local
user who could read them would read the audit trail and IAM state, and with
the root key every secret. So the dir is 0700 and every file in it 0600.

* `prepare_data_dir` creates the dir 0700, or tightens one that exists
  and is ours (with a log line when it already held state), and the state
  files and blob directory in it (`STATE_ENTRIES`). Only those: a data dir
  pointed at a directory with other files in it must not change their modes.
* `private_database` creates an SQLite database file 0600 before SQLite
  opens it: SQLite creates the `-wal` and `-shm` files with the database
  file's own mode, so they are private too. No umask is changed (the
  process's umask is shared by every thread).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("strongroom.store")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
#: Files SQLite and the store keep beside a database file.
DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal", "-generation")
#: The directory a blob backend keeps in the data dir.
BLOBS_DIR = "blobs"
#: What strongroom keeps in a data dir (`strongroom.testing` adds server.log).
STATE_ENTRIES = (
    *(f"state.db{suffix}" for suffix in DATABASE_SUFFIXES),
    "root.key",
    "root-credentials",
    "root-credentials.tmp",
    "server.log",
    BLOBS_DIR,
)


def prepare_data_dir(path: Path) -> Path:
    """Create the data dir `path` with mode 0700 (its missing parents as the
    umask says), or make an existing one 0700 if this user owns it; then
    `tighten` the `STATE_ENTRIES` in it. Returns `path`."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True)
    except FileExistsError:
        _tighten_existing(path)
    else:
        os.chmod(path, PRIVATE_DIR)  # exactly 0700, whatever the umask took away
    for name in STATE_ENTRIES:
        tighten(path / name)
    return path


def _tighten_existing(path: Path) -> None:
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"the data dir {path} is not a directory")
    mode = stat.S_IMODE(info.st_mode)
    if mode == PRIVATE_DIR:
        return
    if info.st_uid != os.geteuid():
        if mode & 0o077:
            log.warning(
                "the data dir %s (mode %04o) is not this user's: cannot make it private", path, mode
            )
        return
    os.chmod(path, PRIVATE_DIR)
    # A dir just made by someone else's mkdir (`serve` makes it before the
    # root key is loaded) is no news; one that held state was readable by
    # other local users until now.
    if mode & 0o077 and any((path / name).exists() for name in STATE_ENTRIES):
        log.warning("the data dir %s was mode %04o; made it 0700", path, mode)


def tighten(path: Path) -> None:
    """Make the file `path` 0600 (a directory 0700) if this user owns it and
    it allows more. Symbolic links are left alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return
    wanted = PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else PRIVATE_FILE
    if stat.S_IMODE(info.st_mode) & ~wanted:
        os.chmod(path, stat.S_IMODE(info.st_mode) & wanted)


def private_dir(path: Path) -> Path:
    """Create the directory `path` (e.g. a blob store) 0700, or tighten it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path)
    return path


def private_database(path: Path) -> None:
    """Create the SQLite database file `path` empty with mode 0600 if it is
    missing (SQLite takes an empty file for a new database), and tighten it
    and the files SQLite and the store keep beside it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except (FileExistsError, FileNotFoundError):
        pass  # there already, or no such directory: SQLite says so in its words
    else:
        os.close(fd)
    for suffix in DATABASE_SUFFIXES:
        tighten(Path(f"{path}{suffix}"))
