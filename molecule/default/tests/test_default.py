"""Scenario `default`: site.yml end to end, then the plan's success criteria (verify.yml).

Converge ran playbooks/site.yml and idempotence passed before these tests. They check
the outcome a user cares about (a deployed, migrated database that answers queries and
meets the success criteria), that check mode changes nothing, and that bad input fails
before anything changes, with a message naming the variable.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
import yaml
from conftest import HYPERTABLES
from conftest import run_playbook as run_collection_playbook

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
TEST_PASSWORDS = ("molecule-superuser-pw-0001", "molecule-owner-pw-0001", "molecule-app-pw-0001",
                  "molecule-reporting-pw-0001", "molecule-exporter-pw-0001")


def run_playbook(playbook: str, *extra: str) -> tuple[int, dict[str, int], str]:
    """Run a playbook of the collection against this scenario's instance."""
    return run_collection_playbook(os.path.join(PROJECT, "playbooks", playbook), "-e", "ms5_target_hosts=all", *extra)


def assert_no_password(output: str) -> None:
    for pw in TEST_PASSWORDS:
        assert pw not in output, "a password was printed"


def test_all_migrations_applied_and_hypertables_exist(sql):
    files = sorted(f for f in os.listdir(os.path.join(PROJECT, "files", "migrations")) if re.match(r"^\d{3}_.*\.sql$", f))
    ledger = [r[0] for r in sql("SELECT file_name FROM ms5_migrations.schema_migrations ORDER BY version")]
    assert ledger == files
    hypertables = {r[0] for r in sql("SELECT hypertable_name FROM timescaledb_information.hypertables "
                                     "WHERE hypertable_schema = 'factory_telemetry'")}
    assert hypertables == set(HYPERTABLES)


def test_application_role_writes_and_reads_over_tcp(host):
    """The app role (DML only) inserts a sample and reads it back over TCP with its password."""
    script = (
        "import psycopg2\n"
        "c = psycopg2.connect(host='127.0.0.1', dbname='factory_telemetry', user='ms5_app',"
        " password='molecule-app-pw-0001')\n"
        "cur = c.cursor()\n"
        "cur.execute(\"INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type)"
        " VALUES ('MOLECULE-EQ', 'speed', 'REAL') RETURNING id\")\n"
        "mid = cur.fetchone()[0]\n"
        "cur.execute('INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)"
        " VALUES (%s, now(), 42.5)', (mid,))\n"
        "cur.execute('SELECT value_real FROM factory_telemetry.metric_hist WHERE metric_def_id = %s', (mid,))\n"
        "print(cur.fetchone()[0])\n"
        "c.rollback()\n"
    )
    result = host.run("python3 -c %s", script)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "42.5"


def test_backup_program_installed_and_scheduled(host):
    assert host.file("/usr/local/sbin/ms5-backup").is_file
    assert host.file("/etc/cron.d/ms5-backup").contains("/usr/local/sbin/ms5-backup")


def test_check_mode_on_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", -1) == 0, output[-3000:]
    assert recap.get("failed", -1) == 0, output[-3000:]


# The plan's latency target (100 ms) is meant for a database host; CI machines run
# several scenarios side by side on 2 shared cores, where a p95 spike says nothing about
# the deployment. The scenario relaxes only that threshold (the measured values are still
# printed and checked for being measured); test_verify_reports_an_unmet_criterion proves
# that a missed threshold fails the play.
CI_THRESHOLDS = ("-e", "verify_query_max_ms=2000")


@pytest.fixture(scope="module")
def backup_run():
    """What a team does after the first site.yml: a verified backup on demand (the
    nightly cron job would make the first one), which verify.yml's backup criterion needs."""
    return run_playbook("backup.yml")


def test_backup_playbook_makes_a_verified_backup(backup_run, host):
    rc, _, out = backup_run
    assert rc == 0, out[-4000:]
    assert_no_password(out)
    status = json.loads(host.check_output("/usr/local/sbin/ms5-backup --status"))
    assert status["newest_verified"] is not None, status
    assert status["newest_verified"]["verified"]["result"] == "ok", status


@pytest.fixture(scope="module")
def verify_run(backup_run):
    assert backup_run[0] == 0, backup_run[2][-3000:]
    return run_playbook("verify.yml", *CI_THRESHOLDS)


def test_verify_playbook_passes(verify_run):
    rc, recap, out = verify_run
    assert rc == 0, out[-4000:]
    assert "all success criteria passed" in out
    assert recap.get("changed", -1) == 0
    assert_no_password(out)
    for name in ("migrations applied", "TimescaleDB present", "hypertables created", "indexes present",
                 "insert and query work", "ingest into metric_hist", "dashboard queries", "compression",
                 "projected storage per month"):
        assert re.search(r"(PASS|N/A)\s+%s" % re.escape(name), out), name
    assert "apache edition" in out  # the CI image: compression reported as not applicable, with the reason


def test_verify_leaves_no_sample_data(verify_run, sql):
    assert verify_run[0] == 0
    assert sql("SELECT count(*) FROM factory_telemetry.metric_def WHERE equipment_code = 'MS5-VERIFY-EQ'") == [["0"]]
    assert sql("SELECT count(*) FROM factory_telemetry.production_lines WHERE line_code = 'MS5-VERIFY-LINE'") == [["0"]]


def test_verify_reports_an_unmet_criterion():
    rc, _, out = run_playbook("verify.yml", "-e", "verify_query_max_ms=0.001")
    assert rc != 0
    assert "success criteria failed: dashboard queries" in out
    assert re.search(r"FAIL\s+dashboard queries", out)


def test_verify_wrong_password_fails_clearly():
    rc, _, out = run_playbook("verify.yml", "-e", "verify_db_password=not-the-right-password")
    assert rc != 0
    assert "cannot connect to 127.0.0.1:5432/factory_telemetry as ms5_owner" in out
    assert "not-the-right-password" not in out


# ---------------------------------------------------------------- phase tags
# docs/CONVENTIONS.md: every role's <role>_preflight, _install, _configure, _run tags
# run their phase alone, after validation. The phases of each role (read from its
# tasks/main.yml) are split over two runs so that no phase runs with the phase next
# to it: run A has the 2nd and 4th phase of every role, run B the 1st and 3rd.
# The idiom's core is a preflight that runs whatever the tags (tag `always`): a role
# whose tasks/main.yml does not give it one yet is left out of runs A and B and has
# a test of its own that must fail (strict) until it does.

ROLES = ("docker", "timescaledb", "migrations", "timescaledb_policies", "rollups", "backup", "monitoring")


COMMON = "ms5.factory_telemetry._common"


def _task_names(path: str) -> set[str]:
    """Names of every task in a task file, blocks and included files included. Tasks a
    file imports from the internal role _common are named "ms5.factory_telemetry._common :
    <name>" (their header names that role)."""
    names: set[str] = set()
    if not os.path.exists(path):
        return names
    for task in yaml.safe_load(open(path, encoding="utf-8")) or []:
        if "{{" not in task.get("name", "{{"):
            names.add(task["name"])
        for key in ("block", "rescue", "always"):
            for sub in task.get(key) or []:
                if "{{" not in sub.get("name", "{{"):
                    names.add(sub["name"])
                names |= _common_imports(sub)
        for key in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks"):
            if key in task:
                ref = task[key]["file"] if isinstance(task[key], dict) else task[key]
                if "{{" not in ref:
                    names |= _task_names(os.path.join(os.path.dirname(path), ref))
        names |= _common_imports(task)
    return names


def _common_imports(task: dict) -> set[str]:
    """The tasks a task imports from _common, as "<role> : <name>"."""
    imported = task.get("ansible.builtin.import_role") or {}
    if imported.get("name") != COMMON or "tasks_from" not in imported:
        return set()
    return {f"{COMMON} : {n}"
            for n in _task_names(os.path.join(PROJECT, "roles", "_common", "tasks", imported["tasks_from"]))}


def _phase_includes(role: str) -> list[dict]:
    """The include/import tasks of a role's tasks/main.yml (inside blocks too)."""
    entries = yaml.safe_load(open(os.path.join(PROJECT, "roles", role, "tasks", "main.yml"), encoding="utf-8"))
    return [task for entry in entries for task in entry.get("block", [entry])
            if "ansible.builtin.include_tasks" in task or "ansible.builtin.import_tasks" in task]


def role_phases(role: str) -> list[tuple[str, set[str]]]:
    """[(tag, task names of that phase)] in the order of the role's tasks/main.yml."""
    tasks_dir = os.path.join(PROJECT, "roles", role, "tasks")
    phases: dict[str, set[str]] = {}
    for task in _phase_includes(role):
        key = "ansible.builtin.include_tasks" if "ansible.builtin.include_tasks" in task else "ansible.builtin.import_tasks"
        ref = task[key]["file"] if isinstance(task[key], dict) else task[key]
        for tag in (t for t in task.get("tags", []) if t.startswith(role + "_")):
            phases.setdefault(tag, set()).update(_task_names(os.path.join(tasks_dir, ref)))
    return list(phases.items())


def preflight_always(role: str) -> bool:
    """True when the role's preflight runs whatever the tags (the idiom)."""
    return any(f"{role}_preflight" in task.get("tags", []) and "always" in task.get("tags", [])
               for task in _phase_includes(role))


IDIOM_ROLES = tuple(r for r in ROLES if preflight_always(r))


def split_phases() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    run_a: dict[str, set[str]] = {}
    run_b: dict[str, set[str]] = {}
    for role in IDIOM_ROLES:
        for index, (tag, names) in enumerate(role_phases(role)):
            (run_a if index % 2 else run_b)[tag] = {f"TASK [{n}]" if n.startswith(COMMON + " : ")
                                                    else f"TASK [ms5.factory_telemetry.{role} : {n}]" for n in names}
    return run_a, run_b


def test_every_role_documents_its_phase_tags():
    for role in ROLES:
        tags = [tag for tag, _ in role_phases(role)]
        assert f"{role}_preflight" in tags, (role, tags)
        assert len(tags) >= 3, (role, tags)


@pytest.mark.parametrize("run", ["A", "B"])
def test_phase_tags_run_alone_after_validation(run):
    phases = dict(zip("AB", split_phases()))[run]
    rc, recap, out = run_playbook("site.yml", "--tags", ",".join(sorted(phases)))
    assert rc == 0, out[-4000:]
    assert recap.get("changed", -1) == 0, out[-4000:]
    assert "Validate every role's input before anything changes" in out
    for tag, headers in sorted(phases.items()):
        assert any(h in out for h in headers), f"--tags {tag}: none of its tasks ran"


def test_every_role_runs_its_preflight_whatever_the_tags():
    """The phase-tag idiom: a role's preflight include carries `always`, so `--tags
    <role>_install` (or any other phase) validates first."""
    assert IDIOM_ROLES == ROLES, f"preflight not tagged always in: {sorted(set(ROLES) - set(IDIOM_ROLES))}"


# ---------------------------------------------------------------- bad input
# site.yml validates every role's input in a phase of its own before any role runs.
# Each bad run below also carries a valid change that an earlier role would make
# (a new Docker daemon option, a new memory limit that recreates the database
# container), so "nothing changed" proves the refusal came before the first change.

def host_state(host) -> dict:
    """What the bad runs must leave alone."""
    return {
        "daemon.json": host.file("/etc/docker/daemon.json").content_string,
        "compose": host.file("/opt/ms5-backend/docker-compose.yml").content_string,
        "previous": host.run("sha1sum /opt/ms5-backend/docker-compose.yml.previous").stdout,
        "container": host.check_output("docker inspect -f '{{.Id}} {{.State.StartedAt}}' ms5-timescaledb"),
        "ledger": host.check_output("docker exec ms5-timescaledb psql -X -At -U postgres -d factory_telemetry "
                                    "-c 'SELECT count(*) FROM ms5_migrations.schema_migrations'"),
    }


DAEMON_CHANGE = json.dumps({"docker_daemon_options": {"log-driver": "json-file", "live-restore": True,
                                                      "log-opts": {"max-size": "30m", "max-file": "2"}}})


def test_site_refuses_placeholder_password_before_changing_anything(host):
    before = host_state(host)
    rc, recap, out = run_playbook("site.yml", "-e", DAEMON_CHANGE,
                                  "-e", "timescaledb_app_password=CHANGE-ME-application-password")
    assert rc != 0
    assert "timescaledb_app_password is a placeholder value" in out
    assert recap.get("changed", -1) == 0
    assert "CHANGE-ME-application-password" not in out
    assert host_state(host) == before


def test_site_refuses_a_size_with_spaces_before_changing_anything(host):
    """Docker's size syntax strictly: '4  GB' fails in the validation phase, naming the
    variable, before the docker role would have rewritten daemon.json."""
    before = host_state(host)
    rc, recap, out = run_playbook("site.yml", "-e", DAEMON_CHANGE, "-e", '{"timescaledb_memory_limit": "4  GB"}')
    assert rc != 0
    assert "timescaledb_memory_limit = '4  GB' is not a size" in out
    assert "Validate every role's input before anything changes" in out
    assert "Deploy the MS5.0 factory-telemetry database" not in out
    assert recap.get("changed", -1) == 0
    assert host_state(host) == before
    state = host.run("docker inspect -f '{{.State.Health.Status}}' ms5-timescaledb")
    assert state.stdout.strip() == "healthy"


# The migration files are the migrations role's input: site.yml's validation phase checks
# them (roles/migrations/tasks/validate.yml) before the timescaledb role would apply a new
# memory limit.
def test_site_refuses_a_bad_migration_file_before_changing_anything(host, tmp_path):
    """A migration file that cannot run in a transaction fails in the validation phase,
    naming the file, before the timescaledb role would have recreated the container
    with the new memory limit."""
    source = tmp_path / "migrations"
    shutil.copytree(os.path.join(PROJECT, "files", "migrations"), source)
    (source / "010_add_index_concurrently.sql").write_text(
        "CREATE INDEX CONCURRENTLY metric_hist_molecule_idx ON factory_telemetry.metric_hist (ts);\n")
    before = host_state(host)
    rc, recap, out = run_playbook("site.yml", "-e", f"migrations_source_dir={source}",
                                  "-e", "timescaledb_memory_limit=1100M")
    after = host_state(host)
    if after != before:  # put the scenario's definition back for whatever runs next
        run_playbook("site.yml", "--tags", "timescaledb")
    assert rc != 0
    assert "010_add_index_concurrently.sql" in out
    assert "Deploy the MS5.0 factory-telemetry database" not in out
    assert recap.get("changed", -1) == 0
    assert after == before
