#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Measure the MS5.0 migration plan's success criteria against a deployed database."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verify_success_criteria
short_description: Measure the MS5.0 migration plan's success criteria
description:
  - Connects to the factory-telemetry database with psycopg2 and measures each success
    criterion of the migration plan, returning pass/fail and the measured value.
  - All sample data it writes (ingest test, dashboard sample, compression sample) is
    written inside one transaction that is always rolled back, so the module never
    changes the database and always reports C(changed=false), also in check mode.
  - The schema-specific SQL (sample setup, ingest statement, dashboard queries) is
    passed in by the caller (the C(verify) role reads it from C(.sql) files).
version_added: 0.1.0
author:
  - MS5.0 infrastructure team (@ms5-infra)
requirements:
  - psycopg2 (python3-psycopg2) or psycopg 3 on the target host
extends_documentation_fragment:
  - community.postgresql.postgres
  - ms5.factory_telemetry.postgresql
notes:
  - Log in as the owner role (the checks write sample data that is rolled back).
options:
  checks:
    description:
      - Which groups of criteria to run. C(structure) (migrations, TimescaleDB, hypertables, indexes), C(data)
        (ingest, dashboard queries, compression and storage, all on rolled-back sample data), C(jobs) (job health)
        and C(backups) (age of the newest verified backup). The deployment report runs C(jobs) and C(backups) only.
    type: list
    elements: str
    choices: [structure, data, jobs, backups]
    default: [structure, data, jobs, backups]
  status_dir:
    description: Directory of the host jobs' status files (C(<job>.json), see docs/CONVENTIONS.md).
    type: path
    default: /var/lib/ms5/status
  backup_program:
    description: The backup role's program; C(<program> --status) reports the newest and the newest verified backup.
    type: path
    default: /usr/local/sbin/ms5-backup
  backup_max_age_hours:
    description: The newest verified backup must be younger than this; 0 turns the criterion off (N/A).
    type: float
    default: 26
  storage_records_per_day:
    description: The plan's typical volume, metric samples a day, for the storage criterion.
    type: int
    default: 100000
  storage_max_bytes_per_month:
    description: The plan's storage budget for a month of O(storage_records_per_day) (compressed where measured).
    type: int
    default: 1000000000
  rollups_catalog:
    description: Catalog of rollup relations (columns C(relation), C(source_table), C(bucket)); their size is printed when it exists.
    type: str
    default: ms5_rollups.catalog
  schema: {description: The application schema., type: str, default: factory_telemetry}
  ledger_table: {description: The migration ledger., type: str, default: ms5_migrations.schema_migrations}
  expected_migrations:
    description: File names of the migrations that must be applied (needed by the C(structure) checks).
    type: list
    elements: str
    default: []
  expected_hypertables:
    description: Hypertables that must exist, as C(table) or C(table:time_column), in O(schema) (needed by the C(structure) checks).
    type: list
    elements: str
    default: []
  min_indexes: {description: Minimum number of indexes in O(schema)., type: int, default: 50}
  setup_sql: {description: "SQL run first in the transaction; must fill temporary table C(ms5_verify_metric(id)) with metric ids (C(data) checks).", type: str, default: ""}
  ingest_sql: {description: "Batched INSERT for metric_hist with one C(VALUES %s) placeholder for rows (metric_id, ts, value) (C(data) checks).", type: str, default: ""}
  readback_sql: {description: "Query returning the number of rows written by the ingest test; named args C(since) and C(until) (C(data) checks).", type: str, default: ""}
  sample_sql: {description: "SQL loading 1-second metric samples; named args C(since), C(until) and C(step_seconds) (C(data) checks).", type: str, default: ""}
  sample_context_sql: {description: "SQL loading the rows dashboard views join to; named args C(since) and C(until).", type: str, default: ""}
  sample_metrics: {description: "Metric definitions setup_sql creates (named arg C(metrics)).", type: int, default: 20}
  queries_sql:
    description:
      - "Dashboard queries, each block starting with a line C(-- name: <name>); named args C(since) and C(until)."
      - "Every view in O(schema) is timed too when O(include_views) is true."
    type: str
    default: ""
  include_views: {description: Also time C(SELECT * FROM <view> LIMIT 500) for every view in O(schema)., type: bool, default: true}
  ingest_rows: {description: Rows written by the ingest test., type: int, default: 20000}
  ingest_batch_size: {description: Rows per INSERT statement., type: int, default: 1000}
  ingest_min_rows_per_second: {description: Pass threshold for ingest., type: float, default: 1000}
  sample_hours: {description: Hours of 1-second sample data for the dashboard queries., type: float, default: 2}
  query_runs: {description: Timed runs per query (after one warm-up)., type: int, default: 5}
  query_max_ms: {description: Pass threshold for the p95 of each query., type: float, default: 100}
  compression_min_ratio: {description: Pass threshold for compression savings (0-1)., type: float, default: 0.7}
  compression_table: {description: Hypertable used for the compression measurement., type: str, default: metric_hist}
  plant:
    description: Plant size for the storage projection.
    type: dict
    default: {}
    suboptions:
      lines: {description: Production lines., type: int, default: 2}
      equipment_per_line: {description: Equipment per line., type: int, default: 5}
      metrics_per_equipment: {description: Metrics per equipment., type: int, default: 20}
      sample_interval_seconds: {description: Seconds between samples of one metric., type: float, default: 1}
"""

EXAMPLES = r"""
- name: Measure the success criteria
  ms5.factory_telemetry.verify_success_criteria:
    login_user: ms5_owner
    login_password: "{{ verify_db_password }}"
    expected_migrations: [001_init_telemetry.sql]
    expected_hypertables: [metric_hist]
    setup_sql: "{{ lookup('ansible.builtin.file', 'sql/setup.sql') }}"
    ingest_sql: "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real) VALUES %s"
    readback_sql: "SELECT count(*) FROM factory_telemetry.metric_hist WHERE ts >= %(since)s AND ts < %(until)s"
    sample_sql: "{{ lookup('ansible.builtin.file', 'sql/sample.sql') }}"
"""

RETURN = r"""
criteria:
  description: One entry per criterion.
  returned: always
  type: list
  elements: dict
  sample: [{name: migrations applied, status: pass, value: "9/9", threshold: "all", detail: ""}]
all_passed:
  description: True when no criterion failed (criteria that do not apply count as passed).
  returned: always
  type: bool
measurements:
  description: Raw measured values.
  returned: always
  type: dict
"""

import datetime
import glob
import json
import math
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.ms5_postgres import (
    DatabaseError,
    argument_spec,
    connect,
    cursor,
    values_list,
)

PASS = "pass"
FAIL = "fail"
NA = "n/a"
SECONDS_PER_MONTH = 30 * 86400
CHECKS = ("structure", "data", "jobs", "backups")

# Every TimescaleDB job with its last run (Community: all must have succeeded).
JOB_STATS_SQL = (
    "SELECT j.job_id, j.application_name, j.proc_name, coalesce(j.hypertable_name, ''), "
    "coalesce(s.last_run_status, ''), s.last_run_started_at, coalesce(s.total_failures, 0) "
    "FROM timescaledb_information.jobs AS j "
    "LEFT JOIN timescaledb_information.job_stats AS s ON s.job_id = j.job_id "
    "WHERE j.scheduled ORDER BY j.job_id")

# Compression of the sample's own chunks only: real data compressed by the policy
# must not count (issue 11, point 6).
SAMPLE_COMPRESSION_SQL = (
    "SELECT coalesce(sum(before_compression_total_bytes), 0), coalesce(sum(after_compression_total_bytes), 0), "
    "count(*) FROM chunk_compression_stats(%s) "
    "WHERE compression_status = 'Compressed' AND format('%%I.%%I', chunk_schema, chunk_name) = ANY(%s)")

# Sequences of the schema: the sample's inserts advance them and a rollback does
# not take that back; the module puts them back afterwards.
SEQUENCES_SQL = (
    "SELECT format('%%I.%%I', n.nspname, c.relname), pg_sequence_last_value(c.oid) "
    "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND n.nspname = %s ORDER BY 1")

# Put a sequence back to where it was, unless someone else used it meanwhile
# (then its current value is not the one the sample left, and it is left alone).
RESTORE_SEQUENCE_SQL = (
    "SELECT CASE WHEN pg_sequence_last_value(%(seq)s::regclass) IS NOT DISTINCT FROM %(ended)s::bigint "
    "THEN CASE WHEN %(before)s::bigint IS NULL "
    "THEN setval(%(seq)s::regclass, (SELECT seqmin FROM pg_sequence WHERE seqrelid = %(seq)s::regclass), false) "
    "ELSE setval(%(seq)s::regclass, %(before)s::bigint, true) END END IS NOT NULL")

# Size of the rollup relations listed in the rollups catalog (continuous
# aggregates by their materialization hypertable, hypertables by hypertable_size,
# anything else by pg_total_relation_size). Run only when the catalog exists.
ROLLUP_SIZES_SQL = (
    "SELECT r.relation, coalesce("
    " (SELECT hypertable_size(format('%%I.%%I', ca.materialization_hypertable_schema,"
    "  ca.materialization_hypertable_name)::regclass)"
    "  FROM timescaledb_information.continuous_aggregates AS ca"
    "  WHERE format('%%I.%%I', ca.view_schema, ca.view_name)::regclass = to_regclass(r.relation)),"
    " (SELECT hypertable_size(to_regclass(r.relation)) FROM timescaledb_information.hypertables AS h"
    "  WHERE format('%%I.%%I', h.hypertable_schema, h.hypertable_name)::regclass = to_regclass(r.relation)),"
    " pg_total_relation_size(to_regclass(r.relation)), 0) "
    "FROM %s AS r WHERE to_regclass(r.relation) IS NOT NULL ORDER BY 1")


def percentile(values, pct):
    """Nearest-rank percentile (pct in 0..100) of a non-empty list of numbers."""
    if not values:
        raise ValueError("percentile of an empty list")
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


def human_bytes(num):
    """1536 -> '1.5 KiB'."""
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "%.1f TiB" % value  # pragma: no cover


def rows_per_month(plant):
    """Metric samples per 30-day month for a plant size dict."""
    interval = float(plant.get("sample_interval_seconds", 1))
    if interval <= 0:
        raise ValueError("sample_interval_seconds must be > 0")
    metrics = int(plant["lines"]) * int(plant["equipment_per_line"]) * int(plant["metrics_per_equipment"])
    return int(metrics * SECONDS_PER_MONTH / interval)


def compression_savings(before_bytes, after_bytes):
    """Fraction of space saved by compression, 0..1 (None without a before size)."""
    if not before_bytes:
        return None
    return max(0.0, 1.0 - float(after_bytes) / float(before_bytes))


def parse_named_queries(text):
    """Split SQL text into [{'name', 'sql', 'requires'}] at lines '-- name: <name>'.

    Text before the first marker (a header comment) is ignored; a block whose SQL
    is empty is an error, as is a name used twice. Lines '-- requires: <schema>.<function>'
    in a block name functions the query needs (e.g. the rollups role's trend functions):
    where one does not exist the query is skipped with the reason, not failed.
    """
    queries = []
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().startswith("-- name:"):
            current = {"name": stripped[len("-- name:"):].strip(), "lines": []}
            if not current["name"]:
                raise ValueError("a '-- name:' line without a name")
            if any(q["name"] == current["name"] for q in queries):
                raise ValueError("query name used twice: %s" % current["name"])
            queries.append(current)
        elif current is not None and stripped.lower().startswith("-- requires:"):
            function = stripped[len("-- requires:"):].strip()
            if function.count(".") != 1:
                raise ValueError("query '%s': '-- requires:' needs <schema>.<function>, got '%s'"
                                 % (current["name"], function))
            current.setdefault("requires", []).append(function)
        elif current is not None:
            current["lines"].append(line)
    result = []
    for q in queries:
        sql = "\n".join(q["lines"]).strip()
        if not sql:
            raise ValueError("query '%s' has no SQL" % q["name"])
        result.append({"name": q["name"], "sql": sql, "requires": q.get("requires", [])})
    return result


def criterion(name, status, value, threshold, detail=""):
    return {"name": name, "status": status, "value": value, "threshold": threshold, "detail": detail}


def missing_items(expected, present):
    """Items of EXPECTED not in PRESENT, order kept."""
    have = set(present)
    return [item for item in expected if item not in have]


def parse_hypertable(spec):
    """'metric_hist:ts' -> ('metric_hist', 'ts'); 'metric_hist' -> ('metric_hist', None)."""
    table, _, column = spec.partition(":")
    return table.strip(), (column.strip() or None)


def ingest_rows(metric_ids, start, count):
    """COUNT rows (metric_id, ts, value) round-robin over METRIC_IDS, one second apart per metric."""
    if not metric_ids:
        raise ValueError("no metric ids to write samples for")
    rows = []
    n = len(metric_ids)
    for i in range(count):
        ts = start + datetime.timedelta(seconds=i // n)
        rows.append((metric_ids[i % n], ts, 50.0 + 10.0 * math.sin(i / 60.0)))
    return rows


def job_health(db_jobs, status_files, license_):
    """Judge every job: TimescaleDB's (rows of JOB_STATS_SQL) and the host jobs' status files.

    ``status_files``: {job: parsed JSON or None when unreadable}. Returns
    (failing, never_ran, ok) lists of one-line descriptions. On the Apache
    edition TimescaleDB's own job 3 (job history retention) fails every run with
    a license error: expected there, and ignored.
    """
    failing, never, ok = [], [], []
    for job_id, app, proc, table, status, started, failures in db_jobs:
        label = "TimescaleDB job %s %s%s" % (job_id, proc or app, (" on %s" % table) if table else "")
        if license_ != "timescale" and int(job_id) == 3:
            continue
        if not status:
            never.append(label)
        elif status.lower() == "success":
            ok.append(label)
        else:
            failing.append("%s: last run %s at %s (%s failure(s) in all)" % (label, status, started, failures))
    for job, data in sorted(status_files.items()):
        label = "host job %s" % job
        if not isinstance(data, dict):
            failing.append("%s: status file unreadable" % label)
        elif data.get("ok") is True:
            ok.append(label)
        else:
            failing.append("%s: last run failed at %s (exit %s, %s consecutive failure(s)): %s" % (
                label, data.get("finished_at", "?"), data.get("exit_code", "?"),
                data.get("consecutive_failures", "?"), data.get("message", "")))
    return failing, never, ok


def read_status_files(directory):
    """{job: parsed status file or None} for every <job>.json in DIRECTORY (missing directory: {})."""
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        job = os.path.basename(path)[:-len(".json")]
        try:
            with open(path) as handle:
                found[job] = json.load(handle)
        except (OSError, ValueError):
            found[job] = None
    return found


def backup_judgement(status, max_age_hours):
    """(status, value, detail) of the newest-verified-backup criterion from ``ms5-backup --status``."""
    threshold = "verified backup younger than %g h" % max_age_hours
    if not max_age_hours:
        return NA, "-", "verify_backup_max_age_hours is 0: not checked"
    if status is None:
        return FAIL, "no backup program", "the backup role's program is not installed: no backup is taken"
    newest = status.get("newest")
    verified = status.get("newest_verified")
    extra = ""
    if newest and (not verified or newest.get("file") != verified.get("file")):
        extra = "; newest backup %s (%s), not verified" % (newest.get("file"), human_age(newest.get("age_seconds")))
    if not verified:
        return FAIL, "none verified", "no backup has passed a test restore" + extra
    age = float(verified.get("age_seconds") or 0)
    detail = "%s (%s, %s)%s" % (verified.get("file"), verified.get("kind"), (verified.get("verified") or {}).get(
        "level", "verified"), extra)
    return (PASS if age < max_age_hours * 3600 else FAIL), human_age(age), detail


def human_age(seconds):
    """3700 -> '1.0 h', 200000 -> '2.3 d'."""
    if seconds is None:
        return "?"
    seconds = float(seconds)
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    if seconds < 2 * 86400:
        return "%.1f h" % (seconds / 3600)
    return "%.1f d" % (seconds / 86400)


class Checker(object):
    def __init__(self, module, conn):
        self.module = module
        self.p = module.params
        self.conn = conn
        self.cur = cursor(conn)
        self.criteria = []
        self.m = {}

    def scalar(self, sql, args=None):
        self.cur.execute(sql, args)
        row = self.cur.fetchone()
        return None if row is None else row[0]

    def rows(self, sql, args=None):
        self.cur.execute(sql, args)
        return self.cur.fetchall()

    def add(self, *args, **kwargs):
        self.criteria.append(criterion(*args, **kwargs))

    # Structure -----------------------------------------------------------------
    def check_migrations(self):
        expected = list(self.p["expected_migrations"])
        applied = [r[0] for r in self.rows("SELECT file_name FROM %s ORDER BY version" % self.p["ledger_table"])]
        missing = missing_items(expected, applied)
        self.m["migrations_applied"] = applied
        self.add("migrations applied", FAIL if missing else PASS, "%d/%d" % (len(expected) - len(missing), len(expected)),
                 "all %d" % len(expected), ("missing: " + ", ".join(missing)) if missing else "newest: %s" % (applied[-1] if applied else "-"))

    def check_timescaledb(self):
        version = self.scalar("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        license_ = self.scalar("SELECT current_setting('timescaledb.license', true)") if version else None
        pg = self.scalar("SHOW server_version")
        self.m.update(timescaledb_version=version, timescaledb_license=license_, postgres_version=pg)
        self.add("TimescaleDB present", PASS if version else FAIL, "%s (%s edition)" % (version, license_) if version else "missing",
                 "extension installed", "PostgreSQL %s" % pg)

    def check_hypertables(self):
        present = dict(
            ((r[0], r[1]) for r in self.rows(
                "SELECT h.hypertable_name, d.column_name FROM timescaledb_information.hypertables h "
                "JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name) "
                "WHERE h.hypertable_schema = %s AND d.dimension_number = 1", (self.p["schema"],))))
        problems = []
        for spec in self.p["expected_hypertables"]:
            table, column = parse_hypertable(spec)
            if table not in present:
                problems.append("%s is not a hypertable" % table)
            elif column and present[table] != column:
                problems.append("%s is partitioned by %s, expected %s" % (table, present[table], column))
        self.m["hypertables"] = present
        total = len(self.p["expected_hypertables"])
        self.add("hypertables created", FAIL if problems else PASS, "%d/%d" % (total - len(problems), total),
                 "all %d" % total, "; ".join(problems) if problems else ", ".join(sorted(present)))

    def check_indexes(self):
        count = self.scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = %s", (self.p["schema"],))
        # Every hypertable must keep an index led by its time column (create_hypertable makes it).
        no_time_index = []
        for table, column in sorted(self.m.get("hypertables", {}).items()):
            found = self.scalar(
                "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE i.indrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass AND a.attname = %s",
                (self.p["schema"], table, column))
            if not found:
                no_time_index.append(table)
        self.m["indexes"] = count
        ok = count >= self.p["min_indexes"] and not no_time_index
        detail = ("no time index on: " + ", ".join(no_time_index)) if no_time_index else "every hypertable has its time index"
        self.add("indexes present", PASS if ok else FAIL, str(count), ">= %d" % self.p["min_indexes"], detail)

    # Data ---------------------------------------------------------------------
    def check_ingest(self):
        self.cur.execute(self.p["setup_sql"], {"metrics": self.p["sample_metrics"]})
        ids = [r[0] for r in self.rows("SELECT id FROM ms5_verify_metric ORDER BY 1")]
        self.m["sample_metrics"] = len(ids)
        start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(days=1)
        data = ingest_rows(ids, start, self.p["ingest_rows"])
        batch = self.p["ingest_batch_size"]
        statements = []
        for i in range(0, len(data), batch):
            placeholders, args = values_list(data[i:i + batch], 3)
            statements.append((self.p["ingest_sql"].replace("%s", placeholders, 1), args))
        t0 = time.perf_counter()
        for sql, args in statements:
            self.cur.execute(sql, args)
        elapsed = time.perf_counter() - t0
        rate = len(data) / elapsed if elapsed > 0 else float("inf")
        until = data[-1][1] + datetime.timedelta(seconds=1)
        back = self.scalar(self.p["readback_sql"], {"since": start, "until": until})
        self.m.update(ingest_rows=len(data), ingest_seconds=round(elapsed, 3), ingest_rows_per_second=round(rate))
        self.add("insert and query work", PASS if back == len(data) else FAIL, "%s/%d rows read back" % (back, len(data)),
                 "all rows", "batched INSERT of %d rows, %d per statement" % (len(data), self.p["ingest_batch_size"]))
        self.add("ingest into metric_hist", PASS if rate > self.p["ingest_min_rows_per_second"] else FAIL,
                 "%d rows/s" % rate, "> %d rows/s" % self.p["ingest_min_rows_per_second"],
                 "%d rows in %.2f s" % (len(data), elapsed))

    def load_sample(self, since, until):
        self.cur.execute(self.p["sample_sql"], {"since": since, "until": until, "step_seconds": 1})
        return self.cur.rowcount

    def check_queries(self):
        until = datetime.datetime.now(datetime.timezone.utc)
        since = until - datetime.timedelta(hours=self.p["sample_hours"])
        t0 = time.perf_counter()
        loaded = self.load_sample(since, until)
        if self.p["sample_context_sql"].strip():
            self.cur.execute(self.p["sample_context_sql"], {"since": since, "until": until})
        self.m["dashboard_sample_rows"] = loaded
        self.m["dashboard_sample_load_seconds"] = round(time.perf_counter() - t0, 2)
        queries = parse_named_queries(self.p["queries_sql"])
        if self.p["include_views"]:
            for (view,) in self.rows("SELECT viewname FROM pg_views WHERE schemaname = %s ORDER BY 1", (self.p["schema"],)):
                queries.append({"name": "view %s" % view,
                                "sql": "SELECT * FROM %s.%s LIMIT 500" % (self.p["schema"], view)})
        timings = {}
        slow = []
        skipped = []
        for q in queries:
            missing = [f for f in q.get("requires", [])
                       if not self.rows("SELECT 1 FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace "
                                        "WHERE n.nspname = %s AND p.proname = %s LIMIT 1", tuple(f.split(".", 1)))]
            if missing:
                timings[q["name"]] = {"skipped": "%s not deployed (rollups role)" % ", ".join(missing)}
                skipped.append(q["name"])
                continue
            runs = []
            self.cur.execute("SAVEPOINT q")
            try:
                for i in range(self.p["query_runs"] + 1):
                    t = time.perf_counter()
                    self.cur.execute(q["sql"], {"since": since, "until": until})
                    self.cur.fetchall()
                    if i:  # the first run warms the cache
                        runs.append((time.perf_counter() - t) * 1000.0)
            except DatabaseError as exc:
                self.cur.execute("ROLLBACK TO SAVEPOINT q")
                timings[q["name"]] = {"error": str(exc).strip()}
                slow.append("%s (error: %s)" % (q["name"], str(exc).strip().splitlines()[0]))
                continue
            self.cur.execute("RELEASE SAVEPOINT q")
            p50, p95 = percentile(runs, 50), percentile(runs, 95)
            timings[q["name"]] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
            if p95 >= self.p["query_max_ms"]:
                slow.append("%s (p95 %.1f ms)" % (q["name"], p95))
        self.m["queries"] = timings
        worst = max((t.get("p95_ms", 0) for t in timings.values()), default=0)
        timed = len(timings) - len(skipped)
        detail = ("slow or failing: " + "; ".join(slow)) if slow else "%d rows of sample data (%.1f h of 1-second samples)" % (
            loaded, self.p["sample_hours"])
        if skipped:
            detail += "; %d skipped (a function they need is not deployed)" % len(skipped)
        self.add("dashboard queries", FAIL if slow or not timed else PASS,
                 "worst p95 %.1f ms over %d queries" % (worst, timed), "< %d ms" % self.p["query_max_ms"], detail)

    def check_storage(self):
        table = self.p["compression_table"]
        schema = self.p["schema"]
        # A separate window far in the past gets chunks of its own: measured alone,
        # compressed alone, and rolled back with everything else.
        since = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
        until = since + datetime.timedelta(hours=self.p["sample_hours"])
        loaded = self.load_sample(since, until)
        chunks = self.rows(
            "SELECT format('%%I.%%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
            "WHERE hypertable_schema = %s AND hypertable_name = %s AND range_start < %s AND range_end > %s",
            (schema, table, until, since))
        chunk_names = [c[0] for c in chunks]
        before = sum(self.scalar("SELECT pg_total_relation_size(%s::regclass)", (c,)) for c in chunk_names) if chunk_names else 0
        per_row = float(before) / loaded if loaded else 0.0
        self.m.update(storage_sample_rows=loaded, storage_sample_chunks=len(chunk_names), bytes_per_row=round(per_row, 1))
        license_ = self.m.get("timescaledb_license") or self.scalar("SELECT current_setting('timescaledb.license', true)")
        enabled = self.scalar(
            "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_schema = %s AND hypertable_name = %s",
            (schema, table))
        per_row_compressed = None
        if license_ != "timescale":
            self.add("compression", NA, "-", "> %d%% saved" % (self.p["compression_min_ratio"] * 100),
                     "the %s edition of TimescaleDB has no compression" % license_)
        elif not enabled:
            self.add("compression", FAIL, "not enabled", "> %d%% saved" % (self.p["compression_min_ratio"] * 100),
                     "compression is not enabled on %s (see timescaledb_policies_hypertables)" % table)
        else:
            for c in chunk_names:
                self.cur.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => true)", (c,))
            b, a, n = self.rows(SAMPLE_COMPRESSION_SQL, ("%s.%s" % (schema, table), chunk_names))[0]
            saved = compression_savings(b, a)
            per_row_compressed = float(a) / loaded if loaded else None
            self.m.update(compression_before_bytes=int(b), compression_after_bytes=int(a), compression_chunks=int(n),
                          compression_saved=None if saved is None else round(saved, 3))
            self.add("compression", PASS if saved is not None and saved > self.p["compression_min_ratio"] else FAIL,
                     "%s saved" % ("-" if saved is None else "%.0f%%" % (saved * 100)),
                     "> %d%%" % (self.p["compression_min_ratio"] * 100),
                     "%s -> %s over the sample's own %d chunk(s), %d rows" % (human_bytes(b), human_bytes(a), n, loaded))
        plant = dict(self.p["plant"] or {})
        for key, default in (("lines", 2), ("equipment_per_line", 5), ("metrics_per_equipment", 20), ("sample_interval_seconds", 1)):
            if plant.get(key) is None:
                plant[key] = default
        stored_per_row = per_row_compressed if per_row_compressed is not None else per_row
        how = "compressed" if per_row_compressed is not None else "uncompressed, %s edition" % license_
        monthly = rows_per_month(plant)
        plan_rows = int(self.p["storage_records_per_day"]) * 30
        plan_bytes = plan_rows * stored_per_row
        budget = int(self.p["storage_max_bytes_per_month"])
        rollups = self.rollup_sizes()
        self.m.update(projected_rows_per_month=monthly, projected_bytes_per_month=int(monthly * per_row),
                      projected_bytes_per_month_compressed=None if per_row_compressed is None else int(monthly * per_row_compressed),
                      plan_rows_per_month=plan_rows, plan_bytes_per_month=int(plan_bytes), storage_budget_bytes=budget,
                      rollup_bytes=rollups)
        rollup_text = ("; rollups now %s (%s)" % (human_bytes(sum(rollups.values())), ", ".join(
            "%s %s" % (k, human_bytes(v)) for k, v in sorted(rollups.items())))) if rollups else ""
        self.add("storage per month (plan volume)", PASS if loaded and plan_bytes < budget else FAIL,
                 human_bytes(plan_bytes), "< %s" % human_bytes(budget),
                 "%d records/day x 30 days at %.0f B/row (%s)%s" % (
                     self.p["storage_records_per_day"], stored_per_row, how, rollup_text))
        detail = "%d lines x %d equipment x %d metrics every %gs = %d rows/month at %.0f B/row" % (
            plant["lines"], plant["equipment_per_line"], plant["metrics_per_equipment"],
            plant["sample_interval_seconds"], monthly, per_row)
        value = human_bytes(monthly * per_row)
        if per_row_compressed is not None:
            value += " (%s compressed)" % human_bytes(monthly * per_row_compressed)
        self.add("projected storage per month", PASS if loaded else FAIL, value, "informational", detail)

    def rollup_sizes(self):
        """{relation: bytes} of the rollups catalog, {} when there is none."""
        catalog = self.p["rollups_catalog"]
        if not catalog or not self.scalar("SELECT to_regclass(%s) IS NOT NULL", (catalog,)):
            return {}
        name = self.scalar("SELECT to_regclass(%s)::text", (catalog,))
        return dict((r[0], int(r[1])) for r in self.rows(ROLLUP_SIZES_SQL % name))

    # Jobs and backups ------------------------------------------------------------
    def check_jobs(self):
        license_ = self.m.get("timescaledb_license") or self.scalar("SELECT current_setting('timescaledb.license', true)")
        db_jobs = self.rows(JOB_STATS_SQL) if self.scalar(
            "SELECT to_regclass('timescaledb_information.job_stats') IS NOT NULL") else []
        status = read_status_files(self.p["status_dir"])
        failing, never, ok = job_health(db_jobs, status, license_)
        self.m.update(jobs_failing=failing, jobs_never_ran=never, jobs_ok=ok)
        detail = ("failing: " + "; ".join(failing)) if failing else "%d ok%s" % (
            len(ok), (", never ran yet: " + ", ".join(never)) if never else "")
        self.add("job health", FAIL if failing else PASS, "%d failing of %d" % (len(failing), len(failing) + len(ok)),
                 "every job's last run succeeded", detail)

    def check_backups(self):
        status = None
        program = self.p["backup_program"]
        if os.path.exists(program):
            rc, out, err = self.module.run_command([program, "--status"])
            if rc != 0:
                self.add("newest verified backup", FAIL, "unknown", "-",
                         "%s --status exited %d: %s" % (program, rc, (err or out).strip()[-300:]))
                return
            try:
                status = json.loads(out)
            except ValueError:
                self.add("newest verified backup", FAIL, "unknown", "-", "%s --status printed no JSON" % program)
                return
        self.m["backups"] = status
        result, value, detail = backup_judgement(status, self.p["backup_max_age_hours"])
        self.add("newest verified backup", result, value,
                 "younger than %g h" % self.p["backup_max_age_hours"] if self.p["backup_max_age_hours"] else "-", detail)

    # Sequences ----------------------------------------------------------------------
    def sequences(self):
        return dict((r[0], r[1]) for r in self.rows(SEQUENCES_SQL, (self.p["schema"],)))


def restore_sequences(conn, before, ended):
    """Put back every sequence the sample advanced (after the rollback). Returns (restored, left alone)."""
    restored, left = [], []
    cur = cursor(conn)
    for seq, value in sorted(ended.items()):
        if seq not in before or before[seq] == value:
            continue
        cur.execute(RESTORE_SEQUENCE_SQL, {"seq": seq, "before": before[seq], "ended": value})
        (restored if cur.fetchone()[0] else left).append(seq)
    conn.commit()
    return restored, left


def main():
    plant_spec = dict(
        lines=dict(type="int", default=2),
        equipment_per_line=dict(type="int", default=5),
        metrics_per_equipment=dict(type="int", default=20),
        sample_interval_seconds=dict(type="float", default=1),
    )
    module = AnsibleModule(
        argument_spec=argument_spec(
            checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
            schema=dict(type="str", default="factory_telemetry"),
            ledger_table=dict(type="str", default="ms5_migrations.schema_migrations"),
            expected_migrations=dict(type="list", elements="str", default=[]),
            expected_hypertables=dict(type="list", elements="str", default=[]),
            min_indexes=dict(type="int", default=50),
            setup_sql=dict(type="str", default=""),
            ingest_sql=dict(type="str", default=""),
            readback_sql=dict(type="str", default=""),
            sample_sql=dict(type="str", default=""),
            sample_context_sql=dict(type="str", default=""),
            sample_metrics=dict(type="int", default=20),
            queries_sql=dict(type="str", default=""),
            include_views=dict(type="bool", default=True),
            ingest_rows=dict(type="int", default=20000),
            ingest_batch_size=dict(type="int", default=1000),
            ingest_min_rows_per_second=dict(type="float", default=1000),
            sample_hours=dict(type="float", default=2),
            query_runs=dict(type="int", default=5),
            query_max_ms=dict(type="float", default=100),
            compression_min_ratio=dict(type="float", default=0.7),
            compression_table=dict(type="str", default="metric_hist"),
            plant=dict(type="dict", default={}, options=plant_spec),
            status_dir=dict(type="path", default="/var/lib/ms5/status"),
            backup_program=dict(type="path", default="/usr/local/sbin/ms5-backup"),
            backup_max_age_hours=dict(type="float", default=26),
            storage_records_per_day=dict(type="int", default=100000),
            storage_max_bytes_per_month=dict(type="int", default=1000000000),
            rollups_catalog=dict(type="str", default="ms5_rollups.catalog"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    checks = set(p["checks"])
    if "structure" in checks and not (p["expected_migrations"] and p["expected_hypertables"]):
        module.fail_json(msg="the structure checks need expected_migrations and expected_hypertables")
    if "data" in checks:
        missing = [k for k in ("setup_sql", "ingest_sql", "readback_sql", "sample_sql") if not p[k].strip()]
        if missing:
            module.fail_json(msg="the data checks need %s" % ", ".join(missing))
        try:
            parse_named_queries(p["queries_sql"])
        except ValueError as exc:
            module.fail_json(msg="queries_sql: %s" % exc)
        for key in ("ingest_rows", "ingest_batch_size", "query_runs", "sample_metrics"):
            if p[key] < 1:
                module.fail_json(msg="%s must be at least 1, got %s" % (key, p[key]))
    conn = connect(module, "ms5-verify", fail_msg="cannot connect to {host}:{port}/{db} as {user}: {error}")
    checker = Checker(module, conn)
    steps = []
    if "structure" in checks:
        steps += [("migrations", checker.check_migrations), ("timescaledb", checker.check_timescaledb),
                  ("hypertables", checker.check_hypertables), ("indexes", checker.check_indexes)]
    if "data" in checks:
        steps += [("ingest", checker.check_ingest), ("dashboard queries", checker.check_queries),
                  ("storage", checker.check_storage)]
    if "jobs" in checks:
        steps += [("job health", checker.check_jobs)]
    if "backups" in checks:
        steps += [("backups", checker.check_backups)]
    step = "connect"
    before = ended = {}
    try:
        if "data" in checks:
            before = checker.sequences()
        for step, fn in steps:
            fn()
        if "data" in checks:
            step = "sequences"
            ended = checker.sequences()
    except DatabaseError as exc:
        conn.rollback()
        module.fail_json(msg="success criteria check '%s' failed in the database: %s" % (step, str(exc).strip()),
                         criteria=checker.criteria, measurements=checker.m)
    finally:
        # Nothing the checks wrote may stay: the sample data is rolled back.
        conn.rollback()
    try:
        # Sequences are not transactional: put back the ones only the sample advanced.
        restored, left = restore_sequences(conn, before, ended) if ended else ([], [])
    except DatabaseError as exc:
        conn.rollback()
        module.fail_json(msg="putting the sequences back after the sample failed: %s" % str(exc).strip(),
                         criteria=checker.criteria, measurements=checker.m)
    finally:
        conn.close()
    checker.m.update(sequences_restored=restored, sequences_left=left)
    module.exit_json(changed=False, criteria=checker.criteria, measurements=checker.m,
                     all_passed=all(c["status"] != FAIL for c in checker.criteria))


if __name__ == "__main__":
    main()
