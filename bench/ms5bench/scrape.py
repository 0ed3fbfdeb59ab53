"""Scrape section of the benchmark: how long the monitoring role's MS5 queries take.

The monitoring role renders postgres_exporter's MS5 queries into
/opt/ms5-backend/monitoring/queries.yaml (JSON, which is YAML). With the benchmark's
data loaded (its hypertables are hypertables of the database like any other, so the
per-hypertable queries cover them too), each query is timed as the exporter runs it,
and EXPLAINed: a sequential scan of a hypertable or a chunk would mean the query
reads table rows, which the goal forbids. The ingest-freshness statement is also run
against the benchmark's own metric_hist, the table with the data. When the exporter
answers on 127.0.0.1:9187, whole scrapes of /metrics are timed as well.
Goal: all MS5 queries of one scrape together under 1 second.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any, Iterable

from .report import percentile

DEFAULT_QUERIES = "/opt/ms5-backend/monitoring/queries.yaml"
DEFAULT_METRICS_URL = "http://127.0.0.1:9187/metrics"
GOAL_MS = 1000.0
# The statement of ms5_monitoring.ingest_freshness() for one table (roles/monitoring,
# templates/monitoring_schema.sql.j2), aimed at the benchmark's copy of metric_hist.
FRESHNESS_SQL = "SELECT max(t.ts)::timestamptz FROM {table} AS t WHERE t.ts <= now() + interval '5 minutes'"


def load_queries(path: str) -> dict[str, str] | None:
    """{query name: SQL} from the exporter's queries file; None when it is missing."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        import yaml  # the role writes JSON; a hand-written YAML file needs PyYAML

        data = yaml.safe_load(text)
    return {name: item["query"] for name, item in data.items()}


def seq_scanned(plan: Any, hypertable_relations: set[str]) -> list[str]:
    """Relations of HYPERTABLE_RELATIONS (schema.name) that a JSON plan scans sequentially."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Node Type") == "Seq Scan":
                rel = "%s.%s" % (node.get("Schema", ""), node.get("Relation Name", ""))
                if rel in hypertable_relations:
                    found.append(rel)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    return sorted(set(found))


def hypertable_relations(cur) -> set[str]:
    """Every hypertable and chunk (schema.name): their rows are what no query may read."""
    cur.execute("SELECT hypertable_schema || '.' || hypertable_name FROM timescaledb_information.hypertables "
                "UNION ALL SELECT chunk_schema || '.' || chunk_name FROM timescaledb_information.chunks")
    return {r[0] for r in cur.fetchall()}


def time_sql(cur, sql: str, runs: int) -> dict:
    samples = []
    rows = 0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        cur.execute(sql)
        rows = len(cur.fetchall())
        if i:
            samples.append((time.perf_counter() - t0) * 1000.0)
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2), "rows": rows}


def explain(cur, sql: str) -> Any:
    cur.execute("EXPLAIN (FORMAT JSON, VERBOSE) " + sql)
    return cur.fetchone()[0]


def scrape_http(url: str, runs: int) -> dict | None:
    """Time whole scrapes of the exporter; None when it does not answer."""
    samples = []
    last = ""
    for i in range(runs + 1):
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                last = resp.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return None
        if i:
            samples.append((time.perf_counter() - t0) * 1000.0)
    match = re.search(r"^pg_exporter_last_scrape_duration_seconds (\S+)$", last, re.M)
    series = sum(1 for line in last.splitlines() if line.startswith("ms5_"))
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
            "exporter_last_scrape_ms": round(float(match.group(1)) * 1000, 2) if match else None,
            "ms5_series": series}


def run(conn, queries: dict[str, str], bench_tables: Iterable[str], runs: int, url: str | None) -> dict:
    """Time and EXPLAIN each MS5 query, the freshness statement on each of BENCH_TABLES, and the scrape."""
    out: dict = {"queries": [], "goal_ms": GOAL_MS}
    with conn.cursor() as cur:
        relations = hypertable_relations(cur)
        cur.execute("SELECT count(*), (SELECT count(*) FROM timescaledb_information.chunks) "
                    "FROM timescaledb_information.hypertables")
        out["hypertables"], out["chunks"] = cur.fetchone()
    conn.rollback()
    named = list(queries.items()) + [("ingest freshness of %s" % t, FRESHNESS_SQL.format(table=t))
                                     for t in bench_tables]
    for name, sql in named:
        with conn.cursor() as cur:
            entry = {"name": name}
            try:
                entry.update(time_sql(cur, sql, runs))
                entry["seq_scans"] = seq_scanned(explain(cur, sql), relations)
            except Exception as exc:  # noqa: BLE001 - a failing query is reported, not fatal
                entry["error"] = str(exc).strip().splitlines()[0]
        conn.rollback()
        out["queries"].append(entry)
    exporter = [q for q in out["queries"] if not q["name"].startswith("ingest freshness of ")]
    out["total_p50_ms"] = round(sum(q.get("p50_ms", 0) for q in exporter), 2)
    out["total_p95_ms"] = round(sum(q.get("p95_ms", 0) for q in exporter), 2)
    out["ok"] = (out["total_p95_ms"] < GOAL_MS and not any(q.get("seq_scans") or q.get("error")
                                                           for q in out["queries"]))
    out["http"] = scrape_http(url, runs) if url else None
    return out


def format_section(result: dict | None, fmt_ms, format_table) -> str:
    """The human-readable scrape section (FMT_MS and FORMAT_TABLE from report.py)."""
    if not result:
        return "scrape of the MS5 metrics: not measured (the monitoring role's queries file was not found)"
    if result.get("skipped"):
        return "scrape of the MS5 metrics: not measured (%s)" % result["skipped"]
    rows = []
    for q in result["queries"]:
        scans = "error: " + q["error"] if q.get("error") else (", ".join(q["seq_scans"]) or "no")
        rows.append([q["name"], fmt_ms(q.get("p50_ms")), fmt_ms(q.get("p95_ms")), q.get("rows", "-"), scans])
    out = ["scrape of the MS5 metrics (%d hypertables, %d chunks in the database)" % (
        result["hypertables"], result["chunks"]),
        format_table(["MS5 query (ms)", "p50", "p95", "rows", "seq scan of a hypertable"], rows),
        "all MS5 queries of one scrape: p50 %s ms, p95 %s ms (goal < %d ms, no hypertable rows read): %s" % (
            result["total_p50_ms"], result["total_p95_ms"], result["goal_ms"], "MET" if result["ok"] else "NOT MET")]
    http = result.get("http")
    if http:
        out.append("whole scrape of %s: p50 %s ms, p95 %s ms (postgres_exporter's own last scrape %s ms, %d ms5_ series)"
                   % (DEFAULT_METRICS_URL, http["p50_ms"], http["p95_ms"], http["exporter_last_scrape_ms"],
                      http["ms5_series"]))
    return "\n".join(out)
