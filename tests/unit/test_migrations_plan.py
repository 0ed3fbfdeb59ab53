"""Unit tests of the migrations role's decisions: the scanner, the plan, baseline
adoption, the applied script and error parsing (plugins/module_utils/migrations_*.py,
exposed as filters by plugins/filter/migrations_plan.py)."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ms5.factory_telemetry.plugins.filter.migrations_plan import FilterModule  # noqa: E402
from ansible_collections.ms5.factory_telemetry.plugins.module_utils import (  # noqa: E402
    migrations_errors,
    migrations_planner,
    migrations_scanner,
    migrations_script,
)

# One namespace for the tests below: every function they call, from the module that holds it.
mp = types.SimpleNamespace(**{
    name: getattr(module, name)
    for module in (migrations_scanner, migrations_planner, migrations_script, migrations_errors)
    for name in dir(module) if not name.startswith("__")
})
mp.MigrationsFilterError = (migrations_planner.MigrationsPlanError, migrations_script.MigrationsScriptError)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def f(name: str, content: str = "CREATE TABLE factory_telemetry.t (a int);\n") -> dict:
    return {"name": name, "content": content, "checksum": sha(content)}


def row(version: int, name: str, content: str = "CREATE TABLE factory_telemetry.t (a int);\n") -> dict:
    return {"version": version, "file_name": name, "checksum_sha256": sha(content), "applied_at": "2026-11-25"}


# ---------------------------------------------------------------- scanner
def test_split_ignores_comments_strings_and_dollar_bodies():
    sql = (
        "-- header; with semicolon\n"
        "CREATE TABLE a (x text DEFAULT 'it''s; fine');\n"
        "/* block; /* nested; */ still comment */\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n  RETURN 1;\nEND;\n$fn$;\n"
        "SELECT E'back\\'slash;';\n"
    )
    stmts = mp.split_statements(sql)
    assert [s["line"] for s in stmts] == [2, 4, 9]
    assert stmts[0]["text"].startswith("CREATE TABLE a")
    assert stmts[1]["text"].endswith("AS ''")


def test_begin_atomic_body_is_one_statement():
    sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\nEND;\nSELECT 2;"
    stmts = mp.split_statements(sql)
    assert len(stmts) == 2
    assert mp.forbidden_statements(sql) == []


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;", "BEGIN"),
        ("CREATE TABLE a (x int);\ncommit;", "COMMIT"),
        ("ROLLBACK;", "ROLLBACK"),
        ("START TRANSACTION;", "START TRANSACTION"),
        ("CREATE INDEX CONCURRENTLY i ON t (a);", "CONCURRENTLY"),
        ("VACUUM ANALYZE t;", "VACUUM"),
        ("\\set ON_ERROR_STOP 1\nSELECT 1;", "psql meta-command"),
        ("COPY t FROM STDIN;", "STDIN"),
        ("REINDEX TABLE CONCURRENTLY t;", "CONCURRENTLY"),
        ("REINDEX DATABASE d;", "REINDEX SYSTEM/DATABASE"),
        ("ALTER DATABASE d SET x = 1;", "DATABASE"),
        ("SAVEPOINT s;", "SAVEPOINT"),
    ],
)
def test_forbidden_statements_are_found_with_line(sql, needle):
    problems = mp.forbidden_statements(sql)
    assert problems and needle in problems[0]
    assert problems[0].startswith("line ")


def test_forbidden_words_inside_bodies_comments_and_strings_are_fine():
    sql = (
        "-- BEGIN; COMMIT;\n"
        "DO $$ BEGIN PERFORM 1; END $$;\n"
        "COMMENT ON TABLE t IS 'COMMIT this; ROLLBACK that; CONCURRENTLY';\n"
        "CREATE TABLE \"begin\" (a int);\n"
    )
    assert mp.forbidden_statements(sql) == []


def test_alter_type_add_value_runs_in_a_transaction():
    # Allowed since PostgreSQL 12; one rule list for the role and the schema tests.
    assert mp.forbidden_statements("ALTER TYPE s.state ADD VALUE 'paused';\n") == []
    labels = [rule[0] for rule in mp.TRANSACTION_RULES]
    assert "CONCURRENTLY" in labels and "VACUUM" in labels


def test_forbidden_line_numbers():
    sql = "CREATE TABLE a (x int);\n\n-- c\nCOMMIT;\n"
    assert mp.forbidden_statements(sql)[0].startswith("line 4:")


# ---------------------------------------------------------------- objects
def test_created_objects_tables_views_indexes_functions():
    sql = (
        "CREATE SCHEMA IF NOT EXISTS factory_telemetry;\n"
        "CREATE TABLE IF NOT EXISTS factory_telemetry.Metric_Def (id int);\n"
        "CREATE UNLOGGED TABLE factory_telemetry.\"Mixed\" (id int);\n"
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_a ON factory_telemetry.metric_def (id);\n"
        "CREATE INDEX ON factory_telemetry.metric_def (id);\n"
        "CREATE OR REPLACE VIEW factory_telemetry.v_a AS SELECT 1;\n"
        "CREATE MATERIALIZED VIEW factory_telemetry.mv AS SELECT 1;\n"
        "CREATE OR REPLACE FUNCTION factory_telemetry.calc(a int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
        "CREATE TABLE plain (id int);\n"
    )
    objs = [(o["kind"], o["schema"], o["name"]) for o in mp.created_objects(sql)]
    assert objs == [
        ("table", "factory_telemetry", "metric_def"),
        ("table", "factory_telemetry", "Mixed"),
        ("index", "factory_telemetry", "idx_a"),
        ("view", "factory_telemetry", "v_a"),
        ("view", "factory_telemetry", "mv"),
        ("function", "factory_telemetry", "calc"),
        ("table", "public", "plain"),
    ]


def test_created_objects_follow_search_path_drops_and_renames():
    sql = (
        "SET search_path TO factory_telemetry, public;\n"
        "CREATE TABLE a (id int);\n"
        "CREATE INDEX idx_old ON a (id);\n"
        "ALTER INDEX idx_old RENAME TO idx_new;\n"
        "CREATE TABLE b (id int);\n"
        "DROP TABLE IF EXISTS b CASCADE;\n"
    )
    objs = [(o["kind"], o["schema"], o["name"]) for o in mp.created_objects(sql)]
    assert objs == [("table", "factory_telemetry", "a"), ("index", "factory_telemetry", "idx_new")]


def test_objects_up_to_removes_what_later_files_drop():
    files = [
        {"version": 1, "name": "001_a.sql", "content": "CREATE TABLE s.a (id int);\nCREATE INDEX i1 ON s.a (id);"},
        {"version": 2, "name": "002_b.sql", "content": "DROP INDEX s.i1;\nCREATE INDEX i2 ON s.a (id);"},
        {"version": 3, "name": "003_c.sql", "content": "CREATE TABLE s.c (id int);"},
    ]
    objs = [(o["version"], o["name"]) for o in mp.objects_up_to(files, 2)]
    assert objs == [(1, "a"), (2, "i2")]


# ---------------------------------------------------------------- plan
def test_plan_fresh_database_all_pending():
    plan = mp.migrations_plan([f("002_b.sql"), f("001_a.sql")], [])
    assert plan["errors"] == []
    assert [p["name"] for p in plan["pending"]] == ["001_a.sql", "002_b.sql"]
    assert plan["pending"][0]["checksum"] == sha(f("001_a.sql")["content"])


def test_plan_applied_are_skipped():
    plan = mp.migrations_plan([f("001_a.sql"), f("002_b.sql")], [row(1, "001_a.sql")])
    assert plan["errors"] == []
    assert [p["name"] for p in plan["applied"]] == ["001_a.sql"]
    assert [p["name"] for p in plan["pending"]] == ["002_b.sql"]


@pytest.mark.parametrize(
    ("files", "ledger", "needles"),
    [
        ([f("001_a.sql"), f("1_b.sql")], [], ["1_b.sql", "does not match"]),
        ([f("001_a.sql"), f("002_Bad-Name.sql")], [], ["002_Bad-Name.sql", "rename"]),
        ([f("001_a.sql"), f("003_c.sql")], [], ["003_c.sql", "gap", "002"]),
        ([f("001_a.sql"), f("001_b.sql")], [], ["001_a.sql and 001_b.sql", "duplicate"]),
        ([f("001_a.sql")], [row(1, "001_a.sql"), row(2, "002_b.sql")], ["002_b.sql", "no such file"]),
        ([f("001_a.sql", "CREATE TABLE x (a int);\n-- edited\n")], [row(1, "001_a.sql")], ["001_a.sql", "drift"]),
        ([f("001_renamed.sql")], [row(1, "001_a.sql")], ["001_renamed.sql", "applied as 001_a.sql"]),
        ([f("001_a.sql", "BEGIN;\nSELECT 1;\nCOMMIT;\n")], [], ["001_a.sql", "BEGIN"]),
        ([f("001_a.sql", "  \n")], [], ["001_a.sql", "empty"]),
        ([f("000_a.sql"), f("001_b.sql")], [], ["000_a.sql", "000"]),
    ],
)
def test_plan_validation_errors_name_the_file(files, ledger, needles):
    plan = mp.migrations_plan(files, ledger, source_dir="/src")
    assert plan["errors"], plan
    joined = "\n".join(plan["errors"])
    for needle in needles:
        assert needle in joined


def test_plan_checksum_mismatch_means_not_utf8():
    item = f("001_a.sql")
    item["checksum"] = "0" * 64
    plan = mp.migrations_plan([item], [])
    assert "UTF-8" in plan["errors"][0]


def test_plan_baseline_marks_versions_and_lists_objects():
    files = [f("001_a.sql", "CREATE TABLE s.a (id int);"), f("002_b.sql", "CREATE VIEW s.v AS SELECT 1;"),
             f("003_c.sql", "CREATE TABLE s.c (id int);")]
    plan = mp.migrations_plan(files, [], baseline_version=2)
    assert plan["errors"] == []
    assert [b["version"] for b in plan["baseline"]] == [1, 2]
    assert [p["version"] for p in plan["pending"]] == [3]
    model = {m["version"]: m for m in plan["model"]}
    assert model[2]["net"] == [("table", "s", "a"), ("view", "s", "v")]
    assert model[3]["new"] == [("table", "s", "c")]


def test_plan_baseline_already_recorded_is_noop():
    files = [f("001_a.sql")]
    plan = mp.migrations_plan(files, [row(1, "001_a.sql")], baseline_version=1)
    assert plan["baseline"] == [] and plan["pending"] == []


def test_plan_baseline_beyond_files_fails():
    plan = mp.migrations_plan([f("001_a.sql")], [], baseline_version=5)
    assert "migrations_baseline_version is 5" in plan["errors"][0]


def test_plan_new_objects_exclude_what_earlier_files_created():
    files = [f("001_a.sql", "CREATE TABLE s.a (id int);"),
             f("002_b.sql", "CREATE TABLE IF NOT EXISTS s.a (id int);\nCREATE OR REPLACE VIEW s.v AS SELECT 1;")]
    plan = mp.migrations_plan(files, [row(1, "001_a.sql", "CREATE TABLE s.a (id int);")])
    assert {m["version"]: m["new"] for m in plan["model"]} == {1: [("table", "s", "a")], 2: [("view", "s", "v")]}
    assert plan["catalog"] == [{"kind": "table", "schema": "s", "name": "a"}, {"kind": "view", "schema": "s", "name": "v"}]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "migrations_plan", "migrations_adoption", "migrations_script", "migrations_db_error",
        "migrations_created_objects", "migrations_forbidden_statements"}


# ---------------------------------------------------------------- adoption
ADOPT_FILES = [
    f("001_a.sql", "CREATE TABLE s.a (id int);\nCREATE INDEX a_idx ON s.a (id);"),
    f("002_b.sql", "CREATE TABLE s.b (id int);"),
    f("003_c.sql", "ALTER TABLE s.a ADD COLUMN note text;\nCREATE INDEX a_note_idx ON s.a (note);"),
    f("004_d.sql", "ALTER TABLE s.b ADD COLUMN x int;"),
    f("005_e.sql", "CREATE VIEW s.v AS SELECT 1;\nDROP INDEX s.a_idx;"),
]


def objs(*names):
    kinds = {"a": "table", "b": "table", "v": "view"}
    return [[kinds.get(n, "index"), "s", n] for n in names]


def test_adoption_hint_is_the_highest_version_whose_objects_all_exist():
    plan = mp.migrations_plan(ADOPT_FILES, [])
    # migrated by hand up to 003 (not 005: a_idx would be gone and v there)
    adoption = mp.migrations_adoption(plan, objs("a", "a_idx", "b", "a_note_idx"))
    assert adoption["hint"] == 4 and adoption["hint_unsure"] == [4]
    assert "probably migrated by hand" in adoption["errors"][0]
    assert "set migrations_baseline_version=4" in adoption["errors"][0]
    assert "adds no table, view, named index or function" in adoption["errors"][0]
    # up to 005: a_idx dropped again, v created
    assert mp.migrations_adoption(plan, objs("a", "b", "a_note_idx", "v"))["hint"] == 5
    # nothing there: a fresh database, nothing to refuse
    fresh = mp.migrations_adoption(plan, [])
    assert fresh["hint"] == 0 and fresh["errors"] == []


def test_adoption_refuses_a_baseline_with_missing_or_later_objects():
    db_at_3 = objs("a", "a_idx", "b", "a_note_idx")
    plan = mp.migrations_plan(ADOPT_FILES, [], baseline_version=2)
    beyond = mp.migrations_adoption(plan, db_at_3, 2)
    assert beyond["beyond"] == ["index s.a_note_idx"] and beyond["missing"] == []
    assert "adds already exist" in beyond["errors"][0] and "003_c.sql" in beyond["errors"][0]
    assert "set migrations_baseline_version=4" in beyond["errors"][0]
    plan = mp.migrations_plan(ADOPT_FILES, [], baseline_version=5)
    missing = mp.migrations_adoption(plan, db_at_3, 5)
    assert missing["missing"] == ["view s.v"] and "are missing" in missing["errors"][0]
    plan = mp.migrations_plan(ADOPT_FILES, [], baseline_version=3)
    assert mp.migrations_adoption(plan, db_at_3, 3)["errors"] == []


def test_adoption_ignores_versions_the_ledger_records():
    plan = mp.migrations_plan(ADOPT_FILES, [row(1, "001_a.sql", ADOPT_FILES[0]["content"])])
    assert mp.migrations_adoption(plan, objs("a", "a_idx"))["errors"] == []
    assert mp.migrations_adoption(plan, objs("a", "a_idx", "b"))["unrecorded"] == ["table s.b (002_b.sql)"]


def test_adoption_of_the_shipped_schema_at_each_version():
    paths = sorted((ROOT / "files" / "migrations").glob("*.sql"))
    files = [f(p.name, p.read_text(encoding="utf-8")) for p in paths]
    plan = mp.migrations_plan(files, [])
    model = {m["version"]: m for m in plan["model"]}
    for version in model:
        present = [list(k) for k in model[version]["net"]]
        adoption = mp.migrations_adoption(plan, present)
        assert adoption["hint"] == version, (version, adoption["hint"])
        assert mp.migrations_adoption(plan, present, version)["errors"] == []
        if version > 1:
            assert mp.migrations_adoption(plan, present, version - 1)["beyond"]


# ---------------------------------------------------------------- script
def test_script_keeps_line_numbers_and_records_ledger_row():
    content = "CREATE TABLE s.a (id int);\nCREATE TABLE s.b (id int);\n"
    mig = {"version": 7, "name": "007_x.sql", "checksum": sha(content), "content": content}
    script = mp.migrations_script(mig, 4242, "ansible on host1 'q'", "5min")
    lines = script.split("\n")
    assert lines[0].endswith("CREATE TABLE s.a (id int);")
    assert lines[1] == "CREATE TABLE s.b (id int);"
    assert "pg_advisory_xact_lock(4242)" in lines[0]
    assert "SET LOCAL lock_timeout = '5min'" in lines[0]
    assert "WHERE version = 7" in lines[0]
    assert "INSERT INTO ms5_migrations.schema_migrations" in script
    assert "'ansible on host1 ''q'''" in script
    assert sha(content) in script
    assert mp.forbidden_statements(script) == []


def test_script_rejects_bad_entries():
    with pytest.raises(mp.MigrationsFilterError):
        mp.migrations_script({"version": 1, "name": "x.sql", "checksum": "0" * 64, "content": ""}, 1, "me")


# ---------------------------------------------------------------- errors
def test_db_error_extracts_message_and_line():
    msg = ("Cannot execute SQL 'SELECT 1;\nSELEC x;' None: syntax error at or near \"SELEC\"\n"
           "LINE 2: SELEC x;\n        ^\n")
    err = mp.migrations_db_error(msg, "010_x.sql")
    assert err["message"].startswith("syntax error at or near")
    assert err["line"] == 2
    assert err["concurrent"] is False


def test_db_error_detects_concurrent_run_and_lock_timeout():
    msg = "Cannot execute SQL '...' None: %s: version 003 (003_x.sql)\nCONTEXT: PL/pgSQL" % mp.CONCURRENT_MARKER
    assert mp.migrations_db_error(msg)["concurrent"] is True
    assert mp.migrations_db_error("Cannot execute SQL 'x' None: canceling statement due to lock timeout\n")[
        "lock_timeout"] is True


def test_plan_accepts_find_results_with_parallel_contents():
    found = [{"path": "/src/002_b.sql", "checksum": sha("SELECT 2;")}, {"path": "/src/001_a.sql", "checksum": sha("SELECT 1;")}]
    plan = mp.migrations_plan(found, {}, contents=["SELECT 2;", "SELECT 1;"])
    assert plan["errors"] == []
    assert [p["name"] for p in plan["pending"]] == ["001_a.sql", "002_b.sql"]
    assert plan["pending"][0]["content"] == "SELECT 1;"
    with pytest.raises(mp.MigrationsFilterError):
        mp.migrations_plan(found, {}, contents=["x"])


def test_db_error_from_postgresql_query_drops_the_query_list():
    msg = ("Cannot execute SQL 'SELECT 1;\nSELEC x;' None: syntax error at or near \"SELEC\"\n"
           "LINE 2: SELEC x;\n        ^\n, query list: ['SELECT 1;\\nSELEC x;']")
    err = mp.migrations_db_error(msg)
    assert err["message"].endswith("^")
    assert "query list" not in err["message"]
    assert err["line"] == 2


def test_plan_accepts_plain_paths():
    plan = mp.migrations_plan(["/src/001_a.sql"], [], contents=["SELECT 1;"])
    assert plan["errors"] == [] and plan["pending"][0]["name"] == "001_a.sql"
