"""Checking a backup against the running server, and restoring it in place of the
live database.

The restore never touches the live database until a restored copy has been compared
with the backup's manifest: the copy is made in a new database (jobs held, see
scratch.py), compared (row counts, and content fingerprints when the manifest has
them), given the live database's owner, grants and settings, and swapped in by two
renames in one transaction. Then the held jobs are scheduled again and the job
scheduler, which the rename stopped, is restarted and checked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Callable, List, Optional

from .config import Config, cfg_bool, cfg_int
from .database import Database
from .errors import BackupError
from .log import Log
from .names import manifest_path, sha256_of
from .scratch import check_scheduler, held_jobs_setting, restore_into, resume_jobs, table_state
from .tables import compare_tables

REQUIRED_KEYS = ("sha256", "size_bytes", "tables", "postgresql_version_num", "timescaledb_version")
VERIFY_SCRATCH_RE = re.compile(r"^ms5_backup_verify_\d+$")


def load_manifest(dump: Path) -> dict:
    if not dump.is_file():
        raise BackupError(f"backup file {dump} does not exist")
    mpath = manifest_path(dump)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except OSError:
        raise BackupError(f"manifest {mpath} is missing; refusing to restore an unverifiable backup") from None
    except ValueError as exc:
        raise BackupError(f"manifest {mpath} is not valid JSON: {exc}") from None
    for key in REQUIRED_KEYS:
        if key not in manifest:
            raise BackupError(f"manifest {mpath} lacks {key!r}")
    return manifest


def check_file(dump: Path) -> dict:
    """Size and SHA-256 of DUMP against its manifest; return the manifest."""
    manifest = load_manifest(dump)
    size = dump.stat().st_size
    if size != manifest["size_bytes"]:
        raise BackupError(f"{dump} is {size} bytes, its manifest says {manifest['size_bytes']}: "
                          "the file is truncated or was replaced")
    digest = sha256_of(dump)
    if digest != manifest["sha256"]:
        raise BackupError(f"SHA-256 of {dump} is {digest}, its manifest says "
                          f"{manifest['sha256']}: the file is damaged; choose another backup")
    return manifest


def check(db: Database, log: Log, dump: Path) -> dict:
    """Checksum and version compatibility of a backup with the running server."""
    manifest = check_file(dump)
    db.check_running()
    current = db.run_file("versions.sql")[0]
    want_major = int(manifest["postgresql_version_num"]) // 10000
    have_major = int(current[1]) // 10000
    if want_major != have_major:
        raise BackupError(
            f"backup was made on PostgreSQL {manifest['postgresql_version']}, the server runs "
            f"{current[0]}: restore needs the same major version. Run a TimescaleDB image for "
            f"PostgreSQL {want_major} (timescaledb_image), or put back the previous compose file "
            "(rollback_compose=yes), then retry")
    want_ts = manifest["timescaledb_version"] or ""
    if want_ts and want_ts != current[2]:
        raise BackupError(
            f"backup was made with TimescaleDB {want_ts}, the database runs TimescaleDB "
            f"{current[2] or '(not installed)'}: pg_restore needs the same extension version. "
            f"Run an image with TimescaleDB {want_ts} (set timescaledb_image, or put back the "
            "previous compose file with rollback_compose=yes), restore, then upgrade with "
            "ALTER EXTENSION timescaledb UPDATE")
    log.info(f"check passed: {dump.name} sha256 ok, PostgreSQL {manifest['postgresql_version']}, "
             f"TimescaleDB {want_ts or '-'}, migration version {manifest.get('migration_version')}")
    return manifest


def leftover_scratch_databases(names: List[str], live: str) -> List[str]:
    """Scratch databases of interrupted runs: verification copies and unfinished restores."""
    restore_re = re.compile(rf"^{re.escape(live)}_restore_\d{{14}}$")
    return [n for n in names if VERIFY_SCRATCH_RE.match(n) or restore_re.match(n)]


def housekeeping(db: Database, log: Log) -> None:
    """Run under the lock, before any work: no other run can own what is found here.

    Drops scratch databases an interrupted run left behind, and schedules again the
    jobs of a live database whose restore was interrupted between swap and resume.
    """
    for name in leftover_scratch_databases(db.list_databases(), db.database):
        log.warning(f"dropping scratch database {name} left by an interrupted run")
        db.drop_database(name)
    if held_jobs_setting(db, db.database) is not None:
        resumed = resume_jobs(db, db.database)
        log.warning(f"{db.database}: TimescaleDB jobs {resumed or '(none)'} were still held by an "
                    "interrupted restore; scheduled them again and restarted the job scheduler")


def restore(cfg: Config, db: Database, log: Log, dump: Path, now: dt.datetime,
            after_swap: Callable[[], None] = lambda: None) -> dict:
    """Restore DUMP in place of the live database; return a summary for the caller.

    AFTER_SWAP runs as soon as the restored copy is live (the rollback pin is cleared
    there), before the jobs are resumed and the replaced database is dropped.
    """
    manifest = check(db, log, dump)
    live = db.database
    if manifest.get("database") and manifest["database"] != live:
        raise BackupError(f"{dump.name} is a backup of database {manifest['database']}, not of {live}; "
                          f"restore it with --database {manifest['database']}, nothing was changed")
    stamp = now.strftime("%Y%m%d%H%M%S")
    target = f"{live}_restore_{stamp}"[:63]
    replaced = f"{live}_replaced_{stamp}"[:63]
    ts_version: Optional[str] = manifest["timescaledb_version"] or None
    level = "fingerprints" if manifest.get("fingerprints") else "counts"
    log.info(f"restoring {dump.name} into new database {target}"
             + (" (TimescaleDB jobs held until after the swap)" if ts_version else ""))
    try:
        held = restore_into(db, dump, target, ts_version)
        counts, fingerprints = table_state(db, target, level)
        problems = compare_tables(manifest["tables"], counts, manifest.get("fingerprints"), fingerprints)
        if problems:
            raise BackupError("restored copy does not match the manifest, live database left "
                              "untouched: " + "; ".join(problems))
        log.info(f"restored copy verified: {len(counts)} tables match the manifest ({level})")
        variables = {"source": live, "target": target, "replaced": replaced}
        db.run_file("copy_database_settings.sql", database="postgres", variables=variables)
        try:
            db.run_file("swap_database.sql", database="postgres", variables=variables)
        except BackupError:
            # The renames are one transaction: the live database still has its name.
            db.psql(f'ALTER DATABASE "{live}" ALLOW_CONNECTIONS true;', database="postgres")
            raise
    except BaseException:
        db.drop_database(target)
        raise
    log.info(f"database {live} replaced by the restored copy of {dump.name}")
    after_swap()
    summary: dict = {
        "restored": str(dump), "database": live, "compared": level, "tables": counts,
        "jobs_held": held if ts_version else None, "jobs_resumed": None,
        "jobs_scheduled": None, "scheduler_running": None, "replaced_database": None,
    }
    if cfg_bool(cfg, "KEEP_REPLACED_DATABASE"):
        summary["replaced_database"] = replaced
        log.info(f"previous database kept as {replaced} (its job scheduler is stopped)")
    else:
        db.drop_database(replaced)
        log.info(f"previous database dropped ({replaced}); the safety backup holds it")
    if ts_version:
        summary["jobs_resumed"] = resume_jobs(db, live)
        summary["jobs_scheduled"] = check_scheduler(db, live, cfg_int(cfg, "SCHEDULER_START_TIMEOUT", 1))
        summary["scheduler_running"] = True
        log.info(f"TimescaleDB jobs {summary['jobs_resumed'] or '(none)'} scheduled again; job "
                 f"scheduler of {live} running ({summary['jobs_scheduled']} jobs scheduled)")
    return summary
