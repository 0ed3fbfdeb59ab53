"""playbooks/rollback.yml end to end: back up, damage, refuse bad requests, fail half-way and
rerun, restore, compare; TimescaleDB jobs held until the swap and running again; the host
retention timer running again on the restored data."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import time
from pathlib import Path

import pytest
from conftest import USER_TABLES_SQL as TABLES_SQL
from conftest import run_playbook_with_vars as run_playbook

PROGRAM = "/usr/local/sbin/ms5-backup"
BACKUP_DIR = "/opt/ms5-backend/backups"
PIN = f"{BACKUP_DIR}/.ms5-rollback-pending-factory_telemetry.json"
PROJECT = "/opt/ms5-backend"
TIMER_DROPIN = "/etc/systemd/system/ms5-retention.timer.d/zz-molecule.conf"
SCENARIO_DIR = Path(__file__).resolve().parents[1]
OLD = "2021-01-01"  # every test row before this is older than every retention window
HYPERTABLE_TIME = {"metric_hist": "ts", "fault_event": "ts_on", "downtime_events": "start_time",
                   "oee_calculations": "calculation_time", "production_kpis": "kpi_date",
                   "energy_consumption": "consumption_time"}

HYPERTABLES_SQL = """
SELECT h.hypertable_schema || '.' || h.hypertable_name, h.num_chunks,
       (SELECT string_agg(c.range_start::text || '..' || c.range_end::text, ',' ORDER BY c.range_start)
        FROM timescaledb_information.chunks c
        WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name)
FROM timescaledb_information.hypertables h ORDER BY 1
"""


def make_sql(host):
    def sql(query):
        cmd = ("docker exec ms5-timescaledb psql -X -v ON_ERROR_STOP=1 -U postgres "
               f"-d factory_telemetry -At -F '|' -c {shlex.quote(query)}")
        result = host.run(cmd)
        assert result.rc == 0, f"{query}\n{result.stderr}"
        return [line.split("|") for line in result.stdout.splitlines() if line != ""]
    return sql


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
        "old_rows": {t: int(sql(f"SELECT count(*) FROM factory_telemetry.{t} WHERE {c} < '{OLD}'")[0][0])
                     for t, c in HYPERTABLE_TIME.items()},
        "jobs": sql("SELECT id, scheduled FROM _timescaledb_config.bgw_job ORDER BY id"),
    }


def writer_started_at(host) -> str:
    return host.run("systemctl show -p ActiveEnterTimestampMonotonic --value ms5-test-writer").stdout.strip()


def listing(host) -> list[str]:
    return sorted(host.run(f"ls -A {BACKUP_DIR}").stdout.split())


def manifest_of(host, path: str) -> dict:
    return json.loads(host.file(path + ".manifest.json").content_string)


def log_time(host, text: str) -> dt.datetime:
    """UTC time (second) of the last ms5-backup log line containing TEXT."""
    lines = [line for line in host.file("/var/log/ms5-backup.log").content_string.splitlines() if text in line]
    assert lines, text
    return dt.datetime.strptime(lines[-1].split()[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def output_of(result) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def state(host, request):
    """One pass through the story; the tests below check its parts."""
    sql = make_sql(host)
    data = {"sql": sql, "before": snapshot(sql)}
    assert host.service("ms5-test-writer").is_running
    result = host.run(f"{PROGRAM} --kind manual")
    assert result.rc == 0, result.stderr
    data["backup"] = result.stdout.strip().splitlines()[-1]
    data["manifest"] = manifest_of(host, data["backup"])

    # Damage: delete, update, then an extra migration (010) through the migrations role,
    # which takes its pre-migration backup (of the damaged rows) first.
    sql("DELETE FROM factory_telemetry.metric_hist WHERE metric_def_id IN (SELECT id FROM factory_telemetry.metric_def WHERE metric_key = 'metric_3')")
    sql("DELETE FROM factory_telemetry.fault_event WHERE ts_on < '2026-09-20'")
    sql("UPDATE factory_telemetry.production_lines SET name = name || ' (damaged)'")
    sql("UPDATE factory_telemetry.oee_calculations SET good_parts = 0")
    sql("DELETE FROM factory_telemetry.context")
    data["damaged_rows"] = snapshot(sql)
    migration = run_playbook(request, SCENARIO_DIR / "extra_migration.yml", {})
    assert migration.returncode == 0, output_of(migration)
    data["pre_migration"] = f"{BACKUP_DIR}/" + [n for n in listing(host) if n.endswith("_pre-migration.dump")][-1]
    data["damaged"] = snapshot(sql)
    data["writer_before"] = writer_started_at(host)
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
    manifest = manifest_of(host, state["pre_migration"])
    assert manifest["migration_version"] == int(state["before"]["ledger"][0])
    assert manifest["verified"]["result"] == "ok"


DAMAGED = f"{BACKUP_DIR}/factory_telemetry_20260101T000000Z_manual.dump"
MISMATCH = f"{BACKUP_DIR}/factory_telemetry_20260101T000001Z_manual.dump"
REFUSALS = {
    "no confirmation": ({"confirm": "no"}, "Confirm with -e rollback_confirm=yes"),
    "confirmation not a boolean": ({"confirm": "maybe"}, "backup_restore_confirm"),
    "damaged file": ({"from": os.path.basename(DAMAGED)}, "the file is damaged"),
    "timescaledb mismatch": ({"from": MISMATCH}, "backup was made with TimescaleDB 2.99.0"),
    "unknown file": ({"from": "factory_telemetry_20200101T000000Z_manual.dump"}, "cannot be read"),
    "not a dump": ({"from": "../../etc/passwd"}, "backup_restore_from (../../etc/passwd) must be newest"),
    "no previous compose file": ({"compose": True}, "docker-compose.yml.previous does not exist"),
}


@pytest.fixture(scope="module")
def refusals(host, request, state):
    """Every bad request in one playbook run (refusals.yml), after a damaged copy and a
    copy whose manifest names another TimescaleDB version were put next to the backup."""
    backup = state["backup"]
    host.run(f"cp -p {backup} {DAMAGED} && cp -p {backup}.manifest.json {DAMAGED}.manifest.json "
             f"&& printf 'X' | dd of={DAMAGED} bs=1 seek=200 conv=notrunc status=none")
    host.run(f"cp -p {backup} {MISMATCH} && sed 's/\"timescaledb_version\": \"[^\"]*\"/\"timescaledb_version\": \"2.99.0\"/' "
             f"{backup}.manifest.json > {MISMATCH}.manifest.json")
    assert not host.file(f"{PROJECT}/docker-compose.yml.previous").exists
    files_before = listing(host)
    cases = [dict(name=name, **request_vars) for name, (request_vars, _) in REFUSALS.items()]
    try:
        result = run_playbook(request, SCENARIO_DIR / "refusals.yml", {"cases": cases})
        output = output_of(result)
        assert result.returncode == 0, output
        line = next(line for line in output.splitlines() if '"msg": "RESULTS ' in line)
        results = json.loads(json.loads(line.split('"msg": ', 1)[1].rstrip(","))[len("RESULTS "):])
        return {"results": results, "output": output, "after": snapshot(state["sql"]),
                "pin": host.file(PIN).exists, "files_unchanged": listing(host) == files_before}
    finally:
        host.run(f"rm -f {DAMAGED}* {MISMATCH}*")


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_requests_are_refused_before_anything_changes(state, refusals, case):
    message = refusals["results"][case]
    assert REFUSALS[case][1] in message, message
    if case == "timescaledb mismatch":
        assert "ALTER EXTENSION timescaledb UPDATE" in message
    if case not in ("confirmation not a boolean", "not a dump"):
        assert "was not changed" in message or "Nothing was changed" in message, message
    assert "changed=0" in refusals["output"]
    assert refusals["after"] == state["damaged"]
    assert not refusals["pin"] and refusals["files_unchanged"]


@pytest.fixture(scope="module")
def failed_attempt(host, request, state):
    """A rollback to `newest` (the pre-migration backup) that fails half-way: its manifest
    says one more row than the dump holds, so the restored copy does not compare equal
    after the pin and the safety backup. Then cron takes a backup of the damaged state,
    the manifest is repaired, and the rollback is asked for again (without confirmation,
    so it shows its choice and stops)."""
    target = state["pre_migration"]
    mpath = target + ".manifest.json"
    host.run(f"cp -p {mpath} /root/manifest.orig")
    host.run(f"python3 - {mpath} <<'EOF'\nimport json, sys\np = sys.argv[1]\nm = json.load(open(p))\n"
             "m['tables']['factory_telemetry.context'] += 1\njson.dump(m, open(p, 'w'))\nEOF")
    first = run_playbook(request, SCENARIO_DIR / "rollback.yml", {"rollback_confirm": "yes", "ms5_target_hosts": "all"})
    data = {"first": output_of(first), "first_rc": first.returncode, "after_first": snapshot(state["sql"]),
            "pin": json.loads(host.file(PIN).content_string) if host.file(PIN).exists else None,
            "safety": [n for n in listing(host) if n.endswith("_pre-rollback.dump")],
            "writer_running": host.service("ms5-test-writer").is_running}
    host.run("sleep 1")
    scheduled = host.run(f"{PROGRAM} --kind scheduled --no-rotate --no-verify")  # a stand-in for cron
    assert scheduled.rc == 0, scheduled.stderr
    data["scheduled"] = scheduled.stdout.strip().splitlines()[-1]
    host.run(f"cp -p /root/manifest.orig {mpath}")
    rerun = run_playbook(request, SCENARIO_DIR / "rollback.yml", {"ms5_target_hosts": "all"})
    data["rerun"] = output_of(rerun)
    data["rerun_rc"] = rerun.returncode
    data["select"] = json.loads(host.check_output(f"{PROGRAM} --select newest"))
    return data


def test_a_failed_rollback_leaves_the_live_database_untouched(state, failed_attempt):
    assert failed_attempt["first_rc"] != 0
    assert "restored copy does not match the manifest, live database left untouched" in failed_attempt["first"]
    assert "factory_telemetry.context: 0 rows, manifest says 1" in failed_attempt["first"]
    assert "Rerunning the rollback restores the same backup" in failed_attempt["first"]
    assert failed_attempt["after_first"] == state["damaged"]
    assert failed_attempt["writer_running"]
    assert len(failed_attempt["safety"]) == 1


def test_a_rerun_after_a_failed_rollback_restores_the_same_backup(state, failed_attempt):
    """Not the rollback's own safety backup, not the newer scheduled backup of the damage."""
    target = state["pre_migration"]
    assert failed_attempt["pin"]["file"] == target and failed_attempt["pin"]["spec"] == "newest"
    plan = failed_attempt["select"]
    assert plan["file"] == target and plan["pinned"]["file"] == target
    assert plan["file"] != failed_attempt["scheduled"]
    assert not plan["file"].endswith("_pre-rollback.dump")
    rerun = failed_attempt["rerun"]
    assert failed_attempt["rerun_rc"] != 0 and "Confirm with -e rollback_confirm=yes" in rerun
    assert f"Backup chosen for 'newest': {target}" in rerun
    assert "pinned by the unfinished rollback started at" in rerun
    assert snapshot(state["sql"]) == state["damaged"]


@pytest.fixture(scope="module")
def rolled_back(host, request, state, failed_attempt):
    """The real rollback, to the first backup by name, also putting back the compose file
    (here a saved copy of the same definition, so the service keeps its data). Before it,
    the retention timer gets a test trigger 25 s after each start: the rollback stops it
    and starts it again, so it fires on the restored data."""
    host.run(f"cp -p {PROJECT}/docker-compose.yml {PROJECT}/docker-compose.yml.previous")
    current = host.file(f"{PROJECT}/docker-compose.yml").sha256sum
    host.run(f"systemctl stop ms5-retention.timer && mkdir -p {os.path.dirname(TIMER_DROPIN)} && "
             f"printf '[Timer]\\nOnActiveSec=25s\\nRandomizedDelaySec=0\\n' > {TIMER_DROPIN} && "
             "systemctl daemon-reload && systemctl start ms5-retention.timer")
    result = run_playbook(request, SCENARIO_DIR / "rollback.yml", {
        "rollback_backup": os.path.basename(state["backup"]),
        "rollback_confirm": "yes",
        "rollback_compose": "yes",
        "ms5_target_hosts": "all",
    })
    after = snapshot(state["sql"])
    assert result.returncode == 0, output_of(result)
    return {"output": result.stdout, "after": after, "compose_before": current,
            "swapped": log_time(host, "replaced by the restored copy")}


def test_every_table_count_and_checksum_is_back(state, rolled_back):
    before, after = state["before"]["tables"], rolled_back["after"]["tables"]
    assert sorted(after) == sorted(before)
    for table, value in before.items():
        assert after[table] == value, table
    assert {t: c for t, (c, _) in before.items()} == state["manifest"]["tables"]
    assert "Restored copy compared with the manifest before the swap: fingerprints of" in rolled_back["output"]


def test_rows_older_than_every_retention_window_were_restored(state, rolled_back):
    assert rolled_back["after"]["old_rows"] == state["before"]["old_rows"]
    assert all(count > 0 for count in state["before"]["old_rows"].values())


def test_ledger_is_back_to_its_old_version(state, rolled_back):
    assert rolled_back["after"]["ledger"] == state["before"]["ledger"]
    assert rolled_back["after"]["energy_columns"] == state["before"]["energy_columns"]


def test_timescaledb_catalog_lists_all_hypertables_with_their_chunks(state, rolled_back):
    after = rolled_back["after"]["hypertables"]
    assert after == state["before"]["hypertables"]
    assert len(after) == 6
    assert all(int(row[1]) > 0 for row in after)


def test_the_compose_file_was_put_back_and_the_pin_removed(host, rolled_back):
    try:
        assert "Compose file put back: yes" in rolled_back["output"]
        assert host.file(f"{PROJECT}/docker-compose.yml.rolled-back").sha256sum == rolled_back["compose_before"]
        assert not host.file(PIN).exists
    finally:
        host.run(f"rm -f {PROJECT}/docker-compose.yml.previous {PROJECT}/docker-compose.yml.rolled-back")


def test_writers_were_stopped_and_started_again(host, state, rolled_back):
    assert host.service("ms5-test-writer").is_running
    assert int(writer_started_at(host)) > int(state["writer_before"])
    assert "ms5-test-writer.service" in rolled_back["output"]
    assert "Host timers paused and started again: ms5-retention.timer" in rolled_back["output"]


def test_safety_backup_holds_the_damaged_state(host, state, rolled_back):
    safety = [n for n in listing(host) if n.endswith("_pre-rollback.dump")]
    assert len(safety) == 2
    manifest = manifest_of(host, f"{BACKUP_DIR}/{safety[-1]}")
    assert manifest["kind"] == "pre-rollback"
    assert manifest["migration_version"] == int(state["damaged"]["ledger"][0])
    assert "factory_telemetry.rollback_test_extra" in manifest["tables"]
    assert "Safety backup of the state before the rollback" in rolled_back["output"]


def test_newest_never_selects_a_safety_backup(host, state, failed_attempt, rolled_back):
    newest_file = [n for n in listing(host) if n.endswith(".dump")][-1]
    assert newest_file.endswith("_pre-rollback.dump")
    plan = json.loads(host.check_output(f"{PROGRAM} --select newest"))
    assert plan["file"] == failed_attempt["scheduled"] and plan["pinned"] is None


def test_database_is_usable_after_restore(state, rolled_back):
    sql = state["sql"]
    sql("INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) "
        "SELECT id, '2030-01-01', 1 FROM factory_telemetry.metric_def LIMIT 1")
    assert sql("SELECT count(*) FROM timescaledb_information.chunks WHERE range_start >= '2030-01-01'")[0][0] == "1"
    sql("DELETE FROM factory_telemetry.metric_hist WHERE ts = '2030-01-01'")
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'factory_telemetry_%'") == [["0"]]
    assert sql("SELECT current_setting('timescaledb.restoring')") == [["off"]]
    assert sql("SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) AS s WHERE s LIKE 'ms5_backup.%'") == [["0"]]


def scheduler_diagnosis(host, sql, since: str) -> str:
    """What the job catalog, the job statistics, the background workers and the server
    log say, for a failure message."""
    jobs = sql("SELECT j.id, j.scheduled, s.last_start, s.last_finish, s.next_start, s.total_runs, "
               "s.total_failures, s.total_crashes FROM _timescaledb_config.bgw_job AS j "
               "LEFT JOIN _timescaledb_internal.bgw_job_stat AS s ON s.job_id = j.id ORDER BY j.id")
    workers = sql("SELECT datname, backend_type, state, left(query, 60) FROM pg_stat_activity "
                  "WHERE backend_type NOT IN ('client backend', 'checkpointer', 'walwriter', "
                  "'background writer', 'autovacuum launcher') ORDER BY 1, 2")
    logs = host.run(f"docker logs --since '{since.replace(' ', 'T').replace('+00', 'Z')}' "
                    "ms5-timescaledb 2>&1 | tail -n 40")
    return f"jobs {jobs}; workers {workers}; server log since the swap:\n{logs.stdout}"


def test_timescaledb_jobs_were_held_until_the_swap_and_run_again(host, state, rolled_back):
    """The jobs keep their scheduled state; none ran in the copy before the swap; after it
    the scheduler (which the rename stopped) runs again and starts the due jobs.

    That a job started is read from the scheduler's own statistics
    (_timescaledb_internal.bgw_job_stat), not from job_history, which records a run only
    once it has ended and only when it failed (or with
    timescaledb.enable_job_execution_logging). Neither is in a dump, so the restored
    database starts without any: on this (Apache) build every run of these jobs fails
    with the licence error and is recorded, so no job_history row before the swap means
    the copy ran nothing."""
    sql = state["sql"]
    assert rolled_back["after"]["jobs"] == state["before"]["jobs"]
    assert ["1000", "t"] in state["before"]["jobs"] and ["1001", "f"] in state["before"]["jobs"]
    assert sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'factory_telemetry' "
               "AND backend_type = 'TimescaleDB Background Worker Scheduler'") == [["1"]]
    swapped = rolled_back["swapped"].strftime("%Y-%m-%d %H:%M:%S+00")
    query = ("SELECT j.id, coalesce(s.last_start >= timestamptz '{0}' AND s.total_runs >= 1, false) "
             "FROM _timescaledb_config.bgw_job AS j LEFT JOIN _timescaledb_internal.bgw_job_stat AS s "
             "ON s.job_id = j.id WHERE j.id IN (3, 1000, 1001) ORDER BY j.id").format(swapped)
    deadline = time.monotonic() + 120  # generous: CI runs two scenarios side by side on 2 cores
    while True:
        started = sql(query)
        if started[:2] == [["3", "t"], ["1000", "t"]] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert started == [["3", "t"], ["1000", "t"], ["1001", "f"]], (
        f"expected jobs 3 and 1000 started after the swap at {swapped} and the paused job 1001 never "
        f"(id, started): {started}; {scheduler_diagnosis(host, sql, swapped)}")
    assert sql(f"SELECT count(*) FROM timescaledb_information.job_history WHERE start_time < '{swapped}'") \
        == [["0"]], "a job ran in the restored copy before the swap"
    assert "TimescaleDB jobs: held in the copy and scheduled again: 3, 1000; job scheduler running" in rolled_back["output"]


def test_host_retention_timer_runs_again_on_the_restored_data(host, state, rolled_back):
    """ms5-retention.timer was paused for the rollback and started again; its test trigger
    fires 25 s later and the retention run (after the swap) drops the rows older than
    every window from the restored database."""
    sql = state["sql"]
    try:
        swapped = rolled_back["swapped"].timestamp()
        deadline = time.monotonic() + 240  # the trigger fires 25 s after the rollback; CI is loaded
        while True:
            props = dict(line.split("=", 1) for line in host.run(
                "systemctl show --timestamp=unix ms5-retention.service -p ExecMainStartTimestamp -p Result "
                "-p ActiveState").stdout.splitlines() if "=" in line)
            ran_at = props.get("ExecMainStartTimestamp", "").lstrip("@")
            if ran_at and float(ran_at) >= swapped and props.get("ActiveState") != "activating":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"ms5-retention.service did not run within 240 s of the rollback: {props}")
            time.sleep(1)
        assert props["Result"] == "success", props
        old = {t: int(sql(f"SELECT count(*) FROM factory_telemetry.{t} WHERE {c} < '{OLD}'")[0][0])
               for t, c in HYPERTABLE_TIME.items()}
        assert old == {t: 0 for t in HYPERTABLE_TIME}
        assert int(sql("SELECT count(*) FROM factory_telemetry.metric_hist")[0][0]) > 0
    finally:
        host.run(f"rm -f {TIMER_DROPIN} && systemctl daemon-reload")


def test_check_mode_on_the_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output
    assert recap.get("changed") == 0 and recap.get("failed") == 0, output
