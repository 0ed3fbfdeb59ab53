"""The benchmark's rollup section: dashboard trends from the rollups vs the raw rows.

Builds, in schemas of its own, the rollups of the rollups role (its default
declarations, the SQL of plugins/module_utils/rollups.py for the edition found) over
``--rollup-days`` (default 7) of 1-second samples of the bench plant, then reports:

- p50/p95 of the 24-hour trend (1-minute buckets) and the 30-day trend (hourly buckets)
  of one metric, and of the equipment screen (every metric of one machine, 24 hours in
  15-minute buckets), each from the rollups (the trend function dashboards call) and
  from the raw rows, with the ratio and whether both return the same buckets and values;
- the refresh cost: the first build over the whole window and an incremental refresh
  after one more hour of samples arrives, as seconds per hour of raw data refreshed;
- the rollups' size next to the raw table's.

The samples are generated inside the database (INSERT ... SELECT over generate_series,
one day per transaction: the plant's metrics with their value types, a sine wave and
noise per metric), which loads a week in minutes; energy and OEE rows come from
datagen like the rest of the benchmark. The deployed schema is only read; the
section's schemas are dropped at the end unless --keep.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from . import datagen
from .report import fmt_ms, fmt_ratio, format_table, human_bytes, human_count, percentile, ratio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Where scripts/bench.sh puts the role's files next to the package in the sandbox,
# and where they are in a checkout (--local).
_CANDIDATES = {
    "utils": (HERE / "_rollups" / "rollups.py", ROOT / "plugins" / "module_utils" / "rollups.py"),
    "base_sql": (HERE / "_rollups" / "rollups_base.sql", ROOT / "roles" / "rollups" / "files" / "sql" / "rollups_base.sql"),
    "definitions": (HERE / "_rollups" / "definitions.json", ROOT / "roles" / "rollups" / "defaults" / "main.yml"),
}
GOALS = {"24-hour trend": 10.0, "30-day trend": 20.0}
GOAL_RATIO = 0.1


def _find(kind: str) -> Path:
    for path in _CANDIDATES[kind]:
        if path.exists():
            return path
    raise FileNotFoundError("the rollups role's %s is missing (looked in %s)" % (
        kind, ", ".join(str(p) for p in _CANDIDATES[kind])))


def load_utils():
    """plugins/module_utils/rollups.py (standard library only) as a module."""
    spec = importlib.util.spec_from_file_location("ms5bench_rollups_utils", _find("utils"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["ms5bench_rollups_utils"] = module
    spec.loader.exec_module(module)
    return module


def load_definitions() -> List[Dict[str, Any]]:
    """The rollups role's default rollups_definitions (JSON in the sandbox, YAML in a checkout)."""
    path = _find("definitions")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # a checkout has the venv's PyYAML
    return yaml.safe_load(text)["rollups_definitions"]


def retarget_definitions(defs: List[Dict[str, Any]], src_schema: str, dst_schema: str) -> List[Dict[str, Any]]:
    """Point the declarations' raw sources at the benchmark's copy of the tables."""
    out = []
    for d in defs:
        d = dict(d)
        source = d.get("source") or ""
        if source.startswith(src_schema + "."):
            d["source"] = dst_schema + source[len(src_schema):]
        out.append(d)
    return out


def retarget_sql(text: str, dst: str, src: str = "ms5_rollups") -> str:
    """ms5_rollups -> the benchmark's rollup schema, quoted, literal or qualified."""
    text = text.replace('"%s"' % src, '"%s"' % dst)
    return re.sub(r"(?<![\w\"])%s(?!\w)" % re.escape(src), dst, text)


def sample_sql(schema: str) -> str:
    """INSERT one day of 1-second samples of every metric of the plant (by value type)."""
    return (
        "INSERT INTO {s}.metric_hist (metric_def_id, ts, value_bool, value_int, value_real) "
        "SELECT d.id, t, "
        "CASE WHEN d.value_type = 'BOOL' THEN (extract(epoch FROM t)::bigint / 3600) %% 7 <> 0 END, "
        "CASE WHEN d.value_type = 'INT' THEN extract(epoch FROM t)::bigint / (d.id %% 5 + 1) END, "
        "CASE WHEN d.value_type = 'REAL' THEN 50 + 20 * sin(extract(epoch FROM t) / 600.0 + d.id) + random() END "
        "FROM {s}.metric_def AS d, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 second', "
        "interval '1 second') AS t"
    ).format(s=schema)


def queries(rollup_schema: str, raw_schema: str) -> List[Dict[str, str]]:
    """Named query pairs: from the rollups (trend functions) and from the raw rows, same buckets."""
    r, s = rollup_schema, raw_schema
    metric_raw = ("SELECT time_bucket({w}, ts) AS bucket, avg(value_real), min(value_real), max(value_real), "
                  "count(value_real), last(value_real, ts) FROM {s}.metric_hist WHERE metric_def_id = %(metric)s "
                  "AND ts >= time_bucket({w}, %(now)s - {span}) AND ts < %(now)s GROUP BY 1 ORDER BY 1")
    return [
        {"name": "24-hour trend (1-minute buckets)", "goal": "24-hour trend",
         "rollup": "SELECT bucket, avg_value, min_value, max_value, samples, last_value FROM "
                   "%s.metric_trend(%%(metric)s, %%(now)s - interval '24 hours', %%(now)s)" % r,
         "raw": metric_raw.format(w="interval '1 minute'", s=s, span="interval '24 hours'")},
        {"name": "30-day trend (hourly buckets)", "goal": "30-day trend",
         "rollup": "SELECT bucket, avg_value, min_value, max_value, samples, last_value FROM "
                   "%s.metric_trend(%%(metric)s, %%(now)s - interval '30 days', %%(now)s)" % r,
         "raw": metric_raw.format(w="interval '1 hour'", s=s, span="interval '30 days'")},
        {"name": "equipment screen: all metrics, 24 h, 15-min buckets", "goal": None,
         "rollup": "SELECT t.metric_def_id, t.bucket, t.avg_value, t.min_value, t.max_value FROM "
                   "%s.metric_trend(ARRAY(SELECT id FROM %s.metric_def WHERE equipment_code = %%(equipment)s), "
                   "%%(now)s - interval '24 hours', %%(now)s, interval '15 minutes') AS t" % (r, s),
         "raw": "SELECT h.metric_def_id, time_bucket(interval '15 minutes', h.ts) AS bucket, avg(h.value_real), "
                "min(h.value_real), max(h.value_real) FROM %s.metric_hist AS h JOIN %s.metric_def AS d "
                "ON d.id = h.metric_def_id WHERE d.equipment_code = %%(equipment)s "
                "AND h.ts >= time_bucket(interval '15 minutes', %%(now)s - interval '24 hours') AND h.ts < %%(now)s "
                "GROUP BY 1, 2 ORDER BY 1, 2" % (s, s)},
    ]


def same_rows(a: List[tuple], b: List[tuple], tolerance: float = 1e-9) -> bool:
    """Equal row by row; numbers within a relative tolerance (averages are re-weighted sums)."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb):
            if x is None or y is None:
                if x is not y:
                    return False
            elif isinstance(x, (int, float)) or hasattr(x, "as_tuple"):
                fx, fy = float(x), float(y)
                if abs(fx - fy) > tolerance * max(1.0, abs(fy)):
                    return False
            elif x != y:
                return False
    return True


def timed(cur, query: str, args: dict, runs: int) -> Dict[str, Any]:
    """p50/p95 (ms) over RUNS runs after one warm-up, and the rows of the last run."""
    samples = []
    rows: List[tuple] = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        cur.execute(query, args)
        rows = cur.fetchall()
        if i:
            samples.append((time.perf_counter() - t0) * 1000.0)
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
            "rows": len(rows), "_rows": rows}


def run_section(conn, args, plant: datagen.Plant, hyper: Dict[str, Any], info: Dict[str, Any],
                log: Callable[[str], None]) -> Dict[str, Any]:
    """Build the rollups over --rollup-days of samples, time the queries, measure the refresh."""
    from . import db

    R = load_utils()
    base_sql = _find("base_sql").read_text(encoding="utf-8")
    raw_schema = "%s_rollsrc" % args.schema_prefix
    roll_schema = "%s_rollups" % args.schema_prefix
    days = float(args.rollup_days)
    end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    last_hour = end - dt.timedelta(hours=1)
    out: Dict[str, Any] = {"days": days, "schemas": [raw_schema, roll_schema], "metrics": plant.metric_count}
    try:
        db.in_transaction(conn, db.clone_schema, args.schema, raw_schema, hyper)
        db.in_transaction(conn, db.load_plant, raw_schema, plant)
        with conn.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % roll_schema)
        conn.commit()

        # raw samples, one day per transaction, all but the last hour
        t0 = time.perf_counter()
        insert = sample_sql(raw_schema)
        day = start
        rows = 0
        while day < last_hour:
            upto = min(day + dt.timedelta(days=1), last_hour)
            with conn.cursor() as cur:
                cur.execute(insert, {"start": day, "end": upto})
                rows += cur.rowcount
            conn.commit()
            log("rollups: %s samples loaded (%s .. %s)" % (human_count(rows), start.date(), upto))
            day = upto
        windows = datagen.downtime_windows(plant, start, end)
        counts = db.in_transaction(conn, db.load_events, raw_schema, plant, windows, start, end)
        db.in_transaction(conn, db.analyze, raw_schema)
        out["load_seconds"] = round(time.perf_counter() - t0, 1)

        # the rollups, as the role builds them on this edition
        api = read_api(conn, R)
        defs = retarget_definitions(load_definitions(), args.schema, raw_schema)
        rolls = R.normalize_all(defs)
        typed = []
        with conn.cursor() as cur:
            for r in rolls:
                cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (r["raw_table"],))
                typed.append(R.typed(r, dict(cur.fetchall())))
        plan = R.plan(typed, {"catalog": {}, "relations": {}}, api, base_sql)
        with conn.cursor() as cur:
            for statement in plan["statements"]:
                cur.execute(retarget_sql(statement, roll_schema))
        conn.commit()
        out["kind"] = api["kind"]
        out["rollups"] = [r["relation"].replace("ms5_rollups.", roll_schema + ".") for r in typed]

        # first build over the whole window, then one more hour arrives
        raw_hours = (last_hour - start).total_seconds() / 3600.0
        build = refresh(conn, api, typed, R, roll_schema, None)
        out["refresh_build"] = {"seconds": round(build, 2), "raw_hours": round(raw_hours, 1),
                                "seconds_per_raw_hour": round(build / raw_hours, 3)}
        log("rollups: first build %.1f s for %.0f hours of samples" % (build, raw_hours))
        with conn.cursor() as cur:
            cur.execute(insert, {"start": last_hour, "end": end})
            rows += cur.rowcount
        conn.commit()
        # what a refresh after that hour rewrites: the hour and the lag before it
        lag = max(r["lag"]["seconds"] for r in typed)
        inc = refresh(conn, api, typed, R, roll_schema, (last_hour - dt.timedelta(seconds=lag), end))
        inc_hours = (end - last_hour).total_seconds() / 3600.0 + lag / 3600.0
        out["refresh_incremental"] = {"seconds": round(inc, 3), "raw_hours": round(inc_hours, 2),
                                      "seconds_per_raw_hour": round(inc / inc_hours, 3)}
        log("rollups: incremental refresh %.2f s (last hour + %d min lag)" % (inc, lag / 60))
        with conn.cursor() as cur:
            cur.execute("ANALYZE %s.metric_hist" % raw_schema)
            for r in typed:
                cur.execute("SELECT storage_relation FROM %s.catalog WHERE relation = %%s" % roll_schema,
                            (r["relation"].replace("ms5_rollups.", roll_schema + "."),))
                cur.execute("ANALYZE %s" % cur.fetchone()[0])
        conn.commit()

        # the queries, rollups vs raw
        metric = next(m for m in plant.metrics if m.value_type == "REAL")
        qargs = {"metric": metric.id, "equipment": plant.equipment[0].code, "now": end}
        out["queries"] = []
        for q in queries(roll_schema, raw_schema):
            with conn.cursor() as cur:
                rolled = timed(cur, q["rollup"], qargs, args.query_runs)
                raw = timed(cur, q["raw"], qargs, max(3, args.query_runs // 3))
            conn.rollback()
            entry = {"name": q["name"], "rollup": {k: v for k, v in rolled.items() if k != "_rows"},
                     "raw": {k: v for k, v in raw.items() if k != "_rows"},
                     "ratio_p95": ratio(rolled["p95_ms"], raw["p95_ms"]),
                     "same_result": same_rows(rolled["_rows"], raw["_rows"])}
            goal = GOALS.get(q["goal"]) if q["goal"] else None
            if goal is not None:
                entry["goal"] = "p95 <= %g ms and <= %gx raw" % (goal, GOAL_RATIO)
                entry["goal_met"] = rolled["p95_ms"] <= goal and (entry["ratio_p95"] or 0) <= GOAL_RATIO
            out["queries"].append(entry)
            log("rollups: %s: rollup p95 %.1f ms, raw p95 %.1f ms" % (q["name"], rolled["p95_ms"], raw["p95_ms"]))

        # sizes
        with conn.cursor() as cur:
            cur.execute("SELECT relation, total_bytes, approximate_rows FROM %s.status ORDER BY relation" % roll_schema)
            out["sizes"] = [{"relation": a, "bytes": int(b or 0), "rows": int(c or 0)} for a, b, c in cur.fetchall()]
            cur.execute("SELECT hypertable_size(%s::regclass)", ("%s.metric_hist" % raw_schema,))
            raw_bytes = int(cur.fetchone()[0] or 0)
        conn.commit()
        out["raw"] = {"rows": rows, "bytes": raw_bytes,
                      "energy_rows": counts.get("energy_consumption"), "oee_rows": counts.get("oee_calculations")}
        return out
    finally:
        conn.rollback()
        if not args.keep:
            with conn.cursor() as cur:
                cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % roll_schema)
                cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % raw_schema)
            conn.commit()


def read_api(conn, R) -> Dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        version = cur.fetchone()[0]
        cur.execute("SELECT current_setting('timescaledb.license', true)")
        edition = cur.fetchone()[0] or "apache"
        cur.execute("SELECT p.proname, n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE p.proname IN ('by_range', 'add_columnstore_policy', 'cagg_watermark')")
        functions: Dict[str, List[str]] = {}
        for name, ns in cur.fetchall():
            functions.setdefault(name, []).append(ns)
    conn.commit()
    return R.choose_api(edition, version, functions)


def refresh(conn, api: Dict[str, Any], rolls: List[Dict[str, Any]], R, schema: str,
            window: Optional[tuple]) -> float:
    """Refresh every rollup: all of it (WINDOW None) or exactly WINDOW (from, to); the seconds it took."""
    old = conn.autocommit
    conn.autocommit = True
    try:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            if api["kind"] == R.KIND_TABLE:
                if window is None:
                    cur.execute("CALL %s.refresh(NULL, true)" % schema)
                else:
                    cur.execute("CALL %s.refresh(NULL, true, %%s, %%s)" % schema, window)
                items = cur.fetchone()[0]
                items = items if isinstance(items, list) else json.loads(items)
                failed = [i for i in items if i.get("status") == "failed"]
                if failed:
                    raise RuntimeError("refresh failed: %s" % failed)
            else:
                for r in rolls:
                    rel = r["relation"].replace("ms5_rollups.", schema + ".")
                    cur.execute("CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
                                (rel, window[0] if window else None, window[1] if window else None))
        return time.perf_counter() - t0
    finally:
        conn.autocommit = old


def format_section(section: Optional[Dict[str, Any]]) -> str:
    """The human-readable rollup section of the report."""
    if not section:
        return "rollups: not measured (--rollup-days 0)"
    if section.get("error"):
        return "rollups: not measured: %s" % section["error"]
    out = ["rollups (%s kind, %g days of 1-second samples of %d metrics, %s rows of raw samples):" % (
        section["kind"].replace("_", " "), section["days"], section["metrics"], human_count(section["raw"]["rows"]))]
    rows = []
    for q in section["queries"]:
        goal = "-" if "goal_met" not in q else ("met" if q["goal_met"] else "MISSED")
        rows.append([q["name"], fmt_ms(q["rollup"]["p50_ms"]), fmt_ms(q["rollup"]["p95_ms"]), fmt_ms(q["raw"]["p50_ms"]),
                     fmt_ms(q["raw"]["p95_ms"]), fmt_ratio(q["ratio_p95"]), "yes" if q["same_result"] else "NO",
                     q["rollup"]["rows"], q.get("goal", "-"), goal])
    out.append(format_table(["query (ms)", "rollup p50", "rollup p95", "raw p50", "raw p95", "ratio p95",
                             "same result", "rows", "goal", ""], rows))
    b, i = section["refresh_build"], section["refresh_incremental"]
    out.append("refresh: first build %.1f s for %.0f h of raw data (%.3f s per raw hour); incremental %.2f s for "
               "the newest %.2f h (%.3f s per raw hour refreshed)" % (
                   b["seconds"], b["raw_hours"], b["seconds_per_raw_hour"], i["seconds"], i["raw_hours"],
                   i["seconds_per_raw_hour"]))
    sizes = ", ".join("%s %s (%s rows)" % (s["relation"].split(".")[-1], human_bytes(s["bytes"]), human_count(s["rows"]))
                      for s in section["sizes"])
    out.append("size: raw metric_hist %s; rollups: %s" % (human_bytes(section["raw"]["bytes"]), sizes))
    return "\n".join(out)


def enabled(args) -> bool:
    return float(getattr(args, "rollup_days", 0) or 0) > 0 and os.environ.get("MS5_BENCH_NO_ROLLUPS") is None
