"""Outcome tests of the backup role on a migrated MS5.0 database with rows (some older
than every retention window) in every hypertable: real backups verified by real test
restores, the status file and --status, verification levels, a plain PostgreSQL database
through --database, rotation, failure paths, playbooks/backup.yml, phase tags and bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import USER_TABLES_SQL as TABLES_SQL
from conftest import run_playbook
from conftest import run_playbook_with_vars

PROGRAM = "/usr/local/sbin/ms5-backup"
PACKAGE = "/usr/local/lib/ms5-backup/ms5_backup"
CONFIG = "/etc/ms5/backup.conf"
STATUS = "/var/lib/ms5/status/backup.json"
BACKUP_DIR = "/opt/ms5-backend/backups"
CONTAINER = "ms5-timescaledb"
SCENARIO_DIR = Path(__file__).resolve().parents[1]
ROOT = SCENARIO_DIR.parents[1]
FINGERPRINTS_SQL = (ROOT / "roles" / "_common" / "files" / "sql" / "table_fingerprints.sql").read_text()
OLD = "2021-01-01"  # every test row before this is older than every retention window


def backup_files(host) -> dict[str, str]:
    out = host.run(f"cd {BACKUP_DIR} && sha256sum -- * .[!.]* 2>/dev/null || true").stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines() if line.strip()}


def ensure_database_running(host) -> None:
    host.run(f"docker start {CONTAINER}")
    for _ in range(60):
        if host.run(f"docker exec {CONTAINER} pg_isready -U postgres -d factory_telemetry").rc == 0:
            return
        host.run("sleep 1")
    raise AssertionError("database did not come back")


def backup(host, *args: str) -> tuple[str, dict]:
    result = host.run(f"{PROGRAM} {' '.join(args)}")
    assert result.rc == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    return path, json.loads(host.file(path + ".manifest.json").content_string)


def live_fingerprints(host, database: str = "factory_telemetry") -> dict[str, tuple[int, str]]:
    result = host.run(f"docker exec -i {CONTAINER} psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -U postgres "
                      f"-d {database} -f - <<'EOF'\n{FINGERPRINTS_SQL}\nEOF")
    assert result.rc == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line]
    return {f"{r[0]}.{r[1]}": (int(r[2]), r[3]) for r in rows}


# --------------------------------------------------------------------------- installation


def test_files_and_modes(host):
    program = host.file(PROGRAM)
    assert program.is_file and program.mode == 0o755 and program.user == "root"
    assert len(program.content_string.splitlines()) < 25, "the entry point stays thin"
    for module in ("cli.py", "rotation.py", "scratch.py", "selection.py", "status.py"):
        assert host.file(f"{PACKAGE}/{module}").mode == 0o644
    assert not host.file(f"{PACKAGE}/__pycache__").exists
    assert host.file("/usr/local/lib/ms5-backup/sql/table_fingerprints.sql").content_string == FINGERPRINTS_SQL
    config = host.file(CONFIG)
    assert config.is_file and config.mode == 0o600 and config.user == "root"
    for line in ("KEEP_DAILY=2", "VERIFY=true", "VERIFY_LEVEL=fingerprints", "VERIFY_FULL_WEEKDAYS=",
                 "STATUS_DIR=/var/lib/ms5/status"):
        assert line in config.content_string.splitlines(), line
    backups = host.file(BACKUP_DIR)
    assert backups.is_directory and backups.mode == 0o700 and backups.user == "root"
    assert host.run(f"{PROGRAM} --help").rc == 0


def test_cron_entry_present_and_cron_running(host):
    cron = host.file("/etc/cron.d/ms5-backup")
    assert cron.is_file
    lines = [line for line in cron.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == [f"30 3 * * * root {PROGRAM} --kind scheduled >/dev/null"]
    assert host.service("cron").is_running
    assert host.service("cron").is_enabled


# --------------------------------------------------------------------------- a real, verified backup


@pytest.fixture(scope="module")
def first_backup(host):
    before = set(backup_files(host))
    path, manifest = backup(host, "--kind manual")
    return {"before": before, "path": path, "manifest": manifest}


def test_backup_manifest_matches_database(host, sql, first_backup):
    path, manifest = first_backup["path"], first_backup["manifest"]
    name = os.path.basename(path)
    assert path == f"{BACKUP_DIR}/{name}"
    stamp, kind = name[len("factory_telemetry_"):-len(".dump")].split("_")
    assert kind == "manual"
    created = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 600
    dump = host.file(path)
    assert dump.mode == 0o600 and host.file(path + ".manifest.json").mode == 0o600

    assert manifest["sha256"] == host.run(f"sha256sum {path}").stdout.split()[0]
    assert manifest["size_bytes"] == dump.size
    assert manifest["kind"] == "manual"
    assert manifest["timescaledb_version"] == sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")[0][0]
    assert manifest["postgresql_version"] == sql("SHOW server_version")[0][0]
    assert manifest["migration_version"] == int(
        sql("SELECT max(version) FROM ms5_migrations.schema_migrations")[0][0])

    tables = [row[0] for row in sql(TABLES_SQL)]
    assert "ms5_migrations.schema_migrations" in tables
    assert sorted(manifest["tables"]) == tables
    live = live_fingerprints(host)
    for table in tables:
        assert manifest["tables"][table] == int(sql(f"SELECT count(*) FROM {table}")[0][0]), table
        assert (manifest["tables"][table], manifest["fingerprints"][table]) == live[table], table
    # every hypertable has rows, so the counts prove more than empty tables
    for hypertable in sql("SELECT hypertable_schema || '.' || hypertable_name FROM timescaledb_information.hypertables"):
        assert manifest["tables"][hypertable[0]] > 0, hypertable[0]

    after = set(backup_files(host))
    assert {name, name + ".manifest.json"} <= after
    assert not [f for f in after - first_backup["before"] if f.startswith(".ms5-backup-tmp-")]
    assert "backup complete" in host.file("/var/log/ms5-backup.log").content_string


def test_every_backup_is_verified_by_a_test_restore_by_default(host, sql, first_backup):
    verified = first_backup["manifest"]["verified"]
    assert verified["result"] == "ok" and verified["level"] == "fingerprints" and verified["forced"] is None
    log = host.file("/var/log/ms5-backup.log").content_string
    assert "restoring into scratch database ms5_backup_verify_" in log and "TimescaleDB jobs held" in log
    assert "verification passed" in log
    # the scratch database is gone
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'ms5_backup_verify_%'") == [["0"]]


def test_rows_older_than_every_retention_window_are_in_the_verified_backup(sql, first_backup):
    """The test restore kept its jobs held, so old rows restore and compare equal."""
    manifest = first_backup["manifest"]
    for table, column in (("metric_hist", "ts"), ("fault_event", "ts_on"), ("downtime_events", "start_time"),
                          ("oee_calculations", "calculation_time"), ("production_kpis", "kpi_date"),
                          ("energy_consumption", "consumption_time")):
        old = int(sql(f"SELECT count(*) FROM factory_telemetry.{table} WHERE {column} < '{OLD}'")[0][0])
        assert old > 0, table
        assert manifest["tables"][f"factory_telemetry.{table}"] == int(
            sql(f"SELECT count(*) FROM factory_telemetry.{table}")[0][0])
    assert manifest["verified"]["result"] == "ok"


def test_status_file_and_status_command(host, first_backup):
    status_file = host.file(STATUS)
    assert status_file.mode == 0o644 and host.file("/var/lib/ms5/status").mode == 0o755
    status = json.loads(status_file.content_string)
    assert status["job"] == "backup" and status["ok"] is True and status["exit_code"] == 0
    assert status["consecutive_failures"] == 0 and status["last_success_at"] == status["finished_at"]
    assert status["details"]["file"] == first_backup["path"]
    assert status["details"]["kind"] == "manual"
    assert status["details"]["size_bytes"] == first_backup["manifest"]["size_bytes"]
    assert status["details"]["verified"]["level"] == "fingerprints"
    report = json.loads(host.check_output(f"{PROGRAM} --status"))
    assert report["newest"]["file"] == first_backup["path"]
    assert report["newest_verified"]["file"] == first_backup["path"]
    assert report["newest"]["verified"]["level"] == "fingerprints"
    assert 0 <= report["newest"]["age_seconds"] < 600
    assert report["last_attempt"] == status


def _test_config(host, **overrides) -> str:
    path = "/root/ms5-backup-test.conf"
    lines = host.file(CONFIG).content_string.splitlines()
    lines = [line for line in lines if line.split("=", 1)[0] not in overrides]
    lines += [f"{key}={value}" for key, value in overrides.items()]
    host.run(f"install -m 0600 /dev/null {path} && printf '%s\\n' {' '.join(shlex.quote(l) for l in lines)} > {path}")
    return path


def test_verification_level_and_full_verification_days(host, first_backup):
    """Counts daily with a full verification on named days; no verification only when asked."""
    today = dt.datetime.now().strftime("%a").lower()
    other = (dt.datetime.now() + dt.timedelta(days=1)).strftime("%a").lower()
    _, counts = backup(host, "--config", _test_config(host, VERIFY_LEVEL="counts", VERIFY_FULL_WEEKDAYS=other),
                       "--kind manual --no-rotate")
    assert counts["verified"]["level"] == "counts" and "fingerprints" not in counts
    _, full = backup(host, "--config", _test_config(host, VERIFY_LEVEL="counts", VERIFY_FULL_WEEKDAYS=today),
                     "--kind manual --no-rotate")
    assert full["verified"]["level"] == "fingerprints" and full["fingerprints"]
    path, unverified = backup(host, "--kind manual --no-rotate --no-verify")
    assert unverified["verified"] is None
    report = json.loads(host.check_output(f"{PROGRAM} --status"))
    assert report["newest"]["file"] == path and report["newest"]["verified"] is None
    assert report["newest_verified"]["verified"]["level"] == "fingerprints"
    assert "backup not verified by a test restore" in host.file("/var/log/ms5-backup.log").content_string


def test_a_database_without_timescaledb_through_database_override(host, sql):
    """--database NAME (the migrations role's override, the cutover's plain PostgreSQL):
    no TimescaleDB steps, verified, restored in place."""
    sql("DROP DATABASE IF EXISTS legacy_plain", database="postgres")
    sql("CREATE DATABASE legacy_plain", database="postgres")
    sql("CREATE TABLE readings (id int PRIMARY KEY, taken timestamptz NOT NULL, value real); "
        "INSERT INTO readings SELECT i, timestamptz '2019-06-01' + i * interval '1 hour', i / 7.0 "
        "FROM generate_series(1, 500) AS i", database="legacy_plain")
    try:
        path, manifest = backup(host, "--kind pre-migration --database legacy_plain --no-rotate")
        assert os.path.basename(path).startswith("legacy_plain_") and path.endswith("_pre-migration.dump")
        assert manifest["database"] == "legacy_plain" and manifest["timescaledb_version"] is None
        assert manifest["tables"] == {"public.readings": 500}
        assert manifest["verified"]["result"] == "ok"
        before = live_fingerprints(host, "legacy_plain")
        sql("DELETE FROM readings WHERE id > 100; UPDATE readings SET value = 0", database="legacy_plain")
        restored = host.run(f"{PROGRAM} --restore {path} --database legacy_plain")
        assert restored.rc == 0, restored.stderr
        summary = json.loads(restored.stdout.splitlines()[-2])
        assert summary["compared"] == "fingerprints" and summary["jobs_resumed"] is None
        assert live_fingerprints(host, "legacy_plain") == before
        assert sql("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'", database="legacy_plain") == [["0"]]
        # the other database's backups are not rotated with factory_telemetry's
        assert host.run(f"{PROGRAM} --rotate-only --dry-run").stdout.count("legacy_plain") == 0
    finally:
        sql("DROP DATABASE IF EXISTS legacy_plain WITH (FORCE)", database="postgres")
        host.run(f"rm -f {BACKUP_DIR}/legacy_plain_*")


# --------------------------------------------------------------------------- rotation


def _name(stamp: dt.datetime, kind: str) -> str:
    return f"factory_telemetry_{stamp.strftime('%Y%m%dT%H%M%SZ')}_{kind}.dump"


def test_rotation_deletes_exactly_what_the_policy_says(host):
    """keep_daily 2, keep_weekly 3, keep_monthly 3, pre-migration min age 7 days."""
    utc = dt.timezone.utc
    now = dt.datetime.now(utc).replace(microsecond=0)
    scheduled = [dt.datetime(2026, 1, 1, 2, 15, tzinfo=utc) + dt.timedelta(days=d) for d in range(74)]
    files = {_name(t, "scheduled"): True for t in scheduled}  # 2026-01-01 .. 2026-03-15
    young_pm = _name(now - dt.timedelta(days=2), "pre-migration")
    old_pm = _name(dt.datetime(2026, 2, 10, 3, 0, tzinfo=utc), "pre-migration")
    no_manifest = _name(dt.datetime(2026, 1, 5, 5, 0, tzinfo=utc), "scheduled")
    verified = _name(dt.datetime(2026, 1, 20, 2, 15, tzinfo=utc), "scheduled")
    files.update({young_pm: True, old_pm: True, no_manifest: False})
    # 2026-03-15 is a Sunday (ISO week 11); the week before ends Sunday 2026-03-08.
    expected_kept = {
        young_pm,                      # newest, daily, weekly, monthly, recent pre-migration
        _name(scheduled[-1], "scheduled"),   # 2026-03-15: daily, weekly, monthly (March)
        _name(dt.datetime(2026, 3, 8, 2, 15, tzinfo=utc), "scheduled"),   # weekly (week 10)
        _name(dt.datetime(2026, 2, 28, 2, 15, tzinfo=utc), "scheduled"),  # monthly (February)
        no_manifest,                   # no manifest: never touched
        verified,                      # the newest verified backup: never deleted
    }
    directory = "/root/rotation-test"
    host.run(f"rm -rf {directory} && mkdir -m 0700 {directory}")
    manifest = {n: '{"verified": {"result": "ok", "level": "counts"}}' if n == verified else "{}" for n in files}
    script = "".join(
        f"touch {directory}/{n}\n" + (f"echo '{manifest[n]}' > {directory}/{n}.manifest.json\n" if good else "")
        for n, good in files.items()
    ) + f"echo notes > {directory}/notes.txt\n"
    assert host.run(script).rc == 0

    dry = host.run(f"{PROGRAM} --rotate-only --dry-run --backup-dir {directory}")
    assert dry.rc == 0, dry.stderr
    assert set(dry.stdout.split()) == set(files) - expected_kept
    assert len(host.run(f"ls -A {directory}").stdout.split()) == len(files) * 2  # every dump has a manifest but one; plus notes.txt

    result = host.run(f"{PROGRAM} --rotate-only --backup-dir {directory}")
    assert result.rc == 0, result.stderr
    remaining = set(host.run(f"ls -A {directory}").stdout.split())
    expected_files = set(expected_kept) | {
        n + ".manifest.json" for n in expected_kept if files[n]} | {"notes.txt"}
    assert remaining == expected_files
    assert f"rotation: keep {young_pm} (daily, weekly, monthly, newest, recent pre-migration)" in result.stderr
    assert f"rotation: keep {verified} (newest verified)" in result.stderr
    host.run(f"rm -rf {directory}")


# --------------------------------------------------------------------------- failure paths


def test_failed_dump_database_stopped_leaves_backups_intact(host):
    before = backup_files(host)
    assert before, "an earlier test made a backup"
    try:
        assert host.run(f"docker stop {CONTAINER}").rc == 0
        result = host.run(f"{PROGRAM} --kind scheduled")
    finally:
        ensure_database_running(host)
    assert result.rc != 0
    assert "FAILED: database container 'ms5-timescaledb' is not running" in result.stderr
    assert result.stdout.strip() == ""
    assert backup_files(host) == before
    assert "ERROR: FAILED: database container" in host.file("/var/log/ms5-backup.log").content_string
    status = json.loads(host.file(STATUS).content_string)
    assert status["ok"] is False and status["exit_code"] == 1 and status["consecutive_failures"] >= 1
    assert "is not running" in status["message"] and status["details"]["file"] is None
    assert status["last_success_at"] is not None


def test_failed_dump_midway_leaves_no_file_that_looks_good(host):
    """pg_dump itself fails (a table is locked past the lock-wait timeout) after the
    temporary file was opened: nothing new may remain, the old backups stay."""
    before = backup_files(host)
    config = _test_config(host, LOCK_WAIT_TIMEOUT="2")
    locker = host.run(
        f"docker exec -d {CONTAINER} psql -U postgres -d factory_telemetry -c "
        "\"BEGIN; LOCK TABLE factory_telemetry.production_lines IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(15);\""
    )
    assert locker.rc == 0
    host.run("sleep 1")
    result = host.run(f"{PROGRAM} --config {config} --kind scheduled")
    assert result.rc != 0
    assert "FAILED: pg_dump exited with" in result.stderr
    assert backup_files(host) == before
    host.run(f"docker exec {CONTAINER} psql -U postgres -c "
             "\"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(15)%' AND pid <> pg_backend_pid()\"")


def test_free_space_check_refuses_to_start(host):
    before = backup_files(host)
    config = _test_config(host, FREE_SPACE_FACTOR="1000000", MIN_FREE_MB="100000000")
    result = host.run(f"{PROGRAM} --config {config} --kind manual")
    assert result.rc != 0
    assert "FAILED: not enough free space" in result.stderr
    assert backup_files(host) == before


def test_lock_stops_overlapping_runs(host):
    before = backup_files(host)
    result = host.run(f"flock /run/lock/ms5-backup.lock {PROGRAM} --kind manual")
    assert result.rc != 0
    assert "another ms5-backup run holds the lock" in result.stderr
    assert backup_files(host) == before


# --------------------------------------------------------------------------- playbooks/backup.yml


def test_backup_playbook_takes_a_verified_backup(host, request):
    result = run_playbook_with_vars(request, ROOT / "playbooks" / "backup.yml",
                                    {"ms5_target_hosts": "all", "backup_now_kind": "pre-migration"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Verified by a test restore: yes, fingerprints compared" in output
    assert "changed=1 " in output
    newest = json.loads(host.check_output(f"{PROGRAM} --status"))["newest"]
    assert newest["kind"] == "pre-migration" and newest["verified"]["level"] == "fingerprints"


def test_a_failed_backup_attempt_is_not_reported_as_changed(host, request):
    before = backup_files(host)
    try:
        assert host.run(f"docker stop {CONTAINER}").rc == 0
        result = run_playbook_with_vars(request, ROOT / "playbooks" / "backup.yml", {"ms5_target_hosts": "all"})
    finally:
        ensure_database_running(host)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "The backup failed (ms5-backup exited 1)" in output and "is not running" in output
    assert "changed=0 " in output and "failed=1 " in output
    assert backup_files(host) == before


def test_old_variable_names_are_refused_before_anything_changes(host, request):
    before = backup_files(host)
    result = run_playbook_with_vars(request, ROOT / "playbooks" / "backup.yml",
                                    {"ms5_target_hosts": "all", "backup_kind": "pre-migration"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "use -e backup_now_kind=... instead of backup_kind" in output
    assert "changed=0 " in output
    assert backup_files(host) == before


# --------------------------------------------------------------------------- the role


@pytest.mark.parametrize(("tag", "ran", "not_ran"), [
    ("backup_install", "Install the program's files that are missing or differ",
     "Write the backup configuration"),
    ("backup_configure", "Write the backup configuration (root only)",
     "Install the program's files that are missing or differ"),
    ("backup_run", "Schedule the backup with cron", "Write the backup configuration"),
])
def test_phase_tags_run_alone_after_validation(tag, ran, not_ran):
    rc, recap, output = run_playbook(str(SCENARIO_DIR / "converge.yml"), "--tags", tag)
    assert rc == 0, output
    assert f"backup : {ran}]" in output
    assert f"backup : {not_ran}]" not in output
    assert "backup : Check the rotation settings]" in output   # validation ran first
    assert recap.get("changed") == 0 and recap.get("failed") == 0


def test_check_mode_on_the_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output
    assert recap.get("changed") == 0 and recap.get("failed") == 0, output


BAD_INPUT = {
    "negative keep count": ({"backup_keep_daily": -1}, "backup_keep_daily (-1)"),
    "cron injection": ({"backup_cron_hour": "2; rm -rf /"}, "backup_cron_hour (2; rm -rf /) is not a cron field"),
    "relative backup dir": ({"backup_dir": "relative/dir"}, "backup_dir (relative/dir) must be an absolute directory"),
    "ftp health check": ({"backup_healthcheck_url": "ftp://example.invalid/x"}, "must be empty or http(s):// URLs"),
    "not a boolean": ({"backup_verify": "maybe"}, "backup_verify"),
    "unknown level": ({"backup_verify_level": "full"}, "backup_verify_level"),
    "unknown day": ({"backup_verify_full_weekdays": ["sun", "someday"]},
                    "backup_verify_full_weekdays (['sun', 'someday']) must be a list of days"),
    "not a timer": ({"backup_rollback_pause_timers": ["ms5-retention.service"]}, "must be a systemd timer unit name"),
}


@pytest.fixture(scope="module")
def bad_input_run(host, request):
    """Every case in one playbook run (bad_input.yml); the files it must not touch."""
    watched = f"{CONFIG} /etc/cron.d/ms5-backup /etc/logrotate.d/ms5-backup {PROGRAM}"
    before = host.run(f"sha256sum {watched}").stdout
    cases = [{"name": name, "vars": case_vars} for name, (case_vars, _) in BAD_INPUT.items()]
    result = run_playbook_with_vars(request, SCENARIO_DIR / "bad_input.yml", {"cases": cases})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    line = next(line for line in output.splitlines() if '"msg": "RESULTS ' in line)
    results = json.loads(json.loads(line.split('"msg": ', 1)[1].rstrip(","))[len("RESULTS "):])
    return {"results": results, "output": output, "unchanged": host.run(f"sha256sum {watched}").stdout == before}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_role_refuses_bad_input_before_changing_anything(bad_input_run, case):
    expected = BAD_INPUT[case][1]
    assert expected in bad_input_run["results"][case], bad_input_run["results"][case]
    assert "changed=0" in bad_input_run["output"]
    assert bad_input_run["unchanged"]
