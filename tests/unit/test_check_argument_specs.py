"""Unit tests for scripts/check_argument_specs.py (defaults vs argument_specs drift)."""

from __future__ import annotations

from pathlib import Path

import check_argument_specs as cas


def make_role(tmp_path: Path, name: str, defaults: str, specs: str | None) -> Path:
    role = tmp_path / name
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults" / "main.yml").write_text(defaults)
    if specs is not None:
        (role / "meta" / "argument_specs.yml").write_text(specs)
    return role


SPECS = """
argument_specs:
  main:
    options:
      demo_port: {description: Port, type: int}
      demo_password: {description: Secret, type: str, required: true, no_log: true}
"""


def test_agreeing_role_has_no_problems(tmp_path):
    role = make_role(tmp_path, "demo", "demo_port: 5432\n", SPECS)
    assert cas.role_problems(role) == []


def test_default_missing_from_specs(tmp_path):
    role = make_role(tmp_path, "demo", "demo_port: 5432\ndemo_extra: 1\n", SPECS)
    assert cas.role_problems(role) == [
        "demo: demo_extra is in defaults/main.yml but not in meta/argument_specs.yml"]


def test_option_without_default_must_be_required(tmp_path):
    role = make_role(tmp_path, "demo", "{}\n", SPECS)
    assert "demo: option demo_port has no default in defaults/main.yml and is not required" in cas.role_problems(role)


def test_missing_type_description_and_prefix(tmp_path):
    specs = "argument_specs:\n  main:\n    options:\n      port: {}\n"
    role = make_role(tmp_path, "demo", "port: 1\n", specs)
    problems = cas.role_problems(role)
    assert "demo: option port does not carry the role prefix demo_" in problems
    assert "demo: option port has no description" in problems
    assert "demo: option port has no type" in problems


def test_missing_specs_file(tmp_path):
    role = make_role(tmp_path, "demo", "demo_port: 1\n", None)
    assert cas.role_problems(role) == ["demo: meta/argument_specs.yml is missing"]


def test_main_exit_code(tmp_path):
    make_role(tmp_path, "demo", "demo_port: 5432\n", SPECS)
    assert cas.main(["x", str(tmp_path)]) == 0
    make_role(tmp_path, "bad", "bad_x: 1\n", None)
    assert cas.main(["x", str(tmp_path)]) == 1
