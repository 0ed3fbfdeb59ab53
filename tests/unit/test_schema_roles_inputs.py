"""The schema-side roles read booleans given as strings (-e) the way Ansible's bool
filter does (through _common/booleans.yml, whose lists are exactly the filter's), and
their validate.yml touches neither host nor database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.plugins.filter import core as filter_core

ROOT = Path(__file__).resolve().parents[2]
COMMON_READ_ONLY = {"platform.yml", "os_vars.yml", "booleans.yml", "passwords.yml"}


def test_common_booleans_are_the_bool_filters():
    """_common/booleans.yml accepts exactly what the bool filter reads without a deprecation."""
    common = yaml.safe_load((ROOT / "roles" / "_common" / "vars" / "main.yml").read_text())
    assert set(common["__common_bool_true"]) == filter_core._valid_bool_true
    assert set(common["__common_bool_false"]) == filter_core._valid_bool_false
    for value in common["__common_bool_true"]:
        assert filter_core.to_bool(value.upper()) is True
    for value in common["__common_bool_false"]:
        assert filter_core.to_bool(value.upper()) is False


@pytest.mark.parametrize("role", ["migrations", "timescaledb_policies", "verify"])
def test_validate_yml_touches_neither_host_nor_database(role):
    """validate.yml runs in site.yml's validation phase: asserts, set_fact and lookups only
    (the policies role's read-only systemd-analyze of the schedule excepted)."""
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / "validate.yml").read_text())
    allowed = {"ansible.builtin.assert", "ansible.builtin.set_fact", "ansible.builtin.fail"}
    for task in tasks:
        modules = set(task) & ({k for k in task if k.startswith("ansible.") or k.startswith("community.")
                                or k.startswith("ms5.")})
        for module in modules:
            if module == "ansible.builtin.import_role":
                # _common's checks: asserts and set_fact only (os_vars.yml only loads variables)
                assert task[module]["name"] == "ms5.factory_telemetry._common", task["name"]
                assert task[module]["tasks_from"] in COMMON_READ_ONLY, task["name"]
                continue
            if module == "ansible.builtin.command":
                assert task.get("changed_when") is False and task.get("check_mode") is False, task["name"]
                assert task[module]["argv"][:2] == ["systemd-analyze", "calendar"], task["name"]
                continue
            assert module in allowed, (role, task["name"], module)
