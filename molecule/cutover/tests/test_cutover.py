"""Verify the cutover (issue 10) after converge, idempotence and side_effect.

The story the scenario plays (molecule.yml): the plan's legacy stack on PostgreSQL 15
with a backend stand-in writing one metric_hist row per second (every attempt logged
in /opt/ms5-backend/standin/writes.log), a cutover (converge), a second run that
changes nothing (idempotence), then side_effect: the confirmed rollback to
PostgreSQL 15 (the rows written on TimescaleDB meanwhile dumped and loaded back), bad
input refused, a failure injected during the restore (automatic return), and a new
cutover. These tests check the outcome: every table equal to the legacy at the pause,
the hypertables, the backend on TimescaleDB through its old host name, nothing the
backend ever wrote lost, failed writes only in the pauses, the legacy volume
untouched, the rollback's report, check mode, site.yml keeping the contract, and
last the removal of the legacy volume after its minimum age.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import run_playbook, run_sql

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
STATE = "/var/lib/ms5/cutover/state.json"
EVIDENCE = "/root/ms5-evidence"
WRITES = "/opt/ms5-backend/standin/writes.log"
TARGET = "ms5-timescaledb"
LEGACY = "ms5_postgres_production"
WRITER = "ms5_backend_production"
NETWORK = "ms5-backend_ms5_network_production"
HYPERTABLES = {
    "factory_telemetry.metric_hist": "ts",
    "factory_telemetry.fault_event": "ts_on",
    "factory_telemetry.downtime_events": "start_time",
    "factory_telemetry.oee_calculations": "calculation_time",
    "factory_telemetry.production_kpis": "kpi_date",
    "factory_telemetry.energy_consumption": "consumption_time",
}
STANDIN_ROWS = ("SELECT value_int FROM factory_telemetry.metric_hist WHERE metric_def_id = "
                "(SELECT id FROM factory_telemetry.metric_def WHERE equipment_code = 'STANDIN')")


def read_json(host, path: str) -> dict:
    result = host.run(f"cat {shlex.quote(path)}")
    assert result.rc == 0, f"{path}: {result.stderr}"
    return json.loads(result.stdout)


def inspect(host, name: str) -> dict:
    result = host.run(f"docker inspect {shlex.quote(name)}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def parse_writes(text: str) -> list[tuple[str, float, int | None]]:
    """[(ok|fail, unix time, value or None)] of the stand-in's log."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("ok", "fail"):
            out.append((parts[0], float(parts[1]), int(parts[2]) if parts[0] == "ok" else None))
    return out


def epoch(stamp: str) -> float:
    """'2026-11-29 15:49:25+00' or an isoformat without zone (UTC) -> unix time."""
    stamp = stamp.replace("+00", "").replace("T", " ")
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture(scope="module")
def state(host) -> dict:
    return read_json(host, STATE)


@pytest.fixture(scope="module")
def evidence(host) -> dict:
    return {name: read_json(host, f"{EVIDENCE}/state-{name}.json") for name in ("converge", "rollback", "returned")}


@pytest.fixture(scope="module")
def target_sql(host):
    def _sql(query: str) -> list[list[str]]:
        return run_sql(host, query, container=TARGET)
    return _sql


def test_the_cutover_is_done_after_a_rollback_and_a_returned_attempt(state, evidence):
    assert evidence["converge"]["status"] == "done"
    assert evidence["rollback"]["status"] == "rolled_back"
    assert evidence["returned"]["status"] == "returned"
    assert "killed" in evidence["returned"]["error"] or "not running" in evidence["returned"]["error"]
    assert state["status"] == "done"
    assert state["attempt"] == evidence["returned"]["attempt"] + 1
    assert state["proof"]["rows"] >= 1_000_000
    for phase in ("backup", "target_up", "schema", "history", "catch_up", "pause", "pause_copy_and_proof", "total"):
        assert state["phases"][phase] >= 0, phase


def test_every_table_equals_the_legacy_at_the_pause(host, state, target_sql):
    """The proof in the state, and recomputed now on TimescaleDB with the shared SQL:
    every table except metric_hist is unchanged since the pause; metric_hist without
    the rows written after the switch (the stand-in's) has the legacy's count and
    fingerprint at the pause."""
    proof = state["proof"]["tables"]
    assert len(proof) == 33
    fingerprints = (REPO / "roles/_common/files/sql/table_fingerprints.sql").read_text()
    result = host.run(f"docker exec -i {TARGET} psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -U postgres "
                      f"-d factory_telemetry <<'EOF'\n{fingerprints}\nEOF")
    assert result.rc == 0, result.stderr
    now = {f"{s}.{t}": (int(n), f) for s, t, n, f in (line.split("|") for line in result.stdout.splitlines() if line)}
    horizon = int(state["horizon"]) % 4294967296
    for table, entry in proof.items():
        if table == "factory_telemetry.metric_hist":
            # The rows of the pause: all but those written by later transactions (the
            # stand-in's since the writers started again), as the rollback counts them.
            rows, fingerprint = target_sql(
                "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
                "SET extra_float_digits = 1; SET bytea_output = 'hex'; "
                "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0) "
                "FROM factory_telemetry.metric_hist AS t WHERE NOT (t.xmin::text::bigint >= 3 AND "
                f"((t.xmin::text::bigint - {horizon}) % 4294967296 + 4294967296) % 4294967296 < 2147483648)")[-1]
            assert (int(rows), fingerprint) == (entry["rows"], entry["fingerprint"]), table
        else:
            assert now[table] == (entry["rows"], entry["fingerprint"]), table
    assert proof["factory_telemetry.metric_hist"]["rows"] >= 1_000_000


def test_the_six_hypertables_hold_all_their_rows_in_chunks(target_sql, state):
    rows = target_sql("SELECT d.hypertable_schema || '.' || d.hypertable_name, d.column_name, h.num_chunks "
                      "FROM timescaledb_information.dimensions d JOIN timescaledb_information.hypertables h "
                      "USING (hypertable_schema, hypertable_name) ORDER BY 1")
    assert {r[0]: r[1] for r in rows} == HYPERTABLES
    for table, _col, chunks in rows:
        assert int(chunks) > 0, table
        assert target_sql(f"SELECT count(*) FROM ONLY {table}") == [["0"]], table
        assert state["proof"]["chunks"][table] > 0


def test_the_ledger_records_the_shipped_migrations_as_baseline(target_sql):
    rows = target_sql("SELECT version, file_name, checksum_sha256, kind FROM ms5_migrations.schema_migrations ORDER BY 1")
    files = sorted((REPO / "files/migrations").glob("0*.sql"))
    assert [int(r[0]) for r in rows] == list(range(1, len(files) + 1))
    for row, path in zip(rows, files):
        assert row[1] == path.name
        assert row[2] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row[3] == "baseline"


def test_objects_that_need_timescaledb_were_made_from_the_shipped_text(target_sql, state):
    assert target_sql("SELECT to_regclass('factory_telemetry.v_energy_per_unit') IS NOT NULL, "
                      "to_regclass('factory_telemetry.metric_hist_ts_idx') IS NOT NULL") == [["t", "t"]]
    assert target_sql("SELECT count(*) > 0 FROM factory_telemetry.v_energy_per_unit") == [["t"]]
    created = state["reference_check"]["created_from_migrations"]
    assert any("v_energy_per_unit" in item for item in created)
    assert state["reference_check"]["missing"] == [] and state["reference_check"]["different"] == []


def test_the_backend_keeps_its_host_name_network_port_user_and_password(host, target_sql):
    info = inspect(host, TARGET)
    assert info["State"]["Running"]
    assert "postgres" in info["NetworkSettings"]["Networks"][NETWORK]["Aliases"]
    assert info["Config"]["Labels"]["com.docker.compose.project"] == "ms5-timescaledb"
    assert info["HostConfig"]["PortBindings"]["5432/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "5432"}]
    role = target_sql("SELECT rolsuper, left(rolpassword, 14) FROM pg_authid WHERE rolname = 'ms5_user_production'")
    assert role == [["t", "SCRAM-SHA-256$"]]
    names = {r[0] for r in target_sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'ms5%'")}
    assert {"ms5_owner", "ms5_app", "ms5_reporting", "ms5_user_production"} <= names
    # A password login as the backend, from another container on its network, by host name.
    password = host.run("sed -n 's/^POSTGRES_PASSWORD_PRODUCTION=//p' /opt/ms5-backend/.env").stdout.strip()
    out = host.run(
        f"printf '%s\\n' {shlex.quote(password)} | docker run --rm -i --network {NETWORK} --entrypoint sh "
        f"ms5-test-timescaledb:latest -c 'read -r PGPASSWORD; export PGPASSWORD; psql -X -At "
        f"\"host=postgres user=ms5_user_production dbname=factory_telemetry\" "
        f"-c \"SHOW timescaledb.license\"'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() in ("apache", "timescale")


def test_the_backend_writes_to_timescaledb_again(host, target_sql):
    before = parse_writes(host.file(WRITES).content_string)
    deadline = time.time() + 30
    while True:
        after = parse_writes(host.file(WRITES).content_string)
        if len([w for w in after if w[0] == "ok"]) >= len([w for w in before if w[0] == "ok"]) + 2:
            break
        assert time.time() < deadline, "the stand-in stopped writing"
        time.sleep(1)
    last = [w for w in after if w[0] == "ok"][-1][2]
    assert [str(last)] in target_sql(STANDIN_ROWS + f" AND value_int = {last}")
    assert not inspect(host, LEGACY)["State"]["Running"]


def test_nothing_the_backend_wrote_was_lost(host, target_sql):
    """Every write the stand-in saw succeed, on PostgreSQL 15 before, on TimescaleDB
    after the cutover, on TimescaleDB until the rollback (dumped, loaded back), on
    PostgreSQL 15 after it and around the returned attempt, is in TimescaleDB now."""
    writes = parse_writes(host.file(WRITES).content_string)
    ok = [w[2] for w in writes if w[0] == "ok"]
    stored = [int(r[0]) for r in target_sql(STANDIN_ROWS)]
    missing = sorted(set(ok) - set(stored))
    assert missing == [], f"{len(missing)} acknowledged writes missing, e.g. {missing[:10]}"
    assert len(stored) - len(set(ok)) <= 2  # a write in flight when a writer stopped


def test_failed_writes_only_in_the_pauses(host, state, evidence):
    writes = parse_writes(host.file(WRITES).content_string)
    fails = [w for w in writes if w[0] == "fail"]
    assert len(fails) <= 4, fails[:10]
    ok_times = [w[1] for w in writes if w[0] == "ok"]
    gaps = [(a, b) for a, b in zip(ok_times, ok_times[1:]) if b - a > 6]
    # converge's pause, the rollback, the returned attempt, the final pause
    assert len(gaps) <= 4, gaps
    for record in (evidence["converge"], state):
        start, end = epoch(record["pause_started_at"]) - 1, epoch(record["pause_ended_at"]) + 1
        inside = [t for t in ok_times if start + 2 < t < end - 2]
        assert inside == [], f"writes succeeded inside a pause {record['pause_started_at']}..{record['pause_ended_at']}"
        gap = next(((a, b) for a, b in gaps if a <= end and b >= start), None)
        assert gap is not None, f"no write gap around the pause at {record['pause_started_at']}"
        assert gap[1] - gap[0] <= record["pause_seconds"] + 8
    for w in fails:
        assert any(a - 2 <= w[1] <= b + 2 for a, b in gaps), f"failed write outside a pause: {w}"


def test_the_legacy_volume_is_untouched(host, state):
    script = (
        "import hashlib, os, sys\n"
        "root = sys.argv[1]; h = hashlib.sha256(); n = 0\n"
        "for d, dirs, files in os.walk(root):\n"
        "    dirs.sort()\n"
        "    for f in sorted(files):\n"
        "        p = os.path.join(d, f); st = os.lstat(p)\n"
        "        h.update(f'{os.path.relpath(p, root)}\\0{st.st_size}\\0{st.st_mtime_ns}\\n'.encode()); n += 1\n"
        "print(h.hexdigest(), n)\n")
    out = host.run(f"python3 -c {shlex.quote(script)} {shlex.quote(state['legacy']['volume_path'])}")
    assert out.rc == 0, out.stderr
    digest, files = out.stdout.split()
    assert (digest, int(files)) == (state["volume_digest"]["digest"], state["volume_digest"]["files"])
    assert host.run("docker volume inspect ms5-backend_postgres_data_production").rc == 0
    assert not inspect(host, LEGACY)["State"]["Running"]


def test_the_rollback_reported_and_dumped_the_rows_written_after_the_cutover(host, evidence):
    rollback = evidence["rollback"]["rollback"]
    counts = rollback["rows_after_switch"]
    assert set(counts) == set(HYPERTABLES)
    assert all(counts[t] == 0 for t in HYPERTABLES if t != "factory_telemetry.metric_hist")
    writes = parse_writes(host.file(WRITES).content_string)
    converge = evidence["converge"]
    end = epoch(converge["pause_ended_at"])
    ok_times = [w[1] for w in writes if w[0] == "ok"]
    after = [t for t in ok_times if t > end]
    # The stand-in's writes on TimescaleDB: from the converge's pause until the rollback's pause.
    stop = next(b for a, b in zip(after, after[1:]) if b - a > 6)
    written = len([t for t in after if t < stop])
    assert counts["factory_telemetry.metric_hist"] in (written, written + 1)
    dump = host.file(rollback["dump"])
    assert dump.exists and dump.mode == 0o600
    assert 'COPY "factory_telemetry"."metric_hist"' in dump.content_string


def test_the_pre_migration_backup_of_the_legacy(host, state):
    path = state["pre_migration_backup"]["file"]
    assert path.startswith("/opt/ms5-backend/backups/factory_telemetry_") and path.endswith("_pre-migration.dump")
    manifest = read_json(host, path + ".manifest.json")
    assert manifest["postgresql_version"].startswith("15.")
    assert manifest["timescaledb_version"] is None
    assert manifest["tables"]["factory_telemetry.metric_hist"] >= 1_000_000
    assert host.file(path).mode == 0o600


def test_check_mode_on_the_cut_over_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", 0) == 0, output[-3000:]
    assert "nothing to do" in output


def test_site_yml_keeps_the_contract():
    """The timescaledb role with the inventory (what site.yml runs) in check mode: the
    compose definition, the backend role and its password stay as the cutover left them."""
    rc, recap, output = run_playbook(str(SCENARIO / "timescaledb_check.yml"), "--check", "--diff")
    assert rc == 0, output[-3000:]
    assert recap.get("changed", 0) == 0, output[-3000:]


def test_cleanup_refuses_before_the_minimum_age_then_removes_the_legacy(host):
    """Last: unconfirmed and too early are refused (nothing removed); once the cutover is
    15 days old (its state's time set back, as time passes) the confirmed cleanup
    removes the legacy container and volume, and the cutover still reports done."""
    playbook = str(REPO / "playbooks/cutover_cleanup.yml")
    rc, _, output = run_playbook(playbook, "-e", "ms5_target_hosts=all", "-e", "cutover_cleanup_confirm=false")
    assert rc != 0 and "cutover_cleanup_confirm=true" in output
    rc, _, output = run_playbook(playbook, "-e", "ms5_target_hosts=all", "-e", "cutover_cleanup_confirm=true")
    assert rc != 0 and "day(s) old" in output and "cutover_cleanup_min_age_days = 14" in output
    assert host.run(f"docker inspect {LEGACY}").rc == 0
    aged = host.run("python3 -c \"import json; p='/var/lib/ms5/cutover/state.json'; d=json.load(open(p)); "
                    "d['done_epoch'] = float(d['done_epoch']) - 15 * 86400; json.dump(d, open(p, 'w'))\"")
    assert aged.rc == 0, aged.stderr
    rc, _, output = run_playbook(playbook, "-e", "ms5_target_hosts=all", "-e", "cutover_cleanup_confirm=true")
    assert rc == 0, output[-3000:]
    assert host.run(f"docker inspect {LEGACY}").rc != 0
    assert host.run("docker volume inspect ms5-backend_postgres_data_production").rc != 0
    assert read_json(host, STATE)["status"] == "cleaned"
    rc, recap, output = run_playbook(str(SCENARIO / "converge.yml"))
    assert rc == 0 and recap.get("changed", 0) == 0, output[-3000:]
    assert "were removed" in output
