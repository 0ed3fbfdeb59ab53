"""Unit tests of the cutover role's own decisions, rendered by a real ansible-playbook run:
the input validation (templates/validate_problems.j2) and the preflight
(templates/preflight_problems.j2) against discoveries of legacy hosts that must be
refused, each with the variable or object named and the fix; and the bench's report.
The full runs are in molecule/cutover."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

ROLE = ROOT / "roles" / "cutover"


PLAY = ROOT / "tests" / "unit" / "plays" / "render_role_template.yml"


def problems(template: str, extra: dict) -> list[str]:
    """The role's template rendered by a real ansible-playbook run (the role's defaults
    and vars, then EXTRA as extra vars); its YAML list of problems."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.yml"
        case = Path(tmp) / "case.json"
        case.write_text(json.dumps({**extra, "role_path": str(ROLE), "ms5_role_dir": str(ROLE),
                                    "ms5_template": template, "ms5_result_file": str(result),
                                    "ansible_python_interpreter": sys.executable}))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(PLAY), "-e", f"@{case}"],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return yaml.safe_load(result.read_text() or "") or []


def discovery(**changes) -> dict:
    d = {
        "legacy": {
            "compose_file": "/opt/ms5-backend/docker-compose.production.yml", "project": "ms5-backend",
            "project_dir": "/opt/ms5-backend", "service": "postgres", "services": ["backend", "postgres"],
            "container": "ms5_postgres_production", "running": True, "image": "postgres:15-alpine",
            "user": "ms5_user_production", "database": "factory_telemetry", "has_password_env": True,
            "volume": "ms5-backend_postgres_data_production", "volume_type": "volume",
            "volume_path": "/var/lib/docker/volumes/ms5-backend_postgres_data_production/_data",
            "networks": [{"name": "ms5-backend_ms5_network_production", "aliases": ["postgres"], "ip": "172.19.0.2"}],
            "ports": [{"container_port": "5432/tcp", "host_ip": "0.0.0.0", "host_port": "5432"}],
            "writer_services": ["backend"],
            "containers": [{"service": "backend", "container": "ms5_backend_production", "state": "running"}],
        },
        "target_container": {"exists": False, "running": False, "image": "", "project": ""},
        "database": {"server_version": "15.18", "major": 15, "superuser": True, "password_kind": "scram-sha-256",
                     "size_bytes": 3 * 1024 ** 3, "timescaledb": None},
        "reference": {"major": 17, "postgres": "17.6", "timescaledb": "2.19.3", "license": "apache"},
        "objects": {"expected": 325, "present": 312, "missing_timescaledb": ["view x.v"], "missing_other": [],
                    "unexpected_timescaledb": [], "extra": []},
        "timeseries": [{"table": "factory_telemetry.metric_hist", "time_column": "ts", "exists": True, "relkind": "r",
                        "column_type": "timestamp with time zone", "unique_without_time": []}],
        "disk": {"docker_root": {"path": "/var/lib/docker", "measured_at": "/var/lib/docker",
                                 "free_bytes": 100 * 1024 ** 3, "total_bytes": 200 * 1024 ** 3},
                 "backup_dir": {"path": "/opt/ms5-backend/backups", "measured_at": "/opt/ms5-backend/backups",
                                "free_bytes": 50 * 1024 ** 3, "total_bytes": 60 * 1024 ** 3}},
    }
    for path, value in changes.items():
        node = d
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return d


CONTRACT = {
    "timescaledb_extra_networks": [{"name": "ms5-backend_ms5_network_production", "aliases": ["postgres"]}],
    "timescaledb_backend_role": "ms5_user_production",
    "timescaledb_backend_privileges": "superuser",
    "cutover_accept_bind_change": True,
}


def target(variables: dict) -> dict:
    """vars/main.yml's _cutover_target for these inventory variables (the network
    entries as the timescaledb_networks filter normalises them)."""
    return {
        "container": variables.get("timescaledb_container_name", "ms5-timescaledb"),
        "database": variables.get("timescaledb_database", "factory_telemetry"),
        "image": "timescale/timescaledb:2.29.2-pg17",
        "project_dir": variables.get("timescaledb_project_dir", "/opt/ms5-backend"),
        "project_name": variables.get("timescaledb_compose_project_name", "ms5-timescaledb"),
        "volume": variables.get("timescaledb_data_volume", "ms5-timescaledb-data"),
        "port": 5432,
        "bind_address": variables.get("timescaledb_bind_address", "127.0.0.1"),
        "networks": [{"name": n, "aliases": []} if isinstance(n, str) else {"name": n["name"], "aliases": n.get("aliases", [])}
                     for n in variables.get("timescaledb_extra_networks", [])],
        "backend_role": variables.get("timescaledb_backend_role", ""),
        "backend_privileges": variables.get("timescaledb_backend_privileges", "app"),
    }


def preflight(disc: dict, **extra) -> list[str]:
    variables = dict(CONTRACT)
    variables.update(extra)
    variables.setdefault("__cutover_writers", ["ms5_backend_production"])
    variables.update(__cutover_discovery=disc, __cutover_lock_stat={"stat": {"exists": False}}, __cutover_state={})
    variables["_cutover_target"] = target(variables)
    return problems("preflight_problems.j2", variables)


def test_a_good_legacy_host_passes():
    assert preflight(discovery()) == []


def test_the_contract_must_be_in_the_inventory():
    got = preflight(discovery(), timescaledb_extra_networks=[], timescaledb_backend_role="",
                    timescaledb_backend_privileges="app", cutover_accept_bind_change=False)
    text = "\n".join(got)
    assert "add {name: ms5-backend_ms5_network_production, aliases: [postgres]}" in text
    assert "set timescaledb_backend_role: ms5_user_production" in text
    assert "set timescaledb_backend_privileges: superuser" in text
    assert "cutover_accept_bind_change: true" in text and "0.0.0.0" in text


def test_a_legacy_that_is_already_timescaledb_is_refused():
    got = preflight(discovery(database__timescaledb="2.14.2"))
    assert any("already has TimescaleDB 2.14.2" in p and "cutover_legacy_service" in p for p in got)


def test_a_stopped_legacy_is_refused():
    got = preflight(discovery(legacy__running=False))
    assert any("is not running" in p and "up -d postgres" in p for p in got)


def test_too_little_disk_names_the_numbers():
    disk = {"docker_root": {"path": "/var/lib/docker", "measured_at": "/var/lib/docker",
                            "free_bytes": 2 * 1024 ** 3, "total_bytes": 9 * 1024 ** 3},
            "backup_dir": {"path": "/srv/tiny/backups", "measured_at": "/srv/tiny",
                           "free_bytes": 1024 ** 2, "total_bytes": 1024 ** 2}}
    got = preflight(discovery(disk=disk))
    assert any("not enough free space for the backup: /srv/tiny/backups has 1 MiB free" in p and "4096 MiB" in p
               for p in got), got
    assert any("not enough free space for the new volume" in p and "5632 MiB" in p for p in got), got


def test_one_filesystem_needs_both():
    disk = {k: {"path": p, "measured_at": "/", "free_bytes": 8 * 1024 ** 3, "total_bytes": 100 * 1024 ** 3}
            for k, p in (("docker_root", "/var/lib/docker"), ("backup_dir", "/opt/ms5-backend/backups"))}
    got = preflight(discovery(disk=disk))
    assert any("one filesystem" in p and "9728 MiB" in p for p in got), got


def test_a_unique_key_without_the_time_column_is_named_with_the_fix():
    ts = [{"table": "factory_telemetry.fault_event", "time_column": "ts_on", "exists": True, "relkind": "r",
           "column_type": "timestamp with time zone",
           "unique_without_time": [{"name": "fault_event_pkey", "constraint": "fault_event_pkey",
                                    "definition": "PRIMARY KEY (id)"}]}]
    got = preflight(discovery(timeseries=ts))
    assert any("unique constraint fault_event_pkey (PRIMARY KEY (id)) does not include the time column ts_on" in p
               and "ALTER TABLE factory_telemetry.fault_event DROP CONSTRAINT fault_event_pkey" in p for p in got), got


def test_missing_time_column_wrong_type_and_missing_table():
    ts = [{"table": "s.a", "time_column": "ts", "exists": True, "relkind": "r", "column_type": None,
           "unique_without_time": []},
          {"table": "s.b", "time_column": "ts", "exists": True, "relkind": "r", "column_type": "bigint",
           "unique_without_time": []},
          {"table": "s.c", "time_column": "ts", "exists": False, "relkind": None, "column_type": None,
           "unique_without_time": []}]
    got = "\n".join(preflight(discovery(timeseries=ts)))
    assert "s.a has no time column ts" in got and "s.b.ts is bigint" in got and "s.c (a hypertable" in got


def test_objects_missing_for_other_reasons_stop_the_cutover():
    got = preflight(discovery(objects__missing_other=["index factory_telemetry.users_email_lower_key"]))
    assert any("users_email_lower_key" in p and "cutover_baseline_version" in p for p in got)


def test_md5_password_needs_the_plaintext():
    got = preflight(discovery(database__password_kind="md5"))
    assert any("as md5" in p and "cutover_backend_password" in p for p in got)
    assert preflight(discovery(database__password_kind="md5"), cutover_backend_password="the-backend-password-1") == []


def test_names_shared_with_the_legacy_are_refused():
    got = "\n".join(preflight(discovery(), timescaledb_compose_project_name="ms5-backend",
                              timescaledb_container_name="ms5_postgres_production",
                              timescaledb_data_volume="ms5-backend_postgres_data_production"))
    assert "timescaledb_compose_project_name must differ" in got
    assert "timescaledb_container_name must differ" in got
    assert "timescaledb_data_volume must differ" in got


def test_writers_must_be_known():
    got = preflight(discovery(), cutover_writers=["frontend"], __cutover_writers=[])
    text = "\n".join(got)
    assert "cutover_writers names frontend" in text and "backend, postgres" in text
    assert "no running writer was found" in text
    assert preflight(discovery(), __cutover_writers=[], cutover_allow_no_writers=True) == []


def test_another_run_and_a_foreign_target_container():
    disc = discovery(target_container={"exists": True, "running": True, "image": "timescale/x", "project": "p"})
    variables = dict(CONTRACT, __cutover_writers=["w"], __cutover_discovery=disc,
                     __cutover_lock_stat={"stat": {"exists": True}}, __cutover_lock_text="started yesterday",
                     __cutover_state={})
    variables["_cutover_target"] = target(variables)
    got = "\n".join(problems("preflight_problems.j2", variables))
    assert "another cutover run holds the lock" in got and "started yesterday" in got
    assert "already exists on this host" in got
    variables["__cutover_state"] = {"status": "returned"}
    variables["__cutover_lock_stat"] = {"stat": {"exists": False}}
    assert problems("preflight_problems.j2", variables) == []


@pytest.mark.parametrize("extra, expect", [
    ({"cutover_legacy_compose_file": "docker-compose.yml"}, "cutover_legacy_compose_file must be the absolute path"),
    ({"cutover_legacy_service": "bad name"}, "cutover_legacy_service must be"),
    ({"cutover_writers": "backend"}, "cutover_writers must be a list"),
    ({"cutover_writers": ["postgres"]}, "must not name the database service"),
    ({"cutover_baseline_version": 0}, "cutover_baseline_version must be"),
    ({"cutover_baseline_version": 12}, "lacks migration(s) 010, 011, 012"),
    ({"cutover_staging_port": 5432}, "cutover_staging_port must differ from timescaledb_port"),
    ({"cutover_staging_port": 80}, "cutover_staging_port must be a port number 1024-65535"),
    ({"cutover_tail_margin": "five minutes"}, "is not an interval"),
    ({"cutover_space_factor": 0.5}, "cutover_space_factor must be a number of at least 1"),
    ({"cutover_sessions_timeout": 0}, "cutover_sessions_timeout must be a whole number of at least 1"),
    ({"cutover_accept_bind_change": "maybe"}, "cutover_accept_bind_change must be true or false"),
    ({"cutover_inject_failure": "pause"}, "cutover_inject_failure must be empty"),
])
def test_validate_names_the_variable(extra, expect):
    variables = dict(extra)
    variables["__cutover_migration_files"] = sorted(p.name for p in (ROOT / "files/migrations").glob("0*.sql"))
    got = problems("validate_problems.j2", variables)
    assert any(expect in p for p in got), got


def test_validate_accepts_the_defaults():
    variables = {"__cutover_migration_files": sorted(p.name for p in (ROOT / "files/migrations").glob("0*.sql"))}
    assert problems("validate_problems.j2", variables) == []


def test_bench_report_lines():
    spec = importlib.util.spec_from_file_location("ms5bench_cutover", ROOT / "bench/ms5bench/cutover.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["ms5bench_cutover"] = bench
    spec.loader.exec_module(bench)
    times = {"backup": 1.0, "history": 2.0, "indexes": 3.0, "catch_up": 0.5, "pause": 9.0, "pause_program": 4.0,
             "pause_stop_legacy": 1.0, "pause_restart_target": 3.0, "pause_write_check": 0.2, "total": 20.0}
    text = bench.report([{"database_bytes": 128 * 1024 ** 2, "history_rows": 1_000_000, "times": copy.deepcopy(times),
                          "per_gb": {"total_seconds": 160.0}, "tail_rows": 300}])
    assert "size (MiB)" in text.splitlines()[0]
    assert "9.0 (4.0+1.0+3.0+0.2)" in text and "160.0" in text
