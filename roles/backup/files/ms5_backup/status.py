"""The host job status file and `ms5-backup --status`.

After every backup attempt, success or failure, the program writes
STATUS_DIR/backup.json (docs/CONVENTIONS.md, "Host-side jobs: status files").
`--status` prints one JSON object with the newest backup, the newest verified
backup, that file's content and the known restore bug of the TimescaleDB build the
newest backup was made with (or null): the deployment report, verify.yml and monitoring
read it instead of parsing the backups directory themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Optional

from .names import iso, list_backups, read_manifest, write_json_atomic
from .selection import describe
from .verification import known_restore_bug

JOB = "backup"


def status_file(status_dir: str) -> Path:
    return Path(status_dir) / f"{JOB}.json"


def read_status(status_dir: str) -> Optional[dict]:
    try:
        data = json.loads(status_file(status_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_status(status_dir: str, program: str, started: dt.datetime, finished: dt.datetime,
                 ok: bool, exit_code: int, message: str, details: dict) -> dict:
    previous = read_status(status_dir) or {}
    data = {
        "job": JOB,
        "program": program,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "ok": ok,
        "exit_code": exit_code,
        "message": " ".join(message.split()),
        "last_success_at": iso(finished) if ok else previous.get("last_success_at"),
        "consecutive_failures": 0 if ok else int(previous.get("consecutive_failures") or 0) + 1,
        "details": details,
    }
    os.makedirs(status_dir, mode=0o755, exist_ok=True)
    write_json_atomic(status_file(status_dir), data, 0o644)
    return data


def status_report(backup_dir: Path, database: str, status_dir: str, now: dt.datetime) -> dict:
    newest = newest_verified = None
    bug = None
    count = 0
    if backup_dir.is_dir():
        for backup in list_backups(backup_dir, database):
            if not backup.good:
                continue
            count += 1
            if newest is not None and (newest_verified is not None or not backup.verified_ok):
                continue
            path = backup_dir / backup.name
            described = describe(path, read_manifest(path) or {}, now)
            if newest is None:
                newest = described
                manifest = read_manifest(path) or {}
                bug = known_restore_bug(manifest.get("timescaledb_version"), manifest.get("timescaledb_license"))
            if newest_verified is None and backup.verified_ok:
                newest_verified = described
    return {
        "database": database,
        "backup_dir": str(backup_dir),
        "backups": count,
        "newest": newest,
        "newest_verified": newest_verified,
        "last_attempt": read_status(status_dir),
        "known_restore_bug": bug,
    }
