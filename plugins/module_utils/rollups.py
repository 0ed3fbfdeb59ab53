# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Pure decision logic and SQL of the ms5.factory_telemetry.rollups module.

Nothing here talks to a database. It validates rollup declarations
(``rollups_definitions``), builds the SQL of both TimescaleDB editions
(Community: continuous aggregates with refresh, compression and retention
policies; Apache: plain hypertables, a real-time view and a materialize function
driven by ms5_rollups.refresh()), the trend functions dashboards call, and the
plan that converges the database's state to the declarations.

This file is standard-library Python only: the benchmark (bench/ms5bench) loads
it too. Every function is unit-tested in tests/unit/test_rollups.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

SCHEMA = "ms5_rollups"
CATALOG = SCHEMA + ".catalog"
EDITION_COMMUNITY = "timescale"
EDITION_APACHE = "apache"
KIND_TABLE = "table"
KIND_CAGG = "continuous_aggregate"
AGGREGATES = ("avg", "min", "max", "sum", "count", "first", "last")
RESERVED_NAMES = ("catalog", "status", "watermark", "refresh", "bucket")
DECLARATION_KEYS = ("name", "source", "time_column", "bucket", "group_by", "aggregates", "retention",
                    "refresh", "compression", "chunk_time_interval", "trend")
TREND_MAX_POINTS = 1500
# Buckets rewritten per committed batch by ms5_rollups.refresh() (rollups_base.sql).
BATCH_BUCKETS = 1440
# Bumped when the generated view/function text changes; replaces them in place
# (never the stored rows).
CODE_VERSION = "1"

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_UNIT_SECONDS = {
    "microsecond": 1e-6, "millisecond": 1e-3, "second": 1.0, "minute": 60.0, "hour": 3600.0,
    "day": 86400.0, "week": 604800.0, "month": 2592000.0, "year": 31557600.0,
}
_UNIT_ALIASES = {
    "s": "second", "sec": "second", "secs": "second", "m": "minute", "min": "minute", "mins": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "d": "day", "w": "week", "mon": "month", "mons": "month",
    "y": "year", "yr": "year", "yrs": "year",
}
_CALENDAR_UNITS = ("month", "year")
_INTERVAL_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)\s*")

# Result types of an aggregate per source column type (PostgreSQL's own rules,
# without type modifiers, so both editions and the views' UNION ALL agree).
_NUMERIC_INPUTS = {"smallint", "integer", "bigint", "numeric", "real", "double precision"}
_ORDERED_INPUTS = _NUMERIC_INPUTS | {"text", "timestamp with time zone", "timestamp without time zone",
                                     "date", "interval"}


class RollupError(ValueError):
    """A declaration or a database state the rollups cannot be converged from."""


# ---------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------
def _unit_name(raw: str) -> Optional[str]:
    unit = raw.lower()
    unit = _UNIT_ALIASES.get(unit, unit)
    if unit.endswith("s") and unit[:-1] in _UNIT_SECONDS:
        unit = unit[:-1]
    return unit if unit in _UNIT_SECONDS else None


def parse_interval(value: Any, allow_calendar: bool = False) -> Dict[str, Any]:
    """``"1 hour"`` -> ``{"text": "1 hour", "seconds": 3600.0}``.

    ``<number> <unit>`` pairs only; months and years only where
    ``allow_calendar`` (retention). Raises RollupError on anything else, zero
    included.
    """
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise RollupError("must be an interval such as '1 hour' or '7 days', got %r" % (value,))
    text = value.strip()
    pos = 0
    parts: List[str] = []
    seconds = 0.0
    while pos < len(text):
        match = _INTERVAL_PART.match(text, pos)
        if not match or match.end() == pos:
            raise RollupError("%r is not an interval: use '<number> <unit>' pairs such as '1 minute', "
                              "'7 days' or '1 day 12 hours'" % (value,))
        unit = _unit_name(match.group(2))
        if unit is None:
            raise RollupError("%r has an unknown unit %r" % (value, match.group(2)))
        if unit in _CALENDAR_UNITS and not allow_calendar:
            raise RollupError("%r uses %ss, whose length varies: use fixed units (minutes, hours, days, weeks)"
                              % (value, unit))
        amount = int(match.group(1))
        parts.append("%d %s%s" % (amount, unit, "" if amount == 1 else "s"))
        seconds += amount * _UNIT_SECONDS[unit]
        pos = match.end()
    if seconds <= 0:
        raise RollupError("%r must be longer than zero" % (value,))
    return {"text": " ".join(parts), "seconds": seconds}


def format_seconds(seconds: Optional[float]) -> Optional[str]:
    """3600 -> '1 hour', 604800 -> '7 days' (what the summary and --diff show)."""
    if seconds is None:
        return None
    value = float(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if value >= size and value % size == 0:
            count = int(value // size)
            return "%d %s%s" % (count, unit, "" if count == 1 else "s")
    return "%g seconds" % value


def interval_of(seconds: float) -> Dict[str, Any]:
    return {"text": format_seconds(seconds), "seconds": float(seconds)}


def same_seconds(a: Optional[float], b: Optional[float]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 0.5e-6


def ceil_to(seconds: float, step: float) -> float:
    return math.ceil(seconds / step - 1e-9) * step


# ---------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------
def qident(name: str) -> str:
    return '"%s"' % name.replace('"', '""')


def qliteral(text: str) -> str:
    return "'%s'" % str(text).replace("'", "''")


def split_table(name: str) -> Tuple[str, str]:
    if not isinstance(name, str) or name.count(".") != 1:
        raise RollupError("%r must be schema-qualified, e.g. factory_telemetry.metric_hist" % (name,))
    schema, table = name.split(".")
    for part in (schema, table):
        if not IDENTIFIER.match(part):
            raise RollupError("%r: %r is not a lower-case SQL identifier" % (name, part))
    return schema, table


def relation_of(name: str) -> str:
    return "%s.%s" % (SCHEMA, name)


def _label(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return "rollups_definitions[%d]%s" % (index, " (%s)" % name if isinstance(name, str) and name else "")


def _normalize_aggregate(label: str, index: int, item: Any) -> Dict[str, Any]:
    where = "%s: aggregates[%d]" % (label, index)
    if not isinstance(item, dict):
        raise RollupError("%s must be a mapping {name, fn, column}" % where)
    extra = sorted(set(item) - {"name", "fn", "column"})
    if extra:
        raise RollupError("%s has unknown keys %s (allowed: column, fn, name)" % (where, extra))
    name, fn, column = item.get("name"), item.get("fn"), item.get("column")
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise RollupError("%s: name %r must be a lower-case column name" % (where, name))
    if fn not in AGGREGATES:
        raise RollupError("%s (%s): fn %r is not one of %s" % (where, name, fn, ", ".join(AGGREGATES)))
    if column in (None, ""):
        if fn != "count":
            raise RollupError("%s (%s): %s needs a column" % (where, name, fn))
        column = None
    elif not isinstance(column, str) or not IDENTIFIER.match(column):
        raise RollupError("%s (%s): column %r must be a lower-case column name" % (where, name, column))
    return {"name": name, "fn": fn, "column": column}


def normalize_entry(entry: Any, index: int = 0) -> Dict[str, Any]:
    """Validate one ``rollups_definitions`` item on its own (no other item, no database)."""
    if not isinstance(entry, dict):
        raise RollupError("rollups_definitions[%d] must be a mapping" % index)
    label = _label(index, entry)
    unknown = sorted(set(entry) - set(DECLARATION_KEYS))
    if unknown:
        raise RollupError("%s has unknown keys %s (allowed: %s)" % (label, unknown, ", ".join(sorted(DECLARATION_KEYS))))
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise RollupError("%s: name %r must be a lower-case identifier of at most 40 characters "
                          "([a-z][a-z0-9_]*)" % (label, name))
    if name in RESERVED_NAMES:
        raise RollupError("%s: name %r is reserved in schema %s (%s)" % (label, name, SCHEMA, ", ".join(RESERVED_NAMES)))

    source = entry.get("source")
    if not isinstance(source, str) or not source:
        raise RollupError("%s: source is required: a hypertable (schema.table) or the name of another rollup" % label)
    source_rollup = None
    if source.startswith(SCHEMA + "."):
        source_rollup = source[len(SCHEMA) + 1:]
    elif "." not in source:
        source_rollup = source
    if source_rollup is not None:
        if not NAME.match(source_rollup):
            raise RollupError("%s: source %r is not a rollup name" % (label, source))
        if source_rollup == name:
            raise RollupError("%s: a rollup cannot be built on itself" % label)
        source_table = None
    else:
        try:
            split_table(source)
        except RollupError as exc:
            raise RollupError("%s: source %s" % (label, exc))
        source_table = source

    time_column = entry.get("time_column")
    if source_rollup is not None:
        if time_column not in (None, "", "bucket"):
            raise RollupError("%s: time_column must be left out when the source is another rollup "
                              "(its time column is bucket)" % label)
        time_column = "bucket"
    elif not isinstance(time_column, str) or not IDENTIFIER.match(time_column):
        raise RollupError("%s: time_column %r must be the source's time column (lower case)" % (label, time_column))

    try:
        bucket = parse_interval(entry.get("bucket"))
    except RollupError as exc:
        raise RollupError("%s: bucket %s" % (label, exc))
    if bucket["seconds"] < 1 or bucket["seconds"] != int(bucket["seconds"]):
        raise RollupError("%s: bucket %s must be a whole number of seconds" % (label, bucket["text"]))
    if 86400 % bucket["seconds"] and bucket["seconds"] % 86400:
        raise RollupError("%s: bucket %s must divide a day or be a whole number of days, so buckets line up "
                          "with days (e.g. 1 minute, 5 minutes, 1 hour, 1 day)" % (label, bucket["text"]))

    group_by = entry.get("group_by") or []
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list):
        raise RollupError("%s: group_by must be a list of column names" % label)
    for col in group_by:
        if not isinstance(col, str) or not IDENTIFIER.match(col) or col == "bucket":
            raise RollupError("%s: group_by column %r must be a lower-case column name other than bucket"
                              % (label, col))
    if len(set(group_by)) != len(group_by):
        raise RollupError("%s: group_by lists a column twice" % label)

    raw_aggs = entry.get("aggregates")
    if not isinstance(raw_aggs, list) or not raw_aggs:
        raise RollupError("%s: aggregates must be a non-empty list of {name, fn, column}" % label)
    aggregates = [_normalize_aggregate(label, i, a) for i, a in enumerate(raw_aggs)]
    names = [a["name"] for a in aggregates]
    dup = sorted(set(n for n in names if names.count(n) > 1))
    if dup:
        raise RollupError("%s: aggregate names %s are used twice" % (label, dup))
    clash = sorted(set(names) & (set(group_by) | {"bucket"}))
    if clash:
        raise RollupError("%s: aggregate names %s clash with group_by or bucket" % (label, clash))
    keys = [(a["fn"], a["column"]) for a in aggregates]
    if len(set(keys)) != len(keys):
        raise RollupError("%s: the same aggregate (fn and column) is declared twice" % label)

    retention = None
    if entry.get("retention") not in (None, ""):
        try:
            retention = parse_interval(entry["retention"], allow_calendar=True)
        except RollupError as exc:
            raise RollupError("%s: retention %s" % (label, exc))

    refresh = entry.get("refresh") or {}
    if not isinstance(refresh, dict) or set(refresh) - {"lag", "interval"}:
        raise RollupError("%s: refresh must be a mapping with lag and interval" % label)
    try:
        lag = parse_interval(refresh.get("lag", "15 minutes"))
    except RollupError as exc:
        raise RollupError("%s: refresh.lag %s" % (label, exc))
    try:
        every = parse_interval(refresh.get("interval", "5 minutes"))
    except RollupError as exc:
        raise RollupError("%s: refresh.interval %s" % (label, exc))
    if every["seconds"] < 60:
        raise RollupError("%s: refresh.interval %s is shorter than 1 minute" % (label, every["text"]))

    compression = None
    comp = entry.get("compression")
    if comp not in (None, {}, False):
        if not isinstance(comp, dict) or set(comp) != {"after"}:
            raise RollupError("%s: compression must be a mapping with one key, after (e.g. {after: 7 days})" % label)
        try:
            compression = {"after": parse_interval(comp["after"])}
        except RollupError as exc:
            raise RollupError("%s: compression.after %s" % (label, exc))

    chunk = None
    if entry.get("chunk_time_interval") not in (None, ""):
        try:
            chunk = parse_interval(entry["chunk_time_interval"])
        except RollupError as exc:
            raise RollupError("%s: chunk_time_interval %s" % (label, exc))
    else:
        chunk = interval_of(min(max(bucket["seconds"] * 10080, 86400.0), 365 * 86400.0))
    if chunk["seconds"] < bucket["seconds"]:
        raise RollupError("%s: chunk_time_interval %s is shorter than the bucket %s" % (label, chunk["text"], bucket["text"]))

    trend = entry.get("trend")
    if trend in ("", None):
        trend = None
    elif not isinstance(trend, str) or not NAME.match(trend) or trend in RESERVED_NAMES:
        raise RollupError("%s: trend %r must be a lower-case function name (or left out)" % (label, trend))

    start, end = refresh_offsets(bucket["seconds"], lag["seconds"], every["seconds"])
    if compression and compression["after"]["seconds"] <= start:
        raise RollupError("%s: compression.after (%s) must be longer than the refresh window (%s = lag + interval + "
                          "buckets), or compressed buckets would be rewritten"
                          % (label, compression["after"]["text"], format_seconds(start)))
    if retention and retention["seconds"] <= start:
        raise RollupError("%s: retention (%s) must be longer than the refresh window (%s)"
                          % (label, retention["text"], format_seconds(start)))
    if retention and compression and retention["seconds"] <= compression["after"]["seconds"]:
        raise RollupError("%s: retention (%s) must be longer than compression.after (%s)"
                          % (label, retention["text"], compression["after"]["text"]))

    return {
        "name": name,
        "relation": relation_of(name),
        "source_table": source_table,
        "source_rollup": source_rollup,
        "time_column": time_column,
        "bucket": bucket,
        "group_by": list(group_by),
        "aggregates": aggregates,
        "retention": retention,
        "lag": lag,
        "interval": every,
        "compression": compression,
        "chunk": chunk,
        "trend": trend,
        "start_offset": start,
        "end_offset": end,
    }


def refresh_offsets(bucket: float, lag: float, every: float) -> Tuple[float, float]:
    """(start_offset, end_offset) seconds of a continuous aggregate refresh policy.

    end_offset = one bucket (the open bucket is served by real-time aggregation);
    start_offset reaches back far enough that a row arriving up to ``lag`` late is
    still inside the next run's window (lag + schedule interval, in whole buckets),
    and the window spans at least two buckets (TimescaleDB's minimum).
    """
    end = bucket
    start = end + max(ceil_to(lag + every, bucket), 2 * bucket)
    return start, end


def _find(items: Sequence[Dict[str, Any]], fn: str, column: Optional[str]) -> Optional[Dict[str, Any]]:
    for item in items:
        if item["fn"] == fn and item["column"] == column:
            return item
    return None


def _link(rollups: List[Dict[str, Any]], raw_retention: Dict[str, float]) -> List[str]:
    """Resolve sources, levels and hierarchy rules; return the problems found."""
    by_name = {r["name"]: r for r in rollups}
    errors: List[str] = []
    for r in rollups:
        if r["source_rollup"] and r["source_rollup"] not in by_name:
            errors.append("%s: source %s is not declared in rollups_definitions (declare it, or name a hypertable "
                          "as schema.table)" % (r["relation"], r["source_rollup"]))
    if errors:
        return errors
    # levels (and cycles)
    for r in rollups:
        seen = [r["name"]]
        cur = r
        while cur["source_rollup"]:
            cur = by_name[cur["source_rollup"]]
            if cur["name"] in seen:
                errors.append("rollups_definitions: %s are built on each other in a cycle" % " -> ".join(seen + [cur["name"]]))
                break
            seen.append(cur["name"])
        else:
            r["level"] = len(seen) - 1
            r["raw_table"] = cur["source_table"]
            r["raw_time_column"] = cur["time_column"]
    if errors:
        return errors
    for r in rollups:
        if not r["source_rollup"]:
            raw = raw_retention.get(r["source_table"])
            if raw is not None and r["retention"] and r["retention"]["seconds"] < raw - 0.5e-6:
                errors.append("%s: retention %s is shorter than the retention of its source %s (%s): the rollup "
                              "would forget history the raw table still has; make it at least %s"
                              % (r["relation"], r["retention"]["text"], r["source_table"], format_seconds(raw),
                                 format_seconds(raw)))
            continue
        src = by_name[r["source_rollup"]]
        if r["bucket"]["seconds"] % src["bucket"]["seconds"] or r["bucket"]["seconds"] <= src["bucket"]["seconds"]:
            errors.append("%s: bucket %s is not a multiple of the bucket of its source %s (%s): a rollup built on "
                          "another needs a bucket the source's bucket divides, e.g. 1 hour on 1 minute"
                          % (r["relation"], r["bucket"]["text"], src["relation"], src["bucket"]["text"]))
        missing = [c for c in r["group_by"] if c not in src["group_by"]]
        if missing:
            errors.append("%s: group_by %s is not in the group_by of its source %s (%s)"
                          % (r["relation"], missing, src["relation"], ", ".join(src["group_by"]) or "none"))
        for agg in r["aggregates"]:
            if not _find(src["aggregates"], agg["fn"], agg["column"]):
                errors.append("%s: aggregate %s (%s of %s) has no counterpart in its source %s: declare %s(%s) there"
                              % (r["relation"], agg["name"], agg["fn"], agg["column"] or "*", src["relation"],
                                 agg["fn"], agg["column"] or "*"))
            elif agg["fn"] == "avg" and not _find(src["aggregates"], "count", agg["column"]):
                errors.append("%s: aggregate %s (avg of %s) needs count(%s) in its source %s to weight the averages"
                              % (r["relation"], agg["name"], agg["column"], agg["column"], src["relation"]))
        if src["retention"] and (not r["retention"] or r["retention"]["seconds"] < src["retention"]["seconds"] - 0.5e-6):
            if r["retention"]:
                errors.append("%s: retention %s is shorter than the retention of its source %s (%s); make it at "
                              "least %s" % (r["relation"], r["retention"]["text"], src["relation"],
                                            src["retention"]["text"], src["retention"]["text"]))
        if r["lag"]["seconds"] < src["lag"]["seconds"]:
            errors.append("%s: refresh.lag %s is shorter than the refresh.lag of its source %s (%s): late rows the "
                          "source picks up would be missed" % (r["relation"], r["lag"]["text"], src["relation"],
                                                               src["lag"]["text"]))
    return errors


def _trend_errors(rollups: List[Dict[str, Any]]) -> List[str]:
    errors = []
    for name, members in _families(rollups).items():
        first = members[0]
        for other in members[1:]:
            if other["raw_table"] != first["raw_table"] or other["group_by"] != first["group_by"]:
                errors.append("trend %s: its rollups %s and %s must share the raw table and group_by"
                              % (name, first["relation"], other["relation"]))
                continue
            if other["bucket"]["seconds"] == first["bucket"]["seconds"]:
                errors.append("trend %s: %s and %s have the same bucket" % (name, first["relation"], other["relation"]))
            for agg in first["aggregates"]:
                mine = _find(other["aggregates"], agg["fn"], agg["column"])
                if not mine or mine["name"] != agg["name"]:
                    errors.append("trend %s: %s lacks %s (%s of %s) that %s has" % (
                        name, other["relation"], agg["name"], agg["fn"], agg["column"] or "*", first["relation"]))
        for member in members:
            for agg in first["aggregates"]:
                if agg["fn"] == "avg" and not _find(member["aggregates"], "count", agg["column"]):
                    errors.append("trend %s: %s needs count(%s) to re-aggregate %s into wider buckets"
                                  % (name, member["relation"], agg["column"], agg["name"]))
    return errors


def _families(rollups: Sequence[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    fams: Dict[str, List[Dict[str, Any]]] = {}
    for r in rollups:
        if r.get("trend"):
            fams.setdefault(r["trend"], []).append(r)
    for members in fams.values():
        members.sort(key=lambda m: m["bucket"]["seconds"])
    return fams


def topo_order(rollups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(rollups, key=lambda r: (r.get("level", 0), r["name"]))


def validation_errors(entries: Any, raw_retention: Optional[Dict[str, Any]] = None) -> List[str]:
    """Every problem found without a database (validate.yml asserts none)."""
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        return ["rollups_definitions must be a list"]
    errors: List[str] = []
    rollups: List[Dict[str, Any]] = []
    seen = set()
    for index, entry in enumerate(entries):
        try:
            norm = normalize_entry(entry, index)
        except RollupError as exc:
            errors.append(str(exc))
            continue
        if norm["name"] in seen:
            errors.append("rollups_definitions: %s is declared twice" % norm["name"])
            continue
        seen.add(norm["name"])
        rollups.append(norm)
    if errors:
        return errors
    try:
        retention_seconds = raw_retention_seconds(raw_retention or {})
    except RollupError as exc:
        return [str(exc)]
    errors.extend(_link(rollups, retention_seconds))
    if not errors:
        errors.extend(_trend_errors(rollups))
    return errors


def raw_retention_seconds(raw: Dict[str, Any]) -> Dict[str, float]:
    """{table: '90 days'} or {table: seconds} -> {table: seconds}."""
    out: Dict[str, float] = {}
    for table, value in (raw or {}).items():
        if value in (None, ""):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[table] = float(value)
        else:
            try:
                out[table] = parse_interval(str(value), allow_calendar=True)["seconds"]
            except RollupError as exc:
                raise RollupError("retention of %s: %s" % (table, exc))
    return out


def retention_from_policies(hypertables: Any) -> Dict[str, Optional[str]]:
    """{table: drop_after} from a timescaledb_policies_hypertables value (what validate.yml knows)."""
    out: Dict[str, Optional[str]] = {}
    for item in hypertables or []:
        if isinstance(item, dict) and isinstance(item.get("table"), str):
            ret = item.get("retention")
            out[item["table"]] = ret.get("drop_after") if isinstance(ret, dict) else None
    return out


def normalize_all(entries: Any, raw_retention: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Validated rollups in build order (sources first); RollupError lists every problem."""
    errors = validation_errors(entries, raw_retention)
    if errors:
        raise RollupError("; ".join(errors))
    rollups = [normalize_entry(e, i) for i, e in enumerate(entries or [])]
    _link(rollups, raw_retention_seconds(raw_retention or {}))
    return topo_order(rollups)


# ---------------------------------------------------------------------------
# Server capabilities
# ---------------------------------------------------------------------------
def parse_version(text: str) -> Tuple[int, int, int]:
    nums = [int(n) for n in re.findall(r"\d+", text or "")[:3]]
    while len(nums) < 3:
        nums.append(0)
    return nums[0], nums[1], nums[2]


def choose_api(edition: str, version: str, functions: Dict[str, Any]) -> Dict[str, Any]:
    """What the server can do, from its edition, extension version and pg_proc.

    ``functions``: {proname: [namespace, ...]} of the TimescaleDB functions found.
    The Apache edition lists the Community functions in pg_proc too (they fail
    with a license error), so the edition decides the kind first.
    """
    ver = parse_version(version)
    names = functions or {}
    community = edition == EDITION_COMMUNITY
    watermark_ns = None
    for ns in ("_timescaledb_functions", "_timescaledb_internal"):
        if ns in (names.get("cagg_watermark") or []):
            watermark_ns = ns
            break
    return {
        "edition": edition,
        "version": version,
        "kind": KIND_CAGG if community else KIND_TABLE,
        "by_range": "by_range" in names,
        # Continuous aggregates on continuous aggregates: TimescaleDB 2.9.
        "hierarchical": community and ver >= (2, 9, 0),
        # Compression of continuous aggregates: 2.6 (timescaledb.compress), the
        # columnstore API where add_columnstore_policy exists (2.18).
        "cagg_compression": (community and ver >= (2, 6, 0)),
        "columnstore": "add_columnstore_policy" in names,
        # Real-time aggregation is off by default from 2.13: always set explicitly.
        "watermark_ns": watermark_ns or "_timescaledb_functions",
    }


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------
def base_type(type_text: str) -> str:
    """'numeric(14,4)' -> 'numeric', 'character varying(20)' -> 'text'."""
    t = (type_text or "").strip().lower()
    t = re.sub(r"\(.*\)", "", t).strip()
    if t in ("character varying", "varchar", "character", "char", "bpchar"):
        return "text"
    if t == "timestamptz":
        return "timestamp with time zone"
    if t in ("int", "int4"):
        return "integer"
    if t == "int8":
        return "bigint"
    if t == "int2":
        return "smallint"
    if t in ("float8", "double"):
        return "double precision"
    if t == "float4":
        return "real"
    return t


def result_type(fn: str, column_type: Optional[str]) -> str:
    """The type fn(column) returns in PostgreSQL (type modifiers dropped)."""
    if fn == "count":
        return "bigint"
    t = base_type(column_type or "")
    if fn == "avg":
        if t in ("smallint", "integer", "bigint", "numeric"):
            return "numeric"
        if t in ("real", "double precision"):
            return "double precision"
        if t == "interval":
            return "interval"
    elif fn == "sum":
        if t in ("smallint", "integer"):
            return "bigint"
        if t in ("bigint", "numeric"):
            return "numeric"
        if t in ("real", "double precision", "interval"):
            return t
    elif fn in ("min", "max"):
        if t in _ORDERED_INPUTS:
            return t
    elif fn in ("first", "last"):
        if t:
            return t
    raise RollupError("%s() of a %s column is not supported" % (fn, column_type or "?"))


def typed(rollup: Dict[str, Any], columns: Dict[str, str]) -> Dict[str, Any]:
    """Attach the group-by column types and aggregate result types from the raw table's columns.

    Raises RollupError naming the rollup and the column that does not exist or
    cannot be aggregated that way.
    """
    out = dict(rollup)
    out["group_types"] = []
    for col in rollup["group_by"]:
        if col not in columns:
            raise RollupError("%s: group_by column %r does not exist in %s (its columns: %s)"
                              % (rollup["relation"], col, rollup["raw_table"], ", ".join(sorted(columns))))
        out["group_types"].append(base_type(columns[col]))
    aggs = []
    for agg in rollup["aggregates"]:
        if agg["column"] is not None and agg["column"] not in columns:
            raise RollupError("%s: aggregate %s: column %r does not exist in %s (its columns: %s)"
                              % (rollup["relation"], agg["name"], agg["column"], rollup["raw_table"],
                                 ", ".join(sorted(columns))))
        try:
            rtype = result_type(agg["fn"], columns.get(agg["column"]) if agg["column"] else None)
        except RollupError as exc:
            raise RollupError("%s: aggregate %s (%s of %s): %s" % (
                rollup["relation"], agg["name"], agg["fn"], agg["column"], exc))
        aggs.append(dict(agg, type=rtype))
    out["aggregates"] = aggs
    return out


# ---------------------------------------------------------------------------
# SQL: expressions
# ---------------------------------------------------------------------------
def _bucket_lit(rollup: Dict[str, Any]) -> str:
    return "INTERVAL %s" % qliteral(rollup["bucket"]["text"])


def raw_agg_expr(agg: Dict[str, Any], alias: str, time_column: str, cast: bool) -> str:
    col = "%s.%s" % (alias, qident(agg["column"])) if agg["column"] else None
    tcol = "%s.%s" % (alias, qident(time_column))
    if agg["fn"] == "count":
        expr = "count(%s)" % (col or "*")
    elif agg["fn"] in ("first", "last"):
        expr = "%s(%s, %s)" % (agg["fn"], col, tcol)
    else:
        expr = "%s(%s)" % (agg["fn"], col)
    return "%s::%s" % (expr, agg["type"]) if cast else expr


def reagg_expr(agg: Dict[str, Any], source_aggs: Sequence[Dict[str, Any]], alias: str, cast: bool = True) -> str:
    """Re-aggregate agg from a finer rollup's columns (weighted averages, summed counts)."""
    src = _find(source_aggs, agg["fn"], agg["column"])
    if src is None:
        raise RollupError("no %s(%s) to re-aggregate %s from" % (agg["fn"], agg["column"] or "*", agg["name"]))
    col = "%s.%s" % (alias, qident(src["name"]))
    fn = agg["fn"]
    if fn in ("min", "max", "sum"):
        expr = "%s(%s)" % (fn, col)
    elif fn == "count":
        expr = "sum(%s)" % col
    elif fn in ("first", "last"):
        expr = "%s(%s, %s.bucket)" % (fn, col, alias)
    else:  # avg
        cnt = _find(source_aggs, "count", agg["column"])
        if cnt is None:
            raise RollupError("avg %s needs count(%s) to be re-aggregated" % (agg["name"], agg["column"]))
        ccol = "%s.%s" % (alias, qident(cnt["name"]))
        expr = "sum(%s * %s) / NULLIF(sum(%s), 0)" % (col, ccol, ccol)
    return "(%s)::%s" % (expr, agg["type"]) if cast else expr


def _group_cols(rollup: Dict[str, Any], alias: str) -> List[str]:
    return ["%s.%s" % (alias, qident(c)) for c in rollup["group_by"]]


def aggregate_select(rollup: Dict[str, Any], source: Optional[Dict[str, Any]], from_relation: str,
                     where: Optional[str], cast: bool) -> str:
    """SELECT <group cols>, bucket, <aggregates> FROM from_relation [WHERE ...] GROUP BY ...

    ``source``: the finer rollup this one is built on (its columns are
    re-aggregated), or None to aggregate the raw table.
    """
    alias = "s"
    groups = _group_cols(rollup, alias)
    tcol = "bucket" if source else rollup["time_column"]
    bucket_expr = "time_bucket(%s, %s.%s)" % (_bucket_lit(rollup), alias, qident(tcol))
    cols = list(groups) + ["%s AS bucket" % bucket_expr]
    for agg in rollup["aggregates"]:
        expr = reagg_expr(agg, source["aggregates"], alias, cast) if source else \
            raw_agg_expr(agg, alias, tcol, cast)
        cols.append("%s AS %s" % (expr, qident(agg["name"])))
    sql = "SELECT %s\nFROM %s AS %s" % (",\n       ".join(cols), from_relation, alias)
    if where:
        sql += "\nWHERE %s" % where
    sql += "\nGROUP BY %s" % ", ".join(groups + [bucket_expr])
    return sql


def column_names(rollup: Dict[str, Any]) -> List[str]:
    return list(rollup["group_by"]) + ["bucket"] + [a["name"] for a in rollup["aggregates"]]


def raw_relation(rollup: Dict[str, Any]) -> str:
    schema, table = split_table(rollup["raw_table"])
    return "%s.%s" % (qident(schema), qident(table))


def view_relation(name: str) -> str:
    return "%s.%s" % (qident(SCHEMA), qident(name))


def mat_name(rollup: Dict[str, Any]) -> str:
    return "_mat_" + rollup["name"]


def materialize_function(rollup: Dict[str, Any]) -> str:
    return "%s.%s" % (SCHEMA, "_materialize_" + rollup["name"])


# ---------------------------------------------------------------------------
# SQL: Apache edition (table kind)
# ---------------------------------------------------------------------------
def sql_table_create(rollup: Dict[str, Any], source: Optional[Dict[str, Any]], api: Dict[str, Any]) -> List[str]:
    """The hypertable, its index, the real-time view and the materialize function."""
    mat = "%s.%s" % (qident(SCHEMA), qident(mat_name(rollup)))
    cols = ["%s %s" % (qident(c), t) for c, t in zip(rollup["group_by"], rollup["group_types"])]
    cols.append("bucket timestamp with time zone NOT NULL")
    cols += ["%s %s" % (qident(a["name"]), a["type"]) for a in rollup["aggregates"]]
    stmts = ["CREATE TABLE %s (\n    %s\n)" % (mat, ",\n    ".join(cols))]
    chunk = "INTERVAL %s" % qliteral(rollup["chunk"]["text"])
    reg = qliteral("%s.%s" % (SCHEMA, mat_name(rollup))) + "::regclass"
    if api.get("by_range"):
        stmts.append("SELECT create_hypertable(%s, by_range('bucket', %s))" % (reg, chunk))
    else:
        stmts.append("SELECT create_hypertable(%s, 'bucket', chunk_time_interval => %s)" % (reg, chunk))
    if rollup["group_by"]:
        stmts.append("CREATE INDEX %s ON %s (%s, bucket DESC)" % (
            qident(mat_name(rollup) + "_key_idx"), mat, ", ".join(qident(c) for c in rollup["group_by"])))
    stmts.extend(sql_table_code(rollup, source))
    return stmts


def sql_table_code(rollup: Dict[str, Any], source: Optional[Dict[str, Any]]) -> List[str]:
    """The view and the materialize function (CREATE OR REPLACE: replaced in place, rows kept)."""
    mat = "%s.%s" % (qident(SCHEMA), qident(mat_name(rollup)))
    wm = "%s.watermark(%s)" % (qident(SCHEMA), qliteral(rollup["relation"]))
    names = column_names(rollup)
    if source:
        realtime_from = view_relation(source["name"])
        realtime_time = "bucket"
        mat_from = "%s.%s" % (qident(SCHEMA), qident(mat_name(source)))
    else:
        realtime_from = raw_relation(rollup)
        realtime_time = rollup["time_column"]
        mat_from = raw_relation(rollup)
    stored = "SELECT %s\nFROM %s AS m\nWHERE m.bucket < %s" % (
        ", ".join("m.%s" % qident(n) for n in names), mat, wm)
    realtime = aggregate_select(rollup, source, realtime_from, "s.%s >= %s" % (qident(realtime_time), wm), cast=True)
    view = "CREATE OR REPLACE VIEW %s AS\n%s\nUNION ALL\n%s" % (view_relation(rollup["name"]), stored, realtime)
    fill = aggregate_select(rollup, source, mat_from, "s.%s >= p_from AND s.%s < p_to" % (
        qident(realtime_time), qident(realtime_time)), cast=True)
    function = (
        "CREATE OR REPLACE FUNCTION %s(p_from timestamptz, p_to timestamptz)\n"
        "RETURNS bigint\nLANGUAGE plpgsql\nAS $ms5$\nDECLARE\n    v_rows bigint;\nBEGIN\n"
        "    DELETE FROM %s WHERE bucket >= p_from AND bucket < p_to;\n"
        "    INSERT INTO %s (%s)\n%s;\n"
        "    GET DIAGNOSTICS v_rows = ROW_COUNT;\n    RETURN v_rows;\nEND;\n$ms5$"
        % (_qualified_function(materialize_function(rollup)), mat, mat, ", ".join(qident(n) for n in names),
           _indent(fill, 4)))
    comment = "COMMENT ON VIEW %s IS %s" % (
        view_relation(rollup["name"]),
        qliteral("ms5 rollup %s: %s in %s buckets (table kept current by ms5_rollups.refresh); code %s" % (
            rollup["name"], rollup["raw_table"], rollup["bucket"]["text"], code_hash(rollup, source))))
    return [view, function, comment]


def sql_table_drop(rollup_name: str) -> List[str]:
    return [
        "DROP VIEW IF EXISTS %s" % view_relation(rollup_name),
        "DROP FUNCTION IF EXISTS %s(timestamptz, timestamptz)" % _qualified_function("%s._materialize_%s" % (SCHEMA, rollup_name)),
        "DROP TABLE IF EXISTS %s.%s" % (qident(SCHEMA), qident("_mat_" + rollup_name)),
    ]


def _qualified_function(name: str) -> str:
    schema, fn = name.split(".", 1)
    return "%s.%s" % (qident(schema), qident(fn))


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in text.splitlines())


# ---------------------------------------------------------------------------
# SQL: Community edition (continuous aggregates)
# ---------------------------------------------------------------------------
def sql_cagg_create(rollup: Dict[str, Any], source: Optional[Dict[str, Any]], api: Dict[str, Any]) -> List[str]:
    """CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous) ... WITH NO DATA.

    Built on its source continuous aggregate where the version allows
    hierarchical ones (2.9+), else on the raw hypertable with the same aggregates.
    """
    if source and api.get("hierarchical"):
        # re-aggregated columns are cast to the types the raw aggregates have
        # (sum of counts is numeric otherwise): the same columns on both editions
        select = aggregate_select(rollup, source, view_relation(source["name"]), None, cast=True)
    else:
        flat = dict(rollup, time_column=rollup["raw_time_column"])
        select = aggregate_select(flat, None, raw_relation(rollup), None, cast=False)
    return [
        "CREATE MATERIALIZED VIEW %s\nWITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
        "%s\nWITH NO DATA" % (view_relation(rollup["name"]), select),
        "COMMENT ON VIEW %s IS %s" % (view_relation(rollup["name"]), qliteral(
            "ms5 rollup %s: %s in %s buckets (continuous aggregate)" % (
                rollup["name"], rollup["raw_table"], rollup["bucket"]["text"]))),
    ]


def sql_cagg_drop(rollup_name: str) -> List[str]:
    return ["DROP MATERIALIZED VIEW IF EXISTS %s" % view_relation(rollup_name)]


def _reg(rollup_name: str) -> str:
    return qliteral("%s.%s" % (SCHEMA, rollup_name)) + "::regclass"


def sql_cagg_policies(rollup: Dict[str, Any], current: Dict[str, Any], api: Dict[str, Any]) -> List[str]:
    """Refresh, compression and retention policies of one continuous aggregate.

    ``current``: refresh_job (bool), refresh_start/end/schedule seconds,
    compression_enabled, compression_after seconds (None = no policy),
    retention seconds (None = no policy), chunk seconds of the materialization
    hypertable. Only what differs is (re)issued; {} for a new one.
    """
    name = rollup["name"]
    reg = _reg(name)
    out: List[str] = []
    start, end = rollup["start_offset"], rollup["end_offset"]
    every = rollup["interval"]["seconds"]
    if not (current.get("refresh_job") and same_seconds(current.get("refresh_start"), start)
            and same_seconds(current.get("refresh_end"), end) and same_seconds(current.get("refresh_schedule"), every)):
        if current.get("refresh_job"):
            out.append("SELECT remove_continuous_aggregate_policy(%s, if_exists => true)" % reg)
        out.append("SELECT add_continuous_aggregate_policy(%s, start_offset => INTERVAL %s, end_offset => INTERVAL %s, "
                   "schedule_interval => INTERVAL %s)" % (reg, qliteral(format_seconds(start)),
                                                          qliteral(format_seconds(end)), qliteral(format_seconds(every))))
    comp = rollup["compression"]
    have_after = current.get("compression_after")
    if comp and api.get("cagg_compression"):
        if not current.get("compression_enabled"):
            if api.get("columnstore"):
                opts = ["timescaledb.enable_columnstore = true"]
                if rollup["group_by"]:
                    opts.append("timescaledb.segmentby = %s" % qliteral(",".join(rollup["group_by"])))
                opts.append("timescaledb.orderby = 'bucket DESC'")
            else:
                opts = ["timescaledb.compress = true"]
            out.append("ALTER MATERIALIZED VIEW %s SET (%s)" % (view_relation(name), ", ".join(opts)))
        if not same_seconds(have_after, comp["after"]["seconds"]):
            if have_after is not None:
                out.append(_remove_compression(reg, api))
            after = qliteral(comp["after"]["text"])
            if api.get("columnstore"):
                out.append("CALL add_columnstore_policy(%s, after => INTERVAL %s)" % (reg, after))
            else:
                out.append("SELECT add_compression_policy(%s, compress_after => INTERVAL %s)" % (reg, after))
    elif have_after is not None:
        out.append(_remove_compression(reg, api))
    ret = rollup["retention"]
    have_ret = current.get("retention")
    if ret and not same_seconds(have_ret, ret["seconds"]):
        if have_ret is not None:
            out.append("SELECT remove_retention_policy(%s, if_exists => true)" % reg)
        out.append("SELECT add_retention_policy(%s, drop_after => INTERVAL %s)" % (reg, qliteral(ret["text"])))
    elif not ret and have_ret is not None:
        out.append("SELECT remove_retention_policy(%s, if_exists => true)" % reg)
    if not same_seconds(current.get("chunk"), rollup["chunk"]["seconds"]):
        out.append("SELECT set_chunk_time_interval(%s::regclass, INTERVAL %s)" % (
            _cagg_storage_sql(rollup["relation"]), qliteral(rollup["chunk"]["text"])))
    return out


def _remove_compression(reg: str, api: Dict[str, Any]) -> str:
    if api.get("columnstore"):
        return "CALL remove_columnstore_policy(%s, if_exists => true)" % reg
    return "SELECT remove_compression_policy(%s, if_exists => true)" % reg


def sql_cagg_initial_refresh(rollup: Dict[str, Any]) -> str:
    """Materialize the whole history once (outside a transaction; policies keep it current)."""
    return "CALL refresh_continuous_aggregate(%s, NULL, now() - INTERVAL %s)" % (
        _reg(rollup["name"]), qliteral(format_seconds(rollup["end_offset"])))


# ---------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------
def definition(rollup: Dict[str, Any], api: Dict[str, Any]) -> Dict[str, Any]:
    """What the stored rows mean: a change here needs a rebuild."""
    hierarchical = bool(rollup["source_rollup"]) and (api["kind"] == KIND_TABLE or api.get("hierarchical"))
    return {
        "kind": api["kind"],
        "source": relation_of(rollup["source_rollup"]) if hierarchical else rollup["raw_table"],
        "raw_table": rollup["raw_table"],
        "time_column": rollup["raw_time_column"],
        "bucket_seconds": rollup["bucket"]["seconds"],
        "group_by": list(rollup["group_by"]),
        "group_types": list(rollup.get("group_types") or []),
        "aggregates": [{"name": a["name"], "fn": a["fn"], "column": a["column"], "type": a.get("type")}
                       for a in rollup["aggregates"]],
    }


def definition_hash(rollup: Dict[str, Any], api: Dict[str, Any]) -> str:
    text = json.dumps(definition(rollup, api), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def code_hash(rollup: Dict[str, Any], source: Optional[Dict[str, Any]]) -> str:
    text = json.dumps([CODE_VERSION, definition(rollup, {"kind": KIND_TABLE}),
                       source["name"] if source else None], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def catalog_values(rollup: Dict[str, Any], source: Optional[Dict[str, Any]], api: Dict[str, Any],
                   storage: Optional[str] = None) -> Dict[str, Any]:
    """The catalog row of a rollup (columns of ms5_rollups.catalog)."""
    kind = api["kind"]
    hierarchical = bool(source) and (kind == KIND_TABLE or api.get("hierarchical"))
    if kind == KIND_TABLE:
        storage = "%s.%s" % (SCHEMA, mat_name(rollup))
        source_storage = "%s.%s" % (SCHEMA, mat_name(source)) if hierarchical else rollup["raw_table"]
    else:
        source_storage = relation_of(source["name"]) if hierarchical else rollup["raw_table"]
    return {
        "relation": rollup["relation"],
        "source_table": relation_of(source["name"]) if hierarchical else rollup["raw_table"],
        "raw_table": rollup["raw_table"],
        "time_column": "bucket" if hierarchical else rollup["raw_time_column"],
        "bucket": rollup["bucket"]["text"],
        "group_by": list(rollup["group_by"]),
        "aggregates": [{"name": a["name"], "fn": a["fn"], "column": a["column"], "type": a.get("type")}
                       for a in rollup["aggregates"]],
        "kind": kind,
        "edition": api["edition"],
        "level": rollup["level"] if hierarchical or not source else 0,
        "storage_relation": storage or rollup["relation"],
        "source_storage": source_storage,
        "source_time_column": "bucket" if hierarchical else rollup["raw_time_column"],
        "materialize_function": materialize_function(rollup) if kind == KIND_TABLE else None,
        "refresh_lag": rollup["lag"]["text"],
        "refresh_interval": rollup["interval"]["text"],
        "retention": rollup["retention"]["text"] if rollup["retention"] else None,
        "compress_after": (rollup["compression"]["after"]["text"]
                           if rollup["compression"] and kind == KIND_CAGG and api.get("cagg_compression") else None),
        "trend_function": "%s.%s" % (SCHEMA, rollup["trend"]) if rollup["trend"] else None,
        "definition_hash": definition_hash(rollup, api),
    }


def _sql_value(value: Any, cast: str = "") -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, dict)):
        return qliteral(json.dumps(value)) + "::jsonb"
    return qliteral(value) + cast


_CATALOG_CASTS = {"bucket": "::interval", "refresh_lag": "::interval", "refresh_interval": "::interval",
                  "retention": "::interval", "compress_after": "::interval"}
_CATALOG_SETTINGS = ("refresh_lag", "refresh_interval", "retention", "compress_after", "trend_function")


def _cagg_storage_sql(relation: str) -> str:
    """The materialization hypertable of a continuous aggregate, as schema.name."""
    return ("(SELECT format('%%I.%%I', materialization_hypertable_schema, materialization_hypertable_name) "
            "FROM timescaledb_information.continuous_aggregates WHERE view_schema = %s AND view_name = %s)"
            % (qliteral(SCHEMA), qliteral(relation.split(".", 1)[1])))


def sql_catalog_insert(values: Dict[str, Any]) -> str:
    cols, vals = [], []
    for key, value in values.items():
        cols.append(key)
        if key == "storage_relation" and values.get("kind") == KIND_CAGG:
            vals.append(_cagg_storage_sql(values["relation"]))
        elif key == "group_by":
            vals.append("ARRAY[%s]::text[]" % ", ".join(qliteral(v) for v in value))
        else:
            vals.append(_sql_value(value, _CATALOG_CASTS.get(key, "")))
    return "INSERT INTO %s (%s)\nVALUES (%s)" % (CATALOG, ", ".join(cols), ", ".join(vals))


def sql_catalog_update(relation: str, changes: Dict[str, Any]) -> str:
    sets = ["%s = %s" % (k, _sql_value(v, _CATALOG_CASTS.get(k, ""))) for k, v in sorted(changes.items())]
    sets.append("updated_at = now()")
    return "UPDATE %s SET %s WHERE relation = %s" % (CATALOG, ", ".join(sets), qliteral(relation))


def sql_catalog_delete(relation: str) -> str:
    return "DELETE FROM %s WHERE relation = %s" % (CATALOG, qliteral(relation))


# ---------------------------------------------------------------------------
# Status view (edition-specific: where the watermark comes from)
# ---------------------------------------------------------------------------
def sql_status_view(api: Dict[str, Any]) -> List[str]:
    """ms5_rollups.status: one row per rollup with watermark, lag behind now, size."""
    if api["kind"] == KIND_CAGG:
        ns = qident(api["watermark_ns"])
        watermark = ("CASE WHEN c.kind = 'continuous_aggregate' THEN "
                     + ns + ".to_timestamp(" + ns + ".cagg_watermark(ca.mat_hypertable_id)) ELSE c.watermark END")
        last = "CASE WHEN c.kind = 'continuous_aggregate' THEN js.last_successful_finish ELSE c.last_refresh_finished_at END"
        join = ("\nLEFT JOIN _timescaledb_catalog.continuous_agg AS ca\n"
                "  ON format('%I.%I', ca.user_view_schema, ca.user_view_name) = c.relation\n"
                "LEFT JOIN timescaledb_information.jobs AS j\n"
                "  ON j.proc_name = 'policy_refresh_continuous_aggregate'\n"
                " AND format('%I.%I', j.hypertable_schema, j.hypertable_name) = c.storage_relation\n"
                "LEFT JOIN timescaledb_information.job_stats AS js ON js.job_id = j.job_id")
    else:
        watermark = "c.watermark"
        last = "c.last_refresh_finished_at"
        join = ""
    view = ("CREATE VIEW " + qident(SCHEMA) + ".status AS\n"
            "SELECT c.relation, c.kind, c.source_table, c.bucket, c.retention, c.refresh_lag, c.refresh_interval,\n"
            "       " + watermark + " AS watermark,\n"
            "       now() - " + watermark + " AS behind,\n"
            "       " + last + " AS last_refresh_at,\n"
            "       c.last_refresh_status, c.last_refresh_error, c.storage_relation,\n"
            "       hypertable_size(c.storage_relation::regclass) AS total_bytes,\n"
            "       approximate_row_count(c.storage_relation::regclass) AS approximate_rows\n"
            "FROM " + CATALOG + " AS c" + join)
    return [
        "DROP VIEW IF EXISTS %s.status" % qident(SCHEMA),
        view,
        "COMMENT ON VIEW %s.status IS %s" % (qident(SCHEMA), qliteral(
            "Rollups: watermark (materialized up to), how far behind now, last refresh, size on disk")),
    ]


# ---------------------------------------------------------------------------
# Trend functions
# ---------------------------------------------------------------------------
def trend_specs(rollups: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One spec per trend function: its name, members (finest bucket first), key and columns.

    A trend keyed by one column also gets an overload taking an array of keys
    (``many``: e.g. every metric of an equipment screen in one call and one plan),
    which returns the key column first.
    """
    specs = []
    for name, members in sorted(_families(rollups).items()):
        first = members[0]
        spec = {
            "name": name,
            "members": members,
            "raw_table": first["raw_table"],
            "raw_time_column": first["raw_time_column"],
            "group_by": list(first["group_by"]),
            "group_types": list(first.get("group_types") or []),
            "aggregates": list(first["aggregates"]),
            "many": False,
        }
        specs.append(spec)
        if len(spec["group_by"]) == 1:
            specs.append(dict(spec, many=True))
    for spec in specs:
        spec["identity"] = "%s.%s(%s)" % (SCHEMA, spec["name"], trend_signature(spec))
    return specs


def _trend_params(spec: Dict[str, Any]) -> List[Tuple[str, str]]:
    if spec.get("many"):
        params = [("p_%ss" % spec["group_by"][0], "%s[]" % spec["group_types"][0])]
    else:
        params = [("p_" + c, t) for c, t in zip(spec["group_by"], spec["group_types"])]
    return params + [("p_from", "timestamp with time zone"), ("p_to", "timestamp with time zone"),
                     ("p_bucket", "interval")]


def trend_signature(spec: Dict[str, Any]) -> str:
    """Argument types, as regprocedure prints them."""
    return ",".join(t for _n, t in _trend_params(spec))


def trend_label(spec: Dict[str, Any]) -> str:
    """'ms5_rollups.metric_trend(metric_def_id)' or '...(metric_def_ids[])' for the array overload."""
    key = ("%ss[]" % spec["group_by"][0]) if spec.get("many") else ", ".join(spec["group_by"])
    return "%s.%s(%s)" % (SCHEMA, spec["name"], key)


def trend_returns(spec: Dict[str, Any]) -> str:
    cols = ["bucket timestamp with time zone"] + ["%s %s" % (a["name"], a["type"]) for a in spec["aggregates"]]
    if spec.get("many"):
        cols.insert(0, "%s %s" % (spec["group_by"][0], spec["group_types"][0]))
    return ", ".join(cols + ["source text"])


def sql_trend_function(spec: Dict[str, Any], max_points: int = TREND_MAX_POINTS) -> str:
    """The trend function: buckets of one key over [p_from, p_to) from the rollup that fits.

    The bucket width is p_bucket, or else the finest rollup bucket giving at most
    max_points points. It is read from the coarsest rollup whose bucket divides it
    (as stored when equal, re-aggregated when wider), or from the raw table when
    no rollup bucket divides it. Every bucket overlapping [p_from, p_to) is
    returned whole, so results equal the same aggregation of the raw rows.

    plpgsql with one static query per choice, planned per call
    (plan_cache_mode = force_custom_plan): each call plans only the relation it
    reads, with the bounds and the rollup's watermark as constants.
    """
    members = spec["members"]
    if len(members) == 1:
        width = "COALESCE(p_bucket, INTERVAL %s)" % qliteral(members[0]["bucket"]["text"])
    else:
        width = "COALESCE(p_bucket, CASE %s ELSE INTERVAL %s END)" % (
            " ".join("WHEN p_to - p_from <= INTERVAL %s * %d THEN INTERVAL %s" % (
                qliteral(m["bucket"]["text"]), max_points, qliteral(m["bucket"]["text"])) for m in members[:-1]),
            qliteral(members[-1]["bucket"]["text"]))
    many = bool(spec.get("many"))
    if many:
        col = spec["group_by"][0]
        key = "s.%s = ANY (p_%ss) AND " % (qident(col), col)
        lead = ["s.%s" % qident(col)]
        group = "1, 2"
    else:
        key = "".join("s.%s = p_%s AND " % (qident(c), c) for c in spec["group_by"])
        lead = []
        group = "1"
    names = [a["name"] for a in spec["aggregates"]]
    tcol = qident(spec["raw_time_column"])
    schema, table = split_table(spec["raw_table"])
    raw_cols = lead + ["time_bucket(v_width, s.%s)" % tcol]
    raw_cols += [raw_agg_expr(a, "s", spec["raw_time_column"], True) for a in spec["aggregates"]]
    raw_cols.append("%s::text" % qliteral(spec["raw_table"]))
    raw_query = ("RETURN QUERY\n        SELECT %s\n        FROM %s.%s AS s\n        WHERE %ss.%s >= v_lo AND s.%s < v_hi"
                 "\n        GROUP BY %s\n        ORDER BY %s;" % (
                     ", ".join(raw_cols), qident(schema), qident(table), key, tcol, tcol, group, group))
    branches = []
    for m in reversed(members):
        rel = view_relation(m["name"])
        lit = qliteral(m["bucket"]["text"])
        src = "%s::text" % qliteral(m["relation"])
        where = "%ss.bucket >= v_lo AND s.bucket < v_hi" % key
        direct = ("RETURN QUERY\n        SELECT %s\n        FROM %s AS s\n        WHERE %s\n        ORDER BY %s;" % (
            ", ".join(lead + ["s.bucket"] + ["s.%s" % qident(n) for n in names] + [src]), rel, where, group))
        by_name = {a["name"]: a for a in m["aggregates"]}
        re_cols = lead + ["time_bucket(v_width, s.bucket)"]
        re_cols += [reagg_expr(dict(a, type=by_name[a["name"]]["type"]), m["aggregates"], "s")
                    for a in spec["aggregates"]]
        re_cols.append(src)
        wider = ("RETURN QUERY\n        SELECT %s\n        FROM %s AS s\n        WHERE %s\n        GROUP BY %s"
                 "\n        ORDER BY %s;" % (", ".join(re_cols), rel, where, group, group))
        branches.append("v_width = INTERVAL %s THEN\n        %s" % (lit, direct))
        branches.append("v_width > INTERVAL %s AND mod(v_seconds, %d) = 0 THEN\n        %s" % (
            lit, int(m["bucket"]["seconds"]), wider))
    body = "    IF " + "\n    ELSIF ".join(branches) + "\n    ELSE\n        " + raw_query + "\n    END IF;"
    params = ",\n    ".join("%s %s%s" % (n, t, " DEFAULT NULL" if n == "p_bucket" else "")
                            for n, t in _trend_params(spec))
    return (
        "CREATE FUNCTION %s.%s(\n    %s)\nRETURNS TABLE (%s)\nLANGUAGE plpgsql\nSTABLE\n"
        "SET plan_cache_mode = force_custom_plan\nAS $ms5$\n"
        "#variable_conflict use_column\n"
        "DECLARE\n    v_width interval := %s;\n    v_seconds numeric;\n    v_lo timestamptz;\n    v_hi timestamptz;\n"
        "BEGIN\n"
        "    IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN\n        RETURN;\n    END IF;\n"
        "    v_seconds := EXTRACT(EPOCH FROM v_width);\n"
        "    v_lo := time_bucket(v_width, p_from);\n"
        "    v_hi := time_bucket(v_width, p_to - INTERVAL '1 microsecond') + v_width;\n"
        "%s\nEND;\n$ms5$" % (qident(SCHEMA), qident(spec["name"]), params, trend_returns(spec), width, body))


def trend_hash(spec: Dict[str, Any], max_points: int) -> str:
    return hashlib.sha256(sql_trend_function(spec, max_points).encode("utf-8")).hexdigest()[:16]


def sql_trend_comment(spec: Dict[str, Any], max_points: int) -> str:
    members = ", ".join(m["relation"] for m in spec["members"])
    return "COMMENT ON FUNCTION %s.%s(%s) IS %s" % (
        qident(SCHEMA), qident(spec["name"]), trend_signature(spec), qliteral(
            "ms5 rollups trend %s: %s by %s%s from %s (or the raw table)" % (
                trend_hash(spec, max_points), spec["raw_table"], ", ".join(spec["group_by"]) or "-",
                " (several at once)" if spec.get("many") else "", members)))


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------
def _settings(values: Dict[str, Any]) -> Dict[str, Any]:
    return {k: values.get(k) for k in _CATALOG_SETTINGS}


def _seconds_or_none(text: Optional[str]) -> Optional[float]:
    if text in (None, ""):
        return None
    return parse_interval(text, allow_calendar=True)["seconds"]


def _settings_differ(want: Dict[str, Any], have: Dict[str, Any]) -> Dict[str, Any]:
    """Catalog settings that differ (intervals compared by length)."""
    changes = {}
    for key in _CATALOG_SETTINGS:
        w, h = want.get(key), have.get(key)
        if key in ("refresh_lag", "refresh_interval", "retention", "compress_after"):
            if not same_seconds(_seconds_or_none(w), h if isinstance(h, (int, float)) else _seconds_or_none(h)):
                changes[key] = w
        elif w != h:
            changes[key] = w
    return changes


def plan(rollups: List[Dict[str, Any]], state: Dict[str, Any], api: Dict[str, Any], base_sql: str,
         allow_rebuild: bool = False, max_points: int = TREND_MAX_POINTS,
         require_compression: bool = False) -> Dict[str, Any]:
    """Decide every statement that converges the database to ``rollups``.

    ``rollups``: normalize_all() results with types attached (typed()).
    ``state``:  base_hash (str|None), catalog {relation: row}, relations {name: relkind}
                (objects found in the schema), code_hashes {name: hash}, caggs {relation: {...current
                policies...}}, tables {relation: {chunk seconds}}, trends {name: {"hash", "identity",
                "returns"}}, writers (roles holding write privileges on the schema's tables),
                default_writers (roles the owner's default privileges give them).
    Returns {statements, refresh (rollups to fill first), changes (text), before, after,
    warnings, summary, errors}. ``errors`` non-empty: nothing may be changed.
    """
    kind = api["kind"]
    by_name = {r["name"]: r for r in rollups}
    catalog = state.get("catalog") or {}
    relations = state.get("relations") or {}
    stmts: List[str] = []
    changes: List[str] = []
    warnings: List[str] = []
    errors: List[str] = []
    before: Dict[str, Any] = {}
    after: Dict[str, Any] = {}

    base_text = base_sql + "\n" + "\n".join(sql_status_view(api))
    base_hash = hashlib.sha256(base_text.encode("utf-8")).hexdigest()[:16]
    if state.get("base_hash") != base_hash:
        stmts.append(base_sql)
        stmts.extend(sql_status_view(api))
        stmts.append("COMMENT ON SCHEMA %s IS %s" % (qident(SCHEMA), qliteral(
            "MS5.0 dashboard rollups (ms5.factory_telemetry.rollups); base %s" % base_hash)))
        changes.append("schema %s: catalog, refresh procedure and status view %s" % (
            SCHEMA, "installed" if state.get("base_hash") is None else "updated"))

    # --- what each declared rollup needs --------------------------------------
    actions: Dict[str, str] = {}   # name -> create | rebuild | keep
    for r in rollups:
        rel = r["relation"]
        row = catalog.get(rel)
        present = r["name"] in relations
        want_hash = definition_hash(r, api)
        if row is None:
            if present:
                errors.append("%s exists but is not in %s: it was not created by this role. Drop or rename it, "
                              "or give the rollup another name" % (rel, CATALOG))
            actions[r["name"]] = "create"
        elif not present:
            actions[r["name"]] = "create"
            warnings.append("%s is in %s but the relation is missing: it is created again" % (rel, CATALOG))
        elif row.get("kind") != kind:
            actions[r["name"]] = "rebuild"
        elif row.get("definition_hash") != want_hash:
            actions[r["name"]] = "rebuild"
        else:
            actions[r["name"]] = "keep"
    # a rebuilt source rebuilds what is built on it
    for r in rollups:
        if r["source_rollup"] and actions.get(r["source_rollup"]) in ("create", "rebuild") \
                and actions[r["name"]] == "keep":
            actions[r["name"]] = "rebuild"
    rebuilds = [r["relation"] for r in rollups if actions[r["name"]] == "rebuild"]
    if rebuilds and not allow_rebuild:
        errors.append("the definition of %s changed (source, bucket, group_by or aggregates, or a rollup it is built "
                      "on): rebuilding recomputes it from its source, whose raw rows may already be past their "
                      "retention, so history would be lost. Set rollups_allow_rebuild: true to rebuild, or declare "
                      "the new definition under a new name" % ", ".join(rebuilds))
    removed = sorted(rel for rel in catalog if rel not in {r["relation"] for r in rollups})

    # --- trend functions ---------------------------------------------------------
    specs = trend_specs(rollups)
    want_trends = {s["identity"]: s for s in specs}
    have_trends = state.get("trends") or {}
    trend_drop, trend_create, trend_changes = [], [], []
    for identity, have in sorted(have_trends.items()):
        spec = want_trends.get(identity)
        if spec is None or have.get("hash") != trend_hash(spec, max_points):
            trend_drop.append("DROP FUNCTION IF EXISTS %s" % _regprocedure_sql(identity))
            if spec is not None:
                trend_create.append(spec)
            trend_changes.append("trend function %s %s" % (identity, "removed" if spec is None else "replaced"))
    for identity, spec in sorted(want_trends.items()):
        if identity not in have_trends:
            trend_create.append(spec)
            trend_changes.append("trend function %s created" % trend_label(spec))
    # trend functions that read a rollup about to be dropped go first
    stmts.extend(trend_drop)

    # --- drops (dependents first) ------------------------------------------------
    drop_names = [r["name"] for r in reversed(rollups) if actions[r["name"]] == "rebuild"]
    removed_rows = sorted((catalog[rel] for rel in removed), key=lambda row: -int(row.get("level") or 0))
    for row in removed_rows:
        name = row["relation"][len(SCHEMA) + 1:]
        if row.get("kind") == KIND_CAGG:
            stmts.extend(sql_cagg_drop(name))
        else:
            stmts.extend(sql_table_drop(name))
        stmts.append(sql_catalog_delete(row["relation"]))
        changes.append("%s removed (no longer declared)" % row["relation"])
        before[row["relation"]] = _describe_row(row)
        after[row["relation"]] = None
    for name in drop_names:
        row = catalog[relation_of(name)]
        stmts.extend(sql_cagg_drop(name) if row.get("kind") == KIND_CAGG else sql_table_drop(name))
        stmts.append(sql_catalog_delete(relation_of(name)))

    # --- creates, code replacements, setting changes ----------------------------
    refresh: List[str] = []
    rows_wanted = []
    uncompressed: List[str] = []
    for r in rollups:
        src = by_name.get(r["source_rollup"]) if r["source_rollup"] else None
        values = catalog_values(r, src, api)
        rel = r["relation"]
        act = actions[r["name"]]
        if kind == KIND_CAGG:
            cagg_state = (state.get("caggs") or {}).get(rel) or {}
            if act in ("create", "rebuild"):
                cagg_state = {}
        if act in ("create", "rebuild"):
            if kind == KIND_TABLE:
                stmts.extend(sql_table_create(r, src, api))
            else:
                stmts.extend(sql_cagg_create(r, src, api))
                stmts.extend(sql_cagg_policies(r, cagg_state, api))
            stmts.append(sql_catalog_insert(values))
            refresh.append(rel)
            changes.append("%s %s (%s of %s, %s buckets)" % (
                rel, "created" if act == "create" else "rebuilt", kind.replace("_", " "), values["source_table"],
                r["bucket"]["text"]))
            if act == "rebuild":
                before[rel] = _describe_row(catalog[rel])
            else:
                before[rel] = None
            after[rel] = _describe(r, values)
        else:
            row = catalog[rel]
            diff = _settings_differ(values, row)
            if kind == KIND_CAGG:
                pol = sql_cagg_policies(r, cagg_state, api)
                if pol:
                    stmts.extend(pol)
                    changes.append("%s: policies changed" % rel)
            else:
                code_have = (state.get("code_hashes") or {}).get(r["name"])
                if code_have != code_hash(r, src):
                    stmts.extend(sql_table_code(r, src))
                    changes.append("%s: view and materialize function replaced (rows kept)" % rel)
                chunk_have = (state.get("tables") or {}).get(rel, {}).get("chunk")
                if chunk_have is not None and not same_seconds(chunk_have, r["chunk"]["seconds"]):
                    stmts.append("SELECT set_chunk_time_interval(%s::regclass, INTERVAL %s)" % (
                        qliteral("%s.%s" % (SCHEMA, mat_name(r))), qliteral(r["chunk"]["text"])))
                    changes.append("%s: chunk interval %s -> %s (new chunks)" % (
                        rel, format_seconds(chunk_have), r["chunk"]["text"]))
            if diff:
                stmts.append(sql_catalog_update(rel, diff))
                changes.append("%s: %s" % (rel, ", ".join("%s %s -> %s" % (
                    k, _show(row.get(k)), _show(v)) for k, v in sorted(diff.items()))))
                before[rel] = _describe_row(row)
                after[rel] = _describe(r, values)
        rows_wanted.append((r, values))
        if r["compression"] and (kind == KIND_TABLE or not api.get("cagg_compression")):
            uncompressed.append(rel)
        if r["source_rollup"] and kind == KIND_CAGG and not api.get("hierarchical"):
            warnings.append("%s: TimescaleDB %s has no hierarchical continuous aggregates (2.9+): built on %s directly"
                            % (rel, api["version"], r["raw_table"]))
    if uncompressed:
        why = ("the %r edition of TimescaleDB on this server has no compression (the Community edition, license "
               "'timescale', compresses continuous aggregates)" % api["edition"] if kind == KIND_TABLE else
               "TimescaleDB %s cannot compress continuous aggregates (2.6+)" % api["version"])
        msg = "compression declared for %s: %s; compression skipped" % (", ".join(uncompressed), why)
        if require_compression and kind == KIND_TABLE:
            errors.append(msg.replace("compression skipped", "rollups_require_compression is true"))
        else:
            warnings.append(msg)

    changes.extend(trend_changes)
    for spec in trend_create:
        stmts.append(sql_trend_function(spec, max_points))
        stmts.append(sql_trend_comment(spec, max_points))

    # --- privileges: the rollups are written by the role and the refresher only --
    created = any(a != "keep" for a in actions.values()) or state.get("base_hash") != base_hash
    writers = set(state.get("writers") or [])
    if created:
        writers |= set(state.get("default_writers") or [])
    if writers:
        stmts.append("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %s FROM %s" % (
            qident(SCHEMA), ", ".join(qident(w) for w in sorted(writers))))
        if state.get("writers"):
            changes.append("write privileges on %s revoked from %s" % (SCHEMA, ", ".join(sorted(state["writers"]))))

    summary = [_summary_row(r, values, api) for r, values in rows_wanted]
    return {
        "statements": stmts if (changes or stmts) else [],
        "refresh": refresh,
        "changes": changes,
        "before": before,
        "after": after,
        "warnings": warnings,
        "errors": errors,
        "summary": summary,
        "trends": [{"function": trend_label(s), "rollups": [m["relation"] for m in s["members"]]} for s in specs],
        "actions": actions,
        "removed": removed,
    }


def _regprocedure_sql(identity: str) -> str:
    """'ms5_rollups.metric_trend(bigint,...)' -> quoted schema and name, argument types kept."""
    head, args = identity.split("(", 1)
    schema, name = head.split(".", 1)
    return "%s.%s(%s" % (qident(schema), qident(name), args)


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return format_seconds(value) or str(value)
    return str(value)


def _describe(r: Dict[str, Any], values: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "kind": values["kind"],
        "source": values["source_table"],
        "bucket": r["bucket"]["text"],
        "group_by": list(r["group_by"]),
        "aggregates": ["%s=%s(%s)" % (a["name"], a["fn"], a["column"] or "*") for a in r["aggregates"]],
        "retention": values["retention"],
        "refresh_lag": values["refresh_lag"],
        "refresh_interval": values["refresh_interval"],
        "compress_after": values["compress_after"],
        "trend": values["trend_function"],
    }


def _describe_row(row: Dict[str, Any]) -> Dict[str, Any]:
    aggs = row.get("aggregates") or []
    return {
        "kind": row.get("kind"),
        "source": row.get("source_table"),
        "bucket": _show(row.get("bucket")),
        "group_by": list(row.get("group_by") or []),
        "aggregates": ["%s=%s(%s)" % (a.get("name"), a.get("fn"), a.get("column") or "*") for a in aggs],
        "retention": _show(row.get("retention")) if row.get("retention") is not None else None,
        "refresh_lag": _show(row.get("refresh_lag")),
        "refresh_interval": _show(row.get("refresh_interval")),
        "compress_after": _show(row.get("compress_after")) if row.get("compress_after") is not None else None,
        "trend": row.get("trend_function"),
    }


def _summary_row(r: Dict[str, Any], values: Dict[str, Any], api: Dict[str, Any]) -> Dict[str, str]:
    if r["compression"]:
        compression = ("after %s" % r["compression"]["after"]["text"]
                       if api["kind"] == KIND_CAGG and api.get("cagg_compression")
                       else "skipped (%s edition)" % api["edition"] if api["kind"] == KIND_TABLE
                       else "skipped (TimescaleDB %s)" % api["version"])
    else:
        compression = "none"
    return {
        "rollup": r["relation"],
        "source": values["source_table"],
        "bucket": r["bucket"]["text"],
        "retention": r["retention"]["text"] if r["retention"] else "kept",
        "refresh": "every %s, lag %s" % (r["interval"]["text"], r["lag"]["text"]),
        "compression": compression,
        "trend": r["trend"] or "-",
    }


def summary_lines(rows: Sequence[Dict[str, str]], api: Dict[str, Any],
                  trends: Sequence[Dict[str, Any]]) -> List[str]:
    """The summary as a fixed-width text table."""
    headers = ("rollup", "source", "bucket", "retention", "refresh", "compression", "trend")
    keys = ("rollup", "source", "bucket", "retention", "refresh", "compression", "trend")
    table = [headers] + [tuple(str(r.get(k, "-")) for k in keys) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    how = ("continuous aggregates with refresh policies, real-time aggregation on"
           if api["kind"] == KIND_CAGG else
           "hypertables kept current by the host timer ms5-rollups (ms5_rollups.refresh), real-time views")
    lines = ["TimescaleDB %s, %s edition: %s" % (api["version"], api["edition"], how)]
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for t in trends:
        lines.append("trend %s reads %s" % (t["function"], ", ".join(t["rollups"])))
    return lines
