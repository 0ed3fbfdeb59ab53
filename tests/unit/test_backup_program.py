"""Unit tests of the ms5-backup program (roles/backup/files/ms5_backup): configuration,
verification policy (known TimescaleDB restore bugs), rollback selection and its pin,
the status file and --status, and the SQL each operation issues, in order, for the
Community edition (which the CI image cannot run), the Apache edition and plain
PostgreSQL. A fake Database records every SQL file, statement and client program
instead of running them; the Molecule scenarios run the same code for real."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "roles" / "backup" / "files"
sys.dont_write_bytecode = True  # no __pycache__ under roles/backup/files (it would be shipped)
sys.path.insert(0, str(FILES))

from ms5_backup import cli, config, health, lock, log, names, restore, scratch, selection  # noqa: E402
from ms5_backup import status, tables, verification  # noqa: E402
from ms5_backup.database import Database  # noqa: E402
from ms5_backup.dump import BackupMaker  # noqa: E402
from ms5_backup.errors import BackupError  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
QUIET = log.Log(None, use_syslog=False)


# --------------------------------------------------------------------------- configuration


def test_parse_config_quotes_comments_and_errors():
    cfg = config.parse_config("# comment\nKEEP_DAILY=3\nHEALTHCHECK_URL='https://hc.example/x'\n\n")
    assert cfg["KEEP_DAILY"] == "3"
    assert cfg["HEALTHCHECK_URL"] == "https://hc.example/x"
    assert cfg["CONTAINER"] == "ms5-timescaledb"
    assert cfg["VERIFY"] == "true" and cfg["VERIFY_LEVEL"] == "fingerprints"
    with pytest.raises(BackupError, match="unknown key 'KEEP_DAYLY'"):
        config.parse_config("KEEP_DAYLY=3\n")
    with pytest.raises(BackupError, match="not KEY=VALUE"):
        config.parse_config("KEEP_DAILY\n")
    with pytest.raises(BackupError, match="KEEP_DAILY=-1"):
        config.cfg_int(dict(cfg, KEEP_DAILY="-1"), "KEEP_DAILY")
    with pytest.raises(BackupError, match="not a boolean"):
        config.cfg_bool(dict(cfg, VERIFY="maybe"), "VERIFY")
    with pytest.raises(BackupError, match="VERIFY_LEVEL='full' in the config must be counts or fingerprints"):
        config.cfg_verify_level(dict(cfg, VERIFY_LEVEL="full"))


@pytest.mark.parametrize(("value", "days"), [
    ("", set()), ("sun", {6}), ("Sunday, wed", {6, 2}), ("0,7", {6}), ("1,sat", {0, 5}),
])
def test_full_verification_weekdays(value, days):
    assert config.cfg_weekdays(dict(config.DEFAULTS, VERIFY_FULL_WEEKDAYS=value)) == days


def test_full_verification_weekdays_refuse_unknown_days():
    with pytest.raises(BackupError, match="'someday' is not a day"):
        config.cfg_weekdays(dict(config.DEFAULTS, VERIFY_FULL_WEEKDAYS="sun,someday"))


# --------------------------------------------------------------------------- verification policy


@pytest.mark.parametrize(("version", "license_", "buggy"), [
    ("2.19.3", "timescale", True),
    ("2.20.9", "timescale", True),
    ("2.19.0", None, True),          # unknown edition: assume the affected one
    ("2.19.3", "apache", False),     # no compression on the Apache edition
    ("2.18.2", "timescale", False),
    ("2.21.0", "timescale", False),
    ("2.29.2", "timescale", False),
    (None, None, False),             # plain PostgreSQL
])
def test_known_restore_bug_versions(version, license_, buggy):
    reason = verification.known_restore_bug(version, license_)
    assert (reason is not None) == buggy
    if buggy:
        assert f"TimescaleDB {version} (Community edition) has a known restore bug" in reason
        assert "fixed in TimescaleDB 2.21.0" in reason


MONDAY, SUNDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 29)


def test_verification_plan():
    plan = verification.plan_verification
    assert plan(True, "fingerprints", frozenset(), MONDAY, "2.19.3", "apache").level == "fingerprints"
    assert plan(True, "counts", frozenset({6}), MONDAY, "2.19.3", "apache").level == "counts"
    sunday = plan(True, "counts", frozenset({6}), SUNDAY, "2.19.3", "apache")
    assert sunday.level == "fingerprints" and "full verification day" in sunday.reason
    off = plan(False, "fingerprints", frozenset(), MONDAY, "2.19.3", "apache")
    assert off.level is None and off.forced is None
    forced = plan(False, "counts", frozenset(), MONDAY, "2.20.1", "timescale")
    assert forced.level == "counts" and "known restore bug" in forced.forced
    assert plan(False, "counts", frozenset(), MONDAY, None, None).level is None


# --------------------------------------------------------------------------- table comparison


def test_compare_counts_and_fingerprints_report_every_difference():
    assert tables.compare_tables({"a.t": 1}, {"a.t": 1}, {"a.t": "5"}, {"a.t": "5"}) == []
    problems = tables.compare_tables({"a.t": 1, "a.gone": 2, "a.x": 4}, {"a.t": 3, "a.new": 0, "a.x": 4},
                                     {"a.t": "1", "a.x": "9"}, {"a.t": "2", "a.x": "8"})
    assert problems == [
        "a.gone: missing after restore (expected 2 rows)",
        "a.new: not in the manifest (0 rows)",
        "a.t: 3 rows, manifest says 1",
        "a.x: same row count, different content (fingerprint 8, manifest says 9)",
    ]
    # a manifest without fingerprints (older backups, level counts) compares counts only
    assert tables.compare_tables({"a.x": 4}, {"a.x": 4}, None, {"a.x": "8"}) == []


def test_parse_table_state():
    rows = [["s", "a", "3", "123"], ["s", "b", "0", "0"]]
    assert tables.parse_table_state(rows, "fingerprints") == ({"s.a": 3, "s.b": 0}, {"s.a": "123", "s.b": "0"})
    assert tables.parse_table_state([r[:3] for r in rows], "counts") == ({"s.a": 3, "s.b": 0}, None)


# --------------------------------------------------------------------------- files and checks


def write_backup(directory: Path, stamp: str, kind: str = "scheduled", database: str = "factory_telemetry",
                 verified: bool = True, payload: bytes = b"0123456789", **extra) -> Path:
    ts = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    dump = directory / names.backup_name(database, ts, kind)
    dump.write_bytes(payload)
    manifest = {"file": dump.name, "kind": kind, "database": database, "created_at": names.iso(ts),
                "sha256": names.sha256_of(dump), "size_bytes": len(payload), "tables": {"s.t": 1},
                "postgresql_version": "17.6", "postgresql_version_num": 170006,
                "timescaledb_version": "2.19.3", "timescaledb_license": "apache",
                "migration_version": 9,
                "verified": {"result": "ok", "level": "counts", "at": names.iso(ts)} if verified else None}
    manifest.update(extra)
    names.manifest_path(dump).write_text(json.dumps(manifest))
    return dump


def test_check_refuses_damaged_or_truncated_backup(tmp_path):
    dump = write_backup(tmp_path, "2026-11-20 02:00")
    assert restore.check_file(dump)["size_bytes"] == 10
    dump.write_bytes(b"0123456780")
    with pytest.raises(BackupError, match="SHA-256 .* the file is damaged"):
        restore.check_file(dump)
    dump.write_bytes(b"01234")
    with pytest.raises(BackupError, match="truncated"):
        restore.check_file(dump)
    os.unlink(names.manifest_path(dump))
    with pytest.raises(BackupError, match="manifest .* is missing"):
        restore.check_file(dump)


# --------------------------------------------------------------------------- rollback selection


@pytest.fixture()
def backups(tmp_path):
    made = {
        "old": write_backup(tmp_path, "2026-11-20 02:15"),
        "pre": write_backup(tmp_path, "2026-11-23 10:00", "pre-migration"),
        "good": write_backup(tmp_path, "2026-11-24 02:15"),
        "safety": write_backup(tmp_path, "2026-11-25 09:00", "pre-rollback"),
        "other_db": write_backup(tmp_path, "2026-11-25 10:00", database="legacy"),
    }
    (tmp_path / "factory_telemetry_20261125T100000Z_manual.dump").write_bytes(b"no manifest")
    return made


def test_newest_never_selects_a_rollbacks_own_safety_backup(tmp_path, backups):
    plan = selection.select(tmp_path, "factory_telemetry", "newest", NOW)
    assert plan["file"] == str(backups["good"])
    assert plan["kind"] == "scheduled" and plan["pinned"] is None
    assert plan["age"] == "1 day 9 hours" and plan["age_seconds"] == 33 * 3600 + 45 * 60
    assert "pre-rollback" in plan["reason"]
    assert plan["verified"] == {"result": "ok", "level": "counts", "at": "2026-11-24T02:15:00Z"}
    assert selection.select(tmp_path, "factory_telemetry", "newest-pre-migration", NOW)["file"] == str(backups["pre"])
    assert selection.select(tmp_path, "legacy", "newest", NOW)["file"] == str(backups["other_db"])
    # named explicitly, a safety backup can be restored (to undo a rollback)
    assert selection.select(tmp_path, "factory_telemetry", backups["safety"].name, NOW)["kind"] == "pre-rollback"


def test_selection_refusals(tmp_path, backups):
    with pytest.raises(BackupError, match="cannot be read .* Nothing was changed"):
        selection.select(tmp_path, "factory_telemetry", "factory_telemetry_20261125T100000Z_manual.dump", NOW)
    with pytest.raises(BackupError, match="no pre-migration backup of database other"):
        selection.select(tmp_path, "other", "newest-pre-migration", NOW)


def test_a_rerun_after_a_failed_rollback_restores_the_same_backup(tmp_path, backups):
    """The first attempt pinned its choice; then (cron) a backup of the damaged state is made."""
    first = selection.select(tmp_path, "factory_telemetry", "newest", NOW)
    selection.write_pin(tmp_path, "factory_telemetry", "newest", first["file"], NOW)
    assert stat.S_IMODE(selection.pin_path(tmp_path, "factory_telemetry").stat().st_mode) == 0o600
    damaged = write_backup(tmp_path, "2026-11-25 11:00")
    later = NOW + dt.timedelta(hours=2)
    rerun = selection.select(tmp_path, "factory_telemetry", "newest", later)
    assert rerun["file"] == first["file"] != str(damaged)
    assert rerun["pinned"]["started_at"] == "2026-11-25T12:00:00Z"
    assert "unfinished rollback started at 2026-11-25T12:00:00Z" in rerun["reason"]
    # pinning the same file again keeps the first start time
    assert selection.write_pin(tmp_path, "factory_telemetry", "newest", first["file"], later)["started_at"] == \
        "2026-11-25T12:00:00Z"
    # another request, or a named file, is not bound by the pin
    assert selection.select(tmp_path, "factory_telemetry", "newest-pre-migration", later)["pinned"] is None
    assert selection.select(tmp_path, "factory_telemetry", damaged.name, later)["file"] == str(damaged)
    # a successful restore removes the pin: newest is the newest again
    assert selection.clear_pin(tmp_path, "factory_telemetry")
    assert selection.select(tmp_path, "factory_telemetry", "newest", later)["file"] == str(damaged)


def test_a_pin_whose_file_is_gone_is_refused(tmp_path, backups):
    selection.write_pin(tmp_path, "factory_telemetry", "newest", str(backups["good"]), NOW)
    backups["good"].unlink()
    with pytest.raises(BackupError, match="chose .* which is gone .* Name the backup to restore explicitly"):
        selection.select(tmp_path, "factory_telemetry", "newest", NOW)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "less than a minute"), (61, "1 minute"), (3600 * 5 + 120, "5 hours 2 minutes"),
    (86400 * 3 + 3600 + 59, "3 days 1 hour"),
])
def test_human_age(seconds, text):
    assert selection.human_age(seconds) == text


# --------------------------------------------------------------------------- status


def test_status_file_counts_failures_and_keeps_the_last_success(tmp_path):
    directory = str(tmp_path / "status")
    t0 = NOW
    ok = status.write_status(directory, "/usr/local/sbin/ms5-backup", t0, t0, True, 0, "done", {"file": "a"})
    assert ok["consecutive_failures"] == 0 and ok["last_success_at"] == "2026-11-25T12:00:00Z"
    later = t0 + dt.timedelta(days=1)
    status.write_status(directory, "/usr/local/sbin/ms5-backup", later, later, False, 1, "boom\nsecond line", {})
    second = status.write_status(directory, "/usr/local/sbin/ms5-backup", later, later, False, 1, "boom", {})
    assert second["consecutive_failures"] == 2
    assert second["last_success_at"] == "2026-11-25T12:00:00Z"
    path = Path(directory) / "backup.json"
    assert json.loads(path.read_text()) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(Path(directory).stat().st_mode) == 0o755
    assert [p.name for p in Path(directory).iterdir()] == ["backup.json"]


def test_status_report_names_newest_and_newest_verified(tmp_path, backups):
    newest_unverified = write_backup(tmp_path, "2026-11-25 11:00", verified=False)
    report = status.status_report(tmp_path, "factory_telemetry", str(tmp_path / "none"), NOW)
    assert report["newest"]["file"] == str(newest_unverified)
    assert report["newest"]["verified"] is None and report["newest"]["age_seconds"] == 3600
    assert report["newest_verified"]["file"] == str(backups["safety"])
    assert report["newest_verified"]["verified"]["level"] == "counts"
    assert report["last_attempt"] is None
    assert report["backups"] == 5
    assert report["known_restore_bug"] is None  # the Apache edition
    write_backup(tmp_path, "2026-11-25 11:30", verified=False, timescaledb_license="timescale")
    report = status.status_report(tmp_path, "factory_telemetry", str(tmp_path / "none"), NOW)
    assert "TimescaleDB 2.19.3 (Community edition) has a known restore bug" in report["known_restore_bug"]
    empty = status.status_report(tmp_path / "absent", "factory_telemetry", str(tmp_path), NOW)
    assert empty["newest"] is None and empty["newest_verified"] is None


# --------------------------------------------------------------------------- the command line


def write_config(tmp_path: Path, **values: str) -> Path:
    settings = dict(BACKUP_DIR=str(tmp_path / "backups"), STATUS_DIR=str(tmp_path / "status"),
                    LOCK_FILE=str(tmp_path / "lock"), LOG_FILE=str(tmp_path / "log"),
                    SQL_DIR=str(FILES / "sql"), DOCKER="/bin/false")
    settings.update(values)
    (tmp_path / "backups").mkdir(exist_ok=True)
    path = tmp_path / "backup.conf"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


def test_main_fails_cleanly_on_missing_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(config, "DEFAULTS", dict(config.DEFAULTS, STATUS_DIR=str(tmp_path / "status")))
    assert cli.main(["--config", str(tmp_path / "absent.conf"), "--check", "x.dump"]) == 1
    assert "FAILED: cannot read config" in capsys.readouterr().err


def test_a_failed_backup_attempt_writes_the_status_file(tmp_path, capsys):
    conf = write_config(tmp_path)
    assert cli.main(["--config", str(conf), "--kind", "scheduled"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert "ERROR: FAILED: database container 'ms5-timescaledb' is not running" in out.err
    assert cli.main(["--config", str(conf), "--kind", "scheduled", "--database", "legacy"]) == 1
    data = json.loads((tmp_path / "status" / "backup.json").read_text())
    assert data["ok"] is False and data["exit_code"] == 1 and data["consecutive_failures"] == 2
    assert data["last_success_at"] is None
    assert data["details"] == {"database": "legacy", "kind": "scheduled", "file": None,
                               "size_bytes": None, "verified": None}
    assert "FAILED: database container" in (tmp_path / "log").read_text()


def test_database_override_must_be_an_identifier(tmp_path, capsys):
    conf = write_config(tmp_path)
    assert cli.main(["--config", str(conf), "--status", "--database", "x; DROP"]) == 1
    assert "database name 'x; DROP' is not a plain PostgreSQL identifier" in capsys.readouterr().err


def test_select_and_pin_from_the_command_line(tmp_path, capsys):
    conf = write_config(tmp_path)
    good = write_backup(tmp_path / "backups", "2026-11-24 02:15")
    assert cli.main(["--config", str(conf), "--select", "newest"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["file"] == str(good) and plan["pinned"] is None
    assert not selection.pin_path(tmp_path / "backups", "factory_telemetry").exists()
    newer = write_backup(tmp_path / "backups", "2026-11-25 02:15")
    # the plan shown was `good`; newest now means `newer`: refuse to pin
    assert cli.main(["--config", str(conf), "--select", "newest", "--pin", str(good)]) == 1
    assert "newest now means" in capsys.readouterr().err
    assert cli.main(["--config", str(conf), "--select", "newest", "--pin", newer.name]) == 0
    assert json.loads(capsys.readouterr().out)["pinned"]["file"] == str(newer)
    assert cli.main(["--config", str(conf), "--pin", newer.name, "--status"]) == 1
    assert "--pin FILE goes with --select SPEC" in capsys.readouterr().err
    assert cli.main(["--config", str(conf), "--status"]) == 0
    assert json.loads(capsys.readouterr().out)["newest"]["file"] == str(newer)


def test_lock_refuses_second_run(tmp_path):
    first = lock.acquire(str(tmp_path / "lock"))
    try:
        with pytest.raises(BackupError, match="holds the lock"):
            lock.acquire(str(tmp_path / "lock"))
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
        health.ping(dict(config.DEFAULTS, HEALTHCHECK_URL=url), QUIET, True)
        health.ping(dict(config.DEFAULTS, HEALTHCHECK_URL=url), QUIET, False)
        health.ping(dict(config.DEFAULTS, HEALTHCHECK_URL=url, HEALTHCHECK_FAIL_URL=url + "/bad"), QUIET, False)
    finally:
        server.shutdown()
    assert hits == ["/ping/abc", "/ping/abc/fail", "/ping/abc/bad"]


def test_healthcheck_failure_is_logged_not_fatal(capsys):
    health.ping(dict(config.DEFAULTS, HEALTHCHECK_URL="http://127.0.0.1:9/x", HEALTHCHECK_TIMEOUT="1"), QUIET, True)
    assert "health-check ping failed (success ping)" in capsys.readouterr().err


# --------------------------------------------------------------------------- SQL issued, in order


COMMUNITY = ["17.6", "170006", "2.19.3", "timescale", "t"]
APACHE = ["17.6", "170006", "2.19.3", "apache", "t"]
PLAIN = ["15.10", "150010", "", "", "f"]


class FakeSession:
    def __init__(self, db: "FakeDb") -> None:
        self.db = db

    def query(self, sql: str):
        self.db.calls.append(("session", self.db.file_of(sql) or sql.split()[0]))
        if "pg_export_snapshot" in sql:
            return [["00000003-1"]]
        return self.db.answer(self.db.file_of(sql) or "", self.db.database)

    def close(self) -> None:
        self.db.calls.append(("session", "close"))


class FakeDb(Database):
    """Records what the program would run; answers from canned rows."""

    def __init__(self, versions, database="factory_telemetry", databases=(), held_setting=None) -> None:
        super().__init__(dict(config.DEFAULTS, SQL_DIR=str(FILES / "sql")), database)
        self.versions = versions
        self.calls: list = []
        self.databases = list(databases)
        self.held_setting = held_setting
        self.sql_texts = {p.name: p.read_text() for p in (FILES / "sql").glob("*.sql")}
        self.sql_texts["table_fingerprints.sql"] = (
            ROOT / "roles" / "_common" / "files" / "sql" / "table_fingerprints.sql").read_text()

    def sql_file(self, name: str) -> str:
        return self.sql_texts[name]

    def file_of(self, sql: str):
        return next((name for name, text in self.sql_texts.items() if text == sql), None)

    def answer(self, name: str, database: str):
        rows = {
            "versions.sql": [self.versions],
            "migration_version.sql": [["9"]],
            "table_counts.sql": [["factory_telemetry", "metric_hist", "20"]],
            "table_fingerprints.sql": [["factory_telemetry", "metric_hist", "20", "-42"]],
            "hold_jobs.sql": [["t"], ["held=3,1000"]] if "_restore_" in database or "verify" in database else [],
            "resume_jobs.sql": [["resumed=3,1000"]],
            "scheduler_state.sql": [["t", "3"]],
        }
        return rows.get(name, [])

    def check_running(self) -> None:
        self.calls.append(("docker", "inspect"))

    def run_file(self, name, database=None, variables=None):
        self.calls.append(("file", name, database or self.database, tuple(sorted((variables or {}).items()))))
        return self.answer(name, database or self.database)

    def psql(self, sql, database=None, variables=None):
        first = " ".join(sql.split()[:3])
        self.calls.append(("sql", first, database or self.database))
        if sql.startswith("SELECT datname"):
            return [[d] for d in self.databases]
        if "pg_db_role_setting" in sql:
            return [[f"ms5_backup.held_jobs={self.held_setting}"]] if self.held_setting is not None else []
        return []

    def pg_dump(self, out, snapshot, compress, lock_wait):
        self.calls.append(("pg_dump", snapshot))
        out.write(b"PGDMP fake dump")

    def pg_restore(self, dump, target):
        self.calls.append(("pg_restore", target))

    def open_snapshot_session(self):
        return FakeSession(self)

    @staticmethod
    def sleep(seconds):
        pass


def steps(calls, live="factory_telemetry"):
    """Calls as short readable steps: file@db, or the first words of a statement."""
    out = []
    for call in calls:
        if call[0] == "file":
            where = "live" if call[2] == live else ("postgres" if call[2] == "postgres" else "copy")
            out.append(f"{call[1]}@{where}")
        elif call[0] == "sql":
            out.append(call[1])
        elif call[0] in ("pg_restore", "pg_dump"):
            out.append(call[0])
    return out


def restore_manifest(tmp_path, versions, fingerprints=True):
    extra = {"timescaledb_version": versions[2] or None, "timescaledb_license": versions[3] or None,
             "postgresql_version_num": int(versions[1]), "tables": {"factory_telemetry.metric_hist": 20}}
    if fingerprints:
        extra["fingerprints"] = {"factory_telemetry.metric_hist": "-42"}
    return write_backup(tmp_path, "2026-11-24 02:15", **extra)


def test_restore_on_the_community_edition_holds_jobs_until_after_the_swap(tmp_path):
    db = FakeDb(COMMUNITY)
    dump = restore_manifest(tmp_path, COMMUNITY)
    swapped = []
    summary = restore.restore(dict(config.DEFAULTS), db, QUIET, dump, NOW,
                              after_swap=lambda: swapped.append(len(db.calls)))
    assert steps(db.calls) == [
        "versions.sql@live",
        'CREATE DATABASE "factory_telemetry_restore_20261125120000";',
        "prepare_restore.sql@copy", "pg_restore", "hold_jobs.sql@copy", "finish_restore.sql@copy",
        "table_fingerprints.sql@copy",
        "copy_database_settings.sql@postgres", "swap_database.sql@postgres",
        'DROP DATABASE IF', "resume_jobs.sql@live", "scheduler_state.sql@live",
    ]
    prepare = next(c for c in db.calls if c[0] == "file" and c[1] == "prepare_restore.sql")
    assert ("ts_version", "2.19.3") in prepare[3]
    assert steps(db.calls[:swapped[0]])[-1] == "swap_database.sql@postgres"
    assert summary["jobs_held"] == [3, 1000] and summary["jobs_resumed"] == [3, 1000]
    assert summary["scheduler_running"] is True and summary["compared"] == "fingerprints"


def test_restore_of_plain_postgresql_has_no_timescaledb_steps(tmp_path):
    db = FakeDb(PLAIN, database="legacy")
    dump = write_backup(tmp_path, "2026-11-24 02:15", database="legacy", timescaledb_version=None,
                        timescaledb_license=None, postgresql_version_num=150010,
                        tables={"factory_telemetry.metric_hist": 20})
    summary = restore.restore(dict(config.DEFAULTS), db, QUIET, dump, NOW)
    assert steps(db.calls, live="legacy") == [
        "versions.sql@live", 'CREATE DATABASE "legacy_restore_20261125120000";', "pg_restore",
        "table_counts.sql@copy", "copy_database_settings.sql@postgres", "swap_database.sql@postgres",
        "DROP DATABASE IF",
    ]
    assert summary["compared"] == "counts" and summary["jobs_resumed"] is None


def test_restore_refuses_a_backup_of_another_database_and_a_copy_that_differs(tmp_path):
    db = FakeDb(APACHE, database="other")
    with pytest.raises(BackupError, match="is a backup of database factory_telemetry, not of other"):
        restore.restore(dict(config.DEFAULTS), db, QUIET, restore_manifest(tmp_path, APACHE), NOW)
    db = FakeDb(APACHE)
    dump = write_backup(tmp_path, "2026-11-23 02:15", tables={"factory_telemetry.metric_hist": 21})
    with pytest.raises(BackupError, match="live database left untouched: .*metric_hist: 20 rows, manifest says 21"):
        restore.restore(dict(config.DEFAULTS), db, QUIET, dump, NOW)
    assert "swap_database.sql@postgres" not in steps(db.calls)
    assert steps(db.calls)[-1] == "DROP DATABASE IF"


def test_housekeeping_drops_leftover_scratch_databases_and_resumes_held_jobs():
    db = FakeDb(APACHE, databases=["factory_telemetry", "ms5_backup_verify_42",
                                   "factory_telemetry_restore_20261125120000",
                                   "factory_telemetry_replaced_20261125120000",
                                   "factory_telemetry_restore_copy", "postgres"], held_setting="3")
    restore.housekeeping(db, QUIET)
    dropped = [c for c in db.calls if c[0] == "sql" and c[1].startswith("DROP")]
    assert len(dropped) == 2
    assert "resume_jobs.sql@live" in steps(db.calls)


def make_backup(tmp_path, versions, **cfg_values):
    cfg = dict(config.DEFAULTS, BACKUP_DIR=str(tmp_path), MIN_FREE_MB="0", **cfg_values)
    db = FakeDb(versions)
    path, manifest = BackupMaker(cfg, db, QUIET, tmp_path).make("scheduled", today=MONDAY)
    return db, path, manifest


def test_verification_cannot_be_switched_off_on_a_buggy_community_build(tmp_path):
    db, path, manifest = make_backup(tmp_path, COMMUNITY, VERIFY="false", VERIFY_LEVEL="counts")
    assert manifest["verified"]["result"] == "ok"
    assert manifest["verified"]["level"] == "counts"
    assert "known restore bug" in manifest["verified"]["forced"]
    assert steps([c for c in db.calls if c[0] != "session"]) == [
        "pg_dump", f'CREATE DATABASE "ms5_backup_verify_{os.getpid()}";',
        "prepare_restore.sql@copy", "pg_restore", "hold_jobs.sql@copy", "finish_restore.sql@copy",
        "table_counts.sql@copy", "DROP DATABASE IF",
    ]
    assert json.loads(names.manifest_path(path).read_text()) == manifest
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_backup_sql_sequence_on_the_community_edition(tmp_path):
    db, _, manifest = make_backup(tmp_path, COMMUNITY)
    assert [c[1] for c in db.calls if c[0] == "session"] == [
        "BEGIN", "SELECT", "SET", "versions.sql", "migration_version.sql", "table_fingerprints.sql", "close"]
    assert steps([c for c in db.calls if c[0] != "session"]) == [
        "pg_dump", f'CREATE DATABASE "ms5_backup_verify_{os.getpid()}";',
        "prepare_restore.sql@copy", "pg_restore", "hold_jobs.sql@copy", "finish_restore.sql@copy",
        "table_fingerprints.sql@copy", "DROP DATABASE IF",
    ]
    assert manifest["fingerprints"] == {"factory_telemetry.metric_hist": "-42"}
    assert manifest["verified"]["level"] == "fingerprints" and manifest["verified"]["forced"] is None


def test_unverified_backup_on_apache_when_switched_off(tmp_path):
    db, _, manifest = make_backup(tmp_path, APACHE, VERIFY="false")
    assert manifest["verified"] is None and "fingerprints" not in manifest
    assert not [c for c in db.calls if c[0] == "pg_restore"]


def test_a_backup_that_does_not_restore_is_not_kept(tmp_path):
    class Broken(FakeDb):
        def pg_restore(self, dump, target):
            raise BackupError("pg_restore into x failed: invalid input syntax")

    cfg = dict(config.DEFAULTS, BACKUP_DIR=str(tmp_path), MIN_FREE_MB="0")
    with pytest.raises(BackupError, match="does not restore: pg_restore .* known restore bug"):
        BackupMaker(cfg, Broken(COMMUNITY), QUIET, tmp_path).make("scheduled", today=MONDAY)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the SQL files


def test_hold_and_resume_sql_touch_only_the_jobs_that_were_scheduled():
    hold = (FILES / "sql" / "hold_jobs.sql").read_text()
    resume = (FILES / "sql" / "resume_jobs.sql").read_text()
    assert "UPDATE _timescaledb_config.bgw_job SET scheduled = false\n    WHERE scheduled\n" in hold
    assert "ALTER DATABASE %I SET ms5_backup.held_jobs = %L" in hold
    assert "SET scheduled = true" in resume and "current_setting('ms5_backup.held_jobs', true)" in resume
    assert "RESET ms5_backup.held_jobs" in resume
    assert "_timescaledb_functions.restart_background_workers()" in resume
    settings = (FILES / "sql" / "copy_database_settings.sql").read_text()
    assert "NOT LIKE 'ms5\\_backup.%'" in settings and "NOT LIKE 'timescaledb.restoring=%'" in settings
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION %L" in (FILES / "sql" / "prepare_restore.sql").read_text()


def test_package_layout_matches_the_role():
    """Every module is installed (vars/main.yml) and the entry point stays thin."""
    role_vars = yaml.safe_load((ROOT / "roles" / "backup" / "vars" / "main.yml").read_text())
    modules = sorted(p.name for p in (FILES / "ms5_backup").glob("*.py"))
    assert sorted(role_vars["_backup_python_modules"]) == modules
    shipped = set(role_vars["_backup_sql_files"])
    assert shipped == {p.name for p in (FILES / "sql").glob("*.sql")}
    used = set()
    for path in (FILES / "ms5_backup").glob("*.py"):
        used.update(name for name in re.findall(r'"([a-z_]+\.sql)"', path.read_text()))
    assert used <= shipped | {"table_fingerprints.sql"}
    assert len((FILES / "ms5-backup").read_text().splitlines()) < 25
    assert not list(FILES.rglob("__pycache__"))

