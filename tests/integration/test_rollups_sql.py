"""The rollups' SQL against a real PostgreSQL 17 + TimescaleDB (the CI image, Apache edition).

The Community edition's statements (continuous aggregates, their policies, compression,
hierarchical aggregates, the status view reading cagg_watermark) cannot run on the
Apache edition. This test checks what a real server can check without them:

- every Community statement parses (PostgreSQL's own parser, through the plpgsql
  validator, which parses a function's statements without running them);
- the SELECT of every continuous aggregate (plain and hierarchical) runs against the
  Apache edition's rollups, which have the same names and columns, and returns the
  columns and types the Apache edition's tables have;
- the Community status view is created on the real catalogs.

It applies migrations 001-009 and the Apache plan to a throwaway container of
ms5-test-timescaledb:latest (or MS5_TEST_TIMESCALEDB_IMAGE). Skipped only without a
Docker engine. Run: .venv/bin/pytest -v tests/integration/test_rollups_sql.py
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ms5_rollups_utils_it", ROOT / "plugins/module_utils/rollups.py")
R = importlib.util.module_from_spec(_spec)
sys.modules["ms5_rollups_utils_it"] = R
_spec.loader.exec_module(R)

IMAGE = os.environ.get("MS5_TEST_TIMESCALEDB_IMAGE", "ms5-test-timescaledb:latest")
DB = "factory_telemetry"
MIGRATIONS = sorted((ROOT / "files" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
BASE_SQL = (ROOT / "roles/rollups/files/sql/rollups_base.sql").read_text()
DEFAULTS = yaml.safe_load((ROOT / "roles/rollups/defaults/main.yml").read_text())


def _docker_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _docker_reachable(), reason="no Docker engine reachable")

SETUP_SQL = """
CREATE ROLE ms5_owner LOGIN NOSUPERUSER;
CREATE ROLE ms5_app LOGIN NOSUPERUSER;
ALTER DATABASE factory_telemetry OWNER TO ms5_owner;
CREATE EXTENSION IF NOT EXISTS timescaledb;
ALTER DEFAULT PRIVILEGES FOR ROLE ms5_owner GRANT USAGE ON SCHEMAS TO ms5_app;
ALTER DEFAULT PRIVILEGES FOR ROLE ms5_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ms5_app;
"""


class Database:
    def __init__(self, container: str):
        self.container = container

    def run(self, sql: str, user: str = "ms5_owner", single: bool = False) -> subprocess.CompletedProcess:
        args = ["-c", sql] if single else []
        cmd = ["docker", "exec", "-i", self.container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t",
               "-F", "\t", "-U", user, "-d", DB, *args]
        return subprocess.run(cmd, input=None if single else sql, capture_output=True, text=True, timeout=300)

    def query(self, sql: str, user: str = "ms5_owner") -> list[list[str]]:
        res = self.run(sql, user)
        assert res.returncode == 0, f"psql failed:\n{res.stderr}\nSQL:\n{sql[:3000]}"
        return [line.split("\t") for line in res.stdout.splitlines() if line]


def _wait_ready(container: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "exec", container, "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", DB],
                          capture_output=True).returncode == 0:
            return
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", "--tail", "40", container], capture_output=True, text=True)
    raise AssertionError(f"{container} not ready:\n{logs.stdout}{logs.stderr}")


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    assert subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0, (
        f"image {IMAGE} is not in the local Docker engine: build it with `make images`")
    container = f"ms5-rollups-sql-{secrets.token_hex(4)}"
    run = subprocess.run(["docker", "run", "-d", "--name", container, "--memory", "1g", "-e",
                          f"POSTGRES_PASSWORD={secrets.token_urlsafe(16)}", "-e", f"POSTGRES_DB={DB}", IMAGE],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    try:
        _wait_ready(container)
        database = Database(container)
        database.query(SETUP_SQL, user="postgres")
        for path in MIGRATIONS:
            res = database.run(path.read_text(encoding="utf-8"), single=True)
            assert res.returncode == 0, f"{path.name}: {res.stderr}"
        yield database
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True)


@pytest.fixture(scope="module")
def rollups(db):
    """The defaults, typed with the real columns, and applied as the Apache edition does."""
    rolls = R.normalize_all(DEFAULTS["rollups_definitions"])
    typed = []
    for r in rolls:
        rows = db.query(f"SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        f"WHERE attrelid = '{r['raw_table']}'::regclass AND attnum > 0 AND NOT attisdropped")
        typed.append(R.typed(r, dict(rows)))
    api = R.choose_api("apache", "2.19.3", {"by_range": ["public"]})
    plan = R.plan(typed, {"catalog": {}, "relations": {}, "default_writers": ["ms5_app"]}, api, BASE_SQL)
    db.query("BEGIN;\n" + ";\n".join(plan["statements"]) + ";\nCOMMIT;")
    return {r["name"]: r for r in typed}


COMMUNITY_APIS = {
    "2.29 (columnstore)": R.choose_api("timescale", "2.29.2", {"by_range": ["public"],
                                                                "add_columnstore_policy": ["public"],
                                                                "cagg_watermark": ["_timescaledb_functions"]}),
    "2.11 (compression API)": R.choose_api("timescale", "2.11.2", {"by_range": ["public"],
                                                                    "cagg_watermark": ["_timescaledb_internal"]}),
    "2.8 (no hierarchical)": R.choose_api("timescale", "2.8.1", {"cagg_watermark": ["_timescaledb_internal"]}),
}


def community_statements(rolls, api):
    plan = R.plan(list(rolls.values()), {"catalog": {}, "relations": {}, "default_writers": ["ms5_app"]}, api,
                  BASE_SQL)
    stmts = [s for s in plan["statements"] if s != BASE_SQL]
    stmts += [R.sql_cagg_initial_refresh(r) for r in rolls.values()]
    current = {"refresh_job": True, "refresh_start": 1.0, "refresh_end": 1.0, "refresh_schedule": 1.0,
               "compression_after": 1.0, "retention": 1.0, "compression_enabled": True, "chunk": 1.0}
    for r in rolls.values():
        stmts += R.sql_cagg_policies(dict(r, compression=None, retention=None), current, api)
    for name in rolls:
        stmts += R.sql_cagg_drop(name)
    return stmts


@pytest.mark.parametrize("version", sorted(COMMUNITY_APIS))
def test_community_statements_parse(db, rollups, version):
    api = COMMUNITY_APIS[version]
    stmts = community_statements(rollups, api)
    text = "\n".join(stmts)
    for expected in ("CREATE MATERIALIZED VIEW", "add_continuous_aggregate_policy(", "add_retention_policy(",
                     "remove_retention_policy(", "DROP MATERIALIZED VIEW", "CALL refresh_continuous_aggregate(",
                     "set_chunk_time_interval(", "CREATE VIEW \"ms5_rollups\".status"):
        assert expected in text, expected
    if api["columnstore"]:
        assert "CALL add_columnstore_policy(" in text and "CALL remove_columnstore_policy(" in text
    else:
        assert "add_compression_policy(" in text and "remove_compression_policy(" in text
    body = "\n".join("    IF false THEN\n        %s;\n    END IF;" % s for s in stmts)
    fn = "CREATE FUNCTION pg_temp.ms5_parse_only() RETURNS void LANGUAGE plpgsql AS $ms5parse$\nBEGIN\n%s\nEND;\n$ms5parse$" % body
    res = db.run(fn + ";\n")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("version", sorted(COMMUNITY_APIS))
def test_continuous_aggregate_queries_run_and_match_the_apache_columns(db, rollups, version):
    api = COMMUNITY_APIS[version]
    for name, r in rollups.items():
        src = rollups.get(r["source_rollup"]) if r["source_rollup"] else None
        create = R.sql_cagg_create(r, src, api)[0]
        select = create.split(" AS\n", 1)[1].rsplit("\nWITH NO DATA", 1)[0]
        cols = db.query("CREATE TEMPORARY VIEW ms5_cagg_probe AS %s;\n"
                        "SELECT attname, format_type(atttypid, -1) FROM pg_attribute "
                        "WHERE attrelid = 'ms5_cagg_probe'::regclass AND attnum > 0 ORDER BY attnum;\n"
                        "DROP VIEW ms5_cagg_probe;" % select)
        apache = db.query(f"SELECT attname, format_type(atttypid, -1) FROM pg_attribute "
                          f"WHERE attrelid = 'ms5_rollups.{name}'::regclass AND attnum > 0 ORDER BY attnum")
        assert cols == apache, f"{name} ({version}): continuous aggregate columns differ from the Apache edition's"


def test_community_status_view_is_created_on_the_real_catalogs(db, rollups):
    api = COMMUNITY_APIS["2.29 (columnstore)"]
    view = R.sql_status_view(api)[1].replace('CREATE VIEW "ms5_rollups".status', "CREATE TEMPORARY VIEW ms5_status_probe")
    rows = db.query(view + ";\nSELECT count(*), count(*) FILTER (WHERE kind = 'table') FROM ms5_status_probe;")
    assert rows[-1] == ["4", "4"]


def test_apache_history_loaded_after_creation_is_built_on_the_next_refresh(db, rollups):
    """Sources empty when the rollups are made (a fresh site.yml): the watermark follows now(),
    so queries stay cheap; history loaded later (a cutover) is built from its oldest row."""
    rows = db.query("CALL ms5_rollups.refresh(NULL, true);\n"
                    "SELECT relation, last_refresh_status, watermark = time_bucket(bucket, now()), built_from IS NULL "
                    "FROM ms5_rollups.catalog WHERE level = 0 ORDER BY 1")
    assert [r[1:] for r in rows[1:]] == [["source empty", "t", "t"]] * 3
    db.query("INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type) "
             "VALUES ('HIST', 'old', 'REAL');\n"
             "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
             "SELECT (SELECT id FROM factory_telemetry.metric_def WHERE metric_key = 'old'), t, extract(hour FROM t) "
             "FROM generate_series(now() - interval '20 days', now() - interval '10 days', interval '1 minute') AS t;")
    trend = ("SELECT count(*), sum(samples) FROM ms5_rollups.metric_trend("
             "(SELECT id FROM factory_telemetry.metric_def WHERE metric_key = 'old'), now() - interval '30 days', now())")
    assert db.query(trend) == [["0", ""]], "before a refresh the history is not in the rollups"
    out = db.query("CALL ms5_rollups.refresh(NULL, true)")
    assert '"status": "refreshed"' in out[0][0]
    count, samples = db.query(trend)[0]
    assert int(count) == 241 and int(samples) == 14401
    built = db.query("SELECT relation, built_from < now() - interval '19 days' FROM ms5_rollups.catalog "
                     "WHERE relation LIKE 'ms5_rollups.metric_hist_%' ORDER BY 1")
    assert built == [["ms5_rollups.metric_hist_1h", "t"], ["ms5_rollups.metric_hist_1m", "t"]]
