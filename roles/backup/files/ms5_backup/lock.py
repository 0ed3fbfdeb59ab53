"""The exclusive run lock: one backup, rotation or restore at a time."""

from __future__ import annotations

import errno
import fcntl
import os

from . import PROG
from .errors import BackupError


def acquire(path: str) -> int:
    """Take the lock at PATH without waiting; return its file descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise BackupError(f"another {PROG} run holds the lock {path}; "
                              "not starting a second one") from None
        raise
    return fd
