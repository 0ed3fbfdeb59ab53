"""Shared testinfra fixtures for every Molecule scenario in this collection."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

import pytest
import yaml

CONTAINER = "ms5-timescaledb"
DATABASE = "factory_telemetry"

# The MS5.0 hypertables ({table: time column}), from the collection's one list
# (roles/_common/files/hypertables.yml).
HYPERTABLES: dict[str, str] = {
    entry["table"]: entry["time_column"]
    for entry in yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "roles" / "_common" / "files" / "hypertables.yml").read_text(encoding="utf-8")
    )
}

# Every user table (hypertables included, their chunks and extension tables not).
USER_TABLES_SQL = """
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname NOT LIKE '\\_timescaledb\\_%' AND n.nspname NOT LIKE 'timescaledb\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""


def run_sql(host, query: str, database: str = DATABASE, container: str = CONTAINER) -> list[list[str]]:
    """Run QUERY with psql inside the database container; return rows of fields.

    psql runs as the superuser over the container's local socket (trusted, as in the
    official image), so no password is needed or exposed.
    """
    cmd = (
        f"docker exec {shlex.quote(container)} psql -X -v ON_ERROR_STOP=1 -U postgres "
        f"-d {shlex.quote(database)} -At -F '|' -c {shlex.quote(query)}"
    )
    result = host.run(cmd)
    if result.rc != 0:
        raise AssertionError(f"query failed ({result.rc}): {query}\n{result.stderr}")
    return [line.split("|") for line in result.stdout.splitlines() if line != ""]


@pytest.fixture()
def sql(host) -> Callable[..., list[list[str]]]:
    """Fixture: sql("SELECT 1") -> [["1"]]."""

    def _sql(query: str, database: str = DATABASE, container: str = CONTAINER) -> list[list[str]]:
        return run_sql(host, query, database, container)

    return _sql


def pytest_runtest_makereport(item, call):  # pragma: no cover - diagnostics only
    """On failure, attach the docker and database logs so a red run explains itself."""
    if call.when != "call" or call.excinfo is None:
        return
    host = item.funcargs.get("host")
    if host is None:
        return
    for title, cmd in (
        ("docker service journal", "journalctl -u docker --no-pager -n 40"),
        ("database container log", f"docker logs --tail 40 {CONTAINER}"),
    ):
        try:
            out = host.run(cmd)
            item.add_report_section("call", title, out.stdout + out.stderr)
        except Exception:  # noqa: BLE001 - best effort
            pass


def run_playbook(playbook: str, *extra_args: str) -> tuple[int, dict[str, int], str]:
    """Run PLAYBOOK from the controller against this scenario's instance.

    Returns (exit code, recap counters summed over hosts, full output).
    """
    import os
    import re
    import subprocess

    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], *extra_args, playbook]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    project = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=project)
    output = proc.stdout + proc.stderr
    recap: dict[str, int] = {}
    for line in output.splitlines():
        if " : ok=" in line:
            for key, value in re.findall(r"(\w+)=(\d+)", line):
                recap[key] = recap.get(key, 0) + int(value)
    return proc.returncode, recap, output


def run_playbook_with_vars(request, playbook, extra_vars: dict):
    """Run PLAYBOOK against the Molecule instance (testinfra's inventory) with EXTRA_VARS.

    Results are printed as one-line JSON without colour codes, so tests can search the
    output; stdin is closed, so a playbook that would prompt sees no terminal.
    Returns the subprocess.CompletedProcess.
    """
    import json
    import os
    import subprocess

    env = os.environ.copy()
    env.update(ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    inventory = request.config.option.ansible_inventory
    cmd = ["ansible-playbook", "-i", inventory, str(playbook), "-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, env=env)


def converge_check_mode(extra_args: tuple[str, ...] = ()) -> tuple[dict[str, int], str]:
    """Run this scenario's converge playbook with --check --diff from the controller.

    Returns (recap counters summed over hosts plus "rc", full output). Used by each
    scenario's check-mode test: on a converged host, check mode must succeed and
    change nothing.
    """
    import os

    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    rc, recap, output = run_playbook(playbook, "--check", "--diff", *extra_args)
    recap["rc"] = rc
    return recap, output


@pytest.fixture(scope="module")
def check_mode_recap() -> tuple[dict[str, int], str]:
    """Fixture: the recap of converge.yml run with --check --diff (run once per module)."""
    return converge_check_mode()
