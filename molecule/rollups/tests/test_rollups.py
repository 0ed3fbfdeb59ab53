"""Verify the rollups role on the CI image (TimescaleDB Apache edition).

State at verify time (side_effect ends there): the role's defaults over three days of
sample telemetry (molecule/rollups/files/sample_telemetry.sql). Every trend is compared
with the same aggregation computed from the raw rows; late rows are picked up by the
host refresher, run directly and through systemd.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

PROGRAM = "/usr/local/sbin/ms5-rollups"
CONFIG = "/etc/ms5/rollups.conf"
STATUS = "/var/lib/ms5/status/rollups.json"
QUERIES = Path(__file__).resolve().parents[3] / "roles" / "verify" / "files" / "dashboard_queries.sql"

ROLLUPS = {
    "ms5_rollups.metric_hist_1m": ("factory_telemetry.metric_hist", "00:01:00", 0, "365 days"),
    "ms5_rollups.metric_hist_1h": ("ms5_rollups.metric_hist_1m", "01:00:00", 1, "1826 days"),
    "ms5_rollups.energy_line_1h": ("factory_telemetry.energy_consumption", "01:00:00", 0, "1826 days"),
    "ms5_rollups.oee_line_1h": ("factory_telemetry.oee_calculations", "01:00:00", 0, "1826 days"),
}

METRIC_RAW = ("avg(value_real) AS avg_value, min(value_real) AS min_value, max(value_real) AS max_value, "
              "count(value_real) AS samples, last(value_real, ts) AS last_value")
METRIC_COLS = ("avg_value", "min_value", "max_value", "samples", "last_value")
ENERGY_RAW = ("sum(energy_kwh) AS energy_kwh, avg(power_kw) AS avg_power_kw, max(power_kw) AS max_power_kw, "
              "count(power_kw) AS power_samples, count(*) AS readings")
ENERGY_COLS = ("energy_kwh", "avg_power_kw", "max_power_kw", "power_samples", "readings")
OEE_RAW = ("avg(availability) AS avg_availability, avg(performance) AS avg_performance, avg(quality) AS avg_quality, "
           "avg(oee) AS avg_oee, sum(total_parts) AS total_parts, sum(good_parts) AS good_parts, "
           "sum(run_time) AS run_seconds")
OEE_COLS = ("avg_availability", "avg_performance", "avg_quality", "avg_oee", "total_parts", "good_parts",
            "run_seconds")


def metric_id(sql, key: str) -> int:
    return int(sql(f"SELECT id FROM factory_telemetry.metric_def WHERE metric_key = '{key}'")[0][0])


def line_id(sql, code: str) -> str:
    return sql(f"SELECT id FROM factory_telemetry.production_lines WHERE line_code = '{code}'")[0][0]


def trend_vs_raw(sql, trend: str, key_sql: str, raw_table: str, time_col: str, key_col: str, raw_aggs: str,
                 cols: tuple[str, ...], window: str, width: str | None, expect_width: str) -> tuple[int, int, str]:
    """(buckets that differ, buckets compared, sources used) of a trend function against the raw rows.

    The trend is called with WIDTH (None: let it choose, which must be EXPECT_WIDTH); the
    raw side applies the documented semantics: every bucket overlapping
    [now() - window, now()), whole, aggregated from the raw rows.
    """
    arg = f"interval '{width}'" if width else "NULL"
    cmp = " OR ".join(
        f"NOT ((t.{c} IS NULL AND r.{c} IS NULL) OR abs(t.{c}::numeric - r.{c}::numeric) "
        f"<= 1e-9 * greatest(1, abs(r.{c}::numeric)))" for c in cols)
    query = f"""
    WITH b AS MATERIALIZED (SELECT interval '{expect_width}' AS width, now() - interval '{window}' AS lo, now() AS hi),
    t AS MATERIALIZED (SELECT tr.* FROM b, ms5_rollups.{trend}(({key_sql}), b.lo, b.hi, {arg}) AS tr),
    r AS (SELECT time_bucket(b.width, s.{time_col}) AS bucket, {raw_aggs}
          FROM {raw_table} AS s, b
          WHERE s.{key_col} = ({key_sql})
            AND s.{time_col} >= time_bucket(b.width, b.lo)
            AND s.{time_col} < time_bucket(b.width, b.hi - interval '1 microsecond') + b.width
          GROUP BY 1)
    SELECT count(*) FILTER (WHERE t.bucket IS NULL OR r.bucket IS NULL OR {cmp}),
           count(*), (SELECT string_agg(DISTINCT source, ',') FROM t)
    FROM t FULL JOIN r ON r.bucket = t.bucket
    """
    diff, total, sources = sql(query)[0]
    return int(diff), int(total), sources


# ----------------------------------------------------------------- structure
def test_catalog_lists_every_rollup(sql):
    rows = sql("SELECT relation, source_table, bucket, level, retention, kind, edition, storage_relation, "
               "materialize_function, trend_function FROM ms5_rollups.catalog ORDER BY relation")
    found = {r[0]: r for r in rows}
    assert set(found) == set(ROLLUPS)
    for rel, (source, bucket, level, retention) in ROLLUPS.items():
        row = found[rel]
        assert row[1] == source and row[2] == bucket and int(row[3]) == level and row[4] == retention, row
        assert row[5] == "table" and row[6] == "apache", row
        assert row[7] == "ms5_rollups._mat_" + rel.split(".")[1]
        assert row[8] == "ms5_rollups._materialize_" + rel.split(".")[1]


def test_rollups_are_views_over_hypertables(sql):
    views = {r[0] for r in sql("SELECT viewname FROM pg_views WHERE schemaname = 'ms5_rollups'")}
    assert {rel.split(".")[1] for rel in ROLLUPS} <= views
    hyper = {r[0] for r in sql("SELECT hypertable_name FROM timescaledb_information.hypertables "
                               "WHERE hypertable_schema = 'ms5_rollups'")}
    assert hyper == {"_mat_" + rel.split(".")[1] for rel in ROLLUPS}
    # the same columns as the Community edition's continuous aggregates: group by, bucket, aggregates
    cols = [r[0] for r in sql("SELECT attname FROM pg_attribute WHERE attrelid = 'ms5_rollups.metric_hist_1m'::regclass "
                              "AND attnum > 0 ORDER BY attnum")]
    assert cols == ["metric_def_id", "bucket", "avg_value", "min_value", "max_value", "samples", "last_value"]
    owners = {r[0] for r in sql("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                                "WHERE relnamespace = 'ms5_rollups'::regnamespace")}
    assert owners == {"ms5_owner"}


def test_status_view_reports_watermark_and_size(sql):
    rows = {r[0]: r for r in sql("SELECT relation, watermark IS NOT NULL, total_bytes, approximate_rows, "
                                 "behind < interval '2 hours', last_refresh_status FROM ms5_rollups.status")}
    assert set(rows) == set(ROLLUPS)
    for rel, row in rows.items():
        assert row[1] == "t", f"{rel} has no watermark: {row}"
        assert int(row[2]) > 0 and int(row[3]) > 0, row
        assert row[4] == "t", f"{rel} is behind by more than 2 hours: {row}"


def test_privileges(sql):
    # the application role reads the rollups but cannot write them
    denied = sql("DO $$ BEGIN SET LOCAL ROLE ms5_app; "
                 "BEGIN INSERT INTO ms5_rollups._mat_metric_hist_1m (metric_def_id, bucket) VALUES (1, now()); "
                 "RAISE EXCEPTION 'insert allowed'; EXCEPTION WHEN insufficient_privilege THEN NULL; END; "
                 "BEGIN DELETE FROM ms5_rollups.catalog; RAISE EXCEPTION 'delete allowed'; "
                 "EXCEPTION WHEN insufficient_privilege THEN NULL; END; END $$; SELECT 'ok'")
    assert denied[-1] == ["ok"]
    speed = metric_id(sql, "speed")
    rows = sql(f"SET ROLE ms5_reporting; SELECT count(*) FROM ms5_rollups.metric_trend({speed}, "
               "now() - interval '1 day', now())")
    assert int(rows[-1][0]) >= 1400


# ------------------------------------------------------ trends equal raw computation
@pytest.mark.parametrize("key,window,width,expect,source", [
    ("speed", "24 hours", None, "1 minute", "ms5_rollups.metric_hist_1m"),
    ("good_count", "24 hours", None, "1 minute", "ms5_rollups.metric_hist_1m"),   # INT metric: value_real NULL
    ("temperature", "3 days", None, "1 hour", "ms5_rollups.metric_hist_1h"),
    ("speed", "30 days", None, "1 hour", "ms5_rollups.metric_hist_1h"),
    ("speed", "1 day", "15 minutes", "15 minutes", "ms5_rollups.metric_hist_1m"),
    ("speed", "2 days", "6 hours", "6 hours", "ms5_rollups.metric_hist_1h"),
    ("speed", "2 hours", "10 seconds", "10 seconds", "factory_telemetry.metric_hist"),
])
def test_metric_trend_equals_raw(sql, key, window, width, expect, source):
    key_sql = f"SELECT id FROM factory_telemetry.metric_def WHERE metric_key = '{key}'"
    diff, total, sources = trend_vs_raw(sql, "metric_trend", key_sql, "factory_telemetry.metric_hist", "ts",
                                        "metric_def_id", METRIC_RAW, METRIC_COLS, window, width, expect)
    assert sources == source
    assert total > 1 and diff == 0, f"{diff} of {total} buckets differ from the raw computation"


def test_metric_trend_for_several_metrics_equals_raw(sql):
    """The array overload (an equipment screen in one call) returns every metric's buckets."""
    cmp = " OR ".join(f"NOT ((t.{c} IS NULL AND r.{c} IS NULL) OR abs(t.{c}::numeric - r.{c}::numeric) "
                      f"<= 1e-9 * greatest(1, abs(r.{c}::numeric)))" for c in METRIC_COLS)
    rows = sql(f"""
    WITH ids AS (SELECT array_agg(id) AS a FROM factory_telemetry.metric_def WHERE equipment_code = 'RLP-EQ1'),
    t AS MATERIALIZED (SELECT tr.* FROM ids, ms5_rollups.metric_trend(ids.a, now() - interval '1 day', now(),
                                                                       interval '15 minutes') AS tr),
    r AS (SELECT metric_def_id, time_bucket(interval '15 minutes', ts) AS bucket, {METRIC_RAW}
          FROM factory_telemetry.metric_hist, ids WHERE metric_def_id = ANY (ids.a)
            AND ts >= time_bucket(interval '15 minutes', now() - interval '1 day')
            AND ts < time_bucket(interval '15 minutes', now() - interval '1 microsecond') + interval '15 minutes'
          GROUP BY 1, 2)
    SELECT count(*) FILTER (WHERE t.bucket IS NULL OR r.bucket IS NULL OR {cmp}), count(*),
           (SELECT count(DISTINCT metric_def_id) FROM t)
    FROM t FULL JOIN r ON r.bucket = t.bucket AND r.metric_def_id = t.metric_def_id""")
    diff, total, metrics = map(int, rows[0])
    assert metrics == 3 and total > 90 * 3 and diff == 0, rows


@pytest.mark.parametrize("trend,raw,time_col,aggs,cols,width", [
    ("energy_trend", "factory_telemetry.energy_consumption", "consumption_time", ENERGY_RAW, ENERGY_COLS, None),
    ("energy_trend", "factory_telemetry.energy_consumption", "consumption_time", ENERGY_RAW, ENERGY_COLS, "3 hours"),
    ("oee_trend", "factory_telemetry.oee_calculations", "calculation_time", OEE_RAW, OEE_COLS, None),
    ("oee_trend", "factory_telemetry.oee_calculations", "calculation_time", OEE_RAW, OEE_COLS, "1 day"),
])
def test_line_trends_equal_raw(sql, trend, raw, time_col, aggs, cols, width):
    key_sql = "SELECT id FROM factory_telemetry.production_lines WHERE line_code = 'RLP-L1'"
    diff, total, sources = trend_vs_raw(sql, trend, key_sql, raw, time_col, "line_id", aggs, cols, "2 days", width,
                                        width or "1 hour")
    assert sources.startswith("ms5_rollups.")
    assert total > 1 and diff == 0, f"{diff} of {total} buckets differ from the raw computation"


# --------------------------------------------------------- the host refresher
@pytest.fixture()
def timer_stopped(host):
    """Keep the timer from running the refresher while a test drives it by hand."""
    host.run("systemctl stop ms5-rollups.timer")
    yield
    assert host.run("systemctl start ms5-rollups.timer").rc == 0


def run_refresher(host, *args: str):
    cmd = " ".join([PROGRAM, *map(shlex.quote, args)])
    result = host.run(cmd)
    assert result.rc == 0, f"{cmd} failed ({result.rc}):\n{result.stdout}\n{result.stderr}"
    return result


def test_late_and_out_of_order_rows_are_picked_up(host, sql, timer_stopped):
    speed = metric_id(sql, "speed")
    run_refresher(host, "--force")
    wm = sql("SELECT watermark FROM ms5_rollups.catalog WHERE relation = 'ms5_rollups.metric_hist_1m'")[0][0]
    # three rows arrive late, newest first: two inside the 15 minute lag, one three hours old
    # (random values: a repeated run of this test changes them again)
    sql(f"""INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) VALUES
        ({speed}, time_bucket('1 minute', '{wm}'::timestamptz) - interval '3 minutes' + interval '2.5 seconds',
         1000 + random()),
        ({speed}, time_bucket('1 minute', '{wm}'::timestamptz) - interval '12 minutes' + interval '2.5 seconds',
         1500 + random()),
        ({speed}, date_trunc('hour', '{wm}'::timestamptz) - interval '3 hours' + interval '1.5 seconds',
         2000 + random())
        ON CONFLICT (metric_def_id, ts) DO UPDATE SET value_real = EXCLUDED.value_real""")
    key_sql = f"SELECT {speed}"

    def diffs(window, width):
        return trend_vs_raw(sql, "metric_trend", key_sql, "factory_telemetry.metric_hist", "ts", "metric_def_id",
                            METRIC_RAW, METRIC_COLS, window, width, width or "1 hour")

    # the materialized minutes do not have them yet
    assert diffs("1 hour", "1 minute")[0] == 2
    out = run_refresher(host, "--force").stdout
    assert "ms5_rollups.metric_hist_1m: refreshed" in out
    assert diffs("1 hour", "1 minute")[0] == 0
    assert diffs("1 day", "1 hour")[0] == 1, "only the row older than the lag is still missing"
    assert diffs("6 hours", "1 minute")[0] == 1
    # repair: rewrite a window by hand (the watermark stays)
    out = run_refresher(host, "--from", "2000-01-01T00:00:00Z", "--to", wm).stdout
    assert "ms5_rollups.metric_hist_1m: refreshed" in out and "ms5_rollups.metric_hist_1h: refreshed" in out
    assert diffs("6 hours", "1 minute")[0] == 0
    assert diffs("1 day", "1 hour")[0] == 0
    assert diffs("3 days", None)[0] == 0
    assert sql("SELECT watermark FROM ms5_rollups.catalog WHERE relation = 'ms5_rollups.metric_hist_1m'")[0][0] == wm


def test_refresher_only_recomputes_what_can_change(host, sql, timer_stopped):
    run_refresher(host, "--force")
    out = run_refresher(host, "--force", "--rollup", "ms5_rollups.metric_hist_1m").stdout
    match = re.search(r"metric_hist_1m: refreshed \[(\S+), (\S+)\) (\d+) rows", out)
    assert match, out
    span = sql(f"SELECT extract(epoch FROM '{match.group(2)}'::timestamptz - '{match.group(1)}'::timestamptz)")
    # lag (15 minutes) plus what passed since the previous run: never the whole history
    assert float(span[0][0]) <= 20 * 60, out
    assert int(match.group(3)) <= 3 * 20, out
    # not due without --force
    assert "not due" in run_refresher(host).stdout


def test_retention_drops_old_rollup_chunks(host, sql, timer_stopped):
    sql("INSERT INTO ms5_rollups._mat_metric_hist_1m (metric_def_id, bucket, samples) "
        "VALUES (1, now() - interval '400 days', 1)")
    out = run_refresher(host, "--force", "--rollup", "ms5_rollups.metric_hist_1m").stdout
    assert "dropped 1 chunk(s) past retention" in out
    assert sql("SELECT count(*) FROM ms5_rollups._mat_metric_hist_1m WHERE bucket < now() - interval '365 days'") \
        == [["0"]]


def test_refresher_runs_under_systemd_and_writes_its_status(host):
    run = host.run("systemctl start ms5-rollups.service")
    assert run.rc == 0, run.stderr
    result = host.run("systemctl show -p Result -p ExecMainStatus ms5-rollups.service").stdout
    assert "Result=success" in result and "ExecMainStatus=0" in result
    journal = host.run("journalctl -u ms5-rollups.service --no-pager -n 30").stdout
    assert "ms5_rollups.metric_hist_1m:" in journal
    status = host.file(STATUS)
    assert status.user == "root" and status.mode == 0o644
    data = json.loads(status.content_string)
    assert data["job"] == "rollups" and data["program"] == PROGRAM
    assert data["ok"] is True and data["exit_code"] == 0 and data["consecutive_failures"] == 0
    assert data["last_success_at"] == data["finished_at"]
    assert {i["relation"] for i in data["details"]["rollups"]} == set(ROLLUPS)
    assert "password" not in status.content_string.lower()


def test_refresher_failure_is_recorded(host):
    host.run("mkdir -p /tmp/ms5r-status && rm -f /tmp/ms5r-status/rollups.json && printf "
             "'container=no-such-container\\ndatabase=factory_telemetry\\nuser=ms5_owner\\n"
             "status_dir=/tmp/ms5r-status\\n' > /tmp/ms5r-bad.conf")
    first = host.run(f"{PROGRAM} --config /tmp/ms5r-bad.conf --force")
    second = host.run(f"{PROGRAM} --config /tmp/ms5r-bad.conf --force")
    assert first.rc == 1 and second.rc == 1
    assert "psql failed" in second.stderr
    data = json.loads(host.file("/tmp/ms5r-status/rollups.json").content_string)
    assert data["ok"] is False and data["exit_code"] == 1 and data["consecutive_failures"] == 2
    assert data["last_success_at"] is None


def test_refresher_rejects_bad_config_and_arguments(host):
    host.run("printf 'container=ms5-timescaledb\\ndatabase=factory_telemetry\\nuser=ms5_owner\\n"
             "tables=x\\n' > /tmp/ms5r-unknown.conf")
    run = host.run(f"{PROGRAM} --config /tmp/ms5r-unknown.conf")
    assert run.rc == 2 and "/tmp/ms5r-unknown.conf:4" in run.stderr and "unknown key" in run.stderr
    bad = host.run(f"{PROGRAM} --rollup 'x; DROP TABLE y'")
    assert bad.rc == 2 and "not a rollup relation" in bad.stderr
    window = host.run(f"{PROGRAM} --from 2026-01-02 --to 2026-01-01")
    assert window.rc == 2 and "--from must be before --to" in window.stderr


def test_refresher_timer_enabled(host):
    timer = host.service("ms5-rollups.timer")
    assert timer.is_enabled and timer.is_running
    unit = host.file("/etc/systemd/system/ms5-rollups.service").content_string
    assert f"ExecStart={PROGRAM} --config {CONFIG}" in unit
    conf = host.file(CONFIG)
    assert conf.user == "root" and conf.mode == 0o640
    assert "user=ms5_owner" in conf.content_string and "container=ms5-timescaledb" in conf.content_string
    assert "OnCalendar=*-*-* *:00/5:00" in host.run("systemctl show -p TimersCalendar ms5-rollups.timer").stdout


# ------------------------------------------------------------- dashboards
def test_verify_dashboard_queries_run_on_the_rollups(sql):
    """The typical dashboard queries verify.yml times run here and read the rollups."""
    text = QUERIES.read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"^-- name: .*$", text, flags=re.M)[1:]]
    assert len(blocks) >= 6
    setup = ("CREATE TEMPORARY TABLE ms5_verify_metric AS SELECT id FROM factory_telemetry.metric_def "
             "WHERE equipment_code = 'RLP-EQ1'; ")
    for block in blocks:
        query = (block.replace("%%", "%").replace("%(since)s", "(now() - interval '2 hours')").replace("%(until)s", "now()")
                 .replace("'MS5-VERIFY-EQ'", "'RLP-EQ1'").replace("'MS5-VERIFY-LINE'", "'RLP-L1'"))
        rows = sql(setup + query)
        assert rows is not None
    assert "ms5_rollups." in text


def test_rollups_survive_backup_and_restore(host, sql):
    """pg_dump / pg_restore with timescaledb_pre_restore/post_restore, as the backup role does."""
    ex = "docker exec ms5-timescaledb"
    cmds = [
        f"{ex} pg_dump -U postgres -Fc -d factory_telemetry -f /tmp/ms5r.dump",
        f"{ex} psql -X -q -U postgres -d postgres -c 'DROP DATABASE IF EXISTS ms5r_restore'",
        f"{ex} psql -X -q -U postgres -d postgres -c 'CREATE DATABASE ms5r_restore OWNER ms5_owner'",
        f"{ex} psql -X -q -U postgres -d ms5r_restore -c 'CREATE EXTENSION timescaledb' "
        "-c 'SELECT timescaledb_pre_restore()'",
        f"{ex} pg_restore -U postgres -d ms5r_restore /tmp/ms5r.dump",
        f"{ex} psql -X -q -U postgres -d ms5r_restore -c 'SELECT timescaledb_post_restore()'",
    ]
    try:
        for cmd in cmds:
            res = host.run(cmd)
            assert res.rc == 0, f"{cmd}:\n{res.stderr}"
        speed = metric_id(sql, "speed")
        trend = (f"SELECT md5(string_agg(t::text, ',' ORDER BY t.bucket)) FROM ms5_rollups.metric_trend({speed}, "
                 "now() - interval '3 days', now() - interval '1 hour') AS t")
        catalog = "SELECT string_agg(concat_ws(':', relation, definition_hash, watermark), ',' ORDER BY relation) " \
                  "FROM ms5_rollups.catalog"
        assert sql(trend, database="ms5r_restore") == sql(trend)
        assert sql(catalog, database="ms5r_restore") == sql(catalog)
        refreshed = sql("CALL ms5_rollups.refresh(NULL, true)", database="ms5r_restore")[0][0]
        assert all(i["status"] != "failed" for i in json.loads(refreshed)), refreshed
    finally:
        host.run(f"{ex} psql -X -q -U postgres -d postgres -c 'DROP DATABASE IF EXISTS ms5r_restore'")
        host.run(f"{ex} rm -f /tmp/ms5r.dump")


def test_check_mode_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", 0) == 0 and recap.get("failed", 0) == 0, output[-3000:]
