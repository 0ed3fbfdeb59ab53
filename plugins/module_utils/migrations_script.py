# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""The SQL the migrations role sends to apply one migration file.

``migrations_script`` wraps a file's text so that one postgresql_query call
(``autocommit: false``: one transaction, committed at the end) takes the
advisory lock, refuses a version a concurrent run recorded meanwhile, runs the
file and inserts its ledger row: the migration and its row commit together, or
neither does. Unit-tested in tests/unit/test_migrations_plan.py.
"""

from __future__ import annotations

import re
from typing import Any, Dict

NAME_RE = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")

# Raised by the guard of a script when another run applied the same version
# while this run waited for the advisory lock (migrations_errors looks for it).
CONCURRENT_MARKER = "ms5-migrations: already applied by a concurrent run"


class MigrationsScriptError(ValueError):
    """Raised for a migration entry that cannot be wrapped (a bug in the role's call)."""


def _sql_literal(value: Any) -> str:
    text = str(value)
    if "\x00" in text:
        raise MigrationsScriptError("NUL byte in SQL literal")
    return "'" + text.replace("'", "''") + "'"


def migrations_script(migration: Dict[str, Any], lock_key: int, applied_by: str,
                      lock_timeout: str = "0", ledger_table: str = "ms5_migrations.schema_migrations") -> str:
    """The SQL that applies one migration and records it, atomically.

    Line 1 takes the advisory lock (waiting at most ``lock_timeout``), fails
    if the version was recorded meanwhile (a concurrent run), and notes the
    start time. The migration's text starts on line 1 too, so line numbers
    in database errors are the file's own. The ledger INSERT comes last:
    one implicit transaction commits both, or neither.
    """
    version = int(migration["version"])
    name = migration["name"]
    checksum = migration["checksum"]
    if not NAME_RE.match(name) or not re.match(r"^[0-9a-f]{64}$", checksum):
        raise MigrationsScriptError("invalid migration entry %r" % (name,))
    prefix = (
        "SET LOCAL lock_timeout = %s; SELECT pg_advisory_xact_lock(%d); SET LOCAL lock_timeout = DEFAULT; "
        "DO $ms5_guard$ BEGIN IF EXISTS (SELECT 1 FROM %s WHERE version = %d) THEN "
        "RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = %s; END IF; END $ms5_guard$; "
        "SELECT set_config('ms5_migrations.started_at', clock_timestamp()::text, true); "
        % (_sql_literal(lock_timeout), int(lock_key), ledger_table, version,
           _sql_literal("%s: version %03d (%s)" % (CONCURRENT_MARKER, version, name)))
    )
    suffix = (
        "\n;\nINSERT INTO %s (version, file_name, checksum_sha256, applied_at, duration_ms, applied_by, kind) "
        "VALUES (%d, %s, %s, clock_timestamp(), "
        "(1000 * extract(epoch FROM clock_timestamp() - current_setting('ms5_migrations.started_at')::timestamptz))::integer, "
        "%s, 'applied');\n"
        % (ledger_table, version, _sql_literal(name), _sql_literal(checksum),
           "format('%%s (%%s)', current_user, %s)" % _sql_literal(applied_by))
    )
    return prefix + migration["content"] + suffix


