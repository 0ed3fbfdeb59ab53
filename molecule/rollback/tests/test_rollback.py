"""playbooks/rollback.yml end to end: back up, damage, refuse bad requests, restore, compare."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import USER_TABLES_SQL as TABLES_SQL
from conftest import run_playbook_with_vars as run_playbook

PROGRAM = "/usr/local/sbin/ms5-backup"
BACKUP_DIR = "/opt/ms5-backend/backups"
SCENARIO_DIR = Path(__file__).resolve().parents[1]

HYPERTABLES_SQL = """
SELECT h.hypertable_schema || '.' || h.hypertable_name, h.num_chunks,
       (SELECT string_agg(c.range_start::text || '..' || c.range_end::text, ',' ORDER BY c.range_start)
        FROM timescaledb_information.chunks c
        WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name)
FROM timescaledb_information.hypertables h ORDER BY 1
"""




def snapshot(sql) -> dict:
    """Row count and content checksum of every user table, the ledger, the hypertables."""
    tables = {}
    for (table,) in sql(TABLES_SQL):
        count, digest = sql(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} AS t")[0]
        tables[table] = (int(count), digest)
    return {
        "tables": tables,
        "ledger": sql("SELECT max(version), count(*) FROM ms5_migrations.schema_migrations")[0],
        "hypertables": sql(HYPERTABLES_SQL),
        "energy_columns": sql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                              "WHERE attrelid = 'factory_telemetry.energy_consumption'::regclass "
                              "AND attnum > 0 AND NOT attisdropped"),
    }


def writer_started_at(host) -> str:
    return host.run("systemctl show -p ActiveEnterTimestampMonotonic --value ms5-test-writer").stdout.strip()


@pytest.fixture(scope="module")
def state(host, request):
    """One pass through the whole story; the tests below check its parts."""
    def sql(query):
        cmd = ("docker exec ms5-timescaledb psql -X -v ON_ERROR_STOP=1 -U postgres "
               f"-d factory_telemetry -At -F '|' -c {shlex.quote(query)}")
        result = host.run(cmd)
        assert result.rc == 0, f"{query}\n{result.stderr}"
        return [line.split("|") for line in result.stdout.splitlines() if line != ""]

    data = {"before": snapshot(sql)}
    assert host.service("ms5-test-writer").is_running
    result = host.run(f"{PROGRAM} --kind manual")
    assert result.rc == 0, result.stderr
    data["backup"] = result.stdout.strip().splitlines()[-1]
    data["manifest"] = json.loads(host.file(data["backup"] + ".manifest.json").content_string)

    # Damage: delete, update, then an extra migration (010) through the migrations role.
    sql("DELETE FROM factory_telemetry.metric_hist WHERE metric_def_id IN (SELECT id FROM factory_telemetry.metric_def WHERE metric_key = 'metric_3')")
    sql("DELETE FROM factory_telemetry.fault_event WHERE ts_on < '2026-09-20'")
    sql("UPDATE factory_telemetry.production_lines SET name = name || ' (damaged)'")
    sql("UPDATE factory_telemetry.oee_calculations SET good_parts = 0")
    sql("DELETE FROM factory_telemetry.context")
    migration = run_playbook(request, SCENARIO_DIR / "extra_migration.yml", {})
    assert migration.returncode == 0, migration.stdout + migration.stderr
    data["damaged"] = snapshot(sql)
    data["writer_before"] = writer_started_at(host)
    data["sql"] = sql
    return data


def test_damage_is_real(state):
    before, damaged = state["before"], state["damaged"]
    assert damaged["ledger"][0] == str(int(before["ledger"][0]) + 1)
    assert "factory_telemetry.rollback_test_extra" in damaged["tables"]
    for table in ("factory_telemetry.metric_hist", "factory_telemetry.fault_event",
                  "factory_telemetry.production_lines", "factory_telemetry.oee_calculations",
                  "factory_telemetry.context"):
        assert damaged["tables"][table] != before["tables"][table], table


def test_migrations_role_took_a_pre_migration_backup(host, state):
    names = host.run(f"ls {BACKUP_DIR}").stdout.split()
    pre = [n for n in names if n.endswith("_pre-migration.dump")]
    assert pre, names
    manifest = json.loads(host.file(f"{BACKUP_DIR}/{pre[-1]}.manifest.json").content_string)
    assert manifest["migration_version"] == int(state["before"]["ledger"][0])


@pytest.mark.parametrize("case", ["no confirmation", "damaged file", "timescaledb mismatch", "unknown file",
                                  "no previous compose file"])
def test_bad_requests_are_refused_before_anything_changes(host, request, state, case):
    backup = state["backup"]
    name = os.path.basename(backup)
    extra: dict = {"rollback_confirm": "yes", "ms5_target_hosts": "all"}
    if case == "no confirmation":
        extra = {"rollback_backup": name, "ms5_target_hosts": "all"}
        expected = "Confirm with -e rollback_confirm=yes"
    elif case == "damaged file":
        bad = f"{BACKUP_DIR}/factory_telemetry_20260101T000000Z_manual.dump"
        host.run(f"cp -p {backup} {bad} && cp -p {backup}.manifest.json {bad}.manifest.json "
                 f"&& printf 'X' | dd of={bad} bs=1 seek=200 conv=notrunc status=none")
        extra["rollback_backup"] = os.path.basename(bad)
        expected = "the file is damaged"
    elif case == "timescaledb mismatch":
        bad = f"{BACKUP_DIR}/factory_telemetry_20260101T000001Z_manual.dump"
        host.run(f"cp -p {backup} {bad} && sed 's/\"timescaledb_version\": \"[^\"]*\"/\"timescaledb_version\": \"2.99.0\"/' "
                 f"{backup}.manifest.json > {bad}.manifest.json")
        extra["rollback_backup"] = bad
        expected = "backup was made with TimescaleDB 2.99.0"
    elif case == "unknown file":
        extra["rollback_backup"] = "factory_telemetry_20200101T000000Z_manual.dump"
        expected = "cannot be read"
    else:
        assert not host.file("/opt/ms5-backend/docker-compose.yml.previous").exists
        extra.update(rollback_backup=name, rollback_compose="yes")
        expected = "docker-compose.yml.previous does not exist"
    result = run_playbook(request, SCENARIO_DIR / "rollback.yml", extra)
    output = result.stdout + result.stderr
    try:
        assert result.returncode != 0, output
        assert expected in output, output
        assert snapshot(state["sql"]) == state["damaged"]
        assert "ALTER EXTENSION timescaledb UPDATE" in output if case == "timescaledb mismatch" else True
    finally:
        host.run(f"rm -f {BACKUP_DIR}/factory_telemetry_2026010100000*Z_manual.dump*")


@pytest.fixture(scope="module")
def rolled_back(host, request, state):
    result = run_playbook(request, SCENARIO_DIR / "rollback.yml", {
        "rollback_backup": os.path.basename(state["backup"]),
        "rollback_confirm": "yes",
        "ms5_target_hosts": "all",
    })
    assert result.returncode == 0, result.stdout + result.stderr
    return {"output": result.stdout, "after": snapshot(state["sql"])}


def test_every_table_count_and_checksum_is_back(state, rolled_back):
    before, after = state["before"]["tables"], rolled_back["after"]["tables"]
    assert sorted(after) == sorted(before)
    for table, value in before.items():
        assert after[table] == value, table
    assert {t: c for t, (c, _) in before.items()} == state["manifest"]["tables"]


def test_ledger_is_back_to_its_old_version(state, rolled_back):
    assert rolled_back["after"]["ledger"] == state["before"]["ledger"]
    assert rolled_back["after"]["energy_columns"] == state["before"]["energy_columns"]


def test_timescaledb_catalog_lists_all_hypertables_with_their_chunks(state, rolled_back):
    after = rolled_back["after"]["hypertables"]
    assert after == state["before"]["hypertables"]
    assert len(after) == 6
    assert all(int(row[1]) > 0 for row in after)


def test_database_is_usable_after_restore(state, rolled_back):
    sql = state["sql"]
    sql("INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
        "SELECT id, '2030-01-01', 1 FROM factory_telemetry.metric_def LIMIT 1")
    assert sql("SELECT count(*) FROM timescaledb_information.chunks WHERE range_start >= '2030-01-01'")[0][0] == "1"
    sql("DELETE FROM factory_telemetry.metric_hist WHERE ts = '2030-01-01'")
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'factory_telemetry_%'") == [["0"]]
    assert sql("SELECT current_setting('timescaledb.restoring')") == [["off"]]


def test_writers_were_stopped_and_started_again(host, state, rolled_back):
    assert host.service("ms5-test-writer").is_running
    assert int(writer_started_at(host)) > int(state["writer_before"])
    assert "ms5-test-writer.service" in rolled_back["output"]


def test_safety_backup_holds_the_damaged_state(host, state, rolled_back):
    manifests = sorted(host.run(f"ls {BACKUP_DIR}/*_manual.dump.manifest.json").stdout.split())
    safety = json.loads(host.file(manifests[-1]).content_string)
    assert safety["migration_version"] == int(state["damaged"]["ledger"][0])
    assert "factory_telemetry.rollback_test_extra" in safety["tables"]
    assert "Safety backup of the state before the rollback" in rolled_back["output"]


def test_rollback_can_put_back_the_previous_compose_file(host, request, state, rolled_back):
    """rollback_compose=yes: the saved compose file goes back in place (here the same
    definition, saved by hand, so the service keeps its data) and the restore runs."""
    project = "/opt/ms5-backend"
    host.run(f"cp -p {project}/docker-compose.yml {project}/docker-compose.yml.previous")
    current = host.file(f"{project}/docker-compose.yml").sha256sum
    result = run_playbook(request, SCENARIO_DIR / "rollback.yml", {
        "rollback_backup": os.path.basename(state["backup"]),
        "rollback_confirm": "yes",
        "rollback_compose": "yes",
        "ms5_target_hosts": "all",
    })
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Compose file put back: yes" in result.stdout
        assert host.file(f"{project}/docker-compose.yml.rolled-back").sha256sum == current
        assert snapshot(state["sql"])["tables"] == state["before"]["tables"]
    finally:
        host.run(f"rm -f {project}/docker-compose.yml.previous {project}/docker-compose.yml.rolled-back")
