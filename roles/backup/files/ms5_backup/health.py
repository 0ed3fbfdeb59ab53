"""Health-check pings (e.g. healthchecks.io) after a backup attempt."""

from __future__ import annotations

import urllib.request

from .config import Config, cfg_int
from .errors import BackupError
from .log import Log


def ping(cfg: Config, log: Log, success: bool) -> None:
    url = cfg["HEALTHCHECK_URL"]
    if not success:
        url = cfg["HEALTHCHECK_FAIL_URL"] or (url.rstrip("/") + "/fail" if url else "")
    if not url:
        return
    try:
        timeout = cfg_int(cfg, "HEALTHCHECK_TIMEOUT", 1)
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            response.read(1024)
    except (OSError, ValueError, BackupError) as exc:
        log.error(f"health-check ping failed ({'success' if success else 'failure'} ping): {exc}")
