"""Unit tests of the cutover's helper program (roles/cutover/files/ms5-cutover): its
SQL splitting and the choice of the migrations' TimescaleDB statements, the catalog
comparisons, the write-pause gate, the scripts it pipes between the two servers,
the fingerprint arithmetic, and the small decisions the role relies on. The
database-facing parts run for real in molecule/cutover and in
tests/integration/test_cutover_sql.py.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "cutover" / "files" / "ms5-cutover"
MIGRATIONS = ROOT / "files" / "migrations"


def _load():
    loader = importlib.machinery.SourceFileLoader("ms5_cutover", str(PROGRAM))
    spec = importlib.util.spec_from_loader("ms5_cutover", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ms5_cutover"] = module
    loader.exec_module(module)
    return module


mc = _load()


def shipped(limit: int = 9):
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(MIGRATIONS.glob("*.sql")) if int(p.name[:3]) <= limit]


# ---------------------------------------------------------------- statements


def test_split_keeps_semicolons_inside_literals_comments_and_bodies():
    sql = """
    -- a comment; with a semicolon
    SELECT 'a;b', E'it\\'s;', "odd;name" FROM t; /* block; comment */
    CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;
    CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
    SELECT 3
    """
    stmts = mc.split_statements(sql)
    assert [s["sql"].split()[0] for s in stmts] == ["SELECT", "CREATE", "CREATE", "SELECT"]
    assert stmts[0]["sql"].endswith('"odd;name" FROM t')
    assert "$body$ BEGIN RETURN 1; END; $body$" in stmts[1]["sql"]
    assert stmts[2]["sql"].endswith("END")
    assert stmts[0]["line"] == 3 and stmts[3]["line"] == 6


def test_the_shipped_migrations_need_timescaledb_for_six_hypertables_and_one_view():
    ts = mc.timescaledb_statements(shipped())
    hyper = [s for s in ts if s["kind"] == "hypertable"]
    assert [(s["file"][:3], mc.hypertable_target(s["sql"])) for s in hyper] == [
        ("001", "factory_telemetry.metric_hist"),
        ("001", "factory_telemetry.fault_event"),
        ("003", "factory_telemetry.downtime_events"),
        ("004", "factory_telemetry.oee_calculations"),
        ("004", "factory_telemetry.production_kpis"),
        ("004", "factory_telemetry.energy_consumption"),
    ]
    objects = [s for s in ts if s["kind"] == "object"]
    assert [s["object"] for s in objects] == ["factory_telemetry.v_energy_per_unit", None]
    assert objects[1]["sql"].startswith("COMMENT ON VIEW factory_telemetry.v_energy_per_unit")
    # The texts are the files' own (what psql -f failed on in the plan's runner).
    assert "by_range('ts', INTERVAL '1 hour')" in hyper[0]["sql"]
    assert "time_bucket(INTERVAL '1 day'" in objects[0]["sql"]


def test_plain_and_timescaledb_statements_partition_every_file():
    files = shipped()
    total = sum(len(mc.split_statements(text)) for _, text in files)
    assert len(mc.plain_statements(files)) + len(mc.timescaledb_statements(files)) == total
    assert not any(mc._TS_API_RE.search(s["sql"]) for s in mc.plain_statements(files))


def test_hypertables_of_the_migrations_match_the_conventions():
    ts = mc.timescaledb_statements(shipped())
    assert mc.hypertables_of(ts) == [
        {"table": "factory_telemetry.metric_hist", "time_column": "ts"},
        {"table": "factory_telemetry.fault_event", "time_column": "ts_on"},
        {"table": "factory_telemetry.downtime_events", "time_column": "start_time"},
        {"table": "factory_telemetry.oee_calculations", "time_column": "calculation_time"},
        {"table": "factory_telemetry.production_kpis", "time_column": "kpi_date"},
        {"table": "factory_telemetry.energy_consumption", "time_column": "consumption_time"},
    ]
    old_api = [{"sql": "SELECT create_hypertable('s.t', 'time', chunk_time_interval => INTERVAL '1 day')"}]
    assert mc.hypertables_of(old_api) == [{"table": "s.t", "time_column": "time"}]


def test_a_comment_on_a_plain_object_is_not_a_timescaledb_statement():
    files = [("001_x.sql", "CREATE VIEW s.v AS SELECT time_bucket('1 day', ts) FROM s.t;\n"
                           "COMMENT ON VIEW s.v IS 'x';\nCOMMENT ON TABLE s.t IS 'y';\n"
                           "COMMENT ON COLUMN s.v.day IS 'z';\n")]
    ts = mc.timescaledb_statements(files)
    assert [s["sql"].split()[0:3] for s in ts] == [["CREATE", "VIEW", "s.v"], ["COMMENT", "ON", "VIEW"],
                                                   ["COMMENT", "ON", "COLUMN"]]


# ---------------------------------------------------------------- catalogs


def cat(*items):
    return [{"k": k, "n": n, "d": d} for k, n, d in items]


def test_presence_report_separates_timescaledb_objects_from_real_differences():
    plain = cat(("table", "s.a", "x"), ("view", "s.v1", "x"), ("index", "s.a_pkey", "x"))
    full = plain + cat(("view", "s.v2", "tb"), ("index", "s.a_ts_idx", "x"), ("hypertable", "s.a", "ts"))
    legacy = cat(("table", "s.a", "x"), ("index", "s.a_pkey", "x"), ("table", "s.extra", "x"))
    report = mc.presence_report(plain, full, legacy)
    assert report["missing_timescaledb"] == ["index s.a_ts_idx", "view s.v2"]
    assert report["missing_other"] == ["view s.v1"]
    assert report["extra"] == ["table s.extra"]
    assert report["expected"] == 5 and report["present"] == 2


def test_compare_catalogs_reports_missing_different_and_extra():
    ref = cat(("table", "s.a", "id int"), ("view", "s.v", "SELECT 1"))
    tgt = cat(("table", "s.a", "id bigint"), ("table", "s.b", "x"))
    diff = mc.compare_catalogs(ref, tgt)
    assert diff["missing"] == ["view s.v"]
    assert diff["different"] == ["table s.a: expected 'id int', found 'id bigint'"]
    assert diff["extra"] == ["table s.b"]
    assert mc.compare_catalogs(ref, ref) == {"missing": [], "different": [], "extra": []}


# ---------------------------------------------------------------- the pause


def counters(upd=0, dele=0, node=1, start="s1", reset=None):
    return {"postmaster_start": start, "stats_reset": reset,
            "tables": {"s.t": {"ins": 5, "upd": upd, "del": dele, "filenode": node}}}


@pytest.mark.parametrize("c1, counted, ok, reason", [
    (counters(), 10, True, "append-only"),
    (counters(upd=2), 10, False, "2 update(s) and 0 delete(s)"),
    (counters(dele=1), 10, False, "0 update(s) and 1 delete(s)"),
    (counters(node=2), 10, False, "rewritten"),
    (counters(start="s2"), 10, False, "restarted"),
    (counters(reset="now"), 10, False, "reset"),
    (counters(), 11, False, "1 row(s) below the cutoff arrived after their snapshot"),
])
def test_history_gate(c1, counted, ok, reason):
    got_ok, got_reason = mc.history_gate(counters(), c1, "s.t", 10, counted)
    assert got_ok is ok
    assert reason in got_reason


def test_history_gate_without_counters_copies_the_whole_table():
    assert mc.history_gate(counters(), {"postmaster_start": "s1", "stats_reset": None, "tables": {}},
                           "s.t", 1, 1)[0] is False


def test_fingerprints_of_disjoint_ranges_add_up():
    assert mc.add_fingerprints("123", "-23", 0) == "100"
    assert mc.add_fingerprints("18446744073709551615", "18446744073709551615") == "36893488147419103230"


def test_copy_script_makes_the_target_script():
    script = mc.copy_script([
        {"table": "factory_telemetry.metric_hist", "columns": ["metric_def_id", "ts"],
         "where": mc.range_condition("ts", "2026-11-29 10:00:00+00", "infinity")},
        {"table": "factory_telemetry.users", "columns": ["id", "user name"], "clear": "delete"},
        {"table": "factory_telemetry.fault_event", "columns": ["id"], "clear": "truncate"},
    ], snapshot="00000003-0000001B-1")
    lines = script.splitlines()
    assert lines[0] == "\\echo 'SET session_replication_role = replica;'"
    assert lines[1:3] == ["BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;",
                          "SET TRANSACTION SNAPSHOT '00000003-0000001B-1';"]
    assert ("COPY (SELECT \"metric_def_id\", \"ts\" FROM \"factory_telemetry\".\"metric_hist\" WHERE \"ts\" >= "
            "'2026-11-29 10:00:00+00' AND \"ts\" < 'infinity') TO STDOUT;") in lines
    assert "\\echo 'DELETE FROM \"factory_telemetry\".\"users\";'" in lines
    assert "\\echo 'COPY \"factory_telemetry\".\"users\" (\"id\", \"user name\") FROM stdin;'" in lines
    assert "\\echo 'TRUNCATE \"factory_telemetry\".\"fault_event\";'" in lines
    assert lines.count("\\echo '\\\\.'") == 3
    assert lines[-1] == "COMMIT;"


def test_copy_script_refuses_odd_snapshots_bounds_and_names():
    with pytest.raises(mc.CutoverError):
        mc.copy_script([], snapshot="x'; DROP TABLE t; --")
    with pytest.raises(mc.CutoverError):
        mc.range_condition("ts", "2026-01-01'", "infinity")
    with pytest.raises(mc.CutoverError):
        mc.split_table("no_schema")


def test_psql_quote_escapes_backslashes_and_quotes():
    assert mc.psql_quote("a'b\\c") == "'a''b\\\\c'"


def test_repeat_script_and_parse_fingerprints():
    specs = [{"table": "s.a"}, {"table": "s.b", "column": "ts", "lower": "-infinity", "upper": "2026-01-01"}]
    script = mc.repeat_script("SELECT 1;", specs, snapshot="00000003-0000001B-1")
    assert "\\unset column" in script and "\\set column 'ts'" in script and "\\set upper '2026-01-01'" in script
    assert script.count("SELECT 1;") == 2
    assert mc.parse_fingerprints(specs, "3|42\n0|0\n") == [{"rows": 3, "fingerprint": "42"},
                                                          {"rows": 0, "fingerprint": "0"}]
    with pytest.raises(mc.CutoverError):
        mc.parse_fingerprints(specs, "3|42\n")


def test_hypertables_lose_only_in_alter_table():
    sql = ("ALTER TABLE ONLY factory_telemetry.metric_hist\n    ADD CONSTRAINT metric_hist_pkey PRIMARY KEY (metric_def_id, ts);\n"
           "ALTER TABLE ONLY factory_telemetry.metric_def\n    ADD CONSTRAINT metric_def_pkey PRIMARY KEY (id);\n"
           "ALTER TABLE ONLY factory_telemetry.metric_histx ADD CONSTRAINT x CHECK (true);\n")
    out = mc.hypertables_without_only(sql, ["factory_telemetry.metric_hist"])
    assert "ALTER TABLE factory_telemetry.metric_hist\n" in out
    assert "ALTER TABLE ONLY factory_telemetry.metric_def\n" in out
    assert "ALTER TABLE ONLY factory_telemetry.metric_histx" in out


def test_toc_split_gives_extensions_to_the_superuser_and_skips_public():
    toc = """;
; Archive created at 2026-11-29
2; 3079 16384 EXTENSION - pgcrypto
3; 0 0 COMMENT - EXTENSION pgcrypto
4; 2615 2200 SCHEMA - public pg_database_owner
5; 0 0 COMMENT - SCHEMA public pg_database_owner
6; 2615 16385 SCHEMA - factory_telemetry ms5_user_production
7; 1259 16390 TABLE factory_telemetry metric_def ms5_user_production
"""
    superuser, owner = mc.toc_split(toc)
    assert [line.split()[3] for line in superuser] == ["EXTENSION", "COMMENT"]
    assert [line.split()[3] for line in owner] == ["SCHEMA", "TABLE"]


# ---------------------------------------------------------------- small decisions


@pytest.mark.parametrize("verifier, kind", [
    ("SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy", "scram-sha-256"),
    ("md5" + "0" * 32, "md5"),
    ("", "none"),
    (None, "none"),
    ("plain", "unknown"),
])
def test_verifier_kind(verifier, kind):
    assert mc.verifier_kind(verifier) == kind


def test_horizon_low_is_the_32_bit_xid():
    assert mc.horizon_low("988") == 988
    assert mc.horizon_low(str(3 * 2**32 + 17)) == 17


def test_pick_writers_from_compose_config():
    config = {"services": {
        "postgres": {"networks": {"net": None}},
        "backend": {"depends_on": {"postgres": {"condition": "service_healthy"}}, "networks": {"net": None}},
        "worker": {"depends_on": ["postgres"], "networks": {"other": None}},
        "frontend": {"networks": {"web": None}},
        "sidecar": {"networks": {"net": None}, "network_mode": "host"},
    }}
    assert mc.pick_writers(config, "postgres") == ["backend", "worker"]
    assert mc.pick_writers({"services": {"postgres": {}, "app": {}}}, "postgres") == ["app"]


def test_disk_needs():
    gib = 1024 ** 3
    assert mc.disk_needs(2 * gib, 1.5, 100) == {"backup": 2 * gib + 100, "volume": 3 * gib + 100}


def test_volume_digest_sees_a_touched_file(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "1").write_bytes(b"x" * 10)
    (tmp_path / "PG_VERSION").write_text("15\n")
    first = mc.volume_digest(tmp_path)
    assert first["files"] == 2 and first["bytes"] == 13
    assert mc.volume_digest(tmp_path) == first
    os.utime(tmp_path / "PG_VERSION", ns=(1, 1))
    assert mc.volume_digest(tmp_path)["digest"] != first["digest"]


def test_main_reports_a_missing_settings_file(capsys, tmp_path):
    assert mc.main(["--config", str(tmp_path / "none.json"), "target-state"]) == 1
    assert "ms5-cutover: FAILED: cannot read the settings" in capsys.readouterr().err


def test_every_sql_file_the_helper_reads_is_shipped():
    import re

    text = PROGRAM.read_text(encoding="utf-8")
    names = set(re.findall(r'"([a-z_]+\.sql)"', text))
    shipped_sql = {p.name for p in (ROOT / "roles/cutover/files/sql").glob("*.sql")}
    shipped_sql |= {"table_fingerprint_range.sql"}
    assert (ROOT / "roles/_common/files/sql/table_fingerprint_range.sql").is_file()
    assert names <= shipped_sql, names - shipped_sql
