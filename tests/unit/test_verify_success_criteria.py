"""Unit tests of the pure parts of plugins/modules/verify_success_criteria.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules" / "verify_success_criteria.py"
_spec = importlib.util.spec_from_file_location("verify_success_criteria", _PATH)
vsc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vsc)

ROLE_FILES = pathlib.Path(__file__).resolve().parents[2] / "roles" / "verify" / "files"


def test_percentile():
    assert vsc.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert vsc.percentile([3.0, 1.0, 2.0], 95) == 3.0
    with pytest.raises(ValueError):
        vsc.percentile([], 50)


def test_rows_per_month():
    plant = {"lines": 2, "equipment_per_line": 5, "metrics_per_equipment": 20, "sample_interval_seconds": 1}
    assert vsc.rows_per_month(plant) == 200 * 30 * 86400
    assert vsc.rows_per_month(dict(plant, sample_interval_seconds=10)) == 200 * 30 * 8640
    with pytest.raises(ValueError):
        vsc.rows_per_month(dict(plant, sample_interval_seconds=0))


def test_compression_savings():
    assert vsc.compression_savings(1000, 250) == 0.75
    assert vsc.compression_savings(0, 10) is None
    assert vsc.compression_savings(100, 200) == 0.0


def test_human_bytes():
    assert vsc.human_bytes(512) == "512 B"
    assert vsc.human_bytes(3 * 1024 ** 3) == "3.0 GiB"


def test_parse_hypertable_and_missing_items():
    assert vsc.parse_hypertable("metric_hist:ts") == ("metric_hist", "ts")
    assert vsc.parse_hypertable("metric_hist") == ("metric_hist", None)
    assert vsc.missing_items(["a", "b", "c"], ["c", "a"]) == ["b"]


def test_ingest_rows_round_robin_one_second_apart():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = vsc.ingest_rows([7, 8], start, 5)
    assert [r[0] for r in rows] == [7, 8, 7, 8, 7]
    assert rows[2][1] == start + dt.timedelta(seconds=1)
    assert len({(r[0], r[1]) for r in rows}) == 5
    with pytest.raises(ValueError):
        vsc.ingest_rows([], start, 1)


def test_parse_named_queries():
    text = "-- header\n\n-- name: first\nSELECT 1;\n\n-- name: second\nSELECT\n  2;\n"
    assert vsc.parse_named_queries(text) == [{"name": "first", "sql": "SELECT 1;"},
                                             {"name": "second", "sql": "SELECT\n  2;"}]
    assert vsc.parse_named_queries("") == []
    for bad in ("-- name: a\n", "-- name:\nSELECT 1", "-- name: a\nSELECT 1\n-- name: a\nSELECT 2"):
        with pytest.raises(ValueError):
            vsc.parse_named_queries(bad)


def test_role_dashboard_queries_parse():
    queries = vsc.parse_named_queries((ROLE_FILES / "dashboard_queries.sql").read_text())
    assert len(queries) >= 5
    assert all("%(until)s" in q["sql"] or "%(since)s" in q["sql"] for q in queries)
