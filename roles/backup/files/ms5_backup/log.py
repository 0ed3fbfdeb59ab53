"""Log lines: stderr, the log file (0600) and syslog."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Optional

from . import PROG

try:  # syslog is absent on some platforms (unit tests may run anywhere)
    import syslog
except ImportError:  # pragma: no cover
    syslog = None  # type: ignore[assignment]


class Log:
    def __init__(self, log_file: Optional[str], use_syslog: bool = True) -> None:
        self.log_file = log_file
        self.use_syslog = use_syslog and syslog is not None
        if self.use_syslog:
            syslog.openlog(PROG, 0, syslog.LOG_DAEMON)

    def _write(self, level: str, message: str) -> None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} {PROG}[{os.getpid()}] {level}: {message}"
        print(line, file=sys.stderr, flush=True)
        if self.log_file:
            try:
                fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError:
                pass
        if self.use_syslog:
            priority = {"ERROR": syslog.LOG_ERR, "WARNING": syslog.LOG_WARNING}.get(level, syslog.LOG_INFO)
            syslog.syslog(priority, f"{level}: {message}")

    def info(self, message: str) -> None:
        self._write("INFO", message)

    def warning(self, message: str) -> None:
        self._write("WARNING", message)

    def error(self, message: str) -> None:
        self._write("ERROR", message)
