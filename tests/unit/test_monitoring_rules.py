"""Unit tests of the monitoring role's alert rules and exporter queries (static checks).

promtool itself checks and unit-tests the rules in `make lint`
(scripts/check-alert-rules.sh); these tests keep the pieces consistent: the shipped
rules file is the template rendered with the defaults, every alert has promtool tests
that make it fire and not fire, every metric a rule uses is defined by a query, every
defined metric is selected by its SQL, and no query reads a table's rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import render_alert_rules

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
EXPORTER = ROLE / "files" / "exporter"
PROM = ROLE / "files" / "prometheus"
METRICS = yaml.safe_load((EXPORTER / "metrics.yml").read_text())
RULES = yaml.safe_load((PROM / "ms5-alerts.rules.yml").read_text())
TESTS = yaml.safe_load((PROM / "ms5-alerts.tests.yml").read_text())
ISSUE_ALERTS = {  # issue 13: what the rules must cover
    "MS5DatabaseDown", "MS5IngestStalled", "MS5BackupTooOld", "MS5BackupFailed", "MS5TimescaleDBJobFailing",
    "MS5HostJobFailing", "MS5DataDiskLow", "MS5BackupDiskLow", "MS5ChunksNotCompressed",
}


def alerts(rules: dict) -> dict[str, dict]:
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"]}


def defined_metrics() -> set[str]:
    out = set()
    for query, item in METRICS.items():
        for metric in item["metrics"]:
            (column, spec), = metric.items()
            if spec["usage"] != "LABEL":
                out.add(f"{query}_{column}")
    return out


def test_shipped_rules_are_the_template_rendered_with_the_defaults():
    assert (PROM / "ms5-alerts.rules.yml").read_text() == render_alert_rules.render(), \
        "run python3 scripts/render_alert_rules.py"


def test_rules_cover_the_issue_and_carry_severity_and_text():
    found = alerts(RULES)
    assert ISSUE_ALERTS <= set(found)
    for name, rule in found.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_has_promtool_tests_that_fire_and_stay_silent():
    fired, silent = set(), set()
    for test in TESTS["tests"]:
        for case in test["alert_rule_test"]:
            (fired if case["exp_alerts"] else silent).add(case["alertname"])
    assert set(alerts(RULES)) <= fired, set(alerts(RULES)) - fired
    assert set(alerts(RULES)) <= silent, set(alerts(RULES)) - silent


def test_rules_use_only_metrics_the_exporter_defines():
    builtin = {"up", "pg_up", "pg_exporter_last_scrape_error"}
    for name, rule in alerts(RULES).items():
        expr = re.sub(r'"[^"]*"', '""', rule["expr"])
        used = set(re.findall(r"\b((?:ms5|pg)_[a-z0-9_]+|up)\b(?=\s*[{\s=<>!]|$)", expr))
        assert used, name
        assert used <= defined_metrics() | builtin, (name, used - defined_metrics() - builtin)


def test_thresholds_come_from_the_variables():
    text = render_alert_rules.render({
        "monitoring_alert_ingest_stalled_minutes": 3, "monitoring_alert_backup_max_age_hours": 50,
        "monitoring_alert_backup_verified_max_age_hours": 0, "monitoring_alert_data_disk_free_percent": 7,
        "monitoring_alert_host_job_max_age_hours": {"rollups": 2, "retention": 30},
        "monitoring_prometheus_job_name": "tsdb"})
    found = alerts(yaml.safe_load(text))
    assert found["MS5IngestStalled"]["expr"] == "ms5_ingest_lag_seconds > 180"
    assert "> 180000" in found["MS5BackupTooOld"]["expr"]
    assert "MS5BackupUnverified" not in found  # 0 leaves it out
    assert found["MS5DataDiskLow"]["expr"].endswith("< 7.0")
    assert found["MS5ExporterDown"]["expr"] == 'up{job="tsdb"} == 0'
    stale = found["MS5HostJobStale"]["expr"]
    assert 'ms5_host_job_last_success_age_seconds{job="retention"} > 108000' in stale
    assert 'ms5_host_job_last_success_age_seconds{job="rollups"} > 7200' in stale
    assert 'job!~"backup|retention|rollups"' in stale


# --------------------------------------------------------------------------- exporter queries


def select_aliases(sql: str) -> set[str]:
    """Output column names of the final SELECT (AS aliases and bare columns)."""
    body = re.sub(r"--[^\n]*", "", sql)
    final = body[body.rfind("\nSELECT "):] if "\nSELECT " in body else body
    select_list = final.split("\nFROM ")[0]
    return set(re.findall(r"\bAS\s+([a-z_]+)\s*(?:,|$)", select_list, flags=re.M)) | \
        set(re.findall(r"^\s*SELECT\s+[a-z]+\.([a-z_]+)\s*,", select_list, flags=re.M)) | \
        set(re.findall(r",\s*[a-z]+\.([a-z_]+)\s*$", select_list, flags=re.M))


@pytest.mark.parametrize("query", sorted(METRICS))
def test_every_metric_column_is_selected_and_described(query):
    item = METRICS[query]
    sql = (EXPORTER / item["sql"]).read_text()
    columns = {list(m)[0] for m in item["metrics"]}
    assert columns <= select_aliases(sql), columns - select_aliases(sql)
    for metric in item["metrics"]:
        (column, spec), = metric.items()
        assert spec["usage"] in ("LABEL", "GAUGE", "COUNTER") and len(spec["description"]) > 10, column
        if spec["usage"] == "COUNTER":
            assert column.endswith("_total"), column


@pytest.mark.parametrize("path", sorted(EXPORTER.glob("*.sql")), ids=lambda p: p.name)
def test_no_exporter_query_reads_table_rows(path):
    """The exporter's role could not anyway; the queries use catalogs, size functions,
    ms5_monitoring (host facts and two aggregate-only functions)."""
    sql = re.sub(r"--[^\n]*", "", path.read_text())
    relations = set(re.findall(r"(?<!epoch )\b(?:FROM|JOIN)\s+([a-z_]+\.[a-z_]+)", sql))
    allowed_schemas = {"timescaledb_information", "pg_catalog", "ms5_monitoring", "_timescaledb_internal",
                       "_timescaledb_catalog"}
    assert {r.split(".")[0] for r in relations} <= allowed_schemas, relations
    assert "factory_telemetry" not in sql


def test_community_paths_of_the_sql():
    """Not run live on the Apache CI image except through a catalog-inserted policy: keep their shape."""
    hypertable = (EXPORTER / "hypertable.sql").read_text()
    # hypertable_size(): the parent's own relation, every chunk and every compressed chunk
    assert "pg_catalog.pg_total_relation_size(ht.relid)" in hypertable
    assert "FILTER (WHERE ch.hypertable_id = ht.compressed_hypertable_id)" in hypertable
    assert "WHERE NOT ch.dropped" in hypertable
    assert "_timescaledb_catalog.compression_chunk_size" in hypertable
    assert "j.proc_name = 'policy_compression'" in hypertable
    assert "jsonb_typeof(j.config -> 'compress_after') = 'string'" in hypertable  # integer time: not counted
    assert "ch.range_end < now() - p.compress_after - p.schedule_interval" in hypertable
    jobs = (EXPORTER / "timescaledb_job.sql").read_text()
    assert "_timescaledb_internal.bgw_job_stat AS b ON b.job_id = j.job_id" in jobs
    assert "current_setting('timescaledb.license', true) = 'apache' AND j.job_id < 1000" in jobs
    assert "CASE s.last_run_status WHEN 'Success' THEN 1 WHEN 'Failed' THEN 0 END" in jobs


def test_freshness_function_reads_only_max_time_with_an_index_friendly_filter():
    import jinja2

    template = (ROLE / "templates" / "monitoring_schema.sql.j2").read_text()
    sql = jinja2.Environment(trim_blocks=True).from_string(template).render(
        monitoring_exporter_db_role="ms5_exporter", monitoring_db_owner_role="ms5_owner", monitoring_db_user="postgres",
        monitoring_freshness_tables=[{"table": "factory_telemetry.metric_hist", "time_column": "ts"},
                                     {"table": "factory_telemetry.fault_event", "time_column": "ts_on"}])
    body = sql.split("ingest_freshness()\nRETURNS")[1].split("$function$;")[0]
    assert body.count("SELECT max(t.") == 2 and "UNION ALL" in body
    assert "WHERE t.ts <= now() + interval '5 minutes'" in body
    assert "SECURITY DEFINER" in body and "SET search_path = pg_catalog, pg_temp" in body
    assert "REVOKE ALL ON FUNCTION ms5_monitoring.ingest_freshness() FROM PUBLIC" in sql
    assert "GRANT EXECUTE ON FUNCTION ms5_monitoring.ingest_freshness() TO ms5_exporter" in sql
    assert "OWNER TO ms5_owner" in sql
    assert "GRANT SELECT ON ms5_monitoring.host_facts TO ms5_exporter" in sql
