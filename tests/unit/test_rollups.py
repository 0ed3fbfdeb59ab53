"""Unit tests of plugins/module_utils/rollups.py: declarations, both editions' SQL, the plan.

The Community edition (continuous aggregates, their policies, compression and
hierarchical aggregates) cannot run on the CI image: its SQL is checked here, and
parsed by a real PostgreSQL in tests/integration/test_rollups_sql.py.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ms5_rollups_utils", ROOT / "plugins/module_utils/rollups.py")
R = importlib.util.module_from_spec(_spec)
sys.modules["ms5_rollups_utils"] = R
_spec.loader.exec_module(R)
DEFAULTS = yaml.safe_load((ROOT / "roles/rollups/defaults/main.yml").read_text())
BASE_SQL = (ROOT / "roles/rollups/files/sql/rollups_base.sql").read_text()

COLUMNS = {
    "factory_telemetry.metric_hist": {"metric_def_id": "bigint", "ts": "timestamp with time zone",
                                      "value_bool": "boolean", "value_int": "bigint",
                                      "value_real": "double precision", "value_text": "text", "value_json": "jsonb"},
    "factory_telemetry.energy_consumption": {"id": "bigint", "equipment_code": "text", "line_id": "uuid",
                                             "consumption_time": "timestamp with time zone",
                                             "power_kw": "numeric(12,3)", "energy_kwh": "numeric(14,4)"},
    "factory_telemetry.oee_calculations": {"line_id": "uuid", "calculation_time": "timestamp with time zone",
                                           "availability": "numeric(6,4)", "performance": "numeric(6,4)",
                                           "quality": "numeric(6,4)", "oee": "numeric(6,4)",
                                           "planned_production_time": "integer", "run_time": "integer",
                                           "total_parts": "integer", "good_parts": "integer"},
}

APACHE = R.choose_api("apache", "2.19.3", {"by_range": ["public"], "add_columnstore_policy": ["public"],
                                            "cagg_watermark": ["_timescaledb_functions"]})
COMMUNITY = R.choose_api("timescale", "2.29.2", {"by_range": ["public"], "add_columnstore_policy": ["public"],
                                                 "cagg_watermark": ["_timescaledb_functions"]})
COMMUNITY_OLD = R.choose_api("timescale", "2.11.2", {"by_range": ["public"], "cagg_watermark": ["_timescaledb_internal"]})
COMMUNITY_ANCIENT = R.choose_api("timescale", "2.8.1", {"cagg_watermark": ["_timescaledb_internal"]})


def defs():
    return copy.deepcopy(DEFAULTS["rollups_definitions"])


def by_name(items, name):
    return next(i for i in items if i["name"] == name)


def typed_defaults(raw_retention=None):
    rolls = R.normalize_all(defs(), raw_retention or {"factory_telemetry.metric_hist": "90 days"})
    return [R.typed(r, COLUMNS[r["raw_table"]]) for r in rolls]


def errors_of(entries, raw=None):
    return " | ".join(R.validation_errors(entries, raw or {}))


# ----------------------------------------------------------------------- intervals
@pytest.mark.parametrize("text,canonical,seconds", [
    ("1 minute", "1 minute", 60), ("15 minutes", "15 minutes", 900), ("1h", "1 hour", 3600),
    ("1 day 12 hours", "1 day 12 hours", 129600), ("2 weeks", "2 weeks", 1209600),
])
def test_parse_interval(text, canonical, seconds):
    assert R.parse_interval(text) == {"text": canonical, "seconds": seconds}


@pytest.mark.parametrize("text,message", [
    ("", "must be an interval"), ("1 fortnight", "unknown unit"), ("0 minutes", "longer than zero"),
    ("1 month", "length varies"), ("soon", "is not an interval"), (None, "must be an interval"),
])
def test_parse_interval_refuses(text, message):
    with pytest.raises(R.RollupError, match=message):
        R.parse_interval(text)


def test_retention_allows_calendar_units():
    assert R.parse_interval("5 years", allow_calendar=True)["seconds"] == 5 * 31557600


def test_format_seconds():
    assert R.format_seconds(60) == "1 minute"
    assert R.format_seconds(3 * 3600) == "3 hours"
    assert R.format_seconds(86400 * 7) == "7 days"
    assert R.format_seconds(None) is None


def test_refresh_offsets_cover_lag_and_two_buckets():
    # 1-minute buckets, 15 minutes lag, every 5 minutes: the open bucket is real-time, the
    # window reaches back lag + interval in whole buckets
    assert R.refresh_offsets(60, 900, 300) == (21 * 60, 60)
    # hourly, refreshed hourly: at least two buckets, lag + interval rounded up to hours
    assert R.refresh_offsets(3600, 900, 3600) == (3 * 3600, 3600)
    start, end = R.refresh_offsets(86400, 900, 3600)
    assert end == 86400 and start - end == 2 * 86400


# ------------------------------------------------------------------- declarations
def test_the_defaults_are_valid_and_ordered_by_hierarchy():
    assert R.validation_errors(defs(), {"factory_telemetry.metric_hist": "90 days",
                                        "factory_telemetry.energy_consumption": "365 days",
                                        "factory_telemetry.oee_calculations": "365 days"}) == []
    rolls = R.normalize_all(defs())
    names = [r["name"] for r in rolls]
    assert names.index("metric_hist_1m") < names.index("metric_hist_1h")
    hourly = by_name(rolls, "metric_hist_1h")
    assert hourly["level"] == 1 and hourly["raw_table"] == "factory_telemetry.metric_hist"
    assert hourly["time_column"] == "bucket" and hourly["raw_time_column"] == "ts"
    # history kept past raw retention (90 days) for a year (1-minute) and five years (hourly)
    assert by_name(rolls, "metric_hist_1m")["retention"]["seconds"] == 365 * 86400
    assert hourly["retention"]["seconds"] >= 5 * 365 * 86400


@pytest.mark.parametrize("change,message", [
    ({"buckets": "1 minute"}, "unknown keys ['buckets']"),
    ({"name": "Metric"}, "name 'Metric' must be a lower-case identifier"),
    ({"name": "catalog"}, "reserved"),
    ({"source": None}, "source is required"),
    ({"source": "metric_hist_9m", "time_column": None}, "source metric_hist_9m is not declared in rollups_definitions"),
    ({"source": "a.b.c"}, "schema-qualified"),
    ({"time_column": None}, "time_column None must be the source's time column"),
    ({"source": "metric_hist_1h"}, "time_column must be left out when the source is another rollup"),
    ({"bucket": "7 minutes"}, "must divide a day"),
    ({"bucket": "1 month"}, "length varies"),
    ({"group_by": ["bucket"]}, "other than bucket"),
    ({"aggregates": []}, "non-empty list"),
    ({"aggregates": [{"name": "x", "fn": "median", "column": "value_real"}]}, "fn 'median' is not one of"),
    ({"aggregates": [{"name": "x", "fn": "avg"}]}, "avg needs a column"),
    ({"aggregates": [{"name": "x", "fn": "count"}, {"name": "x", "fn": "max", "column": "ts"}]}, "used twice"),
    ({"aggregates": [{"name": "metric_def_id", "fn": "count"}]}, "clash with group_by"),
    ({"aggregates": [{"name": "a", "fn": "count"}, {"name": "b", "fn": "count"}]}, "declared twice"),
    ({"refresh": {"lag": "15 minutes", "every": "5 minutes"}}, "refresh must be a mapping with lag and interval"),
    ({"refresh": {"interval": "30 seconds"}}, "shorter than 1 minute"),
    ({"compression": {"after": "10 minutes"}}, "must be longer than the refresh window"),
    ({"compression": {"after": "400 days"}}, "retention (365 days) must be longer than compression.after"),
    ({"retention": "5 minutes"}, "retention (5 minutes) must be longer than the refresh window"),
    ({"chunk_time_interval": "30 seconds"}, "shorter than the bucket"),
    ({"trend": "Trend"}, "trend 'Trend' must be a lower-case function name"),
])
def test_bad_declarations_are_named(change, message):
    entries = defs()
    for key, value in change.items():
        if value is None:
            entries[0].pop(key, None)
        else:
            entries[0][key] = value
    text = errors_of(entries)
    assert message in text, text
    assert "rollups_definitions[0]" in text or "ms5_rollups.metric_hist_1m" in text


def test_bucket_must_be_a_multiple_of_the_source_bucket():
    entries = defs()
    entries.append(dict(by_name(entries, "metric_hist_1m"), name="metric_hist_40m", source="metric_hist_1m",
                        bucket="40 minutes", time_column=None, trend=None))
    by_name(entries, "metric_hist_1h")["source"] = "metric_hist_40m"
    text = errors_of(entries)
    assert ("ms5_rollups.metric_hist_1h: bucket 1 hour is not a multiple of the bucket of its source "
            "ms5_rollups.metric_hist_40m (40 minutes)") in text


def test_hierarchy_rules():
    entries = defs()
    hourly = by_name(entries, "metric_hist_1h")
    hourly["group_by"] = ["metric_def_id", "value_int"]
    hourly["aggregates"] = hourly["aggregates"] + [{"name": "total", "fn": "sum", "column": "value_real"}]
    hourly["retention"] = "100 days"
    hourly["refresh"] = {"lag": "5 minutes", "interval": "1 hour"}
    text = errors_of(entries)
    assert "group_by ['value_int'] is not in the group_by of its source ms5_rollups.metric_hist_1m" in text
    assert "aggregate total (sum of value_real) has no counterpart in its source" in text
    assert "retention 100 days is shorter than the retention of its source ms5_rollups.metric_hist_1m (365 days)" in text
    assert "refresh.lag 5 minutes is shorter than the refresh.lag of its source" in text


def test_avg_needs_a_count_in_the_source():
    entries = defs()
    minute = by_name(entries, "metric_hist_1m")
    minute["aggregates"] = [a for a in minute["aggregates"] if a["fn"] != "count"]
    hourly = by_name(entries, "metric_hist_1h")
    hourly["aggregates"] = [a for a in hourly["aggregates"] if a["fn"] != "count"]
    assert "needs count(value_real) in its source" in errors_of(entries)


def test_retention_shorter_than_the_raw_tables():
    entries = defs()
    by_name(entries, "metric_hist_1m")["retention"] = "30 days"
    text = errors_of(entries, {"factory_telemetry.metric_hist": "90 days"})
    assert ("ms5_rollups.metric_hist_1m: retention 30 days is shorter than the retention of its source "
            "factory_telemetry.metric_hist (90 days)") in text
    # a raw table kept for ever does not limit the rollups
    assert "shorter" not in errors_of(entries, {"factory_telemetry.metric_hist": None})


def test_cycles_and_duplicates():
    entries = defs()
    entries.append(dict(by_name(entries, "metric_hist_1h"), name="loop_a", source="loop_b", bucket="2 hours"))
    entries.append(dict(by_name(entries, "metric_hist_1h"), name="loop_b", source="loop_a", bucket="4 hours"))
    assert "in a cycle" in errors_of(entries)
    assert "metric_hist_1m is declared twice" in errors_of(defs() + [defs()[0]])
    assert R.validation_errors("nope") == ["rollups_definitions must be a list"]
    assert R.validation_errors(None) == []


def test_trend_members_must_agree():
    entries = defs()
    by_name(entries, "energy_line_1h")["trend"] = "metric_trend"
    text = errors_of(entries)
    assert "trend metric_trend" in text and "must share the raw table and group_by" in text


def test_retention_from_policies():
    hyper = [{"table": "factory_telemetry.metric_hist", "retention": {"drop_after": "90 days"}},
             {"table": "factory_telemetry.production_kpis"}]
    assert R.retention_from_policies(hyper) == {"factory_telemetry.metric_hist": "90 days",
                                                "factory_telemetry.production_kpis": None}


# ------------------------------------------------------------------------- types
@pytest.mark.parametrize("fn,col,result", [
    ("avg", "double precision", "double precision"), ("avg", "numeric(6,4)", "numeric"), ("avg", "integer", "numeric"),
    ("sum", "integer", "bigint"), ("sum", "bigint", "numeric"), ("sum", "numeric(14,4)", "numeric"),
    ("min", "double precision", "double precision"), ("max", "timestamptz", "timestamp with time zone"),
    ("count", None, "bigint"), ("last", "text", "text"), ("first", "jsonb", "jsonb"),
])
def test_result_types(fn, col, result):
    assert R.result_type(fn, col) == result


@pytest.mark.parametrize("fn,col", [("avg", "text"), ("sum", "boolean"), ("min", "jsonb")])
def test_unsupported_aggregates(fn, col):
    with pytest.raises(R.RollupError, match="not supported"):
        R.result_type(fn, col)


def test_typed_names_unknown_columns():
    rolls = R.normalize_all(defs())
    minute = by_name(rolls, "metric_hist_1m")
    cols = dict(COLUMNS["factory_telemetry.metric_hist"])
    del cols["value_real"]
    with pytest.raises(R.RollupError, match=r"ms5_rollups.metric_hist_1m: aggregate avg_value: column 'value_real' "
                                            r"does not exist in factory_telemetry.metric_hist"):
        R.typed(minute, cols)
    with pytest.raises(R.RollupError, match="group_by column 'metric_def_id' does not exist"):
        R.typed(minute, {"ts": "timestamptz", "value_real": "double precision"})
    bad = dict(minute, aggregates=[{"name": "x", "fn": "avg", "column": "value_text"}])
    with pytest.raises(R.RollupError, match=r"aggregate x \(avg of value_text\): avg\(\) of a text column"):
        R.typed(bad, COLUMNS["factory_telemetry.metric_hist"])


# ------------------------------------------------------------------ server choice
def test_choose_api():
    assert APACHE["kind"] == "table" and not APACHE["hierarchical"]
    assert COMMUNITY["kind"] == "continuous_aggregate" and COMMUNITY["hierarchical"]
    assert COMMUNITY["columnstore"] and COMMUNITY["cagg_compression"]
    assert COMMUNITY_OLD["hierarchical"] and not COMMUNITY_OLD["columnstore"]
    assert COMMUNITY_OLD["watermark_ns"] == "_timescaledb_internal"
    assert not COMMUNITY_ANCIENT["hierarchical"] and COMMUNITY_ANCIENT["cagg_compression"]
    assert not R.choose_api("timescale", "2.5.2", {})["cagg_compression"]


# ------------------------------------------------------------ Community edition SQL
def test_continuous_aggregate_on_the_raw_table():
    rolls = {r["name"]: r for r in typed_defaults()}
    sql = R.sql_cagg_create(rolls["metric_hist_1m"], None, COMMUNITY)
    create = sql[0]
    assert create.startswith('CREATE MATERIALIZED VIEW "ms5_rollups"."metric_hist_1m"\n'
                             "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n")
    assert "time_bucket(INTERVAL '1 minute', s.\"ts\") AS bucket" in create
    assert 'avg(s."value_real") AS "avg_value"' in create
    assert 'count(s."value_real") AS "samples"' in create
    assert 'last(s."value_real", s."ts") AS "last_value"' in create
    assert 'FROM "factory_telemetry"."metric_hist" AS s' in create
    assert create.rstrip().endswith("WITH NO DATA")
    assert 'GROUP BY s."metric_def_id", time_bucket(INTERVAL \'1 minute\', s."ts")' in create
    # no casts in a continuous aggregate's aggregates (the types are TimescaleDB's own)
    assert "::" not in create.split("WITH NO DATA")[0].split("AS\n", 1)[1]


def test_hierarchical_continuous_aggregate_reaggregates_its_source():
    rolls = {r["name"]: r for r in typed_defaults()}
    create = R.sql_cagg_create(rolls["metric_hist_1h"], rolls["metric_hist_1m"], COMMUNITY)[0]
    assert 'FROM "ms5_rollups"."metric_hist_1m" AS s' in create
    assert "time_bucket(INTERVAL '1 hour', s.\"bucket\") AS bucket" in create
    assert ('(sum(s."avg_value" * s."samples") / NULLIF(sum(s."samples"), 0))::double precision AS "avg_value"'
            in create)
    assert '(min(s."min_value"))::double precision AS "min_value"' in create
    assert '(sum(s."samples"))::bigint AS "samples"' in create
    assert '(last(s."last_value", s.bucket))::double precision AS "last_value"' in create


def test_before_2_9_the_hourly_aggregate_reads_the_raw_table():
    rolls = {r["name"]: r for r in typed_defaults()}
    create = R.sql_cagg_create(rolls["metric_hist_1h"], rolls["metric_hist_1m"], COMMUNITY_ANCIENT)[0]
    assert 'FROM "factory_telemetry"."metric_hist" AS s' in create
    assert "time_bucket(INTERVAL '1 hour', s.\"ts\")" in create
    assert 'avg(s."value_real") AS "avg_value"' in create


def test_policies_of_a_new_continuous_aggregate_columnstore_api():
    rolls = {r["name"]: r for r in typed_defaults()}
    stmts = R.sql_cagg_policies(rolls["metric_hist_1m"], {}, COMMUNITY)
    reg = "'ms5_rollups.metric_hist_1m'::regclass"
    assert stmts[0] == ("SELECT add_continuous_aggregate_policy(%s, start_offset => INTERVAL '21 minutes', "
                        "end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes')" % reg)
    assert stmts[1] == ('ALTER MATERIALIZED VIEW "ms5_rollups"."metric_hist_1m" SET (timescaledb.enable_columnstore '
                        "= true, timescaledb.segmentby = 'metric_def_id', timescaledb.orderby = 'bucket DESC')")
    assert stmts[2] == "CALL add_columnstore_policy(%s, after => INTERVAL '7 days')" % reg
    assert stmts[3] == "SELECT add_retention_policy(%s, drop_after => INTERVAL '365 days')" % reg
    assert stmts[4].startswith("SELECT set_chunk_time_interval((SELECT format('%I.%I', "
                               "materialization_hypertable_schema, materialization_hypertable_name) "
                               "FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'ms5_rollups' "
                               "AND view_name = 'metric_hist_1m')::regclass, INTERVAL '7 days')")
    assert len(stmts) == 5


def test_policies_with_the_compression_api():
    rolls = {r["name"]: r for r in typed_defaults()}
    stmts = R.sql_cagg_policies(rolls["metric_hist_1h"], {}, COMMUNITY_OLD)
    reg = "'ms5_rollups.metric_hist_1h'::regclass"
    assert ("SELECT add_continuous_aggregate_policy(%s, start_offset => INTERVAL '3 hours', end_offset => "
            "INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')" % reg) in stmts
    assert 'ALTER MATERIALIZED VIEW "ms5_rollups"."metric_hist_1h" SET (timescaledb.compress = true)' in stmts
    assert "SELECT add_compression_policy(%s, compress_after => INTERVAL '30 days')" % reg in stmts
    assert "SELECT add_retention_policy(%s, drop_after => INTERVAL '1826 days')" % reg in stmts


def test_policies_converge_only_what_differs():
    rolls = {r["name"]: r for r in typed_defaults()}
    minute = rolls["metric_hist_1m"]
    current = {"refresh_job": True, "refresh_start": 1260.0, "refresh_end": 60.0, "refresh_schedule": 300.0,
               "compression_enabled": True, "compression_after": 7 * 86400.0, "retention": 365 * 86400.0,
               "chunk": 7 * 86400.0}
    assert R.sql_cagg_policies(minute, current, COMMUNITY) == []
    reg = "'ms5_rollups.metric_hist_1m'::regclass"
    changed = dict(minute, retention=R.parse_interval("400 days"), compression=None,
                   interval=R.parse_interval("10 minutes"))
    changed["start_offset"], changed["end_offset"] = R.refresh_offsets(60, 900, 600)
    stmts = R.sql_cagg_policies(changed, current, COMMUNITY)
    assert stmts == [
        "SELECT remove_continuous_aggregate_policy(%s, if_exists => true)" % reg,
        "SELECT add_continuous_aggregate_policy(%s, start_offset => INTERVAL '26 minutes', end_offset => "
        "INTERVAL '1 minute', schedule_interval => INTERVAL '10 minutes')" % reg,
        "CALL remove_columnstore_policy(%s, if_exists => true)" % reg,
        "SELECT remove_retention_policy(%s, if_exists => true)" % reg,
        "SELECT add_retention_policy(%s, drop_after => INTERVAL '400 days')" % reg,
    ]
    no_retention = dict(minute, retention=None)
    assert R.sql_cagg_policies(no_retention, current, COMMUNITY) == [
        "SELECT remove_retention_policy(%s, if_exists => true)" % reg]
    assert R.sql_cagg_policies(dict(minute, compression=None), current, COMMUNITY_OLD) == [
        "SELECT remove_compression_policy(%s, if_exists => true)" % reg]


def test_initial_refresh_of_a_continuous_aggregate():
    rolls = {r["name"]: r for r in typed_defaults()}
    assert R.sql_cagg_initial_refresh(rolls["metric_hist_1h"]) == (
        "CALL refresh_continuous_aggregate('ms5_rollups.metric_hist_1h'::regclass, NULL, now() - INTERVAL '1 hour')")


def test_status_view_reads_the_watermark_of_each_edition():
    community = R.sql_status_view(COMMUNITY)[1]
    assert ('"_timescaledb_functions".to_timestamp("_timescaledb_functions".cagg_watermark(ca.mat_hypertable_id))'
            in community)
    assert "LEFT JOIN _timescaledb_catalog.continuous_agg AS ca" in community
    assert "js.last_successful_finish" in community
    old = R.sql_status_view(COMMUNITY_OLD)[1]
    assert '"_timescaledb_internal".cagg_watermark' in old
    apache = R.sql_status_view(APACHE)[1]
    assert "c.watermark AS watermark" in apache and "cagg_watermark" not in apache
    for view in (community, apache):
        assert "hypertable_size(c.storage_relation::regclass) AS total_bytes" in view


def test_catalog_row_of_a_continuous_aggregate_points_at_its_materialization():
    rolls = {r["name"]: r for r in typed_defaults()}
    values = R.catalog_values(rolls["metric_hist_1h"], rolls["metric_hist_1m"], COMMUNITY)
    assert values["kind"] == "continuous_aggregate" and values["source_table"] == "ms5_rollups.metric_hist_1m"
    assert values["materialize_function"] is None and values["compress_after"] == "30 days"
    insert = R.sql_catalog_insert(values)
    assert "FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'ms5_rollups' " \
           "AND view_name = 'metric_hist_1h'" in insert
    flat = R.catalog_values(rolls["metric_hist_1h"], rolls["metric_hist_1m"], COMMUNITY_ANCIENT)
    assert flat["source_table"] == "factory_telemetry.metric_hist" and flat["level"] == 0


# --------------------------------------------------------------- Apache edition SQL
def test_table_kind_objects():
    rolls = {r["name"]: r for r in typed_defaults()}
    stmts = R.sql_table_create(rolls["metric_hist_1m"], None, APACHE)
    assert stmts[0].startswith('CREATE TABLE "ms5_rollups"."_mat_metric_hist_1m" (\n    "metric_def_id" bigint,\n'
                               "    bucket timestamp with time zone NOT NULL,")
    assert stmts[1] == ("SELECT create_hypertable('ms5_rollups._mat_metric_hist_1m'::regclass, "
                        "by_range('bucket', INTERVAL '7 days'))")
    assert stmts[2] == ('CREATE INDEX "_mat_metric_hist_1m_key_idx" ON "ms5_rollups"."_mat_metric_hist_1m" '
                        '("metric_def_id", bucket DESC)')
    view = stmts[3]
    assert view.startswith('CREATE OR REPLACE VIEW "ms5_rollups"."metric_hist_1m" AS\n')
    assert "WHERE m.bucket < \"ms5_rollups\".watermark('ms5_rollups.metric_hist_1m')" in view
    assert "UNION ALL" in view
    assert "WHERE s.\"ts\" >= \"ms5_rollups\".watermark('ms5_rollups.metric_hist_1m')" in view
    function = stmts[4]
    assert "DELETE FROM \"ms5_rollups\".\"_mat_metric_hist_1m\" WHERE bucket >= p_from AND bucket < p_to;" in function
    assert 's."ts" >= p_from AND s."ts" < p_to' in function
    assert stmts[5].startswith('COMMENT ON VIEW "ms5_rollups"."metric_hist_1m" IS ') and "code " in stmts[5]
    hourly = R.sql_table_create(rolls["metric_hist_1h"], rolls["metric_hist_1m"], APACHE)
    # real-time part from the source rollup's view, materialization from its table
    assert 'FROM "ms5_rollups"."metric_hist_1m" AS s\nWHERE s."bucket" >=' in hourly[3]
    assert 'FROM "ms5_rollups"."_mat_metric_hist_1m" AS s' in hourly[4]
    old = R.sql_table_create(rolls["metric_hist_1m"], None, dict(APACHE, by_range=False))
    assert old[1] == ("SELECT create_hypertable('ms5_rollups._mat_metric_hist_1m'::regclass, 'bucket', "
                      "chunk_time_interval => INTERVAL '7 days')")


def test_base_sql_refresh_procedure():
    assert "CREATE OR REPLACE PROCEDURE ms5_rollups.refresh(" in BASE_SQL
    assert "time_bucket(r.bucket, v_own_wm - r.refresh_lag)" in BASE_SQL
    assert "built_from = LEAST(COALESCE(c.built_from, v_lo), v_lo)" in BASE_SQL
    assert "pg_try_advisory_lock(" in BASE_SQL and "pg_advisory_unlock(" in BASE_SQL
    assert "r.bucket * %d" % R.BATCH_BUCKETS in BASE_SQL
    assert "drop_chunks(r.storage_relation::regclass, older_than => r.retention)" in BASE_SQL
    assert "IMMUTABLE" in BASE_SQL.split("FUNCTION ms5_rollups.watermark")[1].split("$$")[0]


# ------------------------------------------------------------------ trend functions
def test_trend_function_picks_the_rollup_that_fits():
    specs = {s["name"]: s for s in R.trend_specs(typed_defaults()) if not s["many"]}
    sql = R.sql_trend_function(specs["metric_trend"], 1500)
    assert sql.startswith('CREATE FUNCTION "ms5_rollups"."metric_trend"(\n    p_metric_def_id bigint,\n')
    assert "p_bucket interval DEFAULT NULL)" in sql
    assert ("RETURNS TABLE (bucket timestamp with time zone, avg_value double precision, min_value double precision, "
            "max_value double precision, samples bigint, last_value double precision, source text)") in sql
    assert "SET plan_cache_mode = force_custom_plan" in sql
    assert ("COALESCE(p_bucket, CASE WHEN p_to - p_from <= INTERVAL '1 minute' * 1500 THEN INTERVAL '1 minute' "
            "ELSE INTERVAL '1 hour' END)") in sql
    order = [m.group(0) for m in re.finditer(r"v_width (=|>) INTERVAL '[^']+'", sql)]
    assert order == ["v_width = INTERVAL '1 hour'", "v_width > INTERVAL '1 hour'",
                     "v_width = INTERVAL '1 minute'", "v_width > INTERVAL '1 minute'"]
    assert 'FROM "factory_telemetry"."metric_hist" AS s' in sql.split("ELSE\n")[-1]
    assert "v_hi := time_bucket(v_width, p_to - INTERVAL '1 microsecond') + v_width;" in sql
    single = R.sql_trend_function(specs["energy_trend"], 1500)
    assert "COALESCE(p_bucket, INTERVAL '1 hour')" in single and "p_line_id uuid" in single
    assert R.trend_signature(specs["oee_trend"]) == \
        "uuid,timestamp with time zone,timestamp with time zone,interval"


def test_trend_overload_for_several_keys():
    specs = [s for s in R.trend_specs(typed_defaults()) if s["name"] == "metric_trend"]
    assert [s["many"] for s in specs] == [False, True]
    many = specs[1]
    assert many["identity"] == ("ms5_rollups.metric_trend(bigint[],timestamp with time zone,"
                                "timestamp with time zone,interval)")
    assert R.trend_label(many) == "ms5_rollups.metric_trend(metric_def_ids[])"
    sql = R.sql_trend_function(many, 1500)
    assert "p_metric_def_ids bigint[]," in sql
    assert "RETURNS TABLE (metric_def_id bigint, bucket timestamp with time zone, avg_value" in sql
    assert 's."metric_def_id" = ANY (p_metric_def_ids) AND s.bucket >= v_lo' in sql
    assert "GROUP BY 1, 2" in sql and "ORDER BY 1, 2;" in sql
    assert 'SELECT s."metric_def_id", s.bucket, s."avg_value"' in sql


# ------------------------------------------------------------------------ the plan
def converged_state(rolls, api, max_points=1500):
    """The state read back from a database the plan has been applied to."""
    by = {r["name"]: r for r in rolls}
    base_text = BASE_SQL + "\n" + "\n".join(R.sql_status_view(api))
    state = {"base_hash": hashlib.sha256(base_text.encode()).hexdigest()[:16], "catalog": {}, "relations": {},
             "code_hashes": {}, "caggs": {}, "tables": {}, "trends": {}, "writers": [],
             "default_writers": ["ms5_app"]}
    for r in rolls:
        src = by.get(r["source_rollup"]) if r["source_rollup"] else None
        values = R.catalog_values(r, src, api)
        row = dict(values)
        for key in ("refresh_lag", "refresh_interval", "retention", "compress_after"):
            row[key] = R.parse_interval(values[key], allow_calendar=True)["seconds"] if values[key] else None
        state["catalog"][r["relation"]] = row
        state["relations"][r["name"]] = "v"
        if api["kind"] == "table":
            state["code_hashes"][r["name"]] = R.code_hash(r, src)
            state["tables"][r["relation"]] = {"chunk": r["chunk"]["seconds"]}
        else:
            start, end = r["start_offset"], r["end_offset"]
            comp = r["compression"]
            state["caggs"][r["relation"]] = {
                "refresh_job": True, "refresh_start": start, "refresh_end": end,
                "refresh_schedule": r["interval"]["seconds"], "compression_enabled": bool(comp),
                "compression_after": comp["after"]["seconds"] if comp else None,
                "retention": r["retention"]["seconds"] if r["retention"] else None, "chunk": r["chunk"]["seconds"]}
    for spec in R.trend_specs(rolls):
        state["trends"][spec["identity"]] = {"hash": R.trend_hash(spec, max_points), "identity": spec["identity"]}
    return state


@pytest.mark.parametrize("api", [APACHE, COMMUNITY, COMMUNITY_OLD], ids=["apache", "community", "community-2.11"])
def test_plan_from_scratch_then_converged(api):
    rolls = typed_defaults()
    empty = {"base_hash": None, "catalog": {}, "relations": {}, "default_writers": ["ms5_app"]}
    first = R.plan(rolls, empty, api, BASE_SQL)
    assert first["errors"] == []
    stmts = "\n".join(first["statements"])
    assert first["statements"][0] == BASE_SQL
    assert first["refresh"] == [r["relation"] for r in rolls]
    assert stmts.count("INSERT INTO ms5_rollups.catalog") == 4
    # three trend functions, each with its array overload
    assert stmts.count("CREATE FUNCTION \"ms5_rollups\".") == 6
    assert first["statements"][-1] == ('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA '
                                       '"ms5_rollups" FROM "ms5_app"')
    if api["kind"] == "table":
        assert stmts.count('CREATE TABLE "ms5_rollups"') == 4 and "MATERIALIZED" not in stmts
        assert any("compression declared for" in w and "apache" in w for w in first["warnings"])
    else:
        assert stmts.count("CREATE MATERIALIZED VIEW") == 4 and "CREATE TABLE \"ms5" not in stmts
        assert stmts.count("add_continuous_aggregate_policy") == 4
        # the hourly aggregate is created after the 1-minute one it reads
        assert stmts.index('"ms5_rollups"."metric_hist_1h"\nWITH') > stmts.index('"ms5_rollups"."metric_hist_1m"\nWITH')
    again = R.plan(rolls, converged_state(rolls, api), api, BASE_SQL)
    assert again["statements"] == [] and again["changes"] == [] and again["errors"] == []


def test_plan_settings_change_in_place():
    rolls = typed_defaults()
    for api in (APACHE, COMMUNITY):
        state = converged_state(rolls, api)
        entries = defs()
        by_name(entries, "metric_hist_1m")["retention"] = "400 days"
        changed = [R.typed(r, COLUMNS[r["raw_table"]]) for r in R.normalize_all(entries)]
        result = R.plan(changed, state, api, BASE_SQL)
        stmts = result["statements"]
        assert ("UPDATE ms5_rollups.catalog SET retention = '400 days'::interval, updated_at = now() "
                "WHERE relation = 'ms5_rollups.metric_hist_1m'") in stmts
        assert not any(s.startswith(("DROP", "CREATE TABLE", "CREATE MATERIALIZED")) for s in stmts)
        assert result["before"]["ms5_rollups.metric_hist_1m"]["retention"] == "365 days"
        assert result["after"]["ms5_rollups.metric_hist_1m"]["retention"] == "400 days"
        if api["kind"] == "continuous_aggregate":
            assert "SELECT add_retention_policy('ms5_rollups.metric_hist_1m'::regclass, drop_after => " \
                   "INTERVAL '400 days')" in stmts


def test_plan_refuses_a_definition_change_without_rebuild_and_cascades_with_it():
    rolls = typed_defaults()
    state = converged_state(rolls, APACHE)
    entries = defs()
    minute = by_name(entries, "metric_hist_1m")
    minute["bucket"] = "2 minutes"
    changed = [R.typed(r, COLUMNS[r["raw_table"]]) for r in R.normalize_all(entries)]
    refused = R.plan(changed, state, APACHE, BASE_SQL)
    assert refused["errors"] and "rollups_allow_rebuild" in refused["errors"][0]
    # the hourly rollup is built on it: rebuilt too
    assert "ms5_rollups.metric_hist_1m, ms5_rollups.metric_hist_1h" in refused["errors"][0]
    allowed = R.plan(changed, state, APACHE, BASE_SQL, allow_rebuild=True)
    stmts = allowed["statements"]
    assert allowed["errors"] == []
    drops = [s for s in stmts if s.startswith("DROP VIEW")]
    assert drops[:2] == ['DROP VIEW IF EXISTS "ms5_rollups"."metric_hist_1h"',
                         'DROP VIEW IF EXISTS "ms5_rollups"."metric_hist_1m"']
    assert allowed["refresh"] == ["ms5_rollups.metric_hist_1m", "ms5_rollups.metric_hist_1h"]
    # the trend function reading them is replaced after they are created again
    assert stmts.index(next(s for s in stmts if s.startswith('CREATE FUNCTION "ms5_rollups"."metric_trend"'))) > \
        stmts.index(next(s for s in stmts if s.startswith('CREATE TABLE "ms5_rollups"."_mat_metric_hist_1h"')))


def test_plan_removes_undeclared_rollups_dependents_first():
    rolls = typed_defaults()
    for api, drop in ((APACHE, 'DROP VIEW IF EXISTS "ms5_rollups"."%s"'),
                      (COMMUNITY, 'DROP MATERIALIZED VIEW IF EXISTS "ms5_rollups"."%s"')):
        state = converged_state(rolls, api)
        state["catalog"]["ms5_rollups.metric_hist_1h"]["level"] = 1
        kept = [r for r in rolls if r["name"] not in ("metric_hist_1h",)]
        result = R.plan(kept, state, api, BASE_SQL)
        stmts = result["statements"]
        assert drop % "metric_hist_1h" in stmts
        assert "DELETE FROM ms5_rollups.catalog WHERE relation = 'ms5_rollups.metric_hist_1h'" in stmts
        assert "ms5_rollups.metric_hist_1h removed (no longer declared)" in result["changes"]
        assert result["after"]["ms5_rollups.metric_hist_1h"] is None
        # metric_trend now reads the 1-minute rollup only: replaced, with its overload
        assert any(s.startswith('DROP FUNCTION IF EXISTS "ms5_rollups"."metric_trend"(bigint,') for s in stmts)
        assert any(s.startswith('DROP FUNCTION IF EXISTS "ms5_rollups"."metric_trend"(bigint[],') for s in stmts)


def test_plan_refuses_a_relation_it_did_not_create():
    rolls = typed_defaults()
    state = converged_state(rolls, APACHE)
    del state["catalog"]["ms5_rollups.oee_line_1h"]
    result = R.plan(rolls, state, APACHE, BASE_SQL)
    assert result["errors"] == ["ms5_rollups.oee_line_1h exists but is not in ms5_rollups.catalog: it was not created "
                                "by this role. Drop or rename it, or give the rollup another name"]


def test_plan_recreates_a_dropped_relation_and_replaces_stale_code():
    rolls = typed_defaults()
    state = converged_state(rolls, APACHE)
    del state["relations"]["energy_line_1h"]
    state["code_hashes"]["oee_line_1h"] = "0" * 16
    result = R.plan(rolls, state, APACHE, BASE_SQL)
    assert "ms5_rollups.energy_line_1h created (table of factory_telemetry.energy_consumption, 1 hour buckets)" \
        in result["changes"]
    assert "ms5_rollups.oee_line_1h: view and materialize function replaced (rows kept)" in result["changes"]
    assert not any(s.startswith('CREATE TABLE "ms5_rollups"."_mat_oee_line_1h"') for s in result["statements"])


def test_plan_revokes_writes_granted_later():
    rolls = typed_defaults()
    state = converged_state(rolls, APACHE)
    state["writers"] = ["ms5_app"]
    result = R.plan(rolls, state, APACHE, BASE_SQL)
    assert result["statements"] == ['REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "ms5_rollups" '
                                    'FROM "ms5_app"']


def test_plan_requires_compression_when_asked():
    rolls = typed_defaults()
    result = R.plan(rolls, {"catalog": {}, "relations": {}}, APACHE, BASE_SQL, require_compression=True)
    assert result["errors"] and "rollups_require_compression is true" in result["errors"][0]
    community = R.plan(rolls, {"catalog": {}, "relations": {}}, COMMUNITY, BASE_SQL, require_compression=True)
    assert community["errors"] == []


def test_summary_lines():
    rolls = typed_defaults()
    result = R.plan(rolls, {"catalog": {}, "relations": {}}, APACHE, BASE_SQL)
    lines = R.summary_lines(result["summary"], APACHE, result["trends"])
    assert lines[0].startswith("TimescaleDB 2.19.3, apache edition: hypertables kept current by the host timer")
    assert lines[1].split() == ["rollup", "source", "bucket", "retention", "refresh", "compression", "trend"]
    assert any(line.startswith("ms5_rollups.metric_hist_1h  ms5_rollups.metric_hist_1m") for line in lines)
    assert ("trend ms5_rollups.metric_trend(metric_def_id) reads ms5_rollups.metric_hist_1m, "
            "ms5_rollups.metric_hist_1h") in lines
    assert ("trend ms5_rollups.metric_trend(metric_def_ids[]) reads ms5_rollups.metric_hist_1m, "
            "ms5_rollups.metric_hist_1h") in lines


def test_plan_with_no_rollups_removes_everything_it_made():
    rolls = typed_defaults()
    state = converged_state(rolls, APACHE)
    result = R.plan([], state, APACHE, BASE_SQL)
    stmts = result["statements"]
    assert result["errors"] == [] and result["refresh"] == []
    assert sum(s.startswith("DELETE FROM ms5_rollups.catalog") for s in stmts) == 4
    assert sum(s.startswith("DROP FUNCTION IF EXISTS \"ms5_rollups\".\"") and "trend" in s for s in stmts) == 6
    assert sorted(result["removed"]) == sorted(r["relation"] for r in rolls)
    assert R.summary_lines(result["summary"], APACHE, result["trends"])[1].startswith("rollup")
