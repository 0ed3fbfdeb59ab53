"""When a backup is test-restored, and how thoroughly.

Every backup is verified by default: restored into a scratch database and compared
table by table with what the dump's own snapshot held. The level is `fingerprints`
(row counts and content fingerprints) or `counts` (row counts only, cheaper on large
databases); with level `counts`, VERIFY_FULL_WEEKDAYS names the days (host time, like
cron) that still get `fingerprints`. On TimescaleDB versions with a known restore bug
verification cannot be switched off.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

# (first affected, first fixed, edition licence, what goes wrong)
KNOWN_RESTORE_BUGS = (
    ((2, 19, 0), (2, 21, 0), "timescale",
     "a dump of compressed chunks can hold a compressed batch whose column is entirely NULL "
     "in a form that pg_restore rejects (fixed in TimescaleDB 2.21.0)"),
)


def parse_version(text: str) -> Optional[Tuple[int, int, int]]:
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def known_restore_bug(version: Optional[str], license_: Optional[str]) -> Optional[str]:
    """A sentence naming the known restore bug of this TimescaleDB build, or None.

    An unknown licence counts as the Community edition (the affected one): when in
    doubt, verify.
    """
    parsed = parse_version(version or "")
    if parsed is None:
        return None
    edition = (license_ or "timescale").lower()
    for first, fixed, affected, what in KNOWN_RESTORE_BUGS:
        if first <= parsed < fixed and edition == affected:
            return (f"TimescaleDB {version} (Community edition) has a known restore bug: {what}; "
                    "every backup is test-restored, whatever the verification setting")
    return None


@dataclass(frozen=True)
class VerifyPlan:
    level: Optional[str]          # None (no test restore), "counts" or "fingerprints"
    reason: str                   # why this level, for the log
    forced: Optional[str] = None  # the known bug that forced verification on


def plan_verification(enabled: bool, level: str, full_weekdays: FrozenSet[int],
                      today: dt.date, ts_version: Optional[str],
                      ts_license: Optional[str]) -> VerifyPlan:
    bug = known_restore_bug(ts_version, ts_license)
    forced = None
    if not enabled:
        if bug is None:
            return VerifyPlan(None, "verification is off (VERIFY=false or --no-verify)")
        forced = bug
    if level == "counts" and today.weekday() in full_weekdays:
        return VerifyPlan("fingerprints", "full verification day (VERIFY_FULL_WEEKDAYS)", forced)
    reason = "forced: " + forced if forced else f"VERIFY_LEVEL={level}"
    return VerifyPlan(level, reason, forced)
