"""Static checks of the schema migrations in files/migrations/ (no database needed).

The migrations role applies each file through community.postgresql.postgresql_query
(autocommit off): the whole file and its ledger row in one transaction, as the
non-superuser database owner, on the Apache or the Community edition of TimescaleDB.
These tests pin the properties that make that work; tests/integration/
test_schema_apply.py applies the files to a real TimescaleDB.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "files" / "migrations"

EXPECTED_FILES = [
    "001_init_telemetry.sql",
    "002_plc_equipment_management.sql",
    "003_production_management.sql",
    "004_advanced_production_features.sql",
    "005_andon_escalation_system.sql",
    "006_report_system.sql",
    "007_plc_integration_phase1.sql",
    "008_fix_critical_schema_issues.sql",
    "009_database_optimization.sql",
]

# docs/CONVENTIONS.md "Schema": hypertable -> time column
HYPERTABLES = {
    "metric_hist": "ts",
    "oee_calculations": "calculation_time",
    "energy_consumption": "consumption_time",
    "production_kpis": "kpi_date",
    "fault_event": "ts_on",
    "downtime_events": "start_time",
}

# TimescaleDB features under the Community ("timescale") license: the Apache
# edition refuses them, and compression/retention belong to the policies role.
COMMUNITY_ONLY = [
    "add_retention_policy",
    "remove_retention_policy",
    "add_compression_policy",
    "remove_compression_policy",
    "add_columnstore_policy",
    "compress_chunk",
    "decompress_chunk",
    "add_continuous_aggregate_policy",
    "add_reorder_policy",
    "add_job",
    "timescaledb.compress",
    "timescaledb.enable_columnstore",
    "timescaledb.continuous",
]

SCHEMA = "factory_telemetry"


# --------------------------------------------------------------------- helpers
# The role's own scanner and rule list (plugins/module_utils/migrations_scanner.py):
# what these tests accept is exactly what the role accepts.
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_scanner import (  # noqa: E402
    forbidden_statements,
    statement_texts,
)


def statements(sql: str) -> list[str]:
    """Top-level statements of SQL (skeletons: literals and bodies blanked, whitespace-normalized)."""
    return statement_texts(sql)


def skeleton(sql: str) -> str:
    return "\n".join(statements(sql))


def read(name: str) -> str:
    return (MIGRATIONS / name).read_text(encoding="utf-8")


ALL = {name: read(name) for name in EXPECTED_FILES if (MIGRATIONS / name).is_file()}


def all_statements() -> list[tuple[str, str]]:
    return [(name, stmt) for name, sql in ALL.items() for stmt in statements(sql)]


# ------------------------------------------------------------- names, order
def test_exactly_the_nine_files_in_order():
    found = sorted(p.name for p in MIGRATIONS.iterdir() if p.is_file())
    assert found == EXPECTED_FILES


def test_versions_are_contiguous_from_one():
    versions = [int(name[:3]) for name in EXPECTED_FILES]
    assert versions == list(range(1, len(EXPECTED_FILES) + 1))
    for name in EXPECTED_FILES:
        assert re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql", name), name


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_file_has_sql_and_a_header(name):
    sql = ALL[name]
    assert statements(sql), f"{name} has no SQL statement"
    head = sql.splitlines()[:12]
    assert head[0].strip() == f"-- {name}", f"{name}: first line must be '-- {name}'"
    header = "\n".join(head)
    assert "Purpose" in header and "Depends" in header, f"{name}: header lacks Purpose/Depends"
    assert sql.endswith("\n"), f"{name}: no trailing newline"
    sql.encode("ascii")  # plain ASCII: no smart quotes sneaking into identifiers


# ------------------------------------------- one implicit transaction, owner
@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_runs_in_the_roles_transaction(name):
    """The role's rule list: no transaction control, CONCURRENTLY, VACUUM, psql commands, ..."""
    assert forbidden_statements(ALL[name]) == [], name


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_runs_as_owner_without_superuser_things(name):
    text = skeleton(ALL[name])
    for pattern in (
        r"\bCREATE\s+EXTENSION\b",
        r"\bALTER\s+EXTENSION\b",
        r"\bGRANT\b",
        r"\bREVOKE\b",
        r"\bOWNER\s+TO\b",
        r"\bSET\s+ROLE\b",
        r"\bSET\s+SESSION\s+AUTHORIZATION\b",
        r"\bCREATE\s+(ROLE|USER)\b",
        r"\bALTER\s+DEFAULT\s+PRIVILEGES\b",
        r"\bSECURITY\s+DEFINER\b",
        r"\bLANGUAGE\s+(c|plpython3?u|plperlu)\b",
    ):
        assert not re.search(pattern, text, re.I), f"{name}: matches {pattern}"
    assert "ms5_migrations" not in ALL[name], f"{name} touches the ledger schema"
    assert not re.search(r"\bms5_(owner|app|reporting)\b", ALL[name]), f"{name} names a role"


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_no_community_only_timescaledb_features(name):
    text = ALL[name].lower()
    for feature in COMMUNITY_ONLY:
        assert feature not in text, f"{name} uses {feature} (Community license only)"


# ------------------------------------------------------------- schema rules
def test_schema_created_first_and_every_object_qualified():
    first = statements(ALL[EXPECTED_FILES[0]])[0]
    assert re.fullmatch(rf"CREATE SCHEMA IF NOT EXISTS {SCHEMA}", first)
    object_re = re.compile(
        r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?"
        r"(TABLE|VIEW|MATERIALIZED\s+VIEW|FUNCTION|PROCEDURE|TYPE|SEQUENCE|DOMAIN)\s+"
        r"(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z0-9_.\"]+)",
        re.I,
    )
    for name, stmt in all_statements():
        m = object_re.match(stmt)
        if m:
            assert m.group(2).startswith(f"{SCHEMA}."), f"{name}: {m.group(2)} not schema-qualified"
        targets = re.findall(r"^ALTER TABLE (?:IF EXISTS )?([\w.\"]+)", stmt)
        targets += re.findall(r"\bREFERENCES ([\w.\"]+)", stmt)
        targets += re.findall(r"^CREATE (?:UNIQUE )?INDEX \w+ ON ([\w.\"]+)", stmt)
        targets += re.findall(r"^CREATE TRIGGER \w+ .*? ON ([\w.\"]+)", stmt)
        targets += re.findall(r"\bEXECUTE FUNCTION ([\w.\"]+)", stmt)
        for target in targets:
            assert target.startswith(f"{SCHEMA}."), f"{name}: {target} not schema-qualified"


def test_hypertables_are_the_six_with_their_time_columns():
    found = {}
    for name, sql in ALL.items():
        for table, column in re.findall(
            r"create_hypertable\(\s*'factory_telemetry\.(\w+)'\s*,\s*by_range\(\s*'(\w+)'", sql
        ):
            found[table] = column
        # only the new dimension API (2.13+), which 2.19 and 2.29 both have
        assert len(re.findall(r"create_hypertable\(", sql)) == len(
            re.findall(r"create_hypertable\(\s*'[\w.]+'\s*,\s*by_range\(", sql)
        ), f"{name}: create_hypertable without by_range()"
    assert found == HYPERTABLES


def test_no_extra_index_on_a_hypertable_time_column_alone():
    """create_hypertable already makes the (time DESC) index; a copy only costs writes."""
    for name, stmt in all_statements():
        m = re.match(r"CREATE (?:UNIQUE )?INDEX \w+ ON factory_telemetry\.(\w+) \(([^)]*)\)", stmt, re.I)
        if m and m.group(1) in HYPERTABLES:
            columns = [c.split()[0] for c in m.group(2).split(",")]
            assert columns != [HYPERTABLES[m.group(1)]], f"{name}: duplicates the time index: {stmt}"


def test_every_explicit_index_says_which_query_it_serves():
    for name, sql in ALL.items():
        lines = sql.splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*CREATE\s+(UNIQUE\s+)?INDEX\b", line, re.I):
                before = lines[max(0, number - 12):number]
                assert any(b.lstrip().startswith("--") for b in before), (
                    f"{name}:{number + 1}: index without a comment naming its query path"
                )


def test_unique_keys_on_hypertables_include_the_time_column():
    for name, stmt in all_statements():
        m = re.match(r"CREATE TABLE factory_telemetry\.(\w+) \((.*)\)$", stmt, re.S)
        if not m or m.group(1) not in HYPERTABLES:
            continue
        time_column = HYPERTABLES[m.group(1)]
        for cols in re.findall(r"(?:PRIMARY KEY|UNIQUE(?: NULLS NOT DISTINCT)?) \(([^)]*)\)", m.group(2)):
            assert time_column in [c.strip() for c in cols.split(",")], f"{name}: {m.group(1)} key ({cols})"
        assert not re.search(r"\b(PRIMARY KEY|UNIQUE)\s*,", m.group(2)), f"{name}: inline key on {m.group(1)}"


def test_totals_across_files():
    stmts = [s for _, s in all_statements()]
    tables = [s for s in stmts if re.match(r"CREATE TABLE\b", s)]
    views = [s for s in stmts if re.match(r"CREATE (OR REPLACE )?VIEW\b", s)]
    assert len(tables) >= 25
    assert len(views) >= 10
    text = "\n".join(stmts)
    assert re.search(r"CREATE FUNCTION factory_telemetry\.calculate_oee\(", text)
    assert re.search(r"CREATE FUNCTION factory_telemetry\.andon_escalation_due_at\(", text)


def test_008_changes_real_things():
    stmts = statements(ALL["008_fix_critical_schema_issues.sql"])
    kinds = " ".join(stmts)
    assert re.search(r"ALTER COLUMN \w+ TYPE", kinds), "no column type fix"
    assert re.search(r"ALTER COLUMN \w+ SET NOT NULL", kinds), "no NOT NULL fix"
    assert re.search(r"ADD CONSTRAINT \w+ CHECK", kinds), "no CHECK fix"
    assert re.search(r"ON DELETE RESTRICT", kinds), "no ON DELETE fix"
    assert any(s.startswith("CREATE INDEX") for s in stmts), "no missing-index fix"
    # one comment per fix
    fixes = re.findall(r"^-- Fix \d+ \(", ALL["008_fix_critical_schema_issues.sql"], re.M)
    assert len(fixes) >= 5


def test_foreign_keys_state_their_on_delete():
    """Every FK says what happens on delete: a deliberate choice, not the default."""
    for name, stmt in all_statements():
        for m in re.finditer(r"REFERENCES factory_telemetry\.\w+ \([^)]*\)(.{0,30})", stmt):
            assert "ON DELETE" in m.group(1), f"{name}: FK without ON DELETE: {m.group(0)}"
