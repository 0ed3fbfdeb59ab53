"""Unit tests for plugins/filter/file_state.py, fed by the real script of
roles/_common (run here with sh on real files, as the role runs it on the host)."""

from __future__ import annotations

import grp
import hashlib
import importlib.util
import os
import pwd
import subprocess
from pathlib import Path

import pytest
import yaml

_ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("file_state", _ROOT / "plugins" / "filter" / "file_state.py")
assert _SPEC is not None and _SPEC.loader is not None
fs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fs)

SCRIPT = yaml.safe_load((_ROOT / "roles" / "_common" / "vars" / "main.yml").read_text())["__common_file_state_script"]
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def read_state(*paths: Path) -> dict:
    out = subprocess.run(["sh", "-c", SCRIPT, "sh", *map(str, paths)], check=True, capture_output=True, text=True)
    return fs.file_state_index(out.stdout.splitlines())


@pytest.fixture
def tree(tmp_path):
    conf = tmp_path / "with space.conf"
    conf.write_text("a = 1\nb = ü\n")
    conf.chmod(0o640)
    sub = tmp_path / "dir"
    sub.mkdir()
    sub.chmod(0o750)
    return tmp_path, conf, sub


def test_index_holds_existing_paths_only(tree):
    root, conf, sub = tree
    state = read_state(conf, sub, root / "missing")
    assert set(state) == {str(conf), str(sub)}
    assert state[str(conf)]["checksum"] == hashlib.sha256(conf.read_bytes()).hexdigest()
    assert state[str(conf)]["mode"] == "640" and not state[str(conf)]["isdir"]
    assert state[str(sub)] == {"checksum": None, "isdir": True, "mode": "750", "uid": str(os.getuid()),
                               "gid": str(os.getgid()), "owner": OWNER, "group": GROUP}


def test_converged_file_needs_same_content_mode_owner_and_group(tree):
    _, conf, _ = tree
    state = read_state(conf)
    path = str(conf)
    assert fs.file_converged(state, path, "0640", OWNER, GROUP, content="a = 1\nb = ü\n")
    assert fs.file_converged(state, path, "640", os.getuid(), str(os.getgid()), content="a = 1\nb = ü\n")
    assert not fs.file_converged(state, path, "0640", OWNER, GROUP, content="a = 1\nb = ü")  # newline matters
    assert not fs.file_converged(state, path, "0644", OWNER, GROUP, content="a = 1\nb = ü\n")
    assert not fs.file_converged(state, path, "0640", "nobody-else", GROUP, content="a = 1\nb = ü\n")
    assert not fs.file_converged(state, path, "0640", OWNER, "99999", content="a = 1\nb = ü\n")
    assert not fs.file_converged(state, path, "0640", OWNER, GROUP)  # no content to compare: write
    digest = hashlib.sha256(conf.read_bytes()).hexdigest()
    assert fs.file_converged(state, path, "0640", OWNER, GROUP, checksum=digest)
    assert not fs.file_converged(state, path, "0640", OWNER, GROUP, checksum="0" * 64)
    assert not fs.file_converged(state, path, "0640", OWNER, GROUP, directory=True)


def test_directories_and_missing_paths(tree):
    root, conf, sub = tree
    state = read_state(sub, conf)
    assert fs.file_converged(state, str(sub), "0750", OWNER, GROUP, directory=True)
    assert not fs.file_converged(state, str(sub), "0755", OWNER, GROUP, directory=True)
    assert not fs.file_converged(state, str(sub), "0750", OWNER, GROUP, content="")
    assert not fs.file_converged(state, str(root / "missing"), "0644", OWNER, GROUP, content="")
    assert not fs.file_converged({}, str(conf), "0640", OWNER, GROUP, content="a = 1\nb = ü\n")
    assert not fs.file_converged(None, str(conf), "0640", OWNER, GROUP, content="")
    assert not fs.file_converged(state, str(conf), "rw-r-----", OWNER, GROUP, content="a = 1\nb = ü\n")


def test_lines_that_do_not_parse_are_ignored():
    assert fs.file_state_index(["", "garbage", "abc 644:0:0:root /x"]) == {}


def test_units_are_read_as_enabled_and_active():
    state = read_state("unit:ms5-no-such-unit.timer")
    assert set(state) == {"unit:ms5-no-such-unit.timer"}
    assert not fs.unit_running(state, "ms5-no-such-unit.timer")
    index = fs.file_state_index(["unit enabled:active unit:a.timer", "unit disabled:inactive unit:b.timer",
                                 "unit enabled:failed unit:c.timer"])
    assert fs.unit_running(index, "a.timer")
    assert not fs.unit_running(index, "b.timer") and not fs.unit_running(index, "c.timer")
    assert not fs.unit_running(index, "d.timer") and not fs.unit_running(None, "a.timer")


def test_filters_read_the_registered_result_directly(tree):
    _, conf, _ = tree
    out = subprocess.run(["sh", "-c", SCRIPT, "sh", str(conf)], check=True, capture_output=True, text=True)
    registered = {"rc": 0, "changed": False, "stdout": out.stdout, "stdout_lines": out.stdout.splitlines()}
    assert fs.file_converged(registered, str(conf), "0640", OWNER, GROUP, content="a = 1\nb = ü\n")
    assert str(conf) in fs.file_state_index(registered)
    skipped = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
    assert fs.file_state_index(skipped) == {}
    assert not fs.file_converged(skipped, str(conf), "0640", OWNER, GROUP, content="a = 1\nb = ü\n")
    assert not fs.unit_running(skipped, "a.timer")
