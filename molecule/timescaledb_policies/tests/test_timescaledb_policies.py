"""Verify the timescaledb_policies role on the CI image (TimescaleDB Apache edition).

State at verify time (side_effect ends there): the role's defaults plus the probe
table factory_telemetry.policies_probe (1 day chunks, retention 5 days).
"""

from __future__ import annotations

import json

import pytest

PROGRAM = "/usr/local/sbin/ms5-retention"
STATUS = "/var/lib/ms5/status/retention.json"
CONFIG = "/etc/ms5/retention.conf"

CHUNK_SECONDS = {
    "metric_hist": 3600,
    "oee_calculations": 86400,
    "energy_consumption": 86400,
    "production_kpis": 30 * 86400,
    "fault_event": 7 * 86400,
    "downtime_events": 7 * 86400,
    "policies_probe": 86400,
}

RETENTION = {
    "factory_telemetry.metric_hist": "90 days",
    "factory_telemetry.oee_calculations": "365 days",
    "factory_telemetry.energy_consumption": "365 days",
    "factory_telemetry.production_kpis": "1095 days",
    "factory_telemetry.fault_event": "365 days",
    "factory_telemetry.downtime_events": "730 days",
    "factory_telemetry.policies_probe": "5 days",
}


@pytest.mark.parametrize("table,seconds", sorted(CHUNK_SECONDS.items()))
def test_chunk_interval_read_back(sql, table, seconds):
    rows = sql(
        "SELECT column_name, EXTRACT(EPOCH FROM time_interval)::bigint "
        "FROM timescaledb_information.dimensions "
        f"WHERE hypertable_schema = 'factory_telemetry' AND hypertable_name = '{table}'"
    )
    assert len(rows) == 1, f"{table} is not a hypertable: {rows}"
    assert int(rows[0][1]) == seconds


def test_probe_table_kept_its_rows(sql):
    # 240 hourly rows, converted by side_effect with migrate_data (verify runs
    # before the retention job is exercised below, which only drops > 5 days).
    rows = sql("SELECT count(*) FROM factory_telemetry.policies_probe WHERE ts > now() - interval '4 days'")
    assert int(rows[0][0]) >= 90


def test_edition_is_apache_and_no_policy_jobs(sql):
    assert sql("SELECT current_setting('timescaledb.license')") == [["apache"]]
    jobs = sql(
        "SELECT count(*) FROM timescaledb_information.jobs "
        "WHERE proc_name IN ('policy_retention', 'policy_compression')"
    )
    assert jobs == [["0"]]
    compressed = sql(
        "SELECT count(*) FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = 'factory_telemetry' AND compression_enabled"
    )
    assert compressed == [["0"]], "compression must be skipped on the Apache edition"


def test_retention_program_and_config(host):
    program = host.file(PROGRAM)
    assert program.exists and program.user == "root" and program.mode == 0o755
    conf = host.file(CONFIG)
    assert conf.user == "root" and conf.mode == 0o640
    content = conf.content_string
    assert "container=ms5-timescaledb" in content
    assert "database=factory_telemetry" in content
    assert "user=postgres" in content
    tables = {}
    for line in content.splitlines():
        if line.startswith("table="):
            name, interval = line[len("table="):].split(" ", 1)
            tables[name] = interval
    assert tables == RETENTION


def test_retention_timer_enabled(host):
    timer = host.service("ms5-retention.timer")
    assert timer.is_enabled
    assert timer.is_running
    unit = host.file("/etc/systemd/system/ms5-retention.service").content_string
    assert f"ExecStart={PROGRAM} --config {CONFIG}" in unit
    schedule = host.run("systemctl show -p TimersCalendar ms5-retention.timer").stdout
    assert "03:15:00" in schedule


def test_retention_job_drops_old_chunks_and_keeps_new_rows(host, sql):
    # Old and new rows in metric_hist (90 days) and fault_event (365 days).
    sql(
        "INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type) "
        "VALUES ('POLICY-TEST', 'retention_probe', 'REAL') ON CONFLICT DO NOTHING"
    )
    sql(
        "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
        "SELECT id, now() - make_interval(days => d), d FROM factory_telemetry.metric_def, "
        "unnest(ARRAY[200, 120, 95, 30, 1]) AS d WHERE metric_key = 'retention_probe'"
    )
    sql(
        "INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on) "
        "VALUES ('POLICY-TEST', 1, now() - interval '500 days'), ('POLICY-TEST', 2, now() - interval '10 days')"
    )
    old_chunks = sql(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metric_hist' "
        "AND range_end < now() - interval '90 days'"
    )
    assert int(old_chunks[0][0]) >= 3

    # Run the job exactly as the timer does.
    run = host.run(PROGRAM)
    assert run.rc == 0, run.stdout + run.stderr
    assert "factory_telemetry.metric_hist: dropped 3 chunk(s) older than 90 days" in run.stdout
    assert "factory_telemetry.fault_event: dropped 1 chunk(s) older than 365 days" in run.stdout

    assert sql(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metric_hist' "
        "AND range_end < now() - interval '90 days'"
    ) == [["0"]]
    kept = sql(
        "SELECT array_agg(value_real::int ORDER BY value_real) FROM factory_telemetry.metric_hist h "
        "JOIN factory_telemetry.metric_def d ON d.id = h.metric_def_id WHERE d.metric_key = 'retention_probe'"
    )
    assert kept == [["{1,30}"]]
    assert sql(
        "SELECT array_agg(bit_index ORDER BY bit_index) FROM factory_telemetry.fault_event "
        "WHERE equipment_code = 'POLICY-TEST'"
    ) == [["{2}"]]
    # The probe table: everything older than 5 days gone, the last 4 days kept.
    assert sql(
        "SELECT count(*) FROM factory_telemetry.policies_probe WHERE ts < now() - interval '6 days'"
    ) == [["0"]]
    assert int(sql(
        "SELECT count(*) FROM factory_telemetry.policies_probe WHERE ts > now() - interval '4 days'"
    )[0][0]) >= 90

    # A second run has nothing left to drop.
    again = host.run(PROGRAM)
    assert again.rc == 0
    assert "metric_hist: dropped 0 chunk(s)" in again.stdout


def test_retention_run_writes_its_status_file(host):
    status = host.file(STATUS)
    assert status.user == "root" and status.mode == 0o644
    assert host.file("/var/lib/ms5/status").mode == 0o755
    data = json.loads(status.content_string)
    assert data["job"] == "retention" and data["ok"] is True and data["exit_code"] == 0
    assert data["program"] == PROGRAM and data["consecutive_failures"] == 0
    assert data["last_success_at"] == data["finished_at"]
    assert data["details"]["tables"]["factory_telemetry.metric_hist"] == {"ok": True, "dropped_chunks": 0}


def test_retention_service_runs_under_systemd(host):
    run = host.run("systemctl start ms5-retention.service")
    assert run.rc == 0, run.stderr
    result = host.run("systemctl show -p Result -p ExecMainStatus ms5-retention.service").stdout
    assert "Result=success" in result and "ExecMainStatus=0" in result
    journal = host.run("journalctl -u ms5-retention.service --no-pager -n 20").stdout
    assert "factory_telemetry.metric_hist: dropped" in journal


def test_retention_program_rejects_bad_config(host):
    host.run("printf 'container=ms5-timescaledb\\ndatabase=factory_telemetry\\nuser=postgres\\n"
             "table=factory_telemetry.metric_hist 90 days; DROP TABLE x\\n' > /tmp/bad-retention.conf")
    run = host.run(f"{PROGRAM} --config /tmp/bad-retention.conf")
    assert run.rc != 0
    assert "bad interval" in run.stderr and "bad-retention.conf:4" in run.stderr
    missing = host.run(f"{PROGRAM} --config /nonexistent.conf")
    assert missing.rc != 0 and "cannot read config /nonexistent.conf" in missing.stderr
    # a failed run is recorded too, with the reason, and the last success kept
    data = json.loads(host.file(STATUS).content_string)
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["message"] == "cannot read config /nonexistent.conf"
    assert data["consecutive_failures"] == 2 and data["last_success_at"]


def test_failed_table_fails_the_run(host):
    host.run("printf 'container=ms5-timescaledb\\ndatabase=factory_telemetry\\nuser=postgres\\n"
             "table=factory_telemetry.no_such_table 1 day\\ntable=factory_telemetry.metric_hist 90 days\\n'"
             " > /tmp/partial-retention.conf")
    run = host.run(f"{PROGRAM} --config /tmp/partial-retention.conf")
    assert run.rc == 1
    assert "no_such_table: drop_chunks older than 1 day FAILED" in run.stderr
    assert "factory_telemetry.metric_hist: dropped" in run.stdout
