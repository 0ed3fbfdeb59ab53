"""Apply files/migrations/001..009 to a real TimescaleDB and check what they built.

Starts a throwaway container of the local test image (``ms5-test-timescaledb:latest``,
override with MS5_TEST_TIMESCALEDB_IMAGE, e.g. ``timescale/timescaledb:2.29.2-pg17``),
prepares it the way the timescaledb role does (owner/app/reporting roles, the owner
owns the database, the superuser creates the extension, default privileges), then
applies each migration as the NON-superuser owner the way the migrations role does:
the whole file as one simple query, i.e. one implicit transaction (what
community.postgresql.postgresql_script does with autocommit on). The container is
removed afterwards, pass or fail.

Skipped only when no Docker engine is reachable. Run by hand:
    .venv/bin/pytest -v tests/integration/test_schema_apply.py
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "files" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
IMAGE = os.environ.get("MS5_TEST_TIMESCALEDB_IMAGE", "ms5-test-timescaledb:latest")
DB = "factory_telemetry"
OWNER, APP, REPORTING = "ms5_owner", "ms5_app", "ms5_reporting"

HYPERTABLES = {
    "metric_hist": ("ts", "01:00:00"),
    "oee_calculations": ("calculation_time", "1 day"),
    "energy_consumption": ("consumption_time", "1 day"),
    "production_kpis": ("kpi_date", "30 days"),
    "fault_event": ("ts_on", "7 days"),
    "downtime_events": ("start_time", "7 days"),
}


def _docker_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _docker_reachable(), reason="no Docker engine reachable")


class PsqlError(AssertionError):
    """psql exited non-zero; the message carries the server's error text."""


class Database:
    """A throwaway TimescaleDB container, reached with `docker exec ... psql`."""

    def __init__(self, container: str):
        self.container = container

    def _psql(self, args: list[str], user: str, stdin: str | None) -> subprocess.CompletedProcess:
        cmd = ["docker", "exec", "-i", self.container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
               "-U", user, "-d", DB, *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)

    def query(self, sql: str, user: str = "postgres") -> list[list[str]]:
        """Run SQL (one or more statements, psql script), return the rows of the last result."""
        res = self._psql(["-A", "-t", "-F", "\t"], user, sql)
        if res.returncode != 0:
            raise PsqlError(f"psql as {user} failed ({res.returncode}):\n{res.stderr}\nSQL:\n{sql}")
        return [line.split("\t") for line in res.stdout.splitlines() if line != ""]

    def value(self, sql: str, user: str = "postgres") -> str:
        rows = self.query(sql, user)
        assert len(rows) == 1 and len(rows[0]) == 1, f"expected one value, got {rows!r} for {sql}"
        return rows[0][0]

    def fails(self, sql: str, user: str = APP) -> str:
        """Run SQL expecting an error; return the server's message."""
        res = self._psql(["-A", "-t"], user, sql)
        assert res.returncode != 0, f"expected an error as {user}, but it succeeded:\n{sql}"
        return res.stderr

    def apply_file(self, path: Path, user: str = OWNER) -> subprocess.CompletedProcess:
        """Send the whole file as ONE simple query (psql -c): one implicit transaction,
        as community.postgresql.postgresql_script does with autocommit on."""
        return self._psql(["-c", path.read_text(encoding="utf-8")], user, None)


def _wait_ready(container: str, timeout: float = 120.0) -> None:
    # Only the final server listens on TCP (the init-time server has
    # listen_addresses=''), so a TCP pg_isready means init is complete.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = subprocess.run(["docker", "exec", container, "pg_isready", "-h", "127.0.0.1", "-U", "postgres",
                              "-d", DB], capture_output=True, text=True)
        if res.returncode == 0:
            return
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container],
                               capture_output=True, text=True).stdout.strip()
        if state == "false":
            break
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", "--tail", "60", container], capture_output=True, text=True)
    raise AssertionError(f"TimescaleDB container {container} not ready:\n{logs.stdout}{logs.stderr}")


SETUP_SQL = f"""
CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE {APP} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE {REPORTING} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER DATABASE {DB} OWNER TO {OWNER};
CREATE EXTENSION IF NOT EXISTS timescaledb;
REVOKE ALL ON DATABASE {DB} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {DB} TO {APP}, {REPORTING};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT USAGE ON SCHEMAS TO {APP}, {REPORTING};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT SELECT ON TABLES TO {REPORTING};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT SELECT ON SEQUENCES TO {REPORTING};
"""


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    inspect = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, text=True)
    assert inspect.returncode == 0, (
        f"image {IMAGE} is not in the local Docker engine: build it with `make images` "
        "(or set MS5_TEST_TIMESCALEDB_IMAGE)"
    )
    container = f"ms5-schema-test-{secrets.token_hex(4)}"
    run = subprocess.run(
        ["docker", "run", "-d", "--name", container, "--memory", "1g",
         "-e", f"POSTGRES_PASSWORD={secrets.token_urlsafe(16)}", "-e", f"POSTGRES_DB={DB}", IMAGE],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, f"docker run failed: {run.stderr}"
    try:
        _wait_ready(container)
        database = Database(container)
        database.query(SETUP_SQL)
        for path in MIGRATIONS:
            res = database.apply_file(path)
            assert res.returncode == 0, f"{path.name} failed as {OWNER}:\n{res.stderr}"
        yield database
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True)


# ----------------------------------------------------------------- structure
def test_nine_files_applied_as_non_superuser_owner(db):
    assert [p.name[:3] for p in MIGRATIONS] == [f"{v:03d}" for v in range(1, 10)]
    assert db.value(f"SELECT rolsuper FROM pg_roles WHERE rolname = '{OWNER}'") == "f"
    owners = db.query(
        """
        SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
        WHERE c.relnamespace = 'factory_telemetry'::regnamespace
        UNION SELECT pg_get_userbyid(p.proowner) FROM pg_proc p
        WHERE p.pronamespace = 'factory_telemetry'::regnamespace
        UNION SELECT pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE n.nspname = 'factory_telemetry'
        """
    )
    assert owners == [[OWNER]]


def test_edition_is_reported(db):
    # the files must work on both; say which one this run proved
    license_ = db.value("SHOW timescaledb.license")
    version = db.value("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    print(f"TimescaleDB {version}, license {license_}")
    assert license_ in {"apache", "timescale"}


def test_object_counts(db):
    counts = dict(
        (k, int(v))
        for k, v in db.query(
            """
            SELECT 'tables', count(*) FROM pg_tables WHERE schemaname = 'factory_telemetry'
            UNION ALL SELECT 'indexes', count(*) FROM pg_indexes WHERE schemaname = 'factory_telemetry'
            UNION ALL SELECT 'views', count(*) FROM pg_views WHERE schemaname = 'factory_telemetry'
            """
        )
    )
    assert counts["tables"] >= 25, counts
    assert counts["indexes"] >= 50, counts
    assert counts["views"] >= 10, counts
    functions = {r[0] for r in db.query(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'factory_telemetry'::regnamespace"
    )}
    assert "factory_telemetry.calculate_oee(uuid,timestamp with time zone,timestamp with time zone)" in functions
    assert ("factory_telemetry.andon_escalation_due_at(text,integer,timestamp with time zone)"
            in functions)


def test_six_hypertables_with_time_column_and_chunk_interval(db):
    rows = db.query(
        """
        SELECT d.hypertable_name, d.column_name, d.time_interval::text
        FROM timescaledb_information.dimensions d
        WHERE d.hypertable_schema = 'factory_telemetry' ORDER BY 1
        """
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == HYPERTABLES
    names = {r[0] for r in db.query(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = 'factory_telemetry'"
    )}
    assert names == set(HYPERTABLES)


def test_time_index_not_duplicated(db):
    for table, (column, _) in HYPERTABLES.items():
        n = db.value(
            f"""
            SELECT count(*) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = 'factory_telemetry.{table}'::regclass
              AND i.indnatts = 1 AND a.attname = '{column}'
            """
        )
        assert n == "1", f"{table}: {n} single-column indexes on {column}"


def test_foreign_keys_that_act_on_delete_are_indexed(db):
    """A CASCADE / SET NULL foreign key acts on the child whenever a parent row is
    deleted; without an index leading with its columns, each such delete scans the
    child. RESTRICT keys guard parents that are never deleted in operation (retire
    them with enabled/is_active), users are deactivated rather than deleted, and
    the small configuration tables listed below are cheaper to scan than to index."""
    rows = db.query(
        """
        SELECT c.conrelid::regclass::text, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'factory_telemetry'::regnamespace
          AND c.confdeltype IN ('c', 'n')
          AND c.confrelid <> 'factory_telemetry.users'::regclass
          AND c.conrelid::regclass::text NOT IN (
                'factory_telemetry.context', 'factory_telemetry.equipment_config',
                'factory_telemetry.andon_escalation_recipients',
                'factory_telemetry.defect_codes', 'factory_telemetry.report_schedules')
          AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey)
        ORDER BY 1, 2
        """
    )
    assert rows == [], f"foreign keys without an index: {rows}"


# ------------------------------------------------------ data through the app
def test_metric_hist_row_for_a_real_metric_definition(db):
    db.query(
        """
        INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, unit)
        VALUES ('BP01.PACK', 'speed_real', 'REAL', 'ppm');
        INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
        SELECT id, '2026-11-20 10:00:01+00', 118.5 FROM factory_telemetry.metric_def
        WHERE equipment_code = 'BP01.PACK' AND metric_key = 'speed_real';
        INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
        SELECT id, '2026-11-20 11:00:01+00', 120.0 FROM factory_telemetry.metric_def
        WHERE equipment_code = 'BP01.PACK' AND metric_key = 'speed_real';
        INSERT INTO factory_telemetry.metric_latest (metric_def_id, ts, value_real)
        SELECT id, '2026-11-20 11:00:01+00', 120.0 FROM factory_telemetry.metric_def
        WHERE equipment_code = 'BP01.PACK' AND metric_key = 'speed_real';
        """,
        user=APP,
    )
    rows = db.query(
        """
        SELECT d.metric_key, h.ts AT TIME ZONE 'UTC', h.value_real
        FROM factory_telemetry.metric_hist h
        JOIN factory_telemetry.metric_def d ON d.id = h.metric_def_id
        WHERE d.equipment_code = 'BP01.PACK' ORDER BY h.ts
        """,
        user=REPORTING,
    )
    assert rows == [["speed_real", "2026-11-20 10:00:01", "118.5"], ["speed_real", "2026-11-20 11:00:01", "120"]]
    # two 1-hour chunks, created by the application role's inserts
    assert db.value(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metric_hist'"
    ) == "2"
    latest = db.query(
        "SELECT metric_key, value_real FROM factory_telemetry.v_equipment_latest_values "
        "WHERE equipment_code = 'BP01.PACK'",
        user=REPORTING,
    )
    assert latest == [["speed_real", "120"]]
    # the same sample twice is refused by the primary key (ingest uses ON CONFLICT)
    err = db.fails(
        "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
        "SELECT id, '2026-11-20 10:00:01+00', 1 FROM factory_telemetry.metric_def WHERE metric_key = 'speed_real'"
    )
    assert "metric_hist_pkey" in err
    # a metric with history cannot be deleted (disable it instead)
    err = db.fails("DELETE FROM factory_telemetry.metric_def WHERE metric_key = 'speed_real'")
    assert "metric_hist_metric_def_id_fkey" in err


SAMPLE_SQL = """
INSERT INTO factory_telemetry.production_lines (id, line_code, name)
VALUES ('00000000-0000-0000-0000-0000000000a1', 'L1', 'Line 1'),
       ('00000000-0000-0000-0000-0000000000a2', 'L2', 'Line 2');
INSERT INTO factory_telemetry.equipment_config (equipment_code, name, production_line_id, equipment_type)
VALUES ('L1.FILLER', 'Filler', '00000000-0000-0000-0000-0000000000a1', 'filler'),
       ('L1.PACKER', 'Packer', '00000000-0000-0000-0000-0000000000a1', 'packer');
INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, oee_role)
VALUES ('L1.FILLER', 'good_count', 'INT', 'good_count');
INSERT INTO factory_telemetry.product_types (id, product_code, name, ideal_cycle_time)
VALUES ('00000000-0000-0000-0000-0000000000b1', 'P-500', 'Bottle 500 ml', 0.5);
INSERT INTO factory_telemetry.users (id, username, role)
VALUES ('00000000-0000-0000-0000-0000000000c1', 'op1', 'operator');
-- window 08:00-16:00 (28800 s); planned stop 12:00-12:30 (1800 s)
-- unplanned: 09:00-10:00 and 09:30-10:30 overlap -> 5400 s merged;
--            15:50-16:20 -> 600 s inside the window;
--            12:15-12:45 overlaps the planned stop -> 900 s (12:30-12:45) counted
-- run time = 27000 - 6900 = 20100 s -> availability 0.7444
INSERT INTO factory_telemetry.downtime_events (line_id, equipment_code, start_time, end_time, reason_code, category)
VALUES
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 12:00+00', '2026-11-20 12:30+00', 'BREAK', 'planned'),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 09:00+00', '2026-11-20 10:00+00', 'JAM', 'unplanned'),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.PACKER', '2026-11-20 09:30+00', '2026-11-20 10:30+00', 'JAM', 'unplanned'),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.PACKER', '2026-11-20 15:50+00', '2026-11-20 16:20+00', 'MATERIAL', 'unplanned'),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 12:15+00', '2026-11-20 12:45+00', 'ELECTRICAL', 'maintenance'),
 ('00000000-0000-0000-0000-0000000000a2', 'L2.X', '2026-11-20 08:00+00', '2026-11-20 16:00+00', 'OTHER_LINE', 'unplanned');
-- counts: performance = (50 + 40) * 1.0 s / 120 s = 0.75; quality = 88 / 90 = 0.9778
INSERT INTO factory_telemetry.oee_calculations
  (line_id, equipment_code, calculation_time, planned_production_time, run_time, ideal_cycle_time, total_parts, good_parts)
VALUES
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 08:01+00', 60, 60, 1.0, 50, 48),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 08:02+00', 60, 60, 1.0, 40, 40),
 ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 16:00+00', 60, 60, 1.0, 10, 0);
"""


@pytest.fixture(scope="module")
def sample(db):
    db.query(SAMPLE_SQL, user=APP)
    return db


def test_calculate_oee_on_sample_data(sample):
    row = sample.query(
        "SELECT availability, performance, quality, oee FROM factory_telemetry.calculate_oee("
        "'00000000-0000-0000-0000-0000000000a1', '2026-11-20 08:00+00', '2026-11-20 16:00+00')",
        user=REPORTING,
    )
    assert row == [["0.7444", "0.7500", "0.9778", "0.5459"]]


def test_calculate_oee_without_production_and_bad_input(sample):
    # no planned time lost, no counts: availability 1, the rest unknown (NULL)
    row = sample.query(
        "SELECT availability, performance, quality, oee FROM factory_telemetry.calculate_oee("
        "'00000000-0000-0000-0000-0000000000a1', '2026-11-21 08:00+00', '2026-11-21 09:00+00')"
    )
    assert row == [["1.0000", "", "", ""]]
    err = sample.fails(
        "SELECT * FROM factory_telemetry.calculate_oee('00000000-0000-0000-0000-0000000000a1', "
        "'2026-11-20 16:00+00', '2026-11-20 08:00+00')"
    )
    assert "must be after" in err
    err = sample.fails(
        "SELECT * FROM factory_telemetry.calculate_oee('00000000-0000-0000-0000-00000000dead', "
        "'2026-11-20 08:00+00', '2026-11-20 16:00+00')"
    )
    assert "no production line" in err


def test_downtime_pareto_and_line_status_views(sample):
    # a line of its own, with downtime inside the views' recent window
    sample.query(
        """
        INSERT INTO factory_telemetry.production_lines (id, line_code, name)
        VALUES ('00000000-0000-0000-0000-0000000000a3', 'L3', 'Line 3');
        INSERT INTO factory_telemetry.equipment_config (equipment_code, name, production_line_id)
        VALUES ('L3.FILLER', 'Filler', '00000000-0000-0000-0000-0000000000a3'),
               ('L3.PACKER', 'Packer', '00000000-0000-0000-0000-0000000000a3');
        INSERT INTO factory_telemetry.downtime_events (line_id, equipment_code, start_time, end_time, reason_code, category)
        VALUES ('00000000-0000-0000-0000-0000000000a3', 'L3.FILLER', now() - interval '3 hours', now() - interval '2 hours', 'JAM', 'unplanned'),
               ('00000000-0000-0000-0000-0000000000a3', 'L3.FILLER', now() - interval '90 minutes', now() - interval '60 minutes', 'MATERIAL', 'unplanned'),
               ('00000000-0000-0000-0000-0000000000a3', 'L3.PACKER', now() - interval '10 minutes', NULL, 'ELECTRICAL', 'maintenance');
        """,
        user=APP,
    )
    pareto = sample.query(
        "SELECT reason_code, round(downtime_minutes), pareto_rank, cumulative_pct "
        "FROM factory_telemetry.v_downtime_pareto WHERE line_code = 'L3' ORDER BY pareto_rank",
        user=REPORTING,
    )
    assert [r[0] for r in pareto] == ["JAM", "MATERIAL", "ELECTRICAL"]
    assert [r[1] for r in pareto[:2]] == ["60", "30"]
    assert pareto[-1][3] == "100.0"
    status = sample.query(
        "SELECT status, equipment_count, open_downtime_events FROM factory_telemetry.v_line_status "
        "WHERE line_code = 'L3'",
        user=REPORTING,
    )
    assert status == [["down", "2", "1"]]


def test_oee_by_line_shift_and_energy_per_unit_views(sample):
    """Shift assignment (including a shift across midnight) and energy per good unit."""
    sample.query(
        """
        SET TIME ZONE 'UTC';
        INSERT INTO factory_telemetry.production_lines (id, line_code, name)
        VALUES ('00000000-0000-0000-0000-0000000000a4', 'L4', 'Line 4');
        INSERT INTO factory_telemetry.shifts (shift_code, name, start_time, end_time)
        VALUES ('A', 'Early', '06:00', '14:00'), ('N', 'Night', '22:00', '06:00');
        INSERT INTO factory_telemetry.oee_calculations
          (line_id, equipment_code, calculation_time, planned_production_time, run_time, ideal_cycle_time,
           total_parts, good_parts)
        VALUES
         ('00000000-0000-0000-0000-0000000000a4', 'L4.M', date_trunc('day', now()) - interval '2 days' + interval '7 hours',
          60, 30, 1.0, 30, 27),
         ('00000000-0000-0000-0000-0000000000a4', 'L4.M', date_trunc('day', now()) - interval '2 days' + interval '23 hours',
          60, 60, 1.0, 60, 60),
         ('00000000-0000-0000-0000-0000000000a4', 'L4.M', date_trunc('day', now()) - interval '1 day' + interval '1 hour',
          60, 60, 1.0, 30, 30);
        INSERT INTO factory_telemetry.energy_consumption (equipment_code, line_id, consumption_time, energy_kwh)
        VALUES ('L4.M', '00000000-0000-0000-0000-0000000000a4', date_trunc('day', now()) - interval '2 days' + interval '8 hours', 12.5),
               ('L4.M', '00000000-0000-0000-0000-0000000000a4', date_trunc('day', now()) - interval '2 days' + interval '9 hours', 2.5);
        """,
        user=APP,
    )
    rows = sample.query(
        """
        SET TIME ZONE 'UTC';
        SELECT shift_code, shift_date = (now()::date - 2), total_parts, good_parts, availability, performance,
               quality, oee
        FROM factory_telemetry.v_oee_by_line_shift WHERE line_code = 'L4' ORDER BY shift_code
        """,
        user=REPORTING,
    )
    # A: 30 s run of 60 planned, 30 parts x 1 s in 30 s, 27/30 good
    # N: 22:00 day D and 01:00 day D+1 are one night shift of day D
    assert rows == [
        ["A", "t", "30", "27", "0.5000", "1.0000", "0.9000", "0.4500"],
        ["N", "t", "90", "90", "1.0000", "0.7500", "1.0000", "0.7500"],
    ]
    energy = sample.query(
        """
        SET TIME ZONE 'UTC';
        SELECT energy_kwh, good_parts, kwh_per_unit FROM factory_telemetry.v_energy_per_unit
        WHERE line_code = 'L4' ORDER BY day
        """,
        user=REPORTING,
    )
    # day D: 15 kWh for 27 + 60 good parts
    assert energy == [["15.0000", "87", "0.172414"]]


def test_active_faults_view(sample):
    sample.query(
        """
        INSERT INTO factory_telemetry.fault_catalog (equipment_code, bit_index, fault_code, description, severity)
        VALUES ('L1.FILLER', 7, 'F007', 'Bottle jam at infeed', 'critical');
        INSERT INTO factory_telemetry.fault_active (equipment_code, bit_index, ts_on)
        VALUES ('L1.FILLER', 7, now() - interval '2 minutes');
        INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on)
        VALUES ('L1.FILLER', 7, now() - interval '2 minutes');
        """,
        user=APP,
    )
    rows = sample.query(
        "SELECT line_code, equipment_name, fault_code, severity, active_for > interval '1 minute' "
        "FROM factory_telemetry.v_active_faults",
        user=REPORTING,
    )
    assert rows == [["L1", "Filler", "F007", "critical", "t"]]
    # a catalog entry with an active fault goes with it (CASCADE); history stays
    sample.query("DELETE FROM factory_telemetry.fault_catalog WHERE fault_code = 'F007'", user=APP)
    assert sample.value("SELECT count(*) FROM factory_telemetry.fault_active") == "0"
    assert sample.value("SELECT count(*) FROM factory_telemetry.fault_event WHERE bit_index = 7") == "1"


def test_andon_escalation_due_time(sample):
    sample.query(
        """
        INSERT INTO factory_telemetry.andon_escalation_rules (priority, escalation_level, delay_minutes, notify_roles)
        VALUES ('high', 1, 5, '{shift_manager}'), ('high', 2, 15, '{production_manager}'),
               ('high', 3, 60, '{admin}');
        UPDATE factory_telemetry.andon_escalation_rules SET enabled = false WHERE escalation_level = 3;
        INSERT INTO factory_telemetry.andon_events (id, line_id, equipment_code, event_type, priority, description, created_at)
        VALUES ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-0000000000a1', 'L1.FILLER',
                'stop', 'high', 'filler stopped', now() - interval '10 minutes');
        """,
        user=APP,
    )
    assert sample.value(
        "SELECT factory_telemetry.andon_escalation_due_at('high', 2, '2026-11-20 08:00+00') AT TIME ZONE 'UTC'"
    ) == "2026-11-20 08:15:00"
    # disabled or missing rule: no due time
    assert sample.value("SELECT factory_telemetry.andon_escalation_due_at('high', 3, now()) IS NULL") == "t"
    assert sample.value("SELECT factory_telemetry.andon_escalation_due_at('low', 1, now()) IS NULL") == "t"

    board = "SELECT current_level, next_level, escalation_overdue FROM factory_telemetry.v_andon_open_escalations " \
            "WHERE andon_event_id = '00000000-0000-0000-0000-0000000000e1'"
    # created 10 minutes ago: level 1 (5 min) is overdue
    assert sample.query(board, user=REPORTING) == [["", "1", "t"]]
    sample.query(
        """
        INSERT INTO factory_telemetry.andon_escalations (andon_event_id, escalation_level, due_at, status)
        VALUES ('00000000-0000-0000-0000-0000000000e1', 1, now() - interval '5 minutes', 'notified');
        UPDATE factory_telemetry.andon_events SET status = 'escalated'
        WHERE id = '00000000-0000-0000-0000-0000000000e1';
        """,
        user=APP,
    )
    # level 2 is due at 15 minutes: not yet
    assert sample.query(board, user=REPORTING) == [["1", "2", "f"]]
    # the same level cannot be raised twice (008 fix 5)
    err = sample.fails(
        "INSERT INTO factory_telemetry.andon_escalations (andon_event_id, escalation_level, due_at) "
        "VALUES ('00000000-0000-0000-0000-0000000000e1', 1, now())"
    )
    assert "andon_escalations_event_level_key" in err
    # acknowledged: escalation stops, the event leaves the board
    sample.query(
        "UPDATE factory_telemetry.andon_events SET status = 'acknowledged', acknowledged_at = now() "
        "WHERE id = '00000000-0000-0000-0000-0000000000e1'",
        user=APP,
    )
    assert sample.query(board, user=REPORTING) == []
    assert sample.query(
        "SELECT * FROM factory_telemetry.andon_next_escalation('00000000-0000-0000-0000-0000000000e1')"
    ) == []


def test_every_view_answers_for_the_reporting_role(sample):
    views = [r[0] for r in sample.query(
        "SELECT viewname FROM pg_views WHERE schemaname = 'factory_telemetry' ORDER BY 1"
    )]
    assert len(views) >= 10
    for view in views:
        sample.query(f"SELECT * FROM factory_telemetry.{view} LIMIT 5", user=REPORTING)
    # the reporting role reads, it does not write
    err = sample.fails(
        "INSERT INTO factory_telemetry.production_lines (line_code, name) VALUES ('X', 'X')", user=REPORTING
    )
    assert "permission denied" in err


def test_production_vs_schedule_and_restrict_on_line_delete(sample):
    sample.query(
        """
        INSERT INTO factory_telemetry.production_schedules
          (id, line_id, product_type_id, scheduled_start, scheduled_end, target_quantity, status)
        VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000a2',
                '00000000-0000-0000-0000-0000000000b1', now() - interval '1 hour', now() + interval '1 hour',
                1000, 'in_progress');
        INSERT INTO factory_telemetry.job_assignments (schedule_id, user_id, status, produced_quantity)
        VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000c1', 'in_progress', 200);
        """,
        user=APP,
    )
    row = sample.query(
        "SELECT produced_quantity, progress_pct, round(planned_progress_pct), behind_schedule "
        "FROM factory_telemetry.v_production_vs_schedule WHERE schedule_id = '00000000-0000-0000-0000-0000000000d1'",
        user=REPORTING,
    )
    assert row == [["200", "20.0", "50", "t"]]
    # 008 fix 2: a line with schedules (and history) cannot be deleted
    err = sample.fails(
        "DELETE FROM factory_telemetry.production_lines WHERE id = '00000000-0000-0000-0000-0000000000a2'"
    )
    assert "violates foreign key constraint" in err
    # 008 fix 1: schedule times are timestamptz
    assert sample.value(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'factory_telemetry.production_schedules'::regclass AND attname = 'scheduled_start'"
    ) == "timestamp with time zone"


@pytest.mark.parametrize(
    "sql, constraint",
    [
        # 008 fix 4: an Andon event must name its line
        ("INSERT INTO factory_telemetry.andon_events (equipment_code, event_type, description) "
         "VALUES ('L1.FILLER', 'stop', 'x')", "line_id"),
        # 008 fix 9: one whole-day KPI row per line and day
        ("INSERT INTO factory_telemetry.production_kpis (line_id, kpi_date) VALUES "
         "('00000000-0000-0000-0000-0000000000a1', '2026-11-20'), "
         "('00000000-0000-0000-0000-0000000000a1', '2026-11-20')", "production_kpis_line_date_shift_key"),
        # 008 fix 10: orderings and ranges
        ("INSERT INTO factory_telemetry.downtime_events (line_id, equipment_code, start_time, end_time, reason_code, "
         "category) VALUES ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', '2026-11-20 10:00+00', "
         "'2026-11-20 09:00+00', 'JAM', 'unplanned')", "downtime_events_end_after_start"),
        ("INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on, ts_off) "
         "VALUES ('L1.FILLER', 3, '2026-11-20 10:00+00', '2026-11-20 09:00+00')", "fault_event_off_after_on"),
        ("INSERT INTO factory_telemetry.oee_calculations (line_id, equipment_code, calculation_time, "
         "planned_production_time, run_time, ideal_cycle_time, total_parts, good_parts) VALUES "
         "('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', now(), 60, 60, 1, 5, 6)",
         "oee_calculations_good_le_total"),
        ("INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts) "
         "SELECT id, now() FROM factory_telemetry.metric_def LIMIT 1", "metric_hist_has_value"),
        ("INSERT INTO factory_telemetry.quality_checks (line_id, product_type_id, check_type, check_result, "
         "quantity_checked, quantity_passed, quantity_failed) SELECT '00000000-0000-0000-0000-0000000000a1', id, "
         "'final', 'pass', 10, 9, 2 FROM factory_telemetry.product_types LIMIT 1", "quality_checks_quantities_check"),
        # enumerations
        ("INSERT INTO factory_telemetry.andon_events (line_id, equipment_code, event_type, description) "
         "VALUES ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', 'coffee', 'x')", "andon_events_event_type_check"),
        ("INSERT INTO factory_telemetry.downtime_events (line_id, equipment_code, start_time, reason_code, category) "
         "VALUES ('00000000-0000-0000-0000-0000000000a1', 'L1.FILLER', now(), 'X', 'lunch')",
         "downtime_events_category_check"),
        # 008 fix 11: e-mail unique regardless of case
        ("INSERT INTO factory_telemetry.users (username, email) VALUES ('a1', 'Ops@Example.com'), "
         "('a2', 'ops@example.com')", "users_email_lower_key"),
    ],
)
def test_constraints_refuse_bad_rows(sample, sql, constraint):
    err = sample.fails(sql)
    assert constraint in err, err


def test_updated_at_is_maintained(sample):
    before = sample.value(
        "SELECT updated_at FROM factory_telemetry.production_lines WHERE line_code = 'L1'"
    )
    time.sleep(0.05)
    sample.query("UPDATE factory_telemetry.production_lines SET name = 'Line 1 (north)' WHERE line_code = 'L1'",
                 user=APP)
    after = sample.value("SELECT updated_at FROM factory_telemetry.production_lines WHERE line_code = 'L1'")
    assert after > before


def test_a_failing_file_changes_nothing(db, tmp_path):
    """One implicit transaction: re-applying 001 fails on its second statement and
    leaves no trace of its first."""
    before = db.value("SELECT count(*) FROM pg_class WHERE relnamespace = 'factory_telemetry'::regnamespace")
    broken = tmp_path / "010_broken.sql"
    broken.write_text(
        "CREATE TABLE factory_telemetry.should_not_exist (id int);\n"
        "SELECT create_hypertable('factory_telemetry.metric_hist', by_range('ts'));\n"
    )
    res = db.apply_file(broken)
    assert res.returncode != 0 and "already a hypertable" in res.stderr, res.stderr
    assert db.value("SELECT to_regclass('factory_telemetry.should_not_exist') IS NULL") == "t"
    after = db.value("SELECT count(*) FROM pg_class WHERE relnamespace = 'factory_telemetry'::regnamespace")
    assert before == after
