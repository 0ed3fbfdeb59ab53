"""The command line of ms5-backup.

  ms5-backup --kind scheduled|pre-migration|manual|pre-rollback   make a backup (+ rotation)
  ms5-backup --rotate-only [--dry-run]      apply the rotation policy only
  ms5-backup --check FILE                   check a backup's checksum and versions
  ms5-backup --restore FILE                 restore FILE in place of the live database
  ms5-backup --select SPEC [--pin FILE]     which backup a rollback to SPEC restores (JSON)
  ms5-backup --status                       newest and newest verified backup, last attempt (JSON)

The last line on stdout is the path of the backup made (or checked, or restored); any
failure exits 1 with a line "ms5-backup[pid] ERROR: FAILED: <reason>" on stderr, in
the log file and in syslog.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import PROG
from .config import DEFAULT_CONFIG, VERIFY_LEVELS, Config, cfg_int, parse_config
from .database import Database
from .dump import BackupMaker, check_backup_dir
from .errors import BackupError
from .health import ping
from .lock import acquire
from .log import Log
from .names import KINDS, check_identifier, utc_now
from .restore import check, housekeeping, restore
from .rotation import apply_rotation
from .selection import clear_pin, resolve, select, write_pin
from .status import status_report, write_status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Backups, verification, rotation and restore of the MS5.0 database.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--kind", choices=KINDS, help="make a backup of this kind")
    mode.add_argument("--rotate-only", action="store_true", help="apply the rotation policy only")
    mode.add_argument("--check", metavar="FILE", help="check checksum and versions of a backup")
    mode.add_argument("--restore", metavar="FILE", help="restore FILE in place of the live database")
    mode.add_argument("--select", metavar="SPEC",
                      help="print (JSON) which backup a rollback to SPEC (newest, "
                           "newest-pre-migration, a file) restores")
    mode.add_argument("--status", action="store_true",
                      help="print (JSON) the newest and the newest verified backup and the last attempt")
    parser.add_argument("--config", default=os.environ.get("MS5_BACKUP_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("--backup-dir", help="override BACKUP_DIR")
    parser.add_argument("--database", help="override DATABASE (the database backed up or restored)")
    parser.add_argument("--verify", dest="verify", action="store_true", default=None,
                        help="test-restore the new backup into a scratch database")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="no test restore (refused on TimescaleDB versions with a known restore bug)")
    parser.add_argument("--verify-level", choices=VERIFY_LEVELS, help="override VERIFY_LEVEL")
    parser.add_argument("--no-rotate", action="store_true", help="skip rotation after a backup")
    parser.add_argument("--dry-run", action="store_true", help="with --rotate-only: only print")
    parser.add_argument("--keep-replaced", action="store_true",
                        help="with --restore: keep the replaced database instead of dropping it")
    parser.add_argument("--pin", metavar="FILE",
                        help="with --select: check that SPEC still means FILE and pin it for reruns")
    return parser


def rotation_policy(cfg: Config) -> dict:
    return {
        "keep_daily": cfg_int(cfg, "KEEP_DAILY"),
        "keep_weekly": cfg_int(cfg, "KEEP_WEEKLY"),
        "keep_monthly": cfg_int(cfg, "KEEP_MONTHLY"),
        "pre_migration_min_age_days": cfg_int(cfg, "PRE_MIGRATION_MIN_AGE_DAYS"),
        "manual_min_age_days": cfg_int(cfg, "MANUAL_MIN_AGE_DAYS"),
    }


def _run(args: argparse.Namespace, cfg: Config, log: Log, details: dict) -> None:
    database = check_identifier(args.database or cfg["DATABASE"])
    details["database"] = database
    db = Database(cfg, database)
    backup_dir = Path(cfg["BACKUP_DIR"])
    if args.status:
        print(json.dumps(status_report(backup_dir, database, cfg["STATUS_DIR"], utc_now()), sort_keys=True))
        return
    if args.select and not args.pin:
        check_backup_dir(backup_dir)
        print(json.dumps(select(backup_dir, database, args.select, utc_now()), sort_keys=True))
        return
    lock_fd = acquire(cfg["LOCK_FILE"])
    try:
        if args.kind:
            details["kind"] = args.kind
            check_backup_dir(backup_dir)
            db.check_running()
            housekeeping(db, log)
            path, manifest = BackupMaker(cfg, db, log, backup_dir).make(
                args.kind, args.verify, args.verify_level)
            details.update(file=str(path), size_bytes=manifest["size_bytes"],
                           verified=manifest["verified"])
            if not args.no_rotate:
                apply_rotation(backup_dir, database, utc_now(), False, log.info, **rotation_policy(cfg))
            print(path)
        elif args.rotate_only:
            check_backup_dir(backup_dir)
            for name in apply_rotation(backup_dir, database, utc_now(), args.dry_run, log.info,
                                       **rotation_policy(cfg)):
                print(name)
        elif args.check:
            check(db, log, Path(args.check))
            print(args.check)
        elif args.select:
            check_backup_dir(backup_dir)
            plan = select(backup_dir, database, args.select, utc_now())
            if os.path.realpath(plan["file"]) != os.path.realpath(resolve(backup_dir, args.pin)):
                raise BackupError(
                    f"{args.select} now means {plan['file']}, not {args.pin} as shown before (a backup "
                    "was made or removed meanwhile). Nothing was changed; run the rollback again")
            plan["pinned"] = write_pin(backup_dir, database, args.select, plan["file"], utc_now())
            log.info(f"rollback of {database} to {plan['file']} pinned: a rerun of this rollback "
                     "restores the same backup until a restore succeeds")
            print(json.dumps(plan, sort_keys=True))
        else:
            dump = Path(args.restore)
            db.check_running()
            housekeeping(db, log)
            summary = restore(cfg, db, log, dump, utc_now(),
                              after_swap=lambda: clear_pin(backup_dir, database))
            print(json.dumps(summary, sort_keys=True))
            print(args.restore)
    finally:
        os.close(lock_fd)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    started = utc_now()
    log = Log(None)
    cfg: Optional[Config] = None
    details: dict = {"database": args.database, "kind": args.kind, "file": None,
                     "size_bytes": None, "verified": None}
    message = ""
    ok = False
    try:
        try:
            text = Path(args.config).read_text(encoding="utf-8")
        except OSError as exc:
            raise BackupError(f"cannot read config {args.config}: {exc.strerror}") from None
        cfg = parse_config(text)
        if args.backup_dir:
            cfg["BACKUP_DIR"] = args.backup_dir
        if args.keep_replaced:
            cfg["KEEP_REPLACED_DATABASE"] = "true"
        if args.pin and not args.select:
            raise BackupError("--pin FILE goes with --select SPEC")
        log = Log(cfg["LOG_FILE"] or None)
        _run(args, cfg, log, details)
        ok = True
        message = f"{args.kind} backup {details['file']}" if args.kind else "ok"
    except BackupError as exc:
        message = str(exc)
        log.error(f"FAILED: {exc}")
    except (OSError, subprocess.SubprocessError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.error(f"FAILED: {message}")
    if args.kind:
        status_dir = (cfg or {}).get("STATUS_DIR") or "/var/lib/ms5/status"
        try:
            write_status(status_dir, os.path.abspath(sys.argv[0]), started, utc_now(), ok,
                         0 if ok else 1, message, details)
        except OSError as exc:
            log.error(f"cannot write the status file in {status_dir}: {exc}")
        if cfg is not None:
            ping(cfg, log, ok)
    return 0 if ok else 1
