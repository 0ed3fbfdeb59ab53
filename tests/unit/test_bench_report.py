"""Unit tests of the benchmark's report helpers and CLI validation (bench/ms5bench)."""

from __future__ import annotations

import io
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

from ms5bench import cli, report  # noqa: E402


def test_percentile_nearest_rank():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert report.percentile(values, 50) == 3.0
    assert report.percentile(values, 95) == 5.0
    assert report.percentile(values, 0) == 1.0
    assert report.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        report.percentile([], 50)
    with pytest.raises(ValueError):
        report.percentile([1.0], 101)


def test_ratio_and_rate():
    assert report.ratio(2.0, 4.0) == 0.5
    assert report.ratio(None, 4.0) is None
    assert report.ratio(1.0, 0) is None
    assert report.rate(1000, 2.0) == 500
    assert report.rate(10, 0) is None


def test_human_formats():
    assert report.human_count(1234567) == "1.23M"
    assert report.human_count(999) == "999"
    assert report.human_count(None) == "-"
    assert report.human_bytes(1536) == "1.5 KiB"
    assert report.human_bytes(100) == "100 B"
    assert report.fmt_ratio(0.456) == "0.46x"
    assert report.fmt_ratio(None) == "-"


def test_format_table_aligns_columns():
    text = report.format_table(["name", "value"], [["a", 1], ["long name", 22]], title="T")
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1].startswith("name") and lines[1].endswith("value")
    assert lines[3] == "a              1"
    assert lines[4] == "long name     22"
    with pytest.raises(ValueError):
        report.format_table(["a", "b"], [["only one"]])


def test_progress_prints_deciles_when_not_a_terminal():
    ticks = iter(range(100))
    stream = io.StringIO()
    p = report.Progress("load", 100, stream=stream, clock=lambda: float(next(ticks)))
    for _ in range(20):
        p.update(5)
    p.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # 0%, 10%, ... 100%
    assert lines[-1].startswith("[load] 100/100 rows (100%)")


def test_cli_defaults_and_validation(capsys):
    args = cli.parse_args([])
    assert (args.lines, args.equipment, args.metrics) == (2, 4, 8)
    assert args.user == "ms5_owner" or args.user  # PGUSER may override
    for bad in (["--lines", "0"], ["--days", "0"], ["--days", "0.01"], ["--query-runs", "0"],
                ["--schema-prefix", "factory_telemetry"], ["--schema-prefix", "x;drop"]):
        with pytest.raises(SystemExit):
            cli.parse_args(bad)
    assert "must" in capsys.readouterr().err


def test_build_tables_renders_both_editions():
    result = {
        "meta": {"started_at": "2026-11-25T00:00:00Z", "postgres_version": "17", "timescaledb_version": "2.19.3",
                 "timescaledb_license": "apache",
                 "size": {"lines": 1, "equipment": 1, "metrics": 1, "metric_count": 1, "days": 1, "batch_size": 1000}},
        "ingest": {"copy": {"rows": 10, "timescaledb": {"rows_per_s": 100}, "plain": {"rows_per_s": 50}, "ratio": 2.0}},
        "queries": [{"name": "q", "timescaledb": {"p50_ms": 1.0, "p95_ms": 2.0, "rows": 3},
                     "plain": {"p50_ms": 2.0, "p95_ms": 4.0}, "ratio_p50": 0.5}],
        "storage": {"metric_hist": {"rows": 10, "timescaledb_bytes": 1000, "plain_bytes": 2000,
                                    "timescaledb_bytes_per_row": 100.0, "plain_bytes_per_row": 200.0,
                                    "chunks": 2, "ratio": 0.5}},
        "compression": {"status": "unavailable", "reason": "not available: apache"},
    }
    text = cli.build_tables(result)
    assert "2.00x" in text and "0.50x" in text and "not available: apache" in text
    result["compression"] = {"status": "done", "before_bytes": 1000, "after_bytes": 100, "before_bytes_per_row": 100,
                             "after_bytes_per_row": 10, "saved": 0.9, "chunks": 2}
    assert "90% saved" in cli.build_tables(result)
