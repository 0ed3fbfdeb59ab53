"""The cutover's helper program (roles/cutover/files/ms5-cutover) against real servers.

Starts a throwaway PostgreSQL 15 (``ms5-test-postgres15:latest``, the stand-in for
postgres:15-alpine) built the way the plan's migration-runner.sh builds it (psql -f
of 001..009: the TimescaleDB statements fail) with some rows, and a throwaway
TimescaleDB (``ms5-test-timescaledb:latest``) prepared as the timescaledb role does,
then drives the data phases the role runs: reference, schema, history round 1,
post-data (schema equal to the reference), changes on the legacy that the write
pause must catch (an UPDATE of a historical fault_event row, a late metric_hist row
below the cutoff, new rows in the tail), round 2, the pause (the two changed tables
copied whole, the others only their tail; every table proved equal), and the
rollback's count and dump of rows written on TimescaleDB after the cutover.
This covers the gate's fallbacks, which the Molecule scenario (append-only writer)
does not reach. Both containers are removed afterwards, pass or fail.

Skipped when no Docker engine is reachable or the local test images are missing.
    .venv/bin/pytest -v tests/integration/test_cutover_helper_db.py
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "cutover" / "files" / "ms5-cutover"
LEGACY_IMAGE = os.environ.get("MS5_TEST_POSTGRES15_IMAGE", "ms5-test-postgres15:latest")
TARGET_IMAGE = os.environ.get("MS5_TEST_TIMESCALEDB_IMAGE", "ms5-test-timescaledb:latest")
USER = "ms5_user_production"
DB = "factory_telemetry"

DATA = """
SET search_path = factory_telemetry;
INSERT INTO production_lines (line_code, name) VALUES ('L1', 'Line 1');
INSERT INTO users (username) VALUES ('u1');
INSERT INTO shifts (shift_code, name, start_time, end_time) VALUES ('A', 'Early', '06:00', '14:00');
INSERT INTO metric_def (equipment_code, metric_key, value_type)
SELECT 'EQ' || i, 'm', 'REAL' FROM generate_series(1, 5) AS i;
INSERT INTO metric_hist (metric_def_id, ts, value_real)
SELECT d.id, date_trunc('second', now()) - make_interval(secs => s), s FROM metric_def AS d, generate_series(1, 2000) AS s;
INSERT INTO fault_event (equipment_code, bit_index, ts_on, ts_off)
SELECT 'EQ1', i % 4, now() - make_interval(hours => i), now() - make_interval(hours => i) + interval '1 minute'
FROM generate_series(1, 200) AS i;
INSERT INTO downtime_events (line_id, equipment_code, start_time, reason_code, category)
SELECT (SELECT id FROM production_lines), 'EQ1', now() - make_interval(hours => i), 'R', 'unplanned'
FROM generate_series(1, 50) AS i;
INSERT INTO production_kpis (line_id, kpi_date, shift_id)
SELECT (SELECT id FROM production_lines), current_date - d, NULL FROM generate_series(1, 20) AS d;
"""


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
            return False
        return all(subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                                  timeout=30).returncode == 0 for image in (LEGACY_IMAGE, TARGET_IMAGE))
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _docker_ready(), reason="no Docker engine or no local test images")


def _load():
    loader = importlib.machinery.SourceFileLoader("ms5_cutover_it", str(PROGRAM))
    spec = importlib.util.spec_from_loader("ms5_cutover_it", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ms5_cutover_it"] = module
    loader.exec_module(module)
    return module


mc = _load()


def psql(container: str, user: str, sql: str) -> str:
    res = subprocess.run(["docker", "exec", "-i", container, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                          "-U", user, "-d", DB, "-f", "-"], input=sql, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


def wait_ready(container: str, user: str) -> None:
    deadline = time.time() + 120
    while subprocess.run(["docker", "exec", container, "pg_isready", "-q", "-h", "127.0.0.1", "-U", user, "-d", DB],
                         capture_output=True).returncode != 0:
        assert time.time() < deadline, f"{container} did not start"
        time.sleep(1)


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict]:
    tag = f"ms5-cutover-it-{os.getpid()}"
    legacy, target = f"{tag}-legacy", f"{tag}-target"
    try:
        subprocess.run(["docker", "run", "-d", "--name", legacy, "--network", "none",
                        "-e", f"POSTGRES_USER={USER}", "-e", f"POSTGRES_DB={DB}", "-e", "POSTGRES_PASSWORD=legacy-it-pw-0001",
                        "-e", "POSTGRES_INITDB_ARGS=--encoding=UTF-8 --lc-collate=C --lc-ctype=C", LEGACY_IMAGE],
                       check=True, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", target, "--network", "none", "-e", f"POSTGRES_DB={DB}",
                        "-e", "POSTGRES_PASSWORD=target-it-pw-0001", TARGET_IMAGE], check=True, capture_output=True)
        wait_ready(legacy, USER)
        wait_ready(target, "postgres")
        # The plan's migration-runner.sh: psql -f without ON_ERROR_STOP, every file.
        for path in sorted((ROOT / "files" / "migrations").glob("00[1-9]_*.sql")):
            subprocess.run(["docker", "exec", "-i", legacy, "psql", "-X", "-q", "-U", USER, "-d", DB, "-f", "-"],
                           input=path.read_text(), capture_output=True, text=True, check=True)
        psql(legacy, USER, DATA)
        psql(target, "postgres", "CREATE ROLE ms5_owner LOGIN; ALTER DATABASE factory_telemetry OWNER TO ms5_owner; "
                                 "CREATE EXTENSION timescaledb;")
        work = tmp_path_factory.mktemp("cutover")
        sql_dir = work / "sql"
        shutil.copytree(ROOT / "roles/cutover/files/sql", sql_dir)
        shutil.copy(ROOT / "roles/_common/files/sql/table_fingerprint_range.sql", sql_dir)
        cfg = {
            "docker": "docker", "sql_dir": str(sql_dir), "run_dir": str(work / "run"),
            "reference_file": str(work / "reference.json"), "migrations_dir": str(ROOT / "files/migrations"),
            "baseline_version": 9, "tail_margin": "5 minutes", "sessions_timeout": 5,
            "legacy": {"container": legacy, "user": USER, "database": DB},
            "target": {"container": target, "superuser": "postgres", "database": DB, "owner": "ms5_owner",
                       "image": TARGET_IMAGE},
        }
        yield {"legacy": legacy, "target": target, "cfg": cfg, "work": work}
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", legacy, target], capture_output=True)


def test_the_data_phases_end_to_end(servers):
    cfg = servers["cfg"]
    ref = mc.Cutover(cfg).build_reference(TARGET_IMAGE)
    Path(cfg["reference_file"]).write_text(json.dumps(ref))
    cfg["hypertables"] = mc.hypertables_of(ref["statements"])
    assert len(cfg["hypertables"]) == 6
    run = mc.Cutover(cfg)

    schema = run.schema()
    assert len(schema["hypertables"]) == 6
    first = run.copy_round(1)
    # the last 5 minutes (tail_margin) stay for the pause
    assert 5 * 1600 < first["tables"]["factory_telemetry.metric_hist"] < 5 * 2000
    post = run.post_data()
    assert post["missing"] == [] and post["different"] == [] and post["legacy_objects_lost"] == []
    assert any("v_energy_per_unit" in item for item in post["created_from_migrations"])

    legacy = servers["legacy"]
    psql(legacy, USER, """
        UPDATE factory_telemetry.fault_event SET ts_off = ts_off + interval '1 second'
         WHERE id = (SELECT min(id) FROM factory_telemetry.fault_event);
        INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
        SELECT min(id), now() - interval '3 days', 1 FROM factory_telemetry.metric_def;
        INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
        SELECT id, now() + interval '1 second', 2 FROM factory_telemetry.metric_def;
        INSERT INTO factory_telemetry.users (username) VALUES ('u2');
    """)
    # pg_stat counters of a session are reported when it ends (psql did).
    time.sleep(1)
    run.copy_round(2)
    proof = run.pause()
    assert proof["ok"]
    assert set(proof["whole_copies"]) == {"factory_telemetry.fault_event", "factory_telemetry.metric_hist"}
    assert "update(s)" in proof["whole_copies"]["factory_telemetry.fault_event"]
    assert "late rows" in proof["whole_copies"]["factory_telemetry.metric_hist"]
    assert proof["tables"]["factory_telemetry.downtime_events"]["copied"] == "tail"
    assert proof["tables"]["factory_telemetry.users"]["rows"] == 2
    saved = json.loads((Path(cfg["run_dir"]) / "proof.json").read_text())
    assert saved["source_frozen"] and all(t["equal"] for t in saved["tables"].values())
    assert all(saved["tables"][h["table"]]["in_chunks"] for h in cfg["hypertables"])

    # Independent check with the shared fingerprint SQL: every table equal on both sides.
    shared = (ROOT / "roles/_common/files/sql/table_fingerprints.sql").read_text()
    assert psql(legacy, USER, shared) == psql(servers["target"], "postgres", shared)

    # The rollback's view: rows written on TimescaleDB after the horizon, counted and dumped.
    psql(servers["target"], "postgres", """
        INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
        SELECT id, now() + interval '1 hour', 123456.5 FROM factory_telemetry.metric_def;
    """)
    dump = servers["work"] / "after.sql"
    after = run.after_rows(proof["horizon"], dump)
    assert after["tables"]["factory_telemetry.metric_hist"] == 5
    assert sum(after["tables"].values()) == 5
    text = dump.read_text()
    assert text.count("\n") >= 5 + 3 and 'COPY "factory_telemetry"."metric_hist"' in text
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    # The dump loads into the legacy database.
    psql(legacy, USER, text)
    assert psql(legacy, USER, "SELECT count(*) FROM factory_telemetry.metric_hist WHERE value_real = 123456.5").strip() == "5"

    # reset-target empties the target for another attempt, keeping the extension.
    assert "factory_telemetry" in run.reset_target()["dropped_schemas"]
    state = run.target_state()
    assert state["user_schemas"] == [] and state["timescaledb"]
