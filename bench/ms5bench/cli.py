"""ms5bench: load realistic MS5.0 telemetry into a deployed database and measure it.

The same generated data is loaded, block by block, into two copies of the deployed
schema: one whose six time-series tables are hypertables (as deployed, same chunk
intervals) and one of plain PostgreSQL tables with the same columns, constraints and
indexes. Both get the same queries: every dashboard view of the schema and the typical
dashboard queries below. The report gives TimescaleDB / plain ratios side by side.
The copies live in their own schemas and are dropped at the end (--keep keeps them);
the deployed schema's own tables are only read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

from . import datagen, scrape
from .report import Progress, fmt_ms, fmt_ratio, format_table, human_bytes, human_count, rate, ratio

VARIANTS = ("timescaledb", "plain")
NEEDED_TABLES = ("metric_def", "metric_hist", "metric_latest", "production_lines", "equipment_config", "shifts",
                 "fault_catalog", "fault_active", "fault_event", "downtime_events", "oee_calculations",
                 "energy_consumption", "production_kpis", "context")

# Typical dashboard queries besides the views. {s} = schema; named args: metric,
# equipment, line, now.
QUERIES = (
    ("trend: one metric, last hour, 1-min buckets",
     "SELECT time_bucket(interval '1 minute', ts) b, avg(value_real), min(value_real), max(value_real) "
     "FROM {s}.metric_hist WHERE metric_def_id = %(metric)s AND ts >= %(now)s - interval '1 hour' "
     "GROUP BY b ORDER BY b"),
    ("history: one metric, whole window, 15-min buckets",
     "SELECT time_bucket(interval '15 minutes', ts) b, avg(value_real), max(value_real) "
     "FROM {s}.metric_hist WHERE metric_def_id = %(metric)s GROUP BY b ORDER BY b"),
    ("equipment screen: all metrics, last 15 min",
     "SELECT d.metric_key, h.ts, h.value_bool, h.value_int, h.value_real FROM {s}.metric_hist h "
     "JOIN {s}.metric_def d ON d.id = h.metric_def_id WHERE d.equipment_code = %(equipment)s "
     "AND h.ts >= %(now)s - interval '15 minutes' ORDER BY h.ts DESC"),
    ("plant: samples per minute, last 10 min",
     "SELECT time_bucket(interval '1 minute', ts) b, count(*) FROM {s}.metric_hist "
     "WHERE ts >= %(now)s - interval '10 minutes' GROUP BY b ORDER BY b"),
    ("latest sample per metric of one equipment",
     "SELECT DISTINCT ON (h.metric_def_id) h.metric_def_id, h.ts, h.value_real FROM {s}.metric_hist h "
     "WHERE h.metric_def_id IN (SELECT id FROM {s}.metric_def WHERE equipment_code = %(equipment)s) "
     "AND h.ts >= %(now)s - interval '5 minutes' ORDER BY h.metric_def_id, h.ts DESC"),
    ("OEE of one line, last 8 h (calculate_oee)",
     "SELECT * FROM {s}.calculate_oee(%(line)s::uuid, %(now)s - interval '8 hours', %(now)s)"),
    ("OEE per equipment, last 24 h, hourly",
     "SELECT equipment_code, time_bucket(interval '1 hour', calculation_time) b, avg(oee) "
     "FROM {s}.oee_calculations WHERE line_id = %(line)s::uuid AND calculation_time >= %(now)s - interval '24 hours' "
     "GROUP BY 1, 2 ORDER BY 1, 2"),
    ("fault history of one equipment, last 24 h",
     "SELECT bit_index, count(*), sum(duration_s) FROM {s}.fault_event WHERE equipment_code = %(equipment)s "
     "AND ts_on >= %(now)s - interval '24 hours' GROUP BY 1 ORDER BY 3 DESC"),
    ("energy of one line, last 24 h, hourly",
     "SELECT time_bucket(interval '1 hour', consumption_time) b, sum(energy_kwh) FROM {s}.energy_consumption "
     "WHERE line_id = %(line)s::uuid AND consumption_time >= %(now)s - interval '24 hours' GROUP BY b ORDER BY b"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ms5bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c = p.add_argument_group("connection (libpq: PGPASSWORD or a pgpass file supply the password)")
    c.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    c.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    c.add_argument("--dbname", default=os.environ.get("PGDATABASE", "factory_telemetry"))
    c.add_argument("--user", default=os.environ.get("PGUSER", "ms5_owner"),
                   help="a role that may create schemas in the database: the owner role (default ms5_owner)")
    c.add_argument("--schema", default="factory_telemetry", help="the deployed schema to copy (read only)")
    s = p.add_argument_group("size (defaults run in a few minutes on 2 cores)")
    s.add_argument("--lines", type=int, default=2)
    s.add_argument("--equipment", type=int, default=4, help="equipment per line")
    s.add_argument("--metrics", type=int, default=8, help="metrics per equipment")
    s.add_argument("--days", type=float, default=0.5, help="days of 1-second samples loaded by COPY")
    s.add_argument("--insert-rows", type=int, default=100000, help="samples loaded by batched INSERT")
    s.add_argument("--batch-size", type=int, default=1000, help="rows per INSERT statement")
    s.add_argument("--query-runs", type=int, default=10, help="timed runs per query (after one warm-up)")
    s.add_argument("--seed", type=int, default=1)
    m = p.add_argument_group("scrape of the MS5 metrics (monitoring role)")
    m.add_argument("--scrape-queries", default=scrape.DEFAULT_QUERIES,
                   help="the exporter's queries file the monitoring role deployed (default %(default)s)")
    m.add_argument("--scrape-url", default=scrape.DEFAULT_METRICS_URL,
                   help="time whole scrapes of this /metrics URL too; '' to skip (default %(default)s)")
    o = p.add_argument_group("output")
    o.add_argument("--json", dest="json_path", help="also write the JSON report to this file")
    o.add_argument("--json-only", action="store_true", help="print only the JSON report on stdout")
    o.add_argument("--keep", action="store_true", help="keep the benchmark schemas afterwards")
    o.add_argument("--schema-prefix", default="ms5_bench", help="benchmark schemas are <prefix>_timescaledb and <prefix>_plain")
    args = p.parse_args(argv)
    validate(p, args)
    return args


def validate(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    for name in ("lines", "equipment", "metrics", "batch_size", "query_runs"):
        if getattr(a, name) < 1:
            p.error("--%s must be at least 1" % name.replace("_", "-"))
    if a.insert_rows < 0:
        p.error("--insert-rows must be >= 0")
    if not 0 < a.days <= 366:
        p.error("--days must be in (0, 366]")
    if a.days * 86400 < 3600:
        p.error("--days must cover at least one hour (0.042)")
    if not a.schema_prefix.replace("_", "").isalnum() or a.schema_prefix == a.schema:
        p.error("--schema-prefix must be a plain identifier, different from --schema")


def log(msg: str) -> None:
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def build_tables(result: dict) -> str:
    """The human-readable report."""
    m = result["meta"]
    out = ["MS5.0 benchmark  %s  PostgreSQL %s, TimescaleDB %s (%s edition)" % (
        m["started_at"], m["postgres_version"], m["timescaledb_version"], m["timescaledb_license"]),
        "plant: %(lines)d lines x %(equipment)d equipment x %(metrics)d metrics = %(metric_count)d metrics, "
        "%(days)g days of 1-second samples" % m["size"],
        "ratio = TimescaleDB / plain PostgreSQL (ingest: >1 is faster; time and bytes: <1 is faster/smaller)", ""]
    rows = []
    for kind in ("copy", "insert"):
        ld = result["ingest"].get(kind)
        if not ld:
            continue
        rows.append(["%s (%s rows)" % ("COPY" if kind == "copy" else "batched INSERT x%d" % m["size"]["batch_size"],
                                       human_count(ld["rows"])),
                     human_count(ld["timescaledb"]["rows_per_s"]), human_count(ld["plain"]["rows_per_s"]),
                     fmt_ratio(ld["ratio"])])
    out.append(format_table(["ingest into metric_hist", "timescaledb rows/s", "plain rows/s", "ratio"], rows))
    out.append("")
    qrows = []
    for q in result["queries"]:
        t, pl = q["timescaledb"], q["plain"]
        qrows.append([q["name"], fmt_ms(t.get("p50_ms")), fmt_ms(t.get("p95_ms")), fmt_ms(pl.get("p50_ms")),
                      fmt_ms(pl.get("p95_ms")), fmt_ratio(q["ratio_p50"]), t.get("rows", "-")])
    out.append(format_table(["query (ms)", "ts p50", "ts p95", "plain p50", "plain p95", "ratio p50", "rows"], qrows))
    out.append("")
    srows = []
    for t, st in result["storage"].items():
        srows.append([t, human_count(st["rows"]), human_bytes(st["timescaledb_bytes"]), human_bytes(st["plain_bytes"]),
                      "%.1f" % st["timescaledb_bytes_per_row"] if st["rows"] else "-",
                      "%.1f" % st["plain_bytes_per_row"] if st["rows"] else "-",
                      st.get("chunks", "-"), fmt_ratio(st["ratio"])])
    out.append(format_table(["table", "rows", "timescaledb", "plain", "ts B/row", "plain B/row", "chunks", "ratio"], srows))
    c = result["compression"]
    out.append("")
    if c.get("status") == "done":
        out.append("compression of metric_hist: %s -> %s (%.1f -> %.1f bytes/row, %.0f%% saved) in %d chunks" % (
            human_bytes(c["before_bytes"]), human_bytes(c["after_bytes"]), c["before_bytes_per_row"],
            c["after_bytes_per_row"], 100 * c["saved"], c["chunks"]))
    else:
        out.append("compression of metric_hist: %s" % c.get("reason", "not measured"))
    out.extend(["", scrape.format_section(result.get("scrape"), fmt_ms, format_table)])
    return "\n".join(out)


def run(args: argparse.Namespace) -> dict:
    import psycopg2  # imported here so --help works without it

    from . import db

    started = dt.datetime.now(dt.timezone.utc)
    plant = datagen.build_plant(args.lines, args.equipment, args.metrics, args.seed)
    end = started.replace(minute=0, second=0, microsecond=0)
    seconds = int(args.days * 86400)
    start = end - dt.timedelta(seconds=seconds)
    # Batched INSERT test: a backfill of the minutes before the COPY window.
    insert_seconds = -(-args.insert_rows // plant.metric_count) if args.insert_rows else 0
    insert_start = start - dt.timedelta(seconds=insert_seconds)
    windows = datagen.downtime_windows(plant, insert_start, end)
    schemas = {"timescaledb": "%s_timescaledb" % args.schema_prefix, "plain": "%s_plain" % args.schema_prefix}

    try:
        conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname, user=args.user,
                                application_name="ms5bench", connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise db.BenchError("cannot connect to %s:%s/%s as %s: %s" % (
            args.host, args.port, args.dbname, args.user, str(exc).strip()))
    result: dict = {"meta": {}, "ingest": {}, "queries": [], "storage": {}, "compression": {}}
    try:
        with conn.cursor() as cur:
            info = db.server_info(cur)
            if not info["timescaledb_version"]:
                raise db.BenchError("the timescaledb extension is not installed in %s" % args.dbname)
            db.check_source(cur, args.schema, NEEDED_TABLES)
            hyper = db.source_hypertables(cur, args.schema)
        conn.commit()
        result["meta"] = dict(info, started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"), host=args.host, port=args.port,
                              dbname=args.dbname, client=platform.node(), schemas=schemas,
                              hypertables={t: [c, str(i)] for t, (c, i) in sorted(hyper.items())},
                              size={"lines": args.lines, "equipment": args.equipment, "metrics": args.metrics,
                                    "metric_count": plant.metric_count, "days": args.days,
                                    "insert_rows": args.insert_rows, "batch_size": args.batch_size,
                                    "query_runs": args.query_runs, "seed": args.seed})
        log("PostgreSQL %(postgres_version)s, TimescaleDB %(timescaledb_version)s (%(timescaledb_license)s edition)" % info)
        for variant in VARIANTS:
            views = db.in_transaction(conn, db.clone_schema, args.schema, schemas[variant],
                                      hyper if variant == "timescaledb" else None)
            db.in_transaction(conn, db.load_plant, schemas[variant], plant)
        log("schemas %s: %d tables, %d hypertables, %d views" % (" and ".join(schemas.values()), len(NEEDED_TABLES),
                                                                len(hyper), len(views)))

        # COPY: the same block goes into both schemas, one after the other.
        total = datagen.total_sample_rows(plant, seconds)
        copy_time = {v: 0.0 for v in VARIANTS}
        gen = datagen.SampleGenerator(plant, windows)
        insert_rows = []
        if insert_seconds:
            insert_rows = list(gen.rows(insert_start, insert_seconds))[: args.insert_rows]
        progress = Progress("COPY metric_hist x2", total)
        loaded = 0
        for block_start, block_seconds in datagen.hour_blocks(start, end, 900):
            text, n = gen.copy_text(block_start, block_seconds)
            for variant in VARIANTS:
                with conn.cursor() as cur:
                    copy_time[variant] += db.copy_samples(cur, schemas[variant], text)
                conn.commit()
            loaded += n
            progress.update(n)
        progress.finish()
        result["ingest"]["copy"] = ingest_result(loaded, copy_time)

        if insert_rows:
            ins_time = {}
            for variant in VARIANTS:
                log("batched INSERT of %s rows into %s.metric_hist" % (human_count(len(insert_rows)), schemas[variant]))
                with conn.cursor() as cur:
                    ins_time[variant] = db.insert_samples(cur, schemas[variant], insert_rows, args.batch_size)
                conn.commit()
            result["ingest"]["insert"] = ingest_result(len(insert_rows), ins_time)

        log("loading OEE, energy, fault, downtime and KPI rows")
        counts = {}
        for variant in VARIANTS:
            counts = db.in_transaction(conn, db.load_events, schemas[variant], plant, windows, insert_start, end)
            db.in_transaction(conn, db.analyze, schemas[variant])
        counts["metric_hist"] = loaded + len(insert_rows)

        log("timing %d queries and %d views, %d runs each, on both schemas" % (len(QUERIES), len(views), args.query_runs))
        qargs = {"metric": plant.metrics[0].id, "equipment": plant.equipment[0].code, "line": plant.lines[0].id,
                 "now": end}
        named = [(name, text) for name, text in QUERIES] + [
            ("view %s" % v, "SELECT * FROM {s}.%s LIMIT 1000" % v) for v in views]
        for name, text in named:
            entry = {"name": name}
            for variant in VARIANTS:
                with conn.cursor() as cur:
                    entry[variant] = db.time_query(cur, text.format(s=schemas[variant]), qargs, args.query_runs)
                conn.rollback()
            entry["ratio_p50"] = ratio(entry["timescaledb"]["p50_ms"], entry["plain"]["p50_ms"])
            entry["ratio_p95"] = ratio(entry["timescaledb"]["p95_ms"], entry["plain"]["p95_ms"])
            result["queries"].append(entry)

        ms5_queries = scrape.load_queries(args.scrape_queries)
        if ms5_queries:
            log("timing the monitoring role's %d MS5 queries and the exporter's scrape" % len(ms5_queries))
            result["scrape"] = scrape.run(conn, ms5_queries, ["%s.metric_hist" % schemas["timescaledb"]],
                                          args.query_runs, args.scrape_url or None)
        else:
            result["scrape"] = {"skipped": "no %s: apply the monitoring role first" % args.scrape_queries}

        with conn.cursor() as cur:
            tables = sorted(hyper)
            ts_sizes = db.table_sizes(cur, schemas["timescaledb"], tables, hyper=True)
            plain_sizes = db.table_sizes(cur, schemas["plain"], tables, hyper=False)
            chunks = db.chunk_counts(cur, schemas["timescaledb"])
        conn.commit()
        for t in tables:
            rows = counts.get(t, 0)
            result["storage"][t] = {
                "rows": rows, "timescaledb_bytes": ts_sizes[t], "plain_bytes": plain_sizes[t],
                "timescaledb_bytes_per_row": round(ts_sizes[t] / rows, 1) if rows else None,
                "plain_bytes_per_row": round(plain_sizes[t] / rows, 1) if rows else None,
                "chunks": chunks.get(t, 0), "ratio": ratio(ts_sizes[t], plain_sizes[t])}

        if info["timescaledb_license"] == "timescale":
            log("compressing %s.metric_hist" % schemas["timescaledb"])
            with conn.cursor() as cur:
                n = db.compress_metric_hist(cur, schemas["timescaledb"])
                after = db.table_sizes(cur, schemas["timescaledb"], ["metric_hist"], hyper=True)["metric_hist"]
            conn.commit()
            before = ts_sizes["metric_hist"]
            rows = counts["metric_hist"]
            result["compression"] = {"status": "done", "chunks": n, "before_bytes": before, "after_bytes": after,
                                     "before_bytes_per_row": before / rows, "after_bytes_per_row": after / rows,
                                     "saved": 1 - after / before if before else 0.0}
            for name, text in QUERIES[:5]:
                with conn.cursor() as cur:
                    timing = db.time_query(cur, text.format(s=schemas["timescaledb"]), qargs, args.query_runs)
                conn.rollback()
                result["queries"].append({"name": name + " [compressed]", "timescaledb": timing,
                                          "plain": next(q["plain"] for q in result["queries"] if q["name"] == name),
                                          "ratio_p50": None, "ratio_p95": None})
                result["queries"][-1]["ratio_p50"] = ratio(timing["p50_ms"], result["queries"][-1]["plain"]["p50_ms"])
                result["queries"][-1]["ratio_p95"] = ratio(timing["p95_ms"], result["queries"][-1]["plain"]["p95_ms"])
        else:
            result["compression"] = {"status": "unavailable",
                                     "reason": "not available: the %s edition of TimescaleDB has no compression "
                                               "(the Community edition, license 'timescale', has)" % info["timescaledb_license"]}
        result["meta"]["duration_s"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1)
        return result
    finally:
        conn.rollback()
        if not args.keep:
            with conn.cursor() as cur:
                for s in schemas.values():
                    db.drop_schema(cur, s)
            conn.commit()
            log("dropped the benchmark schemas (--keep keeps them)")
        conn.close()


def ingest_result(rows: int, seconds: dict[str, float]) -> dict:
    out = {"rows": rows}
    for v in VARIANTS:
        out[v] = {"seconds": round(seconds[v], 3), "rows_per_s": round(rate(rows, seconds[v]) or 0)}
    out["ratio"] = ratio(out["timescaledb"]["rows_per_s"], out["plain"]["rows_per_s"])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from . import db

    try:
        result = run(args)
    except db.BenchError as exc:
        sys.stderr.write("ms5bench: %s\n" % exc)
        return 2
    except db.psycopg2.Error as exc:
        sys.stderr.write("ms5bench: the database refused a statement: %s\n" % str(exc).strip())
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("ms5bench: interrupted\n")
        return 130
    text = json.dumps(result, indent=2, default=str)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        log("JSON report written to %s" % args.json_path)
    if args.json_only:
        print(text)
    else:
        print(build_tables(result))
    return 0
