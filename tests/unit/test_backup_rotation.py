"""Unit tests of ms5-backup's backup names and rotation policy
(roles/backup/files/ms5_backup/names.py and rotation.py)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

sys.dont_write_bytecode = True  # no __pycache__ under roles/backup/files (it would be shipped)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "roles" / "backup" / "files"))

from ms5_backup.names import Backup, backup_name, list_backups, parse_backup_name  # noqa: E402
from ms5_backup.rotation import apply_rotation, rotation_plan  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
VERIFIED = {"result": "ok", "level": "fingerprints", "at": "2026-11-20T02:01:00Z"}


def b(stamp: str, kind: str = "scheduled", good: bool = True, verified: bool = False) -> Backup:
    ts = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return Backup(backup_name("factory_telemetry", ts, kind), ts, kind, good, "factory_telemetry",
                  VERIFIED if verified else None)


def plan(backups, daily=7, weekly=4, monthly=6, pre_age=14, manual_age=0):
    return rotation_plan(backups, NOW, daily, weekly, monthly, pre_age, manual_age)


def test_name_round_trip():
    ts = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for kind in ("scheduled", "pre-migration", "manual", "pre-rollback"):
        name = backup_name("factory_telemetry", ts, kind)
        assert name == f"factory_telemetry_20260102T030405Z_{kind}.dump"
        assert parse_backup_name(name) == (ts, kind)


@pytest.mark.parametrize("name", [
    "factory_telemetry_20260102T030405Z_weekly.dump",
    "factory_telemetry_20260102T030405Z_manual.dump.manifest.json",
    "factory_telemetry_20261302T030405Z_manual.dump",
    ".ms5-backup-tmp-factory_telemetry_20260102T030405Z_manual.dump",
    ".ms5-rollback-pending-factory_telemetry.json",
    "notes.txt",
])
def test_foreign_names_are_ignored(name):
    assert parse_backup_name(name) is None


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


def test_newest_verified_backup_is_never_deleted():
    """Newer backups that were not verified do not push the last verified one out."""
    verified = b("2026-11-10 02:00", verified=True)
    older_verified = b("2026-11-09 02:00", verified=True)
    unverified = [b(f"2026-11-{d} 02:00") for d in range(20, 26)]
    keep, delete = plan([verified, older_verified, *unverified], daily=2, weekly=0, monthly=0)
    assert keep[verified.name] == ["newest verified"]
    assert older_verified.name in delete
    assert len(keep) == 3


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


def test_recent_manual_and_pre_rollback_backups_are_kept():
    """A manual backup taken this morning survives the pre-migration backup of this afternoon;
    a rollback's safety backup is protected like a manual one."""
    manual = b("2026-11-25 09:00", "manual")
    old_manual = b("2026-11-10 09:00", "manual")
    pre = b("2026-11-25 11:00", "pre-migration")
    safety = b("2026-11-24 09:00", "pre-rollback")
    keep, delete = plan([manual, old_manual, pre, safety], daily=7, weekly=0, monthly=0, manual_age=7)
    assert keep[manual.name] == ["recent manual"]
    assert keep[safety.name] == ["daily", "recent pre-rollback"]
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


def _write(directory: Path, database: str, day: int, verified: bool = False) -> str:
    name = backup_name(database, dt.datetime(2026, 11, day, 2, 0, tzinfo=UTC), "scheduled")
    (directory / name).write_bytes(b"x")
    (directory / (name + ".manifest.json")).write_text(
        json.dumps({"verified": VERIFIED if verified else None}))
    return name


def test_list_backups_reads_verification_and_filters_by_database(tmp_path):
    mine = _write(tmp_path, "factory_telemetry", 20, verified=True)
    other = _write(tmp_path, "legacy", 21)
    (tmp_path / "factory_telemetry_20261122T020000Z_manual.dump").write_bytes(b"no manifest")
    (tmp_path / "notes.txt").write_text("x")
    found = list_backups(tmp_path, "factory_telemetry")
    assert [x.name for x in found] == ["factory_telemetry_20261122T020000Z_manual.dump", mine]
    assert [x.good for x in found] == [False, True]
    assert found[1].verified_ok and not found[0].verified_ok
    assert other in [x.name for x in list_backups(tmp_path)]


def test_rotation_on_a_directory_touches_only_its_database(tmp_path):
    names = [_write(tmp_path, "factory_telemetry", day) for day in range(10, 26)]
    others = [_write(tmp_path, "legacy", day) for day in range(10, 13)]
    (tmp_path / "unrelated.txt").write_text("keep me")
    said = []
    policy = dict(keep_daily=3, keep_weekly=0, keep_monthly=0, pre_migration_min_age_days=0,
                  manual_min_age_days=0)
    deleted = apply_rotation(tmp_path, "factory_telemetry", NOW, True, said.append, **policy)
    assert len(deleted) == 13 and len(list(tmp_path.iterdir())) == 39
    assert f"rotation: would delete {names[0]}" in said
    deleted = apply_rotation(tmp_path, "factory_telemetry", NOW, False, said.append, **policy)
    remaining = sorted(p.name for p in tmp_path.iterdir())
    expected = names[-3:] + others
    assert remaining == sorted(expected + [n + ".manifest.json" for n in expected] + ["unrelated.txt"])
    assert sorted(deleted) == sorted(names[:-3])
