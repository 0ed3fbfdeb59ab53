"""Unit tests of the benchmark's rollup section (bench/ms5bench/rollups.py), its pure parts.

The section itself runs against a database (make bench); its numbers are in README.md.
"""

from __future__ import annotations

import json
import pathlib
import sys
from decimal import Decimal

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ms5bench import cli, rollups  # noqa: E402


def test_finds_the_roles_files_in_a_checkout():
    assert rollups._find("utils") == ROOT / "plugins/module_utils/rollups.py"
    assert rollups._find("base_sql").name == "rollups_base.sql"
    defs = rollups.load_definitions()
    assert defs == yaml.safe_load((ROOT / "roles/rollups/defaults/main.yml").read_text())["rollups_definitions"]
    assert rollups.load_utils().SCHEMA == "ms5_rollups"


def test_definitions_as_json_for_the_sandbox(tmp_path, monkeypatch):
    # scripts/bench.sh converts the defaults to JSON next to the package
    target = tmp_path / "definitions.json"
    target.write_text(json.dumps([{"name": "x"}]))
    monkeypatch.setitem(rollups._CANDIDATES, "definitions", (target,))
    assert rollups.load_definitions() == [{"name": "x"}]
    monkeypatch.setitem(rollups._CANDIDATES, "definitions", (tmp_path / "missing.json",))
    with pytest.raises(FileNotFoundError, match="definitions is missing"):
        rollups.load_definitions()


def test_retarget_definitions_and_sql():
    defs = [{"name": "a", "source": "factory_telemetry.metric_hist"}, {"name": "b", "source": "a"}]
    assert rollups.retarget_definitions(defs, "factory_telemetry", "ms5_bench_rollsrc") == [
        {"name": "a", "source": "ms5_bench_rollsrc.metric_hist"}, {"name": "b", "source": "a"}]
    sql = ('CREATE VIEW "ms5_rollups"."x" AS SELECT ms5_rollups.watermark(\'ms5_rollups.x\') '
           "FROM ms5_rollups.catalog WHERE view_schema = 'ms5_rollups' AND y.ms5_rollups_z = 1")
    assert rollups.retarget_sql(sql, "ms5_bench_rollups") == (
        'CREATE VIEW "ms5_bench_rollups"."x" AS SELECT ms5_bench_rollups.watermark(\'ms5_bench_rollups.x\') '
        "FROM ms5_bench_rollups.catalog WHERE view_schema = 'ms5_bench_rollups' AND y.ms5_rollups_z = 1")


def test_same_rows():
    a = [("t", 1.0, Decimal("2.5"), None, 3)]
    assert rollups.same_rows(a, [("t", 1.0 + 1e-12, Decimal("2.5"), None, 3)])
    assert not rollups.same_rows(a, [("t", 1.1, Decimal("2.5"), None, 3)])
    assert not rollups.same_rows(a, [("t", 1.0, Decimal("2.5"), 0, 3)])
    assert not rollups.same_rows(a, a + a)
    assert not rollups.same_rows(a, [("u", 1.0, Decimal("2.5"), None, 3)])


def test_queries_pair_the_trend_function_with_the_raw_aggregation():
    qs = rollups.queries("ms5_bench_rollups", "ms5_bench_rollsrc")
    assert [q["name"] for q in qs] == ["24-hour trend (1-minute buckets)", "30-day trend (hourly buckets)",
                                       "equipment screen: all metrics, 24 h, 15-min buckets"]
    assert "ms5_bench_rollups.metric_trend(%(metric)s, %(now)s - interval '24 hours', %(now)s)" in qs[0]["rollup"]
    assert "time_bucket(interval '1 minute', ts)" in qs[0]["raw"] and "ms5_bench_rollsrc.metric_hist" in qs[0]["raw"]
    assert "time_bucket(interval '1 hour', ts)" in qs[1]["raw"]
    assert "ms5_bench_rollups.metric_trend(ARRAY(SELECT id FROM ms5_bench_rollsrc.metric_def" in qs[2]["rollup"]
    assert {q["goal"] for q in qs} == {"24-hour trend", "30-day trend", None}


def test_sample_sql_follows_value_types():
    text = rollups.sample_sql("s")
    assert text.startswith("INSERT INTO s.metric_hist (metric_def_id, ts, value_bool, value_int, value_real)")
    assert "WHEN d.value_type = 'REAL'" in text and "generate_series(%(start)s::timestamptz" in text


def test_format_section():
    section = {
        "kind": "table", "days": 7, "metrics": 64, "raw": {"rows": 38707200, "bytes": 4 * 2**30},
        "queries": [{"name": "24-hour trend (1-minute buckets)", "rollup": {"p50_ms": 2.0, "p95_ms": 3.1, "rows": 1440},
                     "raw": {"p50_ms": 80.0, "p95_ms": 90.0, "rows": 1440}, "ratio_p95": 0.034,
                     "same_result": True, "goal": "p95 <= 10 ms and <= 0.1x raw", "goal_met": True}],
        "refresh_build": {"seconds": 120.0, "raw_hours": 167.0, "seconds_per_raw_hour": 0.719},
        "refresh_incremental": {"seconds": 1.2, "raw_hours": 1.25, "seconds_per_raw_hour": 0.96},
        "sizes": [{"relation": "x.metric_hist_1m", "bytes": 2**20, "rows": 645120}],
    }
    text = rollups.format_section(section)
    assert text.startswith("rollups (table kind, 7 days of 1-second samples of 64 metrics, 38.71M rows")
    assert "24-hour trend (1-minute buckets)" in text and "met" in text and "yes" in text
    assert "first build 120.0 s for 167 h of raw data (0.719 s per raw hour)" in text
    assert "metric_hist_1m 1.0 MiB" in text
    assert rollups.format_section(None) == "rollups: not measured (--rollup-days 0)"
    assert rollups.format_section({"error": "boom"}) == "rollups: not measured: boom"


def test_cli_rollup_days():
    assert cli.parse_args([]).rollup_days == 7
    assert cli.parse_args(["--rollup-days", "0"]).rollup_days == 0
    assert not rollups.enabled(cli.parse_args(["--rollup-days", "0"]))
    with pytest.raises(SystemExit):
        cli.parse_args(["--rollup-days", "1"])
