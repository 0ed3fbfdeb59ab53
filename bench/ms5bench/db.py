"""Database side of the benchmark: cloned schemas, loads, timed queries, sizes."""

from __future__ import annotations

import io
import re
import time
from typing import Callable, Iterable

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from . import datagen
from .report import percentile


class BenchError(RuntimeError):
    """A problem the user has to fix; the message says what and how."""


def qualify(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def retarget(text: str, src: str, dst: str) -> str:
    """Point schema-qualified references in SQL TEXT from SRC to DST (whole-word, quoted or not)."""
    text = re.sub(r'(?<![\w"])"%s"\.' % re.escape(src), '"%s".' % dst, text)
    return re.sub(r"(?<![\w\"])%s\." % re.escape(src), "%s." % dst, text)


def server_info(cur) -> dict:
    cur.execute("SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'), "
                "current_setting('timescaledb.license', true), current_user")
    pg, ts, lic, user = cur.fetchone()
    return {"postgres_version": pg, "timescaledb_version": ts, "timescaledb_license": lic, "user": user}


def source_hypertables(cur, schema: str) -> dict[str, tuple[str, object]]:
    """{table: (time column, chunk interval)} of SCHEMA's hypertables."""
    cur.execute("SELECT d.hypertable_name, d.column_name, d.time_interval FROM timescaledb_information.dimensions d "
                "WHERE d.hypertable_schema = %s AND d.dimension_number = 1", (schema,))
    return {t: (c, i) for t, c, i in cur.fetchall()}


def check_source(cur, schema: str, needed: Iterable[str]) -> None:
    cur.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')",
                (schema,))
    have = {r[0] for r in cur.fetchall()}
    missing = [t for t in needed if t not in have]
    if missing:
        raise BenchError("schema %s lacks %s: deploy and migrate first (make demo, or playbooks/site.yml)"
                         % (schema, ", ".join(missing)))


def clone_schema(cur, src: str, dst: str, hypertables: dict[str, tuple[str, object]] | None) -> list[str]:
    """Create schema DST with SRC's tables (LIKE ... INCLUDING ALL: columns, defaults, CHECKs,
    identity, the same indexes; no foreign keys), functions and views, pointed at DST.
    HYPERTABLES: tables to convert, with their time column and chunk interval (None: plain).
    Returns the views created."""
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(dst)))
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(dst)))
    cur.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
                "ORDER BY 1", (src,))
    for (table,) in cur.fetchall():
        cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(qualify(dst, table), qualify(src, table)))
    for table, (column, interval) in sorted((hypertables or {}).items()):
        # LIKE copied the source's time index, so no default indexes again.
        cur.execute("SELECT create_hypertable(%s::regclass, by_range(%s, %s), create_default_indexes => false)",
                    ("%s.%s" % (dst, table), column, interval))
    # Functions and views, with every reference to SRC pointed at DST. Names are
    # printed schema-qualified because SRC is not on the search path.
    cur.execute("SET LOCAL search_path = pg_catalog")
    cur.execute("SET LOCAL check_function_bodies = off")
    cur.execute("SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = %s::regnamespace "
                "AND p.prokind = 'f' ORDER BY p.proname", (src,))
    for (definition,) in cur.fetchall():
        cur.execute(retarget(definition, src, dst))
    cur.execute("SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
                "AND c.relkind = 'v' ORDER BY 1", (src,))
    pending = dict(cur.fetchall())
    created: list[str] = []
    while pending:  # views on views: create in dependency order
        progress = False
        for name, definition in list(pending.items()):
            cur.execute("SAVEPOINT v")
            try:
                cur.execute(sql.SQL("CREATE VIEW {} AS ").format(qualify(dst, name)).as_string(cur)
                            + retarget(definition, src, dst))
            except psycopg2.errors.UndefinedTable:
                cur.execute("ROLLBACK TO SAVEPOINT v")
                continue
            cur.execute("RELEASE SAVEPOINT v")
            created.append(name)
            del pending[name]
            progress = True
        if not progress:
            raise BenchError("cannot clone views %s of %s" % (", ".join(sorted(pending)), src))
    cur.execute("SET LOCAL search_path = \"$user\", public")
    return sorted(created)


def load_plant(cur, schema: str, plant: datagen.Plant) -> None:
    """Lines, equipment, metric definitions, shifts, fault catalog and live context."""
    ev = psycopg2.extras.execute_values
    ev(cur, sql.SQL("INSERT INTO {} (id, line_code, name, target_speed) VALUES %s").format(
        qualify(schema, "production_lines")).as_string(cur),
       [(ln.id, ln.code, ln.name, datagen.TARGET_PPM) for ln in plant.lines])
    line_ids = {ln.index: ln.id for ln in plant.lines}
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, name, equipment_type, production_line_id, ideal_cycle_time) "
                    "VALUES %s").format(qualify(schema, "equipment_config")).as_string(cur),
       [(e.code, e.name, e.type, line_ids[e.line], datagen.IDEAL_CYCLE_S) for e in plant.equipment])
    ev(cur, sql.SQL("INSERT INTO {} (id, equipment_code, metric_key, value_type, unit) OVERRIDING SYSTEM VALUE "
                    "VALUES %s").format(qualify(schema, "metric_def")).as_string(cur),
       [(m.id, m.equipment, m.key, m.value_type, m.unit) for m in plant.metrics])
    ev(cur, sql.SQL("INSERT INTO {} (id, shift_code, name, start_time, end_time) VALUES %s").format(
        qualify(schema, "shifts")).as_string(cur),
       [(plant.shift_ids[c], c, n, a, b) for c, n, a, b in datagen.SHIFTS])
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, bit_index, fault_code, description, severity) VALUES %s").format(
        qualify(schema, "fault_catalog")).as_string(cur),
       [(e.code, bit, "F%03d" % bit, "fault bit %d" % bit, ("warning", "fault", "critical")[bit % 3])
        for e in plant.equipment for bit in range(8)])
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, production_line_id, production_state) VALUES %s").format(
        qualify(schema, "context")).as_string(cur),
       [(e.code, line_ids[e.line], "running") for e in plant.equipment])


def copy_samples(cur, schema: str, text: str) -> float:
    """COPY one block of metric_hist samples; returns the seconds it took."""
    t0 = time.perf_counter()
    cur.copy_expert(sql.SQL("COPY {} (metric_def_id, ts, value_bool, value_int, value_real) FROM STDIN").format(
        qualify(schema, "metric_hist")).as_string(cur), io.StringIO(text))
    return time.perf_counter() - t0


def insert_samples(cur, schema: str, rows: list[tuple], batch_size: int) -> float:
    """Batched multi-row INSERTs of metric_hist samples; returns the seconds they took."""
    stmt = sql.SQL("INSERT INTO {} (metric_def_id, ts, value_bool, value_int, value_real) VALUES %s").format(
        qualify(schema, "metric_hist")).as_string(cur)
    t0 = time.perf_counter()
    psycopg2.extras.execute_values(cur, stmt, rows, page_size=batch_size)
    return time.perf_counter() - t0


def load_events(cur, schema: str, plant: datagen.Plant, windows, start, end) -> dict[str, int]:
    """OEE, energy, fault, downtime, KPI and latest-value rows; returns rows per table."""
    ev = psycopg2.extras.execute_values
    counts: dict[str, int] = {}
    oee = list(datagen.oee_rows(plant, windows, start, end))
    ev(cur, sql.SQL("INSERT INTO {} (line_id, equipment_code, calculation_time, interval_seconds, "
                    "planned_production_time, run_time, ideal_cycle_time, total_parts, good_parts, availability, "
                    "performance, quality, oee) VALUES %s").format(qualify(schema, "oee_calculations")).as_string(cur),
       oee, page_size=2000)
    counts["oee_calculations"] = len(oee)
    energy = list(datagen.energy_rows(plant, windows, start, end))
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, line_id, consumption_time, power_kw, energy_kwh, voltage_v, "
                    "current_a, power_factor) VALUES %s").format(qualify(schema, "energy_consumption")).as_string(cur),
       energy, page_size=2000)
    counts["energy_consumption"] = len(energy)
    faults = datagen.fault_rows(plant, windows, start, end)
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, bit_index, ts_on, ts_off, duration_s) VALUES %s").format(
        qualify(schema, "fault_event")).as_string(cur), faults, page_size=2000)
    counts["fault_event"] = len(faults)
    active = [(e.code, 1, end) for e in plant.equipment[:: max(1, len(plant.equipment) // 3)]]
    ev(cur, sql.SQL("INSERT INTO {} (equipment_code, bit_index, ts_on) VALUES %s").format(
        qualify(schema, "fault_active")).as_string(cur), active)
    downtime = datagen.downtime_rows(plant, windows)
    ev(cur, sql.SQL("INSERT INTO {} (id, line_id, equipment_code, start_time, end_time, duration_seconds, reason_code, "
                    "category) VALUES %s").format(qualify(schema, "downtime_events")).as_string(cur), downtime)
    counts["downtime_events"] = len(downtime)
    kpis = datagen.kpi_rows(plant, oee)
    ev(cur, sql.SQL("INSERT INTO {} (line_id, kpi_date, availability, performance, quality, oee, total_production, "
                    "good_production, scrap_production, planned_downtime_minutes, unplanned_downtime_minutes) "
                    "VALUES %s").format(qualify(schema, "production_kpis")).as_string(cur), kpis)
    counts["production_kpis"] = len(kpis)
    cur.execute(sql.SQL("INSERT INTO {} (metric_def_id, ts, value_bool, value_int, value_real) "
                        "SELECT DISTINCT ON (metric_def_id) metric_def_id, ts, value_bool, value_int, value_real "
                        "FROM {} WHERE ts >= %s ORDER BY metric_def_id, ts DESC").format(
        qualify(schema, "metric_latest"), qualify(schema, "metric_hist")), (end - datagen.dt.timedelta(minutes=5),))
    counts["metric_latest"] = cur.rowcount
    return counts


def analyze(cur, schema: str) -> None:
    cur.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'", (schema,))
    for (table,) in cur.fetchall():
        cur.execute(sql.SQL("ANALYZE {}").format(qualify(schema, table)))


def time_query(cur, query: str, args: dict, runs: int) -> dict:
    """p50/p95 wall time (ms) of QUERY over RUNS runs after one warm-up; rows returned."""
    samples = []
    rows = 0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        cur.execute(query, args)
        rows = len(cur.fetchall())
        if i:
            samples.append((time.perf_counter() - t0) * 1000.0)
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2), "rows": rows}


def table_sizes(cur, schema: str, tables: Iterable[str], hyper: bool) -> dict[str, int]:
    """Total bytes (heap + indexes + TOAST, all chunks for hypertables) per table."""
    out = {}
    for t in tables:
        fn = "hypertable_size" if hyper else "pg_total_relation_size"
        cur.execute("SELECT %s(%%s::regclass)" % fn, ("%s.%s" % (schema, t),))
        out[t] = int(cur.fetchone()[0] or 0)
    return out


def chunk_counts(cur, schema: str) -> dict[str, int]:
    cur.execute("SELECT hypertable_name, count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = %s "
                "GROUP BY 1 ORDER BY 1", (schema,))
    return dict(cur.fetchall())


def compress_metric_hist(cur, schema: str, segment_by: str = "metric_def_id", order_by: str = "ts DESC") -> int:
    """Enable compression on SCHEMA.metric_hist and compress every chunk (Community edition)."""
    cur.execute(sql.SQL("ALTER TABLE {} SET (timescaledb.compress, timescaledb.compress_segmentby = %s, "
                        "timescaledb.compress_orderby = %s)").format(qualify(schema, "metric_hist")),
                (segment_by, order_by))
    cur.execute("SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks(%s::regclass) c",
                ("%s.metric_hist" % schema,))
    return int(cur.fetchone()[0])


def drop_schema(cur, schema: str) -> None:
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def in_transaction(conn, fn: Callable, *args, **kwargs):
    """Run FN(cursor, ...) in its own transaction, committed on success."""
    with conn:
        with conn.cursor() as cur:
            return fn(cur, *args, **kwargs)
