"""Unit tests of the pure parts of plugins/modules/verify_success_criteria.py."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / ".collections"))
from ansible_collections.ms5.factory_telemetry.plugins.modules import verify_success_criteria as vsc  # noqa: E402
from ansible_collections.ms5.factory_telemetry.plugins.module_utils import ms5_postgres  # noqa: E402

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
    assert vsc.parse_named_queries(text) == [{"name": "first", "sql": "SELECT 1;", "requires": []},
                                             {"name": "second", "sql": "SELECT\n  2;", "requires": []}]
    assert vsc.parse_named_queries("") == []
    needs = "-- name: trend\n-- requires: ms5_rollups.metric_trend\nSELECT * FROM ms5_rollups.metric_trend(1, now(), now());\n"
    assert vsc.parse_named_queries(needs)[0]["requires"] == ["ms5_rollups.metric_trend"]
    assert "requires" not in vsc.parse_named_queries(needs)[0]["sql"]
    for bad in ("-- name: a\n", "-- name:\nSELECT 1", "-- name: a\nSELECT 1\n-- name: a\nSELECT 2",
                "-- name: a\n-- requires: metric_trend\nSELECT 1"):
        with pytest.raises(ValueError):
            vsc.parse_named_queries(bad)


def test_role_dashboard_queries_parse():
    queries = vsc.parse_named_queries((ROLE_FILES / "dashboard_queries.sql").read_text())
    assert len(queries) >= 5
    assert all("%(until)s" in q["sql"] or "%(since)s" in q["sql"] for q in queries)
    # every query that calls a trend function of the rollups role says so (skipped where not deployed)
    for q in queries:
        for fn in ("metric_trend", "oee_trend", "energy_trend"):
            if "ms5_rollups.%s(" % fn in q["sql"]:
                assert "ms5_rollups.%s" % fn in q["requires"], q["name"]


# ------------------------------------------------------------------ jobs
def test_job_health_community_every_job_must_have_succeeded():
    jobs = [(1, "Telemetry Reporter [1]", "policy_telemetry", "", "Success", "t1", 0),
            (1000, "Columnstore Policy [1000]", "policy_compression", "metric_hist", "Failed", "t2", 4),
            (1001, "Retention Policy [1001]", "policy_retention", "metric_hist", "", None, 0)]
    failing, never, ok = vsc.job_health(jobs, {}, "timescale")
    assert failing == ["TimescaleDB job 1000 policy_compression on metric_hist: last run Failed at t2 (4 failure(s) in all)"]
    assert never == ["TimescaleDB job 1001 policy_retention on metric_hist"]
    assert ok == ["TimescaleDB job 1 policy_telemetry"]


def test_job_health_apache_ignores_job_3_and_reads_host_status_files():
    jobs = [(3, "Job History Log Retention Policy [3]", "policy_job_stat_history_retention", "", "Failed", "t", 9)]
    status = {"retention": {"ok": True}, "backup": {"ok": False, "finished_at": "2026-11-29T02:16:10Z", "exit_code": 1,
                                                    "consecutive_failures": 2, "message": "pg_dump failed"},
              "rollups": None}
    failing, never, ok = vsc.job_health(jobs, status, "apache")
    assert failing == ["host job backup: last run failed at 2026-11-29T02:16:10Z (exit 1, 2 consecutive failure(s)): "
                       "pg_dump failed", "host job rollups: status file unreadable"]
    assert ok == ["host job retention"] and never == []
    # the same job 3 failing on the Community edition is a failure
    assert vsc.job_health(jobs, {}, "timescale")[0]


def test_read_status_files(tmp_path):
    (tmp_path / "retention.json").write_text(json.dumps({"job": "retention", "ok": True}))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored")
    assert vsc.read_status_files(str(tmp_path)) == {"broken": None, "retention": {"job": "retention", "ok": True}}
    assert vsc.read_status_files(str(tmp_path / "missing")) == {}


def test_job_stats_sql_reads_every_scheduled_job():
    assert "timescaledb_information.job_stats" in vsc.JOB_STATS_SQL
    assert "last_run_status" in vsc.JOB_STATS_SQL and "WHERE j.scheduled" in vsc.JOB_STATS_SQL


# ------------------------------------------------------------------ backups
def backup(file, age, verified=True):
    return {"file": file, "kind": "scheduled", "created_at": "x", "age_seconds": age, "size_bytes": 10,
            "verified": {"result": "ok", "level": "fingerprints", "at": "y"} if verified else None}


def test_backup_judgement():
    fresh = {"newest": backup("b2.dump", 600), "newest_verified": backup("b2.dump", 600), "last_attempt": None}
    assert vsc.backup_judgement(fresh, 26) == ("pass", "10 min", "b2.dump (scheduled, fingerprints)")
    old = {"newest": backup("b3.dump", 3600, verified=False), "newest_verified": backup("b1.dump", 3 * 86400)}
    status, value, detail = vsc.backup_judgement(old, 26)
    assert status == "fail" and value == "3.0 d" and "newest backup b3.dump (1.0 h), not verified" in detail
    assert vsc.backup_judgement({"newest": None, "newest_verified": None}, 26)[:2] == ("fail", "none verified")
    assert vsc.backup_judgement(None, 26)[0] == "fail"
    assert vsc.backup_judgement(None, 0)[0] == "n/a"


# ------------------------------------------------------------------ SQL of the Community paths
def test_sample_compression_counts_only_the_samples_chunks():
    sql = vsc.SAMPLE_COMPRESSION_SQL
    assert "chunk_compression_stats(%s)" in sql
    assert "format('%%I.%%I', chunk_schema, chunk_name) = ANY(%s)" in sql
    assert "compression_status = 'Compressed'" in sql


def test_sequence_restore_only_when_nobody_else_used_it():
    sql = vsc.RESTORE_SEQUENCE_SQL
    assert "pg_sequence_last_value(%(seq)s::regclass) IS NOT DISTINCT FROM %(ended)s::bigint" in sql
    assert "setval(%(seq)s::regclass, %(before)s::bigint, true)" in sql
    assert "seqmin" in sql and "false)" in sql


class FakeCursor:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def execute(self, sql, args=None):
        self.calls.append(args)

    def fetchone(self):
        return (self.answers[self.calls[-1]["seq"]],)


class FakeConn:
    def __init__(self, cur):
        self.cur, self.committed = cur, False

    def cursor(self, **kwargs):
        return self.cur

    def commit(self):
        self.committed = True


def test_restore_sequences_reports_restored_and_left(monkeypatch):
    cur = FakeCursor({"s.a": True, "s.b": False})
    conn = FakeConn(cur)
    monkeypatch.setattr(vsc, "cursor", lambda c: c.cursor())
    restored, left = vsc.restore_sequences(conn, {"s.a": 5, "s.b": None, "s.c": 7}, {"s.a": 25, "s.b": 3, "s.c": 7})
    assert (restored, left) == (["s.a"], ["s.b"]) and conn.committed
    assert [c["seq"] for c in cur.calls] == ["s.a", "s.b"]


def test_rollup_sizes_sql_handles_caggs_hypertables_and_tables():
    sql = vsc.ROLLUP_SIZES_SQL % "ms5_rollups.catalog"
    assert "timescaledb_information.continuous_aggregates" in sql and "materialization_hypertable_name" in sql
    assert "hypertable_size(to_regclass(r.relation))" in sql and "pg_total_relation_size" in sql
    assert "FROM ms5_rollups.catalog AS r" in sql


def test_values_list_placeholders():
    sql, args = ms5_postgres.values_list([(1, "a", 2.0), (2, "b", 3.0)], 3)
    assert sql == "(%s, %s, %s), (%s, %s, %s)" and args == [1, "a", 2.0, 2, "b", 3.0]
    with pytest.raises(ValueError):
        ms5_postgres.values_list([(1,)], 3)


def test_human_age():
    assert vsc.human_age(59) == "0 min" and vsc.human_age(7200) == "2.0 h" and vsc.human_age(3 * 86400) == "3.0 d"


class FakeModule:
    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.params = {"login_db": "factory_telemetry", "login_host": "127.0.0.1", "login_unix_socket": "",
                       "login_port": 5499, "login_user": "ms5_owner", "login_password": "secret"}

    def fail_json(self, **kwargs):
        raise SystemExit(kwargs["msg"])


@pytest.mark.parametrize(("check_mode", "error", "outcome"), [
    (True, 'connection to server at "127.0.0.1", port 5499 failed: Connection refused', None),
    (False, 'connection to server at "127.0.0.1", port 5499 failed: Connection refused', "fail"),
    (True, 'FATAL:  password authentication failed for user "ms5_owner"', "fail"),
])
def test_connect_in_check_mode_tolerates_only_an_absent_server(monkeypatch, check_mode, error, outcome):
    monkeypatch.setattr(ms5_postgres, "ensure_required_libs", lambda module: None)
    monkeypatch.setattr(ms5_postgres, "get_conn_params", lambda module, params: {})
    monkeypatch.setattr(ms5_postgres, "connect_to_db", lambda module, params, autocommit, fail_on_conn: (None, error))
    module = FakeModule(check_mode)
    if outcome is None:
        assert ms5_postgres.connect(module, "t", none_if_absent_in_check_mode=True) is None
    else:
        with pytest.raises(SystemExit) as exc:
            ms5_postgres.connect(module, "t", none_if_absent_in_check_mode=True)
        assert "cannot connect to database factory_telemetry at 127.0.0.1:5499 as ms5_owner" in str(exc.value)
        assert "secret" not in str(exc.value)
