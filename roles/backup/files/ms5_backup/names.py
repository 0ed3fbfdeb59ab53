"""Backup file names, their manifests on disk, and listing a backups directory.

A backup is `<database>_<UTC yyyymmddTHHMMSSZ>_<kind>.dump` plus
`<same name>.manifest.json`. Only names of that shape count; anything else in the
directory (notes, temporary files, other programs' files) is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .errors import BackupError

# pre-rollback: the safety backup a rollback takes of the state it replaces. A rollback
# to "newest" never selects one (it would restore the damage it is meant to undo).
KINDS = ("scheduled", "pre-migration", "manual", "pre-rollback")
TMP_PREFIX = ".ms5-backup-tmp-"
TS_FORMAT = "%Y%m%dT%H%M%SZ"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
NAME_RE = re.compile(
    r"^(?P<db>[A-Za-z0-9_][A-Za-z0-9_$-]*)_(?P<ts>\d{8}T\d{6}Z)_"
    r"(?P<kind>scheduled|pre-migration|manual|pre-rollback)\.dump$"
)


@dataclass(frozen=True)
class Backup:
    """One backup file, identified by its name; `good` when its manifest exists."""

    name: str
    timestamp: dt.datetime
    kind: str
    good: bool
    database: str = ""
    verified: Optional[dict] = None  # the manifest's "verified" entry when it says ok

    @property
    def verified_ok(self) -> bool:
        return bool(self.verified) and self.verified.get("result") == "ok"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.timezone.utc).strftime(ISO_FORMAT)


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, ISO_FORMAT).replace(tzinfo=dt.timezone.utc)


def check_identifier(name: str, what: str = "database") -> str:
    if not IDENTIFIER_RE.match(name or ""):
        raise BackupError(f"{what} name {name!r} is not a plain PostgreSQL identifier "
                          "(letters, digits, underscore; at most 63 characters)")
    return name


def parse_backup_name(name: str) -> Optional[Tuple[dt.datetime, str]]:
    """Return (UTC timestamp, kind) for a backup file name, None for other files."""
    parsed = parse_backup_name_full(name)
    return None if parsed is None else (parsed[1], parsed[2])


def parse_backup_name_full(name: str) -> Optional[Tuple[str, dt.datetime, str]]:
    """Return (database, UTC timestamp, kind) for a backup file name, None for other files."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        stamp = dt.datetime.strptime(match.group("ts"), TS_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return match.group("db"), stamp, match.group("kind")


def backup_name(database: str, stamp: dt.datetime, kind: str) -> str:
    return f"{database}_{stamp.strftime(TS_FORMAT)}_{kind}.dump"


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".manifest.json")


def read_manifest(dump: Path) -> Optional[dict]:
    """The manifest of DUMP, or None when it is missing or unreadable."""
    try:
        data = json.loads(manifest_path(dump).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_backups(directory: Path, database: Optional[str] = None) -> List[Backup]:
    """Backups in DIRECTORY (of DATABASE when given), newest first."""
    found = []
    for entry in directory.iterdir():
        parsed = parse_backup_name_full(entry.name)
        if parsed is None or not entry.is_file():
            continue
        db, stamp, kind = parsed
        if database is not None and db != database:
            continue
        good = manifest_path(entry).is_file()
        verified = None
        if good:
            manifest = read_manifest(entry) or {}
            value = manifest.get("verified")
            verified = value if isinstance(value, dict) and value.get("result") == "ok" else None
        found.append(Backup(entry.name, stamp, kind, good, db, verified))
    found.sort(key=lambda b: (b.timestamp, b.name), reverse=True)
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: dict, mode: int) -> None:
    """Write DATA as JSON to a temporary name in the same directory, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
