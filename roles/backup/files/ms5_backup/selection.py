"""Which backup a rollback restores, and the pin of an unfinished rollback.

`newest` is the newest backup (with a manifest) of the database that a rollback did not
make itself: a rollback's safety backup (kind pre-rollback) holds the state being
replaced and is never chosen by `newest`. `newest-pre-migration` is the newest
pre-migration backup. Anything else names a file (in the backups directory, or an
absolute path).

When a rollback has been confirmed, the chosen file is pinned
(`.ms5-rollback-pending-<database>.json` in the backups directory) before anything
changes; a rerun with the same `newest...` request restores the pinned file, so a
rerun after a failed or interrupted rollback restores the same backup as the first
attempt even when newer backups (of the damaged state) appeared in between. A
successful restore removes the pin; naming a backup explicitly bypasses it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

from .errors import BackupError
from .names import (iso, list_backups, manifest_path, parse_backup_name_full, parse_iso,
                    read_manifest, write_json_atomic)

NEWEST_SPECS = ("newest", "newest-pre-migration")


def human_age(seconds: int) -> str:
    seconds = max(0, int(seconds))
    units = (("day", 86400), ("hour", 3600), ("minute", 60))
    parts = []
    for name, size in units:
        value, seconds = divmod(seconds, size)
        if value:
            parts.append(f"{value} {name}{'s' if value != 1 else ''}")
        if len(parts) == 2:
            break
    return " ".join(parts) if parts else "less than a minute"


def describe(path: Path, manifest: dict, now: dt.datetime) -> dict:
    """The facts about one backup that a person choosing it needs."""
    parsed = parse_backup_name_full(path.name)
    created = manifest.get("created_at") or (iso(parsed[1]) if parsed else None)
    age = int((now - parse_iso(created)).total_seconds()) if created else None
    verified = manifest.get("verified")
    return {
        "file": str(path),
        "name": path.name,
        "database": manifest.get("database") or (parsed[0] if parsed else None),
        "kind": manifest.get("kind") or (parsed[2] if parsed else None),
        "created_at": created,
        "age_seconds": age,
        "age": human_age(age) if age is not None else None,
        "size_bytes": manifest.get("size_bytes"),
        "verified": ({"result": verified.get("result"), "level": verified.get("level", "counts"),
                      "at": verified.get("at")} if isinstance(verified, dict) else None),
        "migration_version": manifest.get("migration_version"),
        "postgresql_version": manifest.get("postgresql_version"),
        "timescaledb_version": manifest.get("timescaledb_version"),
    }


def pin_path(backup_dir: Path, database: str) -> Path:
    return backup_dir / f".ms5-rollback-pending-{database}.json"


def read_pin(backup_dir: Path, database: str) -> Optional[dict]:
    try:
        data = json.loads(pin_path(backup_dir, database).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("file") else None


def write_pin(backup_dir: Path, database: str, spec: str, file: str, now: dt.datetime) -> dict:
    previous = read_pin(backup_dir, database)
    started = previous["started_at"] if previous and previous.get("file") == file else iso(now)
    pin = {"database": database, "spec": spec, "file": file, "started_at": started}
    write_json_atomic(pin_path(backup_dir, database), pin, 0o600)
    return pin


def clear_pin(backup_dir: Path, database: str) -> bool:
    path = pin_path(backup_dir, database)
    if path.exists():
        path.unlink()
        return True
    return False


def resolve(backup_dir: Path, spec: str) -> Path:
    """An absolute path as it is, a plain name in BACKUP_DIR, any other path from here."""
    if spec.startswith("/"):
        return Path(spec)
    if "/" in spec:
        return Path(spec).absolute()
    return backup_dir / spec


def select(backup_dir: Path, database: str, spec: str, now: dt.datetime) -> dict:
    """Choose the backup SPEC means; return describe() of it plus spec, reason and pin."""
    pin = read_pin(backup_dir, database)
    used_pin = None
    if spec in NEWEST_SPECS and pin and pin.get("spec") == spec:
        path = Path(pin["file"])
        if not path.is_file() or not manifest_path(path).is_file():
            raise BackupError(
                f"an unfinished rollback started at {pin.get('started_at')} chose {path}, which is "
                f"gone or lost its manifest. Nothing was changed. Name the backup to restore "
                f"explicitly (ls {backup_dir}; -e rollback_backup=NAME)")
        used_pin = pin
        reason = (f"pinned by the unfinished rollback started at {pin.get('started_at')}: a rerun "
                  "restores the same backup as the first attempt (name a backup explicitly to "
                  "choose another)")
    elif spec in NEWEST_SPECS:
        good = [b for b in list_backups(backup_dir, database) if b.good]
        if spec == "newest":
            candidates = [b for b in good if b.kind != "pre-rollback"]
            reason = "the newest backup (safety backups a rollback took, kind pre-rollback, are never chosen)"
        else:
            candidates = [b for b in good if b.kind == "pre-migration"]
            reason = "the newest pre-migration backup"
        if not candidates:
            raise BackupError(
                f"no {'pre-migration ' if spec == 'newest-pre-migration' else ''}backup of database "
                f"{database} with a manifest in {backup_dir}. Nothing was changed. List them with "
                f"ls {backup_dir} and pass one with -e rollback_backup=NAME")
        path = backup_dir / candidates[0].name
    else:
        path = resolve(backup_dir, spec)
        reason = "named explicitly"
    manifest = read_manifest(path)
    if manifest is None:
        raise BackupError(
            f"{manifest_path(path)} cannot be read (missing or not JSON). Nothing was changed. A "
            f"backup without its manifest cannot be checked; choose another one (ls {backup_dir}) "
            "and pass it with -e rollback_backup=NAME")
    if not path.is_file():
        raise BackupError(f"backup file {path} does not exist. Nothing was changed")
    plan = describe(path, manifest, now)
    plan.update(spec=spec, reason=reason, pinned=used_pin)
    return plan
