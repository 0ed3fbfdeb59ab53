"""Unit tests for the timescaledb_policies decision code (no database).

plugins/module_utils/timescaledb_policies.py decides, from the wanted state and
the state read from timescaledb_information, which SQL to run. These tests cover
both editions: Apache (CI) and Community (license 'timescale'), with the
columnstore API (2.18+) and the older compression API.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "tsp", ROOT / "plugins" / "module_utils" / "timescaledb_policies.py")
tsp = importlib.util.module_from_spec(_spec)
sys.modules["tsp"] = tsp
_spec.loader.exec_module(tsp)

COLUMNSTORE = tsp.choose_api(["add_columnstore_policy", "remove_columnstore_policy", "add_compression_policy",
                              "remove_compression_policy", "by_range", "create_hypertable"])
LEGACY = tsp.choose_api(["add_compression_policy", "remove_compression_policy", "create_hypertable"])

METRIC_HIST = {
    "table": "factory_telemetry.metric_hist",
    "time_column": "ts",
    "chunk_time_interval": "1 hour",
    "compression": {"segment_by": ["metric_def_id"], "order_by": "ts DESC", "after": "7 days"},
    "retention": {"drop_after": "90 days"},
}
COLUMNS = {"metric_def_id": "bigint", "ts": "timestamp with time zone", "value_real": "double precision"}


def entry(**overrides):
    raw = dict(METRIC_HIST)
    raw.update(overrides)
    return tsp.normalize_entry(raw)


def ctx(edition="timescale", api=COLUMNSTORE, mechanism=None, require=False):
    if mechanism is None:
        mechanism = tsp.retention_mechanism("auto", edition)
    return {"edition": edition, "api": api, "retention_mechanism": mechanism, "require_compression": require}


def converged(**overrides):
    """State read from a Community server where METRIC_HIST is fully applied."""
    state = {
        "exists": True, "columns": dict(COLUMNS), "hypertable": True, "time_column": "ts",
        "chunk_interval_seconds": 3600.0, "chunk_interval_text": "01:00:00",
        "compression_enabled": True, "segment_by": ["metric_def_id"], "order_by": [("ts", False, True)],
        "compression_job_ids": [1000], "compression_after_seconds": 604800.0, "compression_after_text": "7 days",
        "retention_job_ids": [1001], "retention_after_seconds": 7776000.0, "retention_after_text": "90 days",
    }
    state.update(overrides)
    return state


def plain_table(has_rows=True):
    return {"exists": True, "columns": dict(COLUMNS), "hypertable": False, "has_rows": has_rows}


# --------------------------------------------------------------------- intervals
@pytest.mark.parametrize("text,canonical,seconds", [
    ("1 hour", "1 hour", 3600),
    ("7 days", "7 days", 604800),
    ("  90   days ", "90 days", 7776000),
    ("1 day 12 hours", "1 day 12 hours", 129600),
    ("2 weeks", "2 weeks", 1209600),
    ("30 min", "30 minutes", 1800),
    ("1 Hour", "1 hour", 3600),
    ("1 month", "1 month", 2592000),
    ("1 year", "1 year", 31557600),
    ("1d", "1 day", 86400),
])
def test_parse_interval(text, canonical, seconds):
    assert tsp.parse_interval(text) == (canonical, seconds)


@pytest.mark.parametrize("bad", ["", "   ", "hour", "1 hourz", "7", "-1 day", "1 day; DROP TABLE x",
                                 "0 days", "1.5 hours", None, 7, "1 day'"])
def test_parse_interval_rejects(bad):
    with pytest.raises(tsp.PolicyError):
        tsp.parse_interval(bad)


def test_chunk_interval_rejects_calendar_units():
    with pytest.raises(tsp.PolicyError, match="fixed units"):
        tsp.parse_interval("1 month", allow_calendar=False)


@pytest.mark.parametrize("seconds,text", [
    (3600, "1 hour"), (7200.0, "2 hours"), (86400, "1 day"), (604800, "7 days"), (90, "90 seconds"),
    (1800, "30 minutes"), (0.5, "0.5 seconds"), (None, None),
])
def test_format_seconds(seconds, text):
    assert tsp.format_seconds(seconds) == text


def test_same_interval():
    assert tsp.same_interval(3600.0, 3600)
    assert not tsp.same_interval(3600.0, 7200.0)
    assert not tsp.same_interval(None, 3600.0)
    assert tsp.same_interval(None, None)


# ---------------------------------------------------------------------- order by
def test_order_by_defaults_and_round_trip():
    items = tsp.parse_order_by("ts DESC, id, x ASC NULLS FIRST")
    assert items == [("ts", False, True), ("id", True, False), ("x", True, True)]
    assert tsp.format_order_by(items) == "ts DESC, id, x NULLS FIRST"
    # the server's text form (hypertable_compression_settings.orderby) compares equal
    assert tsp.parse_order_by("ts DESC NULLS FIRST") == tsp.parse_order_by("ts DESC")
    assert tsp.parse_order_by(["ts DESC"]) == [("ts", False, True)]


@pytest.mark.parametrize("bad", ["ts sideways", "TS DESC", "ts DESC; drop", "1ts"])
def test_order_by_rejects(bad):
    with pytest.raises(tsp.PolicyError):
        tsp.parse_order_by(bad)


def test_parse_column_list():
    assert tsp.parse_column_list('line_id, "metric_def_id"') == ["line_id", "metric_def_id"]
    assert tsp.parse_column_list(None) == []


# ------------------------------------------------------------ static validation
def test_normalize_entry():
    norm = entry()
    assert norm["schema"] == "factory_telemetry" and norm["table"] == "metric_hist"
    assert norm["chunk_time_interval"] == {"text": "1 hour", "seconds": 3600}
    assert norm["compression"]["segment_by"] == ["metric_def_id"]
    assert norm["retention"]["drop_after"]["text"] == "90 days"


@pytest.mark.parametrize("overrides,message", [
    ({"table": "metric_hist"}, "schema-qualified"),
    ({"table": "factory_telemetry.Metric"}, "lower-case SQL identifier"),
    ({"time_column": "TS"}, "time_column 'TS'"),
    ({"time_column": None}, "time_column"),
    ({"chunk_time_interval": "1 hourz"}, "chunk_time_interval"),
    ({"chunk_time_interval": "1 month"}, "fixed units"),
    ({"compression": {"after": "7 days", "segment_by": ["bad-col"]}}, "segment_by column 'bad-col'"),
    ({"compression": {"segment_by": ["metric_def_id"]}}, "compression.after is required"),
    ({"compression": {"after": "7 days", "level": 9}}, "unknown keys"),
    ({"compression": {"after": "7 days", "segment_by": ["ts"], "order_by": "ts"}}, "both segment_by and order_by"),
    ({"retention": {"drop_after": "5 days"}}, "must be longer than compression.after"),
    ({"retention": {"keep": "5 days"}}, "exactly one key"),
    ({"retention": {"drop_after": "forever"}}, "retention.drop_after"),
    ({"colour": "red"}, "unknown keys"),
])
def test_normalize_entry_rejects(overrides, message):
    raw = dict(METRIC_HIST)
    raw.update(overrides)
    with pytest.raises(tsp.PolicyError, match=message) as info:
        tsp.normalize_entry(raw, 3)
    assert "timescaledb_policies_hypertables[3]" in str(info.value)


def test_validation_errors_collects_all_and_duplicates():
    errors = tsp.validation_errors([
        METRIC_HIST,
        dict(METRIC_HIST, chunk_time_interval="soon"),
        METRIC_HIST,
        {"table": "x.y"},
    ])
    assert len(errors) == 3
    assert "chunk_time_interval" in errors[0]
    assert "lists factory_telemetry.metric_hist twice" in errors[1]
    assert "time_column" in errors[2]
    assert tsp.validation_errors("nope") == ["timescaledb_policies_hypertables must be a list"]
    assert tsp.validation_errors([METRIC_HIST]) == []


def test_role_defaults_are_valid():
    import yaml

    defaults = yaml.safe_load((ROOT / "roles/timescaledb_policies/defaults/main.yml").read_text())
    hypertables = defaults["timescaledb_policies_hypertables"]
    assert tsp.validation_errors(hypertables) == []
    names = {h["table"].split(".")[1]: h["time_column"] for h in hypertables}
    assert names == {"metric_hist": "ts", "oee_calculations": "calculation_time",
                     "energy_consumption": "consumption_time", "production_kpis": "kpi_date",
                     "fault_event": "ts_on", "downtime_events": "start_time"}


# -------------------------------------------------------------------- API choice
def test_choose_api_uses_pg_proc_names():
    assert COLUMNSTORE["compression"] == "columnstore" and COLUMNSTORE["by_range"] is True
    assert LEGACY["compression"] == "compression" and LEGACY["by_range"] is False
    # only one of the pair is not enough
    assert tsp.choose_api(["add_columnstore_policy"])["compression"] == "compression"


def test_retention_mechanism():
    assert tsp.retention_mechanism("auto", "timescale") == "job"
    assert tsp.retention_mechanism("auto", "apache") == "host"
    assert tsp.retention_mechanism("host", "timescale") == "host"
    with pytest.raises(tsp.PolicyError, match="apache"):
        tsp.retention_mechanism("job", "apache")
    with pytest.raises(tsp.PolicyError):
        tsp.retention_mechanism("cron", "apache")


# --------------------------------------------------------------- plan: community
def test_converged_community_table_needs_nothing():
    plan = tsp.plan_table(entry(), converged(), ctx())
    assert plan["statements"] == []
    assert plan["before"] == plan["after"]
    assert plan["summary"]["mechanism"] == "TimescaleDB job"


def test_server_order_by_text_with_explicit_nulls_is_not_a_change():
    plan = tsp.plan_table(entry(), converged(order_by=tsp.parse_order_by("ts DESC NULLS FIRST")), ctx())
    assert plan["statements"] == []


def test_plain_table_with_rows_becomes_hypertable_with_columnstore():
    plan = tsp.plan_table(entry(), plain_table(), ctx())
    assert plan["statements"] == [
        "SELECT create_hypertable('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "by_range('ts', INTERVAL '1 hour'), migrate_data => true)",
        "ALTER TABLE \"factory_telemetry\".\"metric_hist\" SET (timescaledb.enable_columnstore = true, "
        "timescaledb.segmentby = 'metric_def_id', timescaledb.orderby = 'ts DESC')",
        "CALL add_columnstore_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, after => INTERVAL '7 days')",
        "SELECT add_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "drop_after => INTERVAL '90 days')",
    ]
    assert plan["before"]["hypertable"] is False and plan["after"]["hypertable"] is True


def test_empty_plain_table_on_old_api_uses_legacy_create_hypertable_and_compression_names():
    plan = tsp.plan_table(entry(), plain_table(has_rows=False), ctx(api=LEGACY))
    assert plan["statements"] == [
        "SELECT create_hypertable('\"factory_telemetry\".\"metric_hist\"'::regclass, 'ts', "
        "chunk_time_interval => INTERVAL '1 hour')",
        "ALTER TABLE \"factory_telemetry\".\"metric_hist\" SET (timescaledb.compress = true, "
        "timescaledb.compress_segmentby = 'metric_def_id', timescaledb.compress_orderby = 'ts DESC')",
        "SELECT add_compression_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "compress_after => INTERVAL '7 days')",
        "SELECT add_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "drop_after => INTERVAL '90 days')",
    ]
    assert not any("columnstore" in s for s in plan["statements"])


def test_chunk_interval_change_only():
    plan = tsp.plan_table(entry(chunk_time_interval="2 hours"), converged(), ctx())
    assert plan["statements"] == [
        "SELECT set_chunk_time_interval('\"factory_telemetry\".\"metric_hist\"'::regclass, INTERVAL '2 hours')"]
    assert plan["before"]["chunk_time_interval"] == "1 hour"
    assert plan["after"]["chunk_time_interval"] == "2 hours"


def test_retention_replaced_when_period_differs():
    plan = tsp.plan_table(entry(retention={"drop_after": "60 days"}), converged(), ctx())
    assert plan["statements"] == [
        "SELECT remove_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)",
        "SELECT add_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "drop_after => INTERVAL '60 days')",
    ]
    assert plan["before"]["retention"]["drop_after"] == "90 days"
    assert plan["after"]["retention"]["drop_after"] == "60 days"


ALTER = dict(COLUMNSTORE, alter_job=True)


def test_choose_api_finds_alter_job():
    assert tsp.choose_api(["alter_job", "add_retention_policy"])["alter_job"] is True
    assert COLUMNSTORE["alter_job"] is False


def test_changed_retention_keeps_its_job_with_alter_job():
    """Community edition: the job keeps its id and schedule tuning; only drop_after changes."""
    plan = tsp.plan_table(entry(retention={"drop_after": "60 days"}), converged(), ctx(api=ALTER))
    assert plan["statements"] == [
        "SELECT alter_job(j.job_id, config => jsonb_set(j.config, '{drop_after}', to_jsonb(INTERVAL '60 days'))) "
        "FROM timescaledb_information.jobs AS j WHERE j.job_id = 1001"]
    assert plan["before"]["retention"]["drop_after"] == "90 days"
    assert plan["after"]["retention"]["drop_after"] == "60 days"


def test_changed_compression_after_keeps_its_job_with_alter_job():
    plan = tsp.plan_table(
        entry(compression={"segment_by": ["metric_def_id"], "order_by": "ts DESC", "after": "14 days"}),
        converged(), ctx(api=ALTER))
    assert plan["statements"] == [
        "SELECT alter_job(j.job_id, config => jsonb_set(j.config, '{compress_after}', to_jsonb(INTERVAL '14 days'))) "
        "FROM timescaledb_information.jobs AS j WHERE j.job_id = 1000"]


def test_alter_job_only_for_one_job_with_an_interval():
    # two jobs for one table: collapsed by remove + add, even where alter_job exists
    plan = tsp.plan_table(entry(retention={"drop_after": "60 days"}), converged(retention_job_ids=[1001, 1002]),
                          ctx(api=ALTER))
    assert plan["statements"][0].startswith("SELECT remove_retention_policy")
    # an integer (not interval) drop_after cannot be compared: replaced
    plan = tsp.plan_table(entry(retention={"drop_after": "60 days"}), converged(retention_after_seconds=None),
                          ctx(api=ALTER))
    assert plan["statements"][1].startswith("SELECT add_retention_policy")
    with pytest.raises(tsp.PolicyError):
        tsp.sql_alter_policy_interval(1, "schedule_interval", "1 day")


def test_same_retention_in_other_words_is_not_a_change():
    plan = tsp.plan_table(entry(retention={"drop_after": "2160 hours"}), converged(), ctx())
    assert plan["statements"] == []


def test_retention_added_when_missing():
    plan = tsp.plan_table(entry(), converged(retention_job_ids=[], retention_after_seconds=None), ctx())
    assert plan["statements"] == [
        "SELECT add_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "drop_after => INTERVAL '90 days')"]


def test_removed_retention_removes_policy():
    plan = tsp.plan_table(entry(retention=None), converged(), ctx())
    assert plan["statements"] == [
        "SELECT remove_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)"]
    assert plan["after"]["retention"] is None
    assert plan["summary"]["retention"] == "none"


def test_removed_compression_removes_policy_columnstore_and_legacy():
    cs = tsp.plan_table(entry(compression=None), converged(), ctx())
    assert cs["statements"] == [
        "CALL remove_columnstore_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)"]
    legacy = tsp.plan_table(entry(compression=None), converged(), ctx(api=LEGACY))
    assert legacy["statements"] == [
        "SELECT remove_compression_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)"]
    assert legacy["after"]["compression"]["after"] is None
    assert legacy["summary"]["compression"] == "none"


def test_compression_after_change_replaces_policy_only():
    plan = tsp.plan_table(
        entry(compression={"segment_by": ["metric_def_id"], "order_by": "ts DESC", "after": "14 days"}),
        converged(), ctx(api=LEGACY))
    assert plan["statements"] == [
        "SELECT remove_compression_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)",
        "SELECT add_compression_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, "
        "compress_after => INTERVAL '14 days')",
    ]


def test_compression_segment_by_change_alters_settings_only():
    plan = tsp.plan_table(entry(), converged(segment_by=[]), ctx())
    assert len(plan["statements"]) == 1
    assert plan["statements"][0].startswith("ALTER TABLE")
    assert "timescaledb.segmentby = 'metric_def_id'" in plan["statements"][0]


def test_compression_enabled_without_policy_adds_policy():
    plan = tsp.plan_table(entry(), converged(compression_job_ids=[], compression_after_seconds=None), ctx())
    assert plan["statements"] == [
        "CALL add_columnstore_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, after => INTERVAL '7 days')"]


def test_duplicate_policies_are_collapsed_to_one():
    plan = tsp.plan_table(entry(), converged(retention_job_ids=[1001, 1002]), ctx())
    assert plan["statements"][0].startswith("SELECT remove_retention_policy")
    assert plan["statements"][1].startswith("SELECT add_retention_policy")


def test_host_mechanism_on_community_removes_db_retention_policy():
    plan = tsp.plan_table(entry(), converged(), ctx(mechanism="host"))
    assert plan["statements"] == [
        "SELECT remove_retention_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)"]
    assert plan["after"]["retention"] == {"drop_after": "90 days", "mechanism": "host"}


# ------------------------------------------------------------------ plan: apache
def apache_state(**overrides):
    state = converged(compression_enabled=False, segment_by=[], order_by=[], compression_job_ids=[],
                      compression_after_seconds=None, compression_after_text=None, retention_job_ids=[],
                      retention_after_seconds=None, retention_after_text=None,
                      host_retention_text="90 days")
    state.update(overrides)
    return state


def test_apache_skips_compression_with_warning_naming_the_edition():
    plan = tsp.plan_table(entry(), apache_state(), ctx(edition="apache"))
    assert plan["statements"] == []
    assert len(plan["warnings"]) == 1
    assert "'apache' edition" in plan["warnings"][0] and "metric_hist" in plan["warnings"][0]
    assert plan["summary"] == {
        "table": "factory_telemetry.metric_hist", "chunk_interval": "1 hour",
        "compression": "skipped (apache edition)", "retention": "90 days",
        "mechanism": "host timer ms5-retention",
    }
    assert plan["before"] == plan["after"]


def test_apache_require_compression_fails():
    with pytest.raises(tsp.PolicyError, match="timescaledb_policies_require_compression") as info:
        tsp.plan_table(entry(), apache_state(), ctx(edition="apache", require=True))
    assert "apache" in str(info.value)


def test_apache_without_compression_has_no_warning():
    plan = tsp.plan_table(entry(compression=None), apache_state(), ctx(edition="apache", require=True))
    assert plan["warnings"] == [] and plan["statements"] == []


def test_apache_never_calls_policy_functions():
    plan = tsp.plan_table(entry(), plain_table(), ctx(edition="apache"))
    assert len(plan["statements"]) == 1
    assert "create_hypertable" in plan["statements"][0]
    assert not any("policy" in s or "compress" in s or "columnstore" in s for s in plan["statements"])


def test_apache_host_retention_change_shows_in_diff():
    plan = tsp.plan_table(entry(compression=None, retention={"drop_after": "60 days"}),
                          apache_state(), ctx(edition="apache"))
    assert plan["statements"] == []
    assert plan["before"]["retention"] == {"drop_after": "90 days", "mechanism": "host"}
    assert plan["after"]["retention"] == {"drop_after": "60 days", "mechanism": "host"}


def test_host_retention_lines():
    entries = tsp.normalize_entries([METRIC_HIST, dict(METRIC_HIST, table="factory_telemetry.other", retention=None,
                                                       compression=None)])
    assert tsp.host_retention_lines(entries, "host") == [
        {"table": "factory_telemetry.metric_hist", "drop_after": "90 days"}]
    assert tsp.host_retention_lines(entries, "job") == []


# --------------------------------------------------------------- plan: failures
def test_unknown_table_is_named():
    with pytest.raises(tsp.PolicyError, match="factory_telemetry.metric_hist does not exist"):
        tsp.plan_table(entry(), {"exists": False}, ctx())


def test_unknown_time_column_is_named():
    with pytest.raises(tsp.PolicyError, match="no column 'tstamp' \\(time_column\\)"):
        tsp.plan_table(entry(time_column="tstamp"), converged(), ctx())


def test_unknown_segment_and_order_columns_are_named():
    with pytest.raises(tsp.PolicyError, match="no column 'line_id' \\(compression.segment_by\\)"):
        tsp.plan_table(entry(compression={"segment_by": ["line_id"], "after": "7 days"}), converged(), ctx())
    with pytest.raises(tsp.PolicyError, match="no column 'created' \\(compression.order_by\\)"):
        tsp.plan_table(entry(compression={"order_by": "created", "after": "7 days"}), converged(), ctx())


def test_other_time_column_of_existing_hypertable_is_refused():
    with pytest.raises(tsp.PolicyError, match="partitioned by 'ts', not 'value_real'"):
        tsp.plan_table(entry(time_column="value_real"), converged(), ctx())


# ------------------------------------------------------------------------- misc
def test_identifiers_are_quoted():
    assert tsp.qident('a"b') == '"a""b"'
    assert tsp.qliteral("it's") == "'it''s'"


def test_summary_lines_table():
    lines = tsp.summary_lines([{"table": "factory_telemetry.metric_hist", "chunk_interval": "01:00:00",
                                "compression": "skipped (apache edition)", "retention": "90 days",
                                "mechanism": "host timer ms5-retention"}], "apache", "2.19.3")
    assert lines[0] == "TimescaleDB 2.19.3, apache edition"
    assert lines[1].split() == ["hypertable", "chunk", "interval", "compression", "retention", "mechanism"]
    assert set(lines[2]) <= {"-", " "}
    assert lines[3].startswith("factory_telemetry.metric_hist  01:00:00")


# ------------------------------------------- module and filter glue (no database)
def _collection_import(name):
    sys.path.insert(0, str(ROOT / ".collections"))
    try:
        return importlib.import_module("ansible_collections.ms5.factory_telemetry.plugins." + name)
    except ImportError as exc:  # pragma: no cover - only without `make setup`
        pytest.skip("collection not linked into .collections (run make setup): %s" % exc)


def test_module_reads_host_retention_config(tmp_path):
    module = _collection_import("modules.timescaledb_policies")
    conf = tmp_path / "retention.conf"
    conf.write_text("# comment\ncontainer=ms5-timescaledb\ndatabase=factory_telemetry\nuser=postgres\n"
                    "table=factory_telemetry.metric_hist 90 days\ntable=factory_telemetry.fault_event 1 day 12 hours\n")
    assert module.read_host_retention(str(conf)) == {
        "factory_telemetry.metric_hist": "90 days", "factory_telemetry.fault_event": "1 day 12 hours"}
    assert module.read_host_retention(str(tmp_path / "missing.conf")) == {}


def test_filter_reports_problems():
    filters = _collection_import("filter.timescaledb_policies").FilterModule().filters()
    check = filters["timescaledb_policies_errors"]
    assert check([METRIC_HIST]) == []
    assert "chunk_time_interval" in check([dict(METRIC_HIST, chunk_time_interval="1 fortnight")])[0]


def test_choose_api_calls_procedures_and_selects_functions():
    procs = tsp.choose_api({"add_columnstore_policy": "p", "remove_columnstore_policy": "p", "by_range": "f"})
    assert procs["columnstore_call"] == "CALL"
    funcs = tsp.choose_api({"add_columnstore_policy": "f", "remove_columnstore_policy": "f"})
    plan = tsp.plan_table(entry(compression=None), converged(), ctx(api=funcs))
    assert plan["statements"] == [
        "SELECT remove_columnstore_policy('\"factory_telemetry\".\"metric_hist\"'::regclass, if_exists => true)"]


def test_empty_segment_by_leaves_timescaledb_choice_alone():
    wanted = entry(compression={"after": "7 days"})
    assert tsp.plan_table(wanted, converged(), ctx())["statements"] == []
    plan = tsp.plan_table(wanted, plain_table(), ctx())
    assert "ALTER TABLE \"factory_telemetry\".\"metric_hist\" SET (timescaledb.enable_columnstore = true)" \
        in plan["statements"]
