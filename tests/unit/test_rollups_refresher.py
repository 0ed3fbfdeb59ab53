"""Unit tests of the host refresher roles/rollups/files/ms5-rollups (Apache edition).

The pure parts (config, the CALL statement, the status file) directly; main() with a
fake `docker` on PATH that plays psql, so the run, its output, exit codes and the
status file carried from run to run are checked without a database. The Molecule
scenario `rollups` runs the real program against TimescaleDB, also under systemd.
"""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles/rollups/files/ms5-rollups"
_loader = importlib.machinery.SourceFileLoader("ms5_rollups_refresher", str(PROGRAM))
_spec = importlib.util.spec_from_loader("ms5_rollups_refresher", _loader)
ref = importlib.util.module_from_spec(_spec)
_loader.exec_module(ref)

CONF = "container=ms5-timescaledb\ndatabase=factory_telemetry\nuser=ms5_owner\n"


def test_program_is_python3_and_executable():
    assert PROGRAM.read_text().startswith("#!/usr/bin/env python3\n")
    assert PROGRAM.stat().st_mode & stat.S_IXUSR


def test_parse_config():
    conf = ref.parse_config("# comment\n\n" + CONF + "status_dir=/srv/status\n", "/etc/ms5/rollups.conf")
    assert conf == {"container": "ms5-timescaledb", "database": "factory_telemetry", "user": "ms5_owner",
                    "status_dir": "/srv/status"}
    assert ref.parse_config(CONF)["status_dir"] == "/var/lib/ms5/status"


@pytest.mark.parametrize("text,message", [
    (CONF + "tables=x\n", "f.conf:4: unknown key 'tables'"),
    ("container=bad name\n", "f.conf:1: bad container name 'bad name'"),
    (CONF.replace("ms5_owner", "ms5-owner;x"), "f.conf:3: bad user"),
    ("container=c\ndatabase=d\n", "f.conf: user= is missing"),
    (CONF + "status_dir=relative\n", "status_dir must be an absolute path"),
    ("just words\n", "f.conf:1: expected key=value"),
])
def test_parse_config_refuses(text, message):
    with pytest.raises(ref.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ref.parse_config(text, "f.conf")


def test_build_sql():
    assert ref.build_sql([], False, None, None) == "CALL ms5_rollups.refresh(NULL, false, NULL, NULL);\n"
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
    assert ref.build_sql(["ms5_rollups.metric_hist_1m"], True, start, end) == (
        "CALL ms5_rollups.refresh(ARRAY['ms5_rollups.metric_hist_1m']::text[], true, "
        "'2026-11-01T00:00:00+00:00'::timestamptz, '2026-11-02T00:00:00+00:00'::timestamptz);\n")
    with pytest.raises(ref.ConfigError, match="not a rollup relation"):
        ref.build_sql(["ms5_rollups.x'; DROP TABLE y; --"], False, None, None)
    with pytest.raises(ref.ConfigError, match="go together"):
        ref.build_sql([], False, start, None)
    with pytest.raises(ref.ConfigError, match="before --to"):
        ref.build_sql([], False, end, start)


def test_parse_timestamp():
    assert ref.parse_timestamp("2026-11-29T00:00:00Z", "--from").tzinfo is not None
    assert ref.parse_timestamp("2026-11-29 12:00:00+00", "--to").hour == 12
    assert ref.parse_timestamp("2026-11-29", "--from").tzinfo == dt.timezone.utc
    with pytest.raises(ref.ConfigError, match="--from 'yesterday' is not an ISO 8601 timestamp"):
        ref.parse_timestamp("yesterday", "--from")


def test_describe():
    item = {"relation": "ms5_rollups.metric_hist_1m", "status": "refreshed", "rows": 42, "seconds": 0.1,
            "window": ["a", "b"], "watermark": "b", "dropped_chunks": 2}
    assert ref.describe(item) == ("ms5_rollups.metric_hist_1m: refreshed [a, b) 42 rows in 0.1 s, watermark b, "
                                  "dropped 2 chunk(s) past retention")
    assert ref.describe({"relation": "r", "status": "failed", "error": "boom"}) == "r: FAILED: boom"
    assert ref.describe({"relation": "r", "status": "not due", "next_due": "t"}) == "r: not due (next t)"


def test_next_status_carries_success_and_failures():
    first = ref.next_status(None, "s1", "f1", 1, "psql failed", {})
    assert first["ok"] is False and first["consecutive_failures"] == 1 and first["last_success_at"] is None
    second = ref.next_status(first, "s2", "f2", 1, "again", {})
    assert second["consecutive_failures"] == 2
    ok = ref.next_status(second, "s3", "f3", 0, "fine\nreally", {"refreshed": 1})
    assert ok["ok"] is True and ok["consecutive_failures"] == 0 and ok["last_success_at"] == "f3"
    assert ok["message"] == "fine really" and ok["job"] == "rollups" and ok["program"] == "/usr/local/sbin/ms5-rollups"
    after = ref.next_status(ok, "s4", "f4", 1, "down", {})
    assert after["last_success_at"] == "f3" and after["consecutive_failures"] == 1
    assert set(ok) == {"job", "program", "started_at", "finished_at", "ok", "exit_code", "message",
                       "last_success_at", "consecutive_failures", "details"}


# ------------------------------------------------------------------ main()
@pytest.fixture()
def fake_env(tmp_path, monkeypatch):
    """A config, a status directory, a lock file and a fake docker that answers like psql."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\ncat > \"$FAKE_STDIN\"\nprintf '%s' \"$FAKE_STDERR\" >&2\n"
                      "printf '%s\\n' \"$FAKE_STDOUT\"\nexit \"$FAKE_RC\"\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    monkeypatch.setenv("FAKE_STDIN", str(tmp_path / "stdin.sql"))
    monkeypatch.setenv("FAKE_STDERR", "")
    monkeypatch.setenv("FAKE_RC", "0")
    monkeypatch.setattr(ref, "LOCK_FILE", str(tmp_path / "lock"))
    status_dir = tmp_path / "status"
    conf = tmp_path / "rollups.conf"
    conf.write_text(CONF + "status_dir=%s\n" % status_dir)
    return tmp_path, conf, status_dir / "rollups.json"


def test_main_success_writes_status(fake_env, monkeypatch, capsys):
    tmp, conf, status = fake_env
    items = [{"relation": "ms5_rollups.metric_hist_1m", "status": "refreshed", "rows": 60, "seconds": 0.2,
              "window": ["2026-11-29T10:00:00+00:00", "2026-11-29T10:20:00+00:00"], "watermark": "x",
              "dropped_chunks": 0},
             {"relation": "ms5_rollups.metric_hist_1h", "status": "not due", "next_due": "y"}]
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(items))
    assert ref.main(["--config", str(conf), "--force"]) == 0
    out = capsys.readouterr().out
    assert "ms5_rollups.metric_hist_1m: refreshed [2026-11-29T10:00:00+00:00, 2026-11-29T10:20:00+00:00) 60 rows" in out
    assert "1 of 2 rollup(s) refreshed, 60 row(s) written" in out
    assert (tmp / "stdin.sql").read_text() == "CALL ms5_rollups.refresh(NULL, true, NULL, NULL);\n"
    data = json.loads(status.read_text())
    assert data["ok"] is True and data["details"]["refreshed"] == 1 and data["details"]["failed"] == 0
    assert stat.S_IMODE(status.stat().st_mode) == 0o644
    assert not [p for p in status.parent.iterdir() if p.name.startswith(".")], "temporary file left behind"


def test_main_failed_rollup_and_psql_failure(fake_env, monkeypatch, capsys):
    tmp, conf, status = fake_env
    monkeypatch.setenv("FAKE_STDOUT", json.dumps([{"relation": "ms5_rollups.oee_line_1h", "status": "failed",
                                                   "error": "division by zero"}]))
    assert ref.main(["--config", str(conf)]) == 1
    err = capsys.readouterr().err
    assert "ms5_rollups.oee_line_1h: FAILED: division by zero" in err
    assert "1 rollup(s) failed: ms5_rollups.oee_line_1h" in err
    monkeypatch.setenv("FAKE_STDOUT", "")
    monkeypatch.setenv("FAKE_STDERR", "Error: No such container: ms5-timescaledb")
    monkeypatch.setenv("FAKE_RC", "1")
    assert ref.main(["--config", str(conf)]) == 1
    data = json.loads(status.read_text())
    assert data["ok"] is False and data["consecutive_failures"] == 2
    assert "No such container" in data["message"]


def test_main_refuses_bad_config_and_skips_when_locked(fake_env, monkeypatch, capsys, tmp_path):
    _tmp, conf, status = fake_env
    assert ref.main(["--config", str(tmp_path / "missing.conf")]) == 2
    assert "cannot read config" in capsys.readouterr().err
    assert ref.main(["--config", str(conf), "--from", "2026-01-01"]) == 2
    assert "--from and --to go together" in capsys.readouterr().err
    import fcntl
    with open(ref.LOCK_FILE, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert ref.main(["--config", str(conf)]) == 0
    assert "another run holds" in capsys.readouterr().out
    assert not status.exists()
