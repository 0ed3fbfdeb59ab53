# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Pure decision logic for the ms5.factory_telemetry.timescaledb_policies module.

Nothing in this file talks to a database: it validates the wanted state,
normalises intervals and ORDER BY lists, compares the wanted state with the
state read from ``timescaledb_information`` and returns the SQL statements
that converge one to the other. The module (plugins/modules/) does the I/O.
Every function here is unit-tested in tests/unit/test_timescaledb_policies.py.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

# Seconds per unit, with the same month/year lengths PostgreSQL uses for
# EXTRACT(EPOCH FROM interval): a month is 30 days, a year 365.25 days.
_UNIT_SECONDS = {
    "microsecond": 1e-6,
    "millisecond": 1e-3,
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 604800.0,
    "month": 2592000.0,
    "year": 31557600.0,
}
_UNIT_ALIASES = {
    "us": "microsecond", "usec": "microsecond", "usecs": "microsecond",
    "ms": "millisecond", "msec": "millisecond", "msecs": "millisecond",
    "s": "second", "sec": "second", "secs": "second",
    "m": "minute", "min": "minute", "mins": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour",
    "d": "day",
    "w": "week",
    "mon": "month", "mons": "month",
    "y": "year", "yr": "year", "yrs": "year",
}
# Units whose length depends on the calendar: not allowed for chunk intervals.
_CALENDAR_UNITS = ("month", "year")

_INTERVAL_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)\s*")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ORDER_ITEM = re.compile(
    r"^\s*([a-z_][a-z0-9_]{0,62})(?:\s+((?i:asc|desc)))?(?:\s+(?i:nulls)\s+((?i:first|last)))?\s*$"
)

EDITION_COMMUNITY = "timescale"
EDITION_APACHE = "apache"

RETENTION_MECHANISMS = ("auto", "job", "host")


class PolicyError(ValueError):
    """Bad wanted state or a state the database cannot be converged to."""


# ---------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------
def _unit_name(raw: str) -> Optional[str]:
    unit = raw.lower()
    unit = _UNIT_ALIASES.get(unit, unit)
    if unit.endswith("s") and unit[:-1] in _UNIT_SECONDS:
        unit = unit[:-1]
    return unit if unit in _UNIT_SECONDS else None


def parse_interval(value: Any, allow_calendar: bool = True) -> Tuple[str, float]:
    """Parse an interval like ``"1 hour"``, ``"7 days"`` or ``"1 day 12 hours"``.

    Returns ``(canonical_text, seconds)``; the canonical text is what is sent
    to PostgreSQL (``INTERVAL '<text>'``). Raises PolicyError on anything else,
    including zero and negative intervals.
    """
    if not isinstance(value, str) or not value.strip():
        raise PolicyError("must be a non-empty string such as '7 days', got %r" % (value,))
    text = value.strip()
    pos = 0
    parts: List[str] = []
    seconds = 0.0
    while pos < len(text):
        match = _INTERVAL_PART.match(text, pos)
        if not match or match.end() == pos:
            raise PolicyError(
                "%r is not an interval: use '<number> <unit>' pairs such as '1 hour', "
                "'7 days' or '1 day 12 hours' (units: seconds, minutes, hours, days, weeks%s)"
                % (value, ", months, years" if allow_calendar else "")
            )
        number, raw_unit = match.group(1), match.group(2)
        unit = _unit_name(raw_unit)
        if unit is None:
            raise PolicyError("%r has an unknown unit %r" % (value, raw_unit))
        if unit in _CALENDAR_UNITS and not allow_calendar:
            raise PolicyError(
                "%r uses %ss, whose length varies: give chunk intervals in fixed units "
                "(hours, days, weeks)" % (value, unit)
            )
        amount = int(number)
        parts.append("%d %s%s" % (amount, unit, "" if amount == 1 else "s"))
        seconds += amount * _UNIT_SECONDS[unit]
        pos = match.end()
    if seconds <= 0:
        raise PolicyError("%r must be longer than zero" % (value,))
    return " ".join(parts), seconds


def format_seconds(seconds: Optional[float]) -> Optional[str]:
    """3600 -> '1 hour', 604800 -> '7 days': how the summary and --diff show intervals."""
    if seconds is None:
        return None
    value = float(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if value >= size and value % size == 0:
            count = int(value // size)
            return "%d %s%s" % (count, unit, "" if count == 1 else "s")
    return "%g seconds" % value


def same_interval(a_seconds: Optional[float], b_seconds: Optional[float]) -> bool:
    if a_seconds is None or b_seconds is None:
        return a_seconds is None and b_seconds is None
    return abs(float(a_seconds) - float(b_seconds)) < 0.5e-6


# ---------------------------------------------------------------------------
# ORDER BY lists
# ---------------------------------------------------------------------------
def parse_order_by(value: Any) -> List[Tuple[str, bool, bool]]:
    """``"ts DESC, id"`` -> ``[("ts", False, True), ("id", True, False)]``.

    Each item is (column, ascending, nulls_first) with PostgreSQL's defaults
    filled in (ASC -> NULLS LAST, DESC -> NULLS FIRST). Accepts a string or a
    list of strings.
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = value.split(",") if value.strip() else []
    else:
        raise PolicyError("order_by must be a string like 'ts DESC' or a list, got %r" % (value,))
    result = []
    for item in items:
        match = _ORDER_ITEM.match(item)
        if not match:
            raise PolicyError(
                "order_by item %r is not '<column> [ASC|DESC] [NULLS FIRST|LAST]' "
                "(lower-case column names only)" % (item.strip(),)
            )
        column = match.group(1).lower()
        ascending = (match.group(2) or "asc").lower() == "asc"
        nulls = match.group(3)
        nulls_first = (nulls.lower() == "first") if nulls else (not ascending)
        result.append((column, ascending, nulls_first))
    return result


def format_order_by(items: Sequence[Tuple[str, bool, bool]]) -> str:
    out = []
    for column, ascending, nulls_first in items:
        text = column if ascending else column + " DESC"
        if nulls_first != (not ascending):
            text += " NULLS FIRST" if nulls_first else " NULLS LAST"
        out.append(text)
    return ", ".join(out)


def parse_column_list(value: Any) -> List[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (quotes stripped)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise PolicyError("segment_by must be a list of column names, got %r" % (value,))
    return [i.strip().strip('"') for i in items if i.strip()]


# ---------------------------------------------------------------------------
# Wanted state
# ---------------------------------------------------------------------------
def split_table(name: Any) -> Tuple[str, str]:
    if not isinstance(name, str) or name.count(".") != 1:
        raise PolicyError(
            "table %r must be schema-qualified, e.g. factory_telemetry.metric_hist" % (name,)
        )
    schema, table = name.split(".")
    for part in (schema, table):
        if not IDENTIFIER.match(part):
            raise PolicyError(
                "table %r: %r is not a lower-case SQL identifier ([a-z_][a-z0-9_]*)" % (name, part)
            )
    return schema, table


def normalize_entry(entry: Any, index: int = 0) -> Dict[str, Any]:
    """Validate one ``timescaledb_policies_hypertables`` item without a database.

    Returns the normalised form used by plan_table(); raises PolicyError with
    a message that names the entry and the field.
    """
    if not isinstance(entry, dict):
        raise PolicyError("timescaledb_policies_hypertables[%d] must be a mapping" % index)
    label = "timescaledb_policies_hypertables[%d]" % index
    known = {"table", "time_column", "chunk_time_interval", "compression", "retention"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise PolicyError("%s has unknown keys %s (allowed: %s)" % (label, unknown, sorted(known)))
    if "table" not in entry:
        raise PolicyError("%s has no 'table'" % label)
    try:
        schema, table = split_table(entry["table"])
    except PolicyError as exc:
        raise PolicyError("%s: %s" % (label, exc))
    label = "%s (%s)" % (label, entry["table"])

    time_column = entry.get("time_column")
    if not isinstance(time_column, str) or not IDENTIFIER.match(time_column):
        raise PolicyError("%s: time_column %r must be a lower-case column name" % (label, time_column))

    chunk = None
    if entry.get("chunk_time_interval") not in (None, ""):
        try:
            text, secs = parse_interval(entry["chunk_time_interval"], allow_calendar=False)
        except PolicyError as exc:
            raise PolicyError("%s: chunk_time_interval %s" % (label, exc))
        chunk = {"text": text, "seconds": secs}

    compression = None
    comp = entry.get("compression")
    if comp not in (None, {}, False):
        if not isinstance(comp, dict):
            raise PolicyError("%s: compression must be a mapping (segment_by, order_by, after) or null" % label)
        extra = sorted(set(comp) - {"segment_by", "order_by", "after"})
        if extra:
            raise PolicyError("%s: compression has unknown keys %s (allowed: after, order_by, segment_by)" % (label, extra))
        if comp.get("after") in (None, ""):
            raise PolicyError("%s: compression.after is required, e.g. '7 days'" % label)
        try:
            after_text, after_secs = parse_interval(comp["after"])
            segment_by = parse_column_list(comp.get("segment_by"))
            order_by = parse_order_by(comp.get("order_by"))
        except PolicyError as exc:
            raise PolicyError("%s: compression: %s" % (label, exc))
        for col in segment_by:
            if not IDENTIFIER.match(col):
                raise PolicyError("%s: compression.segment_by column %r is not a lower-case column name" % (label, col))
        if len(set(segment_by)) != len(segment_by):
            raise PolicyError("%s: compression.segment_by lists a column twice" % label)
        clash = set(segment_by) & set(c for c, _a, _n in order_by)
        if clash:
            raise PolicyError("%s: column(s) %s cannot be in both segment_by and order_by" % (label, sorted(clash)))
        compression = {
            "segment_by": segment_by,
            "order_by": order_by,
            "after": {"text": after_text, "seconds": after_secs},
        }

    retention = None
    ret = entry.get("retention")
    if ret not in (None, {}, False):
        if not isinstance(ret, dict) or set(ret) != {"drop_after"}:
            raise PolicyError("%s: retention must be a mapping with exactly one key, drop_after" % label)
        try:
            text, secs = parse_interval(ret["drop_after"])
        except PolicyError as exc:
            raise PolicyError("%s: retention.drop_after %s" % (label, exc))
        retention = {"drop_after": {"text": text, "seconds": secs}}

    if compression and retention and retention["drop_after"]["seconds"] <= compression["after"]["seconds"]:
        raise PolicyError(
            "%s: retention.drop_after (%s) must be longer than compression.after (%s)"
            % (label, retention["drop_after"]["text"], compression["after"]["text"])
        )

    return {
        "name": "%s.%s" % (schema, table),
        "schema": schema,
        "table": table,
        "time_column": time_column,
        "chunk_time_interval": chunk,
        "compression": compression,
        "retention": retention,
    }


def normalize_entries(entries: Any) -> List[Dict[str, Any]]:
    if not isinstance(entries, list):
        raise PolicyError("timescaledb_policies_hypertables must be a list")
    result = []
    seen = set()
    for index, entry in enumerate(entries):
        norm = normalize_entry(entry, index)
        if norm["name"] in seen:
            raise PolicyError("timescaledb_policies_hypertables lists %s twice" % norm["name"])
        seen.add(norm["name"])
        result.append(norm)
    return result


def validation_errors(entries: Any) -> List[str]:
    """All problems found without a database (the role's preflight asserts none)."""
    if not isinstance(entries, list):
        return ["timescaledb_policies_hypertables must be a list"]
    errors = []
    seen = set()
    for index, entry in enumerate(entries):
        try:
            norm = normalize_entry(entry, index)
        except PolicyError as exc:
            errors.append(str(exc))
            continue
        if norm["name"] in seen:
            errors.append("timescaledb_policies_hypertables lists %s twice" % norm["name"])
        seen.add(norm["name"])
    return errors


# ---------------------------------------------------------------------------
# Capabilities of the server found
# ---------------------------------------------------------------------------
def choose_api(functions: Any) -> Dict[str, Any]:
    """Pick the SQL API from the functions/procedures present in pg_proc.

    ``functions``: names, or a mapping name -> pg_proc.prokind ('f' function,
    'p' procedure), so procedures are CALLed and functions SELECTed whatever
    the version made them.
    """
    kinds = dict(functions) if isinstance(functions, dict) else {name: None for name in functions}
    columnstore = "add_columnstore_policy" in kinds and "remove_columnstore_policy" in kinds
    return {
        "compression": "columnstore" if columnstore else "compression",
        "by_range": "by_range" in kinds,
        # add/remove_columnstore_policy are procedures (2.18+); trust pg_proc when it says otherwise
        "columnstore_call": "CALL" if kinds.get("add_columnstore_policy") in (None, "p") else "SELECT",
        # A changed interval keeps its job (id, schedule tuning) through alter_job where it exists.
        "alter_job": "alter_job" in kinds,
    }


def retention_mechanism(requested: str, edition: str) -> str:
    """``job`` (TimescaleDB background job) or ``host`` (ms5-retention timer)."""
    if requested not in RETENTION_MECHANISMS:
        raise PolicyError(
            "timescaledb_policies_retention_mechanism must be one of %s, got %r"
            % (", ".join(RETENTION_MECHANISMS), requested)
        )
    if requested == "auto":
        return "job" if edition == EDITION_COMMUNITY else "host"
    if requested == "job" and edition != EDITION_COMMUNITY:
        raise PolicyError(
            "timescaledb_policies_retention_mechanism is 'job' but the server runs the %r "
            "edition of TimescaleDB, which has no retention policies: use 'auto' or 'host'" % edition
        )
    return requested


# ---------------------------------------------------------------------------
# SQL builders (identifiers are validated by IDENTIFIER before they get here)
# ---------------------------------------------------------------------------
def qident(name: str) -> str:
    return '"%s"' % name.replace('"', '""')


def qliteral(text: str) -> str:
    return "'%s'" % text.replace("'", "''")


def regclass(entry: Dict[str, Any]) -> str:
    return qliteral("%s.%s" % (qident(entry["schema"]), qident(entry["table"]))) + "::regclass"


def relation(entry: Dict[str, Any]) -> str:
    return "%s.%s" % (qident(entry["schema"]), qident(entry["table"]))


def sql_create_hypertable(entry: Dict[str, Any], api: Dict[str, Any], has_rows: bool) -> str:
    chunk = entry["chunk_time_interval"]
    migrate = ", migrate_data => true" if has_rows else ""
    if api["by_range"]:
        dim = "by_range(%s%s)" % (
            qliteral(entry["time_column"]),
            (", INTERVAL %s" % qliteral(chunk["text"])) if chunk else "",
        )
        return "SELECT create_hypertable(%s, %s%s)" % (regclass(entry), dim, migrate)
    chunk_arg = (", chunk_time_interval => INTERVAL %s" % qliteral(chunk["text"])) if chunk else ""
    return "SELECT create_hypertable(%s, %s%s%s)" % (
        regclass(entry), qliteral(entry["time_column"]), chunk_arg, migrate)


def sql_set_chunk_interval(entry: Dict[str, Any]) -> str:
    return "SELECT set_chunk_time_interval(%s, INTERVAL %s)" % (
        regclass(entry), qliteral(entry["chunk_time_interval"]["text"]))


def sql_compression_settings(entry: Dict[str, Any], api: Dict[str, Any]) -> str:
    comp = entry["compression"]
    segment = ",".join(comp["segment_by"])
    order = format_order_by(comp["order_by"])
    prefix = "timescaledb." if api["compression"] == "columnstore" else "timescaledb.compress_"
    if api["compression"] == "columnstore":
        opts = ["timescaledb.enable_columnstore = true"]
    else:
        opts = ["timescaledb.compress = true"]
    if comp["segment_by"]:
        opts.append("%ssegmentby = %s" % (prefix, qliteral(segment)))
    if comp["order_by"]:
        opts.append("%sorderby = %s" % (prefix, qliteral(order)))
    return "ALTER TABLE %s SET (%s)" % (relation(entry), ", ".join(opts))


def sql_add_compression_policy(entry: Dict[str, Any], api: Dict[str, Any]) -> str:
    after = qliteral(entry["compression"]["after"]["text"])
    if api["compression"] == "columnstore":
        return "%s add_columnstore_policy(%s, after => INTERVAL %s)" % (
            api.get("columnstore_call", "CALL"), regclass(entry), after)
    return "SELECT add_compression_policy(%s, compress_after => INTERVAL %s)" % (regclass(entry), after)


def sql_remove_compression_policy(entry: Dict[str, Any], api: Dict[str, Any]) -> str:
    if api["compression"] == "columnstore":
        return "%s remove_columnstore_policy(%s, if_exists => true)" % (
            api.get("columnstore_call", "CALL"), regclass(entry))
    return "SELECT remove_compression_policy(%s, if_exists => true)" % regclass(entry)


def sql_add_retention_policy(entry: Dict[str, Any]) -> str:
    return "SELECT add_retention_policy(%s, drop_after => INTERVAL %s)" % (
        regclass(entry), qliteral(entry["retention"]["drop_after"]["text"]))


def sql_alter_policy_interval(job_id: int, key: str, interval_text: str) -> str:
    """Change one interval of a policy job's config in place (alter_job keeps the job's id and schedule).

    ``key`` is ``drop_after`` (retention) or ``compress_after`` (compression,
    also under the columnstore API).
    """
    if key not in ("drop_after", "compress_after"):
        raise PolicyError("unknown policy config key %r" % key)
    return ("SELECT alter_job(j.job_id, config => jsonb_set(j.config, %s, to_jsonb(INTERVAL %s))) "
            "FROM timescaledb_information.jobs AS j WHERE j.job_id = %d"
            % (qliteral("{%s}" % key), qliteral(interval_text), int(job_id)))


def sql_remove_retention_policy(entry: Dict[str, Any]) -> str:
    return "SELECT remove_retention_policy(%s, if_exists => true)" % regclass(entry)


# ---------------------------------------------------------------------------
# The plan for one table
# ---------------------------------------------------------------------------
def describe_compression(comp: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Human form of wanted compression, as shown in --diff."""
    if not comp:
        return None
    return {
        "segment_by": list(comp["segment_by"]),
        "order_by": format_order_by(comp["order_by"]),
        "after": comp["after"]["text"],
    }


def plan_table(entry: Dict[str, Any], current: Dict[str, Any], ctx: Dict[str, Any]) -> Dict[str, Any]:
    """Decide what to change for one hypertable.

    ``entry``: a normalize_entry() result.
    ``current``: what the module read for this table::

        exists (bool), columns {name: type}, has_rows (bool),
        hypertable (bool), time_column (str|None), chunk_interval_seconds,
        chunk_interval_text, compression_enabled (bool),
        segment_by (list), order_by (list of (col, asc, nulls_first)),
        compression_after_seconds, compression_after_text,
        compression_job_ids (list), retention_after_seconds,
        retention_after_text, retention_job_ids (list)

    ``ctx``: edition ('apache'|'timescale'), api (choose_api()),
    retention_mechanism ('job'|'host'), require_compression (bool).

    Returns {statements, before, after, warnings, summary}. Raises PolicyError
    (naming the table and column) when the table cannot be converged.
    """
    name = entry["name"]
    if not current.get("exists"):
        raise PolicyError("table %s does not exist in the database (check the table name, "
                          "and that the migrations have run)" % name)
    columns = current.get("columns") or {}
    if entry["time_column"] not in columns:
        raise PolicyError("table %s has no column %r (time_column); its columns: %s"
                          % (name, entry["time_column"], ", ".join(sorted(columns))))
    comp = entry["compression"]
    if comp:
        for col in comp["segment_by"]:
            if col not in columns:
                raise PolicyError("table %s has no column %r (compression.segment_by)" % (name, col))
        for col, _asc, _nf in comp["order_by"]:
            if col not in columns:
                raise PolicyError("table %s has no column %r (compression.order_by)" % (name, col))
    if current.get("hypertable") and current.get("time_column") and current["time_column"] != entry["time_column"]:
        raise PolicyError(
            "table %s is already a hypertable partitioned by %r, not %r: the time column of a "
            "hypertable cannot be changed; fix time_column" % (name, current["time_column"], entry["time_column"]))

    edition = ctx["edition"]
    api = ctx["api"]
    mechanism = ctx["retention_mechanism"]
    statements: List[str] = []
    warnings: List[str] = []

    # --- hypertable + chunk interval ---------------------------------------
    chunk = entry["chunk_time_interval"]
    if not current.get("hypertable"):
        statements.append(sql_create_hypertable(entry, api, bool(current.get("has_rows"))))
        chunk_after = chunk["text"] if chunk else "(TimescaleDB default, 7 days)"
        chunk_before = None
    else:
        chunk_before = (format_seconds(current["chunk_interval_seconds"])
                        if current.get("chunk_interval_seconds") else current.get("chunk_interval_text"))
        chunk_after = chunk_before
        if chunk and not same_interval(chunk["seconds"], current.get("chunk_interval_seconds")):
            statements.append(sql_set_chunk_interval(entry))
            chunk_after = chunk["text"]

    # --- compression --------------------------------------------------------
    comp_before = None
    if current.get("compression_enabled"):
        comp_before = {
            "segment_by": list(current.get("segment_by") or []),
            "order_by": format_order_by(current.get("order_by") or []),
            "after": current.get("compression_after_text"),
        }
    comp_after = comp_before
    if edition != EDITION_COMMUNITY:
        if comp:
            msg = ("%s: compression is not available in the %r edition of TimescaleDB on this "
                   "server (it needs the Community edition, license 'timescale'); compression "
                   "skipped" % (name, edition))
            if ctx.get("require_compression"):
                raise PolicyError(msg.replace("compression skipped",
                                              "timescaledb_policies_require_compression is true"))
            warnings.append(msg)
        comp_summary = "skipped (%s edition)" % edition if comp else "none"
    else:
        has_policy = bool(current.get("compression_job_ids"))
        if comp:
            # An empty segment_by / order_by leaves TimescaleDB's own choice alone.
            settings_differ = (
                not current.get("compression_enabled")
                or (comp["segment_by"] and list(current.get("segment_by") or []) != comp["segment_by"])
                or (comp["order_by"] and list(current.get("order_by") or []) != comp["order_by"])
            )
            if settings_differ:
                statements.append(sql_compression_settings(entry, api))
            jobs = current.get("compression_job_ids") or []
            if len(jobs) == 1 and not same_interval(current.get("compression_after_seconds"), comp["after"]["seconds"]) \
                    and api.get("alter_job") and current.get("compression_after_seconds") is not None:
                statements.append(sql_alter_policy_interval(jobs[0], "compress_after", comp["after"]["text"]))
            elif len(jobs) != 1 or not same_interval(current.get("compression_after_seconds"), comp["after"]["seconds"]):
                if has_policy:
                    statements.append(sql_remove_compression_policy(entry, api))
                statements.append(sql_add_compression_policy(entry, api))
            comp_after = describe_compression(comp)
            if comp_before:
                if not comp["order_by"]:
                    comp_after["order_by"] = comp_before["order_by"]
                if not comp["segment_by"]:
                    comp_after["segment_by"] = comp_before["segment_by"]
            comp_summary = "after %s, segment by %s (%s API)" % (
                comp["after"]["text"], ",".join(comp["segment_by"]) or "-", api["compression"])
        else:
            if has_policy:
                statements.append(sql_remove_compression_policy(entry, api))
            if comp_before:
                # The settings stay (chunks may already be compressed); only the
                # policy goes, so nothing new is compressed.
                comp_after = dict(comp_before, after=None)
            comp_summary = "none"

    # --- retention ----------------------------------------------------------
    ret = entry["retention"]
    ret_before = None
    if current.get("retention_job_ids"):
        ret_before = {"drop_after": current.get("retention_after_text"), "mechanism": "job"}
    ret_after = None
    has_ret_policy = bool(current.get("retention_job_ids"))
    if mechanism == "job":
        if ret:
            jobs = current.get("retention_job_ids") or []
            differs = not same_interval(current.get("retention_after_seconds"), ret["drop_after"]["seconds"])
            if len(jobs) == 1 and differs and api.get("alter_job") and current.get("retention_after_seconds") is not None:
                statements.append(sql_alter_policy_interval(jobs[0], "drop_after", ret["drop_after"]["text"]))
            elif len(jobs) != 1 or differs:
                if has_ret_policy:
                    statements.append(sql_remove_retention_policy(entry))
                statements.append(sql_add_retention_policy(entry))
            ret_after = {"drop_after": ret["drop_after"]["text"], "mechanism": "job"}
        elif has_ret_policy:
            statements.append(sql_remove_retention_policy(entry))
    else:
        # Host timer: the module only removes DB policies that would compete.
        if has_ret_policy:
            statements.append(sql_remove_retention_policy(entry))
        if ret:
            ret_after = {"drop_after": ret["drop_after"]["text"], "mechanism": "host"}
        if current.get("host_retention_text"):
            ret_before = {"drop_after": current["host_retention_text"], "mechanism": "host"}

    mechanisms = []
    if ret:
        mechanisms.append("TimescaleDB job" if mechanism == "job" else "host timer ms5-retention")
    if comp and edition == EDITION_COMMUNITY and "TimescaleDB job" not in mechanisms:
        mechanisms.append("TimescaleDB job")
    summary = {
        "table": name,
        "chunk_interval": chunk_after,
        "compression": comp_summary,
        "retention": ret["drop_after"]["text"] if ret else "none",
        "mechanism": " + ".join(mechanisms) or "-",
    }
    before = {"hypertable": bool(current.get("hypertable")), "chunk_time_interval": chunk_before,
              "compression": comp_before, "retention": ret_before}
    after = {"hypertable": True, "chunk_time_interval": chunk_after,
             "compression": comp_after, "retention": ret_after}
    return {"statements": statements, "before": before, "after": after,
            "warnings": warnings, "summary": summary}


def host_retention_lines(entries: Sequence[Dict[str, Any]], mechanism: str) -> List[Dict[str, str]]:
    """Tables the host timer must trim: [{table, drop_after}] (empty for 'job')."""
    if mechanism != "host":
        return []
    return [{"table": e["name"], "drop_after": e["retention"]["drop_after"]["text"]}
            for e in entries if e["retention"]]


def summary_lines(rows: Sequence[Dict[str, str]], edition: str, version: str) -> List[str]:
    """Render the summary rows as a fixed-width text table."""
    headers = ("hypertable", "chunk interval", "compression", "retention", "mechanism")
    keys = ("table", "chunk_interval", "compression", "retention", "mechanism")
    table = [headers] + [tuple(str(r.get(k) if r.get(k) is not None else "-") for k in keys) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = ["TimescaleDB %s, %s edition" % (version, edition)]
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines
