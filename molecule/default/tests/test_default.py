"""Scenario `default`: site.yml end to end, then the plan's success criteria (verify.yml).

Converge ran playbooks/site.yml and idempotence passed before these tests. They check
the outcome a user cares about (a deployed, migrated database that answers queries and
meets the success criteria), that check mode changes nothing, and that bad input fails
before anything changes, with a message naming the variable.
"""

from __future__ import annotations

import os
import re

import pytest
from conftest import run_playbook as run_collection_playbook

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
TEST_PASSWORDS = ("molecule-superuser-pw-0001", "molecule-owner-pw-0001", "molecule-app-pw-0001",
                  "molecule-reporting-pw-0001")


def run_playbook(playbook: str, *extra: str) -> tuple[int, dict[str, int], str]:
    """Run a playbook of the collection against this scenario's instance."""
    return run_collection_playbook(os.path.join(PROJECT, "playbooks", playbook), "-e", "ms5_target_hosts=all", *extra)


def assert_no_password(output: str) -> None:
    for pw in TEST_PASSWORDS:
        assert pw not in output, "a password was printed"


def test_all_migrations_applied_and_hypertables_exist(sql):
    files = sorted(f for f in os.listdir(os.path.join(PROJECT, "files", "migrations")) if re.match(r"^\d{3}_.*\.sql$", f))
    ledger = [r[0] for r in sql("SELECT file_name FROM ms5_migrations.schema_migrations ORDER BY version")]
    assert ledger == files
    hypertables = {r[0] for r in sql("SELECT hypertable_name FROM timescaledb_information.hypertables "
                                     "WHERE hypertable_schema = 'factory_telemetry'")}
    assert hypertables == {"metric_hist", "oee_calculations", "energy_consumption", "production_kpis",
                           "fault_event", "downtime_events"}


def test_application_role_writes_and_reads_over_tcp(host):
    """The app role (DML only) inserts a sample and reads it back over TCP with its password."""
    script = (
        "import psycopg2\n"
        "c = psycopg2.connect(host='127.0.0.1', dbname='factory_telemetry', user='ms5_app',"
        " password='molecule-app-pw-0001')\n"
        "cur = c.cursor()\n"
        "cur.execute(\"INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type)"
        " VALUES ('MOLECULE-EQ', 'speed', 'REAL') RETURNING id\")\n"
        "mid = cur.fetchone()[0]\n"
        "cur.execute('INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)"
        " VALUES (%s, now(), 42.5)', (mid,))\n"
        "cur.execute('SELECT value_real FROM factory_telemetry.metric_hist WHERE metric_def_id = %s', (mid,))\n"
        "print(cur.fetchone()[0])\n"
        "c.rollback()\n"
    )
    result = host.run("python3 -c %s", script)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "42.5"


def test_backup_program_installed_and_scheduled(host):
    assert host.file("/usr/local/sbin/ms5-backup").is_file
    assert host.file("/etc/cron.d/ms5-backup").contains("/usr/local/sbin/ms5-backup")


def test_check_mode_on_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", -1) == 0, output[-3000:]
    assert recap.get("failed", -1) == 0, output[-3000:]


# The plan's latency target (100 ms) is meant for a database host; CI machines run
# several scenarios side by side on 2 shared cores, where a p95 spike says nothing about
# the deployment. The scenario relaxes only that threshold (the measured values are still
# printed and checked for being measured); test_verify_reports_an_unmet_criterion proves
# that a missed threshold fails the play.
CI_THRESHOLDS = ("-e", "verify_query_max_ms=2000")


@pytest.fixture(scope="module")
def verify_run():
    return run_playbook("verify.yml", *CI_THRESHOLDS)


def test_verify_playbook_passes(verify_run):
    rc, recap, out = verify_run
    assert rc == 0, out[-4000:]
    assert "all success criteria passed" in out
    assert recap.get("changed", -1) == 0
    assert_no_password(out)
    for name in ("migrations applied", "TimescaleDB present", "hypertables created", "indexes present",
                 "insert and query work", "ingest into metric_hist", "dashboard queries", "compression",
                 "projected storage per month"):
        assert re.search(r"(PASS|N/A)\s+%s" % re.escape(name), out), name
    assert "apache edition" in out  # the CI image: compression reported as not applicable, with the reason


def test_verify_leaves_no_sample_data(verify_run, sql):
    assert verify_run[0] == 0
    assert sql("SELECT count(*) FROM factory_telemetry.metric_def WHERE equipment_code = 'MS5-VERIFY-EQ'") == [["0"]]
    assert sql("SELECT count(*) FROM factory_telemetry.production_lines WHERE line_code = 'MS5-VERIFY-LINE'") == [["0"]]


def test_verify_reports_an_unmet_criterion():
    rc, _, out = run_playbook("verify.yml", "-e", "verify_query_max_ms=0.001")
    assert rc != 0
    assert "success criteria failed: dashboard queries" in out
    assert re.search(r"FAIL\s+dashboard queries", out)


def test_verify_wrong_password_fails_clearly():
    rc, _, out = run_playbook("verify.yml", "-e", "verify_db_password=not-the-right-password")
    assert rc != 0
    assert "cannot connect to 127.0.0.1:5432/factory_telemetry as ms5_owner" in out
    assert "not-the-right-password" not in out


def test_site_refuses_placeholder_password_before_changing_anything():
    rc, recap, out = run_playbook("site.yml", "-e", "timescaledb_app_password=CHANGE-ME-application-password")
    assert rc != 0
    assert "timescaledb_app_password still hold the placeholder value" in out
    assert recap.get("changed", -1) == 0
    assert "CHANGE-ME-application-password" not in out


def test_site_bad_memory_fails_in_preflight_and_database_keeps_running(host):
    rc, recap, out = run_playbook("site.yml", "--tags", "timescaledb", "-e", "timescaledb_memory_reservation=2G")
    assert rc != 0
    assert "timescaledb_memory_reservation" in out
    assert recap.get("changed", -1) == 0
    state = host.run("docker inspect -f '{{.State.Health.Status}}' ms5-timescaledb")
    assert state.stdout.strip() == "healthy"
