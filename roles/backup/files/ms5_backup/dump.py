"""Making a backup: the dump, its manifest and its test restore.

A backup is written under a temporary name and renamed only when the dump (and its
test restore) succeeded, so a failed run leaves no file that looks like a backup.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Optional, Tuple

from .config import Config, cfg_bool, cfg_float, cfg_int, cfg_verify_level, cfg_weekdays
from .database import Database
from .errors import BackupError
from .log import Log
from .names import (TMP_PREFIX, backup_name, iso, list_backups, manifest_path, sha256_of,
                    utc_now, write_json_atomic)
from .scratch import restore_into, table_state
from .tables import compare_tables, parse_table_state, sql_file_for
from .verification import VerifyPlan, known_restore_bug, plan_verification

MANIFEST_FORMAT = 2


def check_backup_dir(backup_dir: Path) -> None:
    if not backup_dir.is_dir():
        raise BackupError(f"backup directory {backup_dir} does not exist "
                          "(BACKUP_DIR in the config; the backup role creates it)")


class BackupMaker:
    def __init__(self, cfg: Config, db: Database, log: Log, backup_dir: Path) -> None:
        self.cfg = cfg
        self.db = db
        self.log = log
        self.backup_dir = backup_dir

    # -- before the dump
    def remove_stale_temp_files(self) -> None:
        for entry in self.backup_dir.iterdir():
            if entry.name.startswith(TMP_PREFIX):
                self.log.info(f"removing leftover temporary file {entry.name} of an interrupted run")
                entry.unlink()

    def check_free_space(self) -> None:
        good = [b for b in list_backups(self.backup_dir) if b.good]
        previous = (self.backup_dir / good[0].name).stat().st_size if good else 0
        factor = cfg_float(self.cfg, "FREE_SPACE_FACTOR")
        needed = int(previous * factor) + cfg_int(self.cfg, "MIN_FREE_MB") * 1024 * 1024
        free = shutil.disk_usage(self.backup_dir).free
        if free < needed:
            raise BackupError(
                f"not enough free space in {self.backup_dir}: {free // 1048576} MiB free, "
                f"{needed // 1048576} MiB needed (previous backup {previous // 1048576} MiB x "
                f"FREE_SPACE_FACTOR {factor} + MIN_FREE_MB); free space or lower the keep counts"
            )

    # -- the backup
    def make(self, kind: str, verify: Optional[bool] = None, level: Optional[str] = None,
             today: Optional[dt.date] = None) -> Tuple[Path, dict]:
        """Dump, (test-restore,) write the manifest; return (path, manifest)."""
        enabled = cfg_bool(self.cfg, "VERIFY") if verify is None else verify
        level = level or cfg_verify_level(self.cfg)
        full_days = cfg_weekdays(self.cfg)
        check_backup_dir(self.backup_dir)
        self.remove_stale_temp_files()
        self.check_free_space()
        self.db.check_running()
        stamp = utc_now()
        name = backup_name(self.db.database, stamp, kind)
        final = self.backup_dir / name
        if final.exists():
            raise BackupError(f"{final} already exists (two backups in the same second?)")
        tmp_dump = self.backup_dir / f"{TMP_PREFIX}{name}"
        tmp_manifest = self.backup_dir / f"{TMP_PREFIX}{manifest_path(final).name}"
        self.log.info(f"starting {kind} backup of database {self.db.database} "
                      f"(container {self.db.container}) to {final}")
        try:
            manifest, plan = self._dump(tmp_dump, kind, stamp, name,
                                        lambda version, license_: plan_verification(
                                            enabled, level, full_days, today or dt.date.today(),
                                            version, license_))
            if plan.forced:
                self.log.warning(plan.forced)
            if plan.level:
                manifest["verified"] = self._verify(tmp_dump, manifest, plan)
            else:
                manifest["verified"] = None
                self.log.warning("backup not verified by a test restore (VERIFY=false or --no-verify)")
            write_json_atomic(tmp_manifest, manifest, 0o600)
            os.rename(tmp_dump, final)
            os.rename(tmp_manifest, manifest_path(final))
            dir_fd = os.open(self.backup_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            for leftover in (tmp_dump, tmp_manifest):
                if leftover.exists():
                    leftover.unlink()
        verified = manifest["verified"]
        self.log.info(f"backup complete: {final} ({manifest['size_bytes']} bytes, "
                      f"sha256 {manifest['sha256'][:12]}..., {len(manifest['tables'])} tables, "
                      f"migration version {manifest['migration_version']}, verified: "
                      f"{verified['level'] if verified else 'no'})")
        return final, manifest

    def _dump(self, tmp_dump: Path, kind: str, stamp: dt.datetime, name: str,
              decide) -> Tuple[dict, VerifyPlan]:
        session = self.db.open_snapshot_session()
        try:
            session.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = session.query("SELECT pg_export_snapshot()")[0][0]
            lock_wait = cfg_int(self.cfg, "LOCK_WAIT_TIMEOUT", 1)
            session.query(f"SET lock_timeout = '{lock_wait}s'")
            fd = os.open(tmp_dump, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                self.db.pg_dump(out, snapshot, cfg_int(self.cfg, "COMPRESS_LEVEL"), lock_wait)
                out.flush()
                os.fsync(out.fileno())
            # Same snapshot as the dump: versions, ledger, counts and fingerprints describe
            # exactly its data.
            version = session.query(self.db.sql_file("versions.sql"))[0]
            migration_version = None
            if version[4] == "t":
                value = session.query(self.db.sql_file("migration_version.sql"))
                migration_version = int(value[0][0]) if value and value[0][0] else None
            plan = decide(version[2] or None, version[3] or None)
            state_level = "fingerprints" if plan.level == "fingerprints" else "counts"
            counts, fingerprints = parse_table_state(
                session.query(self.db.sql_file(sql_file_for(state_level))), state_level)
        finally:
            session.close()
        size = tmp_dump.stat().st_size
        if size == 0:
            raise BackupError("pg_dump produced an empty file")
        manifest = {
            "format_version": MANIFEST_FORMAT,
            "file": name,
            "kind": kind,
            "created_at": iso(stamp),
            "database": self.db.database,
            "container": self.db.container,
            "dump_format": "custom",
            "size_bytes": size,
            "sha256": sha256_of(tmp_dump),
            "postgresql_version": version[0],
            "postgresql_version_num": int(version[1]),
            "timescaledb_version": version[2] or None,
            "timescaledb_license": version[3] or None,
            "migration_version": migration_version,
            "tables": counts,
        }
        if fingerprints is not None:
            manifest["fingerprints"] = fingerprints
        return manifest, plan

    def _verify(self, dump: Path, manifest: dict, plan: VerifyPlan) -> dict:
        assert plan.level is not None
        scratch = f"ms5_backup_verify_{os.getpid()}"
        started = time.monotonic()
        self.log.info(f"verifying ({plan.level}; {plan.reason}): restoring into scratch database "
                      f"{scratch}, TimescaleDB jobs held")
        try:
            restore_into(self.db, dump, scratch, manifest["timescaledb_version"])
            counts, fingerprints = table_state(self.db, scratch, plan.level)
        except BackupError as exc:
            bug = known_restore_bug(manifest["timescaledb_version"], manifest["timescaledb_license"])
            raise BackupError(f"verification failed, the backup does not restore: {exc}"
                              + (f" ({bug})" if bug else "")) from None
        finally:
            self.db.drop_database(scratch)
        problems = compare_tables(manifest["tables"], counts, manifest.get("fingerprints"), fingerprints)
        if problems:
            raise BackupError(f"verification failed, the restored copy differs ({plan.level}): "
                              + "; ".join(problems))
        seconds = round(time.monotonic() - started, 1)
        self.log.info(f"verification passed: {len(counts)} tables match the dump's snapshot "
                      f"({plan.level}, {seconds}s)")
        return {"result": "ok", "level": plan.level, "at": iso(utc_now()), "seconds": seconds,
                "forced": plan.forced}
