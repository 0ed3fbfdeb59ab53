"""The configuration file (/etc/ms5/backup.conf): KEY=VALUE lines written by the role.

Keys are only ever added, never renamed: other tools (the cutover role) write their
own configuration files for this program.
"""

from __future__ import annotations

from typing import Dict, FrozenSet

from .errors import BackupError

DEFAULT_CONFIG = "/etc/ms5/backup.conf"

DEFAULTS: Dict[str, str] = {
    "BACKUP_DIR": "/opt/ms5-backend/backups",
    "CONTAINER": "ms5-timescaledb",
    "DATABASE": "factory_telemetry",
    "DB_SUPERUSER": "postgres",
    "DOCKER": "docker",
    "SQL_DIR": "/usr/local/lib/ms5-backup/sql",
    "LOCK_FILE": "/run/lock/ms5-backup.lock",
    "LOG_FILE": "/var/log/ms5-backup.log",
    "STATUS_DIR": "/var/lib/ms5/status",
    "KEEP_DAILY": "7",
    "KEEP_WEEKLY": "4",
    "KEEP_MONTHLY": "6",
    "PRE_MIGRATION_MIN_AGE_DAYS": "14",
    "MANUAL_MIN_AGE_DAYS": "7",
    "FREE_SPACE_FACTOR": "1.5",
    "MIN_FREE_MB": "100",
    "VERIFY": "true",
    "VERIFY_LEVEL": "fingerprints",
    "VERIFY_FULL_WEEKDAYS": "",
    "COMPRESS_LEVEL": "6",
    "LOCK_WAIT_TIMEOUT": "600",
    "HEALTHCHECK_URL": "",
    "HEALTHCHECK_FAIL_URL": "",
    "HEALTHCHECK_TIMEOUT": "10",
    "KEEP_REPLACED_DATABASE": "false",
    "SCHEDULER_START_TIMEOUT": "30",
}

VERIFY_LEVELS = ("counts", "fingerprints")

# Day names and cron-style numbers (0 and 7 are Sunday) -> Python's weekday() (Monday = 0).
WEEKDAYS: Dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "0": 6, "7": 6,
}

Config = Dict[str, str]


def parse_config(text: str) -> Config:
    """Parse KEY=VALUE lines (comments with #, optional single/double quotes)."""
    cfg = dict(DEFAULTS)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise BackupError(f"config line {number} is not KEY=VALUE: {raw!r}")
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key not in DEFAULTS:
            raise BackupError(f"config line {number}: unknown key {key!r}")
        cfg[key] = value
    return cfg


def cfg_int(cfg: Config, key: str, minimum: int = 0) -> int:
    try:
        value = int(cfg[key])
    except ValueError:
        raise BackupError(f"{key}={cfg[key]!r} in the config is not an integer") from None
    if value < minimum:
        raise BackupError(f"{key}={value} in the config must be >= {minimum}")
    return value


def cfg_float(cfg: Config, key: str) -> float:
    try:
        value = float(cfg[key])
    except ValueError:
        raise BackupError(f"{key}={cfg[key]!r} in the config is not a number") from None
    if value < 0:
        raise BackupError(f"{key}={value} in the config must be >= 0")
    return value


def cfg_bool(cfg: Config, key: str) -> bool:
    value = cfg[key].strip().lower()
    if value in ("1", "true", "yes", "on", "y", "t"):
        return True
    if value in ("0", "false", "no", "off", "n", "f", ""):
        return False
    raise BackupError(f"{key}={cfg[key]!r} in the config is not a boolean (true/false)")


def cfg_verify_level(cfg: Config) -> str:
    value = cfg["VERIFY_LEVEL"].strip().lower()
    if value not in VERIFY_LEVELS:
        raise BackupError(f"VERIFY_LEVEL={cfg['VERIFY_LEVEL']!r} in the config must be "
                          f"{' or '.join(VERIFY_LEVELS)}")
    return value


def cfg_weekdays(cfg: Config, key: str = "VERIFY_FULL_WEEKDAYS") -> FrozenSet[int]:
    """Comma-separated day names (mon..sun) or cron numbers (0-7) -> weekday() numbers."""
    days = set()
    for item in cfg[key].split(","):
        name = item.strip().lower()[:3] if not item.strip().isdigit() else item.strip()
        if not name:
            continue
        if name not in WEEKDAYS:
            raise BackupError(f"{key}={cfg[key]!r} in the config: {item.strip()!r} is not a day "
                              "(mon, tue, wed, thu, fri, sat, sun or 0-7)")
        days.add(WEEKDAYS[name])
    return frozenset(days)
