"""Unit tests of roles/monitoring/files/ms5-monitoring-collect (the host collector)."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "monitoring" / "files" / "ms5-monitoring-collect"
NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.timezone.utc)


def _load():
    loader = importlib.machinery.SourceFileLoader("ms5_monitoring_collect", str(PROGRAM))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


mc = _load()


def fake_run(responses):
    """A subprocess.run stand-in: responses maps the first two argv words to (rc, stdout)."""
    calls = []

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs))
        for key, (rc, out) in responses.items():
            if tuple(cmd[: len(key)]) == key:
                return subprocess.CompletedProcess(cmd, rc, out, "boom" if rc else "")
        return subprocess.CompletedProcess(cmd, 1, "", "unexpected command")

    run.calls = calls
    return run


def write_backup(directory: Path, stamp: str, kind: str = "scheduled", verified=None, size=1234) -> Path:
    dump = directory / f"factory_telemetry_{stamp}_{kind}.dump"
    dump.write_bytes(b"x" * size)
    created = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = {"file": dump.name, "kind": kind, "created_at": created, "size_bytes": size, "verified": verified}
    (directory / (dump.name + ".manifest.json")).write_text(json.dumps(manifest))
    return dump


# --------------------------------------------------------------------------- config


def test_config_defaults_and_overrides():
    cfg = mc.parse_config("# comment\nCONTAINER=db1\nEXPECTED_JOBS=backup, retention\n")
    assert cfg["CONTAINER"] == "db1" and cfg["DATABASE"] == "factory_telemetry"
    assert mc.expected_jobs(cfg) == ["backup", "retention"]


@pytest.mark.parametrize("text, message", [
    ("NOPE=1", "unknown key 'NOPE'"),
    ("CONTAINER", "not KEY=VALUE"),
    ("CONTAINER=bad name", "not a Docker name"),
])
def test_config_errors_name_the_line(text, message):
    with pytest.raises(mc.CollectError, match=message):
        mc.parse_config(text)


# --------------------------------------------------------------------------- status files


def test_status_files_present_failed_unreadable_and_missing(tmp_path):
    (tmp_path / "retention.json").write_text(json.dumps({
        "job": "retention", "ok": False, "exit_code": 1, "consecutive_failures": 3,
        "finished_at": "2026-11-29T03:15:02Z", "last_success_at": "2026-11-26T03:15:01Z", "message": "x" * 500}))
    (tmp_path / "rollups.json").write_text("{not json")
    (tmp_path / "monitoring.json").write_text(json.dumps({"job": "monitoring", "ok": True}))
    since: dict = {}
    jobs = {j["job"]: j for j in mc.read_status_files(tmp_path, ["backup", "retention"], "monitoring", since, NOW)}
    assert set(jobs) == {"backup", "retention", "rollups"}  # the collector's own file is left out
    assert jobs["retention"]["present"] and jobs["retention"]["ok"] is False
    assert jobs["retention"]["consecutive_failures"] == 3 and jobs["retention"]["exit_code"] == 1
    assert jobs["retention"]["last_success_at"] == "2026-11-26T03:15:01Z"
    assert len(jobs["retention"]["message"]) == 200
    assert jobs["rollups"]["ok"] is False and "unreadable status file" in jobs["rollups"]["error"]
    assert jobs["backup"] == {"job": "backup", "present": False, "ok": None, "expected_since": "2026-11-29T12:00:00Z"}
    assert since == {"backup": "2026-11-29T12:00:00Z"}


def test_expected_since_survives_runs_and_ends_with_the_first_status_file(tmp_path):
    since = {"backup": "2026-11-28T00:00:00Z", "gone": "2026-11-01T00:00:00Z"}
    jobs = mc.read_status_files(tmp_path, ["backup"], "monitoring", since, NOW)
    assert jobs[0]["expected_since"] == "2026-11-28T00:00:00Z"
    assert since == {"backup": "2026-11-28T00:00:00Z"}  # no longer expected: forgotten
    (tmp_path / "backup.json").write_text(json.dumps({"job": "backup", "ok": True, "last_success_at": "2026-11-29T02:16:10Z"}))
    jobs = mc.read_status_files(tmp_path, ["backup"], "monitoring", since, NOW)
    assert jobs[0]["present"] and jobs[0]["ok"] and jobs[0]["consecutive_failures"] == 0
    assert since == {}


def test_a_job_that_never_succeeded_keeps_counting_from_when_it_was_expected(tmp_path):
    since = {"retention": "2026-11-28T00:00:00Z"}
    (tmp_path / "retention.json").write_text(json.dumps({"job": "retention", "ok": False, "last_success_at": None}))
    jobs = mc.read_status_files(tmp_path, ["retention"], "monitoring", since, NOW)
    assert jobs[0]["present"] and jobs[0]["last_success_at"] is None
    assert since == {}  # the file exists now; age counts from... nothing: the job never succeeded


# --------------------------------------------------------------------------- backups


def test_backups_from_manifests(tmp_path):
    write_backup(tmp_path, "20261127T021500Z", verified={"result": "ok", "level": "fingerprints", "at": "x"})
    newest = write_backup(tmp_path, "20261129T021500Z", size=4321)
    write_backup(tmp_path, "20261128T021500Z", kind="manual", verified={"result": "failed"})
    (tmp_path / "factory_telemetry_20261129T030000Z_manual.dump.manifest.json").write_text("{}")  # no dump
    (tmp_path / ".ms5-backup-tmp-x.dump.manifest.json").write_text("{}")
    facts = mc.backup_from_manifests(tmp_path)
    assert facts["source"] == "manifests" and facts["count"] == 3 and facts["verified_count"] == 1
    assert facts["newest"]["file"] == newest.name and facts["newest"]["size_bytes"] == 4321
    assert facts["newest"]["verified"] is None
    assert facts["newest_verified"]["created_at"] == "2026-11-27T02:15:00Z"


def test_no_backup_directory_means_no_backup(tmp_path):
    facts = mc.backup_from_manifests(tmp_path / "missing")
    assert facts["count"] == 0 and facts["newest"] is None and facts["newest_verified"] is None


def test_backups_from_ms5_backup_status(tmp_path):
    """The documented output of `ms5-backup --status` (backup role)."""
    status = {
        "newest": {"file": "a.dump", "kind": "scheduled", "created_at": "2026-11-29T02:15:00Z", "age_seconds": 5,
                   "size_bytes": 99, "verified": {"result": "ok", "level": "counts", "at": "2026-11-29T02:16:00Z"}},
        "newest_verified": {"file": "a.dump", "kind": "scheduled", "created_at": "2026-11-29T02:15:00Z",
                            "age_seconds": 5, "size_bytes": 99,
                            "verified": {"result": "ok", "level": "counts", "at": "2026-11-29T02:16:00Z"}},
        "last_attempt": {"job": "backup", "ok": True}}
    program = tmp_path / "ms5-backup"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    write_backup(tmp_path, "20261128T021500Z")
    write_backup(tmp_path, "20261129T021500Z")
    run = fake_run({(str(program), "--status"): (0, json.dumps(status))})
    facts = mc.collect_backup(dict(mc.DEFAULTS, BACKUP_PROGRAM=str(program), BACKUP_DIR=str(tmp_path)), run)
    assert facts["source"] == "ms5-backup --status"
    assert facts["newest"]["verified"] == {"result": "ok", "level": "counts", "at": "2026-11-29T02:16:00Z"}
    assert facts["count"] == 2 and facts["verified_count"] == 1


def test_backup_program_without_status_falls_back_to_manifests(tmp_path):
    program = tmp_path / "ms5-backup"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    write_backup(tmp_path, "20261129T021500Z")
    run = fake_run({(str(program), "--status"): (2, "usage: ...")})
    facts = mc.collect_backup(dict(mc.DEFAULTS, BACKUP_PROGRAM=str(program), BACKUP_DIR=str(tmp_path)), run)
    assert facts["source"] == "manifests" and facts["count"] == 1
    run = fake_run({(str(program), "--status"): (0, "not json")})
    assert mc.collect_backup(dict(mc.DEFAULTS, BACKUP_PROGRAM=str(program), BACKUP_DIR=str(tmp_path)),
                             run)["source"] == "manifests"


def test_status_output_of_another_shape_is_refused():
    with pytest.raises(ValueError):
        mc.backup_from_status({"something": 1})
    facts = mc.backup_from_status({"newest": None, "newest_verified": None, "last_attempt": None})
    assert facts["count"] == 0 and facts["newest"] is None


# --------------------------------------------------------------------------- filesystems


def test_filesystem_facts_from_statvfs():
    st = SimpleNamespace(f_blocks=1000, f_bfree=300, f_bavail=250, f_frsize=4096)
    entry = mc.filesystem_facts("data", "/v", statvfs=lambda path: st)
    assert entry == {"volume": "data", "path": "/v", "size_bytes": 4096000, "free_bytes": 1228800,
                     "avail_bytes": 1024000}


def test_filesystem_errors_are_recorded_not_fatal():
    def boom(path):
        raise OSError(2, "No such file or directory")

    assert mc.filesystem_facts("backups", "/nope", statvfs=boom)["error"].startswith("statvfs /nope")
    assert mc.filesystem_facts("data", None)["error"] == "path unknown"


def test_volume_mountpoint_from_docker():
    run = fake_run({("docker", "volume"): (0, "/var/lib/docker/volumes/v/_data\n")})
    assert mc.volume_mountpoint(dict(mc.DEFAULTS), run) == "/var/lib/docker/volumes/v/_data"
    assert mc.volume_mountpoint(dict(mc.DEFAULTS), fake_run({})) is None


# --------------------------------------------------------------------------- database


def test_sql_literal_quotes_and_refuses_nul():
    assert mc.sql_literal("it's") == "'it''s'"
    with pytest.raises(mc.CollectError):
        mc.sql_literal("a\x00b")


def test_upsert_sends_the_facts_on_stdin_not_argv():
    run = fake_run({("docker", "exec"): (0, "")})
    facts = {"jobs": [{"job": "o'brien"}]}
    mc.store_facts(dict(mc.DEFAULTS), facts, run)
    cmd, kwargs = run.calls[0]
    assert cmd[:4] == ["docker", "exec", "-i", "ms5-timescaledb"] and "o'brien" not in " ".join(cmd)
    assert "ON CONFLICT (id) DO UPDATE" in kwargs["input"] and "o''brien" in kwargs["input"]
    assert kwargs["input"].startswith("SET standard_conforming_strings = on;")


def test_store_failure_names_database_and_container():
    with pytest.raises(mc.CollectError, match="could not store the facts in factory_telemetry"):
        mc.store_facts(dict(mc.DEFAULTS), {}, fake_run({("docker", "exec"): (1, "")}))


# --------------------------------------------------------------------------- own status file


def test_status_document_carries_success_and_counts_failures():
    first = mc.status_document({}, "monitoring", NOW, NOW, False, "db down", {})
    assert first["consecutive_failures"] == 1 and first["last_success_at"] is None and first["exit_code"] == 1
    second = mc.status_document(first, "monitoring", NOW, NOW, False, "db down", {})
    assert second["consecutive_failures"] == 2
    ok = mc.status_document(second, "monitoring", NOW, NOW, True, "facts stored", {})
    assert ok["consecutive_failures"] == 0 and ok["last_success_at"] == "2026-11-29T12:00:00Z"
    later = mc.status_document(ok, "monitoring", NOW, NOW, False, "db down", {})
    assert later["last_success_at"] == "2026-11-29T12:00:00Z"
    assert set(ok) == {"job", "program", "started_at", "finished_at", "ok", "exit_code", "message",
                       "last_success_at", "consecutive_failures", "details"}


def test_status_file_is_written_atomically_world_readable(tmp_path):
    mc.write_status(tmp_path / "status", {"job": "monitoring", "ok": True})
    target = tmp_path / "status" / "monitoring.json"
    assert json.loads(target.read_text())["ok"] is True
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in (tmp_path / "status").iterdir()] == ["monitoring.json"]


def test_main_print_gathers_every_fact(tmp_path, capsys):
    status = tmp_path / "status"
    status.mkdir()
    (status / "backup.json").write_text(json.dumps({"job": "backup", "ok": True, "last_success_at": "2026-11-29T02:16:10Z"}))
    backups = tmp_path / "backups"
    backups.mkdir()
    write_backup(backups, "20261129T021500Z")
    config = tmp_path / "monitoring.conf"
    config.write_text(f"STATUS_DIR={status}\nBACKUP_DIR={backups}\nBACKUP_PROGRAM={tmp_path}/none\n"
                      f"DOCKER={tmp_path}/no-docker\nEXPECTED_JOBS=backup,retention\n")
    # Without a docker client the data volume is unknown: recorded, not fatal.
    assert mc.main(["--config", str(config), "--print"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert [j["job"] for j in facts["jobs"]] == ["backup", "retention"]
    assert facts["backup"]["count"] == 1
    assert facts["filesystems"][1]["volume"] == "backups" and facts["filesystems"][1]["size_bytes"] > 0
    assert facts["errors"] == ["data: path unknown"]


def test_main_records_a_failed_store_in_its_status_file(tmp_path, capsys):
    status = tmp_path / "status"
    config = tmp_path / "monitoring.conf"
    config.write_text(f"STATUS_DIR={status}\nBACKUP_DIR={tmp_path}\nDOCKER=false\n")
    assert mc.main(["--config", str(config)]) == 1
    document = json.loads((status / "monitoring.json").read_text())
    assert document["ok"] is False and document["consecutive_failures"] == 1
    assert "could not store the facts" in document["message"]
    assert "FAILED" in capsys.readouterr().err


def test_main_refuses_a_missing_config(tmp_path, capsys):
    assert mc.main(["--config", str(tmp_path / "none.conf")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_program_is_executable_python():
    assert os.access(PROGRAM, os.X_OK)
    assert PROGRAM.read_text().startswith("#!/usr/bin/python3\n")
