"""Unit tests of the rotation policy and helpers in roles/backup/files/ms5-backup."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[2] / "roles" / "backup" / "files" / "ms5-backup"


def _load():
    loader = importlib.machinery.SourceFileLoader("ms5_backup", str(PROGRAM))
    spec = importlib.util.spec_from_loader("ms5_backup", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ms5_backup"] = module
    loader.exec_module(module)
    return module


mb = _load()
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def b(stamp: str, kind: str = "scheduled", good: bool = True):
    ts = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return mb.Backup(mb.backup_name("factory_telemetry", ts, kind), ts, kind, good)


def plan(backups, daily=7, weekly=4, monthly=6, pre_age=14, manual_age=0):
    return mb.rotation_plan(backups, NOW, daily, weekly, monthly, pre_age, manual_age)


def test_name_round_trip():
    ts = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    name = mb.backup_name("factory_telemetry", ts, "pre-migration")
    assert name == "factory_telemetry_20260102T030405Z_pre-migration.dump"
    assert mb.parse_backup_name(name) == (ts, "pre-migration")


@pytest.mark.parametrize("name", [
    "factory_telemetry_20260102T030405Z_weekly.dump",
    "factory_telemetry_20260102T030405Z_manual.dump.manifest.json",
    "factory_telemetry_20261302T030405Z_manual.dump",
    ".ms5-backup-tmp-factory_telemetry_20260102T030405Z_manual.dump",
    "notes.txt",
])
def test_foreign_names_are_ignored(name):
    assert mb.parse_backup_name(name) is None


def test_one_per_day_kept_for_keep_daily_days():
    backups = [b(f"2026-11-{day:02d} {hour:02d}:00") for day in range(18, 26) for hour in (1, 13)]
    keep, delete = plan(backups, daily=3, weekly=0, monthly=0)
    assert sorted(keep) == sorted([
        b("2026-11-25 13:00").name, b("2026-11-24 13:00").name, b("2026-11-23 13:00").name,
    ])
    assert len(delete) == len(backups) - 3
    assert keep[b("2026-11-25 13:00").name] == ["daily", "newest"]


def test_weekly_and_monthly_buckets():
    backups = [b(f"2026-{m:02d}-{d:02d} 02:00") for m, d in
               [(11, 24), (11, 23), (11, 16), (11, 9), (10, 30), (10, 5), (9, 15), (8, 1)]]
    keep, delete = plan(backups, daily=1, weekly=2, monthly=3)
    # 2026-11-24 is a Tuesday (ISO week 48), 11-23 Monday (week 48), 11-16 week 47.
    assert keep[b("2026-11-24 02:00").name] == ["daily", "weekly", "monthly", "newest"]
    assert keep[b("2026-11-16 02:00").name] == ["weekly"]
    assert keep[b("2026-10-30 02:00").name] == ["monthly"]
    assert keep[b("2026-09-15 02:00").name] == ["monthly"]
    assert sorted(delete) == sorted([
        b("2026-11-23 02:00").name, b("2026-11-09 02:00").name,
        b("2026-10-05 02:00").name, b("2026-08-01 02:00").name,
    ])


def test_newest_good_backup_survives_zero_keep_counts():
    backups = [b("2026-11-20 02:00"), b("2026-11-21 02:00")]
    keep, delete = plan(backups, daily=0, weekly=0, monthly=0, pre_age=0)
    assert keep == {b("2026-11-21 02:00").name: ["newest"]}
    assert delete == [b("2026-11-20 02:00").name]


def test_recent_pre_migration_backups_are_kept():
    young = b("2026-11-20 02:00", "pre-migration")
    young2 = b("2026-11-20 03:00", "pre-migration")
    old = b("2026-10-01 02:00", "pre-migration")
    newest = b("2026-11-25 02:00")
    keep, delete = plan([young, young2, old, newest], daily=1, weekly=0, monthly=0, pre_age=14)
    assert keep[young.name] == ["recent pre-migration"]
    assert keep[young2.name] == ["recent pre-migration"]
    assert keep[newest.name] == ["daily", "newest"]
    assert delete == [old.name]


def test_recent_manual_backups_are_kept():
    """A manual backup taken this morning survives the pre-migration backup of this afternoon."""
    manual = b("2026-11-25 09:00", "manual")
    old_manual = b("2026-11-10 09:00", "manual")
    pre = b("2026-11-25 11:00", "pre-migration")
    keep, delete = plan([manual, old_manual, pre], daily=7, weekly=0, monthly=0, manual_age=7)
    assert keep[manual.name] == ["recent manual"]
    assert keep[pre.name] == ["daily", "newest", "recent pre-migration"]
    assert keep[old_manual.name] == ["daily"]
    keep, delete = plan([manual, old_manual, pre], daily=1, weekly=0, monthly=0, manual_age=7)
    assert delete == [old_manual.name]
    keep, delete = plan([manual, pre], daily=1, weekly=0, monthly=0, manual_age=0)
    assert delete == [manual.name]


def test_backup_without_manifest_is_never_deleted_nor_counted():
    broken = b("2026-11-25 03:00", good=False)
    good = b("2026-11-24 02:00")
    older = b("2026-11-23 02:00")
    keep, delete = plan([broken, good, older], daily=1, weekly=0, monthly=0)
    assert keep[good.name] == ["daily", "newest"]
    assert broken.name in keep
    assert delete == [older.name]


def test_list_backups_and_rotate_on_directory(tmp_path):
    names = []
    for day in range(10, 26):
        ts = dt.datetime(2026, 11, day, 2, 0, tzinfo=UTC)
        name = mb.backup_name("factory_telemetry", ts, "scheduled")
        (tmp_path / name).write_bytes(b"x")
        (tmp_path / (name + ".manifest.json")).write_text("{}")
        names.append(name)
    (tmp_path / "unrelated.txt").write_text("keep me")
    cfg = dict(mb.DEFAULTS, BACKUP_DIR=str(tmp_path), KEEP_DAILY="3", KEEP_WEEKLY="0",
               KEEP_MONTHLY="0", PRE_MIGRATION_MIN_AGE_DAYS="0", LOG_FILE="")
    runner = mb.Runner(cfg, mb.Log(None))
    deleted = runner.rotate(dry_run=True)
    assert len(deleted) == 13 and len(list(tmp_path.iterdir())) == 33
    deleted = runner.rotate(dry_run=False)
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == sorted(names[-3:] + [n + ".manifest.json" for n in names[-3:]] + ["unrelated.txt"])
    assert sorted(deleted) == sorted(names[:-3])


def test_parse_config_quotes_comments_and_errors():
    cfg = mb.parse_config("# comment\nKEEP_DAILY=3\nHEALTHCHECK_URL='https://hc.example/x'\n\n")
    assert cfg["KEEP_DAILY"] == "3"
    assert cfg["HEALTHCHECK_URL"] == "https://hc.example/x"
    assert cfg["CONTAINER"] == "ms5-timescaledb"
    with pytest.raises(mb.BackupError, match="unknown key 'KEEP_DAYLY'"):
        mb.parse_config("KEEP_DAYLY=3\n")
    with pytest.raises(mb.BackupError, match="not KEY=VALUE"):
        mb.parse_config("KEEP_DAILY\n")
    with pytest.raises(mb.BackupError, match="KEEP_DAILY=-1"):
        mb.cfg_int(dict(cfg, KEEP_DAILY="-1"), "KEEP_DAILY")
    with pytest.raises(mb.BackupError, match="not a boolean"):
        mb.cfg_bool(dict(cfg, VERIFY="maybe"), "VERIFY")


def test_compare_counts_reports_every_difference():
    assert mb.compare_counts({"a.t": 1}, {"a.t": 1}) == []
    problems = mb.compare_counts({"a.t": 1, "a.gone": 2}, {"a.t": 3, "a.new": 0})
    assert problems == [
        "a.gone: missing after restore (expected 2 rows)",
        "a.new: not in the manifest (0 rows)",
        "a.t: 3 rows, manifest says 1",
    ]


def _write_backup(directory: Path, payload: bytes) -> Path:
    dump = directory / "factory_telemetry_20261120T020000Z_manual.dump"
    dump.write_bytes(payload)
    manifest = {"sha256": mb.sha256_of(dump), "size_bytes": len(payload), "tables": {},
                "postgresql_version": "17.6", "postgresql_version_num": 170006,
                "timescaledb_version": "2.19.3"}
    mb.manifest_path(dump).write_text(json.dumps(manifest))
    return dump


def test_check_refuses_damaged_or_truncated_backup(tmp_path):
    dump = _write_backup(tmp_path, b"0123456789")
    runner = mb.Runner(dict(mb.DEFAULTS, LOG_FILE=""), mb.Log(None))
    dump.write_bytes(b"0123456780")
    with pytest.raises(mb.BackupError, match="SHA-256 .* the file is damaged"):
        runner.check(dump)
    dump.write_bytes(b"01234")
    with pytest.raises(mb.BackupError, match="truncated"):
        runner.check(dump)
    os.unlink(mb.manifest_path(dump))
    with pytest.raises(mb.BackupError, match="manifest .* is missing"):
        runner.check(dump)


def test_main_fails_cleanly_on_missing_config(tmp_path, capsys):
    assert mb.main(["--config", str(tmp_path / "absent.conf"), "--kind", "manual"]) == 1
    assert "FAILED: cannot read config" in capsys.readouterr().err


def test_lock_refuses_second_run(tmp_path):
    cfg = dict(mb.DEFAULTS, LOCK_FILE=str(tmp_path / "lock"), LOG_FILE="")
    first = mb.Runner(cfg, mb.Log(None)).lock()
    try:
        with pytest.raises(mb.BackupError, match="holds the lock"):
            mb.Runner(cfg, mb.Log(None)).lock()
    finally:
        os.close(first)


def test_healthcheck_pings_success_and_failure_urls():
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/ping/abc"
        runner = mb.Runner(dict(mb.DEFAULTS, HEALTHCHECK_URL=url, LOG_FILE=""), mb.Log(None))
        runner.ping(True)
        runner.ping(False)
        runner = mb.Runner(dict(mb.DEFAULTS, HEALTHCHECK_URL=url, HEALTHCHECK_FAIL_URL=url + "/bad",
                                LOG_FILE=""), mb.Log(None))
        runner.ping(False)
    finally:
        server.shutdown()
    assert hits == ["/ping/abc", "/ping/abc/fail", "/ping/abc/bad"]


def test_healthcheck_failure_is_logged_not_fatal(capsys):
    runner = mb.Runner(dict(mb.DEFAULTS, HEALTHCHECK_URL="http://127.0.0.1:9/x", HEALTHCHECK_TIMEOUT="1",
                            LOG_FILE=""), mb.Log(None))
    runner.ping(True)
    assert "health-check ping failed (success ping)" in capsys.readouterr().err
