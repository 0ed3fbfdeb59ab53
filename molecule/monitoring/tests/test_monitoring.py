"""Outcome tests of the monitoring role: real scrapes of postgres_exporter inside the host."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

EXPORTER = "ms5-postgres-exporter"
DATABASE_CONTAINER = "ms5-timescaledb"
PROJECT_DIR = "/opt/ms5-backend"
METRICS_URL = "http://127.0.0.1:9187/metrics"
COLLECTOR = "ms5-monitoring-collect"
STATUS_DIR = "/var/lib/ms5/status"
EXPORTER_PASSWORD = "molecule-exporter-pw-0001"
ROOT = Path(__file__).resolve().parents[3]
METRICS_FILE = ROOT / "roles" / "monitoring" / "files" / "exporter" / "metrics.yml"
RULES_ON_HOST = f"{PROJECT_DIR}/monitoring/prometheus/ms5-alerts.rules.yml"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


# --------------------------------------------------------------------------- helpers


def scrape(host) -> str:
    result = host.run(f"curl -fsS --max-time 30 {METRICS_URL}")
    assert result.rc == 0, f"scrape failed: {result.stderr}"
    return result.stdout


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_RE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        out.append((match.group(1), labels, float(match.group(3))))
    return out


def value(text: str, name: str, **labels: str) -> float:
    found = [v for n, ls, v in samples(text) if n == name and all(ls.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, f"expected one sample of {name}{labels}, found {len(found)}"
    return found[0]


def collect(host) -> None:
    """Run the host collector now (as its timer would) and wait for it."""
    result = host.run(f"systemctl start {COLLECTOR}.service")
    assert result.rc == 0, host.run(f"journalctl -u {COLLECTOR} --no-pager -n 20").stdout


def psql(host, sql: str, user: str = "postgres", password: str | None = None) -> subprocess.CompletedProcess:
    """psql in the database container: as postgres on the local socket, or USER over TCP."""
    env = f"-e PGPASSWORD={shlex.quote(password)} " if password else ""
    tcp = "-h 127.0.0.1 " if password else ""
    return host.run(f"docker exec {env}{DATABASE_CONTAINER} psql -X -At -v ON_ERROR_STOP=1 {tcp}"
                    f"-U {user} -d factory_telemetry -c {shlex.quote(sql)}")


def sql_ok(host, sql: str) -> str:
    result = psql(host, sql)
    assert result.rc == 0, f"{sql}: {result.stderr}"
    return result.stdout.strip()


def write_status(host, job: str, document: dict) -> None:
    payload = shlex.quote(json.dumps(document))
    assert host.run(f"mkdir -p {STATUS_DIR} && printf '%s' {payload} > {STATUS_DIR}/{job}.json").rc == 0


# --------------------------------------------------------------------------- the service


def test_exporter_runs_healthy_in_the_database_compose_project(host):
    info = json.loads(host.check_output(f"docker inspect {EXPORTER}"))[0]
    labels = info["Config"]["Labels"]
    assert info["State"]["Running"] and info["State"]["Health"]["Status"] == "healthy"
    assert labels["com.docker.compose.project"] == "ms5-timescaledb"
    assert labels["com.docker.compose.service"] == "postgres-exporter"
    assert info["Config"]["User"] == "65534:65534"
    assert info["HostConfig"]["Memory"] == 128 * 1024 * 1024
    assert info["HostConfig"]["PortBindings"] == {"9187/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9187"}]}
    networks = info["NetworkSettings"]["Networks"]
    assert "ms5-timescaledb_default" in networks
    db = json.loads(host.check_output(f"docker inspect {DATABASE_CONTAINER}"))[0]
    assert "ms5-timescaledb_default" in db["NetworkSettings"]["Networks"]


def test_password_is_a_file_never_in_inspect_or_processes(host):
    secret = host.file(f"{PROJECT_DIR}/secrets/exporter_password")
    assert secret.mode == 0o400 and secret.uid == 65534 and secret.user != "root"
    assert secret.content_string == EXPORTER_PASSWORD
    inspect = host.check_output(f"docker inspect {EXPORTER}")
    assert EXPORTER_PASSWORD not in inspect
    assert "DATA_SOURCE_PASS_FILE=/run/secrets/" in inspect
    assert EXPORTER_PASSWORD not in host.check_output("ps -eo args")
    assert EXPORTER_PASSWORD not in host.run(f"docker logs {EXPORTER}").stdout + host.run(f"docker logs {EXPORTER}").stderr


def test_database_compose_up_leaves_the_exporter_alone(host):
    """The database's own compose file sees the exporter as an orphan and must not remove it."""
    before = host.check_output(f"docker inspect -f '{{{{.Id}}}}' {EXPORTER}")
    result = host.run(f"cd {PROJECT_DIR} && docker compose up -d")
    assert result.rc == 0, result.stderr
    assert host.check_output(f"docker inspect -f '{{{{.Id}}}} {{{{.State.Running}}}}' {EXPORTER}") == f"{before} true"


def test_collector_timer_runs_and_reports_its_own_status(host):
    timer = host.service(f"{COLLECTOR}.timer")
    assert timer.is_enabled and timer.is_running
    collect(host)
    status = host.file(f"{STATUS_DIR}/monitoring.json")
    assert status.mode == 0o644
    document = json.loads(status.content_string)
    assert document["job"] == "monitoring" and document["ok"] is True
    assert document["consecutive_failures"] == 0 and document["last_success_at"]


# --------------------------------------------------------------------------- least privilege


def test_exporter_role_is_pg_monitor_only_and_reads_no_table_data(host):
    memberships = sql_ok(host, "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m "
                               "JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
                               "WHERE r.rolname = 'ms5_exporter'")
    assert memberships == "pg_monitor"
    flags = sql_ok(host, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                         "WHERE rolname = 'ms5_exporter'")
    assert flags == "f|f|f|f"
    for table in ("factory_telemetry.metric_hist", "factory_telemetry.users", "factory_telemetry.metric_def",
                  "ms5_migrations.schema_migrations"):
        denied = psql(host, f"SELECT * FROM {table} LIMIT 1", user="ms5_exporter", password=EXPORTER_PASSWORD)
        assert denied.rc != 0 and "permission denied" in denied.stderr, (table, denied.stdout, denied.stderr)
    # What it may do: statistics, the host facts and two aggregate-only functions.
    allowed = psql(host, "SELECT count(*) FROM ms5_monitoring.ingest_freshness()", user="ms5_exporter",
                   password=EXPORTER_PASSWORD)
    assert allowed.rc == 0, allowed.stderr
    chunks = psql(host, "SELECT count(*) FROM _timescaledb_catalog.chunk", user="ms5_exporter",
                  password=EXPORTER_PASSWORD)
    assert chunks.rc == 0, chunks.stderr


# --------------------------------------------------------------------------- metrics


def test_every_ms5_metric_is_exported_with_its_help_text(host):
    text = scrape(host)
    assert value(text, "pg_up") == 1
    assert value(text, "pg_exporter_last_scrape_error") == 0
    defined = yaml.safe_load(METRICS_FILE.read_text())
    for query, item in defined.items():
        for metric in item["metrics"]:
            (column, spec), = metric.items()
            if spec["usage"] == "LABEL":
                continue
            name = f"{query}_{column}"
            assert f"# HELP {name} {spec['description']}" in text, name
            assert any(n == name for n, _, _ in samples(text)), f"{name} has no sample"
    info = [ls for n, ls, _ in samples(text) if n == "ms5_timescaledb_info"]
    assert info and info[0]["license"] == "apache" and info[0]["version"].startswith("2.")
    assert value(text, "ms5_migrations_applied_version") == 9


def test_hypertable_size_and_chunks_grow_after_inserting_rows(host):
    before = scrape(host)
    size = value(before, "ms5_hypertable_size_bytes", hypertable="factory_telemetry.metric_hist")
    chunks = value(before, "ms5_hypertable_chunks", hypertable="factory_telemetry.metric_hist")
    sql_ok(host, "INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type) "
                 "VALUES ('MON-EQ', 'size_probe', 'REAL') ON CONFLICT DO NOTHING")
    # Each run fills 30000 seconds (9 hours) of its own, older than the previous runs'.
    runs = int(sql_ok(host, "SELECT count(*) / 30000 FROM factory_telemetry.metric_hist h JOIN "
                            "factory_telemetry.metric_def d ON d.id = h.metric_def_id WHERE d.metric_key = 'size_probe'"))
    sql_ok(host, "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
                 f"SELECT d.id, now() - interval '3 days' - {runs} * interval '10 hours' + g * interval '1 second', g "
                 "FROM factory_telemetry.metric_def d, generate_series(1, 30000) g "
                 "WHERE d.metric_key = 'size_probe'")
    after = scrape(host)
    assert value(after, "ms5_hypertable_size_bytes", hypertable="factory_telemetry.metric_hist") > size + 1_000_000
    # The exported size is exactly what TimescaleDB's hypertable_size() says, for every hypertable.
    for table in ("metric_hist", "fault_event", "production_kpis"):
        assert value(after, "ms5_hypertable_size_bytes", hypertable=f"factory_telemetry.{table}") == \
            int(sql_ok(host, f"SELECT hypertable_size('factory_telemetry.{table}')"))
    assert value(after, "ms5_hypertable_chunks", hypertable="factory_telemetry.metric_hist") > chunks
    assert value(after, "ms5_hypertable_compressed_chunks", hypertable="factory_telemetry.metric_hist") == 0
    assert value(after, "ms5_hypertable_chunks_uncompressed_past_policy",
                 hypertable="factory_telemetry.metric_hist") == 0


def test_ingest_freshness_follows_an_insert(host):
    sql_ok(host, "INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type) "
                 "VALUES ('MON-EQ', 'fresh_probe', 'REAL') ON CONFLICT DO NOTHING")
    sql_ok(host, "DELETE FROM factory_telemetry.metric_hist WHERE ts > now() - interval '2 days'")
    sql_ok(host, "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
                 "SELECT id, now() - interval '1 hour', 1 FROM factory_telemetry.metric_def "
                 "WHERE metric_key = 'fresh_probe'")
    lag = value(scrape(host), "ms5_ingest_lag_seconds", hypertable="factory_telemetry.metric_hist")
    assert 3590 <= lag <= 3700
    sql_ok(host, "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
                 "SELECT id, now(), 2 FROM factory_telemetry.metric_def WHERE metric_key = 'fresh_probe'")
    text = scrape(host)
    assert value(text, "ms5_ingest_lag_seconds", hypertable="factory_telemetry.metric_hist") < 60
    newest = value(text, "ms5_ingest_newest_timestamp_seconds", hypertable="factory_telemetry.metric_hist")
    assert abs(newest - time.time()) < 120


def test_a_backup_made_moves_the_backup_age_back(host):
    collect(host)
    before = scrape(host)
    count = value(before, "ms5_backup_count")
    result = host.run("/usr/local/sbin/ms5-backup --kind manual")
    assert result.rc == 0, result.stderr
    dump = result.stdout.strip().splitlines()[-1]
    collect(host)
    after = scrape(host)
    assert value(after, "ms5_backup_count") == count + 1
    assert value(after, "ms5_backup_newest_age_seconds") < 300
    assert value(after, "ms5_backup_newest_size_bytes") == host.file(dump).size
    if count > 0:
        assert value(after, "ms5_backup_newest_age_seconds") <= value(before, "ms5_backup_newest_age_seconds")


def test_failing_jobs_show_up(host):
    """TimescaleDB's job 3 fails for real on the Apache edition (expected); a host job made to fail shows."""
    text = scrape(host)
    job3 = [ls for n, ls, v in samples(text) if n == "ms5_timescaledb_job_consecutive_failures"
            and ls["job_id"] == "3" and v >= 1]
    assert job3 and job3[0]["expected_failure"] == "true"
    assert value(text, "ms5_timescaledb_job_last_run_success", job_id="3") == 0
    write_status(host, "retention", {
        "job": "retention", "program": "/usr/local/sbin/ms5-retention", "started_at": "2026-11-29T03:15:00Z",
        "finished_at": "2026-11-29T03:15:02Z", "ok": False, "exit_code": 1,
        "message": "factory_telemetry.metric_hist: drop_chunks FAILED", "last_success_at": "2026-11-27T03:15:04Z",
        "consecutive_failures": 2, "details": {}})
    collect(host)
    text = scrape(host)
    assert value(text, "ms5_host_job_last_run_ok", job="retention") == 0
    assert value(text, "ms5_host_job_consecutive_failures", job="retention") == 2
    assert value(text, "ms5_host_job_last_exit_code", job="retention") == 1
    assert value(text, "ms5_host_job_last_success_age_seconds", job="retention") > 86400
    # An expected job that never wrote a status file counts as "never ran".
    assert value(text, "ms5_host_job_status_present", job="rollups") == 0
    host.run(f"rm -f {STATUS_DIR}/retention.json")


def test_a_compression_policy_made_to_fail_shows_up_with_its_late_chunks(host):
    """The Community path on the Apache build: a compression policy written into TimescaleDB's job
    catalog (as add_compression_policy does on the Community edition) is run by the real scheduler,
    fails with the license error, and its chunks older than compress_after count as late."""
    sql_ok(host, "INSERT INTO _timescaledb_config.bgw_job (id, application_name, schedule_interval, max_runtime, "
                 "max_retries, retry_period, proc_schema, proc_name, owner, scheduled, fixed_schedule, "
                 "hypertable_id, config) SELECT 1900, 'Compression Policy [1900]', interval '1 hour', interval '0', "
                 "-1, interval '1 hour', '_timescaledb_functions', 'policy_compression', 'ms5_owner', true, false, "
                 "h.id, jsonb_build_object('hypertable_id', h.id, 'compress_after', '1 day') "
                 "FROM _timescaledb_catalog.hypertable h WHERE h.table_name = 'metric_hist'")
    try:
        sql_ok(host, "SELECT _timescaledb_functions.restart_background_workers()")
        for _ in range(60):
            if sql_ok(host, "SELECT count(*) FROM timescaledb_information.job_stats "
                            "WHERE job_id = 1900 AND last_run_status = 'Failed'") == "1":
                break
            time.sleep(1)
        text = scrape(host)
        labels = {"job_id": "1900", "hypertable": "factory_telemetry.metric_hist", "expected_failure": "false"}
        assert value(text, "ms5_timescaledb_job_consecutive_failures", **labels) >= 1
        assert value(text, "ms5_timescaledb_job_last_run_success", **labels) == 0
        assert value(text, "ms5_hypertable_compression_policy", hypertable="factory_telemetry.metric_hist") == 1
        late = value(text, "ms5_hypertable_chunks_uncompressed_past_policy", hypertable="factory_telemetry.metric_hist")
        old_chunks = sql_ok(host, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = "
                                  "'metric_hist' AND range_end < now() - interval '1 day' - interval '1 hour'")
        assert late == int(old_chunks) > 0
    finally:
        sql_ok(host, "DELETE FROM _timescaledb_config.bgw_job WHERE id = 1900")


def test_free_bytes_of_data_volume_and_backups_filesystems(host):
    collect(host)
    text = scrape(host)
    mountpoint = host.check_output("docker volume inspect -f '{{.Mountpoint}}' ms5-timescaledb-data")
    for volume, path in (("data", mountpoint), ("backups", f"{PROJECT_DIR}/backups")):
        size = value(text, "ms5_filesystem_size_bytes", volume=volume, path=path)
        avail = value(text, "ms5_filesystem_avail_bytes", volume=volume, path=path)
        df_size = int(host.check_output(f"df -B1 --output=size {shlex.quote(path)} | tail -1"))
        assert size == df_size and 0 < avail <= size


def test_host_facts_are_fresh(host):
    collect(host)
    assert value(scrape(host), "ms5_host_facts_age_seconds") < 60


# --------------------------------------------------------------------------- alert rules


def test_rendered_rules_pass_promtool_and_use_exported_metrics(host, tmp_path):
    rules = host.file(RULES_ON_HOST).content_string
    assert "ms5_ingest_lag_seconds > 900" in rules  # converge sets 15 minutes
    assert 'ms5_host_job_last_success_age_seconds{job="rollups"} > 7200' in rules
    assert "< 12.0" in rules
    (tmp_path / "rules.yml").write_text(rules)
    check = subprocess.run(["docker", "run", "--rm", "-v", f"{tmp_path}:/rules:ro", "ms5-test-prometheus",
                            "check", "rules", "rules.yml"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    exported = {n for n, _, _ in samples(scrape(host))}
    exprs = [r["expr"] for g in yaml.safe_load(rules)["groups"] for r in g["rules"]]
    unquoted = [re.sub(r'"[^"]*"', '""', e) for e in exprs]
    used = {m for e in unquoted for m in re.findall(r"\b((?:ms5|pg)_[a-z0-9_]+)\b", e)}
    assert used and used <= exported, f"rules use metrics the exporter does not export: {used - exported}"


def test_check_mode_on_the_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", 0) == 0 and recap.get("failed", 0) == 0, output[-3000:]
