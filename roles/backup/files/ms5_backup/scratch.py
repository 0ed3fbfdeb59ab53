"""Restoring a dump into a new database, with its TimescaleDB jobs held.

TimescaleDB's logical restore: CREATE EXTENSION (the dump's version),
timescaledb_pre_restore() (scheduler stopped, timescaledb.restoring on),
pg_restore, timescaledb_post_restore() (restoring off, background workers
restarted). Between pg_restore and post_restore every scheduled job of the copy is
unscheduled (sql/hold_jobs.sql) and the held job ids are recorded as the copy's
database setting ms5_backup.held_jobs: the copy's retention and compression jobs
cannot run while the copy is compared with the manifest, nor during the swap, so data
older than its retention window restores and compares equal. After a swap
sql/resume_jobs.sql schedules them again and restarts the job scheduler, which the
rename stopped. A dump without TimescaleDB is restored with plain pg_restore.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from .database import Database
from .errors import BackupError
from .tables import Counts, Fingerprints, parse_table_state, sql_file_for

PREPARE_SQL = "prepare_restore.sql"
HOLD_SQL = "hold_jobs.sql"
FINISH_SQL = "finish_restore.sql"
RESUME_SQL = "resume_jobs.sql"
SCHEDULER_SQL = "scheduler_state.sql"


def restore_into(db: Database, dump: Path, target: str,
                 timescaledb_version: Optional[str]) -> List[int]:
    """Create TARGET and restore DUMP into it. Return the ids of the jobs held."""
    db.create_database(target)
    held: List[int] = []
    if timescaledb_version:
        db.run_file(PREPARE_SQL, database=target, variables={"ts_version": timescaledb_version})
    db.pg_restore(dump, target)
    if timescaledb_version:
        held = parse_job_ids(marked(db.run_file(HOLD_SQL, database=target), "held"))
        db.run_file(FINISH_SQL, database=target)
    return held


def marked(rows: List[List[str]], key: str) -> str:
    """The value of the row `KEY=value` among ROWS (SQL files mark their result so)."""
    for row in rows:
        if row and row[0].startswith(key + "="):
            return row[0].split("=", 1)[1]
    raise BackupError(f"no {key}= line in the SQL output: {rows!r}")


def parse_job_ids(text: str) -> List[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def table_state(db: Database, database: str, level: str) -> Tuple[Counts, Optional[Fingerprints]]:
    return parse_table_state(db.run_file(sql_file_for(level), database=database), level)


def resume_jobs(db: Database, database: str) -> List[int]:
    """Schedule the jobs held in DATABASE again and restart its job scheduler."""
    return parse_job_ids(marked(db.run_file(RESUME_SQL, database=database), "resumed"))


def held_jobs_setting(db: Database, database: str) -> Optional[str]:
    """The ms5_backup.held_jobs setting of DATABASE (left by an interrupted run), or None."""
    rows = db.psql(
        "SELECT s FROM pg_db_role_setting AS r JOIN pg_database AS d ON d.oid = r.setdatabase, "
        "unnest(r.setconfig) AS s WHERE r.setrole = 0 AND d.datname = :'db' "
        "AND s LIKE 'ms5\\_backup.held\\_jobs=%';",
        database="postgres", variables={"db": database})
    return rows[0][0].split("=", 1)[1] if rows else None


def wait_for_scheduler(db: Database, database: str, timeout: int) -> Tuple[bool, int]:
    """Wait until DATABASE's TimescaleDB job scheduler runs. Return (running, jobs scheduled)."""
    waited = 0.0
    while True:
        row = db.run_file(SCHEDULER_SQL, database=database)[0]
        running, scheduled = row[0] == "t", int(row[1])
        if running or waited >= timeout:
            return running, scheduled
        db.sleep(0.5)
        waited += 0.5


def check_scheduler(db: Database, database: str, timeout: int) -> int:
    running, scheduled = wait_for_scheduler(db, database, timeout)
    if not running:
        raise BackupError(
            f"the TimescaleDB job scheduler of {database} did not start within {timeout}s, so its "
            f"jobs would not run; check timescaledb.max_background_workers and run "
            f"SELECT _timescaledb_functions.start_background_workers(); in {database}")
    return scheduled
