"""Outcome tests of the backup role on a migrated MS5.0 database with rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import USER_TABLES_SQL as TABLES_SQL
from conftest import run_playbook_with_vars as run_playbook

PROGRAM = "/usr/local/sbin/ms5-backup"
CONFIG = "/etc/ms5/backup.conf"
BACKUP_DIR = "/opt/ms5-backend/backups"
CONTAINER = "ms5-timescaledb"
SCENARIO_DIR = Path(__file__).resolve().parents[1]





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


# --------------------------------------------------------------------------- installation


def test_files_and_modes(host):
    program = host.file(PROGRAM)
    assert program.is_file and program.mode == 0o755 and program.user == "root"
    config = host.file(CONFIG)
    assert config.is_file and config.mode == 0o600 and config.user == "root"
    assert "KEEP_DAILY=2" in config.content_string
    assert "VERIFY=true" in config.content_string
    backups = host.file(BACKUP_DIR)
    assert backups.is_directory and backups.mode == 0o700 and backups.user == "root"
    assert host.run(f"python3 -m py_compile {PROGRAM}").rc == 0


def test_cron_entry_present_and_cron_running(host):
    cron = host.file("/etc/cron.d/ms5-backup")
    assert cron.is_file
    lines = [line for line in cron.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == [f"30 3 * * * root {PROGRAM} --kind scheduled >/dev/null"]
    assert host.service("cron").is_running
    assert host.service("cron").is_enabled


# --------------------------------------------------------------------------- a real backup


def test_backup_manifest_matches_database(host, sql):
    before = set(backup_files(host))
    result = host.run(f"{PROGRAM} --kind manual")
    assert result.rc == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    name = os.path.basename(path)
    assert path == f"{BACKUP_DIR}/{name}"
    stamp, kind = name[len("factory_telemetry_"):-len(".dump")].split("_")
    assert kind == "manual"
    created = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 600
    dump, manifest_file = host.file(path), host.file(path + ".manifest.json")
    assert dump.mode == 0o600 and manifest_file.mode == 0o600
    manifest = json.loads(manifest_file.content_string)

    assert manifest["sha256"] == host.run(f"sha256sum {path}").stdout.split()[0]
    assert manifest["size_bytes"] == dump.size
    assert manifest["kind"] == "manual"
    assert manifest["verified"]["result"] == "ok"
    assert manifest["timescaledb_version"] == sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")[0][0]
    assert manifest["postgresql_version"] == sql("SHOW server_version")[0][0]
    assert manifest["migration_version"] == int(
        sql("SELECT max(version) FROM ms5_migrations.schema_migrations")[0][0])

    tables = [row[0] for row in sql(TABLES_SQL)]
    assert "ms5_migrations.schema_migrations" in tables
    assert sorted(manifest["tables"]) == tables
    for table in tables:
        assert manifest["tables"][table] == int(sql(f"SELECT count(*) FROM {table}")[0][0]), table
    # every hypertable has rows, so the counts prove more than empty tables
    for hypertable in sql("SELECT hypertable_schema || '.' || hypertable_name FROM timescaledb_information.hypertables"):
        assert manifest["tables"][hypertable[0]] > 0, hypertable[0]

    after = set(backup_files(host))
    assert {name, name + ".manifest.json"} <= after
    assert not [f for f in after - before if f.startswith(".ms5-backup-tmp-")]
    assert "backup complete" in host.file("/var/log/ms5-backup.log").content_string


def test_backup_restores_with_timescaledb_catalog(host, sql):
    """The verification restore ran in a scratch database that is gone afterwards."""
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'ms5_backup_verify_%'") == [["0"]]


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
    files.update({young_pm: True, old_pm: True, no_manifest: False})
    # 2026-03-15 is a Sunday (ISO week 11); the week before ends Sunday 2026-03-08.
    expected_kept = {
        young_pm,                      # newest, daily, weekly, monthly, recent pre-migration
        _name(scheduled[-1], "scheduled"),   # 2026-03-15: daily, weekly, monthly (March)
        _name(dt.datetime(2026, 3, 8, 2, 15, tzinfo=utc), "scheduled"),   # weekly (week 10)
        _name(dt.datetime(2026, 2, 28, 2, 15, tzinfo=utc), "scheduled"),  # monthly (February)
        no_manifest,                   # no manifest: never touched
    }
    directory = "/root/rotation-test"
    host.run(f"rm -rf {directory} && mkdir -m 0700 {directory}")
    script = "".join(
        f"touch {directory}/{n}\n" + (f"echo '{{}}' > {directory}/{n}.manifest.json\n" if good else "")
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
    host.run(f"rm -rf {directory}")


# --------------------------------------------------------------------------- failure paths


def _test_config(host, **overrides) -> str:
    path = "/root/ms5-backup-test.conf"
    lines = host.file(CONFIG).content_string.splitlines()
    lines = [line for line in lines if line.split("=", 1)[0] not in overrides]
    lines += [f"{key}={value}" for key, value in overrides.items()]
    host.run(f"install -m 0600 /dev/null {path} && printf '%s\\n' {' '.join(shlex.quote(l) for l in lines)} > {path}")
    return path


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


# --------------------------------------------------------------------------- bad input to the role


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"backup_keep_daily": -1}, "backup_keep_daily (-1)"),
        ({"backup_cron_hour": "2; rm -rf /"}, "backup_cron_hour (2; rm -rf /) is not a cron field"),
        ({"backup_dir": "relative/dir"}, "backup_dir (relative/dir) must be an absolute directory"),
        ({"backup_healthcheck_url": "ftp://example.invalid/x"}, "must be empty or http(s):// URLs"),
        ({"backup_verify": "maybe"}, "backup_verify"),
    ],
)
def test_role_refuses_bad_input_before_changing_anything(host, request, extra_vars, expected):
    config_before = host.run(f"sha256sum {CONFIG}").stdout
    cron_before = host.run("sha256sum /etc/cron.d/ms5-backup").stdout
    result = run_playbook(request, SCENARIO_DIR / "run_role.yml", extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert expected in output, output
    assert "changed=0" in output
    assert host.run(f"sha256sum {CONFIG}").stdout == config_before
    assert host.run("sha256sum /etc/cron.d/ms5-backup").stdout == cron_before
