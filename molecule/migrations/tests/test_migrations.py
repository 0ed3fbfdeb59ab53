"""Verify the migrations role: the MS5.0 schema as users query it, and its failure paths.

The failure paths run the role again (ansible-playbook on the controller, against
this Molecule instance and its real database) with other source directories or
variables, and check what it said and that nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = SCENARIO.parents[1]
SOURCE = PROJECT / "files" / "migrations"
FIXTURES = SCENARIO / "files"
PLAYBOOK = SCENARIO / "run_role.yml"
HOST_DIR = "/opt/ms5-backend/migrations"
FILES = sorted(p.name for p in SOURCE.glob("*.sql"))
HYPERTABLES = {
    "metric_hist": "ts",
    "oee_calculations": "calculation_time",
    "energy_consumption": "consumption_time",
    "production_kpis": "kpi_date",
    "fault_event": "ts_on",
    "downtime_events": "start_time",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ansible_env() -> dict[str, str]:
    """Molecule's environment (collections, config), without forced colours."""
    env = dict(os.environ)
    env.pop("ANSIBLE_FORCE_COLOR", None)
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def collapse(text: str) -> str:
    return " ".join(ANSI.sub("", text).split())


def playbook_cmd(extra_vars: dict | None, check: bool = False, tags: str = "") -> list[str]:
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    cmd = ["ansible-playbook", "-i", inventory, str(PLAYBOOK)]
    if tags:
        cmd += ["--tags", tags]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd += ["--check", "--diff"]
    return cmd


def run_role(check: bool = False, extra_vars: dict | None = None, tags: str = "") -> tuple[int, str]:
    """Run the role on this instance; return (rc, output with whitespace collapsed)."""
    proc = subprocess.run(playbook_cmd(extra_vars, check, tags), capture_output=True, text=True, timeout=600,
                          check=False, env=ansible_env())
    return proc.returncode, collapse(proc.stdout + proc.stderr)


def start_role(extra_vars: dict) -> subprocess.Popen:
    return subprocess.Popen(playbook_cmd(extra_vars), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ansible_env())


def recap(output: str) -> dict[str, int]:
    m = re.search(r"ok=(\d+) changed=(\d+) unreachable=(\d+) failed=(\d+)", output)
    assert m, output[-2000:]
    return {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}


def source_dir(tmp_path: Path, files: list[str], fixtures: list[str] = ()) -> Path:
    """A migration source directory with some of the real files and some fixtures."""
    d = tmp_path / "src"
    d.mkdir()
    for name in files:
        shutil.copy2(SOURCE / name, d / name)
    for name in fixtures:
        shutil.copy2(FIXTURES / name, d / name)
    return d


def ledger(sql, database: str = "factory_telemetry") -> list[list[str]]:
    return sql(
        "SELECT version, file_name, checksum_sha256, kind, duration_ms, applied_by "
        "FROM ms5_migrations.schema_migrations ORDER BY version",
        database,
    )


def schema_snapshot(sql, database: str = "factory_telemetry") -> str:
    """Every relation, column, constraint and index of the schema, plus the ledger."""
    return sql(
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        " SELECT c.relname || '.' || c.relkind::text || '.' || coalesce(a.attname || ':' || format_type(a.atttypid, a.atttypmod), '') AS x"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname IN ('factory_telemetry', 'ms5_migrations')"
        " UNION ALL SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint"
        "  WHERE connamespace = 'factory_telemetry'::regnamespace"
        " UNION ALL SELECT version || file_name || checksum_sha256 FROM ms5_migrations.schema_migrations) s",
        database,
    )[0][0]


def fresh_database(sql, name: str) -> None:
    """An empty database prepared like the timescaledb role does (owner, extension)."""
    sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", "postgres")
    sql(f"CREATE DATABASE {name} OWNER ms5_owner", "postgres")
    sql("CREATE EXTENSION IF NOT EXISTS timescaledb", name)


# ------------------------------------------------------------------ the outcome
def test_nine_source_files_exist():
    assert len(FILES) == 9, FILES
    assert FILES[0] == "001_init_telemetry.sql" and FILES[-1] == "009_database_optimization.sql"


def test_ledger_records_every_file_once_with_its_checksum(host, sql):
    rows = ledger(sql)
    assert [int(r[0]) for r in rows] == list(range(1, 10))
    for row, name in zip(rows, FILES):
        assert row[1] == name
        assert row[2] == sha256(SOURCE / name), f"ledger checksum of {name} differs from the file"
        assert row[2] == host.file(f"{HOST_DIR}/{name}").sha256sum, f"host copy of {name} differs"
        assert row[3] == "applied"
        assert int(row[4]) >= 0
        assert row[5].startswith("ms5_owner (ansible")


def test_host_copies_are_root_owned_and_not_world_readable(host):
    d = host.file(HOST_DIR)
    assert d.is_directory and d.user == "root" and d.mode == 0o750
    for name in FILES:
        f = host.file(f"{HOST_DIR}/{name}")
        assert f.user == "root" and f.mode == 0o640


def test_ledger_is_private_to_the_owner(sql):
    rows = sql("SELECT has_schema_privilege('ms5_app', 'ms5_migrations', 'USAGE'),"
               " has_table_privilege('ms5_app', 'ms5_migrations.schema_migrations', 'INSERT'),"
               " has_schema_privilege('ms5_reporting', 'ms5_migrations', 'USAGE'),"
               " (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'ms5_migrations')")
    assert rows == [["f", "f", "f", "ms5_owner"]]


def test_schema_object_counts(sql):
    counts = sql(
        "SELECT"
        " (SELECT count(*) FROM pg_tables WHERE schemaname = 'factory_telemetry'),"
        " (SELECT count(*) FROM pg_indexes WHERE schemaname = 'factory_telemetry'),"
        " (SELECT count(*) FROM pg_views WHERE schemaname = 'factory_telemetry'),"
        " (SELECT count(*) FROM pg_proc WHERE pronamespace = 'factory_telemetry'::regnamespace)"
    )[0]
    tables, indexes, views, functions = map(int, counts)
    assert tables >= 25, counts
    assert indexes >= 50, counts
    assert views >= 10, counts
    assert functions >= 2, counts
    names = {r[0] for r in sql("SELECT proname FROM pg_proc WHERE pronamespace = 'factory_telemetry'::regnamespace")}
    assert {"calculate_oee", "andon_escalation_due_at"} <= names, names


def test_everything_is_owned_by_the_owner_role(sql):
    others = sql("SELECT c.relname, c.relowner::regrole FROM pg_class c"
                 " WHERE c.relnamespace = 'factory_telemetry'::regnamespace AND c.relowner <> 'ms5_owner'::regrole")
    assert others == []


def test_six_hypertables_with_their_time_columns(sql):
    rows = sql("SELECT h.hypertable_name, d.column_name FROM timescaledb_information.hypertables h"
               " JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name)"
               " WHERE h.hypertable_schema = 'factory_telemetry' AND d.dimension_number = 1")
    assert dict((r[0], r[1]) for r in rows) == HYPERTABLES


def test_metric_history_row_for_a_real_metric_definition(sql):
    sql("INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, unit)"
        " VALUES ('MOLECULE-PRESS-01', 'spindle_speed', 'REAL', 'rpm')")
    try:
        sql("INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)"
            " SELECT id, '2026-11-25 12:00:00+00', 1450.5 FROM factory_telemetry.metric_def"
            " WHERE equipment_code = 'MOLECULE-PRESS-01' AND metric_key = 'spindle_speed'")
        rows = sql("SELECT d.metric_key, h.value_real, h.ts FROM factory_telemetry.metric_hist h"
                   " JOIN factory_telemetry.metric_def d ON d.id = h.metric_def_id"
                   " WHERE d.equipment_code = 'MOLECULE-PRESS-01'")
        assert rows == [["spindle_speed", "1450.5", "2026-11-25 12:00:00+00"]]
    finally:
        sql("DELETE FROM factory_telemetry.metric_hist WHERE metric_def_id IN"
            " (SELECT id FROM factory_telemetry.metric_def WHERE equipment_code = 'MOLECULE-PRESS-01')")
        sql("DELETE FROM factory_telemetry.metric_def WHERE equipment_code = 'MOLECULE-PRESS-01'")


# ------------------------------------------------------------------ re-runs
def reporting_can_read(host, column: str) -> bool:
    """SELECT COLUMN FROM factory_telemetry.users as the reporting role itself (not a privilege lookup)."""
    result = host.run(f"docker exec ms5-timescaledb psql -X -At -U ms5_reporting -d factory_telemetry "
                      f"-c 'SELECT {column} FROM factory_telemetry.users LIMIT 1'")
    if result.rc != 0:
        assert "permission denied for table users" in result.stderr, result.stderr
    return result.rc == 0


def test_reporting_role_cannot_read_password_hashes(host, sql):
    assert not reporting_can_read(host, "password_hash")
    assert reporting_can_read(host, "username") and reporting_can_read(host, "email")
    # column grants, not a table grant: SELECT * is refused too
    star = host.run("docker exec ms5-timescaledb psql -X -At -U ms5_reporting -d factory_telemetry "
                    "-c 'SELECT * FROM factory_telemetry.users'")
    assert star.rc != 0 and "permission denied" in star.stderr
    # the application role (which authenticates users) still reads it
    assert sql("SELECT has_column_privilege('ms5_app', 'factory_telemetry.users', 'password_hash', 'SELECT')") == [["t"]]


def test_check_mode_on_the_migrated_database_changes_nothing(sql):
    before = schema_snapshot(sql)
    rc, out = run_role(check=True)
    assert rc == 0, out[-3000:]
    assert recap(out)["changed"] == 0, out[-3000:]
    assert "Check mode: 0 migration(s) would be applied; 9 already applied" in out
    # a fresh host: nothing listens yet -> check mode says so instead of failing
    rc, out = run_role(check=True, extra_vars={"migrations_db_port": 5499})
    assert rc == 0, out[-3000:]
    assert "Check mode: database factory_telemetry at 127.0.0.1:5499 is not reachable" in out
    # a refused login is still an error in check mode
    rc, out = run_role(check=True, extra_vars={"migrations_db_password": "wrong-password"})
    assert rc != 0 and "password authentication failed" in out, out[-3000:]
    assert schema_snapshot(sql) == before


def test_phase_tags_run_alone(sql):
    """--tags migrations_run (or _install) validates first, then runs only that phase."""
    before = schema_snapshot(sql)
    rc, out = run_role(tags="migrations_run")
    assert rc == 0, out[-3000:]
    assert "Check the role's variables" in out and "Read the database state" in out
    assert "Migrations applied: 0; skipped (already applied): 9" in out
    assert "Copy the migration files to the host" not in out
    assert recap(out)["changed"] == 0
    assert schema_snapshot(sql) == before


def test_check_mode_lists_pending_and_applies_nothing(sql, tmp_path):
    before = schema_snapshot(sql)
    src = source_dir(tmp_path, FILES, ["010_broken_tenth.sql"])
    rc, out = run_role(check=True, extra_vars={"migrations_source_dir": str(src)})
    assert rc == 0, out[-3000:]
    assert "1 migration(s) would be applied: 010_broken_tenth.sql" in out
    assert schema_snapshot(sql) == before


# ------------------------------------------------------------------ failure paths
def test_tampered_applied_file_fails_with_drift_message(sql, tmp_path):
    """An applied file changed and another one gone: both named, nothing changed."""
    before = schema_snapshot(sql)
    src = source_dir(tmp_path, FILES[:8])
    tampered = src / "003_production_management.sql"
    tampered.write_text(tampered.read_text() + "\n-- edited after it was applied\n")
    rc, out = run_role(extra_vars={"migrations_source_dir": str(src)})
    assert rc != 0
    assert "003_production_management.sql" in out and "checksum drift" in out, out[-3000:]
    assert "restore the applied version of the file and put the change into a new migration" in out
    assert "009_database_optimization.sql: recorded in the ledger as version 009" in out and "no such file" in out
    assert schema_snapshot(sql) == before


BACKUP_PROBE = "/usr/local/sbin/ms5-backup-probe"
BACKUP_LOG = "/tmp/ms5-backup-probe.log"


def install_backup_probe(host, rc: int) -> None:
    """A stand-in for the backup role's ms5-backup with the same interface
    (logs its arguments, prints the backup path last, exits RC); the backup
    role's own scenario tests the real program."""
    script = (
        "#!/bin/sh\n"
        f"echo \"$*\" >> {BACKUP_LOG}\n"
        "echo 'dumping factory_telemetry'\n"
        "echo 'probe: disk full' >&2\n"
        "echo /opt/ms5-backend/backups/factory_telemetry_20261125T120000Z_pre-migration.dump\n"
        f"exit {rc}\n"
    )
    host.run_expect([0], f"rm -f {BACKUP_LOG} && printf '%s' {shlex.quote(script)} > {BACKUP_PROBE} && chmod 0755 {BACKUP_PROBE}")


def test_failed_pre_migration_backup_stops_before_applying(host, sql, tmp_path):
    before = schema_snapshot(sql)
    install_backup_probe(host, rc=3)
    src = source_dir(tmp_path, FILES, ["010_broken_tenth.sql"])
    rc, out = run_role(extra_vars={"migrations_source_dir": str(src), "migrations_backup_program": BACKUP_PROBE})
    assert rc != 0
    assert "The pre-migration backup of factory_telemetry failed" in out and "exited 3" in out, out[-3000:]
    assert "No migration was applied" in out and "Run 010_broken_tenth.sql" not in out
    assert host.file(BACKUP_LOG).content_string.strip() == "--kind pre-migration --database factory_telemetry"
    assert schema_snapshot(sql) == before
    # The same run with the backup switched off as a string from -e, the way the
    # failure message says: accepted like Ansible's bool filter, no backup is
    # attempted, and the run gets as far as the (broken) migration.
    rc, out = run_role(extra_vars={"migrations_source_dir": str(src), "migrations_backup_program": BACKUP_PROBE,
                                   "migrations_backup_before_apply": "false"})
    assert rc != 0
    assert "Migration 010_broken_tenth.sql failed and was rolled back" in out, out[-3000:]
    assert host.file(BACKUP_LOG).content_string.strip() == "--kind pre-migration --database factory_telemetry"
    assert schema_snapshot(sql) == before


def test_broken_tenth_migration_leaves_schema_and_ledger_unchanged(host, sql, tmp_path):
    before = schema_snapshot(sql)
    install_backup_probe(host, rc=0)
    src = source_dir(tmp_path, FILES, ["010_broken_tenth.sql"])
    rc, out = run_role(extra_vars={"migrations_source_dir": str(src), "migrations_backup_program": BACKUP_PROBE})
    assert rc != 0
    assert ("Pre-migration backup of factory_telemetry: /opt/ms5-backend/backups/factory_telemetry_20261125T120000Z_pre-migration.dump"
            in out), out[-3000:]
    assert host.file(BACKUP_LOG).content_string.strip() == "--kind pre-migration --database factory_telemetry"
    assert "Migration 010_broken_tenth.sql failed and was rolled back" in out, out[-3000:]
    assert "error at line 7 of the file" in out
    assert 'column "no_such_column" does not exist' in out
    assert schema_snapshot(sql) == before
    assert sql("SELECT to_regclass('factory_telemetry.broken_tenth') IS NULL,"
               " NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE column_name = 'broken_tenth_note'),"
               " (SELECT count(*) FROM ms5_migrations.schema_migrations)") == [["t", "t", "9"]]


def test_bad_files_fail_before_anything_changes(sql, tmp_path):
    """Bad name, duplicate version, gap, explicit transaction, baseline beyond the files: all named by validate.yml."""
    before = schema_snapshot(sql)
    src = source_dir(tmp_path, FILES[:8], ["10_bad_name.sql", "008_duplicate_version.sql",
                                            "010_explicit_transaction.sql", "011_after_gap.sql"])
    # tag-limited to the install phase: validation still runs first and stops it
    rc, out = run_role(tags="migrations_install",
                       extra_vars={"migrations_source_dir": str(src), "migrations_baseline_version": 12})
    assert rc != 0
    assert "Migration files failed validation; nothing was changed." in out, out[-3000:]
    assert "migrations_baseline_version is 12 but the newest migration file" in out
    assert "10_bad_name.sql" in out and "does not match" in out
    assert "008_duplicate_version.sql and 008_fix_critical_schema_issues.sql" in out and "duplicate version 008" in out
    assert "version gap, 009 missing" in out
    assert "010_explicit_transaction.sql" in out and "explicit transaction control BEGIN" in out
    assert schema_snapshot(sql) == before


def test_bad_variables_fail_clearly_before_anything_changes(sql):
    before = schema_snapshot(sql)
    rc, out = run_role(extra_vars={"migrations_db_password": "", "migrations_lock_timeout": "soon",
                                   "migrations_host_dir": "relative/dir", "migrations_baseline_version": -1,
                                   "migrations_sensitive_columns": ["users.password_hash"]})
    assert rc != 0
    for needle in ("migrations_sensitive_columns must be a list of schema.table.column names",
                   "migrations_db_password is unset or empty",
                   "migrations_lock_timeout must be a PostgreSQL interval such as 30s, 10min or 1h (0 waits forever); it is soon",
                   "migrations_host_dir must be an absolute path on the host; it is relative/dir",
                   "migrations_baseline_version must be 0 (no baseline) or the last version applied by hand"):
        assert needle in out, (needle, out[-3000:])
    # not a boolean: refused before anything runs, naming the variable
    rc, out = run_role(extra_vars={"migrations_backup_before_apply": "maybe"})
    assert rc != 0 and "migrations_backup_before_apply" in out and "bool" in out, out[-3000:]
    rc, out = run_role(extra_vars={"migrations_source_dir": "/nonexistent/migrations"})
    assert rc != 0 and "migrations_source_dir /nonexistent/migrations does not exist on the controller" in out, out[-3000:]
    rc, out = run_role(extra_vars={"migrations_db_password": "wrong-password"})
    assert rc != 0
    assert "Cannot connect to database factory_telemetry at 127.0.0.1:5432 as ms5_owner" in out, out[-3000:]
    assert "password authentication failed" in out
    assert "wrong-password" not in out
    assert schema_snapshot(sql) == before


def test_two_concurrent_runs_apply_each_migration_once(host, sql):
    fresh_database(sql, "ms5_concurrency")
    install_backup_probe(host, rc=0)
    runs = [start_role({"migrations_db_name": "ms5_concurrency", "migrations_backup_program": BACKUP_PROBE})
            for _ in range(2)]
    outputs = [collapse(p.communicate(timeout=600)[0]) for p in runs]
    for proc, out in zip(runs, outputs):
        assert proc.returncode == 0, out[-3000:]
    rows = ledger(sql, "ms5_concurrency")
    assert [int(r[0]) for r in rows] == list(range(1, 10))
    applied = [int(re.search(r"Migrations applied: (\d+)", out)[1]) for out in outputs]
    assert sum(applied) == 9, outputs
    # each run backed up the database it migrates, not the default one
    assert host.file(BACKUP_LOG).content_string.splitlines() == ["--kind pre-migration --database ms5_concurrency"] * 2
    same = sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'factory_telemetry'")
    assert sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'factory_telemetry'", "ms5_concurrency") == same
    sql("DROP DATABASE ms5_concurrency WITH (FORCE)", "postgres")


def test_database_migrated_by_hand_is_refused_then_adopted_with_baseline(host, sql):
    fresh_database(sql, "ms5_adopt")
    # the old runner: psql, one file at a time
    host.run_expect([0], f"cd {HOST_DIR} && for f in {' '.join(FILES)}; do docker exec -i ms5-timescaledb psql -X -q"
                    " -U ms5_owner -d ms5_adopt -1 -v ON_ERROR_STOP=1 < $f || exit 1; done")
    rc, out = run_role(extra_vars={"migrations_db_name": "ms5_adopt"})
    assert rc != 0
    assert "The database was probably migrated by hand" in out, out[-3000:]
    # the hint is the highest version whose objects all exist (008 and 009 add only
    # indexes, functions and views: a table-based guess said 007)
    assert "the highest version whose objects all exist is 009: set migrations_baseline_version=9" in out
    assert sql("SELECT to_regclass('ms5_migrations.schema_migrations') IS NULL", "ms5_adopt") == [["t"]]

    # a baseline below the database's version is refused: 008's objects exist
    rc, out = run_role(extra_vars={"migrations_db_name": "ms5_adopt", "migrations_baseline_version": 7})
    assert rc != 0
    assert "migrations_baseline_version is 7 but" in out and "that version 008 (008_fix_critical_schema_issues.sql) adds already exist" in out, out[-3000:]
    assert "The database is beyond version 007" in out and "set migrations_baseline_version=9" in out
    assert sql("SELECT to_regclass('ms5_migrations.schema_migrations') IS NULL", "ms5_adopt") == [["t"]]

    # a baseline whose objects are missing is refused
    view = sql("SELECT viewname FROM pg_views WHERE schemaname = 'factory_telemetry' ORDER BY 1 LIMIT 1", "ms5_adopt")[0][0]
    sql(f"ALTER VIEW factory_telemetry.{view} RENAME TO {view}_hidden", "ms5_adopt")
    rc, out = run_role(extra_vars={"migrations_db_name": "ms5_adopt", "migrations_baseline_version": 9})
    assert rc != 0
    assert f"view factory_telemetry.{view}" in out and "are missing" in out, out[-3000:]
    assert "The database is not at version 009" in out and "set migrations_baseline_version=8" in out
    sql(f"ALTER VIEW factory_telemetry.{view}_hidden RENAME TO {view}", "ms5_adopt")

    rc, out = run_role(extra_vars={"migrations_db_name": "ms5_adopt", "migrations_baseline_version": 9})
    assert rc == 0, out[-3000:]
    assert "recorded as baseline: 9" in out
    rows = ledger(sql, "ms5_adopt")
    assert [(int(r[0]), r[1], r[2], r[3]) for r in rows] == [
        (i + 1, name, sha256(SOURCE / name), "baseline") for i, name in enumerate(FILES)
    ]
    rc, out = run_role(extra_vars={"migrations_db_name": "ms5_adopt", "migrations_baseline_version": 9})
    assert rc == 0 and recap(out)["changed"] == 0, out[-3000:]
    sql("DROP DATABASE ms5_adopt WITH (FORCE)", "postgres")


def test_zz_real_pre_migration_backup_then_tenth_migration(host, sql, tmp_path):
    """Last on purpose: installs the backup role's ms5-backup, so every later run would back up."""
    proc = subprocess.run(["ansible-playbook", "-i", os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]),
                           str(SCENARIO / "install_backup.yml")],
                          capture_output=True, text=True, timeout=600, check=False, env=ansible_env())
    assert proc.returncode == 0, collapse(proc.stdout + proc.stderr)[-3000:]
    assert host.file("/usr/local/sbin/ms5-backup").is_file

    src = source_dir(tmp_path, FILES, ["010_shift_handover_notes.sql", "011_users_badge_code.sql"])
    extra = {"migrations_source_dir": str(src),
             "migrations_sensitive_columns": ["factory_telemetry.users.password_hash", "factory_telemetry.users.email"]}
    rc, out = run_role(extra_vars=extra)
    assert rc == 0, out[-3000:]
    m = re.search(r"Pre-migration backup of factory_telemetry: (/\S+_pre-migration\.dump)", out)
    assert m, out[-3000:]
    dump = host.file(m[1])
    assert dump.is_file and dump.mode == 0o600 and dump.size > 0
    assert out.index("Run the pre-migration backup") < out.index("Run 010_shift_handover_notes.sql")
    assert ("Migrations applied: 2 (010_shift_handover_notes.sql, 011_users_badge_code.sql); "
            "skipped (already applied): 9") in out
    rows = ledger(sql)
    assert [int(r[0]) for r in rows] == list(range(1, 12))
    assert rows[-2][2] == sha256(FIXTURES / "010_shift_handover_notes.sql")
    # the privileges step re-applied: the new column is readable, the newly listed one is not
    assert reporting_can_read(host, "badge_code") and reporting_can_read(host, "username")
    assert not reporting_can_read(host, "email") and not reporting_can_read(host, "password_hash")

    # nothing pending: no backup, no change
    rc, out = run_role(extra_vars=extra)
    assert rc == 0 and recap(out)["changed"] == 0, out[-3000:]
    assert "Pre-migration backup" not in out
