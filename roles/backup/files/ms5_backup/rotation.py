"""The rotation policy: which backups to keep, which to delete."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Tuple

from .names import Backup, list_backups, manifest_path


def rotation_plan(
    backups: Iterable[Backup],
    now: dt.datetime,
    keep_daily: int,
    keep_weekly: int,
    keep_monthly: int,
    pre_migration_min_age_days: int,
    manual_min_age_days: int = 0,
) -> Tuple[Dict[str, List[str]], List[str]]:
    """Decide which backups to keep.

    Good backups (with manifest) are grouped by UTC day, ISO week and month; the
    newest backup of each of the newest `keep_daily` days, `keep_weekly` weeks and
    `keep_monthly` months is kept. On top of that the newest good backup, the newest
    verified backup, every pre-migration backup younger than
    `pre_migration_min_age_days` and every manual or pre-rollback backup younger than
    `manual_min_age_days` are always kept. Backups without a manifest are never
    touched (not ours to judge).

    Returns ({kept name: [reasons]}, [names to delete, newest first]).
    """
    ordered = sorted(backups, key=lambda b: (b.timestamp, b.name), reverse=True)
    good = [b for b in ordered if b.good]
    keep: Dict[str, List[str]] = {}

    def mark(backup: Backup, reason: str) -> None:
        keep.setdefault(backup.name, []).append(reason)

    buckets: Tuple[Tuple[str, int, Callable[[dt.datetime], object]], ...] = (
        ("daily", keep_daily, lambda t: t.date()),
        ("weekly", keep_weekly, lambda t: tuple(t.isocalendar())[:2]),
        ("monthly", keep_monthly, lambda t: (t.year, t.month)),
    )
    for reason, limit, key_of in buckets:
        seen = set()
        for backup in good:
            if len(seen) >= limit:
                break
            key = key_of(backup.timestamp)
            if key in seen:
                continue
            seen.add(key)
            mark(backup, reason)
    if good:
        mark(good[0], "newest")
    verified = [b for b in good if b.verified_ok]
    if verified:
        mark(verified[0], "newest verified")
    protected = {"pre-migration": dt.timedelta(days=pre_migration_min_age_days),
                 "manual": dt.timedelta(days=manual_min_age_days),
                 "pre-rollback": dt.timedelta(days=manual_min_age_days)}
    for backup in good:
        if backup.kind in protected and now - backup.timestamp < protected[backup.kind]:
            mark(backup, f"recent {backup.kind}")
    for backup in ordered:
        if not backup.good:
            keep.setdefault(backup.name, []).append("no manifest, left alone")
    delete = [b.name for b in ordered if b.name not in keep]
    return keep, delete


def apply_rotation(directory: Path, database: str, now: dt.datetime, dry_run: bool,
                   say: Callable[[str], None], **policy: int) -> List[str]:
    """Rotate DATABASE's backups in DIRECTORY; return the names deleted (or to delete)."""
    keep, delete = rotation_plan(list_backups(directory, database), now, **policy)
    for name in sorted(keep, reverse=True):
        say(f"rotation: keep {name} ({', '.join(keep[name])})")
    for name in delete:
        say(f"rotation: {'would delete' if dry_run else 'delete'} {name}")
        if not dry_run:
            dump = directory / name
            manifest_path(dump).unlink(missing_ok=True)
            dump.unlink(missing_ok=True)
    return delete
