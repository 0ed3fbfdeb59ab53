"""Unit tests of the benchmark's scrape section (bench/ms5bench/scrape.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ms5bench import report, scrape  # noqa: E402

PLAN = [{"Plan": {"Node Type": "Aggregate", "Plans": [
    {"Node Type": "Seq Scan", "Schema": "pg_catalog", "Relation Name": "pg_class"},
    {"Node Type": "Custom Scan", "Plans": [
        {"Node Type": "Index Only Scan", "Schema": "_timescaledb_internal", "Relation Name": "_hyper_1_9_chunk"},
        {"Node Type": "Seq Scan", "Schema": "_timescaledb_internal", "Relation Name": "_hyper_1_8_chunk"}]}]}}]


def test_seq_scans_of_hypertables_and_chunks_are_found_catalogs_are_not():
    relations = {"_timescaledb_internal._hyper_1_8_chunk", "_timescaledb_internal._hyper_1_9_chunk",
                 "factory_telemetry.metric_hist"}
    assert scrape.seq_scanned(PLAN, relations) == ["_timescaledb_internal._hyper_1_8_chunk"]
    assert scrape.seq_scanned(PLAN, set()) == []


def test_queries_file_is_read_as_the_role_writes_it(tmp_path):
    path = tmp_path / "queries.yaml"
    path.write_text(json.dumps({"ms5_x": {"master": True, "query": "SELECT 1 AS a", "metrics": []}}))
    assert scrape.load_queries(str(path)) == {"ms5_x": "SELECT 1 AS a"}
    path.write_text("ms5_y:\n  query: SELECT 2 AS b\n  metrics: []\n")
    assert scrape.load_queries(str(path)) == {"ms5_y": "SELECT 2 AS b"}
    assert scrape.load_queries(str(tmp_path / "none.yaml")) is None


def test_freshness_statement_is_the_role_s():
    template = (ROOT / "roles" / "monitoring" / "templates" / "monitoring_schema.sql.j2").read_text()
    assert "WHERE t.{{ item.time_column }} <= now() + interval '5 minutes'" in template
    assert scrape.FRESHNESS_SQL.format(table="s.metric_hist").endswith("WHERE t.ts <= now() + interval '5 minutes'")


def test_section_reports_goal_and_scans():
    result = {"hypertables": 12, "chunks": 400, "goal_ms": 1000.0, "total_p50_ms": 120.5, "total_p95_ms": 150.0,
              "ok": True, "http": {"p50_ms": 300.0, "p95_ms": 320.0, "exporter_last_scrape_ms": 280.0, "ms5_series": 90},
              "queries": [{"name": "ms5_hypertable", "p50_ms": 100.0, "p95_ms": 120.0, "rows": 12, "seq_scans": []},
                          {"name": "ms5_bad", "error": "permission denied"}]}
    text = scrape.format_section(result, report.fmt_ms, report.format_table)
    assert "400 chunks" in text and "p95 150.0 ms (goal < 1000 ms" in text and "MET" in text
    assert "error: permission denied" in text and "whole scrape" in text
    assert "not measured" in scrape.format_section(None, report.fmt_ms, report.format_table)
    assert "apply the monitoring" in scrape.format_section({"skipped": "apply the monitoring role first"},
                                                           report.fmt_ms, report.format_table)
